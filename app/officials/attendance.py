"""Attendance pages of the workbench: check-in from the TV's code, "Keluar kantor", monthly sheets,
corrections, office hours, the printed poster, setting up a TV, and the region's summary."""

from __future__ import annotations

import io
from datetime import date

from flask import Response, abort, current_app, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, logout_user

from app import attendance, workflow
from app.access import can_manage_region
from app.domain import attendance as rules
from app.domain.errors import N_, DomainError
from app.exports import csv_download, csv_text
from app.extensions import db
from app.i18n import error_message, translated
from app.models import Region, Role, User
from app.models.attendance import AttendanceRecord
from app.models.region import VILLAGE
from app.models.user import VILLAGE_ROLES
from app.officials import bp, reports
from app.officials.attendance_forms import (
    AddRecordForm,
    CheckInForm,
    CorrectionForm,
    SettingsForm,
    read_hours,
)
from app.officials.routes import PRIVATE, WORKERS, _working_village
from app.qr import qr_svg
from app.web import render, roles_required, village_row_or_404

# The check-in and settings pages may ask the phone where it is; every other page may not.
GEOLOCATION_POLICY = "geolocation=(self), microphone=(), camera=(self)"
SCREEN_COOKIE_AGE = 365 * 24 * 3600


def _private(response: Response) -> Response:
    response.headers["Cache-Control"] = PRIVATE
    return response


def _refused(err: DomainError, status: int, village=None):
    response = render(
        "attendance/checkin.html", status=status, error=error_message(err), form=None, village=village
    )
    return _private(response)


# ---------------------------------------------------------------- check-in


@bp.route("/hadir/<code>")
def attendance_scan(code: str):
    """What the TV's QR opens: a current code starts a check-in; a signed-out phone logs in first."""
    try:
        attendance.read_code(code)
    except rules.InvalidCode:
        abort(404)
    except rules.ExpiredCode as err:
        return _refused(err, 410)
    ticket = attendance.make_ticket(code)
    if not current_user.is_authenticated:
        return redirect(
            url_for("auth.login", next=url_for("officials.attendance_confirm", tiket=ticket)), 303
        )
    return _confirm_page(ticket, code)


def _confirm_page(
    ticket: str, raw: str, form: CheckInForm | None = None, error: str | None = None, status=200
):
    code, village = attendance.read_code(raw, check_time=False)
    try:
        attendance.precheck(current_user, raw)
    except attendance.NotThisVillage as err:
        return _refused(err, 403, village)
    except DomainError as err:
        return _refused(err, 409, village)
    form = form or CheckInForm(formdata=None, tiket=ticket)
    response = render(
        "attendance/checkin.html",
        status=status,
        form=form,
        village=village,
        error=error,
        needs_location=attendance.needs_location(village.id, code),
        poster=code.kind == rules.POSTER,
        today=attendance.day_status(village.id, attendance.local_today()),
    )
    response.headers["Permissions-Policy"] = GEOLOCATION_POLICY
    return _private(response)


@bp.route("/hadir", methods=["GET", "POST"])
@login_required
def attendance_confirm():
    """The "Hadir" button, and where a login sends a scanned code back to."""
    if current_user.role not in VILLAGE_ROLES:
        return _refused(DomainError(N_("Hanya petugas desa yang absen di balai.")), 403)
    form = CheckInForm()
    ticket = request.args.get("tiket", "") if request.method == "GET" else (form.tiket.data or "")
    try:
        raw = attendance.read_ticket(ticket)
        attendance.read_code(raw, check_time=False)
    except rules.InvalidCode:
        abort(404)
    except rules.ExpiredCode as err:
        return _refused(err, 410)
    if request.method == "GET":
        return _confirm_page(ticket, raw)
    if not form.validate_on_submit():
        abort(400)
    position = None
    if form.lat.data or form.lon.data:
        try:
            position = attendance.Position(*rules.parse_position(form.lat.data, form.lon.data, form.acc.data))
        except DomainError as err:
            return _confirm_page(ticket, raw, form, error_message(err), 422)
    try:
        record = attendance.check_in(current_user, raw, position=position)
        db.session.commit()
    except attendance.NotThisVillage as err:
        db.session.rollback()
        return _refused(err, 403)
    except attendance.LocationError as refusal:
        db.session.rollback()
        err = refusal
        if form.geo_error.data == "denied":
            err = DomainError(
                N_(
                    "Akses lokasi ditolak di ponsel ini. Izinkan lokasi untuk situs ini, lalu tekan Hadir lagi."
                )
            )
        return _confirm_page(ticket, raw, form, error_message(err), 422)
    except DomainError as err:
        db.session.rollback()
        return _refused(err, 422)
    flash(
        _(
            "Anda tercatat hadir pukul %(time)s di %(village)s.",
            time=rules.format_time(attendance.local(record.checked_in_at)),
            village=current_user.village.display_name,
        )
    )
    return redirect(url_for("officials.attendance_home"), 303)


# ---------------------------------------------------------------- the official's day


@bp.route("/kehadiran")
@roles_required(*WORKERS)
def attendance_home():
    village = _working_village()
    mine = attendance.current_record(current_user.id)
    return _private(
        render(
            "attendance/home.html",
            village=village,
            mine=mine,
            since=attendance.local(mine.checked_in_at) if mine else None,
            office=attendance.office_now(village.id),
            settings=attendance.settings_for(village.id),
            has_position=attendance.balai_position(village.id) is not None,
        )
    )


@bp.route("/kehadiran/keluar", methods=["POST"])
@roles_required(*WORKERS)
def attendance_checkout():
    _working_village()
    record = attendance.check_out(current_user)
    db.session.commit()
    if record is None:
        flash(_("Anda belum tercatat hadir, jadi tidak ada yang ditutup."))
    else:
        flash(
            _(
                "Anda tercatat keluar kantor pukul %(time)s.",
                time=rules.format_time(attendance.local(record.checked_out_at)),
            )
        )
    return redirect(url_for("officials.attendance_home"), 303)


# ---------------------------------------------------------------- monthly sheet


def _official_or_404(village, raw: str | None) -> User:
    if not raw:
        return current_user._get_current_object()
    if not raw.isdecimal():
        abort(404)
    user = db.session.get(User, int(raw))
    if user is None or user.village_id != village.id or user.role not in VILLAGE_ROLES:
        abort(404)
    return user


def _sheet_args():
    village = _working_village()
    official = _official_or_404(village, request.args.get("petugas"))
    month = reports.parse_month(request.args.get("bulan"), workflow.local_today())
    return village, official, month


@bp.route("/kehadiran/bulanan")
@roles_required(*WORKERS)
def attendance_sheet():
    village, official, month = _sheet_args()
    data = attendance.month_sheet(village, official, month)
    return _private(
        render(
            "attendance/sheet.html",
            village=village,
            data=data,
            month=month,
            officials=attendance.village_officials(village.id),
            weekdays=translated(rules.WEEKDAY_NAMES),
            local=attendance.local,
            fmt=rules.format_time,
        )
    )


SHEET_HEADER = [
    "petugas",
    "jabatan",
    "tanggal",
    "hari",
    "jam_kantor",
    "masuk",
    "keluar",
    "ditutup",
    "cara",
    "lokasi",
    "terlambat_menit",
    "koreksi",
]


def _sheet_rows(village, data: attendance.MonthSheet) -> list[list]:
    """One row per check-in (or per office day without one), plain values for CSV and XLSX."""
    official = data.official
    title = village.head_title if official.role == Role.HEAD else "Petugas desa"
    rows = []
    for day in data.sheet.days:
        hours = day.status.hours.label() if day.status.hours else (day.status.holiday or "tutup")
        base = [official.name, title, day.day.isoformat(), rules.WEEKDAYS[day.day.weekday()], hours]
        if not day.sessions:
            if day.status.is_open:
                rows.append([*base, "", "", "", "", "", "", "tidak hadir"])
            continue
        for n, s in enumerate(day.sessions):
            reasons = "; ".join(f"{e.editor_name}: {e.reason}" for e in data.edits.get(s.record_id, []))
            rows.append(
                [
                    *base,
                    rules.format_time(s.checked_in),
                    rules.format_time(s.checked_out) if s.checked_out else "",
                    {"self": "sendiri", "auto": "otomatis", "edit": "koreksi"}.get(
                        s.closed_by or "", "masih di kantor"
                    ),
                    s.method,
                    {True: "ya", False: "tidak", None: ""}[s.location_ok],
                    day.late_minutes if n == 0 else "",
                    reasons,
                ]
            )
    return rows


def _filename(village, data, month: date, ext: str) -> str:
    return f"kehadiran-{village.slug}-{data.official.id}-{month:%Y-%m}.{ext}"


@bp.route("/kehadiran/bulanan.csv")
@roles_required(*WORKERS)
def attendance_sheet_csv():
    village, official, month = _sheet_args()
    data = attendance.month_sheet(village, official, month)
    text = csv_text(SHEET_HEADER, _sheet_rows(village, data))
    response = csv_download(text, _filename(village, data, month, "csv"))
    return _private(response)


@bp.route("/kehadiran/bulanan.xlsx")
@roles_required(*WORKERS)
def attendance_sheet_xlsx():
    from openpyxl import Workbook

    village, official, month = _sheet_args()
    data = attendance.month_sheet(village, official, month)
    book = Workbook()
    sheet = book.active
    sheet.title = f"{month:%Y-%m}"
    sheet.append(SHEET_HEADER)
    for row in _sheet_rows(village, data):
        sheet.append(row)
    for cells in sheet.iter_rows():
        for cell in cells:
            # openpyxl turns text starting with "=" into a formula: names and reasons stay text.
            if isinstance(cell.value, str):
                cell.data_type = "s"
    out = io.BytesIO()
    book.save(out)
    response = Response(
        out.getvalue(), mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{_filename(village, data, month, "xlsx")}"'
    )
    return _private(response)


# ---------------------------------------------------------------- corrections


def _back_to_sheet(official: User, day: date):
    return redirect(url_for("officials.attendance_sheet", petugas=official.id, bulan=f"{day:%Y-%m}"), 303)


def _record_page(village, form, official: User, record: AttendanceRecord | None, save, done: str):
    """Save a correction or an added day when the form is sent and valid, else show the form."""
    if request.method == "POST" and form.validate_on_submit():
        try:
            day = save(
                clock_in=form.clock_in.data, clock_out=form.clock_out.data or "", reason=form.reason.data
            )
            db.session.commit()
        except DomainError as err:
            db.session.rollback()
            form.reason.errors.append(error_message(err))
        else:
            flash(done)
            return _back_to_sheet(official, day)
    return _private(
        render(
            "attendance/edit.html",
            status=422 if form.errors else 200,
            village=village,
            form=form,
            record=record,
            official=official,
            day=record.day if record else None,
        )
    )


@bp.route("/kehadiran/catatan/<int:record_id>", methods=["GET", "POST"])
@roles_required(*WORKERS)
def attendance_edit(record_id: int):
    village = _working_village()
    record = village_row_or_404(AttendanceRecord, record_id, village)
    form = CorrectionForm()
    if request.method == "GET":
        form.clock_in.data = f"{attendance.local(record.checked_in_at):%H:%M}"
        if record.checked_out_at:
            form.clock_out.data = f"{attendance.local(record.checked_out_at):%H:%M}"

    def save(**times) -> date:
        attendance.correct(record, current_user, **times)
        return record.day

    return _record_page(
        village, form, record.user, record, save, _("Catatan kehadiran diubah; alasannya tersimpan.")
    )


@bp.route("/kehadiran/catatan-baru", methods=["GET", "POST"])
@roles_required(*WORKERS)
def attendance_add():
    village = _working_village()
    official = _official_or_404(village, request.args.get("petugas"))
    form = AddRecordForm()
    if request.method == "GET":
        form.day.data = workflow.local_today()
        form.clock_in.data, form.clock_out.data = "08:00", ""

    def save(**times) -> date:
        attendance.add_record(village, official, current_user, day=form.day.data, **times)
        return form.day.data

    return _record_page(
        village, form, official, None, save, _("Catatan kehadiran ditambahkan; alasannya tersimpan.")
    )


# ---------------------------------------------------------------- settings, poster, TV screens


@bp.route("/kehadiran/pengaturan", methods=["GET", "POST"])
@roles_required(*WORKERS)
def attendance_settings():
    village = _working_village()
    settings = attendance.settings_for(village.id)
    position = attendance.balai_position(village.id)
    form = SettingsForm(obj=settings)
    if request.method == "GET":
        for day, hours in enumerate(rules.weekly_hours(settings.hours)):
            form[f"open_{day}"].data = f"{hours.opens:%H:%M}" if hours else ""
            form[f"close_{day}"].data = f"{hours.closes:%H:%M}" if hours else ""
        form.latitude.data, form.longitude.data = position or (None, None)
    else:
        valid = form.validate_on_submit()
        hours = read_hours(form)
        if (form.latitude.data is None) != (form.longitude.data is None):
            form.longitude.errors.append(_("Isi lintang dan bujur keduanya, atau kosongkan keduanya."))
            valid = False
        if form.require_location.data and form.latitude.data is None:
            form.latitude.errors.append(_("Bukti lokasi perlu koordinat balai."))
            valid = False
        if valid and hours is not None:
            row = attendance.saved_settings(village.id)
            row.hours = hours
            row.grace_minutes = form.grace_minutes.data
            row.require_location = bool(form.require_location.data)
            row.radius_m = form.radius_m.data
            attendance.set_balai_position(village.id, form.latitude.data, form.longitude.data)
            db.session.commit()
            flash(_("Pengaturan kehadiran disimpan."))
            return redirect(url_for("officials.attendance_settings"), 303)
    response = render(
        "attendance/settings.html",
        status=422 if form.errors else 200,
        village=village,
        form=form,
        weekdays=translated(rules.WEEKDAY_NAMES),
    )
    response.headers["Permissions-Policy"] = GEOLOCATION_POLICY
    return _private(response)


@bp.route("/kehadiran/poster")
@roles_required(*WORKERS)
def attendance_poster():
    village = _working_village()
    url = current_app.config["BASE_URL"] + url_for(
        "officials.attendance_scan", code=attendance.poster_code(village.id)
    )
    return _private(
        render(
            "attendance/poster.html",
            village=village,
            qr=qr_svg(url, _("Kode QR absen petugas %(village)s", village=village.display_name)),
            version=attendance.settings_for(village.id).poster_version,
            has_position=attendance.balai_position(village.id) is not None,
        )
    )


@bp.route("/kehadiran/poster/baru", methods=["POST"])
@roles_required(*WORKERS)
def attendance_new_poster():
    village = _working_village()
    attendance.new_poster(village.id)
    db.session.commit()
    flash(_("Poster lama tidak berlaku lagi. Cetak poster baru ini dan pasang di balai."))
    return redirect(url_for("officials.attendance_poster"), 303)


@bp.route("/kehadiran/layar", methods=["GET", "POST"])
@roles_required(*WORKERS)
def attendance_pair():
    """Set up the TV this browser runs on to show check-in codes; the official is signed out of it."""
    village = _working_village()
    if request.method == "GET" or request.form.get("pasang") != "1":
        status = 200 if request.method == "GET" else 422
        return _private(render("attendance/pair.html", status=status, village=village))
    target = (
        url_for("residents.queue", slug=village.slug)
        if "residents.queue" in current_app.view_functions
        else "/"
    )
    value = attendance.screen_cookie_value(village.id)
    # The TV now shows the code (its own confirmation); nobody's account stays open on it.
    logout_user()
    response = redirect(target, 303)
    response.set_cookie(
        attendance.SCREEN_COOKIE,
        value,
        max_age=SCREEN_COOKIE_AGE,
        path=target,
        secure=request.is_secure,
        httponly=True,
        samesite="Lax",
    )
    return response


@bp.route("/kehadiran/layar/cabut", methods=["POST"])
@roles_required(*WORKERS)
def attendance_unpair():
    village = _working_village()
    attendance.unpair_screens(village.id)
    db.session.commit()
    flash(_("Semua layar berhenti menampilkan kode absen. Pasang lagi layar yang masih dipakai."))
    return redirect(url_for("officials.attendance_pair"), 303)


# ---------------------------------------------------------------- kecamatan and kabupaten


@bp.route("/kehadiran/wilayah/<code>")
@login_required
def attendance_region(code: str):
    region = db.session.get(Region, code)
    if current_user.role not in (Role.REGION_ADMIN, Role.SUPERADMIN):
        abort(403)
    if region is None or region.level >= VILLAGE or not can_manage_region(current_user, code):
        abort(404)
    month = reports.parse_month(request.args.get("bulan"), workflow.local_today())
    rows = attendance.region_summary(code, month)
    return _private(render("attendance/region.html", region=region, month=month, rows=rows))
