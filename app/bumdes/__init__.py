"""BUMDes marketplace: village shops, the province catalogue, and the managers' products and orders."""

from flask import Blueprint, Flask

bp = Blueprint("bumdes", __name__)

from app.bumdes import manage, routes  # noqa: E402,F401
from app.models import bumdes as _models  # noqa: E402,F401  (create_all and Alembic must see the tables)


def init_app(app: Flask) -> None:
    """Register the blueprint and the demo data seeder."""
    from app.bumdes.demo import seed
    from app.cli import demo

    app.register_blueprint(bp)
    demo.seeders["bumdes"] = seed
