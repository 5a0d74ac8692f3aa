"""Signing in and out, passwords, login limits, CSRF."""

from sqlalchemy import select

from app.config import Config, TestConfig
from app.extensions import db
from app.models import User
from tests.conftest import DEMO_PASSWORD, csrf_from


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
    statuses = [auth.login("admin@balai.test", "salah-sekali-123").status_code for _ in range(12)]
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
