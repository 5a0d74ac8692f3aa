"""Workbench pages: thin views that check access, call the workflow or letters, and render."""

from __future__ import annotations

import base64
import io
import secrets

from flask import Response, abort, current_app, flash, make_response, redirect, request, url_for
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import delete, select
from sqlalchemy.orm import selectinload

from app import letters, workflow
from app.access import (
    can_read_request,
    can_relax_head_approval,
    can_work_request,
    can_work_village,
    village_desk,
    village_filter,
)
from app.datacache import cached_markup, render_block, render_whole
from app.domain import states
from app.domain.errors import DomainError
from app.domain.letters import validate_number_pattern
from app.domain.nik import parse_nik
from app.domain.phone import normalize_phone
from app.domain.storage import InvalidPhotoName, PhotoStore
from app.domain.text import mask_name, parse_rupiah
from app.exports import csv_download
from app.extensions import db
from app.i18n import action_label, status_label, translated
from app.models import Attachment, Holiday, Role, Service, ServiceRequest, User, Village
from app.officials import bp, holidays, queue, reports
from app.officials.forms import (
    CounterForm,
    HolidayForm,
    LetterSettingsForm,
    ServiceForm,
    format_documents,
    format_fields,
    parse_documents,
    parse_fields,
)
from app.population import register as population_register
from app.web import (
    reading_village,
    render,
    roles_required,
    safe_next,
    village_row_or_404,
)

READERS = (Role.OPERATOR, Role.HEAD, Role.REGION_ADMIN, Role.SUPERADMIN)
WORKERS = (Role.OPERATOR, Role.HEAD)
PRIVATE = "private, no-store"


# ---------------------------------------------------------------- helpers


def _is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true" and request.headers.get("HX-Boosted") != "true"


def _reading_village() -> Village | None:
    """The village whose work is shown: the official's own, or the one a region admin picked."""
    return reading_village(WORKERS)


def _working_village() -> Village:
    """The official's own village, for pages that change it."""
    village = current_user.village
    if village is None or not can_work_village(current_user, village):
        abort(403)
    return village


def _village_args(village: Village) -> dict:
    return {} if current_user.role in WORKERS else {"desa": village.id}


def _pick_village():
    villages = db.session.scalars(
        select(Village)
        .where(village_filter(current_user), Village.active.is_(True))
        .order_by(Village.name)
        .limit(300)
    ).all()
    return render("officials/pick_village.html", villages=villages, endpoint=request.endpoint)


def _request_or_404(request_id: int) -> ServiceRequest:
    req = db.session.get(
        ServiceRequest,
        request_id,
        options=[selectinload(ServiceRequest.history), selectinload(ServiceRequest.attachments)],
        populate_existing=True,
    )
    if req is None or not can_read_request(current_user, req):
        abort(404)
    return req


# ---------------------------------------------------------------- queue


def _filter_urls(vargs: dict) -> dict[str, str]:
    """The queue's one-click filters (each status, overdue only) and its own address, from one
    url_for (each cost ~20 µs; a page has a dozen). ``vargs`` holds at most a village id."""
    here = url_for("officials.home", **vargs)
    base = url_for("officials.home")
    tail = "".join(f"&{key}={int(value)}" for key, value in vargs.items())
    urls = {status: f"{base}?status={status}{tail}" for status in states.STATUSES}
    return {**urls, "late": f"{base}?lewat=1{tail}", "here": here}


def _request_url_prefix() -> str:
    """A request page's address but its id, built once a page (built per row, it cost more than the row)."""
    url = url_for("officials.request_detail", request_id=0)
    if not url.endswith("/0"):
        raise RuntimeError(f"a request's address no longer ends in its id: {url}")
    return url[:-1]


@bp.route("/", methods=["GET", "POST"])
@roles_required(*READERS)
def home():
    village = _reading_village()
    if village is None:
        return _pick_village()
    vargs = _village_args(village)
    # The filter form posts, so that a NIK typed into the search never enters a URL (history, logs,
    # Referer). A search that may be a NIK is answered to the POST itself; any other one is sent
    # on to its GET address, which can be bookmarked and shared.
    posted = request.method == "POST"
    flt = queue.QueueFilter.from_args(request.form if posted else request.args)
    if flt.private and not posted:
        return redirect(url_for("officials.home", **flt.args(), **vargs), 303)
    if posted and not flt.private and not _is_htmx():
        return redirect(url_for("officials.home", **flt.args(), **vargs), 303)
    today = workflow.local_today()
    can_work = can_work_village(current_user, village)
    partial = _is_htmx()

    def context() -> dict:
        page = queue.queue_page(village.id, flt, today)
        shown = {
            "village": village,
            "page": page,
            # Whether each NIK is in the village's register (its own officials only; never residents).
            "register_matches": population_register.matches(village.id, [(r.nik, r.name) for r in page.rows])
            if can_work
            else {},
            "today": today,
            "vargs": vargs,
            "qargs": {**flt.args(), **vargs},
            "open_statuses": states.OPEN_STATUSES,
            "request_url": _request_url_prefix(),
            "statuses": translated(states.STATUS_LABELS),
        }
        if not partial:
            counts, work = queue.desk_counts(village.id, today)
            shown.update(
                filter_urls=_filter_urls(vargs),
                counts=counts,
                work=work,
                services=queue.service_options(village.id),
                can_work=can_work,
            )
        return shown

    if flt.q:  # a search (perhaps a NIK) is answered afresh and never kept
        response = render("officials/home.html", fragment="officials/_queue.html", **context())
    else:
        response = _kept_queue(village, flt, today, can_work, partial, context)
    if posted:
        # htmx shows the address of what it shows, a private search left out.
        response.headers["HX-Push-Url"] = url_for("officials.home", **flt.args(), **vargs)
    return response


def _kept_queue(village: Village, flt: queue.QueueFilter, today, can_work: bool, partial: bool, context):
    """The queue without a search, rendered once until the next write for every official who may
    read the village (app/datacache.py): what it shows follows from the key alone (village, filter,
    page, day, whether the reader works there, locale, address). The menu, name and bell around it
    are each official's own, rendered per request; the form's CSRF token is each one's own too."""
    key = (
        village.id,
        tuple(sorted(flt.args().items())),
        flt.after,
        today,
        can_work,
        str(get_locale()),
        request.script_root,
        current_user.role in WORKERS,  # the links carry ?desa= for region staff
    )
    if partial:
        body = cached_markup(("queue-rows", *key), lambda: render_whole("officials/_queue.html", context()))
        response = make_response(body)
        response.vary.add("HX-Request")
        return response
    main = cached_markup(("queue", *key), lambda: render_block("officials/home.html", "main", context()))
    return render("officials/home.html", village=village, cached_main=main)


@bp.route("/pengaduan-wilayah")
@roles_required(Role.REGION_ADMIN, Role.SUPERADMIN)
def region_complaints():
    """Complaints about a village office or its officials, sent to the region above it: its admins' queue."""
    rows = db.session.scalars(
        select(ServiceRequest)
        .join(Village, Village.id == ServiceRequest.village_id)
        .where(~village_desk(), village_filter(current_user))
        .order_by(
            ServiceRequest.status.in_(sorted(states.FINAL_STATUSES)), ServiceRequest.submitted_at.desc()
        )
        .limit(200)
    ).all()
    return render(
        "officials/region_complaints.html", rows=rows, today=workflow.local_today(), is_late=queue.is_late
    )


# ---------------------------------------------------------------- one request


def _detail(req: ServiceRequest, *, status: int = 200, error: str | None = None, conflict: str | None = None):
    village = req.village
    letter = letters.letter_for(req.id)
    can_work = can_work_request(current_user, req)
    actions = []
    if can_work:
        for action in states.actions_for(req.status, kind=req.service.kind):
            label = action_label(action, req.service.kind)
            if action.name == "mark_ready" and letters.is_letter_service(req.service):
                if letter is not None and not letter.is_issued and current_user.role != Role.HEAD:
                    continue
                if letters.needs_approval(req, current_user):
                    label = _("Ajukan surat ke %(title)s", title=village.head_title)
                elif current_user.role == Role.HEAD and letter is not None and not letter.is_issued:
                    label = _("Setujui dan terbitkan surat")
                else:
                    label = _("Terbitkan surat dan tandai siap diambil")
            actions.append((action, label))
    # A complaint's category is shown once, from its own column, not again among the answers.
    shown = [f for f in req.service.fields or [] if not (req.category and f.get("name") == "kategori")]
    fields = [(f.get("label") or f.get("name"), (req.data or {}).get(f.get("name"), "")) for f in shown]
    known = {f.get("name") for f in req.service.fields or []}
    fields += [(key, value) for key, value in (req.data or {}).items() if key not in known]
    today = workflow.local_today()
    return render(
        "officials/request.html",
        fragment="officials/_request.html",
        status=status,
        req=req,
        village=village,
        letter=letter,
        actions=actions,
        fields=fields,
        can_work=can_work,
        late=queue.is_late(req, today),
        error=error,
        conflict=conflict,
        next_url=safe_next(request.values.get("next")),
        vargs=_village_args(village),
        assisted_by=db.session.get(User, req.assisted_by_id) if req.assisted_by_id else None,
        register_card=population_register.request_card(req) if can_work else None,
        prefill_labels=translated(population_register.PREFILL_FIELDS),
    )


@bp.route("/permohonan/<int:request_id>")
@roles_required(*READERS)
def request_detail(request_id: int):
    return _detail(_request_or_404(request_id))


@bp.route("/permohonan/<int:request_id>/aksi", methods=["POST"])
@roles_required(*READERS)
def act(request_id: int):
    req = _request_or_404(request_id)
    if not can_work_request(current_user, req):
        abort(403)
    action = request.form.get("action", "")
    note = (request.form.get("note") or "").strip()[:2000]
    version = request.form.get("version", "")
    if not version.isdecimal():
        abort(400)
    try:
        message = _perform(req, action, note, int(version))
        db.session.commit()
    except workflow.StaleRequest as err:
        db.session.rollback()
        fresh = db.session.get(ServiceRequest, request_id)
        db.session.refresh(fresh)
        # htmx swaps only 2xx/422 into the page; a plain form gets the honest 409 Conflict.
        return _detail(fresh, status=422 if _is_htmx() else 409, conflict=_(err.message, **err.params))
    except DomainError as err:
        db.session.rollback()
        fresh = db.session.get(ServiceRequest, request_id)
        return _detail(fresh, status=422, error=_(err.message, **err.params))
    flash(message)
    target = safe_next(request.form.get("next"))
    if _is_htmx() and target is None:
        return _detail(db.session.get(ServiceRequest, request_id))
    return redirect(target or url_for("officials.request_detail", request_id=request_id), 303)


def _perform(req: ServiceRequest, action: str, note: str, version: int) -> str:
    """Take one action on the request and say what happened."""
    if action == "mark_ready" and letters.is_letter_service(req.service):
        if version != req.version:
            raise workflow._stale(req)
        if letters.needs_approval(req, current_user):
            letters.request_approval(req, current_user, expected_version=version)
            return _("Surat diajukan ke %(title)s untuk disetujui.", title=req.village.head_title)
        letter = letters.issue(
            req,
            current_user,
            expected_version=version,
            note=note,
            base_url=current_app.config["BASE_URL"],
            upload_dir=current_app.config["UPLOAD_DIR"],
        )
        return _("Surat nomor %(number)s terbit. Permohonan siap diambil.", number=letter.number)
    workflow.apply_action(req, action, actor=current_user, note=note, expected_version=version)
    return _("Status permohonan sekarang: %(status)s.", status=status_label(req.status, req.service.kind))


@bp.route("/lampiran/<int:attachment_id>")
@roles_required(*READERS)
def attachment(attachment_id: int):
    """An ID photo or document, only for those who work the request, never cached."""
    item = db.session.get(Attachment, attachment_id)
    req = db.session.get(ServiceRequest, item.request_id) if item else None
    if req is None or not can_work_request(current_user, req):
        abort(404 if current_user.role in WORKERS or req is None or req.to_region else 403)
    try:
        data = PhotoStore(current_app.config["UPLOAD_DIR"]).open(item.stored_name)
    except (InvalidPhotoName, FileNotFoundError):
        abort(404)
    response = Response(data, mimetype=item.mime)
    response.headers["Cache-Control"] = PRIVATE
    return response


def _pdf_response(data: bytes, filename: str) -> Response:
    response = Response(data, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    response.headers["Cache-Control"] = PRIVATE
    return response


@bp.route("/permohonan/<int:request_id>/surat.pdf")
@roles_required(*READERS)
def letter_pdf(request_id: int):
    req = _request_or_404(request_id)
    letter = letters.letter_for(req.id)
    if letter is None or not letter.is_issued:
        abort(404)
    return _pdf_response(letter.pdf, f"surat-{req.tracking_code}.pdf")


@bp.route("/permohonan/<int:request_id>/surat-draf.pdf")
@roles_required(*WORKERS)
def letter_draft(request_id: int):
    req = _request_or_404(request_id)
    if not can_work_village(current_user, req.village) or not letters.is_letter_service(req.service):
        abort(404)
    try:
        data = letters.draft_pdf(req, current_user, upload_dir=current_app.config["UPLOAD_DIR"])
    except DomainError as err:
        return _detail(req, status=422, error=_(err.message, **err.params))
    return _pdf_response(data, f"draf-{req.tracking_code}.pdf")


# ---------------------------------------------------------------- services


@bp.route("/layanan")
@roles_required(*WORKERS)
def services():
    village = _working_village()
    return render("officials/services.html", village=village, services=queue.village_services(village.id))


def _service_or_404(village: Village, service_id: int) -> Service:
    service = village_row_or_404(Service, service_id, village)
    return service


@bp.route("/layanan/baru", methods=["GET", "POST"])
@bp.route("/layanan/<int:service_id>", methods=["GET", "POST"])
@roles_required(*WORKERS)
def service_form(service_id: int | None = None):
    village = _working_village()
    service = _service_or_404(village, service_id) if service_id else None
    form = ServiceForm(obj=service)
    if request.method == "GET":
        if service is not None:
            form.fields_text.data = format_fields(service.fields)
            form.documents_text.data = format_documents(service.documents)
            form.fee.data = str(service.fee)
        else:
            form.letter_template.data = letters.DEFAULT_BODY
    if form.validate_on_submit() and _save_service(village, service, form):
        db.session.commit()
        flash(_("Layanan %(name)s disimpan.", name=form.name.data))
        return redirect(url_for("officials.services"), 303)
    return render(
        "officials/service_form.html",
        village=village,
        service=service,
        form=form,
        placeholders=sorted(letters.common_placeholders()),
        status=422 if form.errors else 200,
    )


def _save_service(village: Village, service: Service | None, form: ServiceForm) -> bool:
    try:
        fields = parse_fields(form.fields_text.data or "")
    except DomainError as err:
        form.fields_text.errors.append(_(err.message, **err.params))
        return False
    try:
        documents = parse_documents(form.documents_text.data or "")
    except DomainError as err:
        form.documents_text.errors.append(_(err.message, **err.params))
        return False
    try:
        fee = parse_rupiah(form.fee.data or "0", allow_zero=True)
    except DomainError as err:
        form.fee.errors.append(_(err.message, **err.params))
        return False
    code = form.code.data.strip()
    clash = db.session.scalar(
        select(Service.id).where(Service.village_id == village.id, Service.code == code)
    )
    if clash is not None and (service is None or clash != service.id):
        form.code.errors.append(_("Kode ini sudah dipakai layanan lain di desa ini."))
        return False
    target = service or Service(village_id=village.id, active=True)
    target.fields = fields
    template = (form.letter_template.data or "").replace("\r\n", "\n").strip()
    try:
        letters.check_template(target, template)
    except DomainError as err:
        form.letter_template.errors.append(_(err.message, **err.params))
        return False
    target.code = code
    target.name = form.name.data.strip()
    target.kind = form.kind.data
    target.description = (form.description.data or "").strip()
    target.sla_days = form.sla_days.data
    target.fee = fee
    target.classification_code = (form.classification_code.data or "").strip()
    target.documents = documents
    target.letter_template = template
    target.position = form.position.data or 0
    db.session.add(target)
    return True


@bp.route("/layanan/<int:service_id>/aktif", methods=["POST"])
@roles_required(*WORKERS)
def toggle_service(service_id: int):
    village = _working_village()
    service = _service_or_404(village, service_id)
    service.active = not service.active
    db.session.commit()
    flash(
        _("Layanan %(name)s dibuka lagi.", name=service.name)
        if service.active
        else _("Layanan %(name)s dihentikan; permohonan yang sudah masuk tetap diproses.", name=service.name)
    )
    return redirect(url_for("officials.services"), 303)


@bp.route("/pengaturan-surat", methods=["GET", "POST"])
@roles_required(*READERS)
def letter_settings():
    """Numbering (the village's officials) and the head's approval (see letters.change_settings)."""
    village = _reading_village()
    if village is None:
        return _pick_village()
    settings = letters.settings_for(village.id)
    numbering = can_work_village(current_user, village)
    relaxable = can_relax_head_approval(current_user, village)
    # A field left out of a POST keeps its current value (an operator's page has no "off" to send).
    form = LetterSettingsForm(
        numbering_mode=settings.numbering_mode,
        number_pattern=settings.number_pattern,
        require_head_approval="ya" if settings.require_head_approval else "tidak",
    )
    if not numbering:
        del form.numbering_mode, form.number_pattern
    status, error = 200, None
    if form.validate_on_submit():
        values = {"require_head_approval": form.require_head_approval.data == "ya"}
        if numbering:
            values.update(
                numbering_mode=form.numbering_mode.data, number_pattern=form.number_pattern.data.strip()
            )
        try:
            if numbering:
                validate_number_pattern(values["number_pattern"])
        except DomainError as err:
            form.number_pattern.errors.append(_(err.message, **err.params))
        else:
            try:
                changes = letters.change_settings(village, current_user, **values)
            except DomainError as err:
                db.session.rollback()
                # Refused as a whole, what was typed stays on the page.
                status, error = 403, _(err.message, **err.params)
            else:
                db.session.commit()
                flash(_("Pengaturan surat disimpan.") if changes else _("Tidak ada yang berubah."))
                return redirect(url_for("officials.letter_settings", **_village_args(village)), 303)
    if form.errors:
        status = 422
    return render(
        "officials/settings.html",
        village=village,
        settings=settings,
        form=form,
        numbering=numbering,
        relaxable=relaxable,
        history=letters.setting_history(village.id),
        vargs=_village_args(village),
        error=error,
        status=status,
    )


# ---------------------------------------------------------------- holidays


@bp.route("/libur", methods=["GET", "POST"])
@roles_required(*WORKERS)
def holiday_list():
    village = _working_village()
    form = HolidayForm()
    if form.validate_on_submit():
        day = form.day.data
        taken = db.session.scalar(
            select(Holiday.id).where(
                Holiday.day == day, (Holiday.village_id == village.id) | Holiday.village_id.is_(None)
            )
        )
        if taken is not None:
            form.day.errors.append(_("Tanggal ini sudah tercatat sebagai hari libur."))
        else:
            db.session.add(Holiday(village_id=village.id, day=day, name=form.name.data.strip()))
            db.session.flush()
            moved = holidays.recompute_due_dates(village.id, day)
            db.session.commit()
            flash(
                ngettext(
                    "Hari libur disimpan; %(num)s tenggat permohonan disesuaikan.",
                    "Hari libur disimpan; %(num)s tenggat permohonan disesuaikan.",
                    moved,
                )
            )
            return redirect(url_for("officials.holiday_list"), 303)
    return render(
        "officials/holidays.html",
        village=village,
        form=form,
        rows=holidays.upcoming(village.id, workflow.local_today()),
        status=422 if form.errors else 200,
    )


@bp.route("/libur/<int:holiday_id>/hapus", methods=["POST"])
@roles_required(*WORKERS)
def holiday_delete(holiday_id: int):
    village = _working_village()
    row = village_row_or_404(Holiday, holiday_id, village)
    day = row.day
    db.session.execute(delete(Holiday).where(Holiday.id == holiday_id))
    moved = holidays.recompute_due_dates(village.id, day)
    db.session.commit()
    flash(
        ngettext(
            "Hari libur dihapus; %(num)s tenggat permohonan disesuaikan.",
            "Hari libur dihapus; %(num)s tenggat permohonan disesuaikan.",
            moved,
        )
    )
    return redirect(url_for("officials.holiday_list"), 303)


# ---------------------------------------------------------------- reports


@bp.route("/laporan")
@roles_required(*READERS)
def report():
    village = _reading_village()
    if village is None:
        return _pick_village()
    month = reports.parse_month(request.args.get("bulan"), workflow.local_today())
    rows = reports.monthly_report(village.id, month)
    return render(
        "officials/reports.html", village=village, month=month, rows=rows, vargs=_village_args(village)
    )


@bp.route("/laporan.csv")
@roles_required(*READERS)
def report_csv():
    village = _reading_village()
    if village is None:
        abort(404)
    month = reports.parse_month(request.args.get("bulan"), workflow.local_today())
    body = reports.to_csv(reports.monthly_report(village.id, month), month)
    return csv_download(body, f"laporan-{village.slug}-{month:%Y-%m}.csv", private=True)


# ---------------------------------------------------------------- counter


def _counter_service(village: Village) -> Service | None:
    raw = request.values.get("layanan", "")
    if not raw.isdecimal():
        return None
    service = db.session.get(Service, int(raw))
    if service is None or service.village_id != village.id or not service.active:
        return None
    return service


@bp.route("/loket", methods=["GET", "POST"])
@roles_required(*WORKERS)
def counter():
    """File a request for a resident at the counter, then print the slip for them."""
    village = _working_village()
    service = _counter_service(village)
    form = CounterForm()
    if request.method == "GET":
        form.idempotency_key.data = secrets.token_hex(16)
    if service is None:
        offered = [s for s in queue.village_services(village.id) if s.active]
        return render("officials/counter.html", village=village, service=None, services=offered, form=form)
    values = {
        f["name"]: (request.form.get(f"f_{f['name']}") or "").strip()[:500] for f in service.fields or []
    }
    errors: dict[str, str] = {}
    if form.validate_on_submit():
        submitted = _counter_submit(village, service, form, values, errors)
        if submitted is not None:
            return _slip(submitted)
    status = 422 if (form.errors or errors) else 200
    return render(
        "officials/counter.html",
        village=village,
        service=service,
        form=form,
        values=values,
        errors=errors,
        status=status,
    )


def _counter_submit(village, service, form, values, errors):
    nik = phone = None
    try:
        nik = parse_nik(form.nik.data).nik
    except DomainError as err:
        form.nik.errors.append(_(err.message, **err.params))
    if form.phone.data:
        try:
            phone = normalize_phone(form.phone.data)
        except DomainError as err:
            form.phone.errors.append(_(err.message, **err.params))
    for f in service.fields or []:
        if f.get("required") and not values.get(f["name"]):
            errors[f["name"]] = _("Isian ini wajib diisi.")
        elif (
            f.get("type") == "select"
            and values.get(f["name"])
            and values[f["name"]] not in f.get("options", [])
        ):
            errors[f["name"]] = _("Pilih salah satu pilihan.")
    key = (form.idempotency_key.data or "").strip()
    if form.nik.errors or form.phone.errors or errors or not (8 <= len(key) <= 64):
        return None
    try:
        submitted = workflow.submit_request(
            village,
            service,
            nik=nik,
            name=form.name.data.strip(),
            phone=phone,
            idempotency_key=key,
            data={k: v for k, v in values.items() if v},
            purpose=(form.purpose.data or "").strip(),
            channel="counter",
            assisted_by=current_user,
            locale="id",
        )
        db.session.commit()
    except DomainError as err:
        db.session.rollback()
        form.name.errors.append(_(err.message, **err.params))
        return None
    return submitted


def _slip(submitted: workflow.Submitted):
    req = submitted.request
    private_url = qr = None
    if submitted.fix_token:
        private_url = current_app.config["BASE_URL"] + url_for(
            "officials.letter_for_resident", token=submitted.fix_token
        )
        qr = _qr_data_uri(private_url)
    response = render(
        "officials/slip.html",
        req=req,
        village=req.village,
        masked_name=mask_name(req.name),
        private_url=private_url,
        qr=qr,
        replay=not submitted.created,
        status=201 if submitted.created else 200,
    )
    # The slip holds the resident's private link: never keep it in a cache.
    response.headers["Cache-Control"] = PRIVATE
    return response


def _qr_data_uri(url: str) -> str:
    import qrcode

    image = qrcode.make(url, border=2, box_size=4)
    buffer = io.BytesIO()
    image.save(buffer)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
