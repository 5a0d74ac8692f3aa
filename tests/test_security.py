"""Headers, cookies, markup the CSP allows, and uploads: over every page the isolation matrix visits."""

from __future__ import annotations

import base64
import hashlib
import io
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Attachment, ServiceRequest
from tests.conftest import _empty_tables, csrf_from
from tests.test_isolation import ANONYMOUS, ROLES, ROUTES, _build_world, make_clients
from tests.test_residents import answers, form_page, jpeg

INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)(?![^>]*application/(?:ld\+)?json)[^>]*>\s*\S", re.I)
STYLE_ATTR = re.compile(r"<[a-zA-Z][^>]*\sstyle\s*=", re.I)
STYLE_BLOCK = re.compile(r"<style\b[^>]*>(.*?)</style>", re.I | re.S)
HANDLER_ATTR = re.compile(r"<[a-zA-Z][^>]*\son[a-z]+\s*=", re.I)
JAVASCRIPT_URL = re.compile(r"""(?:href|src|action)\s*=\s*["']?\s*javascript:""", re.I)


def _pages(app, world, clients):
    """Every GET page of the matrix, fetched as the first role allowed to open it (and anonymously)."""
    pages = []
    for endpoint, route in sorted(ROUTES.items()):
        if endpoint not in app.view_functions:
            continue
        methods = set()
        for rule in app.url_map.iter_rules(endpoint):
            methods |= set(rule.methods or ())
        if "GET" not in methods:
            continue
        roles = [r for r in ROLES if r in route.policy.allowed] or [ANONYMOUS]
        for role in dict.fromkeys([roles[0], ANONYMOUS]):
            url = route.url(world)
            response = clients[role].client.get(url)
            body = response.get_data()
            response.close()
            pages.append((endpoint, role, url, response, body))
    return pages


@pytest.fixture(scope="module")
def pages(_app):
    """Walk the matrix once and keep the responses; the database is emptied before any test runs."""
    from app.extensions import limiter

    with _app.app_context():
        try:
            world = _build_world(_app)
            return _pages(_app, world, make_clients(_app, world))
        finally:
            db.session.rollback()
            db.session.remove()
            _empty_tables()
            limiter.reset()


def test_every_page_carries_the_security_headers(pages):
    problems = []
    for endpoint, role, url, response, _body in pages:
        h = response.headers
        csp = h.get("Content-Security-Policy", "")
        missing = [
            name
            for name, ok in (
                ("frame-ancestors 'none'", "frame-ancestors 'none'" in csp),
                ("script-src 'self'", "script-src 'self'" in csp),
                ("no unsafe-inline", "unsafe-inline" not in csp and "unsafe-eval" not in csp),
                ("object-src 'none'", "object-src 'none'" in csp),
                ("nosniff", h.get("X-Content-Type-Options") == "nosniff"),
                (
                    "referrer policy",
                    h.get("Referrer-Policy") in ("same-origin", "no-referrer", "strict-origin"),
                ),
            )
            if not ok
        ]
        if missing:
            problems.append(f"{endpoint} as {role} ({url}): {', '.join(missing)}")
    assert not problems, "\n".join(problems)


def test_no_page_has_markup_the_csp_would_block(pages):
    problems = []
    html_pages = 0
    for endpoint, role, _url, response, body in pages:
        if not response.mimetype.startswith("text/html"):
            continue
        html_pages += 1
        html = body.decode("utf-8", "replace")
        csp = response.headers.get("Content-Security-Policy", "")
        for block in STYLE_BLOCK.findall(html):
            # An inline stylesheet (the first visit's critical CSS) is allowed only by its hash.
            digest = base64.b64encode(hashlib.sha256(block.encode()).digest()).decode()
            if f"'sha256-{digest}'" not in csp:
                problems.append(f"{endpoint} as {role}: <style> block whose hash is not in the CSP")
        if "htmx.min.js" in html and not (
            '"allowEval":false' in html
            and '"includeIndicatorStyles":false' in html
            # htmx's settle step would copy a style attribute (a resized text box) with setAttribute.
            and '"attributesToSettle":["class","width","height"]' in html
        ):
            problems.append(
                f"{endpoint} as {role}: htmx without the CSP-safe htmx-config (no eval, no styles)"
            )
        for name, pattern in (
            ("inline <script> body", INLINE_SCRIPT),
            ("style= attribute", STYLE_ATTR),
            ("on*= handler", HANDLER_ATTR),
            ("javascript: URL", JAVASCRIPT_URL),
        ):
            match = pattern.search(html)
            if match:
                problems.append(f"{endpoint} as {role}: {name}: {html[match.start() : match.start() + 80]!r}")
    assert html_pages > 50, "the walk reached too few pages to mean anything"
    assert not problems, "templates break the CSP:\n" + "\n".join(problems)


def test_pages_that_are_not_html_declare_their_type(pages):
    for endpoint, _role, _url, response, _body in pages:
        if response.status_code == 200:
            assert response.mimetype, endpoint


def test_hsts_is_sent_in_production_only(app, client, tmp_path):
    from app import create_app
    from app.config import ProductionConfig

    assert "Strict-Transport-Security" not in client.get("/healthz").headers

    class Production(ProductionConfig):
        SECRET_KEY = "p" * 40
        SQLALCHEMY_DATABASE_URI = f"sqlite:///{tmp_path / 'prod.sqlite'}"
        UPLOAD_DIR = str(tmp_path / "uploads")
        RATELIMIT_STORAGE_URI = "memory://"

    prod = create_app(Production)
    response = prod.test_client().get("/offline")
    assert "max-age=31536000" in response.headers["Strict-Transport-Security"]
    assert prod.config["SESSION_COOKIE_SECURE"] and prod.config["REMEMBER_COOKIE_SECURE"]


def test_production_refuses_a_missing_or_short_secret_key(tmp_path):
    from app import create_app
    from app.config import ProductionConfig

    class Weak(ProductionConfig):
        SECRET_KEY = "short"
        SQLALCHEMY_DATABASE_URI = f"sqlite:///{tmp_path / 'p.sqlite'}"
        UPLOAD_DIR = str(tmp_path / "u")

    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app(Weak)


def test_the_session_cookie_is_httponly_and_samesite(app, client):
    response = client.get("/akun/masuk")
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert cookies, "the login form needs a session for its CSRF token"
    cookie = cookies[0].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie


def test_the_app_behind_one_proxy_sees_the_clients_address(tmp_path):
    from app import create_app
    from tests.conftest import Config

    class Proxied(Config):
        PROXY_COUNT = 1

    proxied = create_app(Proxied)
    seen = {}

    @proxied.get("/_addr")
    def addr():
        from flask import request

        seen["addr"] = request.remote_addr
        return "ok"

    proxied.test_client().get(
        "/_addr", headers={"X-Forwarded-For": "203.0.113.7"}, environ_base={"REMOTE_ADDR": "127.0.0.1"}
    )
    assert seen["addr"] == "203.0.113.7"


def test_error_pages_show_no_stack_trace(app, client):
    for url in ("/tidak-ada", "/lacak/%00%ff", "/kantor/permohonan/999999"):
        html = client.get(url).get_data(as_text=True)
        assert "Traceback" not in html and 'File "' not in html


# --- uploads -------------------------------------------------------------------------------------


@pytest.fixture
def village(app):
    from app.tenancy import activate_village

    village = activate_village("18.09.10.2004", slug="hanura", head_name="Sutarno")
    db.session.commit()
    return village


def _check(client, **overrides):
    csrf, key = form_page(client)
    return client.post(
        "/desa/hanura/layanan/domisili",
        data=answers(csrf, key, **overrides),
        content_type="multipart/form-data",
    )


def test_stored_photos_get_random_names_outside_the_static_folder(app, client, village):
    from tests.test_residents import submit

    assert submit(client).status_code == 303
    names = db.session.scalars(select(Attachment.stored_name)).all()
    assert len(names) == 2
    for name in names:
        assert re.fullmatch(r"[A-Za-z0-9_-]{24}\.(jpg|webp|png)", name)
    upload_dir = Path(app.config["UPLOAD_DIR"]).resolve()
    static_dir = Path(app.static_folder).resolve()
    assert static_dir not in upload_dir.parents and upload_dir != static_dir
    for name in names:
        assert any(upload_dir.rglob(name))
        assert not any(static_dir.rglob(name))
        # Not reachable by any public path, however it is spelled.
        for url in (f"/static/{name}", f"/static/../uploads/{name}", f"/uploads/{name}"):
            assert client.get(url).status_code == 404


def test_a_stored_photo_is_served_only_to_the_villages_officials(app, client, village, auth):
    from app.models import Role, User
    from tests.conftest import DEMO_PASSWORD
    from tests.test_residents import submit

    submit(client)
    attachment = db.session.scalars(select(Attachment)).first()
    url = f"/kantor/lampiran/{attachment.id}"
    assert client.get(url).status_code == 302  # anonymous: to the login page
    from app.tenancy import activate_village

    other = activate_village("18.04.15.2004", slug="trimulyo")
    for email, village_id in (("op.a@balai.test", village.id), ("op.b@balai.test", other.id)):
        user = User(email=email, name="Operator", role=Role.OPERATOR)
        user.village_id = village_id
        user.set_password(DEMO_PASSWORD)
        db.session.add(user)
    db.session.commit()
    auth.login("op.b@balai.test")
    assert client.get(url).status_code == 404
    auth.logout()
    auth.login("op.a@balai.test")
    response = client.get(url)
    assert response.status_code == 200 and response.mimetype.startswith("image/")
    assert "no-store" in response.headers["Cache-Control"]
    response.close()


def _polyglot_jpeg_with_html() -> bytes:
    return jpeg() + b"<html><script>alert(document.cookie)</script></html>"


def _jpeg_with_zip() -> bytes:
    buffer = io.BytesIO()
    import zipfile

    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("shell.php", "<?php system($_GET['c']); ?>")
    return jpeg() + buffer.getvalue()


def _gif_header_with_script() -> bytes:
    return b"GIF89a/*\x01\x00\x01\x00\x00\x00\x00*/=alert(1);//" + b"\x00" * 40


def _truncated_jpeg() -> bytes:
    return jpeg()[:300]


def _svg() -> bytes:
    return b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect width="9" height="9"/></svg>'


def _png_with_garbage_crc() -> bytes:
    from tests.test_residents import png

    data = bytearray(png())
    data[30] ^= 0xFF  # inside IHDR: its CRC no longer matches
    return bytes(data)


@pytest.mark.parametrize(
    "make",
    [
        _polyglot_jpeg_with_html,
        _jpeg_with_zip,
        _gif_header_with_script,
        _truncated_jpeg,
        _svg,
        _png_with_garbage_crc,
    ],
)
def test_polyglot_and_malformed_images_are_refused_cleanly(app, client, village, make):
    response = _check(client, doc_ktp=(io.BytesIO(make()), "ktp.jpg", "image/jpeg"))
    html = response.get_data(as_text=True)
    assert response.status_code == 422, html[:500]
    assert 'class="error"' in html
    assert 'value="Siti Wulandari"' in html  # what was typed is kept
    assert "Traceback" not in html
    assert db.session.scalar(select(func.count(ServiceRequest.id))) == 0


def test_a_csrf_less_post_is_refused_with_a_friendly_page(app, client, village):
    csrf_from(client.get("/desa/hanura/layanan/domisili").get_data(as_text=True))
    response = client.post("/desa/hanura/layanan/domisili", data={"nik": "1"})
    assert response.status_code == 400
    assert "kedaluwarsa" in response.get_data(as_text=True)
