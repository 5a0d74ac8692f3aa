"""The transactional outbox: notification rows written with the change, then handed to the queue.

``on_event`` runs inside the transaction that changed a request (no commit here): the change and
its messages are saved together or not at all. After the commit ``relay`` hands the new rows to rq
(or runs them in-process without Redis). If Redis is down the rows simply wait: ``sweep`` (a
periodic job) relays whatever was never handed over, retries what is due and rescues jobs whose
worker died.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import current_app
from sqlalchemy import (
    JSON,
    Integer,
    String,
    and_,
    any_,
    bindparam,
    cast,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY

from app import events
from app.domain import states
from app.extensions import db
from app.jobs import enqueue_many, on_commit, redis_available, run_inprocess
from app.models import Role, ServiceRequest, StatusChange, User, Village, utcnow
from app.models.base import UTCDateTime
from app.models.notifications import (
    CANCELLED,
    CREATED,
    DELIVERED,
    RESIDENT,
    RESIDENT_EMAIL,
    RESIDENT_PUSH,
    RETRYABLE,
    SENDING,
    USER_EMAIL,
    InAppMessage,
    Notification,
    PushSubscription,
)
from app.notifications import messages

log = logging.getLogger(__name__)
DELIVER = "app.notifications.jobs.deliver"
SEND_BATCH = "app.notifications.jobs.send_batch"
RELAY_CHUNK = 5000  # ids per relay statement (a 100,000-recipient announcement takes 20)
QUEUE_FOR_ROUTE = {RESIDENT: "high", RESIDENT_EMAIL: "high", USER_EMAIL: "default", RESIDENT_PUSH: "low"}
OFFICIAL_ROLES = (Role.OPERATOR, Role.HEAD)


def email_enabled() -> bool:
    return bool(current_app.config.get("MAIL_SERVER"))


# --- writing (inside the caller's transaction) -------------------------------------------------


def on_event(name: str, payload: dict) -> None:
    """The events listener: write the notifications an event calls for, in the same transaction."""
    if name == events.REQUEST_SUBMITTED:
        ids = _request_submitted(payload["request_id"])
    elif name == events.REQUEST_STATUS_CHANGED:
        ids = _status_changed(payload)
    elif name == events.ORDER_CREATED:
        ids = _order_created(payload)
    elif name == events.ANNOUNCEMENT_PUBLISHED:
        ids = _announcement_published(payload)
    elif name == events.PRIVATE_LINK_ASKED:
        ids = _private_link_asked(payload["request_id"])
    else:
        return
    if ids:
        on_commit(relay_ids, ids)


def _request_params(req: ServiceRequest) -> dict:
    params = {
        "village": req.village.display_name,
        "service": req.service.name,
        "code": req.tracking_code,
        "status": req.status,
    }
    if req.service.is_complaint:
        params["complaint"] = True  # the message speaks of a complaint, followed up, never collected
    return params


def _request_submitted(request_id: int) -> list[int]:
    req = db.session.get(ServiceRequest, request_id)
    params = _request_params(req)
    ids = notify_resident(req, "request_received", params)
    ids += _notify_handlers(req, "new_request", params)
    return ids


def _notify_handlers(req: ServiceRequest, kind: str, params: dict) -> list[int]:
    """Those who handle the request: the village's officials, or for a complaint about their own
    office, the admins of the regions above the village (never the village's officials)."""
    if not req.to_region:
        return notify_officials(req.village_id, kind, params, topic=None)
    code = req.village.region_code
    admins = db.session.scalars(
        select(User).where(
            User.role == Role.REGION_ADMIN, User.active.is_(True), User.region_code.is_not(None)
        )
    ).all()
    above = [u for u in admins if code == u.region_code or code.startswith(u.region_code + ".")]
    return _notify_users(above, req.village_id, kind, params, None)


def _status_changed(payload: dict) -> list[int]:
    req = db.session.get(ServiceRequest, payload["request_id"])
    params = _request_params(req) | {"status": payload["new_status"]}
    if payload.get("action") == "resubmit":
        return _notify_handlers(req, "resubmitted", params)
    kind = messages.KIND_FOR_STATUS.get(payload["new_status"])
    if kind is None:
        return []
    if payload["new_status"] in (states.PERLU_PERBAIKAN, states.DITOLAK) or (
        payload.get("action") == "resolve"
    ):
        params["note"] = _last_note(req.id)
    return notify_resident(req, kind, params)


def _private_link_asked(request_id: int) -> list[int]:
    """A fresh private link, to the phone number on the request only (made when it is sent)."""
    req = db.session.get(ServiceRequest, request_id)
    if req is None or not req.phone:
        return []
    row = _notification(
        messages.ASKED_LINK, RESIDENT, req.village_id, _request_params(req), req.locale, request_id=req.id
    )
    db.session.add(row)
    db.session.flush()
    return [row.id]


def _last_note(request_id: int) -> str:
    note = db.session.scalar(
        select(StatusChange.note)
        .where(StatusChange.request_id == request_id)
        .order_by(StatusChange.id.desc())
        .limit(1)
    )
    return note or ""


def _order_created(payload: dict) -> list[int]:
    """A new BUMDes order: its managers (by bumdes_id, else the village's managers) are told."""
    stmt = select(User).where(User.active.is_(True), User.role == Role.BUMDES_MANAGER)
    if payload.get("bumdes_id") is not None:
        stmt = stmt.where(User.bumdes_id == payload["bumdes_id"])
    elif payload.get("village_id") is not None:
        stmt = stmt.where(User.village_id == payload["village_id"])
    else:
        return []
    params = {
        "bumdes": payload.get("bumdes_name") or "BUMDes",
        "summary": payload.get("summary") or f"#{payload.get('order_id', '')}",
        "path": payload.get("path") or "/notifikasi",
        "order_id": payload.get("order_id"),
    }
    users = db.session.scalars(stmt).all()
    return _notify_users(
        users, payload.get("village_id"), "new_order", params, f"order-{payload.get('order_id')}"
    )


def _announcement_published(payload: dict) -> list[int]:
    """A broadcast announcement: a Web Push to the browsers residents subscribed for a request there.

    Push only (no WhatsApp or SMS to phone numbers given for a request), only to residents who have
    not said stop, one notification per subscribed request (an endpoint belongs to one request).
    """
    village = db.session.get(Village, payload["village_id"])
    if village is None:
        return []
    params = {
        "village": village.display_name,
        "title": payload.get("title") or "",
        "path": payload.get("path"),
    }
    announcement = payload.get("announcement_id")
    now = utcnow()
    # One INSERT ... SELECT however many subscribers (a busy village, or one day a whole kabupaten).
    subscribed = select(
        literal("announcement"),
        literal(RESIDENT_PUSH),
        literal(village.id),
        ServiceRequest.id,
        ServiceRequest.locale,
        literal(params, JSON),
        literal(f"ann{announcement}"),
        literal(f"announcement-{announcement}:") + cast(ServiceRequest.id, String),
        literal(QUEUE_FOR_ROUTE[RESIDENT_PUSH]),
        literal(CREATED),
        literal(0),
        literal(""),
        literal(now, UTCDateTime),
        literal(now, UTCDateTime),
    ).where(
        ServiceRequest.village_id == village.id,
        ServiceRequest.notify.is_(True),
        ServiceRequest.id.in_(select(PushSubscription.request_id)),
    )
    columns = (
        "kind",
        "route",
        "village_id",
        "request_id",
        "locale",
        "params",
        "topic",
        "dedupe_key",
        "queue",
        "state",
        "attempts",
        "last_error",
        "created_at",
        "updated_at",
    )
    stmt = insert(Notification).from_select(columns, subscribed).returning(Notification.id)
    return sorted(db.session.scalars(stmt))


def notify_resident(req: ServiceRequest, kind: str, params: dict) -> list[int]:
    """The resident's messages: phone (push, WhatsApp, SMS) and email. Nothing if they said stop."""
    if not req.notify:
        return []
    topic = f"req{req.id}"
    if kind != "request_received":
        _supersede(req.id)
    rows = []
    has_push = db.session.scalar(
        select(PushSubscription.id).where(PushSubscription.request_id == req.id).limit(1)
    )
    if req.phone or has_push:
        rows.append(
            _notification(kind, RESIDENT, req.village_id, params, req.locale, request_id=req.id, topic=topic)
        )
    if req.email and email_enabled():
        rows.append(
            _notification(
                kind, RESIDENT_EMAIL, req.village_id, params, req.locale, request_id=req.id, topic=topic
            )
        )
    db.session.add_all(rows)
    db.session.flush()
    return [n.id for n in rows]


def _supersede(request_id: int) -> None:
    """A newer status makes older unsent ones pointless: cancel them rather than send them late."""
    db.session.execute(
        update(Notification)
        .where(
            Notification.request_id == request_id,
            Notification.route.in_((RESIDENT, RESIDENT_EMAIL)),
            Notification.state.in_((CREATED, *RETRYABLE)),
        )
        .values(state=CANCELLED, last_error="diganti status yang lebih baru", updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def notify_officials(village_id: int, kind: str, params: dict, topic: str | None) -> list[int]:
    users = db.session.scalars(
        select(User).where(
            User.village_id == village_id, User.role.in_(OFFICIAL_ROLES), User.active.is_(True)
        )
    ).all()
    return _notify_users(users, village_id, kind, params, None)


def _notify_users(users, village_id, kind: str, params: dict, dedupe: str | None) -> list[int]:
    """In-app for each user at once (a row, nothing can fail), plus an email notification."""
    base = current_app.config["BASE_URL"]
    rows = []
    for user in users:
        rendered = messages.render(kind, params, user.locale, base)
        db.session.add(
            InAppMessage(
                user_id=user.id,
                village_id=village_id,
                kind=kind,
                title=rendered.title,
                body=rendered.text,
                url=rendered.path,
                dedupe_key=f"{dedupe}:{user.id}" if dedupe else None,
            )
        )
        if user.email and email_enabled():
            rows.append(
                _notification(
                    kind,
                    USER_EMAIL,
                    village_id,
                    params,
                    user.locale,
                    user_id=user.id,
                    dedupe_key=f"{dedupe}:{user.id}:email" if dedupe else None,
                )
            )
    db.session.add_all(rows)
    db.session.flush()
    return [n.id for n in rows]


def _notification(kind, route, village_id, params, locale, **fields) -> Notification:
    return Notification(
        kind=kind,
        route=route,
        village_id=village_id,
        params=params,
        locale=locale,
        queue=QUEUE_FOR_ROUTE[route] if kind != "sla_digest" else "low",
        state=CREATED,
        **fields,
    )


# --- relaying (after the commit, and from the sweep) -------------------------------------------


def among(column, ids: list[int]):
    """``column IN ids``; on PostgreSQL one array parameter (``= ANY``) rather than thousands."""
    if db.engine.dialect.name == "postgresql":
        return column == any_(bindparam(None, list(ids), type_=ARRAY(Integer)))
    return column.in_(ids)


def relay_ids(ids: list[int]) -> int:
    """Hand these just-committed notifications to the queue (the fast path), however many."""
    return sum(
        relay(ids=ids[i : i + RELAY_CHUNK], limit=RELAY_CHUNK) for i in range(0, len(ids), RELAY_CHUNK)
    )


def relay(ids: list[int] | None = None, limit: int = 500) -> int:
    """Claim up to ``limit`` unrelayed rows and hand them over in batches; returns how many.

    One UPDATE marks the rows as handed over; on PostgreSQL it takes them with FOR UPDATE SKIP
    LOCKED, so two relays (a web process and the sweep, or two workers) never take the same row.
    SQLite has a single writer, so the UPDATE alone is enough there. Each batch of
    NOTIFY_BATCH_SIZE rows of one queue becomes one ``send_batch`` job.
    """
    app = current_app._get_current_object()
    free = select(Notification.id).where(Notification.relayed_at.is_(None))
    if ids is not None:
        free = free.where(among(Notification.id, ids))
    free = free.order_by(Notification.id).limit(limit)
    if db.engine.dialect.name == "postgresql":
        free = free.with_for_update(skip_locked=True)
    rows = db.session.execute(
        update(Notification)
        .where(Notification.id.in_(free.scalar_subquery()))
        .values(relayed_at=utcnow())
        .returning(Notification.id, Notification.queue)
        .execution_options(synchronize_session=False)
    ).all()
    if not rows:
        db.session.commit()
        return 0
    size = max(1, int(app.config["NOTIFY_BATCH_SIZE"]))
    by_queue: dict[str, list[int]] = {}
    for row in sorted(rows, key=lambda r: r.id):
        by_queue.setdefault(row.queue, []).append(row.id)
    batches = [
        (queue, queued[i : i + size])
        for queue, queued in by_queue.items()
        for i in range(0, len(queued), size)
    ]
    if app.config.get("REDIS_URL"):
        from redis.exceptions import RedisError

        if not redis_available():
            db.session.rollback()
            return 0
        # A batch may wait for the gateways up to half its lease, then its last sends finish.
        timeout = app.config["NOTIFY_JOB_TIMEOUT"] + app.config["NOTIFY_LEASE_SECONDS"] // 2
        try:
            # Enqueued before the commit: a job that starts at once waits for the rows' locks.
            intervals = list(app.config["NOTIFY_RETRY_INTERVALS"])
            enqueue_many(
                app, [(SEND_BATCH, (batch, intervals), queue, timeout, [], None) for queue, batch in batches]
            )
        except RedisError as exc:
            db.session.rollback()
            log.warning(
                "Redis unavailable: %d notifications wait for the sweep (%s)", len(rows), type(exc).__name__
            )
            return 0
        db.session.commit()
    else:
        db.session.commit()  # before the in-process jobs run: they may run inline, on this thread
        for _queue, batch in batches:
            run_inprocess(app, SEND_BATCH, (batch,))
    return len(rows)


def sweep(batches: int = 20) -> int:
    """Periodic: re-relay what was never handed over, what is due for a retry, what a dead worker held."""
    app = current_app._get_current_object()
    now = utcnow()
    redis = bool(app.config.get("REDIS_URL"))
    # With rq, its own Retry re-runs a failed job on time; we only step in well after that.
    grace = timedelta(seconds=max(app.config["NOTIFY_RETRY_INTERVALS"] or [0]) + 300 if redis else 0)
    max_attempts = len(app.config["NOTIFY_RETRY_INTERVALS"]) + 1
    db.session.execute(
        update(Notification)
        .where(
            Notification.relayed_at.isnot(None),
            or_(
                and_(Notification.state == SENDING, Notification.lease_until < now),
                and_(
                    Notification.state.in_(RETRYABLE),
                    Notification.attempts < max_attempts,
                    Notification.next_attempt_at < now - grace,
                ),
                # Handed to a Redis that lost it (restarted without persistence): never started.
                and_(Notification.state == CREATED, Notification.relayed_at < now - timedelta(minutes=30)),
            ),
        )
        .values(relayed_at=None)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    total = 0
    for _ in range(batches):
        handed = relay()
        total += handed
        if handed < 500:
            break
    return total


def requeue(notification_id: int) -> bool:
    """Send a failed notification again from the start (a superadmin's retry button)."""
    n = db.session.get(Notification, notification_id)
    if n is None or n.state in (SENDING, DELIVERED):
        return False
    n.state = CREATED
    n.attempts = 0
    n.relayed_at = None
    n.next_attempt_at = None
    n.last_error = ""
    for d in n.deliveries:
        if d.state != "delivered":
            d.state = CREATED
    on_commit(relay_ids, [n.id])
    return True
