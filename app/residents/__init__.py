"""Residents: the service catalogue, requests and complaints, receipts, tracking, posters and the queue."""

from flask import Blueprint, Flask

bp = Blueprint("residents", __name__)


def init_app(app: Flask) -> None:
    """Register the pages, the default services of new villages and the demo requests."""
    from app import tenancy
    from app.cli import demo as demo_cli
    from app.domain.states import status_label
    from app.residents import catalog, demo

    app.register_blueprint(bp)
    app.add_template_global(status_label, "status_label")
    tenancy.on_activate["residents"] = catalog.add_default_services
    demo_cli.seeders["residents"] = demo.seed


from app.residents import routes  # noqa: E402,F401
