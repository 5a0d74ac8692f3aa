"""Jobs of the notifications area; each takes ids only and may safely run more than once.

``deliver`` claims its notification with a guarded UPDATE (a lease), so two runs of the same job
never send at the same time, and a finished notification is never sent again. Every provider call
carries the same reference on every attempt, for gateways that de-duplicate on it.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import and_, case, delete, func, or_, select, update

from app import workflow
from app.access import village_desk
from app.domain import states
from app.extensions import db
from app.jobs import on_commit
from app.models import ServiceRequest, User, Village, utcnow
from app.models.notifications import (
    CANCELLED,
    CLOUD_API,
    CREATED,
    DELIVERED,
    FINAL,
    FONNTE,
    NONE,
    PERMANENT_FAILURE,
    RESIDENT,
    RESIDENT_EMAIL,
    RESIDENT_PUSH,
    RETRYABLE,
    SENDING,
    SIMULATOR,
    TECHNICAL_FAILURE,
    TEMPORARY_FAILURE,
    USER_EMAIL,
    WEBHOOK,
    Delivery,
    InAppMessage,
    Notification,
    PushSubscription,
    VillageChannels,
)
from app.notifications import messages, outbox
from app.notifications.channels import (
    EMAIL,
    PUSH,
    SMS,
    WHATSAPP,
    Outgoing,
    gateways,
    mask_address,
)
from app.notifications.channels.push import Subscription, WebPush
from app.notifications.channels.smtp import Smtp

log = logging.getLogger(__name__)


class RetryLater(Exception):
    """Raised so rq retries the job with back-off. Its message never holds an address."""


def deliver(notification_id: int) -> str:
    """Send one notification through its recipient's channels, in order, until one delivers."""
    config = current_app.config
    now = utcnow()
    claimed = db.session.execute(
        update(Notification)
        .where(
            Notification.id == notification_id,
            or_(
                Notification.state.in_((CREATED, *RETRYABLE)),
                and_(Notification.state == SENDING, Notification.lease_until < now),
            ),
        )
        .values(
            state=SENDING,
            lease_until=now + timedelta(seconds=config["NOTIFY_LEASE_SECONDS"]),
            attempts=Notification.attempts + 1,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        db.session.rollback()
        return "skipped"  # delivered, cancelled, given up, or another run holds it right now
    # The claim commits with the first delivery mark below (fewer round trips per message).
    n = db.session.get(Notification, notification_id)
    try:
        state = _deliver(n)
    except Exception:
        db.session.rollback()
        n = db.session.get(Notification, notification_id)
        _schedule_retry(n)
        _finish(n, TECHNICAL_FAILURE, "kesalahan di Balai")
        raise
    if state in RETRYABLE and _under_rq():
        # rq re-runs the job after its Retry interval (in-process, the sweep does, at next_attempt_at);
        # after the last attempt the job lands in rq's failed list, where a superadmin can retry it.
        raise RetryLater(f"notification {notification_id}: {state}, attempt {n.attempts}")
    return state


def _under_rq() -> bool:
    from rq import get_current_job

    return get_current_job() is not None


def _schedule_retry(n: Notification) -> None:
    intervals = current_app.config["NOTIFY_RETRY_INTERVALS"]
    if n.attempts <= len(intervals):
        n.next_attempt_at = utcnow() + timedelta(seconds=intervals[n.attempts - 1])
    else:
        n.next_attempt_at = None  # out of attempts: it stays failed, listed for officials and admins


def _deliver(n: Notification) -> str:
    config = current_app.config
    req = db.session.get(ServiceRequest, n.request_id) if n.request_id else None
    user = db.session.get(User, n.user_id) if n.user_id else None
    if req is not None and not req.notify and n.kind != messages.ASKED_LINK:
        return _finish(n, CANCELLED, "pemohon menghentikan pesan")
    if user is not None and not user.active:
        return _finish(n, CANCELLED, "akun tidak aktif")
    plan = _plan(n, req, user)
    if not plan:
        return _finish(n, CANCELLED, "tidak ada saluran untuk penerima ini")
    params = n.params
    if req is not None and n.route in (RESIDENT, RESIDENT_EMAIL) and n.kind in messages.ACTIONABLE:
        # A message that asks the resident to act carries a private link. It is made now, for this
        # attempt, and lives only in the message: the database keeps its digest, logs never see it.
        token = workflow.issue_private_link(req, n.kind[:20])
        params = {**n.params, "path": f"/permohonan/{token}"}
    rendered = messages.render(n.kind, params, n.locale, config["BASE_URL"])
    existing = {d.channel: d for d in n.deliveries}
    if any(d.state == DELIVERED for d in existing.values()):
        return _finish(n, DELIVERED, "")  # a run that died after delivering, before saying so
    for channel, adapter, target in plan:
        d = existing.get(channel)
        if d is None:
            d = Delivery(
                notification=n, channel=channel, provider=adapter.provider, state=CREATED, attempts=0
            )
            d.recipient = mask_address(channel, target) if isinstance(target, str) else "browser"
            existing[channel] = d
            db.session.add(d)
        if d.state == PERMANENT_FAILURE:
            continue
        d.state = SENDING
        d.provider = adapter.provider
        d.attempts += 1
        db.session.commit()
        out = Outgoing(
            channel=channel,
            to=target if isinstance(target, str) else "",
            text=rendered.text,
            title=rendered.title,
            url=rendered.url,
            path=rendered.path,
            reference=f"balai-{n.id}-{channel}",
            kind=n.kind,
            locale=n.locale or "id",
            template_params=messages.template_params(n.kind, params, n.locale, config["BASE_URL"]),
            topic=n.topic,
            attempt=d.attempts,
        )
        if channel == PUSH:
            result, gone = adapter.send_all(out, target)
            if gone:
                db.session.execute(delete(PushSubscription).where(PushSubscription.id.in_(gone)))
        else:
            result = adapter.send(out)
        d.state = result.state
        d.provider_error = result.error
        if result.provider_message_id:
            d.provider_message_id = result.provider_message_id[:120]
        log.info(
            "notification %s via %s/%s to %s: %s", n.id, channel, adapter.provider, d.recipient, result.state
        )
        if result.delivered:
            n.channel = channel
            return _finish(n, DELIVERED, "")  # one commit for the delivery and the notification
        db.session.commit()
    tried = [existing[channel] for channel, _, _ in plan]
    last_error = "; ".join(f"{d.channel}: {d.provider_error}" for d in tried if d.provider_error)[:300]
    if all(d.state == PERMANENT_FAILURE for d in tried):
        return _finish(n, PERMANENT_FAILURE, last_error)
    state = TEMPORARY_FAILURE if any(d.state == TEMPORARY_FAILURE for d in tried) else TECHNICAL_FAILURE
    _schedule_retry(n)
    return _finish(n, state, last_error)


def _finish(n: Notification, state: str, error: str) -> str:
    n.state = state
    n.lease_until = None
    n.last_error = error[:300]
    if state == DELIVERED:
        n.delivered_at = utcnow()
        n.next_attempt_at = None
    if state != TEMPORARY_FAILURE and state != TECHNICAL_FAILURE:
        n.next_attempt_at = None
    db.session.commit()
    return state


def _plan(n: Notification, req: ServiceRequest | None, user: User | None) -> list[tuple]:
    """The channels to try, in order, each with its adapter and the recipient's address."""
    config = current_app.config
    plan: list[tuple] = []
    if n.route in (RESIDENT, RESIDENT_PUSH) and req is not None:
        # A link asked for on another phone goes to the phone number on the request, nowhere else.
        if config.get("VAPID_PRIVATE_KEY") and n.kind != messages.ASKED_LINK:
            subs = db.session.scalars(
                select(PushSubscription)
                .where(PushSubscription.request_id == req.id)
                .order_by(PushSubscription.id)
            ).all()
            if subs:
                adapter = WebPush(config["VAPID_PRIVATE_KEY"], config["VAPID_SUBJECT"])
                plan.append((PUSH, adapter, [Subscription(s.id, s.endpoint, s.p256dh, s.auth) for s in subs]))
        if req.phone and n.route == RESIDENT:
            settings = db.session.scalar(
                select(VillageChannels).where(VillageChannels.village_id == req.village_id)
            )
            for channel in (WHATSAPP, SMS):
                adapter = gateway_for(settings, channel)
                if adapter is not None:
                    plan.append((channel, adapter, req.phone))
    elif n.route == RESIDENT_EMAIL and req is not None and req.email and config.get("MAIL_SERVER"):
        plan.append((EMAIL, Smtp(config), req.email))
    elif n.route == USER_EMAIL and user is not None and user.email and config.get("MAIL_SERVER"):
        plan.append((EMAIL, Smtp(config), user.email))
    return plan


def gateway_for(settings: VillageChannels | None, channel: str):
    """The village's WhatsApp or SMS gateway adapter, or None when it has none."""
    if settings is None:
        return None
    if channel == WHATSAPP:
        kind, url, token = settings.whatsapp_gateway, settings.whatsapp_url, settings.whatsapp_token
    else:
        kind, url, token = settings.sms_gateway, settings.sms_url, settings.sms_token
    if kind == SIMULATOR:
        return gateways.Simulator(channel)
    if kind == FONNTE and channel == WHATSAPP and token:
        return gateways.Fonnte(token, url)
    if kind == CLOUD_API and channel == WHATSAPP and token and settings.whatsapp_sender:
        return gateways.CloudApi(token, settings.whatsapp_sender, settings.whatsapp_templates, url)
    if kind == WEBHOOK and url:
        return gateways.Webhook(url, token, channel)
    if kind not in (NONE, SIMULATOR, FONNTE, CLOUD_API, WEBHOOK):
        log.warning("unknown %s gateway %r for village %s", channel, kind, settings.village_id)
    return None


def sweep() -> int:
    """Periodic: hand over whatever the outbox still holds (see outbox.sweep)."""
    return outbox.sweep()


def sla_digest() -> int:
    """Periodic (hourly): once a day, after NOTIFY_DIGEST_HOUR local time, tell each village's officials
    how many requests are overdue or due today. Keyed by village and date, so reruns send nothing."""
    config = current_app.config
    local = utcnow().astimezone(ZoneInfo(config["TIMEZONE"]))
    if local.hour < config["NOTIFY_DIGEST_HOUR"]:
        return 0
    today = local.date()
    counted = states.OPEN_STATUSES - {states.PERLU_PERBAIKAN}  # waiting on the resident, not the office
    rows = db.session.execute(
        select(
            ServiceRequest.village_id,
            func.sum(case((ServiceRequest.due_date < today, 1), else_=0)),
            func.sum(case((ServiceRequest.due_date == today, 1), else_=0)),
        )
        .join(Village, Village.id == ServiceRequest.village_id)
        .where(
            Village.active.is_(True),
            ServiceRequest.status.in_(counted),
            ServiceRequest.due_date <= today,
            village_desk(),
        )
        .group_by(ServiceRequest.village_id)
    ).all()
    ids: list[int] = []
    sent = 0
    for village_id, overdue, due_today in rows:
        key = f"digest:{village_id}:{today.isoformat()}"
        done = set(
            db.session.scalars(select(InAppMessage.user_id).where(InAppMessage.dedupe_key.like(key + ":%")))
        )
        village = db.session.get(Village, village_id)
        users = [
            u
            for u in db.session.scalars(
                select(User).where(
                    User.village_id == village_id, User.role.in_(outbox.OFFICIAL_ROLES), User.active.is_(True)
                )
            )
            if u.id not in done
        ]
        if not users:
            continue
        params = {
            "village": village.display_name,
            "overdue": int(overdue or 0),
            "due_today": int(due_today or 0),
            "path": "/notifikasi",
        }
        ids += outbox._notify_users(users, village_id, "sla_digest", params, key)
        sent += len(users)
    if ids:
        on_commit(outbox.relay_ids, ids)
    db.session.commit()
    return sent


def cleanup() -> dict:
    """Periodic (daily): forget old read messages, finished notifications and stale subscriptions."""
    now = utcnow()
    result = {}
    result["inapp"] = db.session.execute(
        delete(InAppMessage).where(
            InAppMessage.read_at.isnot(None), InAppMessage.created_at < now - timedelta(days=90)
        )
    ).rowcount
    old = select(Notification.id).where(
        Notification.state.in_(FINAL), Notification.created_at < now - timedelta(days=180)
    )
    db.session.execute(delete(Delivery).where(Delivery.notification_id.in_(old)))
    result["notifications"] = db.session.execute(
        delete(Notification).where(Notification.id.in_(old))
    ).rowcount
    finished = select(ServiceRequest.id).where(ServiceRequest.finished_at < now - timedelta(days=30))
    result["push"] = db.session.execute(
        delete(PushSubscription).where(PushSubscription.request_id.in_(finished))
    ).rowcount
    db.session.commit()
    return result
