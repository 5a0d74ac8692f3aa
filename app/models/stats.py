"""Roll-ups the dashboards read: kept up to date by the workflow's events, rebuildable from scratch.

Counts are per village and per calendar month (Asia/Jakarta) so the province dashboard sums a few
hundred thousand narrow rows instead of millions of requests. Overdue counts are not rolled up:
they depend on today's date, so they are counted at query time from open requests' due dates.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Date, ForeignKey, Index, Integer, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.services import ServiceRequest

# Upper bounds (in minutes) of the completion-time buckets: <1 day, 1-2, 2-3, 3-5, 5-7, 7-14, 14-30, 30+ days.
DAY = 24 * 60
BUCKET_BOUNDS: tuple[int, ...] = (1 * DAY, 2 * DAY, 3 * DAY, 5 * DAY, 7 * DAY, 14 * DAY, 30 * DAY)
BUCKET_COUNT = len(BUCKET_BOUNDS) + 1


class RequestCount(db.Model):
    """How many requests submitted in ``month`` for a service now stand in each status."""

    __tablename__ = "stat_requests"
    __table_args__ = (Index("ix_stat_requests_month_village", "month", "village_id"),)

    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"), primary_key=True)
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"), primary_key=True)
    status: Mapped[str] = mapped_column(String(20), primary_key=True)
    n: Mapped[int] = mapped_column(Integer, default=0)


class CompletionCount(db.Model):
    """Requests finished in ``month`` whose completion time falls in one bucket."""

    __tablename__ = "stat_completions"
    __table_args__ = (Index("ix_stat_completions_month_village", "month", "village_id"),)

    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"), primary_key=True)
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    bucket: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    n: Mapped[int] = mapped_column(Integer, default=0)
    within_sla: Mapped[int] = mapped_column(Integer, default=0)
    minutes: Mapped[int] = mapped_column(BigInteger, default=0)


class OrderCount(db.Model):
    """BUMDes orders placed in ``month`` for products of a village's enterprises."""

    __tablename__ = "stat_orders"
    __table_args__ = (Index("ix_stat_orders_month_village", "month", "village_id"),)

    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"), primary_key=True)
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    n: Mapped[int] = mapped_column(Integer, default=0)
    amount: Mapped[int] = mapped_column(BigInteger, default=0)


# Overdue counts read open requests by due date; this index keeps that cheap at 5 million rows.
Index("ix_service_requests_status_due", ServiceRequest.status, ServiceRequest.due_date)
