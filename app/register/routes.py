"""/kantor/penduduk: a village's register, for that village's officials only.

Every look is logged (who, when, which person as a keyed digest of the NIK). A NIK is searched with
a POST form, so it never enters a URL, an access log or the browser's history. NIK-level exports
exist only in the superadmin's privacy tools (/admin/data-pribadi).
"""

from __future__ import annotations

import csv
import io
import re

from flask import Response, abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import or_, select

from app.access import can_work_village
from app.domain import opensid, states
from app.domain.errors import N_, DomainError
from app.domain.opensid import PayloadError
from app.extensions import db
from app.i18n import coded, translated
from app.models import Role, ServiceRequest, Village
from app.models.population import SOURCE_IMPORT, AidProgramme, AidRecipient, Resident, SyncPush
from app.population import pushes, register
from app.register import bp
from app.register.forms import CorrectionForm, ImportForm, SearchForm
from app.stats.population import DIMENSION_LABELS
from app.web import render, roles_required, village_row_or_404
from app.workflow import local_today

WORKERS = (Role.OPERATOR, Role.HEAD)
PRIVATE = "private, no-store"
_DIGIT_RUN = re.compile(r"\d{10,}")


def _village() -> Village:
    """The official's own village: the register is theirs alone."""
    village = current_user.village
    if village is None or not can_work_village(current_user, village):
        abort(403)
    return village


def _private(response: Response) -> Response:
    response.headers["Cache-Control"] = PRIVATE
    return response


# --- the register ----------------------------------------------------------------------------


@bp.route("/penduduk/", methods=["GET", "POST"])
@roles_required(*WORKERS)
def index():
    village = _village()
    form = SearchForm()
    q, page, refused, status = "", 1, False, 200
    if request.method == "POST":
        if form.validate_on_submit():
            q = form.q.data.strip()
            page = int(form.halaman.data) if (form.halaman.data or "").isdigit() else 1
        else:
            status = 422
    else:
        q = request.args.get("q", "").strip()[:80]
        page = max(request.args.get("halaman", 1, type=int) or 1, 1)
        if _DIGIT_RUN.search(q):
            # A number in a link would sit in logs and the browser's history: search it with the form.
            refused, q = True, ""
        form.q.data = q
    results, more = [], False
    if q:
        results, more = register.search(village.id, q, offset=(max(page, 1) - 1) * register.SEARCH_LIMIT)
        kind = "NIK/KK" if register.is_nik_query(q) else "nama"
        register.log_access(village.id, current_user, "search", detail=f"cari {kind}: {len(results)} hasil")
        db.session.commit()
    return _private(
        render(
            "register/index.html",
            village=village,
            form=form,
            q=q,
            page=page,
            results=results,
            more=more,
            refused=refused,
            by_post=request.method == "POST",
            label=opensid.label,
            source=register.source_of(village.id),
            today=local_today(),
            status=status,
        )
    )


def _aid_of(resident: Resident) -> list[AidProgramme]:
    idents = [i for i in (resident.nik, resident.kk) if i]
    if not idents:
        return []
    return list(
        db.session.scalars(
            select(AidProgramme)
            .join(AidRecipient, AidRecipient.programme_id == AidProgramme.id)
            .where(
                AidRecipient.village_id == resident.village_id,
                or_(AidRecipient.ident.in_(idents), AidRecipient.nik.in_(idents)),
            )
            .distinct()
        )
    )


def _resident_page(village: Village, resident: Resident, form: CorrectionForm, status: int = 200):
    return _private(
        render(
            "register/resident.html",
            village=village,
            r=resident,
            family=register.family_of(resident),
            corrections=register.corrections_of(resident),
            aid=_aid_of(resident),
            form=form,
            label=opensid.label,
            shown=register.shown_value,
            fields=translated(register.CORRECTABLE),
            address=register.address_of(resident),
            today=local_today(),
            status=status,
        )
    )


@bp.get("/penduduk/<int:resident_id>")
@roles_required(*WORKERS)
def resident(resident_id: int):
    village = _village()
    r = village_row_or_404(Resident, resident_id, village)
    register.log_access(village.id, current_user, "view", nik=r.nik, detail=f"lihat penduduk #{r.id}")
    db.session.commit()
    return _resident_page(village, r, CorrectionForm(formdata=None))


@bp.post("/penduduk/<int:resident_id>/koreksi")
@roles_required(*WORKERS)
def correct(resident_id: int):
    village = _village()
    r = village_row_or_404(Resident, resident_id, village)
    form = CorrectionForm()
    if not form.validate_on_submit():
        return _resident_page(village, r, form, status=422)
    try:
        register.correct(
            r,
            form.field.data,
            form.value.data or "",
            reason=form.reason.data,
            user=current_user,
            as_of=local_today(),
        )
    except DomainError as err:
        db.session.rollback()
        r = db.session.get(Resident, resident_id)
        form.value.errors = [*form.value.errors, _(err.message, **err.params)]
        return _resident_page(village, r, form, status=422)
    register.log_access(village.id, current_user, "correct", nik=r.nik, detail=f"koreksi {form.field.data}")
    db.session.commit()
    flash(_("Koreksi disimpan dan dicatat."))
    return redirect(url_for("register.resident", resident_id=resident_id), 303)


# --- the village's own figures, exact ------------------------------------------------------------


# The village's own statistics page: sex, then the breakdowns region pages show.
TABLES = {"sex": N_("Jenis kelamin"), **DIMENSION_LABELS}


def _stat_tables(stats: dict) -> list[tuple[str, list[tuple[str, int]]]]:
    from app.stats.population import key_label

    tables = []
    for dimension in TABLES:
        rows = [
            (key_label(dimension, k) or _("Tidak tercatat"), n)
            for (d, k), n in stats.items()
            if d == dimension
        ]
        rows.sort(key=lambda x: -x[1])
        tables.append((coded(TABLES, dimension), rows))
    return tables


@bp.get("/penduduk/statistik")
@roles_required(*WORKERS)
def statistics():
    village = _village()
    stats = register.village_stats(village.id)
    if request.args.get("format") == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["dimensi", "kunci", "jumlah"])
        for (dimension, key), n in sorted(stats.items()):
            writer.writerow([dimension, key, n])
        register.log_access(village.id, current_user, "export", detail="statistik desa (CSV, tanpa NIK)")
        db.session.commit()
        response = Response(out.getvalue(), mimetype="text/csv")
        response.headers["Content-Disposition"] = (
            f'attachment; filename="statistik-penduduk-{village.slug}.csv"'
        )
        return _private(response)
    pyramid = [
        (opensid.band_label(b), stats.get(("age", b + "L"), 0), stats.get(("age", b + "P"), 0))
        for b in reversed([f"{x:02d}" for x in opensid.AGE_BANDS])
    ]
    return _private(
        render(
            "register/statistics.html",
            village=village,
            stats=stats,
            tables=_stat_tables(stats),
            pyramid=pyramid,
            source=register.source_of(village.id),
        )
    )


# --- imports -----------------------------------------------------------------------------------


@bp.route("/penduduk/impor", methods=["GET", "POST"])
@roles_required(*WORKERS)
def import_file():
    village = _village()
    form = ImportForm()
    if form.validate_on_submit():
        upload = form.file.data
        name = opensid.basename(getattr(upload, "filename", "") or "").lower()
        if not name:
            form.file.errors.append(_("Pilih berkasnya dulu."))
        else:
            data = upload.read()
            try:
                payload_name, payload = _import_payload(name, data)
            except PayloadError as err:
                form.file.errors.append(_(err.message, **err.params))
            except ValueError:
                form.file.errors.append(_("Jenis berkas tidak dikenal: pilih .zip, .xlsx atau .csv."))
            else:
                push = pushes.receive(
                    village,
                    pushes.PENDUDUK,
                    payload,
                    name=payload_name,
                    source=SOURCE_IMPORT,
                    user=current_user,
                )
                register.log_access(village.id, current_user, "import", detail=f"impor {payload_name}"[:200])
                db.session.commit()
                return redirect(url_for("register.push", push_id=push.id), 303)
    recent = db.session.scalars(
        select(SyncPush)
        .where(SyncPush.village_id == village.id, SyncPush.source == SOURCE_IMPORT)
        .order_by(SyncPush.id.desc())
        .limit(10)
    ).all()
    return _private(
        render(
            "register/import.html",
            village=village,
            form=form,
            recent=recent,
            source=register.source_of(village.id),
            columns=register.TEMPLATE_COLUMNS,
            status=422 if form.errors else 200,
        )
    )


def _import_payload(name: str, data: bytes) -> tuple[str, bytes]:
    if name.endswith(".zip"):
        return opensid.xlsx_from_zip(data)
    if name.endswith(".xlsx"):
        opensid.check_xlsx(data)
        return name, data
    if name.endswith(".csv"):
        return name, data
    raise ValueError(name)


@bp.get("/penduduk/templat.<fmt>")
@roles_required(*WORKERS)
def template(fmt: str):
    _village()
    header, example = register.template_header(), register.template_example()
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerow(example)
        body, mimetype = ("\ufeff" + out.getvalue()).encode(), "text/csv"
    elif fmt == "xlsx":
        from openpyxl import Workbook

        book = Workbook(write_only=True)
        sheet = book.create_sheet("penduduk")
        sheet.append(header)
        sheet.append(example)
        buffer = io.BytesIO()
        book.save(buffer)
        body, mimetype = (
            buffer.getvalue(),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    else:
        abort(404)
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="templat-penduduk-balai.{fmt}"'
    return response


# --- letters: what the register says about a request's applicant --------------------------------

PREFILL_STATUSES = (states.DIAJUKAN, states.DIVERIFIKASI, states.DIPROSES, states.PERLU_PERBAIKAN)


@bp.post("/penduduk/permohonan/<int:request_id>/isi")
@roles_required(*WORKERS)
def prefill(request_id: int):
    """Put the register's values into a request's letter fields, as the official confirmed them."""
    village = _village()
    req = village_row_or_404(ServiceRequest, request_id, village)
    if not FlaskForm().validate_on_submit():
        abort(400)
    target = url_for("officials.request_detail", request_id=req.id)
    if req.status not in PREFILL_STATUSES:
        flash(_("Isian surat tidak dapat diubah lagi pada status ini."))
        return redirect(target, 303)
    if request.form.get("version") != str(req.version):
        flash(_("Permohonan ini baru saja diubah petugas lain. Periksa lagi, lalu ulangi."))
        return redirect(target, 303)
    card = register.request_card(req)
    if card is None or not card.match.registered:
        flash(_("NIK pemohon tidak terdaftar di register desa ini."))
        return redirect(target, 303)
    chosen = [k for k in request.form.getlist("pakai") if k in card.keys]
    if not chosen:
        flash(_("Centang isian yang akan diambil dari register."))
        return redirect(target, 303)
    data = dict(req.data or {})
    for key in chosen:
        data[key] = " ".join(request.form.get(f"nilai_{key}", "").split())[:500]
    req.data = data
    register.log_access(
        village.id,
        current_user,
        "prefill",
        nik=req.nik,
        detail=f"isi surat {req.tracking_code}: {', '.join(chosen)}",
    )
    db.session.commit()
    flash(_("Isian surat diambil dari register penduduk."))
    return redirect(target, 303)
