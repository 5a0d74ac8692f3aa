"""Conditional GET for HTML pages and htmx fragments, and static files compressed once, at maximum.

Static files: Flask-Compress would compress each one again on every request at a fast level (zstd 3
turns htmx into 18 KB). Here each static text file is compressed once per process at the highest
level (brotli 11: htmx in 14.5 KB) and kept in memory; Flask-Compress leaves encoded responses alone.

Pages: strong ETags from the body, 304 when unchanged. Compressed as Flask-Compress would, but
each distinct body once per process (a few hundred kept): the same page for every visitor without
a session costs a digest instead of a compression.

Critical CSS: the whole of balai.css is about 3.5 KB compressed, less than the round trip a separate
file costs on 3G (400 ms). On a first visit (no ``css`` cookie naming the current version) pages
carry it inline in ``<style>``, allowed by its hash in the CSP, and the response sets the cookie;
later pages link the fingerprinted file, which the service worker precached and the HTTP cache keeps
for a year.

Translations: Flask-Babel finds the request's catalogue anew on each ``_()`` in a template (locale
selector, context lookups: ~0.17 ms a call, 40 calls a page); templates here use the catalogue found
once per request and per locale.

Signed-in officials: no page rendered for them is stored anywhere (``private, no-store``): not in
the browser's cache, not by a proxy, not by the service worker, which keeps the last-seen tracking
pages for use without signal and would otherwise show an official's view (name, action forms) to
the next person on the phone. Logging out clears the browser's HTTP cache (``Clear-Site-Data``);
the service worker empties its own page cache on the same request.

A phone on 3G that already holds a page pays one round trip and no body when nothing changed.
Pages embed the session's CSRF token, signed with a timestamp, so the signed token would change
the body every second; the ETag is taken from the body without it plus the session's raw token,
which the cached copy's signed token stays valid for (WTF_CSRF_TIME_LIMIT is None).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass

import brotli
from flask import Flask, Response, current_app, g, request, session
from flask.globals import _cv_app
from flask_babel import get_translations
from flask_login import current_user
from jinja2 import pass_context
from markupsafe import Markup

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


CSS_FILE = "css/balai.css"
CSS_COOKIE = "css"


@dataclass(frozen=True)
class CriticalCss:
    text: str
    version: str  # short content hash, the cookie's value
    csp_source: str  # 'sha256-…' for style-src


def critical_css(app: Flask) -> CriticalCss:
    """balai.css as it is inlined, read once per process."""
    css = app.extensions.get("balai_critical_css")
    if css is None:
        with open(os.path.join(app.static_folder, CSS_FILE), encoding="utf-8") as fh:
            text = fh.read()
        # Inline, "</" could close the <style> element; balai.css has none, so this never changes a byte.
        text = text.replace("</", "<\\/")
        raw = hashlib.sha256(text.encode()).digest()
        css = CriticalCss(text, raw.hex()[:10], "'sha256-" + base64.b64encode(raw).decode() + "'")
        app.extensions["balai_critical_css"] = css
    return css


def inline_css() -> Markup | None:
    """The page's CSS as a ``<style>`` element on a first visit, else None (link the file)."""
    css = critical_css(current_app)
    if request.cookies.get(CSS_COOKIE) == css.version:
        return None
    g.balai_inlined_css = True
    return Markup("<style>") + Markup(css.text) + Markup("</style>")  # noqa: S704  (our own static file, read at startup)


def css_element() -> Markup:
    """The page's stylesheet: inline on a first visit (inline_css()), else a link to the file."""
    inline = inline_css()
    if inline is not None:
        return inline
    href = current_app.jinja_env.globals["asset"](CSS_FILE)
    return Markup('<link rel="stylesheet" href="{}">').format(href)


def remember_css(response: Response) -> Response:
    """After a page inlined the CSS, let the next one link the (by then cached) file instead."""
    if g.get("balai_inlined_css"):
        response.vary.add("Cookie")
        if response.status_code == 200:
            response.set_cookie(
                CSS_COOKIE,
                critical_css(current_app).version,
                max_age=31536000,
                secure=request.is_secure,
                httponly=True,
                samesite="Lax",
            )
    return response


def request_translations():
    """The request's Flask-Babel catalogue, looked up once per request (again after a locale refresh)."""
    app_ctx = _cv_app.get(None)
    if app_ctx is None:
        return get_translations()
    ns = app_ctx.g.__dict__.get("_flask_babel")
    if ns is not None:
        cached = getattr(ns, "balai_translations", None)
        locale = getattr(ns, "babel_locale", None)
        if cached is not None and locale is not None and cached[0] is locale:
            return cached[1]
    translations = get_translations()
    ns = app_ctx.g._flask_babel  # made by get_translations
    ns.balai_translations = (getattr(ns, "babel_locale", None), translations)
    return translations


# Distinct msgids a catalogue keeps finished markup for (templates pass literals only: a few hundred).
GETTEXT_MEMO_ENTRIES = 4096


def install_fast_gettext(app: Flask) -> None:
    """The template ``_()``/``ngettext`` of Flask-Babel, with the per-request catalogue.

    Jinja's ``_('…')`` resolves ``gettext``, which looks the message up and makes markup of it with
    ``%`` applied (about 10 µs a call; base.html alone makes seven). A call without variables gives
    the same markup every time for a catalogue: it is kept with the catalogue. Only markup is kept
    (what Jinja gives in autoescaped templates, which every template calling ``_()`` is: sw.js, the
    one that is not, prints no text); calls with variables go to Jinja's gettext as before.
    """
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: request_translations().ugettext(s),
        ngettext=lambda s, p, n: request_translations().ungettext(s, p, n),
        newstyle=True,
        pgettext=lambda c, s: request_translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: request_translations().unpgettext(c, s, p, n),
    )
    jinja_gettext = app.jinja_env.globals["gettext"]

    @pass_context
    def gettext(context, string: str, **variables):
        if variables:
            return context.call(jinja_gettext, string, **variables)
        translations = request_translations()
        memo = translations.__dict__.get("balai_markup")
        if memo is None:
            memo = translations.__dict__.setdefault("balai_markup", {})
        found = memo.get(string)
        if found is None:
            found = context.call(jinja_gettext, string)
            if isinstance(found, Markup) and len(memo) < GETTEXT_MEMO_ENTRIES:
                memo[string] = found
        return found

    # ``_`` resolves "gettext" and calls it through Context.call: go straight to it.
    app.jinja_env.globals["gettext"] = app.jinja_env.globals["_"] = gettext


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


def private_for_officials(response: Response) -> Response:
    """``no-store`` on every page and fragment rendered for a signed-in user; clear caches on logout."""
    if request.endpoint == "auth.logout" and request.method == "POST":
        response.headers["Clear-Site-Data"] = '"cache"'
    if response.mimetype == "text/html" and getattr(current_user, "is_authenticated", False):
        response.headers["Cache-Control"] = "private, no-store"
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


class _Compressed:
    """Compressed HTML bodies by the digest of their bytes, a bounded number, oldest dropped first."""

    def __init__(self, entries: int = 256):
        self.entries = entries
        self._bodies: OrderedDict[tuple[bytes, str], bytes] = OrderedDict()

    def get(self, body: bytes, encoding: str, compress) -> bytes:
        key = (hashlib.sha256(body).digest(), encoding)
        found = self._bodies.get(key)
        if found is None:
            found = compress(body)
            with _lock:
                self._bodies[key] = found
                while len(self._bodies) > self.entries:
                    self._bodies.popitem(last=False)
        return found


_html_bodies = _Compressed()


def compressed_html(response: Response) -> Response:
    """Compress an HTML page as Flask-Compress would (same encodings and levels), but compress each
    distinct body once: a page whose bytes repeat (the same page for every visitor without a
    session) costs a digest and a lookup instead of a compression. Flask-Compress then leaves it be."""
    if (
        response.mimetype != "text/html"
        or response.status_code != 200
        or response.is_streamed
        or response.direct_passthrough
        or "Content-Encoding" in response.headers
    ):
        return response
    from flask_compress.flask_compress import _choose_algorithm, _compress_data

    app = current_app._get_current_object()
    encoding = _choose_algorithm(_algorithms(app), request.headers.get("Accept-Encoding", ""))
    body = response.get_data()
    if encoding is None or len(body) < app.config["COMPRESS_MIN_SIZE"]:
        return response
    response.set_data(_html_bodies.get(body, encoding, lambda data: _compress_data(app, data, encoding)))
    response.headers["Content-Encoding"] = encoding
    response.vary.add("Accept-Encoding")
    etag, weak = response.get_etag()
    if etag and not weak:
        response.set_etag(f"{etag}:{encoding}")
    return response


def _algorithms(app: Flask) -> tuple[str, ...]:
    from flask_compress.flask_compress import _format

    found = app.extensions.get("balai_compress_algorithms")
    if found is None:
        found = app.extensions["balai_compress_algorithms"] = _format(app.config["COMPRESS_ALGORITHM"])
    return found


def init_app(app: Flask) -> None:
    """Register the hooks; they run before Flask-Compress's, which renames the ETag per encoding."""
    critical_css(app)
    install_fast_gettext(app)
    app.jinja_env.globals["inline_css"] = inline_css
    app.jinja_env.globals["css_element"] = css_element
    app.after_request(compressed_html)  # registered first: runs after the others, on the final body
    app.after_request(remember_css)
    app.after_request(conditional_html)
    app.after_request(compressed_static)
    app.after_request(private_for_officials)  # registered last: runs first, before conditional_html
