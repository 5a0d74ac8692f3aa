"""Buying from a BUMDes and managing its products on a 360 px phone, as the server sends the pages."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models.bumdes import Order, Product
from tests.test_browser_officials import sign_in

pytestmark = pytest.mark.browser

IN_VIEW_JS = (
    """el => { const r = el.getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight; }"""
)


def product_path(name: str) -> str:
    product = db.session.scalar(select(Product).where(Product.name == name))
    return f"/produk/{product.id}-{product.slug}"


def orders_by(name: str) -> int:
    return db.session.scalar(select(func.count()).select_from(Order).where(Order.buyer_name == name))


def fill_order(page, name: str) -> None:
    page.get_by_label("Nama Anda").fill(name)
    page.get_by_label("Nomor HP / WhatsApp").fill("0812-7777-1234")
    page.get_by_label("Jumlah", exact=True).fill("2")


def test_a_double_tap_then_back_and_resend_stores_one_order_and_shows_its_reference(
    app, demo, live_server, page
):
    from playwright.sync_api import expect

    sent = []
    page.on("request", lambda r: sent.append(r) if r.method == "POST" else None)
    page.goto(live_server + product_path("Ikan Kakap Merah Segar"))
    fill_order(page, "Rina Pembeli")
    page.get_by_role("button", name="Kirim pesanan").dblclick()
    # The second tap aborts the first tap's navigation; wait_for_url failed on that abort when it
    # reached Playwright after the wait began (net::ERR_ABORTED, now and then on a loaded machine).
    expect(page).to_have_url(re.compile(r"/pesanan/\d+$"))
    confirmation = page.url
    assert page.get_by_role("heading", name="Pesanan diterima").evaluate(IN_VIEW_JS)
    reference = page.locator("#nomor-pesanan").inner_text().strip()
    assert re.fullmatch(r"P-\d{5}", reference)
    assert page.locator("#nomor-pesanan").evaluate(IN_VIEW_JS)

    # The second copy of a double tap on a slow line arrives after the first was stored: the same
    # bytes, from the same phone. It gets the same confirmation.
    first = sent[0]
    again = page.request.post(
        first.url, data=first.post_data, headers={"Content-Type": first.headers["content-type"]}
    )
    assert again.url == confirmation and again.ok

    # Back, and the form sent once more if the phone shows it: still the one order.
    page.go_back()
    page.wait_for_url(re.compile(r"/produk/\d+-"))
    if page.get_by_role("button", name="Kirim pesanan").count():
        page.get_by_role("button", name="Kirim pesanan").click()
        page.wait_for_url(re.compile(r"/pesanan/\d+$"))
        assert page.locator("#nomor-pesanan").inner_text().strip() == reference
    else:
        notice = page.locator("#sudah-dipesan")
        page.wait_for_function("document.activeElement && document.activeElement.id === 'sudah-dipesan'")
        assert reference in notice.inner_text() and notice.evaluate(IN_VIEW_JS)
    page.wait_for_load_state("networkidle")
    assert orders_by("Rina Pembeli") == 1
    assert db.session.scalar(select(Order).where(Order.buyer_name == "Rina Pembeli")).reference == reference
    assert page.evaluate("document.scrollingElement.scrollWidth <= innerWidth")
    assert page.errors == []


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_a_wrong_order_is_summarised_at_the_top_of_the_form_in_view(
    app, demo, live_server, _chromium, javascript
):
    context = _chromium.new_context(
        viewport={"width": 360, "height": 640}, locale="id-ID", java_script_enabled=javascript
    )
    page = context.new_page()
    try:
        page.goto(live_server + product_path("Ikan Kakap Merah Segar"))
        page.get_by_label("Nama Anda").fill("Rina Pembeli")
        page.get_by_label("Nomor HP / WhatsApp").fill("12345")
        page.get_by_role("button", name="Kirim pesanan").click()
        summary = page.locator("#galat")
        summary.wait_for()
        assert "Nomor HP" in summary.inner_text()
        page.wait_for_function("document.activeElement && document.activeElement.id === 'galat'")
        assert summary.evaluate(IN_VIEW_JS)
        form = page.locator("#pesan form")
        assert summary.evaluate("(el, form) => form.contains(el)", form.element_handle())
        assert page.get_by_label("Nama Anda").input_value() == "Rina Pembeli"
        assert orders_by("Rina Pembeli") == 0
    finally:
        context.close()


def test_the_product_form_asks_for_a_category_instead_of_picking_one(app, demo, live_server, page):
    sign_in(page, live_server, "bumdes.hanura@balai.test", demo)
    page.get_by_role("link", name=re.compile("Tambah produk|Produk baru")).first.click()
    category = page.get_by_label("Kategori")
    assert category.evaluate("s => s.options[s.selectedIndex].text") == "Pilih kategori"
    assert category.get_attribute("required") is not None
    page.get_by_label("Nama produk").fill("Keripik Pisang Kepok")
    page.get_by_label("Harga (rupiah)").fill("15.000")
    page.get_by_role("button", name="Simpan").click()
    summary = page.locator("#galat")
    summary.wait_for()
    assert "Pilih kategori produk" in summary.inner_text()
    assert "Pilih kategori produk" in page.locator(".field.invalid").inner_text()
    assert db.session.scalar(select(Product).where(Product.name == "Keripik Pisang Kepok")) is None
    page.get_by_label("Kategori").select_option(label="Kuliner")
    page.get_by_role("button", name="Simpan").click()
    page.wait_for_url(re.compile(r"/bumdes/\d+/produk$"))
    page.wait_for_load_state("networkidle")  # the list's thumbnails, sent before the page closes
    assert (
        db.session.scalar(select(Product.category).where(Product.name == "Keripik Pisang Kepok")) == "kuliner"
    )
    assert [e for e in page.errors if "Content Security Policy" in e] == []


def test_a_portrait_photo_leaves_price_and_order_buttons_on_the_first_screen_of_a_dpr_2_phone(
    app, demo, live_server, _chromium
):
    from app.bumdes import commerce
    from app.domain.photos import placeholder_image
    from app.domain.storage import PhotoStore

    fish = db.session.scalar(select(Product).where(Product.name == "Ikan Kakap Merah Segar"))
    store = PhotoStore(app.config["UPLOAD_DIR"])
    for photo in list(fish.photos):
        commerce.delete_photo(photo, store)
    db.session.commit()
    for color in ((40, 90, 160), (160, 90, 40)):
        commerce.add_photo(fish, placeholder_image("Kakap", color, (900, 1600)), store)
    fish.description = "Ikan segar dari nelayan Pantai Mutun.\n" * 6
    db.session.commit()

    context = _chromium.new_context(
        viewport={"width": 360, "height": 640},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="id-ID",
    )
    page = context.new_page()
    try:
        page.goto(live_server + f"/produk/{fish.id}-{fish.slug}", wait_until="load")
        hero = page.locator("img.hero-img")
        hero.evaluate("img => img.decode()")
        chosen = hero.evaluate("img => img.currentSrc")
        assert re.search(r"/produk/foto/\d+/(320|640)$", chosen), chosen
        assert hero.evaluate("img => img.naturalWidth") <= 720
        for element in (
            page.locator(".price.big"),
            page.get_by_role("link", name=re.compile("Pesan lewat WhatsApp")),
            page.get_by_role("link", name="Pesan lewat formulir"),
        ):
            box = element.bounding_box()
            assert box["y"] + box["height"] <= 640, element
        assert page.evaluate("document.scrollingElement.scrollWidth <= innerWidth")
        spent = page.evaluate(
            """() => performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource'))
                 .reduce((sum, e) => sum + e.transferSize, 0)"""
        )
        print(f"first visit {spent / 1024:.1f} KB, photo {chosen}")
        assert spent <= 50 * 1024, f"first visit {spent / 1024:.1f} KB"
    finally:
        context.close()
