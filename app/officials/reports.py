"""Monthly service report: received, finished, rejected, completion times and the share within the SLA."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from app.access import village_desk
from app.domain import states
from app.exports import csv_text
from app.extensions import db
from app.models import Service, ServiceRequest

TZ = ZoneInfo("Asia/Jakarta")
SECONDS_PER_DAY = 86_400


@dataclass
class ServiceRow:
    service_id: int
    name: str
    received: int = 0
    finished: int = 0
    rejected: int = 0
    median_days: float | None = None
    p90_days: float | None = None
    within_sla: float | None = None  # share 0..1 of finished requests done by their due date


def percentile(values: list[float], p: float) -> float | None:
    """The p-th percentile (0..1) with linear interpolation between ranks; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    k = (len(ordered) - 1) * p
    low = int(k)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


def month_bounds(month: date) -> tuple[datetime, datetime]:
    """The first instant of ``month`` and of the next one, in village time."""
    start = datetime(month.year, month.month, 1, tzinfo=TZ)
    nxt = datetime(month.year + (month.month == 12), month.month % 12 + 1, 1, tzinfo=TZ)
    return start, nxt


def parse_month(raw: str | None, today: date) -> date:
    """Read "2026-11" as 1 November 2026; anything else means this month."""
    try:
        year, month = (int(part) for part in (raw or "").split("-"))
        return date(year, month, 1)
    except ValueError:
        return today.replace(day=1)


def monthly_report(village_id: int, month: date) -> list[ServiceRow]:
    """One row per service of the village for ``month``, in three queries."""
    start, end = month_bounds(month)
    services = db.session.execute(
        select(Service.id, Service.name)
        .where(Service.village_id == village_id)
        .order_by(Service.position, Service.name)
    ).all()
    rows = {sid: ServiceRow(sid, name) for sid, name in services}
    received = db.session.execute(
        select(ServiceRequest.service_id, func.count())
        .where(
            ServiceRequest.village_id == village_id,
            village_desk(),
            ServiceRequest.submitted_at >= start,
            ServiceRequest.submitted_at < end,
        )
        .group_by(ServiceRequest.service_id)
    ).all()
    for sid, n in received:
        if sid in rows:
            rows[sid].received = n
    closed = db.session.execute(
        select(
            ServiceRequest.service_id,
            ServiceRequest.status,
            ServiceRequest.submitted_at,
            ServiceRequest.finished_at,
            ServiceRequest.due_date,
        ).where(
            ServiceRequest.village_id == village_id,
            village_desk(),
            ServiceRequest.finished_at >= start,
            ServiceRequest.finished_at < end,
        )
    ).all()
    durations: dict[int, list[float]] = {}
    on_time: dict[int, int] = {}
    for sid, status, submitted, finished, due in closed:
        row = rows.get(sid)
        if row is None:
            continue
        if status == states.DITOLAK:
            row.rejected += 1
        elif status == states.SELESAI:
            row.finished += 1
            durations.setdefault(sid, []).append((finished - submitted).total_seconds() / SECONDS_PER_DAY)
            if finished.astimezone(TZ).date() <= due:
                on_time[sid] = on_time.get(sid, 0) + 1
    for sid, row in rows.items():
        values = durations.get(sid, [])
        row.median_days = percentile(values, 0.5)
        row.p90_days = percentile(values, 0.9)
        row.within_sla = on_time.get(sid, 0) / row.finished if row.finished else None
    return list(rows.values())


def to_csv(rows: list[ServiceRow], month: date) -> str:
    """The report as CSV with Indonesian headers, days with one decimal, shares as percentages."""
    header = [
        "bulan",
        "layanan",
        "diterima",
        "selesai",
        "ditolak",
        "median_hari",
        "p90_hari",
        "persen_tepat_waktu",
    ]
    return csv_text(
        header,
        (
            [
                f"{month:%Y-%m}",
                row.name,
                row.received,
                row.finished,
                row.rejected,
                "" if row.median_days is None else f"{row.median_days:.1f}",
                "" if row.p90_days is None else f"{row.p90_days:.1f}",
                "" if row.within_sla is None else f"{row.within_sla * 100:.0f}",
            ]
            for row in rows
        ),
    )
