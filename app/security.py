"""Security headers on every response, and the client's real address behind a reverse proxy."""

from __future__ import annotations

import logging
import os
import re
import traceback

from flask import Flask, abort, jsonify, request
from flask.json.provider import DefaultJSONProvider
from flask_babel import gettext as _
from sqlalchemy.exc import DataError
from werkzeug.exceptions import BadRequest
from werkzeug.middleware.proxy_fix import ProxyFix

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "connect-src 'self'",
        "font-src 'none'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "manifest-src 'self'",
        "worker-src 'self'",
    ]
)


_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


# What must never reach a log line: NIKs (16 digits), Indonesian mobile numbers, the row values
# database errors quote (SQLAlchemy's "[parameters: …]", PostgreSQL's "DETAIL: Failing row contains …"),
# and private or verification links written out ("Exception on /permohonan/…", a message's link).
_REDACTIONS = (
    (re.compile(r"\[parameters: .*?\](?=\n|$)", re.S), "[parameters: disembunyikan]"),
    (re.compile(r"(DETAIL: ).*"), r"\1disembunyikan"),
    (re.compile(r"(?<!\d)\d{16}(?!\d)"), "[NIK]"),
    (re.compile(r"(?<![\w+])(?:\+?62|0)8\d{7,11}(?!\d)"), "[HP]"),
    (re.compile(r"(?<![\w+])(?:\+?62|0)8\d{2}[\s.\-]\d{3,4}[\s.\-]\d{3,5}(?!\d)"), "[HP]"),
    (re.compile(r"(/(?:permohonan|verifikasi)/)[A-Za-z0-9_-]{20,}"), r"\1[token]"),
)


# Paths that carry a bearer secret: the resident's private link (its page and its letter), a letter's
# verification link, an Open311 token. Whoever reads such a path in a log could open the request.
# tests/test_security.py walks the URL map: a new route with a token in its path must be listed here.
_SECRET_PATH = re.compile(
    r"^(/+(?:permohonan|verifikasi|api/open311/v2/tokens)/+)[^/]+?(?=\.(?:json|xml)$|/|$)"
)


def redact_path(path: str) -> str:
    """``path`` with the secret a private or verification link carries replaced by ``[token]``."""
    return _SECRET_PATH.sub(r"\1[token]", path, count=1)


def redact(text: str) -> str:
    """``text`` without NIKs, phone numbers or quoted database rows."""
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


def install_log_redaction() -> None:
    """Redact every log record when it is made, whichever logger or handler (gunicorn, rq, tests) gets it."""
    current = logging.getLogRecordFactory()
    if getattr(current, "balai_redacting", False):
        return

    def factory(*args, **kwargs) -> logging.LogRecord:
        record = current(*args, **kwargs)
        try:
            record.msg, record.args = redact(record.getMessage()), None
        except Exception:  # a malformed log call must still be logged, as it was
            return record
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)).rstrip("\n"))
            record.exc_info = None
        return record

    factory.balai_redacting = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


class BoundedJSONProvider(DefaultJSONProvider):
    """JSON whose nesting past Python's recursion limit is a bad request (400), not a crash (500)."""

    def loads(self, s, **kwargs):
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            # ValueError is what request.get_json() turns into a 400 (or None when silent).
            raise ValueError("JSON nested too deeply") from None


def security_headers(csp: str = CSP, production: bool = False) -> list[tuple[str, str]]:
    """The headers every response carries (also /healthz, answered before Flask: app/health.py)."""
    headers = [
        ("Content-Security-Policy", csp),
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", "same-origin"),
        ("Permissions-Policy", "geolocation=(), microphone=(), camera=(self)"),
    ]
    if production:
        headers.append(("Strict-Transport-Security", "max-age=31536000; includeSubDomains"))
    return headers


def init_app(app: Flask) -> None:
    production = app.config["ENV_NAME"] == "production"
    install_log_redaction()
    app.json = BoundedJSONProvider(app)
    # Behind nginx every client would otherwise share 127.0.0.1, and the per-address limits on
    # logins and submissions would lock out a whole village at once. Trust only as many
    # X-Forwarded-* hops as there are proxies we run.
    proxies = int(app.config.get("PROXY_COUNT", os.environ.get("PROXY_COUNT", "0")) or 0)
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)

    from app.caching import critical_css

    # The first visit's inline CSS, allowed by its hash (app/caching.py).
    csp = CSP.replace("style-src 'self'", f"style-src 'self' {critical_css(app).csp_source}")

    @app.before_request
    def refuse_nul_bytes():
        # No text a person types holds NUL; PostgreSQL refuses it in text columns (a 500 otherwise).
        # Only a query string holding %00 (or a raw NUL) can decode to one, and only a form body
        # (the two types Werkzeug parses) fills request.form: most requests skip both parses.
        query = request.query_string
        sources = [request.args] if b"%00" in query or b"\x00" in query else []
        if request.mimetype in _FORM_TYPES:
            sources.append(request.form)
        if "\x00" in request.path or any(
            "\x00" in value for values in sources for _key, value in values.items(multi=True)
        ):
            abort(400)

    @app.before_request
    def refuse_json_that_is_not_an_object():
        # Forms (Flask-WTF reads a JSON body as the form) and the push opt-in take one JSON object;
        # an array, a bare value, a broken or absurdly deep body is the client's error, said plainly.
        if request.is_json and not isinstance(request.get_json(silent=True), dict):
            message = _("Isi permintaan bukan JSON yang bisa dibaca: kirim satu objek JSON yang sah.")
            return jsonify({"ok": False, "error": message}), 400
        return None

    @app.errorhandler(DataError)
    @app.errorhandler(OverflowError)
    def value_out_of_range(exc):
        # A number too big for the database, or text it cannot store: the request was bad, not us.
        from app.extensions import db

        db.session.rollback()
        app.logger.warning("refused a value the database cannot hold on %s %s", request.method, request.path)
        return app.handle_http_exception(BadRequest())

    every_response = [(name.lower(), name, value) for name, value in security_headers(csp, production)]

    @app.after_request
    def headers(response):
        # Built once; a header a view set itself (a sent PDF's CSP) is kept, as setdefault would.
        h = response.headers
        present = {name.lower() for name, _value in h}
        for lower, name, value in every_response:
            if lower not in present:
                h.add(name, value)
        return response
