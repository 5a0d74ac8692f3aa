"""What makes Balai an installable app: manifest, service worker, offline page, health check."""

from flask import Blueprint

bp = Blueprint("pwa", __name__)

from app.pwa import routes  # noqa: E402,F401
