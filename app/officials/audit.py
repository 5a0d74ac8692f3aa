"""Audit trails are append-only: rows may be added, never changed or removed through the ORM.

Three trails: a request's status history, changes of the village settings that govern officials
(who turned the head's approval of letters on or off, and when), and corrections of officials' attendance.
"""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.orm import Session

from app.models import SettingChange, StatusChange
from app.models.attendance import AttendanceEdit

TRAILS = (StatusChange, SettingChange, AttendanceEdit)


class AuditTrailViolation(RuntimeError):
    """Someone tried to change or delete a recorded step of an audit trail."""


def _refuse_row(mapper, connection, target) -> None:
    raise AuditTrailViolation(f"{mapper.class_.__tablename__} row {target.id} is part of an audit trail")


def _refuse_bulk(state) -> None:
    if (state.is_update or state.is_delete) and any(mapper.class_ in TRAILS for mapper in state.all_mappers):
        raise AuditTrailViolation("audit trail rows cannot change")


def install() -> None:
    """Attach the guards once per process."""
    for model in TRAILS:
        if not event.contains(model, "before_update", _refuse_row):
            event.listen(model, "before_update", _refuse_row)
            event.listen(model, "before_delete", _refuse_row)
    if not event.contains(Session, "do_orm_execute", _refuse_bulk):
        event.listen(Session, "do_orm_execute", _refuse_bulk)
