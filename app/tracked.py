"""A request as its public pages show it (tracking page, receipt), read by tracking code (no HTTP here).

Those pages are the most visited and read only a few columns, so they skip the ORM: one Core query
for the request with its service and village (and, for the tracking page, its history joined in),
into plain objects. ``workflow.find_by_code`` stays the way to a request that is to be changed.

What a visitor who is neither signed in nor the sender sees (the tracking page by its code) is the
same for everyone who holds the code: :func:`find_public` keeps it in the process until the next
write (app/datacache.py), its name already masked, so no full name of a request is ever kept. The
sender's and the officials' views read the request afresh every time.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import bindparam, select

from app import datacache
from app.domain.tracking import tracking_key
from app.extensions import db
from app.models import Service, ServiceRequest, StatusChange, Village
from app.models.services import COMPLAINT, TO_REGION


@dataclass(slots=True)
class ShownVillage:
    id: int
    slug: str
    name: str
    term: str
    address: str
    region_code: str

    @property
    def display_name(self) -> str:
        """E.g. "Pekon Trimulyo" (as ``Village.display_name``)."""
        return f"{self.term.capitalize()} {self.name}"


@dataclass(slots=True)
class ShownService:
    code: str
    name: str
    kind: str
    fee: int

    @property
    def is_complaint(self) -> bool:
        return self.kind == COMPLAINT

    @property
    def is_free(self) -> bool:
        return self.fee == 0


@dataclass(slots=True)
class ShownChange:
    """One step of the history: what the tracking page shows of a ``StatusChange``."""

    to_status: str
    action: str
    note: str
    created_at: datetime


@dataclass(slots=True)
class ShownRequest:
    """The columns of a request its public pages show; never its NIK, phone, email or answers."""

    id: int
    tracking_code: str
    status: str
    version: int
    name: str
    hide_name: bool
    category: str | None
    routed_to: str
    notify: bool
    submitted_at: datetime
    due_date: date
    village_id: int
    service: ShownService
    village: ShownVillage
    history: list[ShownChange]

    @property
    def to_region(self) -> bool:
        return self.routed_to == TO_REGION


_R, _S, _V, _H = (model.__table__.c for model in (ServiceRequest, Service, Village, StatusChange))
_REQUEST = (
    _R.id,
    _R.tracking_code,
    _R.status,
    _R.version,
    _R.name,
    _R.hide_name,
    _R.category,
    _R.routed_to,
    _R.notify,
    _R.submitted_at,
    _R.due_date,
    _R.village_id,
)
_SERVICE = (_S.code, _S.name, _S.kind, _S.fee)
_VILLAGE = (_V.id, _V.slug, _V.name, _V.term, _V.address, _V.region_code)
_HISTORY = (_H.id, _H.to_status, _H.action, _H.note, _H.created_at)
_NR, _NS, _NV = len(_REQUEST), len(_SERVICE), len(_VILLAGE)


@functools.cache
def _statement(with_history: bool):
    """Built once (building costs as much as running it). Plain table columns: no ORM on the way.

    The history is joined in (a row per step, the request's columns repeated): one round trip
    instead of two, and a request has a handful of steps at most.
    """
    statement = (
        select(*_REQUEST, *_SERVICE, *_VILLAGE)
        .join_from(ServiceRequest.__table__, Service.__table__, _S.id == _R.service_id)
        .join(Village.__table__, _V.id == _R.village_id)
        .where(_R.tracking_key == bindparam("key"))
    )
    if not with_history:
        return statement.limit(5)
    return (
        statement.add_columns(*_HISTORY)
        .outerjoin(StatusChange.__table__, _H.request_id == _R.id)
        .order_by(_R.id, _H.id)
    )


def find_shown(code: str, *, with_history: bool = True) -> ShownRequest | None:
    """The request with tracking ``code`` as ``workflow.find_by_code`` finds it (look-alikes typed
    either way; the exact spelling wins when two share a key), with its history when asked."""
    found: dict[int, ShownRequest] = {}
    rows = db.session.connection().execute(_statement(with_history), {"key": tracking_key(code)})
    for row in rows:
        req = found.get(row[0])
        if req is None:
            service = ShownService(*row[_NR : _NR + _NS])
            village = ShownVillage(*row[_NR + _NS : _NR + _NS + _NV])
            req = found[row[0]] = ShownRequest(*row[:_NR], service, village, [])
        if with_history and row[_NR + _NS + _NV] is not None:
            req.history.append(ShownChange(*row[_NR + _NS + _NV + 1 :]))
    for req in found.values():
        if req.tracking_code == code:
            return req
    return next(iter(found.values())) if len(found) == 1 else None


@functools.cache
def _statuses_statement():
    """Built once: "my requests" rows (code, status, dates, service, village) by tracking keys."""
    return (
        select(
            _R.tracking_code,
            _R.status,
            _R.submitted_at,
            _R.due_date,
            _S.code,
            _S.name,
            _S.kind,
            _V.name.label("village_name"),
            _V.term,
        )
        .join_from(ServiceRequest.__table__, Service.__table__, _S.id == _R.service_id)
        .join(Village.__table__, _V.id == _R.village_id)
        .where(_R.tracking_key.in_(bindparam("keys", expanding=True)))
    )


def statuses(codes: list[str]) -> list:
    """The status rows of the requests with these tracking ``codes`` (canonical), in their order;
    a code nobody holds has no row."""
    if not codes:
        return []
    order = {tracking_key(code): i for i, code in enumerate(codes)}
    rows = db.session.connection().execute(_statuses_statement(), {"keys": list(order)}).all()
    return sorted(rows, key=lambda row: order[tracking_key(row.tracking_code)])


def find_public(code: str, shown_name: Callable[[ShownRequest], str]) -> ShownRequest | None:
    """find_shown() for a visitor who is neither signed in nor the sender: kept until the next write
    (unknown codes are not kept), with ``name`` replaced by ``shown_name(request)``, what such a
    visitor may see of it. Never change what it returns: every request of the process shares it."""

    def load() -> ShownRequest | None:
        found = find_shown(code)
        return None if found is None else dataclasses.replace(found, name=shown_name(found))

    from flask_babel import get_locale

    key = ("tracked", code, str(get_locale()))  # the masked name's words are the visitor's language
    return datacache.cached(key, load, keep=lambda found: found is not None)
