"""The check step's answers, kept sealed in the session so the step has an address of its own.

The form's "Periksa jawaban" post is answered with a redirect to the same form's check step
(``?langkah=periksa``), rendered from what is kept here. Back from the receipt, or a reload, then
asks for a page instead of resending a form (no "Confirm Form Resubmission"), and that page knows
whether the form was sent already. The answers hold a NIK and a phone number: the session cookie
is signed, not encrypted, so they are sealed like the private links (app/residents/receipts.py).
"""

from __future__ import annotations

import base64
import json
import zlib
from dataclasses import asdict

from flask import session
from werkzeug.datastructures import MultiDict

from app.models import Service
from app.residents import intake, receipts
from app.residents.forms import DOC_PREFIX, KEPT_PREFIX, request_form

# A session cookie must stay well under the browsers' 4 KB: longer answers are shown at once instead.
MAX_SEALED = 2400


def keep(path: str, form, photos: dict) -> bool:
    """Seal the checked answers and photos of the form at ``path`` in the session; False if too long."""
    fields = {
        f.name: ("y" if f.data else "") if f.type == "BooleanField" else (f.data or "")
        for f in form
        if f.type not in ("FileField", "CSRFTokenField") and not f.name.startswith(KEPT_PREFIX)
    }
    payload = {
        "key": form.idempotency_key.data,
        "fields": fields,
        "photos": {k: asdict(p) for k, p in photos.items()},
    }
    packed = base64.urlsafe_b64encode(zlib.compress(json.dumps(payload).encode(), 9)).decode()
    sealed = receipts.seal(path, packed)
    if len(sealed) > MAX_SEALED:
        session.pop("checking", None)
        return False
    session["checking"] = {"path": path, "box": sealed}
    return True


def load(path: str) -> dict | None:
    """What ``keep`` sealed for the form at ``path`` in this session, if anything."""
    kept = session.get("checking")
    if not isinstance(kept, dict) or kept.get("path") != path or not isinstance(kept.get("box"), str):
        return None
    packed = receipts.unseal(path, kept["box"])
    if packed is None:
        return None
    try:
        return json.loads(zlib.decompress(base64.urlsafe_b64decode(packed)))
    except (ValueError, zlib.error):
        return None


def restore(checking: dict, service: Service):
    """The form and its photos as they were checked (photos still kept, their tokens signed anew)."""
    form = request_form(service, formdata=MultiDict(checking.get("fields", {})))
    scope = checking.get("key", "")
    photos = {}
    for key, raw in (checking.get("photos") or {}).items():
        try:
            photo = intake.PendingPhoto(**raw)
        except TypeError:
            continue
        if not intake.store().exists(photo.name) or not hasattr(form, DOC_PREFIX + key):
            continue
        intake.store().touch(photo.name)
        photos[key] = photo
        getattr(form, KEPT_PREFIX + key).data = intake.sign(photo, scope)
    return form, photos
