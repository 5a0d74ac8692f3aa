"""The whole resident flow in headless Chromium on a 360 px phone screen."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import ServiceRequest
from app.qr import qr_svg
from app.tenancy import activate_village
from tests.test_residents import GPS_IFD, jpeg

pytestmark = pytest.mark.browser

# The browser fixtures, made available to this module's tests.


@pytest.fixture
def hanura(app):
    village = activate_village("18.09.10.2004", slug="hanura", head_name="Sutarno")
    db.session.commit()
    return village


def fits_the_screen(tab) -> bool:
    return tab.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_a_resident_requests_a_letter_tracks_it_and_finds_it_under_my_requests(
    app, hanura, live_server, page
):
    photo = jpeg(size=(1200, 900), gps=True)
    assert GPS_IFD

    page.goto(live_server + "/desa/hanura/layanan")
    assert fits_the_screen(page)
    assert page.get_by_text("Gratis").first.is_visible()
    page.get_by_role("link", name=re.compile("Surat Keterangan Domisili")).click()

    page.get_by_label("NIK").fill("1809 1045 0892 0001")
    page.get_by_label("Nama lengkap").fill("Siti Wulandari")
    page.get_by_label("Nomor HP").fill("0812-3456-7890")
    page.get_by_label("Tempat lahir").fill("Pesawaran")
    page.get_by_label("Pekerjaan").fill("Wiraswasta")
    page.get_by_label("Alamat lengkap").fill("Dusun 1, RT 002/RW 001")
    page.get_by_label("Keperluan").fill("Melamar pekerjaan")
    page.get_by_label("Foto KTP").set_input_files(
        files=[{"name": "ktp.jpg", "mimeType": "image/jpeg", "buffer": photo}]
    )
    page.get_by_label("Foto Kartu Keluarga").set_input_files(
        files=[{"name": "kk.jpg", "mimeType": "image/jpeg", "buffer": photo}]
    )
    assert fits_the_screen(page)
    page.get_by_role("button", name="Periksa jawaban").click()

    page.get_by_role("heading", name="Periksa jawaban Anda").wait_for()
    assert page.get_by_text("+6281234567890").is_visible()
    assert fits_the_screen(page)
    page.get_by_role("button", name="Kirim permohonan").click()

    page.wait_for_url(re.compile(r"/tanda-terima/"))
    code = page.locator("#kode").inner_text().strip()
    assert re.fullmatch(r"[2-9A-Z]{4}-[2-9A-Z]{4}-[2-9A-Z]{2}", code)
    qr = page.locator(".qr-box svg.qr")
    assert qr.is_visible()
    box = qr.bounding_box()
    assert box["width"] >= 150  # big enough to scan from a screen
    # The QR is exactly the code of the absolute tracking URL.
    tracking_url = app.config["BASE_URL"] + f"/lacak/{code}"
    expected = re.search(r' d="([^"]+)"', str(qr_svg(tracking_url))).group(1)
    assert qr.locator("path").get_attribute("d") == expected
    assert "Perkiraan selesai" in page.content()
    assert page.locator(".private-link a").is_visible()
    assert fits_the_screen(page)

    # Scanning the QR opens the tracking page (here: the same path on the live server).
    page.goto(live_server + f"/lacak/{code}")
    assert page.locator(".status-now").inner_text().strip() == "Diajukan"
    assert "S*** W********" in page.content()
    assert "1809104508920001" not in page.content()
    assert fits_the_screen(page)

    # "Permohonan saya" comes from this phone's storage, even once the session cookie is gone.
    page.context.clear_cookies()
    page.goto(live_server + "/saya")
    page.locator(f"[data-code='{code}']").wait_for()
    assert "Diajukan" in page.locator(f"[data-code='{code}']").inner_text()
    assert page.errors == []

    req = db.session.scalars(select(ServiceRequest)).one()
    assert req.tracking_code == code and len(req.attachments) == 2
