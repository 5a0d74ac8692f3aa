from flask import current_app, jsonify, make_response, render_template, send_from_directory, url_for
from flask_babel import gettext as _
from sqlalchemy import text

from app.extensions import csrf, db
from app.pwa import bp
from app.web import render_shared

THEME = "#0f6e4f"


@bp.route("/manifest.webmanifest")
def manifest():
    icon = lambda name, size, purpose: {  # noqa: E731
        "src": url_for("static", filename=f"icons/{name}"),
        "sizes": f"{size}x{size}",
        "type": "image/png",
        "purpose": purpose,
    }
    data = {
        "id": "/?source=pwa",
        "name": _("Balai — layanan desa"),
        "short_name": "Balai",
        "description": _("Ajukan surat dan pengaduan ke desa dari ponsel, lalu lacak prosesnya."),
        "lang": "id",
        "dir": "ltr",
        "start_url": "/?source=pwa",
        "scope": "/",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": THEME,
        "icons": [
            icon("icon-192.png", 192, "any"),
            icon("icon-512.png", 512, "any"),
            icon("maskable-192.png", 192, "maskable"),
            icon("maskable-512.png", 512, "maskable"),
        ],
    }
    response = jsonify(data)
    response.mimetype = "application/manifest+json"
    response.cache_control.max_age = 3600
    return response


@bp.route("/favicon.ico")
def favicon():
    """The icon browsers, bookmark lists and chat previews fetch from the root without reading <link rel=icon>."""
    response = send_from_directory(current_app.static_folder, "icons/favicon.ico", max_age=86400)
    response.mimetype = "image/vnd.microsoft.icon"
    return response


@bp.route("/sw.js")
def service_worker():
    body = render_template("pwa/sw.js", version=current_app.config.get("ASSET_VERSION", "1"))
    response = make_response(body)
    response.mimetype = "text/javascript"
    response.headers["Service-Worker-Allowed"] = "/"
    response.cache_control.no_cache = True
    return response


@bp.route("/offline")
def offline():
    return render_shared("pwa/offline.html", (), dict)


@bp.route("/healthz")
@csrf.exempt
def healthz():
    state = {"database": "ok", "redis": "not configured"}
    status = 200
    try:
        db.session.execute(text("SELECT 1"))
    except Exception as exc:  # any driver error means the app cannot serve
        state["database"] = f"error: {type(exc).__name__}"
        status = 503
    redis_url = current_app.config.get("REDIS_URL")
    if redis_url:
        from redis import Redis
        from redis.exceptions import RedisError

        try:
            Redis.from_url(redis_url, socket_timeout=1, socket_connect_timeout=1).ping()
            state["redis"] = "ok"
        except RedisError as exc:
            # Requests are still saved without Redis (jobs wait in the outbox), so the app can serve.
            state["redis"] = f"error: {type(exc).__name__}"
    state["status"] = "ok" if status == 200 else "error"
    return jsonify(state), status
