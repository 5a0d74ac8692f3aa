"""A micro-cache of public pages for visitors without a session, in front of Flask.

The tracking page, the service list and the catalogue are what a poster's QR code and a shared
link bring hundreds of phones to at once. For a visitor who carries no session (no login, no
form sent yet) such a page is the same bytes for everyone who asks the same way, so each web
process keeps the finished response (compressed, headers and all) for ``PAGE_CACHE_SECONDS``
(15 s by default) and serves repeats without entering Flask: no session, no database, no template.

What keeps it correct:

- Only views marked with :func:`shared` are stored, only with status 200, and only when the request
  carried no cookie but the CSS one and the response set no cookie but that one. Anyone logged in,
  or holding a session (a resident who sent a form has one), always gets a fresh page.
- The key holds everything such a page may depend on: method, host, scheme, path, query (``?lang=``
  chooses the language), the Accept-Encoding and Accept-Language headers, every ``HX-*`` header (full
  page or fragment) and the CSS cookie (first visit: CSS inline). A response that varies on anything
  else is not stored.
- A commit anywhere on this machine (any web process, any worker) empties every cache at once
  (unless all it wrote is in ``UNSHOWN_TABLES``, such as notifications being sent): it
  writes a new stamp into a small file in the instance folder that each process has mapped into
  memory, and an entry is used only while the stamp it was made under still stands. On another
  machine (several web nodes), a change shows within two ``PAGE_CACHE_SECONDS``: when a page
  expires, one request renders it anew while the others are still served the old copy (for at
  most one more period), so a busy page is never rendered by every thread at once.
- ``If-None-Match`` is answered with 304 from the stored ETag.
- Bounded: at most ``PAGE_CACHE_ENTRIES`` responses per process, the oldest dropped first,
  and no body over 256 KB is kept.

Rate limits do not count hits: a hit costs less than the check would, and a hit is a page someone
just saw (a tracking code that does not exist is a 404, never stored, so codes cannot be probed here).
"""

from __future__ import annotations

import logging
import mmap
import os
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

from flask import Flask, current_app, g, session
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)
MARK_HEADER = "X-Balai-Shared-Cache"
MAX_BODY = 256 * 1024
# Request headers that make a different page (besides method, host, path and query).
_KEY_HEADERS = (
    "HTTP_ACCEPT_ENCODING",
    "HTTP_ACCEPT_LANGUAGE",
    "HTTP_X_FORWARDED_PROTO",
    "HTTP_X_FORWARDED_HOST",
)
# Response Vary fields the key covers.
_COVERED_VARY = {"accept-encoding", "accept-language", "cookie"}
_HIT_HEADERS_304 = {"etag", "cache-control", "vary", "content-location", "expires", "date"}


def shared(view: Callable) -> Callable:
    """Mark a public view whose page may be served from the micro-cache to visitors without a session."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        g.balai_shared_page = True
        return view(*args, **kwargs)

    return wrapper


def session_csrf_token() -> str | None:
    """The CSRF token for htmx's request header, but only for a visitor who already has a session.

    Making a token starts a session (a cookie), which would make every page private to its
    visitor. Forms carry their own token field, so a visitor without a session needs none here.
    """
    field = current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    if field in session or getattr(current_user, "is_authenticated", False):
        return generate_csrf()
    return None


def mark(response):
    """after_request: tell the middleware that this response may be stored."""
    if g.get("balai_shared_page") and response.status_code == 200:
        response.headers[MARK_HEADER] = "1"
    return response


@dataclass(slots=True, eq=False)
class _Entry:
    status: str
    headers: list[tuple[str, str]]
    body: bytes
    etag: str | None
    expires: float
    generation: bytes
    refreshing: bool = False


class PageCache:
    """WSGI middleware: answer repeated anonymous GETs of marked pages from memory."""

    def __init__(self, wsgi_app, seconds: float, entries: int, css_cookie: str, stamp_path: str):
        self.wsgi_app = wsgi_app
        self.seconds = seconds
        self.max_entries = entries
        self.css_cookie = css_cookie
        self._stamp = _map_stamp(stamp_path)
        self.hits = 0
        self._entries: OrderedDict[tuple, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    # --- invalidation --------------------------------------------------------------------------

    @property
    def generation(self) -> bytes:
        """What the stamp says now: 8 random bytes, new at every change of data on this machine."""
        return self._stamp[:8]

    def clear(self) -> None:
        """Data changed: drop this process's pages, and tell the machine's other processes by the stamp."""
        with self._lock:
            self._entries.clear()
            self._stamp[:8] = os.urandom(8)

    # --- the request path ----------------------------------------------------------------------

    def _key(self, environ) -> tuple | None:
        method = environ.get("REQUEST_METHOD")
        if method not in ("GET", "HEAD"):
            return None
        css = ""
        cookie_header = environ.get("HTTP_COOKIE")
        if cookie_header:
            for part in cookie_header.split(";"):
                name, _, value = part.strip().partition("=")
                if name == self.css_cookie:
                    css = value
                elif name:
                    return None  # a session, a login, or something we do not know: render afresh
        hx = tuple(sorted((k, v) for k, v in environ.items() if k.startswith("HTTP_HX_")))
        return (
            environ.get("wsgi.url_scheme"),
            environ.get("HTTP_HOST"),
            environ.get("SCRIPT_NAME", ""),
            environ.get("PATH_INFO"),
            environ.get("QUERY_STRING", ""),
            css,
            hx,
            *(environ.get(h, "") for h in _KEY_HEADERS),
        )

    def __call__(self, environ, start_response):
        key = self._key(environ)
        if key is None:
            return self.wsgi_app(environ, start_response)
        entry = self._entries.get(key)
        generation = self.generation
        if entry is not None and entry.generation == generation:
            if entry.expires > time.monotonic():
                self.hits += 1
                return self._serve(entry, environ, start_response)
            # Expired: one request renders the page anew while the others still get this copy,
            # so a busy page never has every thread rendering it at once.
            with self._lock:
                refreshing = entry.refreshing
                entry.refreshing = True
            if refreshing and entry.expires + self.seconds > time.monotonic():
                self.hits += 1
                return self._serve(entry, environ, start_response)
        return self._fill(key, environ, start_response, generation)

    def _serve(self, entry: _Entry, environ, start_response):
        inm = environ.get("HTTP_IF_NONE_MATCH")
        if entry.etag and inm and _matches(inm, entry.etag):
            headers = [(k, v) for k, v in entry.headers if k.lower() in _HIT_HEADERS_304]
            start_response("304 NOT MODIFIED", headers)
            return [b""]
        start_response(entry.status, entry.headers)
        if environ.get("REQUEST_METHOD") == "HEAD":
            return [b""]
        return [entry.body]

    def _fill(self, key: tuple, environ, start_response, generation: bytes):
        captured: dict = {}

        def capture(status, headers, exc_info=None):
            captured["status"] = status
            captured["headers"] = headers
            clean = [(k, v) for k, v in headers if k != MARK_HEADER]
            return start_response(status, clean, exc_info) if exc_info else start_response(status, clean)

        chunks = self.wsgi_app(environ, capture)
        headers = captured.get("headers") or []
        if not any(k == MARK_HEADER for k, _ in headers):
            self._drop(key)
            return chunks
        try:
            body = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        if (
            environ.get("REQUEST_METHOD") == "GET"
            and captured["status"].startswith("200")
            and self._storable(headers, body)
        ):
            # Rate-limit counters are this request's own; a stored copy must not repeat them.
            clean = [(k, v) for k, v in headers if k != MARK_HEADER and not _per_request(k)]
            etag = next((v for k, v in clean if k.lower() == "etag"), None)
            entry = _Entry(captured["status"], clean, body, etag, time.monotonic() + self.seconds, generation)
            with self._lock:
                if generation == self.generation:  # nothing changed while it rendered
                    self._entries[key] = entry
                    self._entries.move_to_end(key)
                    while len(self._entries) > self.max_entries:
                        self._entries.popitem(last=False)
        else:
            self._drop(key)
        return [body]

    def _drop(self, key: tuple) -> None:
        if key in self._entries:
            with self._lock:
                self._entries.pop(key, None)

    def _storable(self, headers: list[tuple[str, str]], body: bytes) -> bool:
        if len(body) > MAX_BODY:
            return False
        for name, value in headers:
            lower = name.lower()
            if lower == "set-cookie":
                if value.split("=", 1)[0].strip() != self.css_cookie:
                    return False
            elif lower == "vary":
                fields = {f.strip().lower() for f in value.split(",") if f.strip()}
                if any(f not in _COVERED_VARY and not f.startswith("hx-") for f in fields):
                    return False
            elif lower == "cache-control" and "no-store" in value:
                return False
        return True


def _map_stamp(path: str):
    """The stamp file mapped into memory, shared by every process on this machine that maps it.

    Writing to a shared mapping is seen at once by the others (it is the same page of memory), so
    each look costs a slice of bytes, not a system call. Without a writable instance folder the
    stamp is this process's own and other processes rely on the expiry alone.
    """
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.fstat(fd).st_size < 8:
                os.ftruncate(fd, 8)
            return mmap.mmap(fd, 8)
        finally:
            os.close(fd)
    except OSError as exc:
        log.warning("page cache: no shared stamp at %s (%s); other processes rely on the expiry", path, exc)
        return bytearray(8)


def _per_request(name: str) -> bool:
    lower = name.lower()
    return lower.startswith("x-ratelimit") or lower == "retry-after"


def _matches(if_none_match: str, etag: str) -> bool:
    """Whether the client's If-None-Match names ``etag`` (or Flask-Compress's ``<etag>:<encoding>``)."""
    wanted = etag.removeprefix("W/").strip('"')
    for tag in if_none_match.split(","):
        tag = tag.strip().removeprefix("W/").strip('"')
        if tag == "*" or tag == wanted:
            return True
    return False


def init_app(app: Flask) -> None:
    """Put the micro-cache in front of the app (outermost), unless PAGE_CACHE_SECONDS is 0."""
    app.jinja_env.globals["session_csrf_token"] = session_csrf_token
    seconds = float(app.config.get("PAGE_CACHE_SECONDS", 15) or 0)
    if seconds <= 0:
        return
    from app.caching import CSS_COOKIE

    cache = PageCache(
        app.wsgi_app,
        seconds=seconds,
        entries=int(app.config.get("PAGE_CACHE_ENTRIES", 512)),
        css_cookie=CSS_COOKIE,
        stamp_path=os.path.join(app.instance_path, "page-cache.stamp"),
    )
    app.wsgi_app = cache
    app.extensions["balai_page_cache"] = cache
    app.after_request(mark)
    _caches.add(cache)


# Any commit that wrote something may change what a cached page shows: every cache drops its pages.
# (All writes in the app go through db.session; a raw connection's writes rely on the expiry.)
_caches: weakref.WeakSet[PageCache] = weakref.WeakSet()


# Rows no shared page shows: a notification sent (a broadcast writes thousands a minute, and must
# not empty every cache each time), a phone subscribed, a private link, a read of the register.
UNSHOWN_TABLES = frozenset(
    {
        "notifications",
        "notification_deliveries",
        "inapp_messages",
        "push_subscriptions",
        "private_links",
        "register_access_log",
    }
)


def _changed(session, *_):
    rows = (*session.new, *session.dirty, *session.deleted)
    if rows and all(getattr(row, "__tablename__", None) in UNSHOWN_TABLES for row in rows):
        return
    session.info["balai_page_cache_dirty"] = True


def _executed(state) -> None:
    # session.execute(update(...)), insert, delete or text(): no flush happens, but data may change.
    # (Never invoke the statement here: the first listener to return a result would silence the
    # others, such as the audit trail's guard against bulk changes.)
    if state.is_select:
        return
    table = getattr(state.statement, "table", None)  # text() has none: counted as a change
    if getattr(table, "name", None) not in UNSHOWN_TABLES:
        state.session.info["balai_page_cache_dirty"] = True


# Others that keep what a write makes stale (app/datacache.py) are called at the same moment.
after_writing_commit: list[Callable[[], None]] = []


def _committed(session):
    if session.info.pop("balai_page_cache_dirty", False):
        for cache in list(_caches):
            cache.clear()
        for callback in after_writing_commit:
            callback()


event.listen(Session, "after_flush", _changed)
event.listen(Session, "do_orm_execute", _executed)
event.listen(Session, "after_commit", _committed)
