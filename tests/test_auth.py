"""Signing in, roles and scope."""

from tests.conftest import DEMO_PASSWORD


def test_operator_logs_in_and_lands_on_their_work(client, auth, demo):
    response = auth.login("operator.hanura@balai.test")
    assert response.status_code == 302


def test_wrong_password_is_refused_with_a_clear_message(client, auth, demo):
    response = auth.login("operator.hanura@balai.test", "salah-sekali-123")
    assert response.status_code == 422
    assert "Email atau kata sandi salah." in response.get_data(as_text=True)


def test_login_without_csrf_token_is_refused(client, demo):
    response = client.post("/akun/masuk", data={"email": "admin@balai.test", "password": DEMO_PASSWORD})
    assert response.status_code == 400
