"""The public front door: finding your village, its logo, the language switch."""

from flask import Blueprint

bp = Blueprint("public", __name__)

from app.public import routes  # noqa: E402,F401
