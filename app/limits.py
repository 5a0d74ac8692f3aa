"""Abuse limits shared by the areas: who a request counts against, and how many are allowed.

Keys never hold a phone number or an API key in the clear: the limiter's storage (Redis in
production) sees only a keyed hash.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import tempfile

from flask import current_app, g, request
from flask_limiter.util import get_remote_address
from sqlalchemy import select

from app.domain.errors import DomainError
from app.domain.phone import normalize_phone
from app.domain.tracking import normalize_tracking_code, tracking_key
from app.extensions import db, limiter
from app.models import ServiceRequest, Village

# Residents behind one mobile carrier NAT or a village kiosk share an address: keep it generous.
DEFAULTS = {
    "SUBMIT_PHONE_LIMIT": "5 per hour;15 per day",
    "SUBMIT_ADDRESS_LIMIT": "30 per hour;200 per day",
    "ORDER_PHONE_LIMIT": "10 per hour;30 per day",
    "API_KEY_LIMIT": "600 per hour",
    # Unknown tracking codes one address may try, wherever it asks (see counts_code_misses).
    "TRACK_MISS_LIMIT": "10 per minute;40 per hour",
    # Photos sent with resident forms (each is checked, decoded and stored at once, on every step):
    # per address, and per form (a request form's key, or a private fix link).
    "UPLOAD_ADDRESS_LIMIT": "60 per hour;300 per day",
    "UPLOAD_FORM_LIMIT": "15 per hour",
    # Fresh private links asked for on another phone (code + NIK + number): per address, per code.
    "LINK_ADDRESS_LIMIT": "5 per hour;20 per day",
    "LINK_CODE_LIMIT": "3 per day",
}
CODE_MISS_SCOPE = "tracking-code-miss"
UPLOAD_SCOPE = "photo-uploads"


# Resident forms with photos take a larger body than the app's MAX_CONTENT_LENGTH (two 20 MB camera
# photos must bring the form back with a clear message, not a bare 413), but keep at most
# MAX_PHOTO_BYTES + 1 of each photo: the rest is counted and dropped as it streams in.
PHOTO_FORM_ENDPOINTS = frozenset({"residents.request_service", "residents.private"})


class CappedUpload:
    """A file part of a form, kept up to ``cap`` bytes; ``seen`` is how many were sent."""

    def __init__(self, cap: int):
        self._file = tempfile.SpooledTemporaryFile(max_size=512 * 1024, mode="w+b")  # noqa: SIM115
        self.cap = cap
        self.kept = 0
        self.seen = 0

    def write(self, data: bytes) -> int:
        self.seen += len(data)
        room = self.cap - self.kept
        if room > 0:
            piece = data[:room]
            self._file.write(piece)
            self.kept += len(piece)
        return len(data)

    def __getattr__(self, name: str):
        return getattr(self._file, name)


def init_app(app) -> None:
    """Make room for photos in the resident forms before anything (CSRF, limits) reads the form."""

    def room_for_photos() -> None:
        if request.method == "POST" and request.endpoint in PHOTO_FORM_ENDPOINTS:
            request.max_content_length = app.config["MAX_FORM_UPLOAD_BYTES"]
            cap = app.config["MAX_PHOTO_BYTES"] + 1
            # Werkzeug asks the request for each file part's stream; this request's keep only `cap`.
            request._get_file_stream = lambda *args, **kwargs: CappedUpload(cap)

    app.before_request_funcs.setdefault(None, []).insert(0, room_for_photos)
    _check_only_where_counted(app)


def _check_only_where_counted(app) -> None:
    """Flask-Limiter's check before every request, only for requests it has something to count.

    A route's own limits (``@limiter.limit``, the shared limits above) are checked by their
    decorators; the check before every request counts only application, default, blueprint and
    meta limits (and the in-memory fallback's while the storage is down). Balai sets none for most
    blueprints, yet resolving that anew cost about as much as rendering a small page (~0.1 ms):
    it is resolved once per blueprint, and the check runs as before wherever one is set.
    """
    check = limiter._check_request_limit
    funcs = app.before_request_funcs.get(None, [])
    if check not in funcs:
        return
    counted: dict[str | None, bool] = {}

    def check_request_limit():
        blueprint = request.blueprint
        found = counted.get(blueprint)
        if found is None:
            found = counted[blueprint] = _counts_before_request(app, blueprint)
        return check() if found else None

    funcs[funcs.index(check)] = check_request_limit


def _counts_before_request(app, blueprint: str | None) -> bool:
    manager = limiter.limit_manager
    return bool(
        manager.application_limits
        or manager.default_limits
        or limiter._meta_limits
        or limiter._in_memory_fallback_enabled
        or (blueprint and manager.blueprint_limits(app, blueprint))
    )


def configured(name: str):
    """A limit read when the request comes: the app config, else the environment, else the default."""
    return lambda: current_app.config.get(name) or os.environ.get(name) or DEFAULTS[name]


def _hashed(kind: str, value: str) -> str:
    secret = current_app.config["SECRET_KEY"].encode()
    return f"{kind}:" + hmac.new(secret, value.encode(), hashlib.sha256).hexdigest()[:24]


def phone_key(field: str):
    """Count against the phone number typed into ``field`` (normalised, so spellings don't escape)."""

    def key() -> str:
        raw = (request.form.get(field) or "").strip()
        try:
            value = normalize_phone(raw)
        except DomainError:
            value = raw
        return _hashed("phone", value) if value else get_remote_address()

    return key


def code_key(field: str):
    """Count against the tracking code typed into ``field`` (look-alikes folded, so spellings don't escape)."""

    def key() -> str:
        raw = (request.form.get(field) or "").strip()
        try:
            value = tracking_key(normalize_tracking_code(raw))
        except DomainError:
            value = raw.upper()
        return _hashed("code", value)

    return key


def address_key() -> str:
    """Count against the client's address (set right behind a proxy by security.init_app)."""
    return "addr:" + get_remote_address()


def api_key_key() -> str:
    """Count against the API key sent, or the address when none is."""
    raw = (request.values.get("api_key") or "").strip()
    return _hashed("apikey", raw) if raw else address_key()


def form_key() -> str:
    """Count against one form: its idempotency key (the request form) or its URL (a private fix link)."""
    return _hashed("form", request.form.get("idempotency_key") or request.path)


def photos_sent() -> int:
    """How many photos this request carries (file fields with a file in them)."""
    return sum(1 for upload in request.files.values() if upload.filename)


def counts_photo_uploads(view):
    """Limit the photos resident forms may send, on every step (check, edit, send, fix), each photo
    counting once, per address and per form."""
    for name, key_func in (("UPLOAD_ADDRESS_LIMIT", address_key), ("UPLOAD_FORM_LIMIT", form_key)):
        view = limiter.shared_limit(
            configured(name),
            scope=f"{UPLOAD_SCOPE}:{name}",
            key_func=key_func,
            methods=["POST"],
            exempt_when=lambda: photos_sent() == 0 or sent_before() is not None,
            cost=photos_sent,
        )(view)
    return view


def hit_upload_limit(exc) -> bool:
    """Whether the 429 ``exc`` came from the photo limits."""
    limit = getattr(exc, "limit", None)
    return str(getattr(limit, "scope", "")).startswith(UPLOAD_SCOPE)


def not_sending() -> bool:
    """Whether this resident form post only checks input (the final 'send' step stores it)."""
    return request.form.get("step", "check") != "send"


def sent_before() -> str | None:
    """The tracking code of the request this resident form post was already stored as, if any.

    The form's idempotency key names it: a double tap, "tekan lagi", a draft sent again when the
    signal returns, or Back and resend all post the same key, and get the first request's receipt.
    """
    if "sent_before" not in g:
        key = request.form.get("idempotency_key") or ""
        slug = (request.view_args or {}).get("slug")
        g.sent_before = (
            db.session.scalar(
                select(ServiceRequest.tracking_code)
                .join(Village, Village.id == ServiceRequest.village_id)
                .where(Village.slug == slug, ServiceRequest.idempotency_key == key)
            )
            if key and slug and request.method == "POST"
            else None
        )
    return g.sent_before


def not_storing() -> bool:
    """Exempt from the submit limits: a post that only checks input, or resends a stored form."""
    return not_sending() or sent_before() is not None


def stored(response) -> bool:
    """Count only what was stored: a redirect to the receipt or the product page, never a replay."""
    return response.status_code in (302, 303) and not g.get("replayed", False)


def _code_misses() -> int:
    # Before the view runs: is there room for one more guess? After it: what it actually missed.
    return g.get("code_misses", 1)


def counts_code_misses(view):
    """One budget of unknown tracking codes per address, shared by every route that tells whether a
    code exists (tracking page, "my requests" statuses, the Open311 token lookup): a guesser gains
    nothing by switching route, or by asking for twenty codes at once."""
    return limiter.shared_limit(
        configured("TRACK_MISS_LIMIT"),
        scope=CODE_MISS_SCOPE,
        key_func=address_key,
        cost=_code_misses,
        deduct_when=lambda response: g.get("code_misses", 0) > 0,
    )(view)


def code_guesses_left() -> int:
    """How many unknown codes this address may still try now (under the tightest window)."""
    shared = [rl for rl in limiter.current_limits if rl.shared and CODE_MISS_SCOPE in rl.key]
    return min((rl.remaining for rl in shared), default=1_000_000)


def code_missed(count: int = 1) -> None:
    """Count ``count`` unknown codes against this address once the response is made."""
    if count > 0:
        g.code_misses = g.get("code_misses", 0) + count
