"""OpenSID's "Buat Key", as the operator's browser does it: a page of another origin calls Balai's
/opendk/api/v1/auth/login with fetch(), cross-origin, and keeps the token it gets back.

The stand-in for OpenSID's settings page is served by a small HTTP server of its own, on another
port of 127.0.0.1 (another origin); Chromium does the CORS preflight exactly as for the real page.
"""

from __future__ import annotations

import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Role, User
from app.models.population import SyncToken
from app.population import tokens
from tests.conftest import DEMO_PASSWORD

pytestmark = pytest.mark.browser

PAGE = """<!doctype html>
<html lang="id"><head><meta charset="utf-8"><title>OpenSID - Sinkronisasi</title></head>
<body>
<h1>Buat Key</h1>
<label>Server OpenDK <input id="server" name="api_opendk_server"></label>
<label>User <input id="user" name="api_opendk_user"></label>
<label>Password <input id="password" name="api_opendk_password" type="password"></label>
<button id="buat-key" type="button">Buat Key</button>
<textarea id="key" name="api_opendk_key"></textarea>
<p id="pesan"></p>
<script src="/sinkronisasi.js"></script>
</body></html>
"""
# What views/sinkronisasi/index.php::get_token() does with axios, with fetch: POST JSON to
# {server}/api/v1/auth/login and keep access_token when the status is exactly 200.
SCRIPT = """
document.getElementById('buat-key').addEventListener('click', function () {
  var server = document.getElementById('server').value;
  fetch(server + '/api/v1/auth/login', {
    method: 'POST',
    headers: {'Accept': 'application/json, text/plain, */*', 'Content-Type': 'application/json;charset=UTF-8'},
    body: JSON.stringify({email: document.getElementById('user').value,
                          password: document.getElementById('password').value})
  }).then(function (res) {
    if (res.status == 200) {
      return res.json().then(function (data) {
        document.getElementById('key').value = data.access_token;
        document.getElementById('pesan').textContent = 'Berhasil terhubung ke server OpenDK';
      });
    }
    document.getElementById('pesan').textContent = 'Gagal terhubung ke server OpenDK';
  }).catch(function () {
    document.getElementById('pesan').textContent = 'Gagal terhubung (diblokir)';
  });
});
"""


@pytest.fixture
def opensid_page(tmp_path):
    (tmp_path / "sinkronisasi.html").write_text(PAGE)
    (tmp_path / "sinkronisasi.js").write_text(SCRIPT)

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(tmp_path)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/sinkronisasi.html"
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def hanura_operator(app):
    from app.tenancy import activate_village

    village = activate_village("18.09.10.2004", slug="hanura")
    user = User(
        email="operator@hanura.desa.id", name="Operator Hanura", role=Role.OPERATOR, village_id=village.id
    )
    user.set_password(DEMO_PASSWORD)
    region_admin = User(
        email="pesawaran@balai.test", name="Admin", role=Role.REGION_ADMIN, region_code="18.09"
    )
    region_admin.set_password(DEMO_PASSWORD)
    db.session.add_all([user, region_admin])
    db.session.commit()
    return village


def _buat_key(page, url, server, email, password) -> None:
    page.goto(url)
    page.fill("#server", server)
    page.fill("#user", email)
    page.fill("#password", password)
    page.click("#buat-key")
    page.wait_for_function("document.getElementById('pesan').textContent !== ''")


def test_buat_key_in_the_operators_browser_gets_a_token_cross_origin(
    page, live_server, opensid_page, hanura_operator, client
):
    assert opensid_page.split("/")[2] != live_server.split("/")[2]  # another origin
    _buat_key(page, opensid_page, live_server + "/opendk", "operator@hanura.desa.id", DEMO_PASSWORD)
    assert page.text_content("#pesan") == "Berhasil terhubung ke server OpenDK"
    key = page.input_value("#key")
    assert key.startswith("opendk_")
    stored = db.session.scalar(select(SyncToken).where(SyncToken.via == "login"))
    assert stored.village_id == hanura_operator.id and stored.digest == tokens.digest(key)
    # The key works for the village's OpenSID (and only as a bearer token).
    answer = client.post(
        "/opendk/api/v1/identitas-desa",
        data={"kode_desa": "18.09.10.2004", "sebutan_desa": "desa", "website": "https://hanura.desa.id/"},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert answer.status_code == 200 and answer.get_json()["status"] == "success"


def test_buat_key_with_a_wrong_password_or_a_region_account_gives_no_token(
    page, live_server, opensid_page, hanura_operator
):
    _buat_key(page, opensid_page, live_server + "/opendk", "operator@hanura.desa.id", "salah-sandi")
    assert page.text_content("#pesan") == "Gagal terhubung ke server OpenDK"  # the 401 was readable (CORS)
    assert page.input_value("#key") == ""
    _buat_key(page, opensid_page, live_server + "/opendk", "pesawaran@balai.test", DEMO_PASSWORD)
    assert page.text_content("#pesan") == "Gagal terhubung ke server OpenDK"
    assert db.session.scalar(select(SyncToken)) is None
