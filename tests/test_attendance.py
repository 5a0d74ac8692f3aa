"""Officials' attendance: codes, check-in and out, who residents see in, sheets, corrections, summaries."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import select, update

from app import attendance
from app.domain import attendance as rules
from app.domain import states
from app.extensions import db
from app.models import Holiday, Service, ServiceRequest, User, Village
from app.models.attendance import AttendanceCodeUse, AttendanceEdit, AttendanceRecord, AttendanceSettings
from app.officials.audit import AuditTrailViolation
from tests.conftest import DEMO_PASSWORD, csrf_from

KEY = b"k" * 32
TZ = attendance.TZ
HANURA_BALAI = (-5.5622, 105.2364)
LINK = re.compile(r'<a class="checkin-qr" href="([^"]+)"')


def village(slug: str) -> Village:
    return db.session.scalar(select(Village).where(Village.slug == slug))


def user(email: str) -> User:
    return db.session.scalar(select(User).where(User.email == email))


def login(client, email: str) -> None:
    token = csrf_from(client.get("/akun/masuk").get_data(as_text=True))
    response = client.post(
        "/akun/masuk", data={"email": email, "password": DEMO_PASSWORD, "csrf_token": token}
    )
    assert response.status_code in (302, 303)


def local(y, m, d, hh, mm) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=TZ)


def paired_tv(app, slug: str = "hanura", email: str = "operator.hanura@balai.test"):
    """A client that is the balai's TV, set up by an official the way the page offers it."""
    tv = app.test_client()
    login(tv, email)
    page = tv.get("/kantor/kehadiran/layar").get_data(as_text=True)
    response = tv.post("/kantor/kehadiran/layar", data={"csrf_token": csrf_from(page), "pasang": "1"})
    assert response.status_code == 303 and response.headers["Location"] == f"/desa/{slug}/antrian"
    return tv


def tv_link(tv, slug: str = "hanura") -> str:
    """The check-in link of the QR the TV shows now, read from the page as it is sent."""
    match = LINK.search(tv.get(f"/desa/{slug}/antrian").get_data(as_text=True))
    assert match, "the TV shows no check-in QR"
    return match.group(1).replace("&amp;", "&")


def path_of(url: str) -> str:
    return url.removeprefix("http://balai.test")


def check_in(client, link: str, **position):
    """Open the scanned link on the official's phone and press Hadir."""
    page = client.get(path_of(link))
    assert page.status_code == 200, page.get_data(as_text=True)
    html = page.get_data(as_text=True)
    ticket = re.search(r'name="tiket" type="hidden" value="([^"]+)"', html).group(1)
    data = {"csrf_token": csrf_from(html), "tiket": ticket, **position}
    return client.post("/kantor/hadir", data=data)


# --- rules ----------------------------------------------------------------------------------------


def test_a_screen_code_holds_for_its_slot_and_the_next_only():
    code = rules.make_code(KEY, rules.SCREEN, 7, 1000, "nonce")
    parsed = rules.parse_code(code)
    rules.verify_code(KEY, parsed, "nonce", now_slot=1000, poster_version=1)
    rules.verify_code(KEY, parsed, "nonce", now_slot=1001, poster_version=1)
    for later in (1002, 999, 5000):
        with pytest.raises(rules.ExpiredCode):
            rules.verify_code(KEY, parsed, "nonce", now_slot=later, poster_version=1)


def test_a_forged_or_foreign_code_is_not_recognised():
    code = rules.make_code(KEY, rules.SCREEN, 7, 1000, "nonce")
    with pytest.raises(rules.InvalidCode):  # another village's nonce
        rules.verify_code(KEY, rules.parse_code(code), "other", now_slot=1000, poster_version=1)
    forged = code.replace("s7.", "s8.")
    with pytest.raises(rules.InvalidCode):  # the same MAC claimed for another village
        rules.verify_code(KEY, rules.parse_code(forged), "nonce", now_slot=1000, poster_version=1)
    with pytest.raises(rules.InvalidCode):  # made with another server's key
        rules.verify_code(b"x" * 32, rules.parse_code(code), "nonce", now_slot=1000, poster_version=1)
    for garbage in ("", "s7.1000", "x7.1.AAAAAAAAAAAAAAAA", "s7.1000." + "A" * 15, code + "A"):
        with pytest.raises(rules.InvalidCode):
            rules.parse_code(garbage)


def test_a_poster_code_lasts_until_a_new_poster_is_printed():
    code = rules.parse_code(rules.make_code(KEY, rules.POSTER, 7, 3, "nonce"))
    rules.verify_code(KEY, code, "nonce", now_slot=10**9, poster_version=3)
    with pytest.raises(rules.ExpiredCode):
        rules.verify_code(KEY, code, "nonce", now_slot=10**9, poster_version=4)


def test_a_used_screen_code_is_used_once_and_a_poster_code_once_a_day():
    assert rules.use_digest("s1.5.x", date(2026, 12, 1)) == rules.use_digest("s1.5.x", date(2026, 12, 1))
    assert rules.use_digest("p1.1.x", date(2026, 12, 1)) != rules.use_digest("p1.1.x", date(2026, 12, 2))
    assert "s1.5.x" not in rules.use_digest("s1.5.x", date(2026, 12, 1))


def test_default_hours_are_the_balai_week_and_holidays_close_the_office():
    week = rules.weekly_hours(None)
    assert week[0].label() == "08.00–15.00" and week[4].label() == "08.00–11.00"
    assert week[5] is None and week[6] is None
    monday = date(2026, 11, 30)
    assert rules.day_status(monday, week, {}).is_open
    closed = rules.day_status(monday, week, {monday: "Cuti bersama"})
    assert not closed.is_open and closed.holiday == "Cuti bersama"
    assert rules.check_day_hours("7.30", "14:00") == ["07:30", "14:00"]
    with pytest.raises(rules.DomainError):
        rules.check_day_hours("15:00", "08:00")
    with pytest.raises(rules.DomainError):
        rules.parse_time("25:00")


def test_lateness_counts_from_opening_past_the_grace():
    week = rules.weekly_hours(None)
    status = rules.day_status(date(2026, 12, 1), week, {})
    assert rules.minutes_late(local(2026, 12, 1, 8, 0), status, 0) == 0
    assert rules.minutes_late(local(2026, 12, 1, 8, 20), status, 0) == 20
    assert rules.minutes_late(local(2026, 12, 1, 8, 10), status, 15) == 0
    saturday = rules.day_status(date(2026, 12, 5), week, {})
    assert rules.minutes_late(local(2026, 12, 5, 10, 0), saturday, 0) == 0


def test_an_open_check_in_closes_at_closing_time_or_the_end_of_the_day():
    week = rules.weekly_hours(None)
    friday = rules.day_status(date(2026, 12, 4), week, {})
    assert rules.auto_out_at(local(2026, 12, 4, 8, 5), friday) == local(2026, 12, 4, 11, 0)
    end_of_friday = datetime.combine(date(2026, 12, 4), time.max, TZ)
    assert rules.auto_out_at(local(2026, 12, 4, 12, 0), friday) == end_of_friday
    sunday = rules.day_status(date(2026, 12, 6), week, {})
    assert rules.auto_out_at(local(2026, 12, 6, 9, 0), sunday) == datetime.combine(
        date(2026, 12, 6), time.max, TZ
    )


def test_distance_and_radius():
    assert rules.distance_m(0, 0, 0, 1) == pytest.approx(111_195, rel=1e-3)
    near = rules.distance_m(*HANURA_BALAI, HANURA_BALAI[0] + 0.0005, HANURA_BALAI[1])
    assert 50 < near < 60 and rules.near_enough(near, 150, 10)
    assert not rules.near_enough(400, 150, 30) and rules.near_enough(250, 150, 120)
    assert rules.format_distance(2300) == "2,3 km" and rules.format_distance(80.4) == "80 m"
    with pytest.raises(rules.DomainError):
        rules.parse_position("91", "0")
    with pytest.raises(rules.DomainError):
        rules.parse_position("nan", "x")


def test_a_sheet_has_every_day_so_far_with_lateness_and_absences():
    week = rules.weekly_hours(None)
    sessions = [
        rules.Session(1, local(2026, 12, 1, 8, 25), local(2026, 12, 1, 15, 0), "auto", True, "layar"),
        rules.Session(2, local(2026, 12, 2, 7, 55), local(2026, 12, 2, 12, 0), "self", None, "layar"),
        rules.Session(3, local(2026, 12, 2, 13, 0), local(2026, 12, 2, 15, 0), "self", None, "layar"),
    ]
    sheet = rules.build_sheet(
        date(2026, 12, 1), sessions, week, {date(2026, 12, 3): "Libur desa"}, 0, date(2026, 12, 4)
    )
    assert [d.day.day for d in sheet.days] == [1, 2, 3, 4]
    assert sheet.days[0].late_minutes == 25 and sheet.days[1].late_minutes == 0
    assert len(sheet.days[1].sessions) == 2
    assert not sheet.days[2].status.is_open and not sheet.days[2].absent
    assert sheet.days[3].absent
    assert (sheet.office_days, sheet.present_days, sheet.late_days, sheet.absent_days) == (3, 2, 1, 1)
    summary = rules.summarize_office(
        date(2026, 12, 1),
        {date(2026, 12, 1): local(2026, 12, 1, 8, 25), date(2026, 12, 2): local(2026, 12, 2, 7, 55)},
        week,
        {date(2026, 12, 3): "Libur desa"},
        30,
        date(2026, 12, 4),
    )
    assert (summary.office_days, summary.opened, summary.on_time, summary.closed) == (3, 2, 2, 1)


# --- check-in from the TV ---------------------------------------------------------------------------


def test_an_official_checks_in_with_the_link_of_the_tv_qr_and_residents_see_them(app, demo, client):
    tv = paired_tv(app)
    link = tv_link(tv)
    assert link.startswith("http://balai.test/kantor/hadir/s")

    phone = app.test_client()
    login(phone, "kades.hanura@balai.test")
    response = check_in(phone, link)
    assert response.status_code == 303 and response.headers["Location"] == "/kantor/kehadiran"
    record = db.session.scalars(select(AttendanceRecord)).one()
    head = user("kades.hanura@balai.test")
    assert record.user_id == head.id and record.checked_out_at is None and record.method == "layar"
    assert record.location_ok is None

    home = client.get("/desa/hanura/").get_data(as_text=True)
    assert "Di kantor sekarang" in home and "Kepala Desa</strong> Sutarno" in home
    screen = tv.get("/desa/hanura/antrian").get_data(as_text=True)
    assert "Kepala Desa</strong> Sutarno" in screen
    since = attendance.local(record.checked_in_at).strftime("%H.%M")
    assert f"sejak {since}" in home


def test_a_signed_out_phone_logs_in_and_comes_back_to_finish_the_check_in(app, demo):
    link = tv_link(paired_tv(app))
    phone = app.test_client()
    response = phone.get(path_of(link))
    assert response.status_code == 303
    target = response.headers["Location"]
    assert target.startswith("/akun/masuk?next=")
    page = phone.get(target).get_data(as_text=True)
    back = phone.post(
        target,
        data={
            "email": "operator.hanura@balai.test",
            "password": DEMO_PASSWORD,
            "csrf_token": csrf_from(page),
        },
    )
    assert back.status_code in (302, 303)
    assert back.headers["Location"].startswith("/kantor/hadir?tiket=")
    html = phone.get(back.headers["Location"]).get_data(as_text=True)
    ticket = re.search(r'name="tiket" type="hidden" value="([^"]+)"', html).group(1)
    done = phone.post("/kantor/hadir", data={"csrf_token": csrf_from(html), "tiket": ticket})
    assert done.status_code == 303
    assert db.session.scalar(select(AttendanceRecord.user_id)) == user("operator.hanura@balai.test").id


def test_a_tv_not_set_up_shows_no_code_so_nobody_checks_in_from_home(app, demo, client):
    html = client.get("/desa/hanura/antrian").get_data(as_text=True)
    assert not LINK.search(html)
    assert "/kantor/hadir/" not in html
    assert "Di kantor sekarang" in html
    # Unpairing every screen takes the code off the TV that was set up.
    tv = paired_tv(app)
    assert LINK.search(tv.get("/desa/hanura/antrian").get_data(as_text=True))
    phone = app.test_client()
    login(phone, "operator.hanura@balai.test")
    page = phone.get("/kantor/kehadiran/layar").get_data(as_text=True)
    phone.post("/kantor/kehadiran/layar/cabut", data={"csrf_token": csrf_from(page)})
    assert not LINK.search(tv.get("/desa/hanura/antrian").get_data(as_text=True))


def test_an_expired_code_is_refused_with_a_clear_message(app, demo):
    hanura = village("hanura")
    old = attendance.screen_code(hanura.id, datetime.now(UTC) - timedelta(seconds=75))
    phone = app.test_client()
    login(phone, "operator.hanura@balai.test")
    response = phone.get(f"/kantor/hadir/{old}")
    assert response.status_code == 410
    assert "sudah kedaluwarsa" in response.get_data(as_text=True)
    assert db.session.scalar(select(AttendanceRecord.id)) is None


def test_a_ticket_older_than_its_time_is_refused(app, demo):
    from itsdangerous import TimestampSigner, URLSafeTimedSerializer

    class FourMinutesAgo(TimestampSigner):
        def get_timestamp(self) -> int:
            return super().get_timestamp() - 240

    hanura = village("hanura")
    old = URLSafeTimedSerializer(
        app.config["SECRET_KEY"], salt="balai-attendance-ticket", signer=FourMinutesAgo
    )
    ticket = old.dumps(attendance.screen_code(hanura.id))
    phone = app.test_client()
    login(phone, "operator.hanura@balai.test")
    response = phone.get("/kantor/hadir?tiket=" + ticket)
    assert response.status_code == 410 and "sudah habis" in response.get_data(as_text=True)
    assert phone.get("/kantor/hadir?tiket=" + ticket[:-2] + "xx").status_code == 404


def test_a_replayed_code_is_refused(app, demo):
    link = tv_link(paired_tv(app))
    phone = app.test_client()
    login(phone, "operator.hanura@balai.test")
    assert check_in(phone, link).status_code == 303
    page = phone.get("/kantor/kehadiran").get_data(as_text=True)
    assert phone.post("/kantor/kehadiran/keluar", data={"csrf_token": csrf_from(page)}).status_code == 303
    again = phone.get(path_of(link))
    assert again.status_code == 409
    assert "sudah Anda pakai" in again.get_data(as_text=True)
    assert db.session.scalar(select(AttendanceCodeUse.digest)) != link.rsplit("/", 1)[1]
    assert len(db.session.scalars(select(AttendanceRecord)).all()) == 1


def test_only_one_open_check_in_per_official(app, demo):
    tv = paired_tv(app)
    phone = app.test_client()
    login(phone, "operator.hanura@balai.test")
    assert check_in(phone, tv_link(tv)).status_code == 303
    hanura = village("hanura")
    raw = attendance.screen_code(hanura.id, datetime.now(UTC) + timedelta(seconds=30))
    with pytest.raises(attendance.AlreadyIn):
        attendance.check_in(
            user("operator.hanura@balai.test"),
            raw,
            position=None,
            now=datetime.now(UTC) + timedelta(seconds=30),
        )
    db.session.rollback()
    assert (
        db.session.scalar(select(AttendanceRecord.id).where(AttendanceRecord.checked_out_at.is_(None)))
        is not None
    )
    # The database holds the rule too, whatever two taps at once do.
    first = db.session.scalars(select(AttendanceRecord)).one()
    db.session.add(
        AttendanceRecord(
            village_id=first.village_id,
            user_id=first.user_id,
            day=first.day,
            checked_in_at=first.checked_in_at,
            auto_out_at=first.auto_out_at,
        )
    )
    with pytest.raises(Exception, match=r"(?i)unique"):
        db.session.flush()
    db.session.rollback()


def test_another_villages_code_and_non_officials_are_refused(app, demo):
    link = tv_link(paired_tv(app))
    other = app.test_client()
    login(other, "operator.trimulyo@balai.test")
    response = other.get(path_of(link))
    assert response.status_code == 403
    assert "Desa Hanura" in response.get_data(as_text=True)
    for email in ("pesawaran@balai.test", "bumdes.hanura@balai.test", "admin@balai.test"):
        client = app.test_client()
        login(client, email)
        assert client.get(path_of(link)).status_code == 403
    assert db.session.scalar(select(AttendanceRecord.id)) is None


def test_keluar_checks_out_and_closing_time_checks_out_by_itself(app, demo):
    operator = user("operator.hanura@balai.test")
    hanura = village("hanura")
    monday_8 = local(2026, 11, 30, 8, 0).astimezone(UTC)
    raw = attendance.screen_code(hanura.id, monday_8)
    record = attendance.check_in(operator, raw, position=None, now=monday_8)
    db.session.commit()
    assert attendance.local(record.auto_out_at) == local(2026, 11, 30, 15, 0)
    assert attendance.auto_checkout() == 1
    db.session.refresh(record)
    assert (
        attendance.local(record.checked_out_at) == local(2026, 11, 30, 15, 0) and record.closed_by == "auto"
    )
    assert attendance.auto_checkout() == 0

    phone = app.test_client()
    login(phone, "operator.hanura@balai.test")
    assert check_in(phone, tv_link(paired_tv(app))).status_code == 303
    page = phone.get("/kantor/kehadiran").get_data(as_text=True)
    assert "Keluar kantor" in page
    out = phone.post("/kantor/kehadiran/keluar", data={"csrf_token": csrf_from(page)}, follow_redirects=True)
    assert "tercatat keluar kantor" in out.get_data(as_text=True)
    assert (
        db.session.scalar(select(AttendanceRecord).order_by(AttendanceRecord.id.desc()).limit(1)).closed_by
        == "self"
    )


def test_the_auto_checkout_runs_on_the_job_schedule():
    from app.jobs import PERIODIC

    assert any(job.path == "app.attendance.auto_checkout" for job in PERIODIC)


# --- location proof and the poster ------------------------------------------------------------------


def _require_location(village_id: int, radius: int = 150) -> None:
    settings = attendance.saved_settings(village_id)
    settings.require_location = True
    settings.radius_m = radius
    attendance.set_balai_position(village_id, *HANURA_BALAI)
    db.session.commit()


def test_a_village_may_ask_for_the_phones_location_and_only_yes_or_no_is_kept(app, demo):
    _require_location(village("hanura").id)
    tv = paired_tv(app)
    phone = app.test_client()
    login(phone, "operator.hanura@balai.test")
    link = tv_link(tv)
    page = phone.get(path_of(link))
    assert "geolocation=(self)" in page.headers["Permissions-Policy"]
    assert "data-geo" in page.get_data(as_text=True)

    refused = check_in(phone, link)
    assert refused.status_code == 422 and "bukti lokasi" in refused.get_data(as_text=True)
    far = check_in(phone, link, lat="-5.40", lon="105.26", acc="20")
    assert far.status_code == 422
    assert "sekitar 18,2 km dari balai" in far.get_data(as_text=True)
    near = check_in(phone, link, lat=str(HANURA_BALAI[0] + 0.0004), lon=str(HANURA_BALAI[1]), acc="15")
    assert near.status_code == 303
    record = db.session.scalars(select(AttendanceRecord)).one()
    assert record.location_ok is True
    columns = {c.name for c in AttendanceRecord.__table__.columns}
    assert not columns & {"latitude", "longitude", "lat", "lon", "accuracy"}


def test_other_pages_keep_geolocation_off(app, demo, auth):
    auth.login("operator.hanura@balai.test")
    assert "geolocation=()" in auth.client.get("/kantor/kehadiran").headers["Permissions-Policy"]
    assert (
        "geolocation=(self)" in auth.client.get("/kantor/kehadiran/pengaturan").headers["Permissions-Policy"]
    )
    assert "geolocation=()" in auth.client.get("/desa/hanura/").headers["Permissions-Policy"]


def test_a_poster_code_needs_the_location_and_a_new_poster_voids_the_old(app, demo, auth):
    hanura = village("hanura")
    attendance.set_balai_position(hanura.id, *HANURA_BALAI)
    db.session.commit()
    auth.login("operator.hanura@balai.test")
    poster = auth.client.get("/kantor/kehadiran/poster")
    assert poster.status_code == 200 and '<svg class="qr"' in poster.get_data(as_text=True)
    raw = attendance.poster_code(hanura.id)
    operator = user("operator.hanura@balai.test")
    with pytest.raises(attendance.LocationError):
        attendance.check_in(operator, raw, position=None)
    db.session.rollback()
    here = attendance.Position(HANURA_BALAI[0], HANURA_BALAI[1], 10)
    record = attendance.check_in(operator, raw, position=here)
    assert record.method == "poster" and record.location_ok
    db.session.commit()
    attendance.check_out(operator)
    db.session.commit()
    with pytest.raises(attendance.AlreadyUsed):  # a poster code once a day
        attendance.check_in(operator, raw, position=here)
    db.session.rollback()
    page = auth.client.get("/kantor/kehadiran/poster").get_data(as_text=True)
    auth.client.post("/kantor/kehadiran/poster/baru", data={"csrf_token": csrf_from(page)})
    with pytest.raises(rules.ExpiredCode):
        attendance.read_code(raw)


# --- settings, the sheet, corrections, the region ---------------------------------------------------


def test_office_hours_are_set_by_the_village_and_bad_input_comes_back_with_a_message(app, demo, auth):
    auth.login("kades.hanura@balai.test")
    page = auth.client.get("/kantor/kehadiran/pengaturan").get_data(as_text=True)
    assert 'value="08:00"' in page and 'value="11:00"' in page
    data = {"csrf_token": csrf_from(page), "grace_minutes": "10", "radius_m": "150"}
    for day in range(7):
        data[f"open_{day}"], data[f"close_{day}"] = ("07:30", "14:30") if day < 5 else ("", "")
    data["close_2"] = "07:00"
    bad = auth.client.post("/kantor/kehadiran/pengaturan", data=data)
    assert bad.status_code == 422 and "Jam tutup harus sesudah jam buka" in bad.get_data(as_text=True)
    assert 'value="07:00"' in bad.get_data(as_text=True)  # nothing typed is lost
    data["close_2"] = "14:30"
    assert auth.client.post("/kantor/kehadiran/pengaturan", data=data).status_code == 303
    settings = db.session.get(AttendanceSettings, village("hanura").id)
    assert (
        settings.hours[4] == ["07:30", "14:30"] and settings.hours[5] is None and settings.grace_minutes == 10
    )
    closed = {**data, **{f"open_{d}": "" for d in range(7)}, **{f"close_{d}": "" for d in range(7)}}
    assert auth.client.post("/kantor/kehadiran/pengaturan", data=closed).status_code == 422


def test_the_monthly_sheet_shows_days_times_and_late_arrivals(app, demo, auth):
    hanura = village("hanura")
    head = user("kades.hanura@balai.test")
    today = attendance.local_today()
    month = today.replace(day=1)
    db.session.add(Holiday(village_id=hanura.id, day=month, name="Libur Desa Uji"))
    for n, (hh, mm) in enumerate([(8, 0), (8, 40)], start=1):
        day = month + timedelta(days=n)
        if day > today:
            break
        moment = local(day.year, day.month, day.day, hh, mm).astimezone(UTC)
        attendance.check_in(head, attendance.screen_code(hanura.id, moment), position=None, now=moment)
        db.session.commit()
    auth.login("operator.hanura@balai.test")
    html = auth.client.get(f"/kantor/kehadiran/bulanan?petugas={head.id}&bulan={month:%Y-%m}").get_data(
        as_text=True
    )
    assert "Lembar kehadiran" in html and "Sutarno" in html and "Libur Desa Uji" in html
    if month + timedelta(days=2) <= today and (month + timedelta(days=2)).weekday() < 5:
        assert "40 menit" in html


def test_csv_and_xlsx_keep_names_and_reasons_as_text(app, demo, auth):
    from openpyxl import load_workbook

    hanura = village("hanura")
    head = user("kades.hanura@balai.test")
    head.name = '=HYPERLINK("http://x")'
    db.session.commit()
    yesterday = attendance.local_today() - timedelta(days=1)
    operator = user("operator.hanura@balai.test")
    attendance.add_record(
        hanura,
        head,
        operator,
        day=yesterday,
        clock_in="08:00",
        clock_out="12:00",
        reason="@SUM(A1) ponsel mati",
    )
    db.session.commit()
    auth.login("operator.hanura@balai.test")
    query = f"petugas={head.id}&bulan={yesterday:%Y-%m}"
    response = auth.client.get(f"/kantor/kehadiran/bulanan.csv?{query}")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "private, no-store"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0][:3] == ["petugas", "jabatan", "tanggal"]
    mine = [r for r in rows[1:] if r[2] == yesterday.isoformat()]
    assert mine[0][0].startswith("'=") and mine[0][5] == "08.00" and mine[0][6] == "12.00"
    assert "@SUM" in mine[0][11] and not mine[0][11].startswith("@")
    book = load_workbook(io.BytesIO(auth.client.get(f"/kantor/kehadiran/bulanan.xlsx?{query}").data))
    cells = [
        c
        for row in book.active.iter_rows()
        for c in row
        if isinstance(c.value, str) and "HYPERLINK" in c.value
    ]
    assert cells and all(c.data_type == "s" for c in cells)


def test_a_correction_needs_a_reason_and_is_kept_in_the_audit_trail(app, demo, auth):
    hanura = village("hanura")
    operator = user("operator.hanura@balai.test")
    yesterday = attendance.local_today() - timedelta(days=1)
    moment = local(yesterday.year, yesterday.month, yesterday.day, 9, 5).astimezone(UTC)
    record = attendance.check_in(
        operator, attendance.screen_code(hanura.id, moment), position=None, now=moment
    )
    db.session.commit()
    auth.login("kades.hanura@balai.test")
    url = f"/kantor/kehadiran/catatan/{record.id}"
    page = auth.client.get(url).get_data(as_text=True)
    assert 'value="09:05"' in page
    token = csrf_from(page)
    no_reason = auth.client.post(
        url, data={"csrf_token": token, "clock_in": "08:00", "clock_out": "15:00", "reason": "ok"}
    )
    assert no_reason.status_code == 422 and "alasan" in no_reason.get_data(as_text=True).lower()
    done = auth.client.post(
        url,
        data={
            "csrf_token": token,
            "clock_in": "08:00",
            "clock_out": "15:00",
            "reason": "TV balai mati pagi itu",
        },
    )
    assert done.status_code == 303
    db.session.expire_all()
    record = db.session.get(AttendanceRecord, record.id)
    assert attendance.local(record.checked_in_at).time() == time(8, 0) and record.edited
    edit = db.session.scalars(select(AttendanceEdit)).one()
    assert edit.editor_name == "Sutarno" and attendance.local(edit.old_in).time() == time(9, 5)
    sheet = auth.client.get(f"/kantor/kehadiran/bulanan?petugas={operator.id}&bulan={yesterday:%Y-%m}")
    assert "TV balai mati pagi itu" in sheet.get_data(as_text=True)
    edit.reason = "diubah diam-diam"
    with pytest.raises(AuditTrailViolation):
        db.session.flush()
    db.session.rollback()
    with pytest.raises(AuditTrailViolation):
        db.session.execute(update(AttendanceEdit).values(reason="x"))
    db.session.rollback()


def test_officials_of_another_village_cannot_touch_the_sheet(app, demo, auth):
    head = user("kades.hanura@balai.test")
    auth.login("operator.trimulyo@balai.test")
    assert auth.client.get(f"/kantor/kehadiran/bulanan?petugas={head.id}").status_code == 404
    assert auth.client.get(f"/kantor/kehadiran/bulanan.csv?petugas={head.id}").status_code == 404
    assert auth.client.get(f"/kantor/kehadiran/catatan-baru?petugas={head.id}").status_code == 404


def test_kabupaten_admins_see_each_villages_office_days(app, demo, auth):
    hanura = village("hanura")
    head = user("kades.hanura@balai.test")
    today = attendance.local_today()
    office_days = [d for d in rules.month_days(today.replace(day=1), today) if d.weekday() < 5]
    if office_days:
        d = office_days[0]
        moment = local(d.year, d.month, d.day, 7, 50).astimezone(UTC)
        attendance.check_in(head, attendance.screen_code(hanura.id, moment), position=None, now=moment)
        db.session.commit()
    auth.login("pesawaran@balai.test")
    html = auth.client.get("/kantor/kehadiran/wilayah/18.09").get_data(as_text=True)
    assert "Desa Hanura" in html and "Trimulyo" not in html
    rows = dict(attendance.region_summary("18.09", today))
    summary = next(s for v, s in rows.items() if v.slug == "hanura")
    assert summary.opened == (1 if office_days else 0) and summary.on_time == summary.opened
    assert auth.client.get("/kantor/kehadiran/wilayah/18.04").status_code == 404
    assert 'href="/kantor/kehadiran/wilayah/18.09"' in auth.client.get("/admin/").get_data(as_text=True)


# --- what residents see -------------------------------------------------------------------------------


def test_the_village_home_shows_a_check_in_at_once_despite_the_page_cache(app, demo):
    cache = app.extensions["balai_page_cache"]
    client = app.test_client(use_cookies=False)  # a phone without a session, as the cache serves it
    client.get("/desa/hanura/")
    hits = cache.hits
    assert "Belum ada petugas yang tercatat hadir" in client.get("/desa/hanura/").get_data(as_text=True)
    assert cache.hits == hits + 1  # served from the cache
    operator = user("operator.hanura@balai.test")
    attendance.check_in(operator, attendance.screen_code(village("hanura").id), position=None)
    db.session.commit()
    after = client.get("/desa/hanura/").get_data(as_text=True)
    assert "Petugas desa</strong> Rina" in after
    assert "Rina Operator Hanura" not in after  # the first name only


def test_the_home_says_when_today_is_a_holiday(app, demo, client):
    hanura = village("hanura")
    db.session.add(Holiday(village_id=hanura.id, day=attendance.local_today(), name="Sedekah Bumi"))
    db.session.commit()
    assert "Hari ini libur (Sedekah Bumi): kantor tutup." in client.get("/desa/hanura/").get_data(
        as_text=True
    )


def letter_request(hanura: Village, key: str):
    """A resident's request for a letter (domicile) in Hanura, as the form files it."""
    from app import workflow

    service = db.session.scalar(
        select(Service).where(Service.village_id == hanura.id, Service.code == "domisili")
    )
    submitted = workflow.submit_request(
        hanura,
        service,
        nik="1809104508920099",
        name="Warga Uji",
        phone="+6281299990002",
        idempotency_key=key,
        data={"tempat_lahir": "Pesawaran", "pekerjaan": "Petani", "alamat": "Dusun 1"},
        purpose="Uji",
    )
    db.session.commit()
    return submitted


def mark_ready(req: ServiceRequest) -> None:
    db.session.execute(
        update(ServiceRequest).where(ServiceRequest.id == req.id).values(status=states.SIAP_DIAMBIL)
    )
    db.session.commit()


def test_a_resident_with_a_ready_letter_sees_whether_the_signer_is_in(app, demo):
    hanura = village("hanura")
    submitted = letter_request(hanura, "hadir-ready")
    client = app.test_client()
    url = f"/permohonan/{submitted.fix_token}"
    assert "penanda tangan surat" not in client.get(url).get_data(as_text=True)  # not ready yet
    mark_ready(submitted.request)
    html = client.get(url).get_data(as_text=True)
    assert "Kepala Desa, penanda tangan surat, belum ada di kantor saat ini." in html
    head = user("kades.hanura@balai.test")
    attendance.check_in(head, attendance.screen_code(hanura.id), position=None)
    db.session.commit()
    html = client.get(url).get_data(as_text=True)
    assert "Kepala Desa, penanda tangan surat, sedang di kantor." in html
    assert "Kepala Desa</strong> Sutarno" in html


def _queries_of(app, client, path: str) -> int:
    from sqlalchemy import event

    app.extensions["balai_page_cache"].clear()
    statements = []

    def count(*_args):
        statements.append(1)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        assert client.get(path).status_code == 200
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    return len(statements)


def test_who_is_in_costs_the_same_queries_however_many_are_in(app, demo, client):
    hanura = village("hanura")
    nobody = _queries_of(app, client, "/desa/hanura/")
    for email in ("operator.hanura@balai.test", "kades.hanura@balai.test"):
        attendance.check_in(user(email), attendance.screen_code(hanura.id), position=None)
        db.session.commit()
    assert _queries_of(app, client, "/desa/hanura/") == nobody


def test_villages_without_settings_get_the_default_hours(app, demo):
    hanura = village("hanura")
    assert db.session.get(AttendanceSettings, hanura.id) is None
    assert attendance.settings_for(hanura.id).hours[0] == ["08:00", "15:00"]
    assert attendance.settings_for(hanura.id) not in db.session


def test_looking_at_attendance_writes_nothing_so_the_page_cache_stays(app, demo, auth):
    cache = app.extensions["balai_page_cache"]
    tv = paired_tv(app)
    auth.login("operator.hanura@balai.test")
    assert check_in(auth.client, tv_link(tv)).status_code == 303
    generation = cache.generation
    for _ in range(2):
        assert auth.client.get("/kantor/kehadiran").status_code == 200
        assert tv.get("/desa/hanura/antrian", headers={"HX-Request": "true"}).status_code == 200
        assert auth.client.get(path_of(tv_link(tv))).status_code in (200, 409)
    assert cache.generation == generation
