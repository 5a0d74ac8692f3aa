"""Balai as an installed app in headless Chromium: installability, pages without signal, offline drafts."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from app import workflow
from app.extensions import db
from app.models import Service, ServiceRequest
from app.tenancy import activate_village
from tests import browser_support

pytestmark = pytest.mark.browser


NIK = "1809104508920001"
SW_CONTROLS = """async () => {
  await navigator.serviceWorker.ready;
  for (let i = 0; i < 100 && !navigator.serviceWorker.controller; i++) await new Promise(r => setTimeout(r, 100));
  return !!navigator.serviceWorker.controller;
}"""


@pytest.fixture
def hanura(app):
    village = activate_village("18.09.10.2004", slug="hanura", head_name="Sutarno")
    db.session.commit()
    return village


def complaint(village, key: str = "browser-pwa-1"):
    service = db.session.scalar(
        select(Service).where(Service.village_id == village.id, Service.code == "pengaduan")
    )
    result = workflow.submit_request(
        village,
        service,
        nik=NIK,
        name="Siti Wulandari",
        phone="081234567890",
        email=None,
        idempotency_key=key,
        data={"kategori": "Jalan dan jembatan", "lokasi": "Dekat pos ronda"},
        purpose="Jalan berlubang di dusun 2",
        locale="id",
        category="Jalan dan jembatan",
    )
    db.session.commit()
    return result.request


def request_count() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(ServiceRequest))


def installed(page, base: str) -> None:
    """Open the app and wait until its service worker controls the page."""
    page.goto(base + "/")
    assert page.evaluate(SW_CONTROLS), "the service worker never took control"


def test_chrome_reports_no_installability_errors_for_the_home_page(app, live_server, _chromium, tmp_path):
    # A profile on disk: Chrome never offers to install from an incognito window.
    context = _chromium.browser_type.launch_persistent_context(
        str(tmp_path / "profile"),
        executable_path=str(browser_support.CHROMIUM),
        args=browser_support.CHROMIUM_ARGS,
        viewport=browser_support.PHONE_VIEWPORT,
        is_mobile=True,
        has_touch=True,
    )
    try:
        tab = context.new_page()
        problems = []
        tab.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
        tab.goto(live_server + "/")
        assert tab.evaluate(SW_CONTROLS)
        cdp = context.new_cdp_session(tab)
        assert cdp.send("Page.getInstallabilityErrors")["installabilityErrors"] == []
        manifest = cdp.send("Page.getAppManifest")
        assert not manifest.get("errors")
        assert problems == []
    finally:
        context.close()


def test_without_signal_a_page_never_seen_shows_the_offline_page(app, hanura, live_server, page):
    installed(page, live_server)
    page.context.set_offline(True)
    page.goto(live_server + "/desa/hanura/layanan")
    assert page.get_by_role("heading", name="Anda sedang tidak tersambung").is_visible()
    assert page.evaluate("getComputedStyle(document.body).fontFamily") != ""
    # The shell's styles come from the cache: the page is laid out, not bare HTML.
    assert page.evaluate("document.styleSheets.length") >= 1
    assert page.evaluate("Array.from(document.styleSheets).every(s => s.cssRules.length > 0)")


def test_a_visited_tracking_page_shows_its_last_seen_state_without_signal(app, hanura, live_server, page):
    req = complaint(hanura)
    installed(page, live_server)
    page.goto(f"{live_server}/lacak/{req.tracking_code}")
    seen = page.locator("#lacak-status").inner_text()
    assert req.tracking_code in seen
    assert not page.locator("[data-as-of]").is_visible()

    # The village moves on while the phone has no signal: the phone shows what it saw last,
    # and says it is the status of that moment (issue 14, item 15).
    workflow.apply_action(req, "verify", actor=None, expected_version=req.version)
    db.session.commit()
    page.context.set_offline(True)
    page.goto(f"{live_server}/lacak/{req.tracking_code}")
    assert page.locator("#lacak-status").inner_text() == seen
    assert "tidak tersambung" not in page.content()
    as_of = page.locator("[data-as-of]")
    assert as_of.is_visible() and re.search(r"status per .*\d{2}[.:]\d{2}", as_of.inner_text())
    box = as_of.bounding_box()
    assert box["y"] < 740  # on the first screen, above the status
    page.screenshot(path="/tmp/fr/offline-as-of.png")

    page.context.set_offline(False)
    page.goto(f"{live_server}/lacak/{req.tracking_code}")
    assert page.locator("#lacak-status").inner_text() != seen
    assert not page.locator("[data-as-of]").is_visible()


def test_my_requests_open_without_signal(app, hanura, live_server, page):
    installed(page, live_server)
    page.goto(live_server + "/saya")
    online = page.locator("h1").inner_text()
    page.context.set_offline(True)
    page.goto(live_server + "/saya")
    assert page.locator("h1").inner_text() == online
    assert "tidak tersambung" not in page.content()


def _fill_complaint(page) -> None:
    page.fill("[name=nik]", NIK)
    page.fill("[name=name]", "Siti Wulandari")
    page.fill("[name=phone]", "0812-3456-7890")
    page.select_option("[name=d_kategori]", label="Jalan dan jembatan")
    if page.locator("[name=d_lokasi]").count():
        page.fill("[name=d_lokasi]", "Dekat pos ronda")
    page.fill("[name=purpose]", "Jalan berlubang di dusun 2")


def test_a_form_sent_without_signal_is_kept_and_filed_once_when_the_signal_returns(
    app, hanura, live_server, page
):
    installed(page, live_server)
    page.goto(live_server + "/desa/hanura/layanan/pengaduan")
    _fill_complaint(page)

    page.context.set_offline(True)
    page.locator("form [name=step]").first.click()
    page.get_by_text("disimpan di HP ini").wait_for()
    assert page.evaluate("BalaiDrafts.all().then(d => d.length)") == 1
    assert page.url.endswith("/desa/hanura/layanan/pengaduan"), "the page must stay put"

    page.context.set_offline(False)
    page.get_by_text("sudah terkirim").wait_for(timeout=20_000)
    assert request_count() == 1
    assert page.evaluate("BalaiDrafts.all().then(d => d.length)") == 0
    link = page.get_by_role("link", name="Lihat tanda terima").get_attribute("href")
    code = re.search(r"/(?:tanda-terima|lacak)/([^/?#]+)", link).group(1)
    assert code in page.evaluate("localStorage.getItem('balai.codes')")

    # Coming back online again, or opening the app again, sends nothing twice.
    page.evaluate("window.dispatchEvent(new Event('online'))")
    page.goto(live_server + "/saya")
    page.wait_for_timeout(500)
    assert request_count() == 1
    assert code in page.locator("main").inner_text()


def test_a_draft_replayed_after_it_was_filed_makes_no_second_request(app, hanura, live_server, page):
    installed(page, live_server)
    page.goto(live_server + "/desa/hanura/layanan/pengaduan")
    _fill_complaint(page)
    page.context.set_offline(True)
    page.locator("form [name=step]").first.click()
    page.get_by_text("disimpan di HP ini").wait_for()
    draft = page.evaluate("BalaiDrafts.all().then(d => d[0])")
    page.context.set_offline(False)
    page.get_by_text("sudah terkirim").wait_for(timeout=20_000)
    # The same draft once more, as if the phone lost the answer and tried again.
    page.evaluate("d => { delete d.id; return BalaiDrafts.put(d).then(() => BalaiDrafts.flush()); }", draft)
    assert request_count() == 1


def test_a_draft_the_server_refuses_goes_back_into_its_form(app, hanura, live_server, page):
    installed(page, live_server)
    page.goto(live_server + "/desa/hanura/layanan/pengaduan")
    _fill_complaint(page)
    page.fill("[name=nik]", "1809107508920001")  # day 75: not a real date of birth
    page.context.set_offline(True)
    page.locator("form [name=step]").first.click()
    page.get_by_text("disimpan di HP ini").wait_for()
    page.context.set_offline(False)
    page.get_by_text("perlu diperbaiki").wait_for(timeout=20_000)
    assert request_count() == 0

    page.goto(live_server + "/desa/hanura/layanan/pengaduan")
    page.get_by_text("perlu diperbaiki").wait_for()
    assert page.input_value("[name=name]") == "Siti Wulandari"
    assert page.input_value("[name=nik]") == "1809107508920001"


def test_after_an_official_logs_out_the_phone_never_shows_their_view_offline(app, demo, live_server, page):
    from app.models import Village
    from tests.conftest import DEMO_PASSWORD

    hanura = db.session.scalar(select(Village).where(Village.slug == "hanura"))
    req = db.session.scalars(
        select(ServiceRequest).where(
            ServiceRequest.village_id == hanura.id, ServiceRequest.status == "diajukan"
        )
    ).first()
    operator = "operator.hanura@balai.test"
    installed(page, live_server)
    page.goto(live_server + "/akun/masuk")
    page.fill("[name=email]", operator)
    page.fill("[name=password]", DEMO_PASSWORD)
    with page.expect_navigation():
        page.click("form button")

    page.goto(f"{live_server}/lacak/{req.tracking_code}")
    official_view = page.content()
    assert "Untuk petugas" in official_view and "/aksi" in official_view  # the counter actions
    name = page.locator("footer p").first.inner_text().split(" · ")[0]
    assert name and name in official_view

    with page.expect_navigation():
        page.get_by_role("button", name="Keluar").click()
    page.context.set_offline(True)
    page.goto(f"{live_server}/lacak/{req.tracking_code}")
    shown = page.content()
    assert "Untuk petugas" not in shown and "/aksi" not in shown and name not in shown
    assert "Keluar" not in shown


def test_the_browser_finds_an_icon_at_favicon_ico(app, live_server, page):
    page.goto(live_server + "/")
    icon = page.request.get(live_server + "/favicon.ico")
    assert icon.status == 200 and icon.headers["content-type"] == "image/vnd.microsoft.icon"
    assert icon.body()[:4] == b"\x00\x00\x01\x00"  # an ICO file
    page.goto(live_server + "/favicon.ico")
    assert page.evaluate("document.images.length && document.images[0].naturalWidth") >= 16
