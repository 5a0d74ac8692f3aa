"""Balai: public services of Indonesian villages, as an installable web app."""

from __future__ import annotations

import logging
import os

from flask import Flask, current_app, request, session
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy import event

from app.config import Config, config_from_env


class Balai(Flask):
    def get_send_file_max_age(self, filename: str | None) -> int | None:
        # Fingerprinted URLs (asset() adds ?v=<hash>) never change content: cache them for a year.
        if request and request.args.get("v"):
            return 31536000
        return 3600


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions; a request without the cookie gets its empty session without
    building the signing serializer first (most requests have none)."""

    def open_session(self, app, request):
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)


def create_app(config: type[Config] | dict | None = None) -> Flask:
    """Build the app from a configuration class (chosen by BALAI_ENV when none is given)."""
    app = Balai(__name__, instance_path=str(_instance_path()))
    app.session_interface = CookieSessions()
    cls = config if isinstance(config, type) else config_from_env()
    app.config.from_object(cls)
    if isinstance(config, dict):
        app.config.update(config)
    cls.init(app.config)
    os.makedirs(app.config["UPLOAD_DIR"], exist_ok=True)

    _init_extensions(app)
    _register_blueprints(app)
    _register_cli(app)

    from app import caching, datacache, errors, health, limits, pagecache, security, transactions, uploads  # noqa: F401  (uploads: its daily sweep joins the job schedule)

    errors.init_app(app)
    limits.init_app(app)
    security.init_app(app)
    caching.init_app(app)
    datacache.init_app(app)
    transactions.init_app(app)
    _init_template_helpers(app)
    pagecache.init_app(app)
    health.init_app(app)  # last: the outermost WSGI layer
    return app


def _instance_path():
    from app.config import INSTANCE_DIR

    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    return INSTANCE_DIR


def _init_extensions(app: Flask) -> None:
    from app import models  # noqa: F401  (the models must be known to Alembic and create_all)
    from app.extensions import babel, compress, csrf, db, htmx, limiter, login_manager, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(os.path.dirname(app.root_path), "migrations"))
    csrf.init_app(app)
    htmx.init_app(app)
    compress.init_app(app)
    limiter.init_app(app)
    babel.init_app(app, locale_selector=_select_locale, timezone_selector=lambda: app.config["TIMEZONE"])
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None
    login_manager.session_protection = "basic"
    login_manager.user_loader(_load_user)
    _skip_loading_for_empty_sessions(login_manager)

    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            event.listen(db.engine, "connect", _sqlite_pragmas)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # WAL lets readers go on while a request writes; foreign keys are off by default in SQLite.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def _load_user(session_id: str):
    from app.auth.signed_in import load_user

    return load_user(session_id)


def _skip_loading_for_empty_sessions(login_manager) -> None:
    """Anonymous at once for a request with an empty session and no remember cookie or auth header.

    Flask-Login would reach the same answer after hashing the client's address and user agent for
    session protection (which it then ignores, the session being empty): most requests are these.
    """
    from flask_login.config import AUTH_HEADER_NAME, COOKIE_NAME

    load = login_manager._load_user

    def load_user() -> None:
        app_config = current_app.config
        if (
            not session
            and login_manager._request_callback is None
            and app_config.get("REMEMBER_COOKIE_NAME", COOKIE_NAME) not in request.cookies
            and app_config.get("AUTH_HEADER_NAME", AUTH_HEADER_NAME) not in request.headers
        ):
            login_manager._update_request_context_with_user()
            return
        load()

    login_manager._load_user = load_user


_LOCALES: dict[str, object] = {}  # language code: its babel Locale, parsed once per process


def _select_locale():
    """The request's language: ?lang= (kept in the session), the session's, a signed-in user's, the default.

    Returned as a babel Locale parsed once (Flask-Babel would parse the code anew on every request).
    """
    from flask import current_app
    from flask_login import current_user

    wanted = request.args.get("lang")
    languages = current_app.config["LANGUAGES"]
    if wanted in languages:
        session["lang"] = wanted
        return _locale(wanted)
    if session.get("lang") in languages:
        return _locale(session["lang"])
    if getattr(current_user, "is_authenticated", False) and current_user.locale in languages:
        return _locale(current_user.locale)
    return _locale(current_app.config["BABEL_DEFAULT_LOCALE"])


def _locale(code: str):
    found = _LOCALES.get(code)
    if found is None:
        from babel import Locale

        found = _LOCALES[code] = Locale.parse(code)
    return found


def _register_blueprints(app: Flask) -> None:
    from app.admin import bp as admin_bp
    from app.auth import bp as auth_bp
    from app.public import bp as public_bp
    from app.pwa import bp as pwa_bp

    for bp in (public_bp, auth_bp, admin_bp, pwa_bp):
        app.register_blueprint(bp)
    for name in (
        "residents",
        "officials",
        "bumdes",
        "dashboards",
        "api",
        "notifications",
        "opendk",
        "register",
    ):
        _register_optional(app, name)


def _register_optional(app: Flask, name: str) -> None:
    """Areas register themselves when their package exists (each brings its own blueprint)."""
    import importlib

    try:
        module = importlib.import_module(f"app.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"app.{name}":
            raise
        return
    init = getattr(module, "init_app", None)
    if init is not None:
        init(app)


def _register_cli(app: Flask) -> None:
    from app.cli import register

    register(app)


def _init_template_helpers(app: Flask) -> None:
    from flask_babel import get_locale

    from app import i18n
    from app.domain import text

    app.jinja_env.filters["rupiah"] = text.format_rupiah
    app.jinja_env.filters["tanggal"] = text.format_date_id
    app.jinja_env.filters["waktu"] = _local_datetime
    app.jinja_env.globals["current_locale"] = lambda: str(get_locale())
    app.jinja_env.globals["asset"] = _asset_url(app)
    app.jinja_env.globals["status_label"] = i18n.status_label
    app.jinja_env.globals["action_label"] = i18n.action_label


def _asset_url(app: Flask):
    """url_for('static') plus a content hash, so browsers may cache static files for a year."""
    import hashlib

    from flask import url_for

    hashes: dict[str, str] = {}
    urls: dict[tuple[str, str], str] = {}  # (script root, file): its URL, built once (6 a page)

    def asset(filename: str) -> str:
        key = (request.script_root if request else "", filename)
        url = urls.get(key)
        if url is not None:
            return url
        digest = hashes.get(filename)
        if digest is None:
            with open(os.path.join(app.static_folder, filename), "rb") as fh:
                digest = hashlib.sha256(fh.read()).hexdigest()[:10]
            hashes[filename] = digest
        url = urls[key] = url_for("static", filename=filename, v=digest)
        return url

    return asset


def _local_datetime(value) -> str:
    from zoneinfo import ZoneInfo

    from flask import current_app

    from app.domain import text

    if value is None:
        return ""
    return text.format_datetime_id(value.astimezone(ZoneInfo(current_app.config["TIMEZONE"])))


logging.getLogger("werkzeug").setLevel(logging.WARNING)
