"""The managers' area: products from a phone, photos, the orders inbox, the summary, access rules."""

from __future__ import annotations

import csv
import io
import re

import pytest
from sqlalchemy import func, select

from app import events
from app.bumdes import commerce
from app.domain.errors import DomainError
from app.domain.photos import placeholder_image
from app.domain.storage import PhotoStore
from app.extensions import db
from app.models import Role, User, Village
from app.models.bumdes import Bumdes, Order, Product, ProductPhoto
from tests.conftest import csrf_from
from tests.test_bumdes import EVIL, bumdes_of, page_of, product_named

HANURA = "bumdes.hanura@balai.test"
RIGIS = "bumdes.rigisjaya@balai.test"


def jpeg(text: str = "foto", color=(120, 60, 30)) -> bytes:
    return placeholder_image(text, color, (400, 300))


def product_fields(**overrides) -> dict:
    data = {
        "name": "Kopi Luwak Liar",
        "price": "Rp 150.000",
        "unit": "bungkus",
        "category": "perkebunan",
        "description": "Baris satu\nBaris dua",
        "stock": "",
        "available": "y",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def htmx(client, path: str) -> dict:
    """Headers of an htmx request, with the CSRF token htmx takes from the page body."""
    token = csrf_from(client.get(path).get_data(as_text=True))
    return {"HX-Request": "true", "X-CSRFToken": token}


def test_a_manager_lands_on_their_products_after_login(app, client, auth, demo):
    response = auth.login(RIGIS)
    assert response.headers["Location"].endswith("/bumdes/")
    landing = client.get("/bumdes/")
    assert landing.status_code == 302
    assert landing.headers["Location"].endswith(f"/bumdes/{bumdes_of('rigis-jaya').id}/produk")
    assert "Kopi Robusta Bubuk Air Hitam 250 g" in page_of(client, landing.headers["Location"])


def test_a_manager_without_a_bumdes_is_told_what_to_do(app, client, auth, demo):
    user = db.session.scalar(select(User).where(User.email == RIGIS))
    user.bumdes_id = None
    db.session.commit()
    auth.login(RIGIS)
    assert "belum terhubung" in page_of(client, "/bumdes/")


def test_other_roles_cannot_enter_the_managers_area(app, client, auth, demo):
    auth.login("operator.hanura@balai.test")
    assert client.get("/bumdes/").status_code == 403
    assert client.get(f"/bumdes/{bumdes_of('hanura').id}/produk").status_code == 403


def test_a_manager_adds_a_product_with_two_photos_publishes_it_and_buyers_find_it(app, client, auth, demo):
    auth.login(RIGIS)
    rigis = bumdes_of("rigis-jaya")
    path = f"/bumdes/{rigis.id}/produk/baru"
    data = product_fields(published="y", csrf_token=auth.csrf(path))
    data["photos"] = [
        (io.BytesIO(jpeg("depan")), "depan.jpg"),
        (io.BytesIO(jpeg("belakang")), "blob"),
    ]
    response = client.post(path, data=data, content_type="multipart/form-data")
    assert response.status_code == 303
    product = product_named("Kopi Luwak Liar")
    assert product.price == 150000 and product.published and len(product.photos) == 2
    photo = product.photos[0]
    assert (photo.small_width, photo.medium_width) == (320, 400)  # never upscaled
    store = PhotoStore(app.config["UPLOAD_DIR"])
    assert all(store.exists(n) for p in product.photos for n in (p.stored_name, p.small_name, p.medium_name))
    auth.logout()
    assert "Kopi Luwak Liar" in page_of(client, "/desa/rigis-jaya/produk")
    assert "Kopi Luwak Liar" in page_of(client, "/produk?q=luwak")
    assert "Rp 150.000" in page_of(client, f"/produk/{product.id}-{product.slug}")


def test_a_new_product_is_a_draft_unless_published(app, client, auth, demo):
    auth.login(RIGIS)
    path = f"/bumdes/{bumdes_of('rigis-jaya').id}/produk/baru"
    client.post(path, data=product_fields(csrf_token=auth.csrf(path)))
    product = product_named("Kopi Luwak Liar")
    assert not product.published
    assert client.get(f"/produk/{product.id}-{product.slug}").status_code == 404


@pytest.mark.parametrize(
    ("price", "message"),
    [
        ("-5000", "Harga tidak boleh kurang dari nol."),
        ("25000,50", "Harga ditulis dalam rupiah bulat, tanpa sen."),
        ("12.5", "Harga ditulis dalam rupiah bulat, tanpa sen."),
        ("5000000000", "Harga terlalu besar; paling banyak Rp 1.000.000.000."),
        ("murah", "Harga harus berupa angka."),
        ("", "Harga belum diisi."),
        ("0", "Harga paling sedikit Rp 1."),
    ],
)
def test_prices_reject_negatives_decimals_and_absurd_values_with_a_clear_message(
    app, client, auth, demo, price, message
):
    auth.login(RIGIS)
    path = f"/bumdes/{bumdes_of('rigis-jaya').id}/produk/baru"
    response = client.post(path, data=product_fields(price=price, csrf_token=auth.csrf(path)))
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert product_named("Kopi Luwak Liar") is None


@pytest.mark.parametrize("stock", ["-1", "2,5", "banyak"])
def test_stock_must_be_a_whole_number(app, client, auth, demo, stock):
    auth.login(RIGIS)
    path = f"/bumdes/{bumdes_of('rigis-jaya').id}/produk/baru"
    response = client.post(path, data=product_fields(stock=stock, csrf_token=auth.csrf(path)))
    assert response.status_code == 422 and "Stok berupa angka bulat" in response.get_data(as_text=True)


def test_inline_edit_swaps_the_row_without_a_page_reload(app, client, auth, demo):
    auth.login(RIGIS)
    coffee = product_named("Kopi Robusta Bubuk Air Hitam 250 g")
    headers = htmx(client, f"/bumdes/{coffee.bumdes_id}/produk")
    form = client.get(f"/bumdes/produk/{coffee.id}/ubah", headers=headers)
    body = form.get_data(as_text=True)
    assert form.status_code == 200 and "<html" not in body and 'class="prow editing"' in body
    assert 'value="35000"' in body
    data = product_fields(name="Kopi Robusta Bubuk 250 g", price="37.500", published="y")
    saved = client.post(f"/bumdes/produk/{coffee.id}/ubah", data=data, headers=headers)
    row = saved.get_data(as_text=True)
    assert saved.status_code == 200 and "<html" not in row and "Rp 37.500" in row
    bad = client.post(f"/bumdes/produk/{coffee.id}/ubah", data=product_fields(price="-1"), headers=headers)
    assert bad.status_code == 422 and "<html" not in bad.get_data(as_text=True)
    db.session.expire_all()
    assert coffee.price == 37500 and coffee.slug == "kopi-robusta-bubuk-250-g"


def test_editing_works_without_javascript(app, client, auth, demo):
    auth.login(RIGIS)
    coffee = product_named("Kopi Robusta Bubuk Air Hitam 250 g")
    path = f"/bumdes/produk/{coffee.id}/ubah"
    assert "<html" in page_of(client, path)
    response = client.post(path, data=product_fields(price="40000", csrf_token=auth.csrf(path)))
    assert response.status_code == 303 and response.headers["Location"].endswith(
        f"/bumdes/{coffee.bumdes_id}/produk"
    )


def test_publish_and_sold_out_toggles(app, client, auth, demo):
    auth.login(RIGIS)
    draft = product_named("Paket Wisata Kebun Kopi")
    headers = htmx(client, f"/bumdes/{draft.bumdes_id}/produk")
    row = client.post(f"/bumdes/produk/{draft.id}/terbit", headers=headers).get_data(as_text=True)
    assert "Jadikan draf" in row
    db.session.expire_all()
    assert draft.published and draft.published_at is not None
    client.post(f"/bumdes/produk/{draft.id}/tersedia", headers=headers)
    db.session.expire_all()
    assert not draft.available
    assert "Sedang habis" in page_of(client, f"/produk/{draft.id}-{draft.slug}")


def test_a_product_holds_at_most_five_photos(app, client, auth, demo):
    auth.login(RIGIS)
    coffee = product_named("Kopi Robusta Bubuk Air Hitam 250 g")  # has one photo
    path = f"/bumdes/produk/{coffee.id}/foto"
    files = [(io.BytesIO(jpeg(str(i))), f"{i}.jpg") for i in range(4)]
    response = client.post(
        path,
        data={"photos": files, "csrf_token": auth.csrf(f"/bumdes/produk/{coffee.id}/ubah")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 303
    db.session.expire_all()
    assert len(coffee.photos) == 5
    assert "Sudah 5 foto" in page_of(client, f"/bumdes/produk/{coffee.id}/ubah")
    response = client.post(
        path,
        data={
            "photos": [(io.BytesIO(jpeg("6")), "6.jpg")],
            "csrf_token": auth.csrf(f"/bumdes/produk/{coffee.id}/ubah"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 422 and "paling banyak 5 foto" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).where(ProductPhoto.product_id == coffee.id)) == 5
    with pytest.raises(DomainError):
        commerce.add_photo(coffee, jpeg(), PhotoStore(app.config["UPLOAD_DIR"]))


def test_a_new_product_with_six_photos_is_refused(app, client, auth, demo):
    auth.login(RIGIS)
    path = f"/bumdes/{bumdes_of('rigis-jaya').id}/produk/baru"
    data = product_fields(csrf_token=auth.csrf(path))
    data["photos"] = [(io.BytesIO(jpeg(str(i))), f"{i}.jpg") for i in range(6)]
    response = client.post(path, data=data, content_type="multipart/form-data")
    assert response.status_code == 422 and "Paling banyak 5 foto" in response.get_data(as_text=True)
    assert product_named("Kopi Luwak Liar") is None


def test_a_file_that_is_not_a_photo_is_refused_and_nothing_is_saved(app, client, auth, demo):
    auth.login(RIGIS)
    path = f"/bumdes/{bumdes_of('rigis-jaya').id}/produk/baru"
    data = product_fields(csrf_token=auth.csrf(path))
    data["photos"] = [(io.BytesIO(b"<script>alert(1)</script>"), "foto.jpg")]
    response = client.post(path, data=data, content_type="multipart/form-data")
    assert response.status_code == 422
    assert product_named("Kopi Luwak Liar") is None


def test_deleting_a_photo_removes_its_files(app, client, auth, demo):
    auth.login(RIGIS)
    coffee = product_named("Kopi Robusta Bubuk Air Hitam 250 g")
    photo = coffee.photos[0]
    names = (photo.stored_name, photo.small_name, photo.medium_name)
    response = client.post(
        f"/bumdes/foto/{photo.id}/hapus", data={"csrf_token": auth.csrf(f"/bumdes/produk/{coffee.id}/ubah")}
    )
    assert response.status_code == 303
    store = PhotoStore(app.config["UPLOAD_DIR"])
    assert not any(store.exists(n) for n in names)
    assert db.session.get(ProductPhoto, photo.id) is None


def test_managers_preview_their_draft_photos_privately(app, client, auth, demo):
    auth.login(RIGIS)
    draft = product_named("Paket Wisata Kebun Kopi")
    with client.get(f"/bumdes/foto/{draft.photos[0].id}/320") as response:
        assert response.status_code == 200 and "no-store" in response.headers["Cache-Control"]


def test_a_manager_cannot_touch_another_bumdes_products_or_orders(app, client, auth, demo):
    hanura = bumdes_of("hanura")
    fish = product_named("Ikan Kakap Merah Segar")
    order = db.session.scalar(select(Order).where(Order.bumdes_id == hanura.id, Order.status == "new"))
    auth.login(RIGIS)
    token = auth.csrf(f"/bumdes/{bumdes_of('rigis-jaya').id}/produk")
    for path in (
        f"/bumdes/{hanura.id}/produk",
        f"/bumdes/{hanura.id}/produk/baru",
        f"/bumdes/produk/{fish.id}/ubah",
        f"/bumdes/produk/{fish.id}",
        f"/bumdes/foto/{fish.photos[0].id}/320",
        f"/bumdes/{hanura.id}/pesanan",
        f"/bumdes/{hanura.id}/ringkasan",
        f"/bumdes/{hanura.id}/ringkasan.csv",
        f"/bumdes/{hanura.id}/profil",
    ):
        assert client.get(path).status_code == 404, path
    for path in (
        f"/bumdes/{hanura.id}/produk/baru",
        f"/bumdes/produk/{fish.id}/ubah",
        f"/bumdes/produk/{fish.id}/terbit",
        f"/bumdes/produk/{fish.id}/tersedia",
        f"/bumdes/produk/{fish.id}/foto",
        f"/bumdes/foto/{fish.photos[0].id}/hapus",
        f"/bumdes/pesanan/{order.id}/status",
        f"/bumdes/{hanura.id}/profil",
    ):
        data = {"csrf_token": token, "to": "cancelled", **product_fields(price="1")}
        assert client.post(path, data=data).status_code == 404, path
    db.session.expire_all()
    assert fish.published and fish.price == 85000 and order.status == "new" and len(fish.photos) == 1
    body = page_of(client, f"/bumdes/{bumdes_of('rigis-jaya').id}/pesanan?status=semua")
    assert order.buyer_name not in body and order.buyer_phone not in body


def test_a_superadmin_manages_every_bumdes(app, client, auth, demo):
    auth.login("admin@balai.test")
    body = page_of(client, "/bumdes/")
    assert "BUMDes Hanura Bahari" in body and "BUMDes Rigis Jaya Makmur" in body
    assert client.get(f"/bumdes/{bumdes_of('hanura').id}/pesanan").status_code == 200


# --- orders inbox --------------------------------------------------------------------------------


def test_the_inbox_shows_buyer_contact_and_moves_orders_along(app, client, auth, demo):
    captured: list = []
    events.listeners["test"] = lambda name, payload: captured.append((name, payload))
    try:
        hanura = bumdes_of("hanura")
        order = db.session.scalar(select(Order).where(Order.bumdes_id == hanura.id, Order.status == "new"))
        auth.login(HANURA)
        body = page_of(client, f"/bumdes/{hanura.id}/pesanan")
        assert order.buyer_name in body and order.buyer_phone in body
        headers = htmx(client, f"/bumdes/{hanura.id}/pesanan")
        row = client.post(f"/bumdes/pesanan/{order.id}/status", data={"to": "confirmed"}, headers=headers)
        assert row.status_code == 200 and "<html" not in row.get_data(as_text=True)
        assert "Dikonfirmasi" in row.get_data(as_text=True)
        token = auth.csrf(f"/bumdes/{hanura.id}/pesanan")
        done = client.post(f"/bumdes/pesanan/{order.id}/status", data={"to": "done", "csrf_token": token})
        assert done.status_code == 303
        db.session.expire_all()
        assert order.status == "done"
        # A finished order cannot go back.
        client.post(f"/bumdes/pesanan/{order.id}/status", data={"to": "new", "csrf_token": token})
        db.session.expire_all()
        assert order.status == "done"
        assert [p["status"] for n, p in captured if n == events.ORDER_STATUS_CHANGED] == ["confirmed", "done"]
    finally:
        events.listeners.pop("test", None)


def test_order_status_rules(app, demo):
    order = db.session.scalar(select(Order).where(Order.status == "new"))
    with pytest.raises(DomainError):
        commerce.change_order_status(order, "done")
    commerce.change_order_status(order, "cancelled")
    with pytest.raises(DomainError):
        commerce.change_order_status(order, "confirmed")


def test_text_fields_come_out_escaped_in_the_managers_area(app, client, auth, demo):
    hanura = bumdes_of("hanura")
    fish = product_named("Ikan Kakap Merah Segar")
    db.session.add(
        Order(
            bumdes_id=hanura.id,
            product_id=fish.id,
            product_name=EVIL,
            unit="kg",
            unit_price=1000,
            quantity=1,
            buyer_name=EVIL,
            buyer_phone="+6281234567890",
            note=EVIL,
            address=EVIL,
            fulfilment="delivery",
            idempotency_key="jahat",
        )
    )
    fish.name = EVIL
    fish.description = EVIL
    db.session.commit()
    auth.login(HANURA)
    for path in (
        f"/bumdes/{hanura.id}/produk",
        f"/bumdes/produk/{fish.id}/ubah",
        f"/bumdes/{hanura.id}/pesanan",
    ):
        body = page_of(client, path)
        assert "<script>alert" not in body and "<b onmouseover" not in body, path
        assert "&lt;script&gt;" in body, path
    db.session.execute(Order.__table__.delete().where(Order.idempotency_key != "jahat"))
    db.session.commit()
    body = page_of(client, f"/bumdes/{hanura.id}/ringkasan")
    assert "<script>alert" not in body and "&lt;script&gt;" in body
    csv_text = client.get(f"/bumdes/{hanura.id}/ringkasan.csv").get_data(as_text=True)
    assert "<script>alert(1)</script>" in csv_text  # CSV is data, not HTML; only formulas are defused


def test_the_profile_is_edited_and_escaped_on_the_shop(app, client, auth, demo):
    hanura = bumdes_of("hanura")
    auth.login(HANURA)
    path = f"/bumdes/{hanura.id}/profil"
    data = {
        "csrf_token": auth.csrf(path),
        "name": "BUMDes Hanura " + EVIL,
        "legal_number": "AHU-1",
        "description": EVIL,
        "whatsapp": "0812 9999 0000",
        "payment_info": EVIL,
    }
    assert client.post(path, data=data).status_code == 303
    db.session.expire_all()
    assert hanura.whatsapp == "+6281299990000"
    body = page_of(client, "/desa/hanura/produk")
    assert "<script>alert" not in body and "&lt;script&gt;" in body
    bad = client.post(path, data={**data, "csrf_token": auth.csrf(path), "whatsapp": "12"})
    assert bad.status_code == 422 and "Nomor HP" in bad.get_data(as_text=True)


# --- monthly summary -----------------------------------------------------------------------------


def test_monthly_summary_counts_orders_quantities_and_top_products_with_csv(app, client, auth, demo):
    hanura = bumdes_of("hanura")
    fish, crackers = product_named("Ikan Kakap Merah Segar"), product_named("Kerupuk Ikan Tenggiri")
    db.session.execute(Order.__table__.delete())
    for product, quantity, status, key in (
        (fish, 3, "done", "a"),
        (crackers, 10, "new", "b"),
        (crackers, 5, "confirmed", "c"),
        (fish, 7, "cancelled", "d"),
    ):
        db.session.add(
            Order(
                bumdes_id=hanura.id,
                product_id=product.id,
                product_name=product.name,
                unit=product.unit,
                unit_price=product.price,
                quantity=quantity,
                buyer_name="Pembeli",
                buyer_phone="+6281234567890",
                status=status,
                idempotency_key=key,
            )
        )
    db.session.commit()
    auth.login(HANURA)
    body = page_of(client, f"/bumdes/{hanura.id}/ringkasan")
    assert re.search(r"<b>4</b>pesanan", body) and re.search(r"<b>18</b>barang dipesan", body)
    assert body.index("Kerupuk Ikan Tenggiri") < body.index("Ikan Kakap Merah Segar")
    response = client.get(f"/bumdes/{hanura.id}/ringkasan.csv")
    assert response.mimetype == "text/csv" and "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:3] == ["bulan", "produk_id", "produk"]
    assert [r[2] for r in rows[1:]] == ["Kerupuk Ikan Tenggiri", "Ikan Kakap Merah Segar"]
    assert [r[4] for r in rows[1:]] == ["15", "3"]
    assert "Pembeli" not in response.get_data(as_text=True)
    last_year = page_of(client, f"/bumdes/{hanura.id}/ringkasan?bulan=2000-01")
    assert "Belum ada pesanan bulan ini." in last_year


# --- registering a BUMDes ------------------------------------------------------------------------


def test_a_region_admin_registers_a_bumdes_and_links_its_manager(app, client, auth, demo):
    manager = User(email="bumdes.trimulyo@balai.test", name="Pengelola Trimulyo", role=Role.BUMDES_MANAGER)
    manager.set_password("kata-sandi-panjang")
    db.session.add(manager)
    db.session.commit()
    auth.login("lambar@balai.test")
    data = {"village_slug": "trimulyo", "name": "BUMDes Trimulyo Sejahtera", "manager_email": manager.email}
    response = auth.post("/bumdes/daftar", data)
    assert response.status_code == 303
    bumdes = db.session.scalar(select(Bumdes).where(Bumdes.name == "BUMDes Trimulyo Sejahtera"))
    db.session.expire_all()
    assert manager.bumdes_id == bumdes.id
    trimulyo = db.session.scalar(select(Village).where(Village.slug == "trimulyo"))
    assert bumdes.village_id == trimulyo.id
    # Hanura lies in Pesawaran, outside this admin's kabupaten.
    outside = auth.post("/bumdes/daftar", {"village_slug": "hanura", "name": "BUMDes Lain"})
    assert outside.status_code == 422 and "tidak ditemukan di wilayah Anda" in outside.get_data(as_text=True)
    assert db.session.scalar(select(Product.id).where(Product.bumdes_id == bumdes.id)) is None
