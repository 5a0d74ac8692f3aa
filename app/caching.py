"""Conditional GET for HTML pages and htmx fragments, and static files compressed once, at maximum.

Static files: Flask-Compress would compress each one again on every request at a fast level (zstd 3
turns htmx into 18 KB). Here each static text file is compressed once per process at the highest
level (brotli 11: htmx in 14.5 KB) and kept in memory; Flask-Compress leaves encoded responses alone.

Pages: strong ETags from the body, 304 when unchanged.

A phone on 3G that already holds a page pays one round trip and no body when nothing changed.
Pages embed the session's CSRF token, signed with a timestamp, so the signed token would change
the body every second; the ETag is taken from the body without it plus the session's raw token,
which the cached copy's signed token stays valid for (WTF_CSRF_TIME_LIMIT is None).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import threading

import brotli
from flask import Flask, Response, current_app, g, request, session
from flask_login import current_user

# Smallest first: the first one the client accepts is used.
STATIC_ENCODINGS = ("br", "zstd", "gzip")
STATIC_TYPES = {
    "text/css",
    "text/javascript",
    "application/javascript",
    "application/json",
    "application/manifest+json",
    "image/svg+xml",
    "text/plain",
}
_compressed: dict[tuple[str, float, str], bytes] = {}
_lock = threading.Lock()


def page_etag(body: bytes) -> str:
    """A strong validator for ``body`` as this session sees it."""
    field = current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    digest = hashlib.sha256()
    signed = g.get(field)
    digest.update(body.replace(signed.encode(), b"") if signed else body)
    raw = session.get(field)
    if raw:
        digest.update(b"\0" + str(raw).encode())
    return digest.hexdigest()[:32]


def _matching_tag(etag: str) -> str | None:
    """The If-None-Match tag naming this body, also as Flask-Compress renamed it (``<etag>:br``)."""
    for tag in request.if_none_match.as_set():
        if tag == etag or tag.startswith(etag + ":"):
            return tag
    return None


def conditional_html(response: Response) -> Response:
    """Add an ETag and no-cache to an HTML response, and answer 304 when the client has it."""
    if (
        request.method not in ("GET", "HEAD")
        or response.status_code != 200
        or response.mimetype != "text/html"
        or response.is_streamed
        or response.direct_passthrough
    ):
        return response
    cache = response.headers.get("Cache-Control", "")
    if "no-store" in cache:
        return response
    if not cache:
        # Revalidate every time; pages carry the session's CSRF token, so no shared cache may keep them.
        response.headers["Cache-Control"] = "private, no-cache"
    elif getattr(current_user, "is_authenticated", False) and "public" in cache:
        response.headers["Cache-Control"] = cache.replace("public", "private")
    if "ETag" in response.headers or "Last-Modified" in response.headers:
        return response
    etag = page_etag(response.get_data())
    tag = _matching_tag(etag)
    if tag is None:
        response.set_etag(etag)
        return response
    response.set_etag(tag)
    response.make_conditional(request.environ)
    return response


def _accepted(header: str) -> set[str]:
    accepted = set()
    for part in header.lower().split(","):
        name, _, params = part.strip().partition(";")
        q = params.strip().removeprefix("q=")
        if name and (not q or _positive(q)):
            accepted.add(name.strip())
    return accepted


def _positive(q: str) -> bool:
    try:
        return float(q) > 0
    except ValueError:
        return False


def _compress(data: bytes, encoding: str) -> bytes:
    if encoding == "br":
        return brotli.compress(data, quality=11)
    if encoding == "zstd":
        from backports import zstd

        return zstd.compress(data, 19)
    return gzip.compress(data, 9, mtime=0)


def compressed_static(response: Response) -> Response:
    """Send a static text file compressed once at maximum level, from memory."""
    if (
        request.endpoint != "static"
        or request.method != "GET"
        or response.status_code != 200
        or response.mimetype not in STATIC_TYPES
        or "Content-Encoding" in response.headers
    ):
        return response
    accepted = _accepted(request.headers.get("Accept-Encoding", ""))
    encoding = next((e for e in STATIC_ENCODINGS if e in accepted), None)
    filename = (request.view_args or {}).get("filename")
    if encoding is None or not filename:
        return response
    path = os.path.join(current_app.static_folder, filename)
    try:
        stamp = os.stat(path).st_mtime
    except OSError:
        return response
    key = (path, stamp, encoding)
    body = _compressed.get(key)
    if body is None:
        with open(path, "rb") as fh:
            body = _compress(fh.read(), encoding)
        with _lock:
            _compressed[key] = body
    response.close()  # the file send_file opened
    response.direct_passthrough = False
    response.set_data(body)
    response.headers["Content-Encoding"] = encoding
    response.vary.add("Accept-Encoding")
    etag, weak = response.get_etag()
    if etag:
        response.set_etag(f"{etag}:{encoding}", weak=weak)
    return response


def init_app(app: Flask) -> None:
    """Register the hooks; they run before Flask-Compress's, which renames the ETag per encoding."""
    app.after_request(conditional_html)
    app.after_request(compressed_static)
