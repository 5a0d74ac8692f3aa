"""An OpenDK-compatible receiver for OpenSID's "Sinkronisasi OpenDK", under /opendk/api/v1/.

A village running OpenSID enters ``https://<balai>/opendk`` as its OpenDK server; OpenSID then calls
``{server}/api/v1/...`` with the village's token. The receiver checks the token and the village,
keeps the payload, and answers the way OpenSID v2410 expects (see the README); jobs read the
payloads (app/population).
"""

from __future__ import annotations

import os

from flask import Blueprint, Flask, request

bp = Blueprint("opendk", __name__, url_prefix="/opendk/api/v1")


def _settings(app: Flask) -> None:
    env = os.environ
    defaults = {
        # A penduduk zip carries every resident's small photo (which Balai never keeps).
        "OPENDK_MAX_UPLOAD_BYTES": int(env.get("OPENDK_MAX_UPLOAD_BYTES", str(64 * 1024 * 1024))),
        # How long /penduduk waits for the storedata just sent to be read, to tell the operator how it went.
        "OPENDK_WAIT_SECONDS": float(env.get("OPENDK_WAIT_SECONDS", "5")),
        "OPENDK_TOKEN_LIMIT": env.get("OPENDK_TOKEN_LIMIT", "600 per hour"),
        "OPENDK_UPLOAD_LIMIT": env.get("OPENDK_UPLOAD_LIMIT", "120 per hour"),
        "OPENDK_ADDRESS_LIMIT": env.get("OPENDK_ADDRESS_LIMIT", "300 per minute"),
        # A province is published again after a push at most this often (seconds); the periodic job
        # catches up on the rest within a minute.
        "POPULATION_PUBLISH_EVERY": float(env.get("POPULATION_PUBLISH_EVERY", "60")),
    }
    for key, value in defaults.items():
        app.config.setdefault(key, value)


def init_app(app: Flask) -> None:
    from app.extensions import csrf
    from app.opendk import receiver  # noqa: F401
    from app.population import pushes  # noqa: F401  (its sweep joins the job schedule)
    from app.stats import population  # noqa: F401  (the publishing jobs too)

    _settings(app)

    @app.before_request
    def _receiver_upload_limit() -> None:
        # Before any other hook reads the form: a penduduk zip may be larger than a resident's photo form.
        if request.path.startswith("/opendk/api/"):
            request.max_content_length = app.config["OPENDK_MAX_UPLOAD_BYTES"]

    # OpenSID authenticates with a bearer token, never a cookie: there is no session to forge.
    csrf.exempt(bp)
    app.register_blueprint(bp)
