"""Helpers every web area shares: full page or htmx fragment, scoped lookups, role guards."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import abort, current_app, make_response, render_template, request, send_file
from flask_login import current_user, login_required
from sqlalchemy import select

from app.access import can_read_village
from app.domain.storage import InvalidPhotoName, PhotoStore
from app.extensions import db
from app.models import Role, Village


def render(template: str, fragment: str | None = None, status: int = 200, **context):
    """Render the page on a direct hit, and only ``fragment`` (a template) when htmx asks."""
    partial = bool(
        fragment
        and request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-Boosted") != "true"
    )
    body = render_template(fragment if partial else template, **context)
    response = make_response(body, status)
    response.vary.add("HX-Request")
    return response


def active_village_or_404(slug: str) -> Village:
    """The active village with this slug, for public pages."""
    village = db.session.scalar(select(Village).where(Village.slug == slug, Village.active.is_(True)))
    if village is None:
        abort(404)
    return village


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
