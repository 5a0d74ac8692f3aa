"""Administration: accounts and village activation, each admin inside their own scope."""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

from app.admin import privacy, routes  # noqa: E402,F401
