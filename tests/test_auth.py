"""Signing in and out, passwords, login limits, per-account backoff, CSRF."""

import time

import pytest
from sqlalchemy import select

from app.config import Config, TestConfig
from app.extensions import db
from app.models import User, Village
from tests.conftest import DEMO_PASSWORD, Auth, csrf_from
from tests.processes import KINDS, two_processes


def test_operator_logs_in_and_lands_on_their_work(client, auth, demo):
    response = auth.login("operator.hanura@balai.test")
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 403


def test_admin_lands_on_the_admin_area(client, auth, demo):
    response = auth.login("lambar@balai.test")
    assert response.headers["Location"].endswith("/admin/")


def test_wrong_password_is_refused_with_a_clear_message(client, auth, demo):
    response = auth.login("operator.hanura@balai.test", "salah-sekali-123")
    assert response.status_code == 422
    assert "Email atau kata sandi salah." in response.get_data(as_text=True)


def test_an_unknown_email_gets_the_same_message(client, auth, demo):
    response = auth.login("tidak.ada@balai.test", "salah-sekali-123")
    assert "Email atau kata sandi salah." in response.get_data(as_text=True)


def test_login_without_csrf_token_is_refused(client, demo):
    response = client.post("/akun/masuk", data={"email": "admin@balai.test", "password": DEMO_PASSWORD})
    assert response.status_code == 400
    assert "kedaluwarsa" in response.get_data(as_text=True)


def test_too_many_logins_are_stopped_with_a_message_in_indonesian(client, auth, demo):
    # A different email each time: the per-address limit, not the per-account backoff, stops these.
    statuses = [auth.login(f"orang{i}@balai.test", "salah-sekali-123").status_code for i in range(12)]
    assert statuses[:10] == [422] * 10
    assert statuses[-1] == 429
    assert "Terlalu sering" in auth.login("admin@balai.test").get_data(as_text=True)


def test_passwords_are_stored_hashed_with_scrypt_outside_tests(app, demo):
    user = db.session.scalar(select(User).where(User.email == "admin@balai.test"))
    assert DEMO_PASSWORD not in user.password_hash
    app.config["PASSWORD_HASH_METHOD"] = Config.PASSWORD_HASH_METHOD
    try:
        user.set_password("sandi-yang-panjang")
    finally:
        app.config["PASSWORD_HASH_METHOD"] = TestConfig.PASSWORD_HASH_METHOD
    assert user.password_hash.startswith("scrypt:")
    assert user.check_password("sandi-yang-panjang")


def test_changing_the_password_logs_out_every_other_session(app, demo):
    phone, laptop = app.test_client(), app.test_client()
    for c in (phone, laptop):
        token = csrf_from(c.get("/akun/masuk").get_data(as_text=True))
        c.post(
            "/akun/masuk", data={"email": "lambar@balai.test", "password": DEMO_PASSWORD, "csrf_token": token}
        )
        assert c.get("/admin/").status_code == 200
    token = csrf_from(laptop.get("/akun/sandi").get_data(as_text=True))
    response = laptop.post(
        "/akun/sandi",
        data={
            "current": DEMO_PASSWORD,
            "new": "sandi-baru-yang-panjang",
            "confirm": "sandi-baru-yang-panjang",
            "csrf_token": token,
        },
    )
    assert response.status_code == 302
    assert laptop.get("/admin/").status_code == 200
    assert phone.get("/admin/").status_code == 302  # sent back to the login page


def test_logout_needs_a_post_with_csrf(client, auth, demo):
    auth.login("lambar@balai.test")
    assert client.get("/akun/keluar").status_code == 405
    assert auth.logout().status_code == 302
    assert client.get("/admin/").status_code == 302


def test_open_redirects_after_login_are_refused(client, auth, demo):
    token = auth.csrf()
    response = client.post(
        "/akun/masuk?next=//evil.example/",
        data={"email": "lambar@balai.test", "password": DEMO_PASSWORD, "csrf_token": token},
    )
    assert response.headers["Location"].endswith("/admin/")


def test_session_cookie_is_httponly_and_samesite(client, auth, demo):
    response = auth.login("lambar@balai.test")
    cookie = response.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


# ---------------------------------------------------------------- logging out ends the session


def test_a_copied_session_cookie_stops_working_after_logout(app, client, auth, demo):
    auth.login("operator.hanura@balai.test")
    copied = client.get_cookie("session").value
    thief = app.test_client()
    thief.set_cookie("session", copied)
    assert thief.get("/kantor/").status_code == 200
    auth.logout()
    replay = thief.get("/kantor/")
    assert replay.status_code == 302 and "/akun/masuk" in replay.headers["Location"]


# ---------------------------------------------------------------- the same cost for unknown emails


@pytest.fixture
def hash_checks(monkeypatch):
    """Every password hash the login checks, in order (the real check still runs)."""
    from app.auth import guard
    from app.models import user as user_module

    seen: list[str] = []

    def spy(real):
        def check(pwhash: str, password: str) -> bool:
            seen.append(pwhash)
            return real(pwhash, password)

        return check

    monkeypatch.setattr(guard, "check_password_hash", spy(guard.check_password_hash))
    monkeypatch.setattr(user_module, "check_password_hash", spy(user_module.check_password_hash))
    return seen


def test_an_unknown_email_pays_one_hash_of_the_configured_method_and_cost(app, auth, demo, hash_checks):
    known = db.session.scalar(select(User).where(User.email == "operator.hanura@balai.test"))
    auth.login("tidak.ada@balai.test", "salah-sekali-123")
    auth.login("operator.hanura@balai.test", "salah-sekali-123")
    assert len(hash_checks) == 2
    dummy, real = hash_checks
    assert real == known.password_hash
    method = app.config["PASSWORD_HASH_METHOD"]
    assert dummy.startswith(method + "$") and dummy != real  # same method and cost, not a real hash


def test_the_dummy_hash_follows_the_configured_method(app, demo):
    from app.auth import guard

    app.config["PASSWORD_HASH_METHOD"] = "scrypt"
    try:
        assert guard.dummy_hash().startswith("scrypt:32768:8:1$")
    finally:
        app.config["PASSWORD_HASH_METHOD"] = TestConfig.PASSWORD_HASH_METHOD


def test_a_disabled_account_pays_the_same_hash_and_gets_the_same_answer(app, auth, demo, hash_checks):
    account = db.session.scalar(select(User).where(User.email == "operator.hanura@balai.test"))
    account.active = False
    db.session.commit()
    response = auth.login("operator.hanura@balai.test")
    assert response.status_code == 422 and "Email atau kata sandi salah." in response.get_data(as_text=True)
    assert hash_checks == [account.password_hash]


# ---------------------------------------------------------------- per-account backoff


def test_the_backoff_doubles_after_the_free_failures_and_stops_at_the_cap():
    from app.auth.guard import Backoff

    backoff = Backoff(after=5, base=30, cap=300)
    assert [backoff.delay(n) for n in range(1, 12)] == [0, 0, 0, 0, 30, 60, 120, 240, 300, 300, 300]
    assert backoff.delay(10_000) == 300


@pytest.fixture
def short_lockout(app, monkeypatch):
    """The production rule (5 free failures, then doubling) with delays of 1 s up to 2 s."""
    monkeypatch.setitem(app.config, "LOGIN_LOCKOUT_BASE_SECONDS", 1)
    monkeypatch.setitem(app.config, "LOGIN_LOCKOUT_MAX_SECONDS", 2)
    return 2


def _login_from(app, address: str, email: str, password: str, client=None):
    client = client or app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    token = csrf_from(client.get("/akun/masuk").get_data(as_text=True))
    return client.post("/akun/masuk", data={"email": email, "password": password, "csrf_token": token})


def _wait_out(seconds: float) -> None:
    time.sleep(seconds + 0.3)


LOCKED = "Terlalu banyak percobaan untuk akun ini. Coba lagi dalam 1 menit."


def test_thirty_wrong_passwords_from_three_addresses_lock_the_account_not_forever(app, demo, short_lockout):
    email = "admin@balai.test"
    for n in range(30):
        response = _login_from(app, f"10.7.0.{n % 3 + 1}", email, "salah-sekali-123")
        assert response.status_code in (422, 429)
    refused = _login_from(app, "10.7.0.4", email, DEMO_PASSWORD)
    assert refused.status_code == 429 and LOCKED in refused.get_data(as_text=True)
    assert int(refused.headers["Retry-After"]) >= 1
    _wait_out(short_lockout)
    assert _login_from(app, "10.7.0.4", email, DEMO_PASSWORD).status_code == 302


def test_an_unknown_email_is_locked_the_same_way(app, demo, short_lockout):
    for n in range(6):
        response = _login_from(app, f"10.7.1.{n}", "tidak.ada@balai.test", "salah-sekali-123")
    assert response.status_code == 429 and LOCKED in response.get_data(as_text=True)


def test_the_owners_own_browser_is_not_locked_out_by_a_strangers_guesses(app, demo, short_lockout):
    email = "operator.hanura@balai.test"
    phone = app.test_client()
    assert _login_from(app, "10.7.2.1", email, DEMO_PASSWORD, client=phone).status_code == 302
    phone.post("/akun/keluar", data={"csrf_token": csrf_from(phone.get("/").get_data(as_text=True))})
    for n in range(8):
        _login_from(app, f"10.7.3.{n}", email, "salah-sekali-123")
    assert _login_from(app, "10.7.3.9", email, DEMO_PASSWORD).status_code == 429
    # The phone the owner signed in from before carries its device cookie: its own count, not locked.
    assert _login_from(app, "10.7.2.1", email, DEMO_PASSWORD, client=phone).status_code == 302


def test_the_current_password_check_backs_off_too(app, client, auth, demo, short_lockout):
    auth.login("lambar@balai.test")

    def change(current: str):
        return auth.post(
            "/akun/sandi",
            data={"current": current, "new": "sandi-baru-yang-panjang", "confirm": "sandi-baru-yang-panjang"},
        )

    statuses = [change("salah-sekali-123").status_code for _ in range(6)]
    assert statuses[:4] == [422] * 4 and statuses[-1] == 429
    refused = change(DEMO_PASSWORD)
    assert refused.status_code == 429 and LOCKED in refused.get_data(as_text=True)
    _wait_out(short_lockout)
    assert change(DEMO_PASSWORD).status_code == 302


# ---------------------------------------------------------------- the kept account row follows every change
# The signed-in account's row is kept per process (app/auth/signed_in.py) under the data cache's
# write generation: each change below must show on the very next request, here and in another process.


@pytest.fixture(params=KINDS)
def processes(request, demo, tmp_path):
    # Public pages may read Redis's generation up to a minute late here; signing in never may.
    yield from two_processes(request, tmp_path, redis_seconds=60)


def _signed_in(app, email: str = "operator.hanura@balai.test"):
    client = app.test_client()
    assert Auth(client).login(email).status_code == 302
    for _ in range(2):  # the second page reads the kept row
        assert client.get("/kantor/").status_code == 200
    return client


def _change_account(app, email: str, **values) -> None:
    from app.models import User

    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == email))
        for name, value in values.items():
            setattr(user, name, value)
        db.session.commit()


def _turned_away(response) -> bool:
    return response.status_code in (302, 403) and (
        response.status_code == 403 or "/akun/masuk" in response.headers["Location"]
    )


def test_logging_out_in_one_process_ends_a_copied_cookie_in_every_other_at_once(processes):
    here, there = processes
    owner = _signed_in(here)
    copied = owner.get_cookie("session").value
    thieves = [here.test_client(), there.test_client()]
    for thief in thieves:
        thief.set_cookie("session", copied)
        assert thief.get("/kantor/").status_code == 200  # both processes keep the row now
    assert Auth(owner).logout().status_code == 302
    for thief in thieves:
        assert _turned_away(thief.get("/kantor/"))


def test_a_disabled_account_is_signed_out_everywhere_on_its_next_request(processes):
    here, there = processes
    client = _signed_in(here)
    _change_account(there, "operator.hanura@balai.test", active=False)
    assert _turned_away(client.get("/kantor/"))
    _change_account(there, "operator.hanura@balai.test", active=True)
    assert client.get("/kantor/").status_code == 200  # the same session token: valid again


def test_a_role_or_village_change_shows_on_the_next_request(processes):
    from app.models import Role

    here, there = processes
    client = _signed_in(here)
    with there.app_context():
        other = db.session.scalar(select(Village).where(Village.slug != "hanura", Village.active.is_(True)))
        other_id, other_name = other.id, other.name
    _change_account(there, "operator.hanura@balai.test", village_id=other_id)
    assert other_name in client.get("/kantor/").get_data(as_text=True)
    _change_account(there, "operator.hanura@balai.test", role=Role.BUMDES_MANAGER)
    assert client.get("/kantor/").status_code != 200


def test_a_kept_account_row_is_never_another_accounts(processes):
    """Two officials signed in to the same process each get their own account, turn and turn about."""
    here, _there = processes
    emails = ("operator.hanura@balai.test", "kades.hanura@balai.test")
    with here.app_context():
        names = [db.session.scalar(select(User.name).where(User.email == email)) for email in emails]
    assert names[0] != names[1]
    clients = [_signed_in(here, email) for email in emails]
    for _ in range(2):
        for client, own, other in zip(clients, names, reversed(names), strict=True):
            page = client.get("/kantor/").get_data(as_text=True)
            assert own in page and other not in page
