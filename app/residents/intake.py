"""Photos on their way into a request: checked, re-encoded, stored, and remembered across form steps.

A photo that passed the checks is stored at once and referred to by a signed token in a hidden
field, so a mistake elsewhere in the form (or a failed second photo) never makes the resident
send it again over a slow connection.
"""

from __future__ import annotations

import base64
import io
from dataclasses import asdict, dataclass

from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeTimedSerializer
from PIL import Image
from sqlalchemy import select

from app.domain.errors import DomainError
from app.domain.photos import process_photo
from app.domain.storage import InvalidPhotoName, PhotoStore
from app.extensions import db
from app.models import Attachment, Service
from app.residents.catalog import document_label
from app.residents.forms import DOC_PREFIX, KEPT_PREFIX

SALT = "residents.pending-photo"
# A kept photo lasts this long after the form's last step (each step signs it anew and marks the
# file as used); the uploads sweep removes unreferenced photos a little later (app.uploads.GRACE).
MAX_AGE = 2 * 3600


@dataclass(frozen=True)
class PendingPhoto:
    key: str
    name: str
    mime: str
    size: int
    width: int
    height: int
    sha256: str

    def attachment(self, request_id: int) -> Attachment:
        return Attachment(
            request_id=request_id,
            doc_key=self.key,
            stored_name=self.name,
            mime=self.mime,
            size=self.size,
            width=self.width,
            height=self.height,
            sha256=self.sha256,
        )


def store() -> PhotoStore:
    return PhotoStore(current_app.config["UPLOAD_DIR"])


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt=SALT)


def sign(photo: PendingPhoto, scope: str) -> str:
    """A token naming a stored photo, valid only for this form (``scope``) and document."""
    return _serializer().dumps({"scope": scope, **asdict(photo)})


def _payload(token: str, scope: str, key: str, max_age: int | None) -> dict | None:
    try:
        payload = _serializer().loads(token, max_age=max_age)
    except BadSignature:
        return None
    if not isinstance(payload, dict) or payload.pop("scope", None) != scope or payload.get("key") != key:
        return None
    return payload


def lapsed(token: str, scope: str, key: str) -> bool:
    """Whether ``token`` is one we signed for this form and document, whose photo is no longer kept."""
    return _payload(token, scope, key, None) is not None and load(token, scope, key) is None


def load(token: str, scope: str, key: str) -> PendingPhoto | None:
    """The photo behind ``token`` if the token is genuine, fresh, for this form and document."""
    payload = _payload(token, scope, key, MAX_AGE)
    if payload is None:
        return None
    try:
        photo = PendingPhoto(**payload)
    except TypeError:
        return None
    if not store().exists(photo.name):
        return None
    store().touch(photo.name)  # in use: the sweep counts its age from this step
    return photo


def collect(
    form, service: Service, scope: str, *, require: bool = True
) -> tuple[dict[str, PendingPhoto], bool]:
    """Take each document's new upload or the one kept from an earlier step; errors go on the form.

    Returns the photos by document key and whether every required document is there and every
    new upload was accepted.
    """
    photos: dict[str, PendingPhoto] = {}
    ok = True
    max_bytes = current_app.config["MAX_PHOTO_BYTES"]
    for doc in service.documents:
        key = doc["key"]
        upload_field = getattr(form, DOC_PREFIX + key)
        kept_field = getattr(form, KEPT_PREFIX + key)
        pending = load(kept_field.data, scope, key) if kept_field.data else None
        upload = upload_field.data
        if upload:
            try:
                photo = process_photo(
                    upload.read(max_bytes + 1),
                    filename=upload.filename,
                    declared_type=upload.mimetype,
                    max_bytes=max_bytes,
                    size=getattr(upload.stream, "seen", None),  # all it was sent (app.limits)
                )
                name = store().save(photo.data, photo.ext)
            except DomainError as err:
                upload_field.errors = [*upload_field.errors, _(err.message, **err.params)]
                ok = False
            else:
                if pending is not None:
                    discard(pending)
                pending = PendingPhoto(
                    key, name, photo.mime, len(photo.data), photo.width, photo.height, photo.sha256
                )
        if pending is not None:
            photos[key] = pending
            kept_field.data = sign(pending, scope)
        else:
            gone = bool(kept_field.data) and not upload and lapsed(kept_field.data, scope, key)
            kept_field.data = ""
            if gone and not upload_field.errors:
                # The form sat open too long: its photo is gone; say so rather than drop it silently.
                upload_field.errors = [
                    *upload_field.errors,
                    _(
                        "Foto %(label)s yang dikirim tadi sudah tidak tersimpan karena formulir terlalu "
                        "lama dibiarkan. Pilih fotonya lagi.",
                        label=document_label(service, doc),
                    ),
                ]
                ok = False
            elif require and doc.get("required") and not upload_field.errors:
                upload_field.errors = [
                    *upload_field.errors,
                    _("%(label)s belum dilampirkan.", label=document_label(service, doc)),
                ]
                ok = False
    return photos, ok


def discard(photo: PendingPhoto) -> None:
    """Delete a replaced pending photo, unless a request already holds it."""
    taken = db.session.scalar(select(Attachment.id).where(Attachment.stored_name == photo.name))
    if taken is None:
        store().delete(photo.name)


THUMB_EDGE = 240  # 120 CSS px on a DPR 2 phone


def thumbnail(photo: PendingPhoto) -> str:
    """A small JPEG of a kept photo as a data: URI, for the check step only.

    Inlined in the (no-store) check page of the phone that sent it: never an address of its own
    that someone else could open, log or cache.
    """
    try:
        with Image.open(store().path(photo.name)) as image:
            image.thumbnail((THUMB_EDGE, THUMB_EDGE))
            buffer = io.BytesIO()
            image.convert("RGB").save(buffer, "JPEG", quality=60)
    except (OSError, ValueError, InvalidPhotoName):
        return ""
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
