"""The population register for a village's officials (/kantor/penduduk) and the OpenDK sync pages
(/kantor/opendk): tokens, the push log, messages with region staff."""

from flask import Blueprint, Flask

bp = Blueprint("register", __name__, url_prefix="/kantor")


def init_app(app: Flask) -> None:
    from app.models import population  # noqa: F401  (tables for create_all and Alembic)
    from app.register import routes, sync  # noqa: F401

    app.register_blueprint(bp)
