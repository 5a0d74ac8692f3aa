"""The village queue: filters, keyset pages and the day's workload, each in one query."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import NamedTuple

from sqlalchemy import Integer, Row, Select, and_, bindparam, func, literal, select, tuple_, union_all

from app import datacache
from app.access import village_desk
from app.domain import states
from app.domain.nik import clean_nik
from app.domain.tracking import is_tracking_code, normalize_tracking_code, tracking_key
from app.extensions import db
from app.models import Service, ServiceRequest
from app.models.deskcounts import DeskCount
from app.models.letters import AWAITING_APPROVAL, Letter

PAGE_SIZE = 25
OPEN = "aktif"
ALL = "semua"
STATUS_CHOICES = (OPEN, ALL, *states.STATUSES)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class QueueFilter:
    """What the official asked to see, read leniently from the query string."""

    status: str = OPEN
    service_id: int | None = None
    late: bool = False
    q: str = ""
    after: tuple[datetime, int] | None = None

    @classmethod
    def from_args(cls, args) -> QueueFilter:
        status = args.get("status") or OPEN
        service = args.get("layanan") or ""
        return cls(
            status=status if status in STATUS_CHOICES else OPEN,
            service_id=int(service) if service.isdecimal() else None,
            late=args.get("lewat") in ("1", "on", "true"),
            q=(args.get("q") or "").strip()[:120],
            after=decode_cursor(args.get("setelah") or ""),
        )

    @property
    def private(self) -> bool:
        """Whether the search may be a NIK or a phone number (digits, not a tracking code).

        Such a search is sent by POST and never written into a URL: URLs stay in the browser's
        history, in proxies' logs and in the Referer of the next page.
        """
        return bool(self.q) and any(ch.isdigit() for ch in self.q) and not is_tracking_code(self.q)

    def args(self, **overrides) -> dict:
        """The query string of this filter (for links): no page cursor unless given, no private search."""
        out = {
            "status": self.status,
            "layanan": self.service_id or "",
            "lewat": "1" if self.late else "",
            "q": "" if self.private else self.q,
        }
        out.update(overrides)
        return {k: v for k, v in out.items() if v not in ("", None)}

    def fields(self, **overrides) -> dict:
        """The whole filter, private search included, as the hidden fields of a POST form."""
        return {**self.args(**overrides), **({"q": self.q} if self.private else {})}


@dataclass
class QueuePage:
    rows: list[Row]  # the columns of ROW_COLUMNS, by name
    next_cursor: str | None
    filter: QueueFilter
    searched_all: bool = False
    extra: dict = field(default_factory=dict)


def encode_cursor(req) -> str:
    """The page cursor after ``req``: microseconds since the epoch and the id."""
    micros = (req.submitted_at.astimezone(UTC) - EPOCH) // timedelta(microseconds=1)
    return f"{micros}.{req.id}"


def decode_cursor(raw: str) -> tuple[datetime, int] | None:
    micros, _, ident = raw.partition(".")
    if not (micros.isdecimal() and ident.isdecimal()) or len(micros) > 18:
        return None
    try:
        moment = EPOCH + timedelta(microseconds=int(micros))
    except OverflowError:
        return None
    return moment, int(ident)


def _search_condition(q: str):
    if is_tracking_code(q):
        return ServiceRequest.tracking_key == tracking_key(normalize_tracking_code(q))
    digits = clean_nik(q)
    if digits.isdigit() and len(digits) == 16:
        return ServiceRequest.nik == digits
    escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return ServiceRequest.name.ilike(f"%{escaped}%", escape="\\")


def queue_page(village_id: int, flt: QueueFilter, today: date, limit: int = PAGE_SIZE) -> QueuePage:
    """One page of the queue, oldest first, keyed on (submitted_at, id): one query whatever the page."""
    status = flt.status
    searched_all = bool(flt.q) and status == OPEN
    if searched_all:
        # A resident at the counter asks about a request, finished or not: search everything.
        status = ALL
    params = {"village_id": village_id, "status": status, "service_id": flt.service_id, "today": today}
    if flt.after:
        params["after_at"], params["after_id"] = flt.after
    shape = (
        status if status in (OPEN, ALL) else "one",
        bool(flt.service_id),
        flt.late,
        bool(flt.after),
        limit,
    )
    if flt.q:
        stmt = _page_statement(*shape, search=_search_condition(flt.q))
    else:
        # Building the statement costs more than running it: each shape is built once per process.
        stmt = _STATEMENTS.get(shape)
        if stmt is None:
            stmt = _STATEMENTS[shape] = _page_statement(*shape)
    # On the session's connection, in its transaction: plain rows need none of the ORM's result
    # machinery (a third of the statement's cost). Nothing is pending here to flush first.
    rows = db.session.connection().execute(stmt, params).all()
    next_cursor = encode_cursor(rows[limit - 1]) if len(rows) > limit else None
    return QueuePage(rows[:limit], next_cursor, flt, searched_all)


_STATEMENTS: dict[tuple, Select] = {}


def _page_statement(status: str, service: bool, late: bool, after: bool, limit: int, search=None) -> Select:
    """The page query of one filter shape, its values as bound parameters (see queue_page)."""
    conditions = [ServiceRequest.village_id == bindparam("village_id"), village_desk()]
    if status not in (OPEN, ALL):
        conditions.append(ServiceRequest.status == bindparam("status"))
    if service:
        conditions.append(ServiceRequest.service_id == bindparam("service_id"))
    if late:
        conditions.append(ServiceRequest.due_date < bindparam("today"))
    if search is not None:
        conditions.append(search)
    if after:
        moment = bindparam("after_at", type_=ServiceRequest.__table__.c.submitted_at.type)
        conditions.append(
            tuple_(ServiceRequest.submitted_at, ServiceRequest.id)
            > tuple_(moment, bindparam("after_id", type_=Integer))
        )
    stmt = _rows()
    if status == OPEN or (status == ALL and late):  # only open requests are late
        # Written as ix_service_requests_open's own condition, values inline: then the database
        # walks that index in time order and reads the page's rows alone.
        open_statuses = bindparam("open", sorted(states.OPEN_STATUSES), expanding=True, literal_execute=True)
        conditions.append(ServiceRequest.status.in_(open_statuses))
        stmt = stmt.with_hint(ServiceRequest, "INDEXED BY ix_service_requests_open", "sqlite")
    return (
        stmt.where(and_(*conditions))
        .order_by(ServiceRequest.submitted_at, ServiceRequest.id)
        .limit(limit + 1)
    )


def _rows() -> Select:
    """What a queue row shows, and no more: loading whole requests (their form data decoded from
    JSON, their service with its fields and documents) cost more than finding them."""
    return select(
        ServiceRequest.id,
        ServiceRequest.tracking_code,
        ServiceRequest.name,
        ServiceRequest.nik,
        ServiceRequest.status,
        ServiceRequest.channel,
        ServiceRequest.submitted_at,
        ServiceRequest.due_date,
        Service.name.label("service_name"),
        Service.kind.label("service_kind"),
    ).where(Service.id == ServiceRequest.service_id)  # not a JOIN: SQLAlchemy drops a joined table's hints


def desk_counts(village_id: int, today: date) -> tuple[dict[str, int], dict[str, int]]:
    """The requests routed to the village in each status, and today's work: new requests, those
    due today, those overdue and letters awaiting the head; one statement, one snapshot.

    The counts per status come from desk_counts (app/models/deskcounts.py), which the database keeps
    exact at every change. Of the open requests, only those not yet overdue are read (from
    ix_service_requests_desk alone): due today, and due today or later; the rest are overdue.
    """
    counts = dict.fromkeys(states.STATUSES, 0)
    awaiting = not_overdue = due_today = 0
    rows = db.session.execute(_desk_statement(), {"village_id": village_id, "today": today})
    for part, status, n, today_n in rows:
        if part == _COUNTED:
            counts[status] = n
        elif part == _NOT_OVERDUE:
            not_overdue, due_today = n, today_n
        else:
            awaiting = n
    work = {
        "new": counts[states.DIAJUKAN],
        "due_today": due_today,
        "overdue": sum(counts[s] for s in states.OPEN_STATUSES) - not_overdue,
        "awaiting": awaiting,
    }
    return counts, work


_COUNTED, _NOT_OVERDUE, _AWAITING = 1, 2, 3


@cache
def _desk_statement():
    """desk_counts' statement, built once (it costs more to build than to run)."""
    village_id, today = bindparam("village_id"), bindparam("today")
    counted = select(literal(_COUNTED), DeskCount.status, DeskCount.n, literal(0)).where(
        DeskCount.village_id == village_id
    )
    not_overdue = (
        select(
            literal(_NOT_OVERDUE),
            literal(""),
            func.count(),
            func.count().filter(ServiceRequest.due_date == today),
        )
        .where(
            ServiceRequest.village_id == village_id,
            village_desk(),
            ServiceRequest.status.in_(sorted(states.OPEN_STATUSES)),
            ServiceRequest.due_date >= today,
        )
        .with_hint(ServiceRequest, "INDEXED BY ix_service_requests_desk", "sqlite")
    )
    awaiting = (
        select(literal(_AWAITING), literal(AWAITING_APPROVAL), func.count(Letter.id), literal(0))
        .join(ServiceRequest, ServiceRequest.id == Letter.request_id)
        .where(
            Letter.village_id == village_id,
            Letter.state == AWAITING_APPROVAL,
            ServiceRequest.status == states.DIPROSES,
        )
    )
    return union_all(counted, not_overdue, awaiting)


class ServiceOption(NamedTuple):
    id: int
    name: str


def service_options(village_id: int) -> tuple[ServiceOption, ...]:
    """The village's services for the queue's filter, kept in the data cache until the next write."""

    def load() -> tuple[ServiceOption, ...]:
        rows = db.session.execute(
            select(Service.id, Service.name)
            .where(Service.village_id == village_id)
            .order_by(Service.position, Service.name)
        )
        return tuple(ServiceOption(*row) for row in rows)

    return datacache.cached(("queue-service-options", village_id), load)


def village_services(village_id: int) -> list[Service]:
    return list(
        db.session.scalars(
            select(Service).where(Service.village_id == village_id).order_by(Service.position, Service.name)
        )
    )


def is_late(req: ServiceRequest, today: date) -> bool:
    return req.status in states.OPEN_STATUSES and req.due_date < today
