"""Friendly error pages in Bahasa Indonesia; never a stack trace."""

from __future__ import annotations

from flask import Flask, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

MESSAGES = {
    400: ("Permintaan tidak dapat dibaca", "Coba muat ulang halaman lalu ulangi."),
    403: ("Tidak diizinkan", "Akun Anda tidak berhak membuka halaman ini."),
    404: ("Halaman tidak ditemukan", "Periksa kembali alamatnya, atau kembali ke beranda."),
    405: ("Cara membuka halaman ini salah", "Kembali ke halaman sebelumnya lalu ulangi."),
    413: ("Berkas terlalu besar", "Kirim foto yang lebih kecil (paling besar 10 MB per foto)."),
    429: ("Terlalu sering", "Anda mencoba terlalu sering. Tunggu sebentar lalu coba lagi."),
    500: ("Terjadi kesalahan di server", "Data Anda tidak hilang. Coba lagi beberapa saat lagi."),
    503: (
        "Layanan sedang tidak tersedia",
        "Server sedang sibuk atau dalam perbaikan. Coba lagi beberapa menit lagi.",
    ),
}


def _page(status: int, detail: str | None = None):
    title, hint = MESSAGES.get(status, MESSAGES[500])
    body = render_template("errors/error.html", status=status, title=_(title), hint=detail or _(hint))
    return body, status


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(exc):
        return _page(400, _("Formulir ini sudah kedaluwarsa. Muat ulang halaman lalu kirim lagi."))

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if exc.code in (301, 302, 303, 304, 307, 308):
            return exc
        if request.path.startswith("/api/"):
            return {"error": exc.name, "status": exc.code}, exc.code
        return _page(exc.code or 500)

    @app.errorhandler(OperationalError)
    def database_down(exc):
        app.logger.error("database unavailable: %s", type(exc).__name__)
        return _page(503)

    @app.errorhandler(Exception)
    def unexpected(exc):
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        return _page(500)
