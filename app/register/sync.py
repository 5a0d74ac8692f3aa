"""/kantor/opendk: how a village's OpenSID connects to Balai, its tokens, its push log, and the
messages between region staff and the village.

Village officials see their own village; region staff and superadmins pick one of the villages in
their region (``?desa=``), may make or revoke its tokens, and answer its messages.
"""

from __future__ import annotations

from flask import Response, abort, current_app, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select

from app.access import can_manage_region, can_read_village, can_work_village, village_filter
from app.domain import opensid
from app.domain.errors import DomainError
from app.extensions import db
from app.i18n import coded, known, translated
from app.models import Role, Village
from app.models.population import MessageThread, SyncedReport, SyncPush
from app.population import messages, pushes, tokens
from app.population.register import source_of
from app.register import bp
from app.register.forms import ReplyForm, ThreadForm, TokenForm
from app.web import SENT_PDF_CSP, reading_village, render, roles_required

READERS = (Role.OPERATOR, Role.HEAD, Role.REGION_ADMIN, Role.SUPERADMIN)
WORKERS = (Role.OPERATOR, Role.HEAD)
REGION = (Role.REGION_ADMIN, Role.SUPERADMIN)


def _picked() -> Village | None:
    """The official's own village, or the one region staff picked with ?desa= (inside their region)."""
    return reading_village(WORKERS)


def may_manage(village: Village) -> bool:
    """Who makes and revokes a village's tokens: its officials, region admins above it, superadmins."""
    return can_work_village(current_user, village) or (
        current_user.role in REGION and can_manage_region(current_user, village.region_code)
    )


def _vargs(village: Village) -> dict:
    return {} if current_user.role in WORKERS else {"desa": village.id}


def note_text(note: dict) -> str:
    """A push-log note in the reader's language (only messages the code itself defines)."""
    return known(opensid.KNOWN_MESSAGES, note.get("m"), **(note.get("p") or {}))


def _overview():
    """Region staff without a village picked: their villages and how each last pushed."""
    villages = db.session.scalars(
        select(Village)
        .where(village_filter(current_user), Village.active.is_(True))
        .order_by(Village.name)
        .limit(300)
    ).all()
    ids = [v.id for v in villages]
    last = {}
    if ids:
        newest = (
            select(SyncPush.village_id, func.max(SyncPush.id).label("id"))
            .where(SyncPush.village_id.in_(ids))
            .group_by(SyncPush.village_id)
            .subquery()
        )
        last = {
            p.village_id: p
            for p in db.session.scalars(select(SyncPush).join(newest, newest.c.id == SyncPush.id))
        }
    return render(
        "register/sync_overview.html",
        villages=villages,
        last=last,
        labels=translated(pushes.MODULE_LABELS),
        vargs={},
    )


def _sync_page(village: Village, *, form: TokenForm, new_token: str | None = None, status: int = 200):
    log = pushes.recent([village.id], limit=50)
    reports = db.session.scalars(
        select(SyncedReport)
        .where(SyncedReport.village_id == village.id)
        .order_by(SyncedReport.year.desc(), SyncedReport.id.desc())
        .limit(20)
    ).all()
    response = render(
        "register/sync.html",
        village=village,
        tokens=tokens.tokens_of(village),
        log=log,
        reports=reports,
        labels=translated(pushes.MODULE_LABELS),
        note_text=note_text,
        form=form,
        new_token=new_token,
        may_manage=may_manage(village),
        server=current_app.config["BASE_URL"] + "/opendk",
        source=source_of(village.id),
        vargs=_vargs(village),
        status=status,
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/opendk/")
@roles_required(*READERS)
def sync_home():
    village = _picked()
    if village is None:
        return _overview()
    return _sync_page(village, form=TokenForm(formdata=None))


@bp.post("/opendk/token")
@roles_required(*READERS)
def make_token():
    village = _picked()
    if village is None or not may_manage(village):
        abort(403 if village is not None else 404)
    form = TokenForm()
    if not form.validate_on_submit():
        return _sync_page(village, form=form, status=422)
    raw = tokens.issue(village, form.name.data.strip(), created_by=current_user, via="balai")
    db.session.commit()
    current_app.logger.info("OpenDK token made for village %s by user %s", village.id, current_user.id)
    return _sync_page(village, form=TokenForm(formdata=None), new_token=raw)


@bp.post("/opendk/token/<int:token_id>/cabut")
@roles_required(*READERS)
def revoke_token(token_id: int):
    from app.models.population import SyncToken

    token = db.session.get(SyncToken, token_id)
    if token is None or not can_read_village(current_user, token.village):
        abort(404)
    if not may_manage(token.village):
        abort(403)
    tokens.revoke(token)
    db.session.commit()
    flash(_("Token dicabut; OpenSID yang memakainya tidak dapat mengirim lagi."))
    return redirect(url_for("register.sync_home", **_vargs(token.village)), 303)


@bp.get("/opendk/kiriman/<int:push_id>")
@roles_required(*READERS)
def push(push_id: int):
    found = db.session.get(SyncPush, push_id)
    if found is None or not can_read_village(current_user, found.village):
        abort(404)
    response = render(
        "register/push.html",
        push=found,
        village=found.village,
        label=coded(pushes.MODULE_LABELS, found.module),
        notes=[note_text(n) for n in found.errors or []],
        vargs=_vargs(found.village),
        finished=found.state in ("done", "unchanged", "failed"),
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/opendk/laporan/<int:report_id>.pdf")
@roles_required(*READERS)
def report_pdf(report_id: int):
    report = db.session.get(SyncedReport, report_id)
    if report is None:
        abort(404)
    village = db.session.get(Village, report.village_id)
    if village is None or not can_read_village(current_user, village):
        abort(404)
    response = Response(report.pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="laporan-{report.kind}-{report.id}.pdf"'
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Content-Security-Policy"] = SENT_PDF_CSP
    return response


# --- messages ------------------------------------------------------------------------------------


@bp.get("/opendk/pesan")
@roles_required(*READERS)
def threads():
    village = _picked() if request.args.get("desa") or current_user.role in WORKERS else None
    return render(
        "register/threads.html",
        threads=messages.threads_for(current_user, village.id if village else None),
        village=village,
        may_write=messages.may_answer(current_user),
        vargs=_vargs(village) if village else {},
    )


def _thread_or_404(thread_id: int) -> MessageThread:
    thread = db.session.get(MessageThread, thread_id)
    if thread is None or not can_read_village(current_user, thread.village):
        abort(404)
    return thread


def _may_answer(thread: MessageThread) -> bool:
    return messages.may_answer(current_user) and can_manage_region(current_user, thread.village.region_code)


def _thread_page(found: MessageThread, form: ReplyForm, status: int = 200):
    return render(
        "register/thread.html",
        thread=found,
        village=found.village,
        form=form,
        may_answer=_may_answer(found),
        vargs=_vargs(found.village),
        status=status,
    )


@bp.get("/opendk/pesan/<int:thread_id>")
@roles_required(*READERS)
def thread(thread_id: int):
    found = _thread_or_404(thread_id)
    if found.unread and _may_answer(found):
        found.unread = False
        db.session.commit()
    return _thread_page(found, ReplyForm(formdata=None))


@bp.post("/opendk/pesan/<int:thread_id>/balas")
@roles_required(*REGION)
def reply(thread_id: int):
    found = _thread_or_404(thread_id)
    if not _may_answer(found):
        abort(403)
    form = ReplyForm()
    if form.validate_on_submit():
        try:
            messages.from_region(found, current_user, form.text.data)
        except DomainError as err:
            form.text.errors.append(_(err.message, **err.params))
        else:
            db.session.commit()
            flash(_("Balasan terkirim; OpenSID desa mengambilnya saat operator membuka beranda."))
            return redirect(url_for("register.thread", thread_id=found.id), 303)
    return _thread_page(found, form, status=422)


@bp.route("/opendk/pesan/baru", methods=["GET", "POST"])
@roles_required(*REGION)
def new_thread():
    village = _picked()
    if village is None:
        abort(404)
    if not can_manage_region(current_user, village.region_code):
        abort(403)
    form = ThreadForm()
    if form.validate_on_submit():
        try:
            started = messages.start_thread(village, current_user, form.title.data, form.text.data)
        except DomainError as err:
            form.text.errors.append(_(err.message, **err.params))
        else:
            db.session.commit()
            flash(_("Pesan terkirim ke %(name)s.", name=village.display_name))
            return redirect(url_for("register.thread", thread_id=started.id), 303)
    return render(
        "register/new_thread.html",
        village=village,
        form=form,
        vargs=_vargs(village),
        status=422 if form.errors else 200,
    )
