"""The life of a request: submitting, acting on it, and its audit trail (no HTTP here)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.orm import joinedload, lazyload

from app import events
from app.domain import states
from app.domain.errors import N_, DomainError
from app.domain.tracking import new_secret_token, new_tracking_code, token_digest, tracking_key
from app.domain.workdays import add_working_days
from app.extensions import db
from app.models import Holiday, PrivateLink, Service, ServiceRequest, StatusChange, User, Village, utcnow
from app.models.services import TO_REGION, TO_VILLAGE

TZ = ZoneInfo("Asia/Jakarta")


class StaleRequest(DomainError):
    """Someone else changed the request first."""


@dataclass
class Submitted:
    request: ServiceRequest
    fix_token: str | None  # None when this was a replay of an earlier submission
    created: bool


def local_today(now: datetime | None = None) -> date:
    return (now or utcnow()).astimezone(TZ).date()


def holidays_for(village_id: int, start: date) -> set[date]:
    """National days off and the village's own, from ``start`` on."""
    rows = db.session.scalars(
        select(Holiday.day).where(
            or_(Holiday.village_id.is_(None), Holiday.village_id == village_id), Holiday.day >= start
        )
    )
    return set(rows)


def due_date_for(village_id: int, submitted: date, sla_days: int) -> date:
    return add_working_days(submitted, sla_days, holidays_for(village_id, submitted))


def submit_request(
    village: Village,
    service: Service,
    *,
    nik: str,
    name: str,
    phone: str | None,
    idempotency_key: str,
    email: str | None = None,
    data: dict | None = None,
    purpose: str = "",
    category: str | None = None,
    hide_name: bool = False,
    to_region: bool = False,
    channel: str = "online",
    assisted_by: User | None = None,
    locale: str | None = None,
) -> Submitted:
    """Create a request once per idempotency key; a replay returns the first one."""
    if service.village_id != village.id or not service.active:
        raise DomainError(N_("Layanan ini tidak tersedia di desa ini."))
    existing = db.session.scalar(
        select(ServiceRequest).where(
            ServiceRequest.village_id == village.id, ServiceRequest.idempotency_key == idempotency_key
        )
    )
    if existing is not None:
        return Submitted(existing, None, False)
    now = utcnow()
    token = new_secret_token()
    req = ServiceRequest(
        village_id=village.id,
        service_id=service.id,
        tracking_code=_unique_code(),
        status=states.DIAJUKAN,
        nik=nik,
        name=name,
        phone=phone,
        email=email,
        data=data or {},
        purpose=purpose,
        category=category,
        hide_name=hide_name,
        routed_to=TO_REGION if to_region and service.is_complaint else TO_VILLAGE,
        idempotency_key=idempotency_key,
        fix_token_hash=token_digest(token),
        channel=channel,
        assisted_by_id=assisted_by.id if assisted_by else None,
        locale=locale,
        submitted_at=now,
        due_date=due_date_for(village.id, local_today(now), service.sla_days),
    )
    req.service = service
    db.session.add(req)
    db.session.flush()
    actor = assisted_by.name if assisted_by else ""
    db.session.add(
        StatusChange(
            request_id=req.id,
            action="submit",
            from_status=None,
            to_status=states.DIAJUKAN,
            actor_id=assisted_by.id if assisted_by else None,
            actor_name=actor,
            created_at=now,
        )
    )
    events.emit(events.REQUEST_SUBMITTED, request_id=req.id, village_id=village.id)
    return Submitted(req, token, True)


def _unique_code() -> str:
    while True:
        code = new_tracking_code()
        taken = select(ServiceRequest.id).where(ServiceRequest.tracking_key == tracking_key(code))
        if db.session.scalar(taken) is None:
            return code


def code_matches(code: str):
    """A filter for the request with tracking ``code`` (canonical), however its look-alikes were typed."""
    return ServiceRequest.tracking_key == tracking_key(code)


def find_by_code(code: str) -> ServiceRequest | None:
    """The request with tracking ``code`` (canonical); S/5, Z/2 and B/8 typed either way find it.

    Two codes made before look-alikes were avoided could share a key: the exact spelling wins then.
    """
    rows = db.session.scalars(_by_code_statement(), {"key": tracking_key(code)}).all()
    for req in rows:
        if req.tracking_code == code:
            return req
    return rows[0] if len(rows) == 1 else None


@functools.cache
def _by_code_statement():
    """Built once (building it cost as much as running it): the rows a tracking key finds.

    With its village: every page that finds a request by its code shows the village too. Not its
    attachments (a round trip of their own): the tracking page and the receipt never show them,
    and whoever reads ``req.attachments`` still gets them, loaded then.
    """
    return (
        select(ServiceRequest)
        .options(joinedload(ServiceRequest.village), lazyload(ServiceRequest.attachments))
        .where(ServiceRequest.tracking_key == bindparam("key"))
        .limit(5)
    )


# A link sent in a message, or asked for on another phone, opens the request this long.
PRIVATE_LINK_DAYS = 30


def find_by_fix_token(token: str) -> ServiceRequest | None:
    """The request a private link opens: the receipt's own link, or a later one still in force."""
    digest = token_digest(token)
    req = db.session.scalar(select(ServiceRequest).where(ServiceRequest.fix_token_hash == digest))
    if req is not None:
        return req
    return db.session.scalar(
        select(ServiceRequest)
        .join(PrivateLink, PrivateLink.request_id == ServiceRequest.id)
        .where(PrivateLink.token_hash == digest, PrivateLink.expires_at > utcnow())
    )


def issue_private_link(req: ServiceRequest, reason: str) -> str:
    """A fresh private link token for ``req`` (only its digest is stored); the caller sends it."""
    token = new_secret_token()
    now = utcnow()
    db.session.add(
        PrivateLink(
            request_id=req.id,
            token_hash=token_digest(token),
            reason=reason,
            created_at=now,
            expires_at=now + timedelta(days=PRIVATE_LINK_DAYS),
        )
    )
    db.session.flush()
    return token


def apply_action(
    req: ServiceRequest,
    action: str,
    *,
    actor: User | None,
    note: str | None = None,
    expected_version: int | None = None,
    by: str = states.OFFICIAL,
    changes: dict | None = None,
) -> ServiceRequest:
    """Move ``req`` through the state machine once; a stale ``expected_version`` raises StaleRequest.

    The status and version change in one guarded UPDATE, so two officials acting at the same
    moment can never both succeed, whichever process they run in.
    """
    version = req.version if expected_version is None else expected_version
    if version != req.version:
        raise _stale(req)
    new_status = states.transition(req.status, action, note, by, kind=req.service.kind)
    now = utcnow()
    values = {"status": new_status, "version": version + 1, "updated_at": now, **(changes or {})}
    if new_status in states.FINAL_STATUSES:
        values["finished_at"] = now
    result = db.session.execute(
        update(ServiceRequest)
        .where(ServiceRequest.id == req.id, ServiceRequest.version == version)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        db.session.rollback()
        fresh = db.session.get(ServiceRequest, req.id)
        db.session.refresh(fresh)
        raise _stale(fresh)
    old_status = req.status
    db.session.add(
        StatusChange(
            request_id=req.id,
            action=action,
            from_status=old_status,
            to_status=new_status,
            actor_id=actor.id if actor else None,
            actor_name=actor.name if actor else "",
            note=(note or "").strip(),
            created_at=now,
        )
    )
    db.session.flush()
    db.session.expire(req)
    events.emit(
        events.REQUEST_STATUS_CHANGED,
        request_id=req.id,
        village_id=req.village_id,
        old_status=old_status,
        new_status=new_status,
        action=action,
    )
    return req


def _stale(req: ServiceRequest) -> StaleRequest:
    last = db.session.scalar(
        select(StatusChange)
        .where(StatusChange.request_id == req.id)
        .order_by(StatusChange.id.desc())
        .limit(1)
    )
    who = (last.actor_name if last and last.actor_name else None) or "petugas lain"
    return StaleRequest(
        N_("Permohonan ini sudah diubah oleh %(who)s. Status sekarang: %(status)s."),
        who=who,
        status=states.status_label(req.status, req.service.kind),
    )
