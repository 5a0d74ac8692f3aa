"""Residents: the service catalogue, requests and complaints, receipts, tracking, posters and the queue."""

from flask import Blueprint, Flask

bp = Blueprint("residents", __name__)


def init_app(app: Flask) -> None:
    """Register the pages, the default services of new villages and the demo requests."""
    from app import tenancy
    from app.cli import demo as demo_cli
    from app.residents import catalog, demo

    app.register_blueprint(bp)
    for helper in (
        catalog.service_name,
        catalog.service_description,
        catalog.option_label,
        catalog.document_label,
    ):
        app.add_template_global(helper)
    tenancy.on_activate["residents"] = catalog.add_default_services
    demo_cli.seeders["residents"] = demo.seed


from app.residents import routes  # noqa: E402,F401
