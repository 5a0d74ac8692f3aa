"""The officials' workbench: the village queue, processing requests, letters, services and reports."""

from flask import Blueprint, Flask

bp = Blueprint("officials", __name__, url_prefix="/kantor")


def init_app(app: Flask) -> None:
    """Register the workbench, the public letter pages and the audit-trail guard."""
    from app.extensions import limiter
    from app.models import letters  # noqa: F401  (tables must exist for create_all and Alembic)
    from app.officials import attendance, audit, public, routes  # noqa: F401
    from app.officials.menu import officials_menu

    audit.install()
    app.jinja_env.globals["officials_menu"] = officials_menu
    app.register_blueprint(bp)
    # Public pages live outside /kantor but belong to this area, hence the "officials." endpoints.
    app.add_url_rule(
        "/verifikasi/<token>",
        endpoint="officials.verify",
        view_func=limiter.limit("60 per minute")(public.verify),
    )
    app.add_url_rule(
        "/permohonan/<token>/surat.pdf",
        endpoint="officials.letter_for_resident",
        view_func=limiter.limit("30 per minute")(public.letter_for_resident),
    )
