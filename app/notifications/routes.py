"""The bell and inbox, failed deliveries, channel settings, and residents' push opt-in and stop."""

from __future__ import annotations

import functools

from flask import abort, current_app, flash, jsonify, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.orm import selectinload

from app import workflow
from app.access import can_manage_region, can_work_village, village_desk, village_filter
from app.domain.errors import DomainError
from app.domain.tracking import normalize_tracking_code, tracking_key
from app.extensions import db, limiter
from app.models import Role, ServiceRequest, Village, utcnow
from app.models.notifications import (
    CANCELLED,
    CREATED,
    PERMANENT_FAILURE,
    RESIDENT,
    RESIDENT_EMAIL,
    RETRYABLE,
    InAppMessage,
    Notification,
    PushSubscription,
    VillageChannels,
)
from app.notifications import bp, outbox
from app.notifications.channels import endpoint_allowed
from app.notifications.forms import ChannelsForm
from app.web import render, roles_required, submitted_here

INBOX_SIZE = 50


def template_helpers() -> dict:
    return {
        "notifications_unread": unread_count,
        "vapid_public_key": current_app.config.get("VAPID_PUBLIC_KEY"),
    }


def unread_count() -> int:
    """Unread in-app messages of the logged-in user (one indexed count)."""
    if not current_user.is_authenticated:
        return 0
    # The session's connection runs the plain SELECT: the ORM's execute layer around it cost more than
    # the indexed count itself (no ORM rows come back; the request's transaction is the same).
    return db.session.connection().execute(_unread_statement(), {"user_id": current_user.id}).scalar()


@functools.cache
def _unread_statement():
    """unread_count's statement, built once: the bell is on every signed-in page, and building the
    statement cost about as much as running it."""
    return select(func.count(InAppMessage.id)).where(
        InAppMessage.user_id == bindparam("user_id"), InAppMessage.read_at.is_(None)
    )


# --- officials' and managers' inbox ------------------------------------------------------------


@bp.route("/notifikasi")
@login_required
def inbox():
    rows = db.session.scalars(
        select(InAppMessage)
        .where(InAppMessage.user_id == current_user.id)
        .order_by(InAppMessage.id.desc())
        .limit(INBOX_SIZE)
    ).all()
    failed = 0
    if current_user.role != Role.BUMDES_MANAGER:
        failed = db.session.scalar(select(func.count(Notification.id)).where(_failed_filter(), _scope()))
    return render(
        "notifications/inbox.html", fragment="notifications/_inbox.html", messages=rows, failed=failed
    )


@bp.route("/notifikasi/<int:message_id>/buka", methods=["POST"])
@login_required
def open_message(message_id: int):
    message = db.session.get(InAppMessage, message_id)
    if message is None or message.user_id != current_user.id:
        abort(404)
    if message.read_at is None:
        message.read_at = utcnow()
        db.session.commit()
    target = message.url if message.url.startswith("/") and not message.url.startswith("//") else None
    return redirect(target or url_for("notifications.inbox"), 303)


@bp.route("/notifikasi/baca-semua", methods=["POST"])
@login_required
def read_all():
    db.session.execute(
        update(InAppMessage)
        .where(InAppMessage.user_id == current_user.id, InAppMessage.read_at.is_(None))
        .values(read_at=utcnow())
    )
    db.session.commit()
    return redirect(url_for("notifications.inbox"), 303)


# --- deliveries that failed for good -----------------------------------------------------------


def _failed_filter():
    """Failed for good: a permanent failure, or a retryable one that ran out of attempts."""
    return or_(
        Notification.state == PERMANENT_FAILURE,
        (Notification.state.in_(RETRYABLE)) & Notification.next_attempt_at.is_(None),
    )


def _scope():
    """Notifications of the villages the current user may read (app.access)."""
    if current_user.role == Role.SUPERADMIN:
        return Notification.id.isnot(None)
    villages = Notification.village_id.in_(select(Village.id).where(village_filter(current_user)))
    if current_user.role == Role.REGION_ADMIN:
        return villages
    # A complaint about the village office is not its officials' to see, nor are its messages.
    return villages & or_(
        Notification.request_id.is_(None),
        Notification.request_id.not_in(select(ServiceRequest.id).where(~village_desk())),
    )


@bp.route("/notifikasi/gagal")
@roles_required(Role.SUPERADMIN, Role.REGION_ADMIN, Role.OPERATOR, Role.HEAD)
def failures():
    rows = db.session.scalars(
        select(Notification)
        .where(_failed_filter(), _scope())
        .options(selectinload(Notification.deliveries))
        .order_by(Notification.id.desc())
        .limit(100)
    ).all()
    return render("notifications/failures.html", rows=rows, can_retry=_can_retry)


def _can_retry(n: Notification) -> bool:
    if current_user.role == Role.SUPERADMIN:
        return True
    village = db.session.get(Village, n.village_id) if n.village_id else None
    return village is not None and can_work_village(current_user, village)


@bp.route("/notifikasi/<int:notification_id>/kirim-ulang", methods=["POST"])
@roles_required(Role.SUPERADMIN, Role.OPERATOR, Role.HEAD)
def resend(notification_id: int):
    n = db.session.scalar(select(Notification).where(Notification.id == notification_id, _scope()))
    if n is None or not _can_retry(n):
        abort(404)
    if outbox.requeue(n.id):
        db.session.commit()
        flash(_("Pesan dikirim ulang."))
    else:
        flash(_("Pesan ini sedang dikirim atau sudah terkirim."))
    return redirect(url_for("notifications.failures"), 303)


# --- superadmin: failed rq jobs ----------------------------------------------------------------


@bp.route("/notifikasi/admin")
@roles_required(Role.SUPERADMIN)
def admin():
    from app.jobs import QUEUES

    jobs, redis_error = [], None
    counts = dict(
        db.session.execute(select(Notification.state, func.count()).group_by(Notification.state)).all()
    )
    if current_app.config.get("REDIS_URL"):
        from redis.exceptions import RedisError
        from rq import Queue
        from rq.job import Job

        from app.jobs import redis_connection

        try:
            connection = redis_connection()
            for name in QUEUES:
                queue = Queue(name, connection=connection)
                ids = queue.failed_job_registry.get_job_ids(0, 99)
                for job in Job.fetch_many(ids, connection=connection):
                    if job is not None:
                        jobs.append({"queue": name, "job": job, "error": _last_line(job)})
        except RedisError as exc:
            redis_error = type(exc).__name__
    return render("notifications/admin.html", jobs=jobs, counts=counts, redis_error=redis_error)


def _last_line(job) -> str:
    result = job.latest_result()
    info = (result.exc_string if result is not None else "") or ""
    lines = [line for line in info.strip().splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""


@bp.route("/notifikasi/admin/job/<job_id>/ulang", methods=["POST"])
@roles_required(Role.SUPERADMIN)
def retry_job(job_id: str):
    from redis.exceptions import RedisError
    from rq import Queue
    from rq.exceptions import InvalidJobOperation, NoSuchJobError

    from app.jobs import QUEUES, redis_connection

    queue_name = request.form.get("queue", "")
    if queue_name not in QUEUES or not current_app.config.get("REDIS_URL"):
        abort(404)
    try:
        Queue(queue_name, connection=redis_connection()).failed_job_registry.requeue(job_id)
        flash(_("Pekerjaan dijalankan ulang."))
    except (NoSuchJobError, InvalidJobOperation):
        abort(404)
    except RedisError:
        flash(_("Redis tidak bisa dihubungi; coba lagi nanti."))
    return redirect(url_for("notifications.admin"), 303)


# --- a village's WhatsApp/SMS gateway ----------------------------------------------------------


def _channels_village_or_404(village_id: int) -> Village:
    village = db.session.get(Village, village_id)
    if village is None or not (
        can_work_village(current_user, village) or can_manage_region(current_user, village.region_code)
    ):
        abort(404)
    return village


@bp.route("/notifikasi/saluran/<int:village_id>", methods=["GET", "POST"])
@roles_required(Role.SUPERADMIN, Role.REGION_ADMIN, Role.OPERATOR, Role.HEAD)
def channels(village_id: int):
    village = _channels_village_or_404(village_id)
    settings = db.session.scalar(select(VillageChannels).where(VillageChannels.village_id == village.id))
    if settings is None:
        settings = VillageChannels(village_id=village.id, whatsapp_gateway="none", sms_gateway="none")
    form = ChannelsForm(obj=settings if request.method == "GET" else None)
    if request.method == "GET":
        form.whatsapp_templates.data = "\n".join(
            f"{k}={v}" for k, v in (settings.whatsapp_templates or {}).items()
        )
        form.whatsapp_token.data = ""
        form.sms_token.data = ""
    if form.validate_on_submit():
        templates, bad = {}, []
        for line in (form.whatsapp_templates.data or "").splitlines():
            if line.strip():
                kind, sep, name = line.partition("=")
                if not sep or not kind.strip() or not name.strip():
                    bad.append(line)
                templates[kind.strip()] = name.strip()
        if bad:
            form.whatsapp_templates.errors.append(_("Tulis satu per baris: jenis=nama_template."))
        else:
            settings.whatsapp_gateway = form.whatsapp_gateway.data
            settings.whatsapp_url = (form.whatsapp_url.data or "").strip()
            settings.whatsapp_sender = (form.whatsapp_sender.data or "").strip()
            settings.whatsapp_templates = templates
            settings.sms_gateway = form.sms_gateway.data
            settings.sms_url = (form.sms_url.data or "").strip()
            if form.whatsapp_token.data:
                settings.whatsapp_token = form.whatsapp_token.data.strip()
            if form.sms_token.data:
                settings.sms_token = form.sms_token.data.strip()
            db.session.add(settings)
            db.session.commit()
            flash(_("Pengaturan pesan disimpan."))
            return redirect(url_for("notifications.channels", village_id=village.id), 303)
    status = 422 if request.method == "POST" else 200
    return render("notifications/channels.html", village=village, form=form, settings=settings, status=status)


# --- residents: Web Push opt-in and "stop messages" --------------------------------------------
# The tracking code is public (the queue screen shows it), so it names the request but proves
# nothing: these actions need the phone that sent the request (its session) or the private link.

MAX_SUBSCRIPTION_BYTES = 4096


def _owned_request(code: str, token: str) -> ServiceRequest | None:
    """The request behind ``code`` if this visitor holds its private link or sent it from this phone.

    Unknown codes and known codes answer the same (None), so the answer tells a guesser nothing.
    """
    try:
        code = normalize_tracking_code(code)
    except DomainError:
        return None
    if token:
        req = workflow.find_by_fix_token(token)
        return req if req is not None and tracking_key(req.tracking_code) == tracking_key(code) else None
    req = workflow.find_by_code(code)
    return req if req is not None and submitted_here(req.tracking_code) else None


def _not_yours() -> str:
    return _(
        "Hanya HP yang mengirim permohonan ini, atau pemegang link pribadinya, yang bisa mengatur "
        "pesannya. Buka link pribadi dari tanda terima Anda, lalu coba lagi dari sana."
    )


@bp.route("/lacak/<code>/push", methods=["POST"])
@limiter.limit("10 per minute")
def push_subscribe(code: str):
    data = request.get_json(silent=True) if (request.content_length or 0) <= MAX_SUBSCRIPTION_BYTES else None
    data = data if isinstance(data, dict) else None
    req = _owned_request(code, str((data or {}).get("token") or ""))
    if req is None:
        return jsonify({"ok": False, "error": _not_yours()}), 403
    if data is None:
        return jsonify({"ok": False, "error": _("Langganan notifikasi tidak bisa dibaca.")}), 400
    endpoint = data.get("endpoint")
    keys = data.get("keys")
    keys = keys if isinstance(keys, dict) else {}
    p256dh, auth = keys.get("p256dh"), keys.get("auth")
    if (
        not isinstance(endpoint, str)
        or not isinstance(p256dh, str)
        or not isinstance(auth, str)
        or not endpoint
        or len(endpoint) > 1000
        or not endpoint_allowed(endpoint, current_app.config["PUSH_ENDPOINT_HOSTS"])
        or not (20 <= len(p256dh) <= 200)
        or not (8 <= len(auth) <= 60)
    ):
        return jsonify({"ok": False, "error": _("Langganan notifikasi tidak valid.")}), 422
    if not req.notify:
        return jsonify({"ok": False, "error": _("Pesan untuk permohonan ini sudah dihentikan.")}), 409
    sub = db.session.scalar(select(PushSubscription).where(PushSubscription.endpoint == endpoint))
    if sub is None:
        sub = PushSubscription(endpoint=endpoint)
        db.session.add(sub)
    sub.request_id, sub.p256dh, sub.auth = req.id, p256dh, auth
    db.session.commit()
    return jsonify({"ok": True, "message": _("Notifikasi aktif. Kami kabari bila status berubah.")}), 201


@bp.route("/lacak/<code>/pesan", methods=["POST"])
@limiter.limit("10 per minute")
def stop_messages(code: str):
    token = request.form.get("token", "")
    req = _owned_request(code, token)
    if req is None:
        return render("errors/error.html", status=403, title=_("Tidak diizinkan"), hint=_not_yours())
    resume = request.form.get("action") == "resume"
    req.notify = resume
    if not resume:
        db.session.execute(PushSubscription.__table__.delete().where(PushSubscription.request_id == req.id))
        db.session.execute(
            update(Notification)
            .where(
                Notification.request_id == req.id,
                Notification.route.in_((RESIDENT, RESIDENT_EMAIL)),
                Notification.state.in_((CREATED, *RETRYABLE)),
            )
            .values(state=CANCELLED, last_error="pemohon menghentikan pesan", updated_at=utcnow())
        )
    db.session.commit()
    flash(
        _("Pesan untuk permohonan ini dinyalakan lagi.")
        if resume
        else _("Pesan untuk permohonan ini dihentikan.")
    )
    if token:
        return redirect(url_for("residents.private", token=token), 303)
    return redirect(url_for("residents.track", code=req.tracking_code), 303)
