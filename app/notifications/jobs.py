"""Jobs of the notifications area; each takes ids only and may safely run more than once.

``send_batch`` is the fast path: the relay hands it up to NOTIFY_BATCH_SIZE just-committed
notifications; it claims them with one guarded UPDATE (a lease), loads what they need in a few
queries, records the attempt on each first channel in one statement, commits, sends (one HTTP
session or SMTP connection per gateway for the batch) and writes the outcomes in a few statements.
``deliver`` is the same for one notification: retries (rq's Retry, with back-off) and a
superadmin's "send again" go through it. A claimed notification is never sent by two runs at once,
a finished one is never sent again, and a run killed mid-send leaves a lease that runs out (the
sweep hands the notification over again). Every provider call carries the same reference on every
attempt, for gateways that de-duplicate on it.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import and_, case, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

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
    Result,
    egress,
    gateways,
    mask_address,
    technical,
)
from app.notifications.channels.push import Subscription, WebPush
from app.notifications.channels.smtp import Smtp

log = logging.getLogger(__name__)
# The batch path writes through the tables (Core): no ORM bookkeeping for rows it never loads.
NOTIFICATIONS = Notification.__table__
DELIVERIES = Delivery.__table__


class RetryLater(Exception):
    """Raised so rq retries the job with back-off. Its message never holds an address."""


def send_batch(notification_ids: list[int], retry_intervals: list[int] | None = None) -> dict[str, int]:
    """The relay's job: send these notifications; those that failed for now are retried one by one,
    after ``retry_intervals`` (the relay's NOTIFY_RETRY_INTERVALS, as rq's Retry carried them)."""
    outcomes = _send(notification_ids)
    if _under_rq():
        intervals = (
            current_app.config["NOTIFY_RETRY_INTERVALS"] if retry_intervals is None else retry_intervals
        )
        _schedule_retries([o for o in outcomes.values() if o.state in RETRYABLE], list(intervals))
    counts: dict[str, int] = defaultdict(int)
    for o in outcomes.values():
        counts[o.state] += 1
    counts["skipped"] = len(set(notification_ids)) - len(outcomes)
    return dict(counts)


def deliver(notification_id: int) -> str:
    """Send one notification through its recipient's channels, in order, until one delivers."""
    try:
        outcome = _send([notification_id]).get(notification_id)
    except Exception:
        db.session.rollback()
        _failed_in_balai(notification_id)
        raise
    if outcome is None:
        return "skipped"  # delivered, cancelled, given up, or another run holds it right now
    if outcome.state in RETRYABLE and _under_rq():
        # rq re-runs the job after its Retry interval (in-process, the sweep does, at next_attempt_at);
        # after the last attempt the job lands in rq's failed list, where a superadmin can retry it.
        raise RetryLater(f"notification {notification_id}: {outcome.state}, attempt {outcome.attempts}")
    return outcome.state


def _under_rq() -> bool:
    from rq import get_current_job

    return get_current_job() is not None


def _next_attempt(attempts: int) -> datetime | None:
    """When a notification that failed for now on its ``attempts``-th try is tried again (None: never)."""
    intervals = current_app.config["NOTIFY_RETRY_INTERVALS"]
    if attempts <= len(intervals):
        return utcnow() + timedelta(seconds=intervals[attempts - 1])
    return None  # out of attempts: it stays failed, listed for officials and admins


def _failed_in_balai(notification_id: int) -> None:
    """A run that broke on our side (not the provider's): failed for now, retried like any failure."""
    n = db.session.get(Notification, notification_id)
    if n is not None and n.state == SENDING:
        n.state, n.lease_until, n.last_error = TECHNICAL_FAILURE, None, "kesalahan di Balai"
        n.next_attempt_at = _next_attempt(n.attempts)
        db.session.commit()


def _schedule_retries(outcomes: list[Outcome], intervals: list[int]) -> None:
    """Each notification of a batch that failed for now gets its own ``deliver`` job, due at its
    next attempt, with rq's Retry for the attempts after that (so the last failure is listed)."""
    from redis.exceptions import RedisError

    from app.jobs import enqueue_many

    app = current_app._get_current_object()
    now = utcnow()
    jobs = [
        (
            outbox.DELIVER,
            (o.id,),
            o.queue,
            app.config["NOTIFY_JOB_TIMEOUT"],
            intervals[o.attempts :],
            None,
            now + timedelta(seconds=intervals[o.attempts - 1]),
        )
        for o in outcomes
        if o.attempts <= len(intervals)
    ]
    if not jobs:
        return
    try:
        enqueue_many(app, jobs)
    except RedisError as exc:  # the sweep hands them over once they are well past due
        log.warning("Redis unavailable: %d retries wait for the sweep (%s)", len(jobs), type(exc).__name__)


# --- the sending core, shared by both jobs ------------------------------------------------------


@dataclass
class Outcome:
    """What became of one claimed notification."""

    id: int
    queue: str
    attempts: int
    state: str = TECHNICAL_FAILURE
    error: str = ""
    channel: str | None = None
    next_attempt_at: datetime | None = None


@dataclass
class _Work:
    """One claimed notification on its way out: its row, recipient, message and channel plan."""

    row: object
    outcome: Outcome
    plan: list[tuple] = field(default_factory=list)
    rendered: messages.Rendered | None = None
    params: dict | None = None  # the row's, with a fresh private link where the message asks to act
    existing: dict[str, tuple[str, int]] = field(default_factory=dict)  # channel -> (state, attempts)
    tried: list[str] = field(default_factory=list)
    results: dict[str, Result] = field(default_factory=dict)


def _claimable(now: datetime):
    c = NOTIFICATIONS.c
    return or_(
        c.state.in_((CREATED, *RETRYABLE)),
        and_(c.state == SENDING, c.lease_until < now),
    )


def _claim(ids: list[int], now: datetime) -> list:
    """Take the given notifications that are free to send: one UPDATE, locks taken in id order."""
    config = current_app.config
    c = NOTIFICATIONS.c
    free = select(c.id).where(outbox.among(c.id, ids), _claimable(now)).order_by(c.id)
    if db.session.get_bind().dialect.name == "postgresql":
        free = free.with_for_update()  # waits for a relay still committing them; never skips one
    stmt = (
        update(NOTIFICATIONS)
        .where(c.id.in_(free.scalar_subquery()), _claimable(now))
        .values(
            state=SENDING,
            lease_until=now + timedelta(seconds=config["NOTIFY_LEASE_SECONDS"]),
            attempts=c.attempts + 1,
            updated_at=now,
        )
        .returning(
            c.id,
            c.kind,
            c.route,
            c.queue,
            c.request_id,
            c.user_id,
            c.locale,
            c.params,
            c.topic,
            c.attempts,
        )
    )
    return sorted(db.session.execute(stmt).all(), key=lambda r: r.id)


def _send(ids: list[int]) -> dict[int, Outcome]:
    config = current_app.config
    started = time.monotonic()
    now = utcnow()
    rows = _claim(sorted(set(ids)), now)
    if not rows:
        db.session.rollback()
        return {}
    work = [_Work(row, Outcome(row.id, row.queue, row.attempts)) for row in rows]
    _plan_all(work)
    first = [w for w in work if w.plan]
    _mark_sending(first, [w.plan[0] for w in first])
    db.session.commit()  # the claim and the attempts, before anything leaves
    budget = config["NOTIFY_LEASE_SECONDS"] / 2
    released: list[_Work] = []
    gone: list[int] = []
    with _Connections() as connections:
        for w in work:
            if not w.plan:
                continue
            if time.monotonic() - started > budget:
                released.append(w)  # the lease would run out: give these back rather than race it
                continue
            for i, step in enumerate(w.plan):
                if i:  # a fallback channel (rare): its attempt is recorded before it is tried too
                    _mark_sending([w], [step])
                    db.session.commit()
                gone += _send_one(w, step, connections)
                if w.outcome.state == DELIVERED:
                    break
            _settle(w)
    _write(work, released, gone)
    db.session.commit()
    given_back = {w.row.id for w in released}
    return {w.outcome.id: w.outcome for w in work if w.outcome.id not in given_back}


def _plan_all(work: list[_Work]) -> None:
    """Recipients, channel settings, push subscriptions and earlier attempts, a query each."""
    config = current_app.config
    base = config["BASE_URL"]
    request_ids = {w.row.request_id for w in work if w.row.request_id}
    user_ids = {w.row.user_id for w in work if w.row.user_id}
    requests = (
        {
            r.id: r
            for r in db.session.execute(
                select(
                    ServiceRequest.id,
                    ServiceRequest.village_id,
                    ServiceRequest.notify,
                    ServiceRequest.phone,
                    ServiceRequest.email,
                ).where(ServiceRequest.id.in_(request_ids))
            )
        }
        if request_ids
        else {}
    )
    users = (
        {
            u.id: u
            for u in db.session.execute(select(User.id, User.active, User.email).where(User.id.in_(user_ids)))
        }
        if user_ids
        else {}
    )
    phone_villages = {
        r.village_id
        for w in work
        if w.row.route == RESIDENT and (r := requests.get(w.row.request_id)) and r.phone
    }
    settings = (
        {
            s.village_id: s
            for s in db.session.scalars(
                select(VillageChannels).where(VillageChannels.village_id.in_(phone_villages))
            )
        }
        if phone_villages
        else {}
    )
    subs: dict[int, list[Subscription]] = defaultdict(list)
    push_requests = {w.row.request_id for w in work if w.row.route in (RESIDENT, RESIDENT_PUSH)} & set(
        requests
    )
    if push_requests and config.get("VAPID_PRIVATE_KEY"):
        for s in db.session.scalars(
            select(PushSubscription)
            .where(PushSubscription.request_id.in_(push_requests))
            .order_by(PushSubscription.id)
        ):
            subs[s.request_id].append(Subscription(s.id, s.endpoint, s.p256dh, s.auth))
    # Only a notification tried before can have delivery rows: most batches skip this query.
    again = [w.row.id for w in work if w.row.attempts > 1]
    existing: dict[int, dict] = defaultdict(dict)
    if again:
        for nid, channel, state, attempts in db.session.execute(
            select(Delivery.notification_id, Delivery.channel, Delivery.state, Delivery.attempts).where(
                Delivery.notification_id.in_(again)
            )
        ):
            existing[nid][channel] = (state, attempts)
    adapters = _Adapters(config)
    for w in work:
        row, outcome = w.row, w.outcome
        req = requests.get(row.request_id)
        user = users.get(row.user_id)
        w.existing = existing.get(row.id, {})
        if req is not None and not req.notify and row.kind != messages.ASKED_LINK:
            outcome.state, outcome.error = CANCELLED, "pemohon menghentikan pesan"
            continue
        if user is not None and not user.active:
            outcome.state, outcome.error = CANCELLED, "akun tidak aktif"
            continue
        if any(state == DELIVERED for state, _ in w.existing.values()):
            outcome.state = DELIVERED  # a run that died after delivering, before saying so
            continue
        try:
            w.params = row.params
            if (
                req is not None
                and row.route in (RESIDENT, RESIDENT_EMAIL)
                and row.kind in messages.ACTIONABLE
            ):
                # A message that asks the resident to act carries a private link. It is made now, for
                # this attempt, and lives only in the message: the database keeps its digest, logs never see it.
                token = workflow.issue_private_link(req, row.kind[:20])
                w.params = {**row.params, "path": f"/permohonan/{token}"}
            w.rendered = messages.render(row.kind, w.params, row.locale, base)
            plan = _plan(row, req, user, settings, subs, adapters)
        except Exception:
            log.exception("notification %s could not be prepared", row.id)
            outcome.state, outcome.error = TECHNICAL_FAILURE, "kesalahan di Balai"
            continue
        w.plan = [step for step in plan if w.existing.get(step[0], ("", 0))[0] != PERMANENT_FAILURE]
        if not plan:
            outcome.state, outcome.error = CANCELLED, "tidak ada saluran untuk penerima ini"
        elif not w.plan:
            outcome.state = PERMANENT_FAILURE


def _plan(row, req, user, settings: dict, subs: dict, adapters: _Adapters) -> list[tuple]:
    """The channels to try, in order, each with its adapter and the recipient's address."""
    config = current_app.config
    plan: list[tuple] = []
    if row.route in (RESIDENT, RESIDENT_PUSH) and req is not None:
        # A link asked for on another phone goes to the phone number on the request, nowhere else.
        if subs.get(req.id) and row.kind != messages.ASKED_LINK:
            plan.append((PUSH, adapters.push(), subs[req.id]))
        if req.phone and row.route == RESIDENT:
            for channel in (WHATSAPP, SMS):
                adapter = adapters.gateway(settings.get(req.village_id), channel)
                if adapter is not None:
                    plan.append((channel, adapter, req.phone))
    elif row.route == RESIDENT_EMAIL and req is not None and req.email and config.get("MAIL_SERVER"):
        plan.append((EMAIL, adapters.smtp(), req.email))
    elif row.route == USER_EMAIL and user is not None and user.email and config.get("MAIL_SERVER"):
        plan.append((EMAIL, adapters.smtp(), user.email))
    return plan


class _Adapters:
    """One adapter per gateway (village and channel), SMTP server and push key within a batch."""

    def __init__(self, config):
        self.config = config
        self.cache: dict = {}

    def gateway(self, settings: VillageChannels | None, channel: str):
        key = (settings.village_id if settings else None, channel)
        if key not in self.cache:
            self.cache[key] = gateway_for(settings, channel)
        return self.cache[key]

    def smtp(self) -> Smtp:
        if EMAIL not in self.cache:
            self.cache[EMAIL] = Smtp(self.config)
        return self.cache[EMAIL]

    def push(self) -> WebPush:
        if PUSH not in self.cache:
            self.cache[PUSH] = WebPush(self.config["VAPID_PRIVATE_KEY"], self.config["VAPID_SUBJECT"])
        return self.cache[PUSH]


HTTP_GATEWAYS = (gateways.Fonnte, gateways.CloudApi, gateways.Webhook)


class _Connections(contextlib.ExitStack):
    """Connections kept open for the batch: one HTTP session for the gateways, an SMTP connection."""

    def __init__(self):
        super().__init__()
        self.opened: set = set()

    def open(self, adapter) -> None:
        if isinstance(adapter, Smtp):
            if id(adapter) not in self.opened:
                self.opened.add(id(adapter))
                self.enter_context(adapter.connection())
        elif isinstance(adapter, HTTP_GATEWAYS) and "http" not in self.opened:
            self.opened.add("http")
            self.enter_context(egress.keep_alive())


def _recipient(channel: str, target) -> str:
    return mask_address(channel, target) if isinstance(target, str) else "browser"


def _mark_sending(work: list[_Work], steps: list[tuple]) -> None:
    """Record an attempt on each (notification, channel) before it is made: one statement."""
    if not work:
        return
    now = utcnow()
    rows = []
    for w, (channel, adapter, target) in zip(work, steps, strict=True):
        w.tried.append(channel)
        rows.append(
            {
                "notification_id": w.row.id,
                "channel": channel,
                "provider": adapter.provider,
                "recipient": _recipient(channel, target),
                "state": SENDING,
                "attempts": 1,
                "provider_error": "",
                "created_at": now,
                "updated_at": now,
            }
        )
    stmt = _insert(DELIVERIES)
    db.session.execute(
        stmt.on_conflict_do_update(
            index_elements=["notification_id", "channel"],
            set_={
                "state": SENDING,
                "provider": stmt.excluded.provider,
                "attempts": DELIVERIES.c.attempts + 1,
                "updated_at": stmt.excluded.updated_at,
            },
        ),
        rows,  # one statement: many rows in one VALUES list (SQLAlchemy's insertmanyvalues)
    )


def _insert(table):
    dialect = db.session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def _send_one(w: _Work, step: tuple, connections: _Connections) -> list[int]:
    """Send on one channel; returns the push subscriptions the push service said are gone."""
    config = current_app.config
    channel, adapter, target = step
    row, rendered = w.row, w.rendered
    attempt = w.existing.get(channel, ("", 0))[1] + 1
    out = Outgoing(
        channel=channel,
        to=target if isinstance(target, str) else "",
        text=rendered.text,
        title=rendered.title,
        url=rendered.url,
        path=rendered.path,
        reference=f"balai-{row.id}-{channel}",
        kind=row.kind,
        locale=row.locale or "id",
        template_params=messages.template_params(
            row.kind, w.params or row.params, row.locale, config["BASE_URL"]
        )
        if adapter.provider == CLOUD_API
        else [],
        topic=row.topic,
        attempt=attempt,
    )
    gone: list[int] = []
    try:
        connections.open(adapter)
        if channel == PUSH:
            result, gone = adapter.send_all(out, target)
        else:
            result = adapter.send(out)
    except Exception:
        log.exception("notification %s via %s failed in Balai", row.id, channel)
        result = technical("kesalahan di Balai")
    w.results[channel] = result
    log.info(
        "notification %s via %s/%s to %s: %s",
        row.id,
        channel,
        adapter.provider,
        _recipient(channel, target),
        result.state,
    )
    if result.delivered:
        w.outcome.state, w.outcome.channel, w.outcome.error = DELIVERED, channel, ""
    return gone


def _settle(w: _Work) -> None:
    """The notification's state from what its channels answered."""
    o = w.outcome
    if o.state == DELIVERED:
        return
    states_now = {
        c: (r.state if (r := w.results.get(c)) else w.existing.get(c, ("", 0))[0]) for c, _, _ in w.plan
    }
    o.error = "; ".join(f"{c}: {r.error}" for c, r in w.results.items() if r.error)[:300]
    if all(s == PERMANENT_FAILURE for s in states_now.values()):
        o.state = PERMANENT_FAILURE
    else:
        o.state = TEMPORARY_FAILURE if TEMPORARY_FAILURE in states_now.values() else TECHNICAL_FAILURE
        o.next_attempt_at = _next_attempt(o.attempts)


def _write(work: list[_Work], released: list[_Work], gone: list[int]) -> None:
    """The outcomes: one statement for the deliveries, one per kind of outcome for the notifications."""
    now = utcnow()
    rows = [
        {
            "notification_id": w.row.id,
            "channel": channel,
            "provider": "",
            "recipient": "",
            "state": result.state,
            "attempts": 1,
            "provider_message_id": (result.provider_message_id or None) and result.provider_message_id[:120],
            "provider_error": result.error,
            "created_at": now,
            "updated_at": now,
        }
        for w in work
        for channel, result in w.results.items()
    ]
    if rows:
        stmt = _insert(DELIVERIES)
        db.session.execute(
            stmt.on_conflict_do_update(
                index_elements=["notification_id", "channel"],
                set_={
                    "state": stmt.excluded.state,
                    "provider_error": stmt.excluded.provider_error,
                    "provider_message_id": func.coalesce(
                        stmt.excluded.provider_message_id, DELIVERIES.c.provider_message_id
                    ),
                    "updated_at": stmt.excluded.updated_at,
                },
            ),
            rows,
        )
    given_back = {w.row.id for w in released}
    groups: dict[tuple, list[int]] = defaultdict(list)
    for w in work:
        if w.row.id in given_back:
            continue
        o = w.outcome
        groups[(o.state, o.channel, o.error[:300], o.next_attempt_at)].append(o.id)
    for (state, channel, error, next_attempt_at), ids in groups.items():
        values = {"state": state, "lease_until": None, "last_error": error, "updated_at": now}
        values["next_attempt_at"] = next_attempt_at if state in RETRYABLE else None
        if state == DELIVERED:
            values |= {"delivered_at": now, **({"channel": channel} if channel else {})}
        db.session.execute(
            update(NOTIFICATIONS)
            .where(NOTIFICATIONS.c.id.in_(ids), NOTIFICATIONS.c.state == SENDING)
            .values(**values)
        )
    if released:
        ids = [w.row.id for w in released]
        # Not tried: as they were before the claim, handed over again at once (or by the sweep).
        db.session.execute(
            update(NOTIFICATIONS)
            .where(NOTIFICATIONS.c.id.in_(ids), NOTIFICATIONS.c.state == SENDING)
            .values(state=CREATED, lease_until=None, relayed_at=None, attempts=NOTIFICATIONS.c.attempts - 1)
        )
        db.session.execute(
            update(DELIVERIES)
            .where(DELIVERIES.c.notification_id.in_(ids), DELIVERIES.c.state == SENDING)
            .values(state=CREATED, attempts=DELIVERIES.c.attempts - 1)
        )
        on_commit(outbox.relay_ids, ids)
    if gone:
        db.session.execute(delete(PushSubscription).where(PushSubscription.id.in_(gone)))


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
