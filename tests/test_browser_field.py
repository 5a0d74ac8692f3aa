"""Residents' journeys from issue 14, walked in headless Chromium on a 360 px phone, as the server sends them.

Each test drives the shipped page (with and without JavaScript where the journey differs) and
never adds a script, style or markup to it.
"""

from __future__ import annotations

import contextlib
import re
import time
import zlib

import pytest
from sqlalchemy import func, select

from app import letters, workflow
from app.extensions import db
from app.models import Service, ServiceRequest, User
from app.tenancy import activate_village
from tests import browser_support
from tests.test_residents import jpeg

pytestmark = pytest.mark.browser

NIK = "1809104508920001"
PHONE = "081234567890"


@pytest.fixture
def hanura(app):
    village = activate_village("18.09.10.2004", slug="hanura", head_name="Sutarno")
    db.session.commit()
    return village


@pytest.fixture
def nojs(_chromium):
    """A 360 px phone with JavaScript switched off."""
    context = _chromium.new_context(
        viewport=browser_support.PHONE_VIEWPORT,
        locale="id-ID",
        is_mobile=True,
        has_touch=True,
        java_script_enabled=False,
    )
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    yield tab
    context.close()


def service(village, code: str) -> Service:
    return db.session.scalar(select(Service).where(Service.village_id == village.id, Service.code == code))


def submit(village, code: str = "pengaduan", key: str = "field-r-1", **extra) -> ServiceRequest:
    svc = service(village, code)
    data = extra.pop("data", None) or (
        {"kategori": "Jalan dan jembatan", "lokasi": "Dekat pos ronda"} if svc.is_complaint else {}
    )
    result = workflow.submit_request(
        village,
        svc,
        nik=NIK,
        name="Siti Wulandari",
        phone="+6281234567890",
        idempotency_key=key,
        data=data,
        purpose=extra.pop("purpose", "Jalan berlubang di dusun 2"),
        locale="id",
        **extra,
    )
    db.session.commit()
    return result.request


def request_count() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(ServiceRequest))


def fits_the_screen(tab) -> bool:
    return tab.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def in_viewport(locator) -> bool:
    box = locator.bounding_box()
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= 740


def fill_letter(tab, purpose: str = "Untuk melamar kerja.", photos: bool = True) -> None:
    """The domisili form, as a resident fills it."""
    tab.get_by_label("NIK").fill(NIK)
    tab.get_by_label("Nama lengkap").fill("Siti Wulandari")
    tab.get_by_label("Nomor HP").fill("0812-3456-7890")
    tab.get_by_label("Tempat lahir").fill("Pesawaran")
    tab.get_by_label("Pekerjaan").fill("Wiraswasta")
    tab.get_by_label("Alamat lengkap").fill("Dusun 1, RT 002/RW 001")
    tab.get_by_label("Keperluan").fill(purpose)
    if photos:
        photo = jpeg(size=(1200, 900))
        for label in ("Foto KTP", "Foto Kartu Keluarga"):
            tab.get_by_label(label).set_input_files(
                files=[{"name": "foto.jpg", "mimeType": "image/jpeg", "buffer": photo}]
            )


def pdf_text(pdf: bytes) -> str:
    """The words of a PDF's text operators (fpdf2 writes core fonts as plain strings), spaces folded."""
    parts = []
    for match in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.DOTALL):
        raw = match.group(1)
        with contextlib.suppress(zlib.error):
            raw = zlib.decompress(raw)
        for text in re.findall(rb"\(((?:\\.|[^\\)])*)\)\s*Tj", raw):
            parts.append(re.sub(rb"\\(.)", rb"\1", text).decode("latin-1"))
    return " ".join(" ".join(parts).split())


# --- item 15: tracking codes with look-alike characters -----------------------------------------


def test_a_code_typed_with_look_alikes_finds_the_request(app, hanura, live_server, page):
    req = submit(hanura)
    req.tracking_code = "7KQS-MZ9D-4B"  # made before look-alikes were avoided
    db.session.commit()

    page.goto(live_server + "/lacak")
    page.get_by_label("Kode lacak").fill("7kq5 m29d 48")  # read off a blurred receipt: S→5, Z→2, B→8
    page.get_by_role("button", name="Lacak").click()
    page.wait_for_url(re.compile(r"/lacak/7KQS-MZ9D-4B$"))
    assert page.locator(".status-now").inner_text().strip() == "Diterima"  # a complaint's first step
    assert fits_the_screen(page)


# --- item 7: what the resident typed reads right in the letter ------------------------------------


def demo_village(slug: str = "hanura"):
    from app.models import Village

    return db.session.scalar(select(Village).where(Village.slug == slug))


def issue_letter(code: str) -> None:
    """The village head issues the letter of request ``code`` (the officials' side, in-process)."""
    req = db.session.scalar(select(ServiceRequest).where(ServiceRequest.tracking_code == code))
    head = db.session.scalar(select(User).where(User.email == "kades.hanura@balai.test"))
    for action in ("verify", "start"):
        workflow.apply_action(req, action, actor=head)
    letters.issue(
        req,
        head,
        expected_version=req.version,
        note=None,
        base_url=app_config("BASE_URL"),
        upload_dir=app_config("UPLOAD_DIR"),
    )
    db.session.commit()


def app_config(name: str):
    from flask import current_app

    return current_app.config[name]


def send_letter_request(tab, base: str, purpose: str) -> str:
    """Fill and send the domisili form at 360 px; returns the tracking code from the receipt."""
    tab.goto(base + "/desa/hanura/layanan/domisili")
    fill_letter(tab, purpose=purpose)
    tab.get_by_role("button", name="Periksa jawaban").click()
    tab.get_by_role("button", name="Kirim permohonan").click()
    tab.wait_for_url(re.compile(r"/tanda-terima/"))
    return tab.locator("#kode").inner_text().strip()


def test_the_letter_continues_its_sentence_with_what_the_resident_typed(app, demo, live_server, page):
    code = send_letter_request(page, live_server, "Untuk melamar kerja.")
    issue_letter(code)

    private = page.locator(".private-link a").get_attribute("href")
    page.goto(live_server + private.removeprefix(app.config["BASE_URL"]))
    pdf_link = page.get_by_role("link", name="Unduh surat (PDF)")
    assert in_viewport(pdf_link) or pdf_link.is_visible()
    pdf = page.request.get(live_server + pdf_link.get_attribute("href")).body()
    text = pdf_text(pdf)
    assert "untuk keperluan melamar kerja. Demikian" in text, text
    assert "Untuk melamar" not in text and ".." not in text
    assert "Pekerjaan: Wiraswasta" in text  # after a label, as typed


# --- item 5: a resent form at the limit gets its receipt ---------------------------------------


@pytest.mark.parametrize("javascript", [True, False])
def test_a_form_resent_at_the_limit_gets_its_receipt_not_too_many(
    app, hanura, live_server, page, nojs, monkeypatch, javascript
):
    monkeypatch.setitem(app.config, "SUBMIT_PHONE_LIMIT", "1 per hour")
    tab = page if javascript else nojs
    sent = []

    def twice(route):
        # A flaky line: the phone's "Kirim" reaches the server, and so does a retransmission of it.
        if route.request.method == "POST" and "step=send" in (route.request.post_data or ""):
            sent.append(route.fetch(max_redirects=0).status)
            route.continue_()
        else:
            route.continue_()

    tab.route("**/desa/hanura/layanan/domisili", twice)
    tab.goto(live_server + "/desa/hanura/layanan/domisili")
    fill_letter(tab)
    tab.get_by_role("button", name="Periksa jawaban").click()
    tab.get_by_role("button", name="Kirim permohonan").click()
    tab.wait_for_url(re.compile(r"/tanda-terima/"))
    assert sent == [303]
    assert "Terlalu" not in tab.content()
    assert tab.locator("#kode").is_visible()
    assert "Anda sudah mengirim ini" in tab.locator("main").inner_text()
    assert request_count() == 1


# --- items 8 and 15: the TV queue lists letters only, and all of them at 1366×768 ---------------


def advance_to(req: ServiceRequest, *actions: str) -> None:
    for action in actions:
        workflow.apply_action(req, action, actor=None, note="catatan")


@pytest.mark.parametrize(("n_ready", "n_working"), [(16, 24), (40, 44)])
def test_the_tv_queue_shows_every_letter_code_at_1366_and_no_complaint(
    app, hanura, live_server, _chromium, n_ready, n_working
):
    ready, working = [], []
    for n in range(n_ready + n_working):
        req = submit(hanura, "domisili", key=f"tv-letter-{n:02d}", data={"alamat": "Dusun 1"})
        if n < n_ready:
            advance_to(req, "verify", "start", "mark_ready")
            ready.append(req.tracking_code)
        else:
            advance_to(req, *(("verify",) if n % 2 else ()))
            working.append(req.tracking_code)
    complaints = [submit(hanura, key=f"tv-complaint-{n}").tracking_code for n in range(3)]
    db.session.commit()

    context = _chromium.new_context(viewport={"width": 1366, "height": 768}, locale="id-ID")
    try:
        tv = context.new_page()
        tv.goto(live_server + "/desa/hanura/antrian")
        tv.screenshot(path=f"/tmp/fr/tv-1366-{n_working}.png")
        screen = tv.locator("body").inner_text()
        for code in complaints:
            assert code not in screen
        shown = working[:40]
        if len(working) > 40:
            assert f"dan {len(working) - 40} surat lagi" in screen
        for code in ready + shown:
            box = tv.locator(".queue li", has_text=code).bounding_box()
            assert box is not None, code
            assert box["x"] >= 0 and box["x"] + box["width"] <= 1366, code
            assert box["y"] >= 0 and box["y"] + box["height"] <= 768, code
        assert tv.evaluate("document.documentElement.scrollHeight <= window.innerHeight")
    finally:
        context.close()


# --- item 8: a complaint speaks of a complaint, on every page ----------------------------------


def login(tab, base: str, email: str) -> None:
    from tests.test_security_render import browser_login

    browser_login(tab, base, email)


def fill_complaint(tab) -> None:
    tab.get_by_label("NIK").fill(NIK)
    tab.get_by_label("Nama lengkap").fill("Siti Wulandari")
    tab.get_by_label("Nomor HP").fill("0812-3456-7890")
    tab.get_by_label("Kategori").select_option(label="Jalan dan jembatan")
    tab.get_by_label("Isi pengaduan").fill("Jalan berlubang di dusun 2 sejak bulan lalu.")


def test_a_complaint_has_its_own_words_from_the_form_to_the_officials_page(
    app, demo, live_server, page, nojs
):
    nojs.goto(live_server + "/desa/hanura/layanan/pengaduan")
    fill_complaint(nojs)
    nojs.get_by_role("button", name="Periksa jawaban").click()
    assert nojs.get_by_role("button", name="Kirim pengaduan").is_visible()
    assert nojs.get_by_role("button", name="Kirim permohonan").count() == 0
    nojs.get_by_role("button", name="Kirim pengaduan").click()
    nojs.wait_for_url(re.compile(r"/tanda-terima/"))
    receipt = nojs.locator("main").inner_text()
    assert "Pengaduan Anda sudah kami terima" in receipt
    assert "mengambil surat" not in receipt and "Permohonan Anda" not in receipt
    code = nojs.locator("#kode").inner_text().strip()
    nojs.goto(f"{live_server}/lacak/{code}")
    assert nojs.locator(".status-now").inner_text().strip() == "Diterima"
    steps = nojs.locator(".timeline").inner_text()
    assert "Siap diambil" not in steps and "Selesai ditangani" in steps
    assert fits_the_screen(nojs)

    req = db.session.scalar(select(ServiceRequest).where(ServiceRequest.tracking_code == code))
    login(page, live_server, "operator.hanura@balai.test")
    page.goto(f"{live_server}/kantor/permohonan/{req.id}")
    facts = page.locator(".facts").inner_text()
    assert "Isi pengaduan" in facts and "Keperluan" not in facts
    assert facts.count("Kategori") == 1
    for button in ("Periksa", "Tindak lanjuti"):
        page.get_by_role("button", name=button, exact=True).click()
        page.wait_for_load_state()
    assert page.get_by_role("button", name="Tandai siap diambil").count() == 0
    page.locator("#note-resolve").fill("Jalan sudah ditambal kemarin.")
    page.get_by_role("button", name="Selesai ditangani").click()
    page.locator(".badge.selesai", has_text="Selesai ditangani").first.wait_for()

    nojs.goto(f"{live_server}/lacak/{code}")
    assert nojs.locator(".status-now").inner_text().strip() == "Selesai ditangani"
    assert "Jalan sudah ditambal kemarin." in nojs.locator(".timeline").inner_text()


# --- item 3: the resident reaches their private page, from this phone or another -----------------


def send_letter_request_nojs(tab, base: str) -> str:
    tab.goto(base + "/desa/hanura/layanan/domisili")
    fill_letter(tab, purpose="Melamar kerja")
    tab.get_by_role("button", name="Periksa jawaban").click()
    tab.get_by_role("button", name="Kirim permohonan").click()
    tab.wait_for_url(re.compile(r"/tanda-terima/"))
    return tab.locator("#kode").inner_text().strip()


@pytest.mark.parametrize("javascript", [True, False])
def test_my_requests_reaches_the_private_page_to_fix_and_to_fetch_the_letter(
    app, demo, live_server, page, nojs, javascript
):
    tab = page if javascript else nojs
    code = send_letter_request_nojs(tab, live_server)
    req = db.session.scalar(select(ServiceRequest).where(ServiceRequest.tracking_code == code))
    workflow.apply_action(req, "request_fix", actor=None, note="Foto KK terpotong.")
    db.session.commit()

    tab.goto(live_server + "/saya")
    row = tab.locator(f"[data-code='{code}']")
    fix = row.get_by_role("link", name=re.compile("Perbaiki sekarang"))
    fix.wait_for()
    box = fix.bounding_box()
    assert box["height"] >= 40  # a thumb-sized target
    fix.click()
    tab.wait_for_url(re.compile(r"/permohonan/"))
    assert tab.get_by_role("heading", name="Perbaiki permohonan").is_visible()
    assert "Foto KK terpotong." in tab.locator("main").inner_text()
    assert fits_the_screen(tab)

    workflow.apply_action(req, "resubmit", actor=None, by="resident")
    db.session.commit()
    issue_letter(code)
    tab.goto(f"{live_server}/lacak/{code}")
    tab.get_by_role("link", name="Unduh surat").click()
    tab.wait_for_url(re.compile(r"/permohonan/"))
    pdf = tab.get_by_role("link", name="Unduh surat (PDF)").get_attribute("href")
    assert tab.request.get(live_server + pdf).body().startswith(b"%PDF")


def test_on_another_phone_a_fresh_private_link_is_sent_to_the_number_on_the_request(
    app, demo, live_server, page, nojs
):
    from tests.test_notifications_support import Gateway, set_channels

    code = send_letter_request_nojs(nojs, live_server)
    with Gateway() as gateway:
        set_channels(demo_village(), whatsapp="webhook", whatsapp_url=gateway.url)
        db.session.commit()
        # Another phone (no session, no receipt): it only knows the code, the NIK and the number.
        page.goto(f"{live_server}/lacak/{code}")
        page.get_by_role("link", name=re.compile("Minta link pribadi baru")).click()
        assert page.get_by_label("Kode lacak").input_value() == code
        page.get_by_label("NIK").fill(NIK)
        page.get_by_label("Nomor HP").fill("0812 3456 7890")
        page.get_by_role("button", name="Kirim link ke HP saya").click()
        page.get_by_text("kami kirim ke nomor HP tersebut").wait_for()
        assert "/permohonan/" not in page.content()
        assert fits_the_screen(page)
        sent = [b["message"] for b in gateway.json_bodies() if "link pribadi" in b.get("message", "")]
        assert len(sent) == 1
        link = re.search(r"https?://\S+/permohonan/[A-Za-z0-9_-]{43}", sent[0]).group(0)

    page.goto(live_server + link[link.index("/permohonan/") :])
    assert page.get_by_text("Ini halaman pribadi Anda").is_visible()
    assert code in page.locator("h1").inner_text()


# --- item 1: a form sent without signal is kept on the phone and filed once -------------------


def test_without_signal_the_form_and_its_photos_stay_on_the_phone_and_are_filed_once_after_reopening(
    app, hanura, live_server, page
):
    from tests.test_browser_pwa import installed

    installed(page, live_server)
    page.goto(live_server + "/desa/hanura/layanan/domisili")
    fill_letter(page)
    page.context.set_offline(True)
    button = page.get_by_role("button", name="Periksa jawaban")
    button.click()
    saved = page.get_by_text("disimpan di HP ini")
    saved.wait_for()
    assert in_viewport(saved), "the note must be where the resident is looking"
    assert abs(saved.bounding_box()["y"] - button.bounding_box()["y"]) < 200  # next to the button pressed
    kept = page.evaluate(
        "BalaiDrafts.all().then(d => d.map(x => x.fields.filter(f => typeof f[1] !== 'string').length))"
    )
    assert kept == [2], "the draft keeps both photos"
    page.screenshot(path="/tmp/fr/offline-saved.png")

    # The resident closes the app; later, with signal, opens it again on its home page.
    context = page.context
    page.close()
    context.set_offline(False)
    # The signal comes back while no page is open: Background Sync files the draft then. Let it finish
    # (the server has it, the worker has read the answer) before the app is opened again, so the page
    # must learn what became of the draft from what the worker kept (on the old code it never did).
    for _ in range(100):
        if request_count():
            break
        time.sleep(0.1)
    time.sleep(2)
    again = context.new_page()
    again.goto(live_server + "/")
    note = again.get_by_role("link", name="Lihat tanda terima")
    note.wait_for(timeout=20_000)
    assert request_count() == 1
    req = db.session.scalars(select(ServiceRequest)).one()
    assert len(req.attachments) == 2
    note.click()
    again.wait_for_url(re.compile(r"/tanda-terima/"))
    assert again.locator("#kode").inner_text().strip() == req.tracking_code
    again.goto(live_server + "/desa/hanura/layanan")
    again.wait_for_timeout(500)
    assert request_count() == 1


# --- item 12: photos too large, with and without JavaScript -------------------------------------


def camera_photo() -> bytes:
    """A 4000×3000 phone-camera-like JPEG of 2-3 MB."""
    import io

    from PIL import Image, ImageFilter

    bands = [Image.effect_noise((4000, 3000), 20).filter(ImageFilter.GaussianBlur(1.2)) for _ in range(3)]
    buffer = io.BytesIO()
    Image.merge("RGB", bands).save(buffer, "JPEG", quality=93)
    return buffer.getvalue()


def test_with_javascript_photos_are_made_small_on_the_phone_and_sent_with_a_progress_bar(
    app, hanura, live_server, page
):
    photo = camera_photo()
    assert 2_000_000 < len(photo) < 3_200_000
    page.goto(live_server + "/desa/hanura/layanan/domisili")
    fill_letter(page, photos=False)
    for label in ("Foto KTP", "Foto Kartu Keluarga"):
        page.get_by_label(label).set_input_files(
            files=[{"name": "IMG_2041.jpg", "mimeType": "image/jpeg", "buffer": photo}]
        )
    page.get_by_text("Foto dikecilkan").wait_for()
    posts = []
    page.on("requestfinished", lambda r: posts.append(r) if r.method == "POST" else None)
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    # A slow 3G upload: the bar has time to show.
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 150, "downloadThroughput": 160_000, "uploadThroughput": 90_000},
    )
    page.get_by_role("button", name="Periksa jawaban").click()
    bar = page.locator("progress.upload")
    bar.wait_for(state="visible")
    for _ in range(100):
        if page.evaluate("document.querySelector('progress.upload').value") > 0:
            break
        page.wait_for_timeout(100)
    assert page.evaluate("document.querySelector('progress.upload').value") > 0
    assert in_viewport(bar) or in_viewport(page.locator(".upload-status"))
    status = page.locator(".upload-status").inner_text()
    assert "Mengirim" in status
    # What the phone is sending, as the browser's own upload progress counts it.
    total = re.search(r"dari ([\d,]+) (KB|MB)", status)
    sending = float(total.group(1).replace(",", ".")) * (1024 if total.group(2) == "KB" else 1024 * 1024)
    page.screenshot(path="/tmp/fr/upload-progress.png")
    page.get_by_role("heading", name="Periksa jawaban Anda").wait_for(timeout=60_000)
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    print("sent bytes", sending, "original", len(photo))
    assert len(posts) == 1 and 2 * 50_000 < sending < 2 * 450_000, (
        "each photo should travel as a few hundred KB"
    )
    assert page.get_by_text("Terlampir").count() == 2


def test_without_javascript_two_huge_photos_bring_the_form_back_with_the_answers_and_their_sizes(
    app, hanura, live_server, nojs
):
    import os

    nojs.goto(live_server + "/desa/hanura/layanan/domisili")
    fill_letter(nojs, photos=False)
    huge = b"\xff\xd8\xff\xe0" + os.urandom(20 * 1024 * 1024)
    nojs.get_by_label("Foto KTP").set_input_files(
        files=[{"name": "a.jpg", "mimeType": "image/jpeg", "buffer": huge}]
    )
    nojs.get_by_label("Foto Kartu Keluarga").set_input_files(
        files=[{"name": "b.jpg", "mimeType": "image/jpeg", "buffer": huge + os.urandom(2 * 1024 * 1024)}]
    )
    nojs.get_by_role("button", name="Periksa jawaban").click()
    nojs.get_by_text("Foto terlalu besar (20 MB). Batasnya 10 MB.").wait_for()
    assert nojs.get_by_text("Foto terlalu besar (22 MB). Batasnya 10 MB.").is_visible()
    assert "Berkas terlalu besar" not in nojs.content()
    assert nojs.get_by_label("Nama lengkap").input_value() == "Siti Wulandari"
    assert nojs.get_by_label("Keperluan").input_value() == "Untuk melamar kerja."
    assert fits_the_screen(nojs)


# --- item 13: Back after sending; item 15: the check step shows the photos -------------------


@pytest.mark.parametrize("javascript", [True, False])
def test_back_after_sending_says_it_was_sent_and_the_check_step_shows_the_photos(
    app, hanura, live_server, page, nojs, javascript
):
    tab = page if javascript else nojs
    tab.goto(live_server + "/desa/hanura/layanan/domisili")
    fill_letter(tab)
    tab.get_by_role("button", name="Periksa jawaban").click()
    tab.get_by_role("heading", name="Periksa jawaban Anda").wait_for()
    thumbs = tab.locator("img.thumb")
    assert thumbs.count() == 2
    for i in range(2):
        assert tab.evaluate("img => img.complete && img.naturalWidth > 0", thumbs.nth(i).element_handle())
        assert thumbs.nth(i).get_attribute("src").startswith("data:image/jpeg")  # no address to an ID photo
    assert fits_the_screen(tab)
    tab.screenshot(path=f"/tmp/fr/check-{'js' if javascript else 'nojs'}.png", full_page=True)
    tab.get_by_role("button", name="Kirim permohonan").click()
    tab.wait_for_url(re.compile(r"/tanda-terima/"))
    code = tab.locator("#kode").inner_text().strip()

    tab.go_back()
    tab.get_by_text("Anda sudah mengirim ini").first.wait_for()
    link = tab.get_by_role("link", name=re.compile("lihat tanda terima", re.IGNORECASE))
    assert in_viewport(link.first)
    tab.screenshot(path=f"/tmp/fr/back-{'js' if javascript else 'nojs'}.png")
    link.first.click()
    tab.wait_for_url(re.compile(rf"/tanda-terima/{code}$"))
    assert request_count() == 1


# --- item 15: the tracking page's reload hint only for phones without JavaScript -------------


def test_the_reload_hint_is_shown_only_without_javascript(app, hanura, live_server, page, nojs):
    req = submit(hanura)
    page.goto(f"{live_server}/lacak/{req.tracking_code}")
    text = page.locator("main").inner_text()
    assert "Tanpa JavaScript" not in text and "Muat ulang halaman" not in text
    assert "memperbarui dirinya sendiri" in text
    nojs.goto(f"{live_server}/lacak/{req.tracking_code}")
    text = nojs.locator("main").inner_text()
    assert "Muat ulang halaman untuk melihat status terbaru." in text
    assert "memperbarui dirinya sendiri" not in text


# --- item 9: a complaint about the village office goes to the kecamatan/kabupaten -------------


def test_a_complaint_about_the_village_office_goes_to_the_region_and_not_to_the_village(
    app, demo, live_server, page, nojs
):
    nojs.goto(live_server + "/desa/hanura/layanan/pengaduan")
    fill_complaint(nojs)
    nojs.get_by_label("Isi pengaduan").fill("Petugas meminta uang Rp50.000 untuk surat domisili.")
    nojs.get_by_label(re.compile("tentang kantor desa atau perangkat desa")).check()
    nojs.get_by_role("button", name="Periksa jawaban").click()
    assert "Admin kecamatan/kabupaten" in nojs.locator(".answers").inner_text()
    nojs.get_by_role("button", name="Kirim pengaduan").click()
    nojs.wait_for_url(re.compile(r"/tanda-terima/"))
    code = nojs.locator("#kode").inner_text().strip()
    nojs.goto(f"{live_server}/lacak/{code}")
    assert "Admin kecamatan/kabupaten" in nojs.locator(".answers").inner_text()
    assert fits_the_screen(nojs)

    login(page, live_server, "operator.hanura@balai.test")
    page.goto(f"{live_server}/kantor/?status=semua")
    assert code not in page.locator("main").inner_text()
    req = db.session.scalar(select(ServiceRequest).where(ServiceRequest.tracking_code == code))
    assert page.goto(f"{live_server}/kantor/permohonan/{req.id}").status == 404
    page.goto(f"{live_server}/akun/keluar")  # GET shows the sign-out page; the form posts it
    page.context.clear_cookies()

    login(page, live_server, "pesawaran@balai.test")
    page.goto(f"{live_server}/kantor/")
    page.get_by_role("link", name="Pengaduan tentang kantor desa").click()
    page.get_by_role("link", name=re.compile(code)).click()
    assert "Rp50.000" in page.locator("main").inner_text()
    page.get_by_role("button", name="Periksa", exact=True).click()
    page.locator(".badge.diverifikasi").first.wait_for()
    assert fits_the_screen(page)
