"""The status history is append-only: rows may be added, never changed or removed through the ORM."""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.orm import Session

from app.models import StatusChange


class AuditTrailViolation(RuntimeError):
    """Someone tried to change or delete a recorded step of a request's history."""


def _refuse_row(mapper, connection, target) -> None:
    raise AuditTrailViolation(f"status change {target.id} is part of the audit trail and cannot change")


def _refuse_bulk(state) -> None:
    if (state.is_update or state.is_delete) and any(
        mapper.class_ is StatusChange for mapper in state.all_mappers
    ):
        raise AuditTrailViolation("status changes are part of the audit trail and cannot change")


def install() -> None:
    """Attach the guards once per process."""
    if event.contains(StatusChange, "before_update", _refuse_row):
        return
    event.listen(StatusChange, "before_update", _refuse_row)
    event.listen(StatusChange, "before_delete", _refuse_row)
    event.listen(Session, "do_orm_execute", _refuse_bulk)
