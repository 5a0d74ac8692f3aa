"""The officials' queue in headless Chromium, as the server sends it (htmx included)."""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import select

from app import workflow
from app.extensions import db
from app.models import Service, Village
from tests.conftest import DEMO_PASSWORD

pytestmark = pytest.mark.browser

NIK = "1809104506900001"


def _request(village: Village, service: Service, name: str, nik: str) -> None:
    workflow.submit_request(
        village,
        service,
        nik=nik,
        name=name,
        phone="+6281234567890",
        idempotency_key=secrets.token_hex(8),
        data={"tempat_lahir": "Pesawaran", "pekerjaan": "Petani", "alamat": "Dusun II"},
        purpose="Melamar kerja",
    )
    db.session.commit()


def _htmx_search(response) -> bool:
    return "/kantor/" in response.url and response.request.headers.get("hx-request") == "true"


def test_a_nik_typed_into_the_queue_search_stays_out_of_every_url(app, demo, live_server, page):
    hanura = db.session.scalar(select(Village).where(Village.slug == "hanura"))
    service = db.session.scalar(
        select(Service).where(Service.village_id == hanura.id, Service.code == "domisili")
    )
    _request(hanura, service, "Sekar Arumdalu", NIK)
    _request(hanura, service, "Bagas Wicaksono", "1809101203850002")
    seen: list[str] = []
    page.on("request", lambda r: seen.extend([r.url, r.headers.get("referer", "")]))
    page.on("framenavigated", lambda frame: seen.append(frame.url))

    page.goto(live_server + "/akun/masuk")
    page.fill("[name=email]", "operator.hanura@balai.test")
    page.fill("[name=password]", DEMO_PASSWORD)
    with page.expect_navigation():
        page.click("form button")
    page.goto(live_server + "/kantor/")

    # Typed as on the KTP; htmx searches as the official types.
    with page.expect_response(_htmx_search):
        page.fill("#q", f"{NIK[:6]} {NIK[6:12]} {NIK[12:]}")
    page.wait_for_timeout(300)
    results = page.locator("#antrian").inner_text()
    assert "Sekar Arumdalu" in results and "Bagas Wicaksono" not in results
    assert page.url == live_server + "/kantor/?status=aktif"

    # A name search keeps its own address; Back returns to the search before it, as a whole page.
    with page.expect_response(_htmx_search):
        page.fill("#q", "Bagas")
    page.wait_for_timeout(300)
    assert page.url == live_server + "/kantor/?status=aktif&q=Bagas"
    page.go_back()
    page.wait_for_timeout(500)
    assert page.url == live_server + "/kantor/?status=aktif"
    assert page.locator("h1").count() == 1 and page.locator("#antrian").count() == 1

    # Opening a request sends no Referer with the NIK either.
    with page.expect_response(_htmx_search):
        page.fill("#q", NIK)
    page.wait_for_timeout(300)
    with page.expect_navigation():
        page.locator("#antrian a.row").first.click()
    assert "Sekar Arumdalu" in page.content()

    leaked = [url for url in seen if NIK[:6] in url.replace("+", "").replace("%20", "")]
    assert leaked == []


def test_leaving_the_search_box_for_the_next_page_goes_to_the_next_page(app, demo, live_server, page):
    """Typing searches as the official types; tapping "Berikutnya" afterwards must not also fire a
    page-1 search (the box's change on blur) that may land after page 2 and replace it."""
    hanura = db.session.scalar(select(Village).where(Village.slug == "hanura"))
    service = db.session.scalar(
        select(Service).where(Service.village_id == hanura.id, Service.code == "domisili")
    )
    for n in range(30):
        _request(hanura, service, f"Warga Pagination {n:02d}", f"18091045069{n:05d}")
    page.goto(live_server + "/akun/masuk")
    page.fill("[name=email]", "operator.hanura@balai.test")
    page.fill("[name=password]", DEMO_PASSWORD)
    with page.expect_navigation():
        page.click("form button")
    page.goto(live_server + "/kantor/")
    with page.expect_response(_htmx_search):
        page.fill("#q", "Pagination")
    page.wait_for_timeout(300)
    assert page.locator("#antrian a.row").count() == 25

    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.method) if r.headers.get("hx-request") == "true" else None)
    with page.expect_response(_htmx_search):
        page.locator("#antrian").get_by_role("link", name="Berikutnya").click()
    page.wait_for_timeout(1000)
    assert sent == ["GET"], "one request: the next page, no search fired by leaving the box"
    assert page.locator("#antrian a.row").count() == 5
    assert page.locator("#antrian").get_by_role("link", name="Ke awal").is_visible()
