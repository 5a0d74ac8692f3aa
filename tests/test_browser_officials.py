"""The officials' workbench on a 360 px phone, as the server sends it: every page readable, no console errors.

Its htmx actions under the shipped CSP are walked in tests/test_browser_csp.py.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Holiday, Service, ServiceRequest, Village

pytestmark = pytest.mark.browser

# How a page reads at 360 px: no sideways scrolling, the header on one row, and every value of a
# label/value list (.facts) either at least half the list's width or stacked under its label.
LAYOUT_JS = """() => {
  const se = document.scrollingElement;
  const narrow = [...document.querySelectorAll('.facts')].flatMap(dl => {
    const width = dl.getBoundingClientRect().width;
    return [...dl.querySelectorAll(':scope > dd')].filter(dd => {
      const dt = dd.previousElementSibling, r = dd.getBoundingClientRect();
      const stacked = dt && dt.getBoundingClientRect().bottom <= r.top + 1;
      return r.width < width / 2 && !stacked;
    }).map(dd => dd.textContent.trim().slice(0, 30) + ' ' + Math.round(dd.getBoundingClientRect().width) + 'px');
  });
  const header = document.querySelector('header.top');
  const links = [...header.querySelectorAll('a')].map(a => Math.round(a.getBoundingClientRect().top));
  return {scroll: se.scrollWidth, inner: innerWidth, narrow, rows: new Set(links).size};
}"""


def sign_in(page, base: str, email: str, password: str) -> None:
    page.goto(base + "/akun/masuk")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Kata sandi").fill(password)
    page.locator("main form button").click()
    page.wait_for_url(re.compile(r"/(kantor|bumdes|admin)"))


def officials_paths() -> list[str]:
    """Every page an operator of the first demo village opens under /kantor/, with demo data."""
    village = db.session.scalar(select(Village).where(Village.slug == "hanura"))
    db.session.add(
        Holiday(village_id=village.id, day=date.today() + timedelta(days=40), name="Hari Bhayangkara")
    )
    db.session.commit()
    requests = db.session.scalars(
        select(ServiceRequest.id).where(ServiceRequest.village_id == village.id).order_by(ServiceRequest.id)
    ).all()
    service = db.session.scalar(select(Service.id).where(Service.village_id == village.id))
    return [
        "/kantor/",
        "/kantor/?status=semua",
        "/kantor/loket",
        "/kantor/layanan",
        "/kantor/layanan/baru",
        f"/kantor/layanan/{service}",
        "/kantor/libur",
        "/kantor/laporan",
        "/kantor/pengaturan-surat",
        *(f"/kantor/permohonan/{i}" for i in requests),
    ]


def test_every_officials_page_reads_well_on_a_360_px_phone(app, demo, live_server, page):
    paths = officials_paths()
    assert len(paths) > 15
    sign_in(page, live_server, "operator.hanura@balai.test", demo)
    for path in paths:
        # Every picture fetched before the next page: a transfer cut short leaves the server's file open.
        response = page.goto(live_server + path, wait_until="networkidle")
        assert response.status == 200, path
        layout = page.evaluate(LAYOUT_JS)
        assert layout["scroll"] <= layout["inner"], f"{path} scrolls sideways: {layout}"
        assert layout["narrow"] == [], f"{path}: values squeezed beside their labels {layout['narrow']}"
        assert layout["rows"] == 1, f"{path}: the staff header wraps to {layout['rows']} rows"
    # The request page: the NIK and the phone number each read on one line.
    page.goto(live_server + paths[-1])
    for label in ("NIK", "Nomor HP"):
        value = page.locator(f".facts dt:text-is('{label}') + dd")
        assert value.evaluate("dd => dd.getBoundingClientRect().height") < 30, label
    assert page.errors == []


def test_the_staff_header_tells_messages_from_orders_on_one_row(app, demo, live_server, page):
    sign_in(page, live_server, "bumdes.hanura@balai.test", demo)
    page.goto(live_server + "/bumdes/")
    nav = page.get_by_role("navigation", name="Menu utama")
    assert nav.get_by_role("link", name=re.compile("^Kotak masuk")).is_visible()
    assert nav.get_by_role("link", name="Pesan").count() == 0
    assert page.get_by_role("navigation", name="Menu BUMDes").get_by_role("link", name="Pesanan").is_visible()
    assert page.evaluate(LAYOUT_JS)["rows"] == 1


# Each run of characters between slashes of the letter number, and on how many lines it was drawn.
NUMBER_TOKENS_JS = """() => {
  const b = document.querySelector('dd.number b');
  const text = b.textContent, range = document.createRange(), out = [];
  const nodes = [...b.childNodes].filter(n => n.nodeType === 3);
  for (const node of nodes) {
    let start = 0;
    for (const part of node.textContent.split('/')) {
      if (part) {
        range.setStart(node, start); range.setEnd(node, start + part.length);
        out.push([part, new Set([...range.getClientRects()].map(r => Math.round(r.top))).size]);
      }
      start += part.length + 1;
    }
  }
  return {text, tokens: out};
}"""


def test_the_verification_page_shows_the_printed_name_who_really_acted_and_an_unbroken_number(
    app, demo, live_server, page
):
    from app import letters
    from app.models import User
    from app.models.letters import VillageLetterSettings
    from tests.test_officials import advance, make_request, make_service

    village = db.session.scalar(select(Village).where(Village.slug == "hanura"))
    db.session.merge(
        VillageLetterSettings(
            village_id=village.id,
            require_head_approval=False,
            number_pattern="{klasifikasi}/{nomor}/{kode_desa}/18.09.10.2004/{bulan}/{tahun}",
        )
    )
    service = make_service(village)
    operator = db.session.scalar(select(User).where(User.email == "operator.hanura@balai.test"))
    req = advance(make_request(village, service, name="Siti Wulandari Rahmawati"), "verify", "start")
    letter = letters.issue(
        req,
        operator,
        expected_version=req.version,
        note=None,
        base_url=live_server,
        upload_dir="/nonexistent",
    )
    db.session.commit()

    # The address the letter's QR code carries.
    page.goto(re.search(rb"/URI \((http[^)]+/verifikasi/[^)]+)\)", letter.pdf).group(1).decode())
    assert page.locator("#pemegang").inner_text() == "Siti Wulandari Rahmawati"
    assert req.nik not in page.content()
    actor = page.locator("#penyetuju")
    assert operator.name in actor.inner_text() and "Tidak ada persetujuan Kepala Desa" in actor.inner_text()
    assert page.get_by_text("Disetujui di Balai oleh").count() == 0
    number = page.evaluate(NUMBER_TOKENS_JS)
    assert number["text"] == letter.number
    assert [part for part, lines in number["tokens"] if lines != 1] == [], number
    layout = page.evaluate(LAYOUT_JS)
    assert layout["scroll"] <= layout["inner"] and layout["narrow"] == []
    assert page.errors == []
