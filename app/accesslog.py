"""gunicorn's access log without the secrets a request line can carry (named in gunicorn.conf.py).

gunicorn's format atoms hold the raw path, the request line with its query string and the referrer.
Private links (/permohonan/<token>) and letter verification links (/verifikasi/<token>) are bearer
secrets, and query strings may hold a NIK typed into a search: every atom that can show a path shows
it redacted and without its query, whatever ``access_log_format`` is chosen.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from gunicorn.glogging import Logger

from app.security import redact_path

# Atoms that hold the path (some with the query string): %(U)s, %(r)s and their environ forms.
_PATH_ATOMS = ("U", "{path_info}e", "{raw_uri}e", "{request_uri}e")
_QUERY_ATOMS = ("q", "{query_string}e")
_REFERRER_ATOMS = ("f", "{http_referer}e", "{referer}i")


def _redacted_referrer(value: str) -> str:
    if not value or value == "-":
        return value or "-"
    try:
        parts = urlsplit(value)
    except ValueError:
        return "-"
    return (
        f"{parts.scheme}://{parts.netloc}{redact_path(parts.path)}"
        if parts.netloc
        else redact_path(parts.path)
    )


class AccessLogger(Logger):
    """gunicorn's logger, with paths redacted and query strings left out of every access log atom."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        path = redact_path(environ.get("PATH_INFO") or "")
        for name in _PATH_ATOMS:
            if name in atoms:
                atoms[name] = path
        for name in _QUERY_ATOMS:
            if name in atoms:
                atoms[name] = "-"
        for name in _REFERRER_ATOMS:
            if name in atoms:
                atoms[name] = _redacted_referrer(atoms[name])
        atoms["r"] = f"{environ.get('REQUEST_METHOD', '-')} {path} {environ.get('SERVER_PROTOCOL', '-')}"
        return atoms
