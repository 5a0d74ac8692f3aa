"""Data-protection requests: everything held about one resident (by NIK), and erasing it.

Erasing blanks who the person is (NIK, name, phone, email, the form's answers, the photos) and keeps
what happened (village, service, status, dates), so counts, due-date figures and letter numbers stay
right. Status changes are an append-only audit trail (app.officials.audit) and are kept as written:
officials' notes there are theirs, not the resident's form. Domain-side: plain values in, plain values out, no HTTP.
"""

from __future__ import annotations

import importlib
import secrets
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import selectinload

from app.domain.errors import N_, DomainError
from app.domain.nik import clean_nik
from app.domain.storage import InvalidPhotoName, PhotoStore
from app.domain.tracking import token_digest
from app.extensions import db
from app.models import Attachment, PrivateLink, ServiceRequest

ERASED_NAME = "(dihapus)"
ERASED_NIK = ""


@dataclass(frozen=True)
class Erased:
    requests: int
    photos: int
    orders: int
    register: int = 0


def _register():
    """The population register area (app/population), when installed."""
    try:
        return importlib.import_module("app.population.register")
    except ImportError:
        return None


def _optional_model(module: str, name: str):
    """A model of an area that may not be installed (BUMDes orders, letters, push subscriptions)."""
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None


def _nik(raw: str) -> str:
    nik = clean_nik(raw or "")
    if len(nik) != 16 or not (nik.isascii() and nik.isdigit()):
        raise DomainError(N_("NIK harus 16 angka."))
    return nik


def requests_of(nik: str) -> list[ServiceRequest]:
    """Every request filed with this NIK, oldest first."""
    return list(
        db.session.scalars(
            select(ServiceRequest)
            .where(ServiceRequest.nik == _nik(nik))
            .options(selectinload(ServiceRequest.history), selectinload(ServiceRequest.attachments))
            .order_by(ServiceRequest.submitted_at, ServiceRequest.id)
        )
    )


def _orders_of(phones: set[str]) -> list:
    order_model = _optional_model("app.models.bumdes", "Order")
    if order_model is None or not phones:
        return []
    return list(
        db.session.scalars(
            select(order_model).where(order_model.buyer_phone.in_(phones)).order_by(order_model.id)
        )
    )


def _letters_by_request(request_ids: list[int]) -> dict:
    letter_model = _optional_model("app.models.letters", "Letter")
    if letter_model is None or not request_ids:
        return {}
    rows = db.session.scalars(select(letter_model).where(letter_model.request_id.in_(request_ids)))
    return {row.request_id: row for row in rows}


def _plain(value):
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def export_resident(nik: str) -> dict:
    """All data held about the resident with this NIK, as JSON-ready values."""
    requests = requests_of(nik)
    register = _register()
    held = (
        register.export_person(_nik(nik)) if register else {"register": [], "aid": [], "register_access": []}
    )
    if not requests and not held["register"] and not held["aid"]:
        raise DomainError(N_("Tidak ada data dengan NIK itu."))
    letters = _letters_by_request([r.id for r in requests])
    phones = {r.phone for r in requests if r.phone}
    out_requests = []
    for req in requests:
        letter = letters.get(req.id)
        out_requests.append(
            {
                "tracking_code": req.tracking_code,
                "village": req.village.display_name,
                "service": req.service.name,
                "status": req.status,
                "channel": req.channel,
                "nik": req.nik,
                "name": req.name,
                "phone": req.phone,
                "email": req.email,
                "purpose": req.purpose,
                "category": req.category,
                "hide_name": req.hide_name,
                "data": req.data or {},
                "submitted_at": _plain(req.submitted_at),
                "due_date": _plain(req.due_date),
                "finished_at": _plain(req.finished_at),
                "attachments": [
                    {
                        "document": a.doc_key,
                        "type": a.mime,
                        "bytes": a.size,
                        "width": a.width,
                        "height": a.height,
                        "sha256": a.sha256,
                        "received_at": _plain(a.created_at),
                    }
                    for a in req.attachments
                ],
                "history": [
                    {
                        "action": c.action,
                        "from": c.from_status,
                        "to": c.to_status,
                        "by": c.actor_name,
                        "note": c.note,
                        "at": _plain(c.created_at),
                    }
                    for c in req.history
                ],
                "letter": None
                if letter is None
                else {
                    "number": letter.number,
                    "title": letter.title,
                    "state": letter.state,
                    "holder_name": letter.holder_name,
                    "issued_at": _plain(letter.issued_at),
                },
            }
        )
    orders = [
        {
            "bumdes_id": o.bumdes_id,
            "product": o.product_name,
            "quantity": o.quantity,
            "unit": o.unit,
            "unit_price": o.unit_price,
            "buyer_name": o.buyer_name,
            "buyer_phone": o.buyer_phone,
            "address": o.address,
            "note": o.note,
            "status": o.status,
            "created_at": _plain(o.created_at),
        }
        for o in _orders_of(phones)
    ]
    return {"nik": _nik(nik), "requests": out_requests, "orders": orders, **held}


def erase_resident(nik: str, upload_dir: str) -> Erased:
    """Delete the resident's photos and blank who they are; the caller commits.

    Files are removed after the rows are flushed; a file that cannot be removed is left for the
    operator (its row is gone, so it is never served again).
    """
    requests = requests_of(nik)
    register = _register()
    in_register = register.export_person(_nik(nik)) if register else {"register": [], "aid": []}
    if not requests and not in_register["register"] and not in_register["aid"]:
        raise DomainError(N_("Tidak ada data dengan NIK itu."))
    removed_from_register = register.erase_person(_nik(nik)) if register else 0
    ids = [r.id for r in requests]
    phones = {r.phone for r in requests if r.phone}
    names = [a.stored_name for r in requests for a in r.attachments]
    for req in requests:
        for attachment in list(req.attachments):
            db.session.delete(attachment)
        req.nik = ERASED_NIK
        req.name = ERASED_NAME
        req.phone = None
        req.email = None
        req.data = {}
        req.purpose = ""
        req.hide_name = True
        req.notify = False
        # The private link dies with the data: its digest no longer matches any token.
        req.fix_token_hash = token_digest(secrets.token_urlsafe(32))
    # So do the links sent in messages or asked for on another phone.
    db.session.execute(delete(PrivateLink).where(PrivateLink.request_id.in_(ids)))
    for letter in _letters_by_request(ids).values():
        letter.holder_name = ERASED_NAME
        letter.body = ""
        letter.pdf = None
    push_model = _optional_model("app.models.notifications", "PushSubscription")
    if push_model is not None:
        for sub in db.session.scalars(select(push_model).where(push_model.request_id.in_(ids))):
            db.session.delete(sub)
    orders = _orders_of(phones)
    for order in orders:
        order.buyer_name = ERASED_NAME
        order.buyer_phone = ""
        order.address = ""
        order.note = ""
    db.session.flush()
    store = PhotoStore(upload_dir)
    removed = 0
    for name in names:
        try:
            store.delete(name)
        except (InvalidPhotoName, OSError):
            continue
        removed += 1
    return Erased(requests=len(requests), photos=removed, orders=len(orders), register=removed_from_register)


def count_attachments(nik: str) -> int:
    """How many stored photos belong to this NIK (for the confirmation page)."""
    return db.session.scalar(
        select(db.func.count(Attachment.id))
        .join(ServiceRequest, ServiceRequest.id == Attachment.request_id)
        .where(ServiceRequest.nik == _nik(nik))
    )
