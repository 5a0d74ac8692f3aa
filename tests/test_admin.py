"""Admins create accounts and activate villages only inside their own scope."""

from sqlalchemy import select

from app.extensions import db
from app.models import Role, User, Village
from tests.conftest import csrf_from


def _new_user(auth, **fields):
    data = {
        "name": "Budi",
        "email": "budi@example.com",
        "password": "sandi-yang-panjang",
        "role": "operator",
        "region_code": "",
        "village_slug": "",
        **fields,
    }
    return auth.post("/admin/pengguna", data, form_page="/admin/pengguna")


def test_kabupaten_admin_creates_an_operator_for_a_village_in_their_kabupaten(client, auth, demo):
    auth.login("lambar@balai.test")
    response = _new_user(auth, village_slug="trimulyo")
    assert response.status_code == 302
    user = db.session.scalar(select(User).where(User.email == "budi@example.com"))
    assert user.role == Role.OPERATOR and user.village.slug == "trimulyo"


def test_kabupaten_admin_cannot_create_an_operator_outside_their_kabupaten(client, auth, demo):
    auth.login("lambar@balai.test")
    response = _new_user(auth, village_slug="hanura")
    assert response.status_code == 422
    assert "tidak ada di wilayah Anda" in response.get_data(as_text=True)
    assert db.session.scalar(select(User).where(User.email == "budi@example.com")) is None


def test_kabupaten_admin_cannot_create_a_superadmin(client, auth, demo):
    auth.login("lambar@balai.test")
    response = _new_user(auth, role="superadmin")
    assert response.status_code == 422
    assert db.session.scalar(select(User).where(User.email == "budi@example.com")) is None


def test_kabupaten_admin_cannot_create_a_province_admin(client, auth, demo):
    auth.login("lambar@balai.test")
    response = _new_user(auth, role="region_admin", region_code="18")
    assert response.status_code == 422
    assert "di luar wewenang" in response.get_data(as_text=True)


def test_htmx_form_errors_come_back_as_a_fragment(client, auth, demo):
    auth.login("lambar@balai.test")
    token = csrf_from(client.get("/admin/pengguna").get_data(as_text=True))
    response = client.post(
        "/admin/pengguna",
        data={"name": "", "email": "x", "password": "short", "role": "operator", "csrf_token": token},
        headers={"HX-Request": "true", "X-CSRFToken": token},
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert body.lstrip().startswith("<form") and "<html" not in body
    assert "HX-Request" in response.headers["Vary"]


def test_users_list_shows_only_accounts_in_scope(client, auth, demo):
    auth.login("lambar@balai.test")
    body = client.get("/admin/pengguna").get_data(as_text=True)
    assert "operator.trimulyo@balai.test" in body
    assert "operator.hanura@balai.test" not in body
    assert "admin@balai.test" not in body.replace("operator", "")


def test_admin_finds_and_activates_a_village_in_scope(client, auth, demo):
    auth.login("lambar@balai.test")
    found = client.get("/admin/desa?q=Sukarame", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Sukarame" in found and "<html" not in found
    code = "18.04.04.2010"
    page = client.get(f"/admin/desa/{code}/aktifkan")
    assert page.status_code == 200
    token = csrf_from(page.get_data(as_text=True))
    response = client.post(
        f"/admin/desa/{code}/aktifkan",
        data={
            "slug": "uji-coba",
            "term": "pekon",
            "head_title": "Peratin",
            "head_name": "Pak Uji",
            "short_code": "UJI",
            "address": "",
            "whatsapp": "0812 3456 7890",
            "csrf_token": token,
        },
    )
    assert response.status_code == 302
    village = db.session.scalar(select(Village).where(Village.slug == "uji-coba"))
    assert village.region_code == code and village.whatsapp == "+6281234567890"


def test_admin_cannot_activate_a_village_outside_scope(client, auth, demo):
    auth.login("lambar@balai.test")
    assert client.get("/admin/desa/18.09.10.2004/aktifkan").status_code == 404


def test_activation_refuses_a_slug_already_taken(client, auth, demo):
    auth.login("lambar@balai.test")
    code = "18.04.04.2010"
    token = csrf_from(client.get(f"/admin/desa/{code}/aktifkan").get_data(as_text=True))
    response = client.post(
        f"/admin/desa/{code}/aktifkan",
        data={"slug": "hanura", "term": "pekon", "head_title": "Peratin", "csrf_token": token},
    )
    assert response.status_code == 422
    assert "sudah dipakai" in response.get_data(as_text=True)


def test_village_roles_cannot_open_the_admin_area(client, auth, demo):
    auth.login("operator.hanura@balai.test")
    assert client.get("/admin/pengguna").status_code == 403


def test_create_admin_command_makes_a_superadmin(runner, app):
    result = runner.invoke(
        args=["users", "create-admin", "--email", "root@example.com"],
        input="sandi-yang-panjang\nsandi-yang-panjang\n",
    )
    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User).where(User.email == "root@example.com"))
    assert user.role == Role.SUPERADMIN


def test_seed_demo_twice_changes_nothing(runner, app):
    first = runner.invoke(args=["seed-demo", "--password", "sandi-demo-panjang"])
    assert first.exit_code == 0, first.output
    tokens = dict(db.session.execute(select(User.email, User.session_token)).all())
    second = runner.invoke(args=["seed-demo", "--password", "sandi-demo-panjang"])
    assert second.exit_code == 0
    db.session.expire_all()
    assert dict(db.session.execute(select(User.email, User.session_token)).all()) == tokens
    assert db.session.query(Village).count() == 5
