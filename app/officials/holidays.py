"""Days off a village enters, and keeping the due dates of open requests true to them."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from sqlalchemy import or_, select, update

from app import workflow
from app.domain import states
from app.extensions import db
from app.models import Holiday, Service, ServiceRequest


def upcoming(village_id: int, today: date, limit: int = 100) -> list[Holiday]:
    """National and village holidays from the start of this year on."""
    return list(
        db.session.scalars(
            select(Holiday)
            .where(
                or_(Holiday.village_id.is_(None), Holiday.village_id == village_id),
                Holiday.day >= today.replace(month=1, day=1),
            )
            .order_by(Holiday.day)
            .limit(limit)
        )
    )


def recompute_due_dates(village_id: int, day: date) -> int:
    """Work out again the due dates a changed holiday on ``day`` may move; return how many moved.

    Only open requests submitted on or before ``day`` whose deadline is not before it can be affected.
    The version is left alone: a new deadline is not an official's action, so no form goes stale.
    """
    rows = db.session.execute(
        select(ServiceRequest.id, ServiceRequest.submitted_at, ServiceRequest.due_date, Service.sla_days)
        .join(Service, Service.id == ServiceRequest.service_id)
        .where(
            ServiceRequest.village_id == village_id,
            ServiceRequest.status.in_(sorted(states.OPEN_STATUSES)),
            ServiceRequest.due_date >= day,
        )
    ).all()
    groups: dict[date, list[int]] = defaultdict(list)
    cache: dict[tuple[date, int], date] = {}
    for request_id, submitted_at, due, sla in rows:
        submitted = workflow.local_today(submitted_at)
        if submitted > day:
            continue
        key = (submitted, sla)
        if key not in cache:
            cache[key] = workflow.due_date_for(village_id, submitted, sla)
        if cache[key] != due:
            groups[cache[key]].append(request_id)
    for new_due, ids in groups.items():
        db.session.execute(
            update(ServiceRequest)
            .where(ServiceRequest.id.in_(ids))
            .values(due_date=new_due)
            .execution_options(synchronize_session=False)
        )
    return sum(len(ids) for ids in groups.values())
