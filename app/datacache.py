"""Per-process caches of data and rendered blocks that are the same for every visitor, dropped by any write.

The page cache (app/pagecache.py) only serves visitors without a session; everyone else, and every
miss, pays for the village looked up by its slug, the region names, the figures and the rendering
of blocks that do not depend on who asks. Those are kept here, per web process, under a
*generation*: a value that changes at every commit that wrote something, in any process.

- On one machine it is a stamp of 8 bytes in the instance folder, mapped into memory by every
  process (web workers, job workers) and rewritten at each such commit: every process sees the
  change on its next request, for the price of reading 8 bytes of memory.
- With Redis (``REDIS_URL``, production, possibly several web machines) a Redis counter is part of
  the generation too: a commit that wrote increments it, and each process reads it at most every
  ``DATA_CACHE_REDIS_SECONDS`` (1 s; 0 reads it on every request that uses the cache). A change
  made on another machine shows there within that second; on the same machine, at once. (A Redis
  round trip on every request cost more than the lookups it saved on a busy 2-core machine.)
- When neither answers (Redis down), nothing is cached: values are computed afresh.

An entry is used only while the generation it was made under still stands, so a value computed
while a write was committing is stored under the old generation and never served after it.
Values are shared between threads: only immutable ones (strings, Markup, tuples) and detached ORM
rows that callers merge into their own session (:func:`village_by_slug`), or only read, are stored.
Nothing that depends on the user (session, CSRF token, sign-in) is ever cached here: keys name
every input of what is kept, whole pages are kept for anonymous visitors only with stand-ins for
their CSRF token and stylesheet (:func:`cached_page`). Two views are kept for more than the public:
what anyone holding a tracking code sees of it (app/tracked.py, its name masked first), and the
officials' queue without a search, for every official who may read the village, keyed by what
decides what they see (village, filter, day, whether they work there; app/officials/routes.py). A
search, a NIK, a phone number, a private link or a full name is never kept.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any

from flask import Flask, current_app, g, has_app_context, has_request_context
from markupsafe import Markup, escape

from app import pagecache
from app.pagecache import _map_stamp

log = logging.getLogger(__name__)
REDIS_KEY = "balai:data-generation"
_UNSET = object()


class DataCache:
    """The values of one app in one process, and the generation they belong to."""

    def __init__(self, redis_url: str | None, stamp_path: str, entries: int, redis_seconds: float = 1.0):
        self.max_entries = entries
        self.redis_seconds = redis_seconds
        self._entries: OrderedDict[tuple, tuple[object, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self._stamp = _map_stamp(stamp_path)
        self._redis = None
        self._remote: tuple[bytes, float] = (b"", float("-inf"))  # Redis's counter, and when it was read
        if redis_url:
            from redis import Redis

            self._redis = Redis.from_url(redis_url, socket_timeout=1, socket_connect_timeout=1)
            self.redis_key = os.environ.get("RATELIMIT_KEY_PREFIX", "") + REDIS_KEY

    def generation(self, fresh: bool = False) -> object | None:
        """The current generation, or None when it cannot be known (then nothing is cached).

        ``fresh``: Redis's counter read now, not the one read up to ``redis_seconds`` ago.
        """
        local = bytes(self._stamp[:8])
        if self._redis is None:
            return local
        value, read_at = self._remote
        now = time.monotonic()
        if fresh or now - read_at >= self.redis_seconds:
            from redis.exceptions import RedisError

            try:
                value = self._redis.get(self.redis_key) or b"0"
            except RedisError as exc:
                log.warning("data cache: Redis unreachable (%s); not caching", type(exc).__name__)
                return None
            self._remote = (value, now)
        return local + b":" + value

    def bump(self) -> object | None:
        """Data changed: a new generation for every process; returns it."""
        with self._lock:
            self._entries.clear()
            self._stamp[:8] = os.urandom(8)
        if self._redis is None:
            return bytes(self._stamp[:8])
        from redis.exceptions import RedisError

        try:
            value = str(self._redis.incr(self.redis_key)).encode()
        except RedisError as exc:
            log.warning("data cache: could not bump the generation in Redis (%s)", type(exc).__name__)
            return None
        self._remote = (value, time.monotonic())
        return bytes(self._stamp[:8]) + b":" + value

    def get(self, key: tuple, generation: object) -> Any:
        entry = self._entries.get(key)
        if entry is not None and entry[0] == generation:
            return entry[1]
        return _UNSET

    def put(self, key: tuple, generation: object, value: Any) -> None:
        with self._lock:
            self._entries[key] = (generation, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)


def _cache() -> DataCache | None:
    return current_app.extensions.get("balai_data_cache") if has_app_context() else None


def _request_generation(cache: DataCache) -> object | None:
    """Read once per request: every value a page uses comes from the same generation."""
    generation = g.get("balai_generation", _UNSET)
    if generation is _UNSET:
        generation = g.balai_generation = cache.generation()
    return generation


def read_generation_now() -> None:
    """From here on this request uses the generation as it is now on every machine.

    For what must never lag behind a change made on another machine, even by
    ``DATA_CACHE_REDIS_SECONDS`` (the signed-in account: a logout or a disabled account ends a copied
    cookie at once): one Redis read. On one machine the mapped stamp is always current anyway.
    """
    cache = _cache()
    if cache is not None and has_request_context():
        g.balai_generation = cache.generation(fresh=True)


def cached(key: tuple, compute: Callable[[], Any], keep: Callable[[Any], bool] | None = None) -> Any:
    """``compute()``, kept in this process until the next write anywhere; only inside a request.

    ``keep(value)``: whether to keep a computed value (e.g. not an unknown code's None, so that
    guessing codes cannot push the pages everyone reads out of the cache).
    """
    cache = _cache()
    if cache is None or not has_request_context():
        return compute()
    generation = _request_generation(cache)
    if generation is None:
        return compute()
    value = cache.get(key, generation)
    if value is _UNSET:
        value = compute()
        if keep is None or keep(value):
            cache.put(key, generation, value)
    return value


# Stands in for the CSRF token while markup kept for everyone is rendered; each page gets its own.
CSRF_SLOT = "balai-csrf-" + secrets.token_hex(8)
# Stands in for the stylesheet in a page kept for every visitor: inline on a first visit, else a link.
CSS_SLOT = "balai-css-" + secrets.token_hex(8)
# Stands in for a value of the visitor's own in kept markup (the private link on their receipt): the
# value itself is never kept, each request fills in its own.
OWN_SLOT = "balai-own-" + secrets.token_hex(8)
_SLOTS = re.compile(f"({CSRF_SLOT}|{CSS_SLOT}|{OWN_SLOT})")


@contextmanager
def _csrf_stand_in():
    """Flask-WTF's generate_csrf() answers what ``g`` holds: the stand-in, for markup kept for everyone."""
    field = current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    had = g.pop(field, None)
    setattr(g, field, CSRF_SLOT)
    try:
        yield
    finally:
        g.pop(field, None)
        if had is not None:
            setattr(g, field, had)


def cached_markup(key: tuple, make: Callable[[], Any]) -> Any:
    """Markup rendered once per change of data for every visitor, with this visitor's CSRF token.

    A form inside it takes its token when it is built, so ``make()`` runs with a stand-in token
    (Flask-WTF's generate_csrf() answers what ``g`` holds): the kept copy never carries the token of
    the visitor who happened to fill the cache, and each page gets its own (creating a session only
    when the markup has a form).
    """

    def render() -> Any:
        with _csrf_stand_in():
            return make()

    value = cached(key, render)
    if CSRF_SLOT in value:
        from flask_wtf.csrf import generate_csrf

        value = value.replace(CSRF_SLOT, generate_csrf())  # Markup.replace escapes it: URL-safe, unchanged
    return value


def cached_page(
    key: tuple, make: Callable[[str], str], css: Callable[[], str], own: str | None = None
) -> str:
    """A whole page rendered once per change of data for every visitor it is the same for, with this
    visitor's CSRF token and stylesheet element filled in.

    ``make(css_slot)`` renders the page with the CSRF stand-in (as :func:`cached_markup`) and
    ``css_slot`` where the stylesheet goes; it is kept split at the stand-ins, so a request joins
    the pieces with its own values: ``css()`` (inline ``<style>`` on a first visit, else a link),
    and a token made only when the page has a form or a session (generate_csrf()). ``own``: this
    visitor's value for :data:`OWN_SLOT` (escaped here); ``key`` must tell whether there is one.
    """

    def render() -> tuple[str, ...]:
        with _csrf_stand_in():
            return tuple(_SLOTS.split(make(CSS_SLOT)))

    parts = cached(key, render)
    if len(parts) == 1:
        return parts[0]
    values = {CSS_SLOT: None, CSRF_SLOT: None, OWN_SLOT: None if own is None else str(escape(own))}
    out = []
    for i, part in enumerate(parts):
        if i % 2 == 0:
            out.append(part)
            continue
        value = values[part]
        if value is None:
            if part == CSS_SLOT:
                value = css()
            else:
                from flask_wtf.csrf import generate_csrf

                value = generate_csrf()
            values[part] = value
        out.append(value)
    return "".join(out)


def render_whole(template: str, context: dict) -> Markup:
    """A template (an htmx fragment) rendered as markup to keep, as render_template() renders it."""
    from flask import render_template

    return Markup(render_template(template, **context))  # noqa: S704  (our own autoescaped template's output)


def render_block(template: str, block: str, context: dict) -> Markup:
    """One block of a template rendered alone, with the same globals and imports a page gets."""
    app = current_app._get_current_object()
    tpl = app.jinja_env.get_template(template)
    ctx = dict(context)
    app.update_template_context(ctx)
    jinja_context = tpl.new_context(ctx)
    # The template's top level first (its imports and sets, which the block may use); only on a miss.
    for _chunk in tpl.root_render_func(jinja_context):
        pass
    return Markup("".join(tpl.blocks[block](jinja_context)))  # noqa: S704  (our own template's output)


def cached_row(key: tuple, load: Callable[[], Any], *related: str, attach: bool = True):
    """The ORM row ``load()`` finds (or None), kept detached and merged into this request's session
    without a query while nothing changed. ``related``: eagerly loaded relationships kept with it.

    ``attach=False`` gives the kept row itself, shared by every request of this process, for a
    caller that only reads the columns and ``related`` loaded with it (merging costs ~50 us): it
    must never be changed, added to a session or asked for anything not loaded.
    """
    from app.extensions import db

    if _cache() is None or not has_request_context():
        return load()

    def detached():
        row = load()
        if row is not None:
            for name in related:
                other = getattr(row, name)
                if other is not None and other in db.session:
                    db.session.expunge(other)
            db.session.expunge(row)
        return row

    found = cached(("row", *key), detached)
    if found is None or not attach:
        return found
    return db.session.merge(found, load=False)


def village_by_slug(slug: str, attach: bool = True):
    """The active village with this slug (with its region), or None; ``attach``: see cached_row()."""
    from sqlalchemy import select

    from app.extensions import db
    from app.models import Village

    def load():  # the query is built only on a miss: building it costs as much as the lookup
        return db.session.scalar(select(Village).where(Village.slug == slug, Village.active.is_(True)))

    return cached_row(("village", slug), load, "region", attach=attach)


# --- invalidation: a commit that wrote anything makes a new generation -----------------------------


def _committed() -> None:
    cache = _cache()
    if cache is None:
        return
    generation = cache.bump()
    if has_request_context():
        g.balai_generation = generation  # this request's later reads see its own write


pagecache.after_writing_commit.append(_committed)


def init_app(app: Flask) -> None:
    app.extensions["balai_data_cache"] = DataCache(
        app.config.get("REDIS_URL"),
        app.config.get("DATA_CACHE_STAMP") or os.path.join(app.instance_path, "data-cache.stamp"),
        int(app.config.get("DATA_CACHE_ENTRIES", 1024)),
        float(app.config.get("DATA_CACHE_REDIS_SECONDS", 1.0)),
    )
