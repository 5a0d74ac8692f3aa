"""The installable shell: manifest, service worker, offline page, health check, headers."""

import json
import re

import pytest

from app import create_app
from app.config import ProductionConfig


def test_manifest_names_the_app_and_its_icons(client):
    response = client.get("/manifest.webmanifest")
    data = json.loads(response.get_data())
    assert response.mimetype == "application/manifest+json"
    assert data["display"] == "standalone" and data["start_url"] and data["lang"] == "id"
    sizes = {(i["sizes"], i["purpose"]) for i in data["icons"]}
    assert {("192x192", "any"), ("512x512", "any"), ("192x192", "maskable"), ("512x512", "maskable")} <= sizes
    for icon in data["icons"]:
        with client.get(icon["src"]) as icon_response:
            assert icon_response.status_code == 200


def test_service_worker_is_served_at_the_root_and_precaches_the_offline_page(client):
    response = client.get("/sw.js")
    body = response.get_data(as_text=True)
    assert response.mimetype == "text/javascript"
    assert '"/offline"' in body and "caches.open" in body
    assert response.headers["Service-Worker-Allowed"] == "/"


def test_offline_page_is_in_indonesian(client):
    body = client.get("/offline").get_data(as_text=True)
    assert "tidak tersambung" in body


def test_home_page_is_in_indonesian_and_switches_to_english(client, demo):
    assert "Cari desa Anda" in client.get("/").get_data(as_text=True)
    assert 'lang="en"' in client.get("/?lang=en").get_data(as_text=True)


def test_home_search_finds_a_demo_village_and_answers_htmx_with_a_fragment(client, demo):
    body = client.get("/?q=hanu", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Desa Hanura" in body and "Teluk Pandan" in body and "<html" not in body


def test_home_search_finds_villages_by_name_and_by_a_typed_web_address(app, client):
    from app.extensions import db
    from app.tenancy import activate_village

    activate_village("18.09.10.2004", slug="hanura-telukpandan")
    activate_village("18.09.10.2005", slug="desa-kedua")
    db.session.commit()
    by_name = client.get("/?q=han").get_data(as_text=True)
    assert "hanura-telukpandan" in by_name
    # The address typed as it reads in a link finds it too (its words are the name and kecamatan).
    assert "hanura-telukpandan" in client.get("/?q=hanura-teluk").get_data(as_text=True)


def test_healthz_reports_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json()["database"] == "ok"


def test_healthz_reports_redis_when_configured(app, redis_url):
    app.config["REDIS_URL"] = redis_url
    try:
        assert app.test_client().get("/healthz").get_json()["redis"] == "ok"
    finally:
        app.config["REDIS_URL"] = None


def test_security_headers_are_on_every_page(client):
    headers = client.get("/").headers
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"


def test_static_files_with_a_fingerprint_are_cached_for_a_year(client):
    client.get("/offline")  # the first page inlines the CSS; later ones link it
    html = client.get("/offline").get_data(as_text=True)
    href = re.search(r'href="([^"]*balai\.css[^"]*)"', html).group(1).replace("&amp;", "&")
    assert "?v=" in href
    with client.get(href) as response:
        assert "max-age=31536000" in response.headers["Cache-Control"]


def test_pages_have_no_inline_script(client, demo):
    html = client.get("/").get_data(as_text=True)
    for chunk in html.split("<script")[1:]:
        assert chunk.split(">", 1)[0].strip().startswith("src="), chunk[:80]


def test_unknown_pages_get_a_friendly_404(client):
    response = client.get("/tidak-ada")
    assert response.status_code == 404
    assert "Halaman tidak ditemukan" in response.get_data(as_text=True)


def test_production_refuses_to_start_without_a_secret_key(monkeypatch):
    monkeypatch.setattr(ProductionConfig, "SECRET_KEY", None)
    try:
        create_app(ProductionConfig)
    except RuntimeError as exc:
        assert "SECRET_KEY" in str(exc)
    else:
        raise AssertionError("production started without SECRET_KEY")


def test_nothing_rendered_for_a_signed_in_official_may_be_stored_and_logout_clears_the_cache(
    client, auth, demo
):
    from sqlalchemy import select

    from app.extensions import db
    from app.models import ServiceRequest, Village

    hanura = db.session.scalar(select(Village).where(Village.slug == "hanura"))
    code = db.session.scalar(
        select(ServiceRequest.tracking_code).where(ServiceRequest.village_id == hanura.id)
    )
    assert (
        "no-store" not in client.get(f"/lacak/{code}").headers["Cache-Control"]
    )  # residents keep it offline
    auth.login("operator.hanura@balai.test")
    for url in (f"/lacak/{code}", "/kantor/", "/desa/hanura/layanan", "/saya"):
        assert client.get(url).headers["Cache-Control"] == "private, no-store", url
    fragment = client.get(f"/lacak/{code}", headers={"HX-Request": "true"})
    assert fragment.headers["Cache-Control"] == "private, no-store"
    response = auth.logout()
    assert response.headers["Clear-Site-Data"] == '"cache"'
    assert "no-store" not in client.get(f"/lacak/{code}").headers["Cache-Control"]


def test_the_service_worker_keeps_no_no_store_page_and_empties_its_pages_on_logout(client):
    body = client.get("/sw.js").get_data(as_text=True)
    assert "no-store" in body and 'url.pathname === "/akun/keluar"' in body and "caches.delete(PAGES)" in body


@pytest.mark.parametrize(
    "query", ["Desa Hanura", "hanura", "teluk pandan", "pesawaran", "hanra", "Kec. Teluk Pandan", "HANURA"]
)
def test_home_search_finds_a_village_by_prefix_kecamatan_kabupaten_or_with_one_typo(client, demo, query):
    body = client.get("/", query_string={"q": query}).get_data(as_text=True)
    assert 'href="/desa/hanura/"' in body, query


def test_home_search_finds_a_pekon_by_its_name_with_the_word_pekon(client, demo):
    body = client.get("/?q=Pekon+Trimulyo").get_data(as_text=True)
    assert 'href="/desa/trimulyo/"' in body and 'href="/desa/hanura/"' not in body


def test_home_search_for_something_that_matches_nothing_says_only_that(client, demo):
    body = client.get("/?q=zzyzx").get_data(as_text=True)
    assert "Tidak ada desa yang cocok dengan “zzyzx”." in body
    assert "belum memakai Balai" not in body and 'href="/desa/' not in body
