"""Keeping the roll-up tables in step with the workflow, and rebuilding them from scratch.

No HTTP here: the events listener runs inside the workflow's transaction, so a request's change
and its roll-up rows are committed together or not at all.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import delete, event, insert, inspect, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app import events
from app.domain import states
from app.extensions import db
from app.models import Service, ServiceRequest, Village
from app.models.stats import (
    BUCKET_BOUNDS,
    CompletionCount,
    OrderCount,
    RegionCompletionCount,
    RegionOrderCount,
    RegionRequestCount,
    RegionServiceCount,
    RequestCount,
)

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


def ancestors(region_code: str) -> list[tuple[str, str]]:
    """(parent_code, code) of the province, kabupaten and kecamatan above a village's code."""
    parts = region_code.split(".")
    codes = [".".join(parts[:i]) for i in range(1, min(len(parts), 4))]
    return list(zip(["", *codes[:-1]], codes, strict=True))


def on_event(name: str, payload: dict) -> None:
    """Update the roll-ups for one domain event (registered as events.listeners["dashboards"])."""
    if name == events.REQUEST_SUBMITTED:
        _request_moved(payload["request_id"], None, states.DIAJUKAN)
    elif name == events.REQUEST_STATUS_CHANGED:
        _request_moved(payload["request_id"], payload.get("old_status"), payload["new_status"])
    elif name == events.ORDER_CREATED and payload.get("order_id") is not None:
        _order_created(payload["order_id"])


def _request_moved(request_id: int, old: str | None, new: str) -> None:
    if old == new:
        return
    row = db.session.execute(
        select(
            ServiceRequest.village_id,
            ServiceRequest.service_id,
            ServiceRequest.submitted_at,
            ServiceRequest.finished_at,
            ServiceRequest.due_date,
            Village.region_code,
            Service.code,
        )
        .join(Village, Village.id == ServiceRequest.village_id)
        .join(Service, Service.id == ServiceRequest.service_id)
        .where(ServiceRequest.id == request_id)
    ).one()
    month = local_month(row.submitted_at)
    moves = [(new, 1)] if old is None else [(old, -1), (new, 1)]
    up = ancestors(row.region_code)
    _apply(RequestCount, [((row.village_id, month, row.service_id, s), (d,)) for s, d in moves])
    _apply(RegionRequestCount, [((p, c, month, s), (d,)) for p, c in up for s, d in moves])
    _apply(RegionServiceCount, [((c, month, row.code, s), (d,)) for _p, c in up for s, d in moves])
    if new in states.FINAL_STATUSES and old not in states.FINAL_STATUSES and row.finished_at:
        minutes = completion_minutes(row.submitted_at, row.finished_at)
        done = local_month(row.finished_at)
        values = (1, int(within_sla(row.finished_at, row.due_date)), minutes)
        bucket = bucket_of(minutes)
        _apply(CompletionCount, [((row.village_id, done, bucket), values)])
        _apply(RegionCompletionCount, [((p, c, done, bucket), values) for p, c in up])


def _order_created(order_id: int) -> None:
    try:
        from app.models.bumdes import Bumdes, Order
    except ModuleNotFoundError:  # the marketplace is not installed
        return
    row = db.session.execute(
        select(Bumdes.village_id, Village.region_code, Order.created_at, Order.unit_price, Order.quantity)
        .join(Bumdes, Bumdes.id == Order.bumdes_id)
        .join(Village, Village.id == Bumdes.village_id)
        .where(Order.id == order_id)
    ).one_or_none()
    if row is not None:
        month = local_month(row.created_at)
        values = (1, row.unit_price * row.quantity)
        _apply(OrderCount, [((row.village_id, month), values)])
        _apply(RegionOrderCount, [((p, c, month), values) for p, c in ancestors(row.region_code)])


def track_service_codes() -> None:
    """Keep the per-service-code roll-up right when an operator changes a service's code."""
    if not event.contains(Session, "before_flush", _service_codes_changed):
        event.listen(Session, "before_flush", _service_codes_changed)


def _service_codes_changed(session: Session, _context, _instances) -> None:
    for obj in list(session.dirty):
        if not isinstance(obj, Service) or obj.id is None:
            continue
        history = inspect(obj).attrs.code.history
        if not (history.deleted and history.added) or history.deleted[0] == history.added[0]:
            continue
        old, new = history.deleted[0], history.added[0]
        region_code = session.scalar(select(Village.region_code).where(Village.id == obj.village_id))
        counts = session.execute(
            select(RequestCount.month, RequestCount.status, RequestCount.n).where(
                RequestCount.service_id == obj.id, RequestCount.n != 0
            )
        ).all()
        changes = [
            ((c, month, code, status), (sign * n,))
            for _p, c in ancestors(region_code or "")
            for month, status, n in counts
            for code, sign in ((old, -1), (new, 1))
        ]
        if changes:
            _apply(RegionServiceCount, changes, session)


def _apply(model, changes: list[tuple[tuple, tuple]], session: Session | None = None) -> None:
    """Add each change's values to the row at its key (creating it) in one atomic statement.

    Rows go in key order: every transaction then locks a table's rows in the same order, so two
    requests moving between the same statuses in opposite directions cannot deadlock.
    """
    _name, keys, values = TABLES_BY_MODEL[model]
    rows = [
        dict(zip((*keys, *values), (*k, *v), strict=True))
        for k, v in sorted(changes, key=lambda c: tuple(map(str, c[0])))
    ]
    session = session or db.session
    make = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = make(model).values(rows)
    table = model.__table__
    stmt = stmt.on_conflict_do_update(
        index_elements=list(keys), set_={col: table.c[col] + stmt.excluded[col] for col in values}
    )
    session.execute(stmt)


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
    out = {
        "requests": {k: (v,) for k, v in requests.items()},
        "completions": {k: tuple(v) for k, v in completions.items()},
        "orders": {k: tuple(v) for k, v in orders.items()},
    }
    return out | _regional(out)


def _regional(village_level: dict[str, dict[tuple, tuple]]) -> dict[str, dict[tuple, tuple]]:
    """The per-region tables summed from per-village figures (themselves counted from the requests)."""
    up = {vid: ancestors(code) for vid, code in db.session.execute(select(Village.id, Village.region_code))}
    service_code = dict(db.session.execute(select(Service.id, Service.code)).all())
    names = ("region_requests", "region_services", "region_completions", "region_orders")
    out: dict[str, dict[tuple, list[int]]] = {name: defaultdict(lambda: [0, 0, 0]) for name in names}
    for (vid, month, sid, status), (n,) in village_level["requests"].items():
        for parent, code in up[vid]:
            out["region_requests"][(parent, code, month, status)][0] += n
            out["region_services"][(code, month, service_code[sid], status)][0] += n
    for name, source in (("region_completions", "completions"), ("region_orders", "orders")):
        for (vid, *rest), values in village_level[source].items():
            for parent, code in up[vid]:
                acc = out[name][(parent, code, *rest)]
                for i, v in enumerate(values):
                    acc[i] += v
    return {
        name: {k: tuple(v[: len(TABLES[name][2])]) for k, v in rows.items()} for name, rows in out.items()
    }


TABLES = {
    "requests": (RequestCount, ("village_id", "month", "service_id", "status"), ("n",)),
    "completions": (CompletionCount, ("village_id", "month", "bucket"), ("n", "within_sla", "minutes")),
    "orders": (OrderCount, ("village_id", "month"), ("n", "amount")),
    "region_requests": (RegionRequestCount, ("parent_code", "region_code", "month", "status"), ("n",)),
    "region_services": (RegionServiceCount, ("region_code", "month", "service_code", "status"), ("n",)),
    "region_completions": (
        RegionCompletionCount,
        ("parent_code", "region_code", "month", "bucket"),
        ("n", "within_sla", "minutes"),
    ),
    "region_orders": (RegionOrderCount, ("parent_code", "region_code", "month"), ("n", "amount")),
}
TABLES_BY_MODEL = {model: (name, keys, values) for name, (model, keys, values) in TABLES.items()}


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
