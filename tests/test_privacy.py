"""Personal data: never in URLs, logs, public or error pages; a superadmin exports or erases it by NIK."""

from __future__ import annotations

import json
import logging
import re
import threading
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select
from werkzeug.serving import make_server

from app.domain.storage import PhotoStore
from app.extensions import db
from app.models import Attachment, ServiceRequest, StatusChange
from app.models.stats import RequestCount
from tests.conftest import DEMO_PASSWORD, csrf_from
from tests.test_residents import NIK, PHONE, PHONE_TYPED, hidden_fields, jpeg, submit

NAME = "Siti Wulandari"
PHONE_DIGITS = PHONE.lstrip("+")


def _secrets_in(text: str) -> list[str]:
    found = [
        label for label, value in (("NIK", NIK), ("phone", PHONE_DIGITS), ("name", NAME)) if value in text
    ]
    if "3456-7890" in text or "34567890" in text:
        found.append("phone (typed)")
    return found


@pytest.fixture
def village(app):
    from app.tenancy import activate_village

    village = activate_village("18.09.10.2004", slug="hanura", head_name="Sutarno")
    db.session.commit()
    return village


@pytest.fixture
def superadmin(app):
    from app.models import Role, User

    user = User(email="root@balai.test", name="Super", role=Role.SUPERADMIN)
    user.set_password(DEMO_PASSWORD)
    db.session.add(user)
    db.session.commit()
    return user


# --- export and erase ----------------------------------------------------------------------------


def _submitted(client, **overrides) -> ServiceRequest:
    assert submit(client, **overrides).status_code == 303
    return db.session.scalars(select(ServiceRequest).order_by(ServiceRequest.id.desc())).first()


def test_the_export_holds_every_request_attachment_and_status_change_of_the_nik(
    app, client, village, superadmin, auth
):
    from app import privacy

    _submitted(client)
    _submitted(client, phone="0813-0000-1111", d_alamat="Dusun 2")
    _submitted(client, nik="1809104508920002", name="Orang Lain")
    found = privacy.export_resident(NIK)
    assert len(found["requests"]) == 2
    assert {r["phone"] for r in found["requests"]} == {PHONE, "+6281300001111"}
    assert all(len(r["attachments"]) == 2 and r["history"][0]["to"] == "diajukan" for r in found["requests"])
    json.dumps(found)  # JSON-ready as it is


def test_the_export_lists_bumdes_orders_placed_with_the_same_phone(app, demo, client):
    from app import privacy, workflow
    from app.bumdes import commerce
    from app.models import Service, Village
    from app.models.bumdes import Product

    village = db.session.scalar(select(Village).where(Village.slug == "hanura"))
    service = db.session.scalar(
        select(Service).where(Service.village_id == village.id, Service.code == "domisili")
    )
    workflow.submit_request(village, service, nik=NIK, name=NAME, phone=PHONE, idempotency_key="p1")
    product = db.session.scalar(select(Product).where(Product.published.is_(True)).order_by(Product.id))
    commerce.place_order(
        product,
        quantity=1,
        buyer_name=NAME,
        buyer_phone=PHONE,
        fulfilment="pickup",
        address="",
        note="",
        idempotency_key="o1",
    )
    db.session.commit()
    found = privacy.export_resident(NIK)
    assert [o["buyer_phone"] for o in found["orders"]] == [PHONE]
    erased = privacy.erase_resident(NIK, app.config["UPLOAD_DIR"])
    db.session.commit()
    assert erased.orders == 1


def test_the_superadmin_page_exports_by_a_nik_typed_into_a_post_form(app, client, village, superadmin, auth):
    _submitted(client)
    auth.login("root@balai.test")
    page = client.get("/admin/data-pribadi")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'method="post"' in html and 'name="nik"' in html
    token = csrf_from(html)
    found = client.post("/admin/data-pribadi", data={"nik": NIK, "csrf_token": token})
    assert found.status_code == 200
    assert "1 permohonan" in found.get_data(as_text=True)
    export = client.post("/admin/data-pribadi/ekspor", data={"nik": NIK, "csrf_token": token})
    assert export.status_code == 200 and export.mimetype == "application/json"
    assert "attachment" in export.headers["Content-Disposition"]
    assert export.headers["Cache-Control"] == "no-store"
    assert export.get_json()["requests"][0]["nik"] == NIK
    unknown = client.post("/admin/data-pribadi", data={"nik": "1809104508929999", "csrf_token": token})
    assert unknown.status_code == 422 and "Tidak ada data" in unknown.get_data(as_text=True)


def test_erasing_removes_photos_and_identity_but_keeps_the_counts(app, client, village, superadmin, auth):
    req = _submitted(client)
    code, request_id = req.tracking_code, req.id
    stored = [a.stored_name for a in req.attachments]
    store = PhotoStore(app.config["UPLOAD_DIR"])
    assert all(store.exists(name) for name in stored)
    private_url = next(
        u
        for u in re.findall(r'href="([^"]+)"', client.get(f"/tanda-terima/{code}").get_data(as_text=True))
        if "/permohonan/" in u
    )
    counts_before = db.session.scalar(select(func.count()).select_from(RequestCount))

    auth.login("root@balai.test")
    token = csrf_from(client.get("/admin/data-pribadi").get_data(as_text=True))
    refused = client.post("/admin/data-pribadi/hapus", data={"nik": NIK, "csrf_token": token})
    assert refused.status_code == 422  # not without ticking the confirmation
    assert store.exists(stored[0])
    done = client.post("/admin/data-pribadi/hapus", data={"nik": NIK, "confirm": "y", "csrf_token": token})
    assert done.status_code == 200, done.get_data(as_text=True)
    assert "1 permohonan dikosongkan, 2 foto dihapus" in done.get_data(as_text=True)

    db.session.expire_all()
    row = db.session.get(ServiceRequest, request_id)
    assert row is not None and row.status == "diajukan" and row.tracking_code == code
    assert (row.nik, row.phone, row.email, row.data) == ("", None, None, {})
    assert NAME not in row.name
    assert not any(store.exists(name) for name in stored)
    assert db.session.scalar(select(func.count(Attachment.id))) == 0
    assert (
        db.session.scalar(select(func.count(StatusChange.id)).where(StatusChange.request_id == request_id))
        == 1
    )
    assert db.session.scalar(select(func.count()).select_from(RequestCount)) == counts_before
    auth.logout()
    assert client.get(private_url.replace("http://balai.test", "")).status_code == 404
    assert NAME not in client.get(f"/lacak/{code}").get_data(as_text=True)


# --- never in URLs, logs, public pages or error pages --------------------------------------------


class LiveServer:
    """The app behind werkzeug's real server, so its access log lines are written as in development."""

    def __init__(self, app):
        self.server = make_server("127.0.0.1", 0, app, threaded=False)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def _form_post(session, base, path, data, files=None):
    return session.post(base + path, data=data, files=files, allow_redirects=True, timeout=30)


def test_nik_phone_and_name_never_reach_urls_or_logs(app, village, caplog):
    from app.models import Role, User

    operator = User(email="op@balai.test", name="Operator", role=Role.OPERATOR)
    operator.village_id = village.id
    operator.set_password(DEMO_PASSWORD)
    db.session.add(operator)
    db.session.commit()
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="werkzeug")
    visited: list[str] = []

    def hook(response, *args, **kwargs):
        visited.append(response.url)
        visited.extend(r.headers.get("Location", "") for r in response.history)

    with LiveServer(app) as live:
        resident = requests.Session()
        resident.hooks["response"].append(hook)
        html = resident.get(live.url + "/desa/hanura/layanan/domisili", timeout=30).text
        key = re.search(r'name="idempotency_key"[^>]*value="([^"]+)"', html).group(1)
        data = {
            "csrf_token": csrf_from(html),
            "idempotency_key": key,
            "nik": NIK,
            "name": NAME,
            "phone": PHONE_TYPED,
            "email": "",
            "purpose": "Melamar pekerjaan",
            "d_tempat_lahir": "Pesawaran",
            "d_pekerjaan": "Wiraswasta",
            "d_alamat": "Dusun 1",
        }
        files = {"doc_ktp": ("ktp.jpg", jpeg(), "image/jpeg"), "doc_kk": ("kk.jpg", jpeg(), "image/jpeg")}
        checked = _form_post(resident, live.url, "/desa/hanura/layanan/domisili", data, files)
        assert checked.status_code == 200
        import html as html_lib

        fields = {k: html_lib.unescape(v) for k, v in hidden_fields(checked.text).items()}
        receipt = _form_post(resident, live.url, "/desa/hanura/layanan/domisili", {**fields, "step": "send"})
        assert receipt.status_code == 200 and "/tanda-terima/" in receipt.url
        code = receipt.url.rsplit("/", 1)[-1]
        track = resident.get(f"{live.url}/lacak/{code}", timeout=30)
        resident.get(live.url + "/saya", timeout=30)
        resident.get(f"{live.url}/saya/status?kode={code}", timeout=30)
        public_pages = [track.text, resident.get(live.url + "/desa/hanura/antrian", timeout=30).text]

        official = requests.Session()
        official.hooks["response"].append(hook)
        login = official.get(live.url + "/akun/masuk", timeout=30).text
        _form_post(
            official,
            live.url,
            "/akun/masuk",
            {"email": "op@balai.test", "password": DEMO_PASSWORD, "csrf_token": csrf_from(login)},
        )
        request_id = db.session.scalar(select(ServiceRequest.id).where(ServiceRequest.tracking_code == code))
        detail = official.get(f"{live.url}/kantor/permohonan/{request_id}", timeout=30)
        assert detail.status_code == 200
        assert NIK in detail.text or "NIK" in detail.text  # the official does see it, on a private page
        version = db.session.get(ServiceRequest, request_id).version
        acted = _form_post(
            official,
            live.url,
            f"/kantor/permohonan/{request_id}/aksi",
            {"action": "verify", "version": str(version), "note": "", "csrf_token": csrf_from(detail.text)},
        )
        assert acted.status_code == 200
        official.get(live.url + "/kantor/", timeout=30)
        for attachment in db.session.scalars(select(Attachment).where(Attachment.request_id == request_id)):
            official.get(f"{live.url}/kantor/lampiran/{attachment.id}", timeout=30)
        # Error pages on the way: a wrong code, a page that is not there, a resident's typo.
        error_pages = [
            resident.get(f"{live.url}/lacak/{NIK}", timeout=30),
            resident.get(f"{live.url}/tidak-ada/{NIK}", timeout=30),
            resident.get(f"{live.url}/lacak?kode={NIK}", timeout=30),
        ]
        visited_before_errors = [u for u in visited if NIK not in u]

    werkzeug_lines = [r for r in caplog.records if r.name == "werkzeug"]
    assert len(werkzeug_lines) >= 10, "the access log was not captured"
    leaks = []
    for record in caplog.records:
        if record.name.startswith("urllib3"):
            continue  # the test's own HTTP client
        for what in _secrets_in(record.getMessage() + (record.exc_text or "")):
            leaks.append(f"{what} in log {record.name}: {record.getMessage()[:120]}")
    for url in visited_before_errors:
        for what in _secrets_in(url):
            leaks.append(f"{what} in URL {url}")
    for page in public_pages:
        for what in _secrets_in(page):
            if what != "name":  # the public page shows the masked name, checked below
                leaks.append(f"{what} on a public page")
    assert "Siti W" not in track.text or NAME not in track.text
    for response in error_pages:
        assert response.status_code in (404, 422)
        assert PHONE_DIGITS not in response.text and NAME not in response.text
    assert not leaks, "\n".join(leaks)


def test_a_database_error_logs_no_form_values(app, village, client, caplog, monkeypatch):
    """A server error logs the route and the error, never the NIK, phone or name in its SQL parameters."""
    from sqlalchemy import insert

    from app import workflow

    def broken(village, service, **kwargs):
        # A constraint failure whose SQL parameters carry the resident's data.
        db.session.execute(
            insert(ServiceRequest).values(nik=kwargs["nik"], name=kwargs["name"], phone=kwargs["phone"])
        )

    monkeypatch.setattr(workflow, "submit_request", broken)
    caplog.set_level(logging.DEBUG)
    response = submit(client)
    assert response.status_code == 500
    html = response.get_data(as_text=True)
    assert "Traceback" not in html and "IntegrityError" not in html
    assert not _secrets_in(html)
    logged = [r for r in caplog.records if r.exc_text and "unhandled error" in r.getMessage()]
    assert logged and "IntegrityError" in logged[0].exc_text, "the error itself must still be logged"
    for record in caplog.records:
        text = record.getMessage() + (record.exc_text or "")
        if record.exc_info:
            import traceback

            text += "".join(traceback.format_exception(*record.exc_info))
        assert not _secrets_in(text), text[-600:]


def test_stored_photos_are_named_at_random_not_after_the_resident(app, client, village):
    submit(client)
    names = db.session.scalars(select(Attachment.stored_name)).all()
    assert len(names) == 2
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{24}\.(jpg|webp|png)", n) for n in names)
    assert not any(NIK in n or PHONE_DIGITS in n for n in names)
    on_disk = {p.name for p in Path(app.config["UPLOAD_DIR"]).rglob("*") if p.is_file()}
    assert set(names) <= on_disk
