"""Issue 15's attacks on sign-in, sessions, redirects and letter settings, against the running app.

The Procfile's web process (gunicorn, 2 workers, gunicorn.conf.py) serves the test database
(PostgreSQL with TEST_DATABASE_URL) behind one trusted proxy hop, counting limits in Redis
(TEST_REDIS_URL) as production does; the tests speak HTTP to it like an attacker's script would.
"""

from __future__ import annotations

import base64
import html
import re
import secrets
import time
import zlib
from urllib.parse import urljoin, urlsplit

import pytest
import requests
from redis import Redis

from app import letters
from app.extensions import db
from tests.conftest import CSRF_RE, DEMO_PASSWORD
from tests.gunicorn_support import serve_test_database
from tests.test_officials import advance, make_request, make_service, user, village
from tests.test_residents import answers, hidden_fields

LOCKOUT_CAP = 2  # seconds; production waits up to 300


@pytest.fixture(scope="module")
def server(_app, redis_url, tmp_path_factory):
    prefix = f"test-{secrets.token_hex(4)}/"
    with serve_test_database(
        tmp_path_factory.mktemp("live"),
        PROXY_COUNT="1",
        RATELIMIT_STORAGE_URI=redis_url,
        RATELIMIT_KEY_PREFIX=prefix,
        LOGIN_LOCKOUT_BASE_SECONDS="1",
        LOGIN_LOCKOUT_MAX_SECONDS=str(LOCKOUT_CAP),
    ) as web:
        web.prefix = prefix
        yield web


@pytest.fixture
def live(server, demo, redis_url):
    """The running app on freshly seeded data, with no failure counted by an earlier test."""
    redis = Redis.from_url(redis_url)
    for key in redis.scan_iter(f"*{server.prefix}*"):
        redis.delete(key)
    return server


class Browser(requests.Session):
    """A client at one address (sent as X-Forwarded-For through the one trusted proxy hop)."""

    def __init__(self, base: str, address: str):
        super().__init__()
        self.base = base
        self.headers["X-Forwarded-For"] = address

    def request(self, method, url, *args, **kwargs):
        kwargs.setdefault("allow_redirects", False)
        kwargs.setdefault("timeout", 30)
        return super().request(method, url if url.startswith("http") else self.base + url, *args, **kwargs)

    def get(self, url, **kwargs):
        # requests' get() follows redirects unless told not to; an attacker's script sees each hop.
        kwargs.setdefault("allow_redirects", False)
        return self.request("GET", url, **kwargs)

    def csrf(self, path: str) -> str:
        match = CSRF_RE.search(self.get(path).text)
        assert match, f"no csrf_token on {path}"
        return match.group(1) or match.group(2)

    def login(self, email: str, password: str = DEMO_PASSWORD, query: str = ""):
        token = self.csrf("/akun/masuk")
        return self.post(
            "/akun/masuk" + query, data={"email": email, "password": password, "csrf_token": token}
        )


def browser_target(base: str, location: str) -> str:
    """Where a browser goes for this Location: it drops tabs and newlines and reads \\ as /."""
    cleaned = location.strip("\x00\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0e\x0f\x1f ")
    for ch in "\t\n\r":
        cleaned = cleaned.replace(ch, "")
    return urljoin(base + "/", cleaned.replace("\\", "/"))


# Known ways to turn a "local" next into another site (raw query strings, as an attacker sends them).
BYPASSES = [
    "/%09/evil.example",
    "/%09/%09/evil.example",
    "%09//evil.example",
    "/%0A/evil.example",
    "/%0D%0A/evil.example",
    "/%0D%0ASet-Cookie:%20pwned=1",
    "//evil.example",
    "///evil.example",
    "%2F%2Fevil.example",
    "/%2F/evil.example",
    "/%5Cevil.example",
    "%5C%5Cevil.example",
    "/%5C/evil.example",
    "https://evil.example",
    "https:evil.example",
    "http:%5C%5Cevil.example",
    "javascript:alert(1)",
    "%20//evil.example",
    "/%E2%80%A8/evil.example",
    "/%C2%A0/evil.example",
    "/%00/evil.example",
]


def test_login_next_never_leaves_the_site_and_never_errors(live):
    host = urlsplit(live.base).netloc
    for n, bypass in enumerate(BYPASSES):
        response = Browser(live.base, f"10.20.{n}.1").login("lambar@balai.test", query=f"?next={bypass}")
        assert response.status_code in (302, 303, 400), (bypass, response.status_code)
        if response.status_code != 400:  # 400: a NUL byte, refused before anything else
            target = browser_target(live.base, response.headers["Location"])
            assert urlsplit(target).netloc == host, (bypass, response.headers["Location"])
            assert "pwned" not in response.headers.get("Set-Cookie", "")
    ok = Browser(live.base, "10.20.99.1").login("lambar@balai.test", query="?next=/kantor/laporan")
    assert ok.headers["Location"].endswith("/kantor/laporan")


def test_the_officials_action_form_next_never_leaves_the_site(live):
    v = village("hanura")
    service = make_service(v)
    host = urlsplit(live.base).netloc
    official = Browser(live.base, "10.21.0.1")
    assert official.login("operator.hanura@balai.test").status_code == 302
    first = make_request(v, service)
    page = official.get(f"/kantor/permohonan/{first.id}?next=/%09/evil.example").text
    assert 'name="next"' not in page  # the hidden field is not even offered
    csrf = CSRF_RE.search(page)
    csrf = csrf.group(1) or csrf.group(2)
    for bypass in ("/\t/evil.example", "/\r\n/evil.example", "/\\evil.example", "//evil.example"):
        req = make_request(v, service)
        response = official.post(
            f"/kantor/permohonan/{req.id}/aksi",
            data={"action": "verify", "version": str(req.version), "csrf_token": csrf, "next": bypass},
        )
        assert response.status_code == 303, (bypass, response.status_code)
        target = browser_target(live.base, response.headers["Location"])
        assert urlsplit(target).netloc == host, (bypass, response.headers["Location"])
        assert target.endswith(f"/kantor/permohonan/{req.id}")


def test_a_copied_cookie_is_refused_once_its_owner_logs_out(live):
    owner = Browser(live.base, "10.22.0.1")
    assert owner.login("operator.hanura@balai.test").status_code == 302
    thief = Browser(live.base, "10.22.0.2")
    thief.cookies.update(owner.cookies.get_dict())
    assert thief.get("/kantor/").status_code == 200
    logout = owner.post("/akun/keluar", data={"csrf_token": owner.csrf("/kantor/")})
    assert logout.status_code == 302
    replay = thief.get("/kantor/")
    assert replay.status_code == 302 and "/akun/masuk" in replay.headers["Location"]


def test_thirty_wrong_passwords_from_three_addresses_then_the_right_one_from_a_fourth(live):
    email = "admin@balai.test"
    for n in range(30):
        wrong = Browser(live.base, f"10.23.0.{n % 3 + 1}").login(email, "salah-sekali-123")
        assert wrong.status_code in (422, 429), wrong.status_code
    refused = Browser(live.base, "10.23.0.4").login(email)
    assert refused.status_code == 429
    assert "Terlalu banyak percobaan untuk akun ini. Coba lagi dalam 1 menit." in refused.text
    time.sleep(LOCKOUT_CAP + 0.5)
    assert Browser(live.base, "10.23.0.4").login(email).status_code == 302  # not locked out for long


def test_a_stolen_session_cannot_guess_the_current_password_without_limit(live):
    thief = Browser(live.base, "10.24.0.1")
    assert thief.login("lambar@balai.test").status_code == 302
    csrf = thief.csrf("/akun/sandi")

    def change(current: str):
        return thief.post(
            "/akun/sandi",
            data={
                "current": current,
                "new": "sandi-baru-panjang",
                "confirm": "sandi-baru-panjang",
                "csrf_token": csrf,
            },
        )

    statuses = [change(f"tebakan-{n}").status_code for n in range(10)]
    assert statuses[:4] == [422] * 4 and set(statuses[5:]) == {429}
    assert change(DEMO_PASSWORD).status_code == 429  # even the right one waits


def test_the_resident_session_cookie_does_not_carry_the_private_link(live):
    resident = Browser(live.base, "10.25.0.1")
    page = resident.get("/desa/hanura/layanan/domisili").text
    csrf = CSRF_RE.search(page)
    key = re.search(r'name="idempotency_key"[^>]*value="([^"]+)"', page).group(1)
    form = answers(csrf.group(1) or csrf.group(2), key)
    files = {name: (value[1], value[0], value[2]) for name, value in form.items() if isinstance(value, tuple)}
    fields = {name: value for name, value in form.items() if not isinstance(value, tuple)}
    checked = resident.post("/desa/hanura/layanan/domisili", data=fields, files=files)
    assert checked.status_code == 200, checked.text[-500:]
    sent = {k: html.unescape(v) for k, v in hidden_fields(checked.text).items()}
    response = resident.post("/desa/hanura/layanan/domisili", data={**sent, "step": "send"})
    assert response.status_code == 303
    receipt = resident.get(response.headers["Location"]).text
    token = re.search(r"/permohonan/([A-Za-z0-9_-]{43})", receipt).group(1)

    cookie = resident.cookies.get("session")
    payload = cookie.lstrip(".").split(".")[0]
    data = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    readable = (zlib.decompress(data) if cookie.startswith(".") else data).decode()
    assert "receipts" in readable and token not in readable and token not in cookie
    # The resident still reaches the request: the receipt again, "my requests", the private page.
    assert token in resident.get(response.headers["Location"]).text
    assert resident.get(f"/permohonan/{token}").status_code == 200
    code = response.headers["Location"].rsplit("/", 1)[1]
    assert code in resident.get("/saya").text


def test_an_operator_cannot_switch_off_the_heads_approval_and_sign_as_the_head(live):
    v = village("hanura")
    service = make_service(v)
    letters.change_settings(v, user("kades.hanura@balai.test"), require_head_approval=True)
    db.session.commit()
    operator = Browser(live.base, "10.26.0.1")
    assert operator.login("operator.hanura@balai.test").status_code == 302
    csrf = operator.csrf("/kantor/pengaturan-surat")
    attack = operator.post(
        "/kantor/pengaturan-surat",
        data={
            "csrf_token": csrf,
            "numbering_mode": "per_type",
            "number_pattern": letters.DEFAULT_PATTERN,
            "require_head_approval": "tidak",
        },
    )
    assert attack.status_code == 403
    db.session.expire_all()
    assert letters.settings_for(v.id).require_head_approval

    req = advance(make_request(v, service), "verify", "start")
    page = operator.get(f"/kantor/permohonan/{req.id}").text
    csrf = CSRF_RE.search(page)
    issued = operator.post(
        f"/kantor/permohonan/{req.id}/aksi",
        data={
            "action": "mark_ready",
            "version": str(req.version),
            "csrf_token": csrf.group(1) or csrf.group(2),
        },
    )
    assert issued.status_code == 303
    db.session.expire_all()
    letter = letters.letter_for(req.id)
    assert letter.number is None and letter.signer_name == ""  # waiting for the head, unsigned
