"""The public marketplace: catalogue, search and filters, product pages, orders, feeds, demo data."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, unquote, urlencode, urlparse

import pytest
from sqlalchemy import event, func, select

from app import events
from app.bumdes import catalog, commerce
from app.cli.demo import seed_demo
from app.domain.photos import placeholder_image
from app.domain.storage import PhotoStore
from app.extensions import db
from app.models import User, Village
from app.models.bumdes import Bumdes, Order, Product, ProductPhoto
from tests.conftest import DEMO_PASSWORD, csrf_from
from tests.processes import KINDS, two_processes


def bumdes_of(slug: str) -> Bumdes:
    return db.session.scalar(
        select(Bumdes).join(Village, Village.id == Bumdes.village_id).where(Village.slug == slug)
    )


def product_named(name: str) -> Product:
    return db.session.scalar(select(Product).where(Product.name == name))


def make_product(bumdes: Bumdes, name: str, price: int = 10000, **fields) -> Product:
    fields.setdefault("category", "kuliner")
    fields.setdefault("unit", "pcs")
    fields.setdefault("published", True)
    product = commerce.create_product(bumdes, name=name, price=price, **fields)
    db.session.commit()
    return product


def page_of(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    return response.get_data(as_text=True)


@pytest.fixture
def captured():
    """Every domain event emitted while the test runs."""
    seen: list[tuple[str, dict]] = []
    events.listeners["test"] = lambda name, payload: seen.append((name, payload))
    yield seen
    events.listeners.pop("test", None)


# --- demo data ------------------------------------------------------------------------------


def test_demo_creates_the_bumdes_of_rigis_jaya_and_hanura_and_links_their_managers(app, demo):
    rigis, hanura = bumdes_of("rigis-jaya"), bumdes_of("hanura")
    assert "Rigis Jaya" in rigis.name and "Hanura" in hanura.name
    for email, bumdes in (("bumdes.rigisjaya@balai.test", rigis), ("bumdes.hanura@balai.test", hanura)):
        assert db.session.scalar(select(User.bumdes_id).where(User.email == email)) == bumdes.id
    coffee = product_named("Kopi Robusta Bubuk Air Hitam 250 g")
    assert coffee.published and coffee.category == "perkebunan" and len(coffee.photos) == 1
    assert PhotoStore(app.config["UPLOAD_DIR"]).exists(coffee.photos[0].small_name)


def test_running_the_demo_twice_changes_nothing(app, demo):
    def counts():
        return [
            db.session.scalar(select(func.count()).select_from(m))
            for m in (Bumdes, Product, ProductPhoto, Order)
        ]

    before = counts()
    seed_demo(DEMO_PASSWORD)
    assert counts() == before


# --- the catalogue ----------------------------------------------------------------------------


def test_search_finds_products_by_name_and_by_description(app, client, demo):
    body = page_of(client, "/produk?q=robusta")
    assert "Kopi Robusta Biji Sangrai 1 kg" in body and "Kakap" not in body
    # "petik merah" appears only in descriptions.
    body = page_of(client, "/produk?q=petik+merah")
    assert "Kopi Robusta Bubuk Air Hitam 250 g" in body and "Teri" not in body
    # Case does not matter, and every word must match.
    body = page_of(client, "/produk?q=KOPI+biji")
    assert "Kopi Robusta Biji Sangrai" in body and "Kopi Robusta Bubuk" not in body


def test_search_treats_percent_and_underscore_as_plain_characters(app, client, demo):
    assert "Belum ada produk yang cocok" in page_of(client, "/produk?q=kopi%25bubuk")
    assert "Belum ada produk yang cocok" in page_of(client, "/produk?q=kopi_robusta")
    assert "Green Bean Robusta" in page_of(client, "/produk?q=12%25")


def test_search_words_with_quotes_and_backslashes_are_only_words(app, client, demo):
    make_product(bumdes_of("hanura"), "Kopi Mak'Inah \\ Spesial")
    for q in ("mak'inah", "'", "\\", "'; DELETE FROM products; --", "\\'", "x' OR '1'='1"):
        body = page_of(client, "/produk?" + urlencode({"q": q}))
        if q in ("mak'inah", "'", "\\"):
            assert "Kopi Mak&#39;Inah" in body, q
        else:
            assert "Belum ada produk yang cocok" in body, q
    assert "Kakap" in page_of(client, "/produk")  # nothing was deleted


def test_category_filter_returns_only_that_category(app, client, demo):
    body = page_of(client, "/produk?kategori=wisata")
    assert "Paket Snorkeling Pulau Tangkil" in body
    assert "Kakap" not in body and "Kopi Robusta" not in body


def test_region_filter_narrows_to_a_kabupaten_or_kecamatan(app, client, demo):
    lampung_barat = page_of(client, "/produk?wilayah=18.04")
    assert "Kopi Robusta" in lampung_barat and "Kakap" not in lampung_barat
    pesawaran = page_of(client, "/produk?kabupaten=18.09")
    assert "Kakap" in pesawaran and "Kopi Robusta" not in pesawaran
    air_hitam = page_of(client, "/produk?kecamatan=18.04.19")
    assert "Kopi Robusta" in air_hitam
    elsewhere = page_of(client, "/produk?wilayah=18.04.15")
    assert "Kopi Robusta" not in elsewhere


def test_price_sort_orders_cheapest_or_dearest_first(app, client, demo):
    cheap = catalog.search(catalog.Filters(sort="termurah")).products
    dear = catalog.search(catalog.Filters(sort="termahal")).products
    assert [p.price for p in cheap] == sorted(p.price for p in cheap)
    assert [p.price for p in dear] == sorted((p.price for p in dear), reverse=True)
    body = page_of(client, "/produk?urut=termurah")
    assert body.index("Kerupuk Ikan Tenggiri") < body.index("Sewa Perahu ke Pulau Pahawang")


@pytest.mark.parametrize("sort", ["baru", "termurah", "termahal"])
def test_more_on_scroll_pages_through_every_product_exactly_once(app, client, demo, sort):
    hanura = bumdes_of("hanura")
    for i in range(45):
        commerce.create_product(
            hanura,
            name=f"Ikan nomor {i}",
            price=1000 * (i % 7 + 1),
            unit="kg",
            category="perikanan",
            published=True,
        )
    db.session.commit()
    expected = db.session.scalar(select(func.count()).where(Product.published.is_(True)))
    seen: list[int] = []
    url = f"/produk?urut={sort}"
    first = True
    while url:
        headers = {} if first else {"HX-Request": "true"}
        body = client.get(url, headers=headers).get_data(as_text=True)
        seen += [int(m) for m in re.findall(r'href="/produk/(\d+)-', body)]
        more = re.search(r'hx-get="([^"]+after=[^"]+)"', body)
        url = more.group(1).replace("&amp;", "&") if more else None
        if not first:
            assert "<html" not in body  # the fragment, not a whole page
        first = False
    assert len(seen) == len(set(seen)) == expected


def test_the_more_link_works_without_javascript(app, client, demo):
    hanura = bumdes_of("hanura")
    for i in range(25):
        make_product(hanura, f"Kerupuk rasa {i}")
    body = page_of(client, "/produk")
    link = re.search(r'<a class="button secondary" href="([^"]+)"[^>]*>Muat lagi', body).group(1)
    second = page_of(client, link.replace("&amp;", "&"))
    assert "<html" in second and "pcard" in second


def test_catalogue_images_are_lazy_sized_small_thumbnails(app, client, demo):
    body = page_of(client, "/produk")
    first, second = re.findall(r'<li class="pcard">.*?(<img [^>]+>)', body, re.S)[:2]
    # the first picture is the largest thing on the first screen: fetched at once, first
    assert 'fetchpriority="high"' in first and "lazy" not in first
    assert 'loading="lazy"' in second and "fetchpriority" not in second
    for img in (first, second):
        assert 'width="320"' in img and 'height="240"' in img
        assert re.search(r'src="/produk/foto/\d+/320"', img)
        assert "srcset" not in img and "/640" not in img  # never the 3x bytes on a dense phone screen


def test_catalogue_page_makes_a_fixed_number_of_queries(app, client, demo):
    def count_queries(url: str) -> int:
        statements: list[str] = []
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            client.get(url)
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        return len(statements)

    before = count_queries("/produk")
    hanura = bumdes_of("hanura")
    for i in range(15):
        product = make_product(hanura, f"Produk tambahan {i}")
        commerce.add_photo(
            product, placeholder_image(f"{i}", (10, 20, 30), (64, 48)), PhotoStore(app.config["UPLOAD_DIR"])
        )
    db.session.commit()
    assert count_queries("/produk") == before


def test_village_shop_lists_its_bumdes_products_and_those_of_a_bumdesma_serving_it(app, client, demo):
    body = page_of(client, "/desa/hanura/produk")
    assert "BUMDes Hanura Bahari" in body and "Kakap" in body and "Kopi" not in body
    # A joint BUMDes of Air Hitam serving a neighbouring village shows in that village's shop too.
    region = db.session.scalar(select(Village).where(Village.slug == "rigis-jaya")).region_code
    from app.models import Region
    from app.tenancy import activate_village

    neighbour_code = db.session.scalar(
        select(Region.code)
        .where(Region.parent_code == region.rsplit(".", 1)[0], Region.code != region)
        .limit(1)
    )
    neighbour = activate_village(neighbour_code, slug="tetangga")
    commerce.set_served_villages(bumdes_of("rigis-jaya"), [neighbour])
    db.session.commit()
    assert "Kopi Robusta" in page_of(client, "/desa/tetangga/produk")


def test_a_bumdesma_cannot_serve_a_village_of_another_kecamatan(app, demo):
    from app.domain.errors import DomainError

    hanura_village = db.session.scalar(select(Village).where(Village.slug == "hanura"))
    with pytest.raises(DomainError):
        commerce.set_served_villages(bumdes_of("rigis-jaya"), [hanura_village])


# --- drafts stay private ------------------------------------------------------------------------


def test_drafts_never_show_publicly(app, client, demo):
    draft = product_named("Paket Wisata Kebun Kopi")
    assert not draft.published
    photo_id = draft.photos[0].id
    for url in ("/produk", "/produk?q=kebun+kopi", "/produk?kategori=wisata", "/desa/rigis-jaya/produk"):
        assert "Paket Wisata Kebun Kopi" not in page_of(client, url), url
    for url in ("/produk.json", "/desa/rigis-jaya/produk.json"):
        assert "Paket Wisata Kebun Kopi" not in client.get(url).get_data(as_text=True)
    assert client.get(f"/produk/{draft.id}-{draft.slug}").status_code == 404
    assert client.get(f"/produk/{draft.id}").status_code == 404
    for size in (320, 640, 1600):
        assert client.get(f"/produk/foto/{photo_id}/{size}").status_code == 404
    token = csrf_from(
        page_of(
            client,
            "/produk/"
            + str(product_named("Kopi Robusta Biji Sangrai 1 kg").id)
            + "-kopi-robusta-biji-sangrai-1-kg",
        )
    )
    response = client.post(
        f"/produk/{draft.id}-{draft.slug}/pesan",
        data={
            "csrf_token": token,
            "buyer_name": "A",
            "buyer_phone": "081234567890",
            "quantity": "1",
            "fulfilment": "pickup",
        },
    )
    assert response.status_code == 404


def test_products_of_an_inactive_bumdes_or_village_are_hidden(app, client, demo):
    coffee = product_named("Kopi Robusta Bubuk Air Hitam 250 g")
    url = f"/produk/{coffee.id}-{coffee.slug}"
    assert client.get(url).status_code == 200
    coffee.bumdes.active = False
    db.session.commit()
    assert client.get(url).status_code == 404
    assert "Kopi Robusta" not in page_of(client, "/produk")


def test_published_photos_are_served_with_a_long_cache(app, client, demo):
    photo = product_named("Ikan Kakap Merah Segar").photos[0]
    with client.get(f"/produk/foto/{photo.id}/320") as small:
        assert small.status_code == 200 and small.mimetype == "image/webp"
        assert small.cache_control.max_age == 31536000 and small.cache_control.public
    with client.get(f"/produk/foto/{photo.id}/640") as medium:
        assert medium.mimetype == "image/jpeg"
    assert client.get(f"/produk/foto/{photo.id}/999").status_code == 404


# --- the product page ---------------------------------------------------------------------------


def test_product_page_shows_price_bumdes_village_and_open_graph_tags(app, client, demo):
    coffee = product_named("Kopi Robusta Bubuk Air Hitam 250 g")
    body = page_of(client, f"/produk/{coffee.id}-{coffee.slug}")
    assert "Rp 35.000" in body and "BUMDes Rigis Jaya Makmur" in body and "Pekon Rigis Jaya" in body
    page_url = f"http://balai.test/produk/{coffee.id}-{coffee.slug}"
    assert f'<meta property="og:url" content="{page_url}">' in body
    assert (
        f'<meta property="og:image" content="http://balai.test/produk/foto/{coffee.photos[0].id}/640">'
        in body
    )
    assert '<meta property="product:price:amount" content="35000">' in body
    assert '<meta property="product:price:currency" content="IDR">' in body
    assert 'property="og:title" content="Kopi Robusta Bubuk Air Hitam 250 g' in body
    # Line breaks of the description are kept by CSS, not by injecting markup.
    assert "disangrai medium.\nGiling halus" in body


def test_an_old_slug_redirects_to_the_current_address(app, client, demo):
    coffee = product_named("Kopi Robusta Bubuk Air Hitam 250 g")
    response = client.get(f"/produk/{coffee.id}-nama-lama")
    assert response.status_code == 301 and response.headers["Location"].endswith(
        f"/produk/{coffee.id}-{coffee.slug}"
    )


def test_whatsapp_button_prefills_product_quantity_and_page_link(app, client, demo):
    fish = product_named("Ikan Kakap Merah Segar")
    body = page_of(client, f"/produk/{fish.id}-{fish.slug}?jumlah=3")
    link = re.search(r'href="(https://wa\.me/[^"]+)"', body).group(1).replace("&amp;", "&")
    parsed = urlparse(link)
    assert parsed.path == "/6281234567102"
    message = parse_qs(parsed.query)["text"][0]
    assert "Ikan Kakap Merah Segar" in message and "sebanyak 3 kg" in message
    assert f"http://balai.test/produk/{fish.id}-{fish.slug}" in message
    assert " " not in link  # URL-encoded
    fragment = client.get(f"/produk/{fish.id}-{fish.slug}?jumlah=5", headers={"HX-Request": "true"})
    text = fragment.get_data(as_text=True)
    assert "<html" not in text and "sebanyak%205%20kg" in text


def test_the_product_page_sends_no_query_while_nothing_changed(app, client, demo):
    fish = product_named("Ikan Kakap Merah Segar")
    url = f"/produk/{fish.id}-{fish.slug}"
    page_of(client, url)  # kept now
    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        body = page_of(client, url)
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    assert statements == [] and "Kirim pesanan" in body and "Rp 85.000" in body


def test_a_kept_product_page_gives_each_visitor_their_own_token_and_order_key(app, demo):
    fish = product_named("Ikan Kakap Merah Segar")
    url = f"/produk/{fish.id}-{fish.slug}"
    first, second = app.test_client(), app.test_client()
    pages = [page_of(c, url) for c in (first, second)]
    tokens = [csrf_from(page) for page in pages]
    keys = [re.search(r'name="key"[^>]*value="([^"]+)"', page).group(1) for page in pages]
    assert tokens[0] != tokens[1] and keys[0] != keys[1]
    assert keys[1] != re.search(r'name="key"[^>]*value="([^"]+)"', page_of(second, url)).group(1)
    for page in pages:
        assert "balai-csrf-" not in page and "balai-key-" not in page
    data = {"csrf_token": tokens[1], "buyer_name": "Dewi", "buyer_phone": "0812-7777-1234", "quantity": "1"}
    sent = second.post(f"{url}/pesan", data={**data, "fulfilment": "pickup", "key": keys[1]})
    assert sent.status_code == 303


def test_a_buyers_answers_and_order_are_shown_to_that_buyer_alone(app, client, demo):
    fish = product_named("Ikan Kakap Merah Segar")
    url = f"/produk/{fish.id}-{fish.slug}"
    wrong = client.post(
        f"{url}/pesan", data=order_form(client, fish, buyer_phone="12345", note="Tanpa kepala")
    )
    assert wrong.status_code == 422 and "Tanpa kepala" in wrong.get_data(as_text=True)
    stranger = app.test_client()
    assert "Tanpa kepala" not in page_of(stranger, url)
    client.post(f"{url}/pesan", data=order_form(client, fish))
    assert "Anda sudah memesan produk ini" in page_of(client, url)
    blank = page_of(stranger, url)
    assert "Anda sudah memesan" not in blank and "Siti Aminah" not in blank and "Kirim pesanan" in blank


@pytest.fixture(params=KINDS)
def processes(request, demo, tmp_path):
    """Two web processes of one deployment (tests/processes.py)."""
    yield from two_processes(request, tmp_path)


def _change_product(app, name: str, **values) -> str:
    with app.app_context():
        product = product_named(name)
        for attribute, value in values.items():
            setattr(product, attribute, value)
        db.session.commit()
        return f"/produk/{product.id}-{product.slug}"


def test_a_price_or_stock_change_shows_on_the_product_page_at_once_here_and_in_another_process(processes):
    here, there = processes
    url = _change_product(here, "Ikan Kakap Merah Segar", stock=40)
    client = here.test_client()
    assert "stok 40 kg" in page_of(client, url) and "Rp 85.000" in page_of(client, url)  # kept now
    _change_product(here, "Ikan Kakap Merah Segar", stock=12)
    assert "stok 12 kg" in page_of(client, url)
    _change_product(there, "Ikan Kakap Merah Segar", price=90000, stock=7)
    body = page_of(client, url)
    assert "Rp 90.000" in body and "stok 7 kg" in body and 'content="90000"' in body
    assert "sebanyak%205%20kg" in page_of(client, f"{url}?jumlah=5")
    _change_product(there, "Ikan Kakap Merah Segar", price=95000)
    fragment = client.get(f"{url}?jumlah=5", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<html" not in fragment and "95.000" in unquote(fragment)
    _change_product(there, "Ikan Kakap Merah Segar", available=False)
    body = page_of(client, url)
    assert "sedang habis" in body and "Kirim pesanan" not in body
    _change_product(there, "Ikan Kakap Merah Segar", published=False)
    assert client.get(url).status_code == 404


def test_a_village_shop_follows_its_village_and_prices_here_and_in_another_process(processes):
    here, there = processes
    client = here.test_client()
    assert "Toko Desa Hanura" in page_of(client, "/desa/hanura/produk")  # kept now
    with there.app_context():
        db.session.scalar(select(Village).where(Village.slug == "hanura")).name = "Hanura Baru"
        db.session.commit()
    body = page_of(client, "/desa/hanura/produk")
    assert "Toko Desa Hanura Baru" in body and "Produk Desa Hanura Baru" in body
    _change_product(there, "Ikan Kakap Merah Segar", price=91000)
    assert "Rp 91.000" in page_of(client, "/desa/hanura/produk")
    with there.app_context():
        db.session.scalar(select(Village).where(Village.slug == "hanura")).active = False
        db.session.commit()
    assert client.get("/desa/hanura/produk").status_code == 404


# --- ordering -----------------------------------------------------------------------------------


def order_form(client, product: Product, **fields) -> dict:
    token = csrf_from(page_of(client, f"/produk/{product.id}-{product.slug}"))
    data = {
        "csrf_token": token,
        "buyer_name": "Siti Aminah",
        "buyer_phone": "0812-7777-1234",
        "quantity": "2",
        "fulfilment": "pickup",
        "key": "kunci-uji-1",
    }
    data.update(fields)
    return data


def test_ordering_creates_an_order_and_tells_the_bumdes(app, client, demo, captured):
    fish = product_named("Ikan Kakap Merah Segar")
    data = order_form(
        client, fish, fulfilment="delivery", address="Jl. Pantai Mutun 3", note="Tolong dibersihkan"
    )
    response = client.post(f"/produk/{fish.id}-{fish.slug}/pesan", data=data)
    assert response.status_code == 303
    order = db.session.scalar(select(Order).where(Order.buyer_name == "Siti Aminah"))
    assert order.quantity == 2 and order.unit_price == 85000 and order.status == "new"
    assert order.buyer_phone == "+6281277771234" and order.address == "Jl. Pantai Mutun 3"
    assert [name for name, _ in captured] == [events.ORDER_CREATED]
    payload = captured[0][1]
    assert payload["order_id"] == order.id and payload["bumdes_id"] == fish.bumdes_id
    assert (
        payload["summary"] == "2 kg Ikan Kakap Merah Segar"
        and payload["path"] == f"/bumdes/{fish.bumdes_id}/pesanan"
    )
    assert "Siti" not in str(payload) and "7777" not in str(payload)
    assert response.headers["Location"] == f"/pesanan/{order.id}"
    body = page_of(client, response.headers["Location"])
    assert "Pesanan diterima" in body and order.reference in body and order.reference == f"P-{order.id:05d}"
    assert "BUMDes Hanura Bahari akan menghubungi" in body
    # Only the end of the buyer's number shows, and only to the browser that ordered.
    assert "7777" not in body and "1234" in body
    stranger = app.test_client()
    assert stranger.get(response.headers["Location"]).status_code == 404


def test_back_on_the_product_page_after_ordering_shows_the_order_not_a_blank_form(app, client, demo):
    fish = product_named("Ikan Kakap Merah Segar")
    client.post(f"/produk/{fish.id}-{fish.slug}/pesan", data=order_form(client, fish))
    order = db.session.scalar(select(Order).where(Order.buyer_name == "Siti Aminah"))
    body = page_of(client, f"/produk/{fish.id}-{fish.slug}")
    assert "Anda sudah memesan produk ini" in body and order.reference in body
    assert "Kirim pesanan" not in body
    again = page_of(client, f"/produk/{fish.id}-{fish.slug}?pesan=baru")
    assert "Kirim pesanan" in again and 'name="key"' in again


def test_sending_the_same_order_form_twice_makes_one_order(app, client, demo, captured):
    fish = product_named("Ikan Kakap Merah Segar")
    data = order_form(client, fish)
    client.post(f"/produk/{fish.id}-{fish.slug}/pesan", data=data)
    client.post(f"/produk/{fish.id}-{fish.slug}/pesan", data=data)
    assert (
        db.session.scalar(select(func.count()).select_from(Order).where(Order.buyer_name == "Siti Aminah"))
        == 1
    )
    assert len(captured) == 1


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"buyer_phone": "12345"}, "Nomor HP"),
        ({"quantity": "0"}, "Jumlah berupa angka bulat"),
        ({"quantity": "1,5"}, "Jumlah berupa angka bulat"),
        ({"buyer_name": ""}, "Isi nama Anda."),
        ({"fulfilment": "delivery", "address": ""}, "Tulis alamat pengiriman"),
    ],
)
def test_a_wrong_order_form_comes_back_with_a_clear_message(app, client, demo, fields, message):
    fish = product_named("Ikan Kakap Merah Segar")
    response = client.post(f"/produk/{fish.id}-{fish.slug}/pesan", data=order_form(client, fish, **fields))
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert message in body
    # Summarised at the top of the form, which the browser focuses on load.
    summary = re.search(r'<div class="alert" id="galat"[^>]*autofocus>(.*?)</div>', body, re.S)
    assert summary and message in summary.group(1)
    assert (
        db.session.scalar(select(func.count()).select_from(Order).where(Order.buyer_name == "Siti Aminah"))
        == 0
    )


def test_ordering_more_than_the_stock_is_refused(app, client, demo):
    fish = product_named("Ikan Kakap Merah Segar")
    fish.stock = 3
    db.session.commit()
    response = client.post(
        f"/produk/{fish.id}-{fish.slug}/pesan", data=order_form(client, fish, quantity="5")
    )
    assert response.status_code == 422
    assert "Stok tinggal 3 kg" in response.get_data(as_text=True)


def test_a_sold_out_product_offers_no_order_form(app, client, demo):
    fish = product_named("Ikan Kakap Merah Segar")
    data = order_form(client, fish)
    fish.available = False
    db.session.commit()
    body = page_of(client, f"/produk/{fish.id}-{fish.slug}")
    assert "sedang habis" in body and "Kirim pesanan" not in body
    response = client.post(f"/produk/{fish.id}-{fish.slug}/pesan", data=data)
    assert response.status_code == 422 and "sedang habis" in response.get_data(as_text=True)


def test_the_order_form_is_rate_limited_with_a_message_in_indonesian(app, client, demo):
    fish = product_named("Ikan Kakap Merah Segar")
    data = order_form(client, fish)
    statuses = []
    for i in range(7):
        data["key"] = f"kunci-{i}"
        statuses.append(client.post(f"/produk/{fish.id}-{fish.slug}/pesan", data=data))
    assert [r.status_code for r in statuses[:5]] == [303] * 5
    assert statuses[5].status_code == 429
    assert "Terlalu banyak pesanan" in statuses[5].get_data(as_text=True)


# --- escaping -----------------------------------------------------------------------------------

EVIL = '<script>alert(1)</script><b onmouseover="x()">'


def test_script_and_html_in_public_text_fields_come_out_escaped(app, client, demo):
    hanura = bumdes_of("hanura")
    hanura.name = "BUMDes " + EVIL
    hanura.description = EVIL
    hanura.legal_number = EVIL[:60]
    hanura.payment_info = EVIL
    product = make_product(hanura, "Ikan " + EVIL, unit="kg" + EVIL[:10], description="baris 1\n" + EVIL)
    for url in (
        "/produk",
        "/produk?q=ikan",
        "/desa/hanura/produk",
        f"/produk/{product.id}-{product.slug}",
        f"/produk/{product.id}-{product.slug}?jumlah=2",
    ):
        body = page_of(client, url)
        assert "<script>alert" not in body and "<b onmouseover" not in body, url
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body, url
    feed = client.get("/desa/hanura/produk.json")
    assert feed.mimetype == "application/json"


# --- JSON feeds ---------------------------------------------------------------------------------


def test_feeds_list_published_products_without_any_buyer_data(app, client, demo):
    fish = product_named("Ikan Kakap Merah Segar")
    client.post(f"/produk/{fish.id}-{fish.slug}/pesan", data=order_form(client, fish))
    province = client.get("/produk.json")
    assert province.headers["Access-Control-Allow-Origin"] == "*"
    data = province.get_json()
    names = {p["name"] for p in data["products"]}
    assert "Ikan Kakap Merah Segar" in names and "Kopi Robusta Bubuk Air Hitam 250 g" in names
    item = next(p for p in data["products"] if p["name"] == "Ikan Kakap Merah Segar")
    assert (
        item["price"] == 85000
        and item["currency"] == "IDR"
        and item["photos"][0]["small"].startswith("http://balai.test/")
    )
    text = province.get_data(as_text=True)
    # The buyer's name and phone in any spelling (a bare "7777" can turn up in a photo's random name).
    assert "Siti" not in text and "buyer" not in text
    assert not any(
        phone in text for phone in ("0812-7777-1234", "081277771234", "6281277771234", "7777-1234")
    )
    village = client.get("/desa/rigis-jaya/produk.json").get_json()
    assert village["village"]["slug"] == "rigis-jaya"
    assert {p["village"]["slug"] for p in village["products"]} == {"rigis-jaya"}
    assert client.get("/desa/tidak-ada/produk.json").status_code == 404


def test_feeds_page_through_large_catalogues(app, client, demo):
    hanura = bumdes_of("hanura")
    for i in range(105):
        commerce.create_product(
            hanura, name=f"Ikan {i}", price=1000, unit="kg", category="perikanan", published=True
        )
    db.session.commit()
    first = client.get("/produk.json").get_json()
    assert len(first["products"]) == catalog.FEED_PAGE_SIZE and first["next"]
    second = client.get(unquote(first["next"]).replace("http://balai.test", "")).get_json()
    ids = [p["id"] for p in first["products"] + second["products"]]
    assert (
        len(ids)
        == len(set(ids))
        == db.session.scalar(select(func.count()).where(Product.published.is_(True)))
    )
    assert second["next"] is None


def test_cards_past_the_first_screen_load_their_picture_only_when_scrolled_near(app, client, demo):
    body = page_of(client, "/produk")
    cards = re.findall(r'<li class="pcard">(.*?)</li>', body, re.S)
    assert len(cards) > 4
    for card in cards[1:4]:
        assert re.search(r'<img src="/produk/foto/\d+/320"[^>]*loading="lazy"', card)
    for card in cards[4:]:
        if "noimg" in card:
            continue
        assert re.search(r'<img data-src="/produk/foto/\d+/320"', card)
        # without JavaScript, the browser's own lazy loading takes over
        assert re.search(r'<noscript><img src="/produk/foto/\d+/320"[^>]*loading="lazy"', card)
    # the next page arrives below the fold: none of its pictures jumps the queue
    hanura = bumdes_of("hanura")
    for i in range(catalog.PAGE_SIZE):
        make_product(hanura, f"Kerupuk rasa {i}")
    body = page_of(client, "/produk")
    link = re.search(r'hx-get="([^"]+after=[^"]+)"', body).group(1)
    more = client.get(link.replace("&amp;", "&"), headers={"HX-Request": "true"}).get_data(as_text=True)
    assert '<li class="pcard">' in more and "<html" not in more and "/produk/foto/" in more
    assert "fetchpriority" not in more
