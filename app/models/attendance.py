"""Who was at the balai: officials' check-ins, the village's office hours and the corrections made."""

from __future__ import annotations

import secrets
from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import UTCDateTime, utcnow
from app.models.user import User

# How a check-in was made, and how it was closed.
SCREEN, POSTER, CORRECTION = "layar", "poster", "koreksi"
BY_SELF, BY_AUTO, BY_EDIT = "self", "auto", "edit"


def _nonce() -> str:
    return secrets.token_hex(16)


class AttendanceSettings(db.Model):
    """A village's office hours and check-in rules; villages without a row use the defaults."""

    __tablename__ = "attendance_settings"

    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"), primary_key=True)
    # Seven entries, Monday first: ["08:00", "15:00"] or null for a closed day.
    hours: Mapped[list] = mapped_column(JSON, default=list)
    # Minutes after opening a check-in still counts as on time.
    grace_minutes: Mapped[int] = mapped_column(Integer, default=0)
    require_location: Mapped[bool] = mapped_column(Boolean, default=False)
    radius_m: Mapped[int] = mapped_column(Integer, default=150)
    # Mixed into every check-in code of the village; a new one voids every code and poster at once.
    code_nonce: Mapped[str] = mapped_column(String(32), default=_nonce)
    poster_version: Mapped[int] = mapped_column(Integer, default=1)
    # Part of the cookie of each TV set up to show codes; a new one unpairs every screen.
    screen_key: Mapped[str] = mapped_column(String(32), default=_nonce)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class AttendanceRecord(db.Model):
    """One check-in of an official at the balai, closed by "Keluar kantor", at closing time, or by a correction."""

    __tablename__ = "attendance_records"
    __table_args__ = (
        Index("ix_attendance_records_village_day", "village_id", "day"),
        Index("ix_attendance_records_user_day", "user_id", "day"),
        # One open check-in per official, whatever two taps at once try.
        Index(
            "uq_attendance_records_open",
            "user_id",
            unique=True,
            sqlite_where=text("checked_out_at IS NULL"),
            postgresql_where=text("checked_out_at IS NULL"),
        ),
        Index("ix_attendance_records_open_until", "checked_out_at", "auto_out_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    day: Mapped[date] = mapped_column(Date)  # the village-local date of the check-in
    checked_in_at: Mapped[datetime] = mapped_column(UTCDateTime)
    checked_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the check-in closes by itself: closing time that day (or the end of the day).
    auto_out_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_by: Mapped[str | None] = mapped_column(String(10))
    method: Mapped[str] = mapped_column(String(10), default=SCREEN)
    # Only the outcome of the location check; the position itself is never stored.
    location_ok: Mapped[bool | None] = mapped_column(Boolean)
    edited: Mapped[bool] = mapped_column(Boolean, default=False)

    user: Mapped[User] = relationship(lazy="joined")


class AttendanceCodeUse(db.Model):
    """A check-in code an official has used (its digest), so the same code cannot check them in twice."""

    __tablename__ = "attendance_code_uses"
    __table_args__ = (UniqueConstraint("user_id", "digest"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    digest: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class AttendanceEdit(db.Model):
    """A correction of a check-in, with its reason; rows are only ever added (the audit trail)."""

    __tablename__ = "attendance_edits"

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("attendance_records.id"), index=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"), index=True)
    editor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    editor_name: Mapped[str] = mapped_column(String(120), default="")
    reason: Mapped[str] = mapped_column(Text)
    old_in: Mapped[datetime | None] = mapped_column(UTCDateTime)
    old_out: Mapped[datetime | None] = mapped_column(UTCDateTime)
    new_in: Mapped[datetime] = mapped_column(UTCDateTime)
    new_out: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
