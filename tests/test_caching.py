"""ETags and conditional GET on HTML pages (app/caching.py)."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

from flask import make_response
from sqlalchemy import select


def returning(client):
    """The client after its first page: it has the CSS, so pages link it instead of inlining it,
    and a session (the login form starts one), so pages carry its CSRF token for htmx."""
    client.get("/akun/masuk")
    return client


def test_a_page_carries_a_strong_etag_and_must_be_revalidated(client):
    response = client.get("/offline")
    assert response.status_code == 200
    etag, weak = response.get_etag()
    assert etag and not weak
    assert response.cache_control.no_cache
    assert response.cache_control.private


def test_an_unchanged_page_costs_a_304_without_body(client):
    first = returning(client).get("/offline")
    etag = first.headers["ETag"]
    again = client.get("/offline", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.get_data() == b""
    assert again.headers["ETag"] == etag


def test_the_etag_survives_the_csrf_tokens_timestamp(client, monkeypatch):
    import time

    import itsdangerous.timed

    first = returning(client).get("/offline")
    now = time.time()
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: now + 60)
    second = client.get("/offline")
    assert second.get_data() != first.get_data(), "the signed token should differ a minute later"
    assert second.headers["ETag"] == first.headers["ETag"]


def test_another_session_gets_another_etag(app):
    one = returning(app.test_client()).get("/offline").headers["ETag"]
    two = returning(app.test_client()).get("/offline").headers["ETag"]
    assert one != two


def test_without_a_session_the_page_is_the_same_for_everyone(app):
    one = app.test_client().get("/offline")
    two = app.test_client().get("/offline")
    assert one.headers["ETag"] == two.headers["ETag"]
    assert "X-CSRFToken" not in one.get_data(as_text=True)


def test_a_changed_body_is_sent_again(client):
    stale = '"0123456789abcdef0123456789abcdef"'
    response = client.get("/offline", headers={"If-None-Match": stale})
    assert response.status_code == 200
    assert b"<html" in response.get_data()


def test_the_compressed_variants_etag_also_matches(client):
    first = returning(client).get("/offline", headers={"Accept-Encoding": "br"})
    assert first.headers["Content-Encoding"] == "br"
    etag = first.headers["ETag"]
    assert etag.endswith(':br"')
    again = client.get("/offline", headers={"Accept-Encoding": "br", "If-None-Match": etag})
    assert again.status_code == 304
    assert again.headers["ETag"] == etag
    assert again.get_data() == b""


def test_a_first_visit_gets_the_css_inline_allowed_by_its_hash(app, client):
    response = client.get("/offline")
    html = response.get_data(as_text=True)
    css = re.search(r"<style>(.*?)</style>", html, re.S).group(1)
    assert 'rel="stylesheet"' not in html
    assert css == Path(app.static_folder, "css/balai.css").read_text(encoding="utf-8")
    digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    style_src = next(
        d for d in response.headers["Content-Security-Policy"].split("; ") if d.startswith("style-src")
    )
    assert f"'sha256-{digest}'" in style_src.split()
    assert "'unsafe-inline'" not in style_src
    assert "Cookie" in response.headers["Vary"]


def test_later_pages_link_the_cached_css_file_instead(client):
    client.get("/offline")
    html = client.get("/offline").get_data(as_text=True)
    assert "<style>" not in html
    assert re.search(r'<link rel="stylesheet" href="/static/css/balai\.css\?v=\w+">', html)


def test_a_css_cookie_of_an_older_version_gets_the_new_css_inline(client):
    client.set_cookie("css", "0000000000")
    assert "<style>" in client.get("/offline").get_data(as_text=True)


def test_a_views_own_validators_are_kept(app):
    from app.caching import conditional_html

    with app.test_request_context("/x"):
        response = make_response("<p>x</p>")
        response.set_etag("mine")
        response = conditional_html(response)
    assert response.get_etag() == ("mine", False)
    assert response.cache_control.no_cache


def test_a_no_store_page_gets_no_etag(app):
    from app.caching import conditional_html

    with app.test_request_context("/x"):
        response = make_response("<p>y</p>")
        response.headers["Cache-Control"] = "no-store"
        response = conditional_html(response)
    assert "ETag" not in response.headers
    assert response.headers["Cache-Control"] == "no-store"


def test_errors_and_non_html_get_no_etag(client):
    assert "ETag" not in client.get("/no-such-page").headers
    assert "ETag" not in client.get("/healthz").headers


def test_a_post_gets_no_etag(app):
    from app.caching import conditional_html

    with app.test_request_context("/x", method="POST"):
        response = conditional_html(make_response("<p>posted</p>"))
    assert "ETag" not in response.headers


def test_a_page_for_a_logged_in_user_is_never_stored_even_one_marked_public(app, demo):
    from flask_login import login_user

    from app.caching import conditional_html, private_for_officials
    from app.extensions import db
    from app.models import User

    user = db.session.scalar(select(User).where(User.email == "operator.hanura@balai.test"))
    with app.test_request_context("/x"):
        anonymous = make_response("<p>z</p>")
        anonymous.headers["Cache-Control"] = "public, max-age=60"
        assert conditional_html(private_for_officials(anonymous)).cache_control.public
    with app.test_request_context("/x"):
        login_user(user)
        mine = make_response("<p>z</p>")
        mine.headers["Cache-Control"] = "public, max-age=60"
        mine = conditional_html(private_for_officials(mine))
    assert mine.headers["Cache-Control"] == "private, no-store"
    assert "ETag" not in mine.headers


def test_static_files_are_sent_with_brotli_at_its_best(app, client):
    from pathlib import Path

    import brotli

    original = Path(app.static_folder, "vendor/htmx.min.js").read_bytes()
    response = client.get(
        "/static/vendor/htmx.min.js?v=1", headers={"Accept-Encoding": "gzip, deflate, br, zstd"}
    )
    assert response.headers["Content-Encoding"] == "br"
    assert "Accept-Encoding" in response.headers["Vary"]
    body = response.get_data()
    assert brotli.decompress(body) == original
    assert len(body) == len(brotli.compress(original, quality=11))
    assert response.cache_control.max_age == 31536000


def test_static_files_fall_back_to_zstd_gzip_or_nothing(app, client):
    import gzip
    from pathlib import Path

    from backports import zstd

    original = Path(app.static_folder, "css/balai.css").read_bytes()
    as_zstd = client.get("/static/css/balai.css", headers={"Accept-Encoding": "zstd, gzip;q=0.5"})
    assert as_zstd.headers["Content-Encoding"] == "zstd"
    assert zstd.decompress(as_zstd.get_data()) == original
    as_gzip = client.get("/static/css/balai.css", headers={"Accept-Encoding": "gzip, br;q=0"})
    assert as_gzip.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(as_gzip.get_data()) == original
    plain = client.get("/static/css/balai.css", headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers
    assert plain.get_data() == original
    plain.close()


def test_static_etags_differ_per_encoding(client):
    br = client.get("/static/css/balai.css", headers={"Accept-Encoding": "br"}).headers["ETag"]
    gz = client.get("/static/css/balai.css", headers={"Accept-Encoding": "gzip"}).headers["ETag"]
    assert br != gz
    assert br.endswith(':br"')


def test_template_translations_kept_per_catalogue_follow_the_language_and_escape_variables(app):
    """``_()`` without variables is kept per catalogue (app/caching.py): each language gets its own
    text, and a call with variables still escapes them."""
    from flask import render_template_string
    from flask_babel import refresh

    source = "{{ _('Masuk petugas') }}|{{ _('Layanan %(village)s', village=name) }}"
    for lang, text in (("id", "Masuk petugas"), ("en", "Staff login"), ("id", "Masuk petugas")):
        with app.test_request_context(f"/?lang={lang}"):
            refresh()  # the fixture's app context (and its chosen locale) outlives each request here
            for _ in range(2):
                page = render_template_string(source, name="<b>Hanura</b>")
                login, _sep, services = page.partition("|")
                assert login == text
                assert "&lt;b&gt;Hanura&lt;/b&gt;" in services and "<b>" not in services
