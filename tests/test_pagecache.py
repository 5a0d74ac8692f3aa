"""The micro-cache of public pages for visitors without a session (app/pagecache.py)."""

from __future__ import annotations

import re

import brotli
import pytest
from sqlalchemy import select, update

from app import pagecache
from app.extensions import db
from app.models import Service, ServiceRequest, Village
from app.pagecache import PageCache

BROWSER = {"Accept-Encoding": "gzip, br", "Accept-Language": "id-ID"}


@pytest.fixture
def cache(app):
    return app.extensions["balai_page_cache"]


def anonymous(app, **cookies):
    """A phone with no session: the test client would otherwise keep the cookies it is given."""
    client = app.test_client(use_cookies=False)
    header = "; ".join(f"{k}={v}" for k, v in cookies.items())
    return client, ({**BROWSER, "Cookie": header} if header else dict(BROWSER))


def text(response) -> str:
    """The page as the browser reads it (brotli undone)."""
    data = response.get_data()
    if response.headers.get("Content-Encoding") == "br":
        data = brotli.decompress(data)
    return data.decode()


def hanura_code() -> str:
    village = db.session.scalar(select(Village).where(Village.slug == "hanura"))
    req = db.session.scalar(
        select(ServiceRequest).where(ServiceRequest.village_id == village.id).order_by(ServiceRequest.id)
    )
    return req.tracking_code


def test_a_repeat_visit_without_a_session_is_served_from_memory(app, demo, cache):
    client, headers = anonymous(app)
    first = client.get("/desa/hanura/layanan", headers=headers)
    hits = cache.hits
    second = client.get("/desa/hanura/layanan", headers=headers)
    assert first.status_code == second.status_code == 200
    assert cache.hits == hits + 1
    assert second.get_data() == first.get_data()
    assert second.headers["Content-Encoding"] == first.headers["Content-Encoding"] == "br"
    assert second.headers["Content-Security-Policy"] == first.headers["Content-Security-Policy"]
    assert "Set-Cookie" not in first.headers or first.headers["Set-Cookie"].startswith("css=")
    assert pagecache.MARK_HEADER not in first.headers and pagecache.MARK_HEADER not in second.headers


def test_pages_without_a_session_carry_no_csrf_token_and_start_no_session(app, demo):
    client, headers = anonymous(app)
    for path in ("/desa/hanura/layanan", "/produk", f"/lacak/{hanura_code()}", "/desa/hanura/", "/"):
        response = client.get(path, headers=headers)
        assert response.status_code == 200, path
        assert "X-CSRFToken" not in text(response), path
        cookies = response.headers.getlist("Set-Cookie")
        assert all(c.startswith("css=") for c in cookies), (path, cookies)


def test_a_change_committed_in_this_process_shows_at_once(app, demo):
    client, headers = anonymous(app)
    assert "Surat Keterangan Domisili" in text(client.get("/desa/hanura/layanan", headers=headers))
    service = db.session.scalar(
        select(Service).join(Village).where(Village.slug == "hanura", Service.code == "domisili")
    )
    service.name = "Surat Domisili Baru"
    db.session.commit()
    body = text(client.get("/desa/hanura/layanan", headers=headers))
    assert "Surat Domisili Baru" in body


def test_a_bulk_update_without_a_flush_also_empties_the_cache(app, demo, cache):
    client, headers = anonymous(app)
    client.get("/desa/hanura/layanan", headers=headers)
    db.session.execute(update(Service).where(Service.code == "domisili").values(name="Domisili Kilat"))
    db.session.commit()
    assert "Domisili Kilat" in text(client.get("/desa/hanura/layanan", headers=headers))


def test_a_visitor_with_a_session_always_gets_a_fresh_page(app, demo, auth, cache):
    code = hanura_code()
    client, headers = anonymous(app)
    public = text(client.get(f"/lacak/{code}", headers=headers))
    auth.login("operator.hanura@balai.test")
    hits = cache.hits
    official = auth.client.get(f"/lacak/{code}", headers=BROWSER)
    assert cache.hits == hits
    assert text(official) != public  # the official sees the full name and the actions
    # and what the official saw never reaches the next anonymous visitor
    assert text(client.get(f"/lacak/{code}", headers=headers)) == public


def test_unknown_cookies_are_not_trusted_to_be_anonymous(app, demo, cache):
    client, headers = anonymous(app)
    client.get("/produk", headers=headers)
    other, other_headers = anonymous(app, session="something")
    hits = cache.hits
    other.get("/produk", headers=other_headers)
    assert cache.hits == hits


def test_the_first_visit_and_a_returning_phone_get_their_own_copy(app, demo):
    client, headers = anonymous(app)
    first = client.get("/produk", headers=headers)
    assert "<style>" in text(first) and first.headers["Set-Cookie"].startswith("css=")
    version = first.headers["Set-Cookie"].split(";")[0].split("=", 1)[1]
    back, back_headers = anonymous(app, css=version)
    again = back.get("/produk", headers=back_headers)
    assert "<style>" not in text(again) and "Set-Cookie" not in again.headers
    assert back.get("/produk", headers=back_headers).get_data() == again.get_data()


def test_encoding_language_and_htmx_requests_get_their_own_copy(app, demo):
    client, headers = anonymous(app)
    br = client.get("/", headers=headers)
    plain = client.get("/", headers={"Accept-Language": "id-ID"})
    assert br.headers["Content-Encoding"] == "br" and "Content-Encoding" not in plain.headers
    fragment = client.get("/?q=han", headers={**headers, "HX-Request": "true"})
    full = client.get("/?q=han", headers=headers)
    assert b"<html" in full.get_data() or full.headers["Content-Encoding"] == "br"
    assert fragment.get_data() != full.get_data()
    english = text(client.get("/?lang=en", headers={"Accept-Language": "id-ID"}))
    assert 'lang="en"' in english
    assert 'lang="id"' in text(client.get("/", headers={"Accept-Language": "id-ID"}))


def test_a_conditional_request_gets_a_304_from_memory(app, demo, cache):
    client, headers = anonymous(app)
    client.get("/desa/hanura/layanan", headers=headers)
    stored = client.get("/desa/hanura/layanan", headers=headers)
    hits = cache.hits
    again = client.get("/desa/hanura/layanan", headers={**headers, "If-None-Match": stored.headers["ETag"]})
    assert again.status_code == 304 and again.get_data() == b""
    assert again.headers["ETag"] == stored.headers["ETag"]
    assert cache.hits == hits + 1


def test_not_found_posts_and_unmarked_pages_are_never_stored(app, demo, cache):
    client, headers = anonymous(app)
    hits = cache.hits
    for _ in range(2):
        assert client.get("/lacak/ZZZZ-ZZZZ-ZZ", headers=headers).status_code == 404
        client.get("/offline", headers=headers)
        client.post("/produk", headers=headers)
    assert cache.hits == hits


def test_a_page_that_starts_a_session_is_not_stored(app, demo, cache):
    # The product page holds the order form, whose CSRF token starts a session.
    client, headers = anonymous(app)
    link = "/produk"
    body = text(client.get(link, headers={"Accept-Language": "id-ID"}))
    product = re.search(r'href="(/produk/\d+-[^"]+)"', body).group(1)
    hits = cache.hits
    for _ in range(2):
        response = client.get(product, headers=headers)
        assert any(c.startswith("session=") for c in response.headers.getlist("Set-Cookie"))
    assert cache.hits == hits


# --- the middleware on its own ----------------------------------------------------------------


class Counting:
    """A WSGI app that renders a numbered page, marked for the cache unless told otherwise."""

    def __init__(self, mark=True, status="200 OK"):
        self.calls = 0
        self.mark = mark
        self.status = status

    def __call__(self, environ, start_response):
        self.calls += 1
        headers = [("Content-Type", "text/html"), ("ETag", f'"v{self.calls}"')]
        if self.mark:
            headers.append((pagecache.MARK_HEADER, "1"))
        start_response(self.status, headers)
        return [f"page {self.calls}".encode()]


def call(cache: PageCache, path="/x", **environ):
    seen = {}

    def start_response(status, headers, exc_info=None):
        seen["status"], seen["headers"] = status, headers

    body = b"".join(cache({"REQUEST_METHOD": "GET", "PATH_INFO": path, **environ}, start_response))
    return seen["status"], dict(seen["headers"]), body


def test_expired_pages_are_rendered_again_while_others_get_the_old_copy(tmp_path, monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(pagecache.time, "monotonic", lambda: now[0])
    inner = Counting()
    cache = PageCache(inner, seconds=5, entries=10, css_cookie="css", stamp_path=str(tmp_path / "s"))
    assert call(cache)[2] == b"page 1"
    assert call(cache)[2] == b"page 1"
    now[0] += 6
    # Someone is already rendering it anew: this visitor gets the old copy at once.
    cache._entries[next(iter(cache._entries))].refreshing = True
    assert call(cache)[2] == b"page 1"
    now[0] += 5  # but never more than one period late
    assert call(cache)[2] == b"page 2"
    assert call(cache)[2] == b"page 2"
    assert inner.calls == 2


def test_a_change_on_another_process_of_the_machine_empties_this_one(tmp_path):
    stamp = str(tmp_path / "stamp")
    inner = Counting()
    here = PageCache(inner, seconds=60, entries=10, css_cookie="css", stamp_path=stamp)
    there = PageCache(Counting(), seconds=60, entries=10, css_cookie="css", stamp_path=stamp)
    call(here)
    assert call(here)[2] == b"page 1"
    there.clear()  # a commit in another process (a worker, another gunicorn worker)
    assert call(here)[2] == b"page 2"


def test_the_cache_keeps_a_bounded_number_of_pages(tmp_path):
    cache = PageCache(Counting(), seconds=60, entries=3, css_cookie="css", stamp_path=str(tmp_path / "s"))
    for i in range(10):
        call(cache, f"/p{i}")
    assert len(cache._entries) == 3


def test_unmarked_or_failed_responses_pass_through_untouched(tmp_path):
    for inner in (Counting(mark=False), Counting(status="500 INTERNAL SERVER ERROR")):
        cache = PageCache(inner, seconds=60, entries=3, css_cookie="css", stamp_path=str(tmp_path / "s"))
        call(cache)
        _status, headers, _ = call(cache)
        assert inner.calls == 2
        assert pagecache.MARK_HEADER not in headers


def test_a_head_request_gets_the_headers_without_the_body(tmp_path):
    cache = PageCache(Counting(), seconds=60, entries=3, css_cookie="css", stamp_path=str(tmp_path / "s"))
    call(cache)
    status, headers, body = call(cache, REQUEST_METHOD="HEAD")
    assert status.startswith("200") and body == b"" and headers["ETag"] == '"v1"'


def test_the_cache_can_be_turned_off(tmp_path):
    from app import create_app
    from tests.conftest import Config

    class Off(Config):
        PAGE_CACHE_SECONDS = 0

    app = create_app(Off)
    assert "balai_page_cache" not in app.extensions
    assert not isinstance(app.wsgi_app, PageCache)
