"""Open APIs: Open311 GeoReport v2 for complaints, and open data (aggregates only) with OpenAPI 3."""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("api", __name__, url_prefix="/api")


def init_app(app: Flask) -> None:
    from app.api import open311, opendata  # noqa: F401
    from app.extensions import csrf
    from app.models import profile  # noqa: F401  (API keys live there)

    # Outside systems post with an API key, not a browser session: there is no cookie to forge.
    csrf.exempt(open311.post_request)
    app.register_blueprint(bp)
