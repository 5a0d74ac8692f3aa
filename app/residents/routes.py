"""Resident pages: no account, a phone, a slow network. Views parse, call the workflow, render."""

from __future__ import annotations

import hashlib
import secrets
from functools import wraps

from flask import abort, current_app, flash, g, make_response, redirect, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app import attendance, events, limits, models, tracked, workflow
from app.access import can_work_request, village_desk
from app.datacache import OWN_SLOT, cached_row
from app.domain import states
from app.domain.errors import DomainError
from app.domain.nik import mask_nik, parse_nik
from app.domain.phone import mask_phone
from app.domain.text import mask_name
from app.domain.tracking import normalize_tracking_code
from app.extensions import db, limiter
from app.i18n import status_label
from app.models import Service, ServiceRequest, Village
from app.pagecache import shared
from app.qr import qr_svg
from app.residents import bp, checks, intake, receipts
from app.residents.catalog import field_label, option_label
from app.residents.forms import (
    FIELD_PREFIX,
    FixForm,
    LinkForm,
    TrackForm,
    check_selects,
    request_form,
    service_data,
)
from app.tracked import ShownRequest
from app.web import active_village_or_404, render, render_shared, shown_village_or_404, submitted_here

QUEUE_WORKING = (states.DIAJUKAN, states.DIVERIFIKASI, states.DIPROSES)
QUEUE_SHOWN = 40
MINE_MAX = 20


def _absolute(path: str) -> str:
    return current_app.config["BASE_URL"] + path


def _locale() -> str:
    return str(get_locale())


def _no_store(response):
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


def _is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true" and request.headers.get("HX-Boosted") != "true"


def _not_modified(etag: str):
    response = make_response("", 304)
    response.set_etag(etag)
    response.vary.add("HX-Request")
    return response


# --- the catalogue and the request form -------------------------------------------------------


@bp.route("/desa/<slug>/layanan")
@shared
def services(slug: str):
    village = shown_village_or_404(slug)

    def context() -> dict:
        rows = db.session.scalars(
            select(Service)
            .where(Service.village_id == village.id, Service.active.is_(True))
            .order_by(Service.position, Service.id)
        ).all()
        return {"village": village, "services": rows}

    return render_shared("residents/services.html", (village.id,), context, village=village)


def _service_or_404(village: Village, code: str, attach: bool = True) -> Service:
    """The village's active service with this code (``attach``: see datacache.cached_row())."""

    def load():
        return db.session.scalar(
            select(Service).where(
                Service.village_id == village.id, Service.code == code, Service.active.is_(True)
            )
        )

    service = cached_row(("service", village.id, code), load, attach=attach)
    if service is None:
        abort(404)
    return service


def _form_page(village, service, form, photos, status=200, error=None, sent=None):
    return render(
        "residents/form.html",
        fragment="residents/_form.html",
        status=status,
        village=village,
        service=service,
        form=form,
        photos=photos,
        error=error,
        sent=sent,
        max_photo_bytes=current_app.config["MAX_PHOTO_BYTES"],
    )


# Stands in for a blank form's idempotency key while its page is rendered once for everyone (as the
# CSRF token's stand-in, app/datacache.py); each page gets its own.
_KEY_SLOT = "balai-key-" + secrets.token_hex(8)
_KEY_SLOT_BYTES = _KEY_SLOT.encode()


def _blank_form_page(village: Village, service: Service):
    """A service's empty form, the same for everyone but for the CSRF token and the idempotency key:
    rendered once per change of data (the whole page for an anonymous visitor, render_shared()),
    then given this visitor's token and a fresh key."""

    def context() -> dict:
        form = request_form(service, formdata=None, idempotency_key=_KEY_SLOT)
        return {
            "village": village,
            "service": service,
            "form": form,
            "photos": {},
            "sent": None,
            "max_photo_bytes": current_app.config["MAX_PHOTO_BYTES"],
        }

    response = render_shared(
        "residents/form.html", ("blank-form", service.id), context, village=village, service=service
    )
    # A URL-safe key: nothing in it to escape.
    response.data = response.data.replace(_KEY_SLOT_BYTES, secrets.token_urlsafe(24).encode())
    return response


def _limited_posts(view):
    """The request form's limits, which count only its posts: a GET (the blank form, most visits)
    calls the view itself, without Flask-Limiter resolving limits that do not apply to it."""
    limited = limiter.limit(
        limits.configured("SUBMIT_PHONE_LIMIT"),
        key_func=limits.phone_key("phone"),
        methods=["POST"],
        exempt_when=limits.not_storing,
        deduct_when=limits.stored,
    )(
        limiter.limit(
            limits.configured("SUBMIT_ADDRESS_LIMIT"),
            key_func=limits.address_key,
            methods=["POST"],
            exempt_when=limits.not_storing,
            deduct_when=limits.stored,
        )(limits.counts_photo_uploads(view))
    )

    @wraps(view)
    def dispatch(**kwargs):
        return limited(**kwargs) if request.method == "POST" else view(**kwargs)

    return dispatch


@bp.route("/desa/<slug>/layanan/<code>", methods=["GET", "POST"])
@_limited_posts
def request_service(slug: str, code: str):
    if request.method == "GET":
        return _request_form(slug, code)
    village = active_village_or_404(slug)
    service = _service_or_404(village, code)
    sent = limits.sent_before()
    if sent is not None:
        # This very form was stored already (a second tap, a resend, Back then send): its receipt,
        # and nothing checked, stored or counted again.
        g.replayed = True
        receipts.remember(sent, None)
        flash(_("Anda sudah mengirim ini — ini tanda terimanya."))
        return redirect(url_for("residents.receipt", code=sent), 303)
    form = request_form(service)
    step = request.form.get("step", "check")
    scope = form.idempotency_key.data or ""
    if step == "edit":
        photos, _ok = intake.collect(form, service, scope, require=False)
        return _form_page(village, service, form, photos)

    valid = form.validate()
    valid = check_selects(form, service) and valid
    photos, photos_ok = intake.collect(form, service, scope)
    if not (valid and photos_ok):
        return _form_page(village, service, form, photos, status=422)

    if step == "send":
        try:
            result = _submit(village, service, form, photos)
        except DomainError as err:
            db.session.rollback()
            return _form_page(village, service, form, photos, 422, _(err.message, **err.params))
        # Kept (the link sealed) so a refresh or a replayed form still shows the receipt.
        receipts.remember(result.request.tracking_code, result.fix_token)
        return redirect(url_for("residents.receipt", code=result.request.tracking_code), 303)

    kept = checks.keep(request.path, form, photos)
    if kept and request.headers.get("Sec-Fetch-Mode") == "navigate":
        # A browser's own form post (no JavaScript): the check step gets an address of its own.
        return redirect(url_for("residents.request_service", slug=slug, code=code, langkah="periksa"), 303)
    return _check_page(village, service, form, photos)


def _request_form(slug: str, code: str):
    """The request form's GET: the blank form, a form brought back, or the check step. It only reads
    the village and the service: the kept rows, not merged into this request's session."""
    village = shown_village_or_404(slug)
    service = _service_or_404(village, code, attach=False)
    checking = checks.load(request.path)
    sent = _stored_code(village, checking["key"]) if checking else None
    if request.args.get("langkah") == "periksa":
        # The check step, after its POST was redirected here: Back and Reload never resend a form.
        if checking is None:
            return redirect(url_for("residents.request_service", slug=slug, code=code), 303)
        if sent is not None:
            return _no_store(render("residents/sent.html", village=village, service=service, code=sent))
        form, photos = checks.restore(checking, service)
        return _no_store(_check_page(village, service, form, photos))
    if checking is None and not _is_htmx():
        # A cached copy would carry an old idempotency key and turn a new request into a replay.
        return _no_store(_blank_form_page(village, service))
    form = request_form(service, formdata=None, idempotency_key=secrets.token_urlsafe(24))
    return _no_store(_form_page(village, service, form, {}, sent=sent))


def _check_page(village: Village, service: Service, form, photos: dict):
    return render(
        "residents/check.html",
        fragment="residents/_check.html",
        village=village,
        service=service,
        form=form,
        photos=photos,
        thumbs={key: intake.thumbnail(photo) for key, photo in photos.items()},
        answers=_answers(form, service),
        nik_info=parse_nik(form.nik.data),
    )


def _stored_code(village: Village, key: str) -> str | None:
    """The tracking code of the request this village stored under idempotency ``key``, if any."""
    return db.session.scalar(
        select(ServiceRequest.tracking_code).where(
            ServiceRequest.village_id == village.id, ServiceRequest.idempotency_key == key
        )
    )


def _answers(form, service: Service) -> list[tuple[str, str]]:
    rows = []
    for spec in service.fields:
        value = getattr(form, FIELD_PREFIX + spec["name"]).data or ""
        shown = option_label(service, spec["name"], value) if spec.get("type") == "select" else value
        rows.append((field_label(service, spec), shown or "—"))
    return rows


def _submit(village: Village, service: Service, form, photos: dict) -> workflow.Submitted:
    data = service_data(form, service)
    kwargs = {
        "nik": form.nik.data,
        "name": " ".join(form.name.data.split()),
        "phone": form.phone.data,
        "email": (form.email.data or "").strip() or None,
        "idempotency_key": form.idempotency_key.data,
        "data": data,
        "purpose": form.purpose.data.strip(),
        "locale": _locale(),
    }
    if service.is_complaint:
        kwargs["category"] = data.get("kategori") or None
        kwargs["hide_name"] = bool(form.hide_name.data)
        kwargs["to_region"] = bool(form.to_region.data)
    try:
        result = workflow.submit_request(village, service, **kwargs)
        if result.created:
            for photo in photos.values():
                db.session.add(photo.attachment(result.request.id))
        db.session.commit()
    except IntegrityError:
        # Two copies of the same form raced; the other one won, so this is a replay.
        g.replayed = True
        db.session.rollback()
        result = workflow.submit_request(village, service, **kwargs)
        if result.created:
            raise
    return result


# --- receipt -----------------------------------------------------------------------------------


def _request_by_code(code: str) -> ServiceRequest | None:
    return workflow.find_by_code(code)


def _receipt_context(code: str):
    """What a receipt shows: the request as anyone holding its code sees it (its name masked; kept
    until the next write, app/tracked.py), and the private link sealed in this phone's session."""
    if not receipts.holds(code):
        return None
    req = tracked.find_public(code, _shown_name)
    if req is None:
        abort(404)
    token = receipts.private_token(code)
    tracking_url = _absolute(url_for("residents.track", code=code))
    return {
        "req": req,
        "village": req.village,
        "service": req.service,
        "tracking_url": tracking_url,
        "private_url": _absolute(url_for("residents.private", token=token)) if token else None,
        "qr": qr_svg(tracking_url, _("Kode QR halaman lacak %(code)s", code=code)),
        "shown_name": req.name,
    }


@bp.route("/tanda-terima/<code>")
def receipt(code: str):
    context = _receipt_context(code)
    if context is None:
        return redirect(url_for("residents.track", code=code))
    # Code, QR, due date, masked name and fee: nothing the tracking page does not show to anyone
    # with the code, so the page is rendered once until the next write. The private link is this
    # phone's own: filled in per request, never kept.
    private_url = context["private_url"]
    shown = {**context, "private_url": OWN_SLOT if private_url else None}
    page = render_shared(
        "residents/receipt.html", ("receipt", code), lambda: shown, own=private_url, req=context["req"]
    )
    return _no_store(page)


@bp.route("/tanda-terima/<code>/cetak")
def receipt_print(code: str):
    context = _receipt_context(code)
    if context is None:
        return redirect(url_for("residents.track", code=code))
    return _no_store(render("residents/receipt_print.html", **context))


# --- tracking ----------------------------------------------------------------------------------


def _shown_name(req: ServiceRequest | ShownRequest) -> str:
    if req.hide_name:
        return _("Nama disembunyikan atas permintaan pelapor")
    return mask_name(req.name)


@bp.errorhandler(429)
def too_many(exc):
    if limits.hit_upload_limit(exc):
        message = _(
            "Terlalu banyak foto dikirim dari perangkat ini atau untuk formulir ini. "
            "Tunggu sebentar, lalu kembali ke formulir dan kirim lagi."
        )
    elif request.endpoint in ("residents.track", "residents.mine_status"):
        message = _(
            "Terlalu banyak kode lacak yang tidak ditemukan dari perangkat ini. "
            "Periksa lagi kode pada tanda terima Anda, lalu coba lagi beberapa menit lagi."
        )
    elif request.endpoint == "residents.request_service":
        message = _(
            "Sudah banyak permohonan dikirim dari nomor HP atau perangkat ini. "
            "Permohonan yang sudah terkirim tetap diproses; coba lagi nanti atau datang ke kantor desa."
        )
    else:
        message = _("Anda mencoba terlalu sering. Tunggu sebentar lalu coba lagi.")
    response = render("residents/too_many.html", status=429, message=message)
    response.headers["Retry-After"] = "60"
    return response


@bp.route("/lacak")
def track_form():
    if "kode" not in request.args:
        return render("residents/track_form.html", form=TrackForm(formdata=None))
    form = TrackForm(request.args)
    if form.validate():
        return redirect(url_for("residents.track", code=form.kode.data), 303)
    return render("residents/track_form.html", form=form, status=422)


@bp.route("/lacak/<code>")
@limits.counts_code_misses
@shared
def track(code: str):
    try:
        canonical = normalize_tracking_code(code)
    except DomainError:
        canonical = None
    # Anyone else who holds the code sees the same page: kept until the next write (app/tracked.py).
    anyone = canonical is not None and not current_user.is_authenticated and not submitted_here(canonical)
    if canonical is None:
        req = None
    elif anyone:
        req = tracked.find_public(canonical, _shown_name)
    else:
        req = tracked.find_shown(canonical)
    if req is None:
        limits.code_missed()
        form = TrackForm(formdata=None, kode=code[:20])
        return render("residents/track_form.html", form=form, status=404, not_found=True)
    if req.tracking_code != code:
        return redirect(url_for("residents.track", code=req.tracking_code))

    official = can_work_request(current_user, req)
    etag = f"r{req.id}v{req.version}{_locale()}{'o' if official else 'p'}"
    polling = _is_htmx()
    if polling and request.if_none_match.contains(etag):
        return _not_modified(etag)
    final = req.status in states.FINAL_STATUSES

    def context() -> dict:
        actions = []
        if official and "officials.act" in current_app.view_functions:
            actions = states.actions_for(req.status, kind=req.service.kind)
        return {
            "req": req,
            "village": req.village,
            "service": req.service,
            "shown_name": req.name if official or anyone else _shown_name(req),
            "timeline": _timeline(req),
            "reason": _reason(req),
            "etag": etag,
            "official": official,
            "actions": actions,
            "owner": not anyone and submitted_here(req.tracking_code),
            # What the phone shows without signal is "the status as of" this: when it was read.
            "rendered_at": models.utcnow(),
        }

    if anyone:
        key = ("track", req.tracking_code, req.version)
        response = render_shared(
            "residents/track.html", key, context, "residents/_track_status.html", req=req
        )
    else:
        response = render("residents/track.html", fragment="residents/_track_status.html", **context())
    if polling:
        response.set_etag(etag)
        if final:
            response.status_code = 286  # htmx stops polling: a final status never changes again
    response.headers["Cache-Control"] = "private, no-cache"
    response.vary.add("Cookie")
    return response


def _timeline(req: ServiceRequest | ShownRequest) -> list[dict]:
    """What happened, with dates, then the main steps still to come."""
    kind = req.service.kind
    steps = [
        {
            "status": change.to_status,
            "label": status_label(change.to_status, kind),
            "at": change.created_at,
            "note": change.note if change.action in ("request_fix", "reject", "resolve") else "",
            "done": True,
        }
        for change in req.history
    ]
    path = states.MAIN_PATHS.get(kind, states.MAIN_PATHS[states.LETTER])
    if req.status in path:
        for status in path[path.index(req.status) + 1 :]:
            steps.append({"status": status, "label": status_label(status, kind), "done": False})
    return steps


def _reason(req: ServiceRequest | ShownRequest) -> str:
    if req.status not in (states.PERLU_PERBAIKAN, states.DITOLAK):
        return ""
    for change in reversed(req.history):
        if change.to_status == req.status:
            return change.note
    return ""


# --- the resident's private link ------------------------------------------------------------


def _letter_model():
    """The officials' Letter model, when that area is installed (looked up, never required)."""
    model = getattr(models, "Letter", None)
    if model is None:
        try:
            from app.models.letters import Letter as model
        except ImportError:
            return None
    return model if hasattr(model, "request_id") else None


def _letter_url(req: ServiceRequest, token: str) -> str | None:
    """The letter PDF link, when the officials' area serves it and the letter is issued."""
    if "officials.letter_for_resident" not in current_app.view_functions or req.service.is_complaint:
        return None
    letter_model = _letter_model()
    if letter_model is None:
        if req.status not in (states.SIAP_DIAMBIL, states.SELESAI):
            return None
    else:
        letter = db.session.scalar(select(letter_model).where(letter_model.request_id == req.id))
        if letter is None or not getattr(letter, "is_issued", True):
            return None
    return f"/permohonan/{token}/surat.pdf"


def _fix_form(req: ServiceRequest, formdata=True):
    service = req.service
    if formdata:
        form = request_form(service, FixForm)
    else:
        values = {FIELD_PREFIX + k: v for k, v in (req.data or {}).items()}
        form = request_form(
            service,
            FixForm,
            formdata=None,
            name=req.name,
            email=req.email or "",
            purpose=req.purpose,
            version=str(req.version),
            **({"hide_name": req.hide_name} if service.is_complaint else {}),
            **values,
        )
    form.nik.blank_means_unchanged = True
    form.phone.blank_means_unchanged = True
    form.nik.label.text = _("NIK (kosongkan bila tidak berubah)")
    form.phone.label.text = _("Nomor HP / WhatsApp (kosongkan bila tidak berubah)")
    return form


def _private_page(req, token, form=None, photos=None, status=200, error=None):
    kept = {}
    for attachment in req.attachments:
        kept[attachment.doc_key] = attachment
    response = render(
        "residents/private.html",
        status=status,
        req=req,
        village=req.village,
        service=req.service,
        token=token,
        form=form,
        photos=photos or {},
        attached=kept,
        error=error,
        timeline=_timeline(req),
        reason=_reason(req),
        masked_nik=mask_nik(req.nik),
        masked_phone=mask_phone(req.phone) if req.phone else "",
        letter_url=_letter_url(req, token),
        office=_office_for_pickup(req),
        tracking_url=url_for("residents.track", code=req.tracking_code),
        max_photo_bytes=current_app.config["MAX_PHOTO_BYTES"],
    )
    return _no_store(response)


def _office_for_pickup(req: ServiceRequest):
    """A letter ready to collect: is its signer (the village head) at the balai now, and who else is."""
    if req.status != states.SIAP_DIAMBIL or req.service.is_complaint:
        return None
    return attendance.office_now(req.village_id)


@bp.route("/permohonan/<token>", methods=["GET", "POST"])
@limits.counts_photo_uploads
def private(token: str):
    req = workflow.find_by_fix_token(token)
    if req is None:
        abort(404)
    if request.method == "GET":
        form = _fix_form(req, formdata=False) if req.status == states.PERLU_PERBAIKAN else None
        return _private_page(req, token, form)
    if req.status != states.PERLU_PERBAIKAN:
        flash(_("Permohonan ini tidak sedang menunggu perbaikan."))
        return redirect(url_for("residents.private", token=token), 303)

    service = req.service
    form = _fix_form(req)
    valid = form.validate()
    valid = check_selects(form, service) and valid
    photos, photos_ok = intake.collect(form, service, f"fix:{req.id}", require=False)
    if not (valid and photos_ok):
        return _private_page(req, token, form, photos, status=422)

    data = service_data(form, service)
    changes = {
        "name": " ".join(form.name.data.split()),
        "email": (form.email.data or "").strip() or None,
        "purpose": form.purpose.data.strip(),
        "data": data,
    }
    if form.nik.data:
        changes["nik"] = form.nik.data
    if form.phone.data:
        changes["phone"] = form.phone.data
    if service.is_complaint:
        changes["category"] = data.get("kategori") or None
        changes["hide_name"] = bool(form.hide_name.data)
    replaced = [a for a in req.attachments if a.doc_key in photos]
    try:
        workflow.apply_action(
            req,
            "resubmit",
            actor=None,
            by=states.RESIDENT,
            expected_version=int(form.version.data),
            changes=changes,
        )
    except DomainError as err:
        db.session.rollback()
        req = workflow.find_by_fix_token(token)
        return _private_page(req, token, None, status=409, error=_(err.message, **err.params))
    old_names = [a.stored_name for a in replaced]
    for attachment in replaced:
        db.session.delete(attachment)
    db.session.flush()
    for photo in photos.values():
        db.session.add(photo.attachment(req.id))
    events.emit(events.REQUEST_RESUBMITTED, request_id=req.id, village_id=req.village_id)
    db.session.commit()
    store = intake.store()
    for name in old_names:
        store.delete(name)
    flash(_("Perbaikan sudah dikirim. Petugas desa akan memeriksanya lagi."))
    return redirect(url_for("residents.private", token=token), 303)


# --- "Permohonan saya" ------------------------------------------------------------------------


def _clean_codes(raw: list[str]) -> list[str]:
    codes = []
    for item in raw[:MINE_MAX]:
        try:
            code = normalize_tracking_code(item)
        except DomainError:
            continue
        if code not in codes:
            codes.append(code)
    return codes


@bp.route("/saya")
def mine():
    codes = receipts.codes()

    def context() -> dict:
        return {"rows": tracked.statuses(codes), "held": set(codes), "rendered_at": models.utcnow()}

    # The list shows nothing the tracking page does not show to anyone with these codes (no name,
    # NIK, phone or private link): rendered once for this set of codes until the next write.
    return render_shared("residents/mine.html", ("mine", *codes), context)


@bp.route("/saya/<code>")
def mine_private(code: str):
    """The private page of a request sent from this phone (its link stays sealed in the session)."""
    token = receipts.private_token(code) if receipts.holds(code) else None
    if token is None:
        return redirect(url_for("residents.track", code=code))
    response = redirect(url_for("residents.private", token=token), 303)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/lacak/tautan", methods=["GET", "POST"])
@limiter.limit(limits.configured("LINK_ADDRESS_LIMIT"), key_func=limits.address_key, methods=["POST"])
@limiter.limit(limits.configured("LINK_CODE_LIMIT"), key_func=limits.code_key("kode"), methods=["POST"])
def ask_link():
    """A fresh private link, sent to the phone number on the request: for a resident on another phone.

    The page never says whether code, NIK and number matched (so it tests no NIK), and never shows
    the link: it goes only to the number the request holds.
    """
    if request.method == "GET":
        form = LinkForm(formdata=None, kode=(request.args.get("kode") or "")[:20])
        return _no_store(render("residents/ask_link.html", form=form))
    form = LinkForm()
    if not form.validate():
        return _no_store(render("residents/ask_link.html", form=form, status=422))
    req = _request_by_code(form.kode.data)
    if req is not None and req.nik == form.nik.data and req.phone and req.phone == form.phone.data:
        events.emit(events.PRIVATE_LINK_ASKED, request_id=req.id, village_id=req.village_id)
        db.session.commit()
    flash(
        _(
            "Bila kode, NIK dan nomor HP itu cocok dengan sebuah permohonan, link pribadi yang baru "
            "kami kirim ke nomor HP tersebut lewat WhatsApp atau SMS dalam beberapa menit."
        )
    )
    return redirect(url_for("residents.ask_link"), 303)


@bp.route("/saya/status")
@limiter.limit("30 per minute")
@limits.counts_code_misses
def mine_status():
    codes = _clean_codes(request.args.getlist("kode"))
    rows = tracked.statuses(codes)
    # Each code nobody holds is a guess, counted like one typed on /lacak; a batch with more
    # misses than the address has left is refused whole (and spends what was left, so the
    # refusal itself is no free hint).
    missed, left = len(codes) - len(rows), limits.code_guesses_left()
    if missed > left:
        limits.code_missed(left)
        abort(429)
    limits.code_missed(missed)
    response = render("residents/_mine_rows.html", rows=rows, held=set(receipts.codes()))
    response.headers["Cache-Control"] = "no-store"
    return response


# --- posters and the queue screen -----------------------------------------------------------


@bp.route("/desa/<slug>/poster")
def poster(slug: str):
    village = shown_village_or_404(slug)
    url = _absolute(url_for("residents.services", slug=village.slug))
    return render(
        "residents/poster.html",
        village=village,
        url=url,
        qr=qr_svg(url, _("Kode QR layanan %(village)s", village=village.display_name)),
        tracking=False,
    )


@bp.route("/desa/<slug>/poster-lacak")
def poster_track(slug: str):
    village = shown_village_or_404(slug)
    url = _absolute(url_for("residents.track_form"))
    return render(
        "residents/poster.html",
        village=village,
        url=url,
        qr=qr_svg(url, _("Kode QR halaman lacak")),
        tracking=True,
    )


@bp.route("/desa/<slug>/antrian")
def queue(slug: str):
    village = shown_village_or_404(slug)
    rows = db.session.execute(
        select(ServiceRequest.tracking_code, ServiceRequest.status)
        .join(Service, Service.id == ServiceRequest.service_id)
        .where(
            ServiceRequest.village_id == village.id,
            ServiceRequest.status.in_((states.SIAP_DIAMBIL, *QUEUE_WORKING)),
            Service.kind == states.LETTER,  # the letters queue: complaints are nobody's to collect
            village_desk(),
        )
        .order_by(ServiceRequest.submitted_at, ServiceRequest.id)
    ).all()
    all_ready = [code for code, status in rows if status == states.SIAP_DIAMBIL]
    all_working = [code for code, status in rows if status in QUEUE_WORKING]
    ready, working = all_ready[:QUEUE_SHOWN], all_working[:QUEUE_SHOWN]
    office, checkin_url = _office_screen(village)
    fingerprint = (
        "|".join(ready)
        + "/"
        + "|".join(working)
        + f"/{len(all_ready)}/{len(all_working)}/"
        + _locale()
        + repr(office)
        + (checkin_url or "")
    )
    etag = "q" + hashlib.sha256(fingerprint.encode()).hexdigest()[:20]
    polling = _is_htmx()
    if polling and request.if_none_match.contains(etag):
        return _not_modified(etag)
    response = render(
        "residents/queue.html",
        fragment="residents/_queue.html",
        village=village,
        ready=ready,
        working=working,
        more_ready=len(all_ready) - len(ready),
        more_working=len(all_working) - len(working),
        etag=etag,
        office=office,
        checkin_url=checkin_url,
        checkin_qr=qr_svg(checkin_url, _("Kode QR absen petugas")) if checkin_url else None,
        pair_url=url_for("officials.attendance_pair")
        if "officials.attendance_pair" in current_app.view_functions
        else None,
    )
    if polling:
        response.set_etag(etag)
    response.headers["Cache-Control"] = "no-cache"
    return response


def _office_screen(village: Village):
    """Who is in and today's hours, and on a TV set up for it, the link of the check-in QR (new every 30 s)."""
    office = attendance.office_now(village.id)
    if "officials.attendance_scan" not in current_app.view_functions or not attendance.screen_is_paired(
        village.id, request.cookies.get(attendance.SCREEN_COOKIE)
    ):
        return office, None
    code = attendance.screen_code(village.id)
    return office, _absolute(url_for("officials.attendance_scan", code=code))
