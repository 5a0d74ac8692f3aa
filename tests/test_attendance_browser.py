"""Attendance in headless Chromium: the TV's check-in QR scanned on a 360 px phone, refused codes,
what residents see, and the monthly sheet."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app import attendance
from app.extensions import db
from app.models import Village
from app.models.attendance import AttendanceRecord
from app.qr import qr_svg
from tests.conftest import DEMO_PASSWORD
from tests.test_attendance import letter_request, local, mark_ready, user

pytestmark = pytest.mark.browser
HANURA_BALAI = (-5.5622, 105.2364)


def fits_the_screen(tab) -> bool:
    return tab.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def sign_in(tab, email: str) -> None:
    tab.get_by_label("Email").fill(email)
    tab.get_by_label("Kata sandi").fill(DEMO_PASSWORD)
    tab.get_by_role("button", name="Masuk").click()


def only_refusals_logged(tab) -> bool:
    """Refusals are real HTTP errors (409, 410, 422), which Chromium logs; nothing else may go wrong."""
    return [e for e in tab.errors if "the server responded with a status of 4" not in e] == []


def on_live(url: str, live_server: str, app) -> str:
    """What scanning the QR opens: its link, served here by the test server instead of BASE_URL."""
    assert url.startswith(app.config["BASE_URL"] + "/")
    return live_server + url.removeprefix(app.config["BASE_URL"])


def set_up_tv(app, live_server, page):
    """A second browser is the balai's TV; an official sets it up from the queue screen's own link."""
    tv = page.context.browser.new_context(viewport={"width": 1280, "height": 720}, locale="id-ID")
    screen = tv.new_page()
    screen.goto(live_server + "/desa/hanura/antrian")
    assert screen.locator("a.checkin-qr").count() == 0
    screen.get_by_role("link", name="Petugas: pasang layar ini untuk absen").click()
    sign_in(screen, "operator.hanura@balai.test")
    screen.get_by_role("button", name="Pasang layar ini").click()
    screen.wait_for_url(re.compile(r"/desa/hanura/antrian$"))
    screen.locator("a.checkin-qr svg.qr").wait_for()
    return tv, screen


def scanned_link(app, screen) -> str:
    """The link the TV's QR encodes, read from the page as shipped (and the QR drawn from exactly it)."""
    qr = screen.locator("a.checkin-qr")
    link = qr.get_attribute("href")
    expected = re.search(r' d="([^"]+)"', str(qr_svg(link))).group(1)
    assert qr.locator("svg.qr path").get_attribute("d") == expected
    return link


def test_an_official_checks_in_by_scanning_the_tv_code_and_the_tv_shows_them(app, demo, live_server, page):
    tv, screen = set_up_tv(app, live_server, page)
    link = scanned_link(app, screen)
    box = screen.locator("a.checkin-qr svg.qr").bounding_box()
    assert box["width"] >= 150  # big enough to scan from across the counter

    # The head's phone is not signed in: the link asks for the login, then comes back to finish.
    page.goto(on_live(link, live_server, app))
    sign_in(page, "kades.hanura@balai.test")
    page.get_by_role("heading", name=re.compile("Absen masuk · Desa Hanura")).wait_for()
    assert fits_the_screen(page)
    page.get_by_role("button", name="Hadir").click()
    page.wait_for_url(re.compile(r"/kantor/kehadiran$"))
    assert "Anda tercatat hadir pukul" in page.locator(".flash").inner_text()
    assert page.get_by_role("button", name="Keluar kantor").is_visible()
    assert fits_the_screen(page)

    # The TV picks up who is in at its next poll, without a reload.
    screen.get_by_text("Sutarno").wait_for(timeout=20_000)
    assert "Kepala Desa" in screen.locator(".office-now").inner_text()
    assert page.errors == []
    tv.close()


def test_an_expired_or_replayed_code_is_refused_with_a_clear_message(app, demo, live_server, page):
    hanura = db.session.scalar(select(Village).where(Village.slug == "hanura"))
    tv, screen = set_up_tv(app, live_server, page)
    link = on_live(scanned_link(app, screen), live_server, app)
    tv.close()

    page.goto(live_server + "/akun/masuk")
    sign_in(page, "operator.hanura@balai.test")
    page.goto(link)
    page.get_by_role("button", name="Hadir").click()
    page.wait_for_url(re.compile(r"/kantor/kehadiran$"))
    page.get_by_role("button", name="Keluar kantor").click()
    assert "tercatat keluar kantor" in page.locator(".flash").inner_text()

    # The same code again: someone forwarded the link, or the phone's history opened it.
    page.goto(link)
    alert = page.get_by_role("alert")
    assert "sudah Anda pakai" in alert.inner_text()
    assert page.get_by_role("button", name="Hadir").count() == 0
    assert fits_the_screen(page)

    # What the TV showed a minute and a quarter ago (a photo of it) no longer works.
    old = attendance.screen_code(hanura.id, datetime.now(UTC) - timedelta(seconds=75))
    response = page.goto(f"{live_server}/kantor/hadir/{old}")
    assert response.status == 410
    assert "sudah kedaluwarsa" in page.get_by_role("alert").inner_text()
    assert fits_the_screen(page)
    assert len(db.session.scalars(select(AttendanceRecord)).all()) == 1
    assert only_refusals_logged(page)


def test_the_phones_location_is_the_second_proof_where_the_village_asks(app, demo, live_server, page):
    hanura = db.session.scalar(select(Village).where(Village.slug == "hanura"))
    settings = attendance.saved_settings(hanura.id)
    settings.require_location = True
    attendance.set_balai_position(hanura.id, *HANURA_BALAI)
    db.session.commit()
    tv, screen = set_up_tv(app, live_server, page)
    link = on_live(scanned_link(app, screen), live_server, app)
    tv.close()

    page.context.grant_permissions(["geolocation"], origin=live_server)
    page.context.set_geolocation({"latitude": -5.40, "longitude": 105.26, "accuracy": 20})  # at home
    page.goto(live_server + "/akun/masuk")
    sign_in(page, "operator.hanura@balai.test")
    page.goto(link)
    page.get_by_role("button", name="Hadir").click()
    assert "dari balai desa" in page.get_by_role("alert").inner_text()
    page.context.set_geolocation(
        {"latitude": HANURA_BALAI[0] + 0.0003, "longitude": HANURA_BALAI[1], "accuracy": 15}
    )
    page.get_by_role("button", name="Hadir").click()
    page.wait_for_url(re.compile(r"/kantor/kehadiran$"))
    record = db.session.scalars(select(AttendanceRecord)).one()
    assert record.location_ok is True
    assert only_refusals_logged(page)


def test_residents_see_who_is_in_without_javascript(app, demo, live_server, _chromium):
    hanura = db.session.scalar(select(Village).where(Village.slug == "hanura"))
    attendance.check_in(user("operator.hanura@balai.test"), attendance.screen_code(hanura.id), position=None)
    db.session.commit()
    submitted = letter_request(hanura, "hadir-browser")
    mark_ready(submitted.request)

    phone = _chromium.new_context(
        viewport={"width": 360, "height": 740}, locale="id-ID", is_mobile=True, java_script_enabled=False
    )
    tab = phone.new_page()
    tab.goto(live_server + "/desa/hanura/")
    box = tab.locator(".office-now")
    assert "Di kantor sekarang" in box.inner_text()
    assert re.search(r"Petugas desa\s+Rina\s+sejak \d\d\.\d\d", box.inner_text())
    assert "Operator Hanura" not in box.inner_text()
    assert re.search(r"Jam kantor hari ini|kantor tutup", box.inner_text())
    assert fits_the_screen(tab)

    tab.goto(f"{live_server}/permohonan/{submitted.fix_token}")
    pickup = tab.locator(".pickup")
    assert "Kepala Desa, penanda tangan surat, belum ada di kantor saat ini." in pickup.inner_text()
    assert "Rina" in pickup.inner_text()
    assert fits_the_screen(tab)
    phone.close()


def test_the_head_reads_and_corrects_the_monthly_sheet(app, demo, live_server, page):
    hanura = db.session.scalar(select(Village).where(Village.slug == "hanura"))
    operator = user("operator.hanura@balai.test")
    yesterday = attendance.local_today() - timedelta(days=1)
    moment = local(yesterday.year, yesterday.month, yesterday.day, 9, 5).astimezone(UTC)
    attendance.check_in(operator, attendance.screen_code(hanura.id, moment), position=None, now=moment)
    db.session.commit()

    page.goto(live_server + "/akun/masuk")
    sign_in(page, "kades.hanura@balai.test")
    page.get_by_role("link", name="Kehadiran").click()
    page.get_by_role("link", name="Lembar kehadiran bulanan").click()
    page.get_by_label("Petugas").select_option(label="Rina Operator Hanura")
    page.get_by_label("Bulan").fill(f"{yesterday:%Y-%m}")
    page.get_by_role("button", name="Tampilkan").click()
    page.get_by_role("heading", name="Lembar kehadiran · Rina Operator Hanura").wait_for()
    table = page.locator("table.sheet")
    assert "09.05" in table.inner_text()
    assert fits_the_screen(page)  # the table scrolls inside its own box

    page.get_by_role("link", name="Ubah").first.click()
    page.get_by_label("Jam masuk").fill("08:00")
    page.get_by_label("Alasan perubahan").fill("TV balai mati pagi itu")
    page.get_by_role("button", name="Simpan").click()
    assert "alasannya tersimpan" in page.locator(".flash").inner_text()
    assert "08.00" in page.locator("table.sheet").inner_text()
    assert "Diubah oleh Sutarno" in page.locator("table.sheet").inner_text()

    with page.expect_download() as download:
        page.get_by_role("link", name="Unduh CSV").click()
    assert download.value.suggested_filename.endswith(f"{yesterday:%Y-%m}.csv")
    assert page.errors == []
