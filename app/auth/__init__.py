"""Signing in and out for officials, region staff and BUMDes managers."""

from flask import Blueprint

bp = Blueprint("auth", __name__, url_prefix="/akun")

from app.auth import routes  # noqa: E402,F401
