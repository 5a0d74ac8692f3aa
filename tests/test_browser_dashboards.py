"""Region dashboards and a village's APBDes on a 360 px phone, and their downloads as Excel reads them."""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest

pytestmark = pytest.mark.browser

# Every label of every chart: its size on screen and whether it lies inside its chart.
CHART_TEXT_JS = """() => [...document.querySelectorAll('figure.chart svg')].flatMap(svg => {
  const box = svg.getBoundingClientRect(), scale = svg.getScreenCTM().a;
  return [...svg.querySelectorAll('text')].map(t => {
    const r = t.getBoundingClientRect();
    return {text: t.textContent, px: parseFloat(getComputedStyle(t).fontSize) * scale,
            inside: r.left >= box.left - 0.5 && r.right <= box.right + 0.5 && r.top >= box.top - 0.5 && r.bottom <= box.bottom + 0.5};
  });
})"""


def charts_read_well(page) -> None:
    texts = page.evaluate(CHART_TEXT_JS)
    assert texts, "no chart on the page"
    small = [t for t in texts if t["px"] < 12]
    clipped = [t["text"] for t in texts if not t["inside"]]
    assert not small, small[:3]
    assert not clipped, clipped
    assert not any(t["text"].endswith("…") for t in texts if len(t["text"]) < 40)


def test_a_region_dashboard_shows_every_column_and_readable_charts_at_360_px(app, demo, live_server, page):
    page.goto(live_server + "/wilayah/18.04?periode=semua")
    assert page.evaluate("document.scrollingElement.scrollWidth <= innerWidth")
    hint = page.locator(".scroll-hint")
    assert hint.is_visible() and "10 kolom" in hint.inner_text()
    wrap = page.locator("#tabel .table-wrap")
    last = wrap.locator("thead th").last
    assert last.inner_text().strip().startswith("Pesanan")
    assert not last.evaluate(
        "th => th.getBoundingClientRect().right <= innerWidth"
    )  # off to the right at first
    # A thumb swipes the table sideways (the box scrolls, the page does not): the last column comes in.
    wrap.evaluate("w => w.scrollBy({left: w.scrollWidth})")
    page.wait_for_function("document.querySelector('#tabel .table-wrap').scrollLeft > 0")
    right = last.evaluate("th => th.getBoundingClientRect().right")
    assert right <= page.evaluate("innerWidth")
    names = wrap.locator("tbody th").first
    assert names.evaluate("th => th.getBoundingClientRect().left") >= 0  # the names column stays in view
    charts_read_well(page)
    assert page.errors == []


def test_the_apbdes_chart_labels_are_whole_and_readable_at_360_px(app, demo, live_server, page):
    page.goto(live_server + "/desa/hanura/#apbdes")
    page.locator("#apbdes figure.chart").wait_for()
    charts_read_well(page)
    assert page.evaluate("document.scrollingElement.scrollWidth <= innerWidth")


def test_the_downloads_open_as_an_indonesian_excel_reads_them(app, demo, live_server, page):
    page.goto(live_server + "/wilayah/18.04?periode=semua")
    with page.expect_download() as excel:
        page.get_by_role("link", name="Unduh tabel (Excel)").click()
    assert excel.value.suggested_filename.endswith(".xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(excel.value.path().read_bytes())).active
    header = [c.value for c in sheet[1]]
    assert header[:2] == ["Kode", "Nama"] and len(header) == 12
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    assert rows[-1][0] == "18.04" and all(isinstance(r[3], int) for r in rows)

    with page.expect_download() as plain:
        page.get_by_role("link", name="Unduh tabel (CSV)").click()
    body = plain.value.path().read_bytes()
    assert body.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))
    assert table[0] == header and len(table) == len(rows) + 1
    assert [r[0] for r in table[1:]] == [r[0] for r in rows]

    with page.expect_download() as status:
        page.get_by_role("link", name="CSV", exact=True).first.click()
    text = status.value.path().read_bytes().decode("utf-8-sig")
    statuses = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert "Siap diambil" in [r[0] for r in statuses] and "siap_diambil" not in str(statuses)
