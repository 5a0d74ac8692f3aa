"""Keeping the roll-up tables in step with the workflow, and rebuilding them from scratch.

No HTTP here: the events listener runs inside the workflow's transaction, so a request's change
and its roll-up rows are committed together or not at all.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from app import events
from app.domain import states
from app.extensions import db
from app.models import ServiceRequest
from app.models.stats import BUCKET_BOUNDS, CompletionCount, OrderCount, RequestCount

TZ = ZoneInfo("Asia/Jakarta")


def local_month(moment: datetime) -> date:
    """The first day of the Jakarta calendar month ``moment`` falls in."""
    return moment.astimezone(TZ).date().replace(day=1)


def completion_minutes(submitted: datetime, finished: datetime) -> int:
    """Whole minutes between two moments, counted the same way by the listener and the recount."""
    return max(0, (int(finished.timestamp()) - int(submitted.timestamp())) // 60)


def bucket_of(minutes: int) -> int:
    """Index of the completion-time bucket ``minutes`` falls in."""
    for i, bound in enumerate(BUCKET_BOUNDS):
        if minutes < bound:
            return i
    return len(BUCKET_BOUNDS)


def within_sla(finished: datetime, due: date) -> bool:
    return finished.astimezone(TZ).date() <= due


# --- the listener ------------------------------------------------------------------------------


def on_event(name: str, payload: dict) -> None:
    """Update the roll-ups for one domain event (registered as events.listeners["dashboards"])."""
    if name == events.REQUEST_SUBMITTED:
        _request_moved(payload["request_id"], None, states.DIAJUKAN)
    elif name == events.REQUEST_STATUS_CHANGED:
        _request_moved(payload["request_id"], payload.get("old_status"), payload["new_status"])
    elif name == events.ORDER_CREATED and payload.get("order_id") is not None:
        _order_created(payload["order_id"])


def _request_moved(request_id: int, old: str | None, new: str) -> None:
    row = db.session.execute(
        select(
            ServiceRequest.village_id,
            ServiceRequest.service_id,
            ServiceRequest.submitted_at,
            ServiceRequest.finished_at,
            ServiceRequest.due_date,
        ).where(ServiceRequest.id == request_id)
    ).one()
    month = local_month(row.submitted_at)
    key = {"village_id": row.village_id, "month": month, "service_id": row.service_id}
    if old is not None and old != new:
        db.session.execute(
            update(RequestCount)
            .where(*(getattr(RequestCount, k) == v for k, v in key.items()), RequestCount.status == old)
            .values(n=RequestCount.n - 1)
        )
    if old != new:
        _bump(RequestCount, {**key, "status": new}, n=1)
    if new in states.FINAL_STATUSES and old not in states.FINAL_STATUSES and row.finished_at:
        minutes = completion_minutes(row.submitted_at, row.finished_at)
        _bump(
            CompletionCount,
            {
                "village_id": row.village_id,
                "month": local_month(row.finished_at),
                "bucket": bucket_of(minutes),
            },
            n=1,
            within_sla=int(within_sla(row.finished_at, row.due_date)),
            minutes=minutes,
        )


def _order_created(order_id: int) -> None:
    try:
        from app.models.bumdes import Bumdes, Order
    except ModuleNotFoundError:  # the marketplace is not installed
        return
    row = db.session.execute(
        select(Bumdes.village_id, Order.created_at, Order.unit_price, Order.quantity)
        .join(Bumdes, Bumdes.id == Order.bumdes_id)
        .where(Order.id == order_id)
    ).one_or_none()
    if row is not None:
        key = {"village_id": row.village_id, "month": local_month(row.created_at)}
        _bump(OrderCount, key, n=1, amount=row.unit_price * row.quantity)


def _bump(model, key: dict, **deltas: int) -> None:
    """Add ``deltas`` to the row at ``key``, creating it when missing, in one atomic statement."""
    dialect = db.session.get_bind().dialect.name
    make = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = make(model).values(**key, **deltas)
    table = model.__table__
    stmt = stmt.on_conflict_do_update(
        index_elements=list(key), set_={col: table.c[col] + stmt.excluded[col] for col in deltas}
    )
    db.session.execute(stmt)


# --- recount and rebuild -----------------------------------------------------------------------


def recount(batch: int = 20000) -> dict[str, dict[tuple, tuple]]:
    """Every roll-up computed afresh from the requests and orders themselves."""
    requests: Counter = Counter()
    completions: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0])
    stmt = select(
        ServiceRequest.village_id,
        ServiceRequest.service_id,
        ServiceRequest.status,
        ServiceRequest.submitted_at,
        ServiceRequest.finished_at,
        ServiceRequest.due_date,
    ).execution_options(yield_per=batch)
    for row in db.session.execute(stmt):
        requests[(row.village_id, local_month(row.submitted_at), row.service_id, row.status)] += 1
        if row.status in states.FINAL_STATUSES and row.finished_at is not None:
            minutes = completion_minutes(row.submitted_at, row.finished_at)
            acc = completions[(row.village_id, local_month(row.finished_at), bucket_of(minutes))]
            acc[0] += 1
            acc[1] += int(within_sla(row.finished_at, row.due_date))
            acc[2] += minutes
    orders: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    try:
        from app.models.bumdes import Bumdes, Order
    except ModuleNotFoundError:
        pass
    else:
        stmt = (
            select(Bumdes.village_id, Order.created_at, Order.unit_price, Order.quantity)
            .join(Bumdes, Bumdes.id == Order.bumdes_id)
            .execution_options(yield_per=batch)
        )
        for row in db.session.execute(stmt):
            acc = orders[(row.village_id, local_month(row.created_at))]
            acc[0] += 1
            acc[1] += row.unit_price * row.quantity
    return {
        "requests": {k: (v,) for k, v in requests.items()},
        "completions": {k: tuple(v) for k, v in completions.items()},
        "orders": {k: tuple(v) for k, v in orders.items()},
    }


TABLES = {
    "requests": (RequestCount, ("village_id", "month", "service_id", "status"), ("n",)),
    "completions": (CompletionCount, ("village_id", "month", "bucket"), ("n", "within_sla", "minutes")),
    "orders": (OrderCount, ("village_id", "month"), ("n", "amount")),
}


def stored() -> dict[str, dict[tuple, tuple]]:
    """The roll-ups as they are in the database, empty rows left out."""
    out: dict[str, dict[tuple, tuple]] = {}
    for name, (model, keys, values) in TABLES.items():
        cols = [getattr(model, c) for c in (*keys, *values)]
        rows = db.session.execute(select(*cols)).all()
        out[name] = {tuple(r[: len(keys)]): tuple(r[len(keys) :]) for r in rows if any(r[len(keys) :])}
    return out


def differences(expected: dict, actual: dict) -> dict[str, list[tuple]]:
    """Per table, the keys whose stored figures differ from a recount: (key, expected, actual)."""
    out: dict[str, list[tuple]] = {}
    for name in TABLES:
        want, have = expected.get(name, {}), actual.get(name, {})
        out[name] = [
            (k, want.get(k), have.get(k))
            for k in sorted(set(want) | set(have), key=repr)
            if want.get(k) != have.get(k)
        ]
    return out


def rebuild() -> dict[str, list[tuple]]:
    """Replace every roll-up with a recount; return what disagreed before (empty lists when all agreed)."""
    fresh = recount()
    diff = differences(fresh, stored())
    for name, (model, keys, values) in TABLES.items():
        db.session.execute(delete(model))
        rows = [dict(zip((*keys, *values), (*k, *v), strict=True)) for k, v in fresh[name].items()]
        for chunk in _chunks(rows, 5000):
            db.session.execute(insert(model), chunk)
    return diff


def _chunks(rows: list, size: int) -> Iterable[list]:
    for i in range(0, len(rows), size):
        yield rows[i : i + size]
