"""Roll-ups the dashboards read: kept up to date by the workflow's events, rebuildable from scratch.

Counts are per village and per calendar month (Asia/Jakarta) so the province dashboard sums a few
hundred thousand narrow rows instead of millions of requests. Overdue counts are not rolled up:
they depend on today's date, so they are counted at query time from open requests' due dates.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Date, ForeignKey, Index, Integer, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from app.domain import states
from app.extensions import db
from app.models.services import Service, ServiceRequest

# Upper bounds (in minutes) of the completion-time buckets: <1 day, 1-2, 2-3, 3-5, 5-7, 7-14, 14-30, 30+ days.
DAY = 24 * 60
BUCKET_BOUNDS: tuple[int, ...] = (1 * DAY, 2 * DAY, 3 * DAY, 5 * DAY, 7 * DAY, 14 * DAY, 30 * DAY)
BUCKET_COUNT = len(BUCKET_BOUNDS) + 1
# Waiting on the village, and late when past due: siap_diambil and perlu_perbaikan wait on the resident.
OVERDUE_STATUSES = (states.DIAJUKAN, states.DIVERIFIKASI, states.DIPROSES)


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


# --- the same figures at coarser grains, so a province reads a few thousand rows ---------------
#
# One row per ancestor region of the village (province, kabupaten, kecamatan: codes of 2, 5 and 8
# characters), kept by the same listener in the same transaction. ``parent_code`` is the region one
# level up ("" for a province), so a dashboard reads its children with one equality on the key.


class RegionRequestCount(db.Model):
    """RequestCount summed over every village beneath ``region_code`` and over services."""

    __tablename__ = "stat_region_requests"

    parent_code: Mapped[str] = mapped_column(String(13), primary_key=True)
    region_code: Mapped[str] = mapped_column(String(13), primary_key=True)
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    status: Mapped[str] = mapped_column(String(20), primary_key=True)
    n: Mapped[int] = mapped_column(Integer, default=0)


class RegionServiceCount(db.Model):
    """RequestCount summed over the villages beneath ``region_code``, per service code."""

    __tablename__ = "stat_region_services"

    region_code: Mapped[str] = mapped_column(String(13), primary_key=True)
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    service_code: Mapped[str] = mapped_column(String(60), primary_key=True)
    status: Mapped[str] = mapped_column(String(20), primary_key=True)
    n: Mapped[int] = mapped_column(Integer, default=0)


class RegionCompletionCount(db.Model):
    """CompletionCount summed over every village beneath ``region_code``."""

    __tablename__ = "stat_region_completions"

    parent_code: Mapped[str] = mapped_column(String(13), primary_key=True)
    region_code: Mapped[str] = mapped_column(String(13), primary_key=True)
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    bucket: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    n: Mapped[int] = mapped_column(Integer, default=0)
    within_sla: Mapped[int] = mapped_column(Integer, default=0)
    minutes: Mapped[int] = mapped_column(BigInteger, default=0)


class RegionOrderCount(db.Model):
    """OrderCount summed over every village beneath ``region_code``."""

    __tablename__ = "stat_region_orders"

    parent_code: Mapped[str] = mapped_column(String(13), primary_key=True)
    region_code: Mapped[str] = mapped_column(String(13), primary_key=True)
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    n: Mapped[int] = mapped_column(Integer, default=0)
    amount: Mapped[int] = mapped_column(BigInteger, default=0)


# Overdue counts read open requests by due date; with the village in the index they never touch
# the table (index-only), which keeps them cheap at 5 million rows.
Index(
    "ix_service_requests_status_due",
    ServiceRequest.status,
    ServiceRequest.due_date,
    ServiceRequest.village_id,
)
# Overdue counts per village (every village of a region, one probe each): only requests still
# waiting on the village are in it, a few hundred thousand of 50 million nationally.
Index(
    "ix_service_requests_overdue",
    ServiceRequest.village_id,
    ServiceRequest.due_date,
    postgresql_where=ServiceRequest.status.in_(OVERDUE_STATUSES),
    sqlite_where=ServiceRequest.status.in_(OVERDUE_STATUSES),
)


def _covering(name: str, table, keys: tuple[str, ...], include: tuple[str, ...]) -> None:
    """A PostgreSQL index a dashboard query reads alone (index-only): roll-up rows of one region
    lie on as many heap pages as rows, having been written month after month."""
    Index(name, *(table.c[k] for k in keys), postgresql_include=list(include)).ddl_if(dialect="postgresql")


_covering(
    "ix_stat_region_requests_children",
    RegionRequestCount.__table__,
    ("parent_code", "month"),
    ("region_code", "status", "n"),
)
_covering(
    "ix_stat_region_completions_children",
    RegionCompletionCount.__table__,
    ("parent_code", "month"),
    ("region_code", "bucket", "n", "within_sla"),
)
_covering(
    "ix_stat_region_services_region",
    RegionServiceCount.__table__,
    ("region_code", "month"),
    ("service_code", "status", "n"),
)
_covering(
    "ix_stat_requests_village_month",
    RequestCount.__table__,
    ("village_id", "month"),
    ("service_id", "status", "n"),
)
_covering(
    "ix_stat_completions_village_month",
    CompletionCount.__table__,
    ("village_id", "month"),
    ("bucket", "n", "within_sla"),
)

# The dashboards name a service code after the first matching service: one probe per code.
Index("ix_services_code_name", Service.code, Service.name)
