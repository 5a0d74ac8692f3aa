"""Friendly error pages in Bahasa Indonesia; never a stack trace."""

from __future__ import annotations

from flask import Flask, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from app.domain.errors import N_
from app.i18n import coded

MESSAGES = {
    400: (N_("Permintaan tidak dapat dibaca"), N_("Coba muat ulang halaman lalu ulangi.")),
    403: (N_("Tidak diizinkan"), N_("Akun Anda tidak berhak membuka halaman ini.")),
    404: (N_("Halaman tidak ditemukan"), N_("Periksa kembali alamatnya, atau kembali ke beranda.")),
    405: (N_("Cara membuka halaman ini salah"), N_("Kembali ke halaman sebelumnya lalu ulangi.")),
    413: (N_("Berkas terlalu besar"), N_("Kirim foto yang lebih kecil (paling besar 10 MB per foto).")),
    429: (N_("Terlalu sering"), N_("Anda mencoba terlalu sering. Tunggu sebentar lalu coba lagi.")),
    500: (N_("Terjadi kesalahan di server"), N_("Data Anda tidak hilang. Coba lagi beberapa saat lagi.")),
    503: (
        N_("Layanan sedang tidak tersedia"),
        N_("Server sedang sibuk atau dalam perbaikan. Coba lagi beberapa menit lagi."),
    ),
}


TITLES = {status: title for status, (title, _hint) in MESSAGES.items()}
HINTS = {status: hint for status, (_title, hint) in MESSAGES.items()}


def _page(status: int, detail: str | None = None):
    known = status if status in MESSAGES else 500
    title, hint = coded(TITLES, known), detail or coded(HINTS, known)
    body = render_template("errors/error.html", status=status, title=title, hint=hint)
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
