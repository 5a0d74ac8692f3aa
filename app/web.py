"""Helpers every web area shares: full page or htmx fragment, scoped lookups, role guards."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from urllib.parse import urlsplit

from flask import abort, current_app, make_response, render_template, request, send_file, session, url_for
from flask_babel import get_locale
from flask_login import current_user, login_required

from app.access import can_read_village
from app.caching import css_element
from app.datacache import (
    CSRF_SLOT,
    OWN_SLOT,
    cached_markup,
    cached_page,
    render_block,
    render_whole,
    village_by_slug,
)
from app.domain.storage import InvalidPhotoName, PhotoStore
from app.extensions import db
from app.models import Role, Village


def render(template: str, fragment: str | None = None, status: int = 200, **context):
    """Render the page on a direct hit, and only ``fragment`` (a template) when htmx asks."""
    body = render_template(fragment if _partial(fragment) else template, **context)
    response = make_response(body, status)
    response.vary.add("HX-Request")
    return response


def _partial(fragment: str | None) -> bool:
    return bool(
        fragment
        and request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-Boosted") != "true"
    )


def render_shared(
    template: str,
    key: tuple,
    context: Callable[[], dict],
    fragment: str | None = None,
    own: str | None = None,
    **page,
):
    """render() for a page whose content (or htmx fragment) is the same for every visitor.

    ``context()`` is called, and the content block or fragment rendered, once per change of data
    (app/datacache.py). ``key`` names everything else the content depends on (path values, query
    arguments); the locale is added here. ``page`` (values for the title and head) must follow
    from ``key`` too. For a visitor who is not signed in and has no message waiting, the whole
    page is kept the same way, with slots for the CSRF token and the stylesheet; a signed-in
    official's page around the content (name, menu, bell) is rendered for each request.
    Never for a view whose content differs for a signed-in user. ``own``: the one value of this
    visitor's own the content shows (the private link on a receipt), which ``context()`` gives as
    ``OWN_SLOT``: it is filled in per request and never kept.
    """
    key = (*key, own is not None)
    locale = str(get_locale())
    if _partial(fragment):
        body = cached_markup(("fragment", fragment, locale, *key), lambda: render_whole(fragment, context()))
        response = make_response(body)
        response.vary.add("HX-Request")
        return response
    if current_user.is_authenticated or "_flashes" in session:
        content = cached_markup(
            ("content", template, locale, *key), lambda: render_block(template, "content", context())
        )
        if own is not None:
            content = content.replace(OWN_SLOT, own)  # Markup.replace escapes it
        return render(template, fragment, cached_content=content, **page)
    # base.html shows the htmx CSRF header to a visitor with a session token (or given one by a form).
    token = current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token") in session

    def whole(css_slot: str) -> str:
        content = render_block(template, "content", context())
        return render_template(
            template,
            cached_content=content,
            page_css=css_slot,
            page_csrf=CSRF_SLOT if token or CSRF_SLOT in content else None,
            **page,
        )

    body = cached_page(("page", template, locale, request.script_root, token, *key), whole, css_element, own)
    response = make_response(body)
    response.vary.add("HX-Request")
    return response


def absolute_url(endpoint: str, **values) -> str:
    """A full URL under the configured BASE_URL, never the request's Host header (which anyone forges)."""
    return current_app.config["BASE_URL"] + url_for(endpoint, **values)


def active_village_or_404(slug: str) -> Village:
    """The active village with this slug, for public pages (kept per process until data changes)."""
    village = village_by_slug(slug)
    if village is None:
        abort(404)
    return village


def shown_village_or_404(slug: str) -> Village:
    """active_village_or_404() for a public page that only shows the village: the row kept for every
    request, not in this request's session (read its columns and region only; never change it)."""
    village = village_by_slug(slug, attach=False)
    if village is None:
        abort(404)
    return village


def submitted_here(code: str) -> bool:
    """Whether this browser's session sent the request with tracking ``code`` (its kept receipts)."""
    return code in session.get("receipts", {})


def readable_village_or_404(village_id: int) -> Village:
    """A village the current user may read; others get 404 so existence does not leak."""
    village = db.session.get(Village, village_id)
    if village is None or not can_read_village(current_user, village):
        abort(404)
    return village


def reading_village(workers) -> Village | None:
    """The village a page shows: a village official's own, or the one region staff picked with
    ?desa= (inside their region, else 404); None when region staff picked none."""
    if current_user.role in workers:
        if current_user.village is None:
            abort(403)
        return current_user.village
    picked = request.values.get("desa", "")
    return readable_village_or_404(int(picked)) if picked.isdecimal() else None


def village_row_or_404(model, row_id: int, village: Village):
    """The ``model`` row with this id if it belongs to ``village``; 404 otherwise, so ids do not leak."""
    row = db.session.get(model, row_id)
    if row is None or row.village_id != village.id:
        abort(404)
    return row


def roles_required(*roles: Role) -> Callable:
    """Allow only logged-in users holding one of ``roles``."""

    def decorator(view: Callable) -> Callable:
        @login_required
        @wraps(view)
        def wrapped(*args, **kwargs):
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


NEXT_MAX_LENGTH = 2000


def safe_next(target: str | None) -> str | None:
    r"""``target`` if it is a path on this site to send the browser back to, else None.

    Browsers drop tabs and newlines from a Location and read a backslash as a slash, so
    ``/\t/evil.example`` or ``/\\evil.example`` would leave the site; a CR/LF would break the header.
    Only a plain absolute path passes: no scheme, no host, no control or space characters.
    """
    if not target or len(target) > NEXT_MAX_LENGTH or not target.startswith("/"):
        return None
    if target.startswith("//") or "\\" in target:
        return None
    if any(ch.isspace() or not ch.isprintable() for ch in target):
        return None
    try:
        parts = urlsplit(target)
    except ValueError:
        return None
    if parts.scheme or parts.netloc:
        return None
    return target


PHOTO_MAX_AGE = 365 * 24 * 3600
# A PDF a village's system sent: downloaded, and never run as a page of Balai's origin.
SENT_PDF_CSP = "sandbox; default-src 'none'; script-src 'self'; object-src 'none'; frame-ancestors 'none'"


def send_stored_photo(name: str, *, public: bool):
    """Serve a stored photo after the caller's permission check; stored names never change content."""
    store = PhotoStore(current_app.config["UPLOAD_DIR"])
    try:
        path = store.path(name)
    except InvalidPhotoName:
        abort(404)
    if not path.is_file():
        abort(404)
    mimetype = "image/webp" if name.endswith(".webp") else "image/jpeg"
    response = send_file(path, mimetype=mimetype, max_age=PHOTO_MAX_AGE if public else 0, conditional=True)
    if public:
        response.cache_control.public = True
        response.cache_control.immutable = True
    else:
        response.cache_control.private = True
        response.cache_control.no_store = True
    return response
