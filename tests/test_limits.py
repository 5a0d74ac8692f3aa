"""Abuse limits: logins, submissions per phone and per address, orders, API keys; nothing enumerable."""

from __future__ import annotations

import base64

import pytest
from sqlalchemy import func, select

from app.domain import tracking
from app.extensions import db
from app.models import ServiceRequest
from app.tenancy import activate_village
from tests.conftest import csrf_from
from tests.test_residents import _unescape, answers, form_page, hidden_fields

SUBMIT_MESSAGE = "Sudah banyak permohonan dikirim dari nomor HP atau perangkat ini"


@pytest.fixture
def village(app):
    village = activate_village("18.09.10.2004", slug="hanura", head_name="Sutarno")
    db.session.commit()
    return village


def _client(app, address: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def _send(client, **overrides):
    csrf, key = form_page(client)
    checked = client.post(
        "/desa/hanura/layanan/domisili",
        data=answers(csrf, key, **overrides),
        content_type="multipart/form-data",
    )
    assert checked.status_code == 200, checked.get_data(as_text=True)
    fields = hidden_fields(checked.get_data(as_text=True))
    return client.post("/desa/hanura/layanan/domisili", data={**_unescape(fields), "step": "send"})


def _stored() -> int:
    return db.session.scalar(select(func.count(ServiceRequest.id)))


def test_one_phone_number_may_send_only_so_many_requests(app, village, monkeypatch):
    monkeypatch.setitem(app.config, "SUBMIT_PHONE_LIMIT", "2 per hour")
    assert _send(_client(app, "10.1.0.1"), phone="0812-3456-7890").status_code == 303
    assert _send(_client(app, "10.1.0.2"), phone="0812-3456-7890").status_code == 303
    blocked = _send(_client(app, "10.1.0.3"), phone="0812-3456-7890")
    assert blocked.status_code == 429
    assert SUBMIT_MESSAGE in blocked.get_data(as_text=True)
    assert blocked.headers["Retry-After"]
    assert _stored() == 2
    assert _send(_client(app, "10.1.0.4"), phone="0813-1111-2222").status_code == 303


def test_a_phone_number_typed_another_way_counts_as_the_same_number(app, village, monkeypatch):
    monkeypatch.setitem(app.config, "SUBMIT_PHONE_LIMIT", "1 per hour")
    assert _send(_client(app, "10.1.1.1"), phone="0812-3456-7890").status_code == 303
    assert _send(_client(app, "10.1.1.2"), phone="+62 812 3456 7890").status_code == 429


def test_one_address_may_send_only_so_many_requests(app, village, monkeypatch):
    monkeypatch.setitem(app.config, "SUBMIT_ADDRESS_LIMIT", "2 per hour")
    client = _client(app, "10.1.2.1")
    assert _send(client, phone="0812-0000-0001").status_code == 303
    assert _send(client, phone="0812-0000-0002").status_code == 303
    blocked = _send(client, phone="0812-0000-0003")
    assert blocked.status_code == 429
    assert SUBMIT_MESSAGE in blocked.get_data(as_text=True)
    assert _send(_client(app, "10.1.2.2"), phone="0812-0000-0003").status_code == 303


def test_checking_and_correcting_the_form_does_not_use_up_the_limit(app, village, monkeypatch):
    monkeypatch.setitem(app.config, "SUBMIT_PHONE_LIMIT", "1 per hour")
    monkeypatch.setitem(app.config, "SUBMIT_ADDRESS_LIMIT", "1 per hour")
    client = _client(app, "10.1.3.1")
    csrf, key = form_page(client)
    for _ in range(4):
        checked = client.post(
            "/desa/hanura/layanan/domisili", data=answers(csrf, key), content_type="multipart/form-data"
        )
        assert checked.status_code == 200
    assert _send(client).status_code == 303


UPLOAD_MESSAGE = "Terlalu banyak foto dikirim dari perangkat ini atau untuk formulir ini"


def _files(app) -> int:
    from pathlib import Path

    return sum(1 for p in Path(app.config["UPLOAD_DIR"]).rglob("*") if p.is_file())


def test_photos_sent_with_check_steps_are_limited_per_address(app, village, monkeypatch):
    # Issue 15, item 6: the check step stores every photo at once and was exempt from every limit
    # (20 posts: +47 MB in 7.8 s, nothing submitted). Photos now count per address on every step.
    monkeypatch.setitem(app.config, "UPLOAD_ADDRESS_LIMIT", "4 per hour")
    client = _client(app, "10.1.8.1")
    before = _files(app)
    statuses = []
    for _ in range(4):
        csrf, key = form_page(client)  # a new form each time: the per-form limit is not what stops it
        statuses.append(
            client.post(
                "/desa/hanura/layanan/domisili",
                data=answers(csrf, key),
                content_type="multipart/form-data",
            )
        )
    assert [r.status_code for r in statuses] == [200, 200, 429, 429]
    blocked = statuses[-1]
    assert UPLOAD_MESSAGE in blocked.get_data(as_text=True) and blocked.headers["Retry-After"]
    assert _files(app) == before + 4  # two photos a form, twice; nothing of the refused posts
    # Another address is not held up, and a step without new photos still goes through here.
    assert _send(_client(app, "10.1.8.2")).status_code == 303
    csrf, key = form_page(client)
    no_photos = client.post(
        "/desa/hanura/layanan/domisili",
        data=answers(csrf, key, doc_ktp=None, doc_kk=None),
        content_type="multipart/form-data",
    )
    assert no_photos.status_code == 422  # the form again, asking for the photos: not a 429


def test_photos_sent_for_one_form_are_limited(app, village, monkeypatch):
    monkeypatch.setitem(app.config, "UPLOAD_FORM_LIMIT", "3 per hour")
    client = _client(app, "10.1.9.1")
    csrf, key = form_page(client)
    post = lambda: client.post(  # noqa: E731
        "/desa/hanura/layanan/domisili", data=answers(csrf, key), content_type="multipart/form-data"
    )
    assert post().status_code == 200
    refused = post()
    assert refused.status_code == 429 and UPLOAD_MESSAGE in refused.get_data(as_text=True)
    assert _send(client).status_code == 303  # a fresh form from the same phone is fine


def test_the_phone_never_reaches_the_limiter_storage_in_the_clear(app, village):
    from app.limits import phone_key

    with app.test_request_context("/", method="POST", data={"phone": "0812-3456-7890"}):
        key = phone_key("phone")()
    assert "3456" not in key and "812" not in key
    assert key.startswith("phone:")


def test_logging_in_is_limited_with_a_clear_message(app, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_RATE_LIMIT", "3 per minute")
    client = _client(app, "10.1.4.1")
    token = csrf_from(client.get("/akun/masuk").get_data(as_text=True))
    statuses = [
        client.post(
            "/akun/masuk", data={"email": "x@balai.test", "password": "salah-salah", "csrf_token": token}
        )
        for _ in range(4)
    ]
    assert [r.status_code for r in statuses] == [422, 422, 422, 429]
    assert "Terlalu sering" in statuses[-1].get_data(as_text=True)


def test_guessing_tracking_codes_is_cut_off(app, village, monkeypatch):
    monkeypatch.setitem(app.config, "TRACK_MISS_LIMIT", "5 per minute")
    client = _client(app, "10.1.5.1")
    statuses = [client.get(f"/lacak/{tracking.new_tracking_code()}").status_code for _ in range(7)]
    assert statuses[:5] == [404] * 5
    assert statuses[5:] == [429, 429]


def test_tracking_codes_carry_at_least_40_random_bits():
    import math

    assert tracking.BITS >= 40
    assert math.log2(len(tracking.ALPHABET)) * tracking.LENGTH >= 40
    codes = {tracking.new_tracking_code() for _ in range(2000)}
    assert len(codes) == 2000


def test_private_links_carry_at_least_128_bits_and_are_not_sequential(app, village):
    from app import workflow
    from app.models import Service

    service = db.session.scalar(select(Service).where(Service.code == "domisili"))
    tokens, codes = [], []
    for n in range(3):
        result = workflow.submit_request(
            village, service, nik="1809104508920001", name="Uji", phone=None, idempotency_key=f"k{n}"
        )
        tokens.append(result.fix_token)
        codes.append(result.request.tracking_code)
    for token in tokens:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        assert len(raw) * 8 >= 128
    assert len(set(tokens)) == 3 and len(set(codes)) == 3
    # Neighbours share no prefix the way counters or timestamps would.
    assert len({t[:6] for t in tokens}) == 3
    assert len({c[:4] for c in codes}) == 3


def test_letter_verification_tokens_are_random_not_sequential(app, demo, monkeypatch):
    from app import letters, workflow
    from app.models import Role, Service, User, Village

    issued: list[str] = []
    real = letters.new_secret_token

    def recording() -> str:
        token = real()
        issued.append(token)
        return token

    monkeypatch.setattr(letters, "new_secret_token", recording)
    village = db.session.scalar(select(Village).where(Village.slug == "hanura"))
    head = db.session.scalar(select(User).where(User.village_id == village.id, User.role == Role.HEAD))
    service = db.session.scalar(
        select(Service).where(Service.village_id == village.id, Service.code == "domisili")
    )
    for n in range(2):
        req = workflow.submit_request(
            village,
            service,
            nik="1809104508920001",
            name="Uji Surat",
            phone=None,
            idempotency_key=f"letter-{n}",
            data={"tempat_lahir": "Pesawaran", "pekerjaan": "Petani", "alamat": "Dusun 1"},
            purpose="Uji",
        ).request
        for action in ("verify", "start"):
            workflow.apply_action(req, action, actor=head)
        letters.issue(
            req,
            head,
            expected_version=req.version,
            note=None,
            base_url="http://x",
            upload_dir=app.config["UPLOAD_DIR"],
        )
    assert len(issued) == 2 and issued[0] != issued[1]
    for token in issued:
        assert len(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))) * 8 >= 128
    assert issued[0][:6] != issued[1][:6]


def test_orders_from_one_phone_are_limited(app, demo, monkeypatch):
    from app.models.bumdes import Order, Product

    monkeypatch.setitem(app.config, "ORDER_PHONE_LIMIT", "1 per hour")
    product = db.session.scalar(select(Product).where(Product.published.is_(True)).order_by(Product.id))
    url = f"/produk/{product.id}-{product.slug}"

    def order(address: str, phone: str):
        client = _client(app, address)
        page = client.get(url).get_data(as_text=True)
        form = page[page.index('action="' + url + "/pesan") :]
        data = {
            "csrf_token": csrf_from(form),
            "quantity": "1",
            "buyer_name": "Pembeli Uji",
            "buyer_phone": phone,
            "fulfilment": "pickup",
            "address": "",
            "note": "",
        }
        key = __import__("re").search(r'name="key"[^>]*value="([^"]+)"', form)
        if key:
            data["key"] = key.group(1)
        return client.post(url + "/pesan", data=data)

    before = db.session.scalar(select(func.count(Order.id)))
    first = order("10.1.6.1", "0812-7777-0001")
    assert first.status_code == 303, first.get_data(as_text=True)
    second = order("10.1.6.2", "0812 7777 0001")
    assert second.status_code == 429
    assert "Terlalu banyak pesanan" in second.get_data(as_text=True)
    assert order("10.1.6.3", "0812-7777-0002").status_code == 303
    assert db.session.scalar(select(func.count(Order.id))) == before + 2


def test_an_api_key_is_limited_however_many_addresses_it_comes_from(app, village, monkeypatch):
    from app.stats.keys import issue_key

    monkeypatch.setitem(app.config, "API_KEY_LIMIT", "2 per hour")
    key = issue_key(village, "uji")
    db.session.commit()
    url = "/api/open311/v2/requests.json"
    data = {
        "jurisdiction_id": village.region_code,
        "api_key": key,
        "service_code": "pengaduan",
        "description": "Lampu jalan mati",
        "address_string": "Dusun 1",
        "attribute[kategori]": "Air bersih dan saluran",
    }
    statuses = [_client(app, f"10.1.7.{n}").post(url, data=data).status_code for n in range(3)]
    assert statuses[:2] == [201, 201] or statuses[:2] == [200, 200]
    assert statuses[2] == 429
    other = _client(app, "10.1.7.9").post(url, data={**data, "api_key": "x"})
    assert other.status_code == 403


def test_a_limited_page_is_a_friendly_page_not_an_error(app, village, monkeypatch):
    monkeypatch.setitem(app.config, "TRACK_MISS_LIMIT", "1 per minute")
    client = _client(app, "10.1.8.1")
    client.get("/lacak/2345-6789-AB")
    response = client.get("/lacak/2345-6789-AC")
    html = response.get_data(as_text=True)
    assert response.status_code == 429
    assert "Traceback" not in html and "<html" in html.lower()


def test_resending_a_stored_form_at_the_limit_returns_its_receipt_and_is_never_counted(
    app, village, monkeypatch
):
    # Issue 14, item 5: the double tap / "tekan lagi" case the idempotency key exists for.
    monkeypatch.setitem(app.config, "SUBMIT_PHONE_LIMIT", "2 per hour")
    monkeypatch.setitem(app.config, "SUBMIT_ADDRESS_LIMIT", "2 per hour")
    monkeypatch.setitem(app.config, "UPLOAD_FORM_LIMIT", "2 per hour")
    client = _client(app, "10.1.9.1")
    assert _send(client, phone="0812-3456-7890").status_code == 303
    csrf, key = form_page(client)
    checked = client.post(
        "/desa/hanura/layanan/domisili", data=answers(csrf, key), content_type="multipart/form-data"
    )
    fields = {**_unescape(hidden_fields(checked.get_data(as_text=True))), "step": "send"}
    first = client.post("/desa/hanura/layanan/domisili", data=fields)
    assert first.status_code == 303
    for _ in range(3):  # the limit is used up now: resends still get the same receipt
        again = client.post("/desa/hanura/layanan/domisili", data=fields)
        assert again.status_code == 303 and again.headers["Location"] == first.headers["Location"]
    # A resend with its photos again (a draft kept offline posts them) is neither refused nor counted.
    again = client.post(
        "/desa/hanura/layanan/domisili",
        data=answers(csrf, key, step="send"),
        content_type="multipart/form-data",
    )
    assert again.status_code == 303 and again.headers["Location"] == first.headers["Location"]
    assert _stored() == 2
    # What was counted is the two stored requests only: a third one is refused.
    assert _send(client, phone="0812-3456-7890").status_code == 429


def test_after_replays_a_new_request_still_has_its_place_under_the_limit(app, village, monkeypatch):
    monkeypatch.setitem(app.config, "SUBMIT_PHONE_LIMIT", "2 per hour")
    client = _client(app, "10.1.9.2")
    csrf, key = form_page(client)
    checked = client.post(
        "/desa/hanura/layanan/domisili", data=answers(csrf, key), content_type="multipart/form-data"
    )
    fields = {**_unescape(hidden_fields(checked.get_data(as_text=True))), "step": "send"}
    for _ in range(4):
        assert client.post("/desa/hanura/layanan/domisili", data=fields).status_code == 303
    assert _send(client).status_code == 303
    assert _stored() == 2


def test_a_blueprints_own_limits_are_still_counted_before_each_request(app):
    """The check before each request runs only where a limit is set (app/limits.py): a blueprint's."""
    from flask import Blueprint

    from app import create_app
    from app.extensions import limiter
    from tests.conftest import Config

    app = create_app(Config)  # a blueprint joins before the app's first request

    probe = Blueprint("limits_probe", __name__)

    @probe.route("/limits-probe")
    def page():
        return "ok"

    limiter.limit("2 per minute")(probe)
    app.register_blueprint(probe)
    client = _client(app, "203.0.113.77")
    assert [client.get("/limits-probe").status_code for _ in range(3)] == [200, 200, 429]
    assert client.get("/offline").status_code == 200  # a blueprint without limits is not counted
