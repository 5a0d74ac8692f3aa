"""Audit trails are append-only: rows may be added, never changed or removed through the ORM.

A request's status history and the corrections of officials' attendance are such trails.
"""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.orm import Session

from app.models import StatusChange
from app.models.attendance import AttendanceEdit

APPEND_ONLY = (StatusChange, AttendanceEdit)


class AuditTrailViolation(RuntimeError):
    """Someone tried to change or delete a recorded step of an audit trail."""


def _refuse_row(mapper, connection, target) -> None:
    raise AuditTrailViolation(
        f"{type(target).__name__} {target.id} is part of the audit trail and cannot change"
    )


def _refuse_bulk(state) -> None:
    if (state.is_update or state.is_delete) and any(
        mapper.class_ in APPEND_ONLY for mapper in state.all_mappers
    ):
        raise AuditTrailViolation("audit trail rows cannot change")


def install() -> None:
    """Attach the guards once per process."""
    if event.contains(StatusChange, "before_update", _refuse_row):
        return
    for model in APPEND_ONLY:
        event.listen(model, "before_update", _refuse_row)
        event.listen(model, "before_delete", _refuse_row)
    event.listen(Session, "do_orm_execute", _refuse_bulk)
