"""Fuzzing through HTTP: arbitrary text in every form field and every code never makes a server error.

Also the parsers on their own (NIK, phone, price, tracking code, letter placeholders), and
schemathesis against /api/openapi.json, in-process against the WSGI app.
"""

from __future__ import annotations

import itertools
from urllib.parse import quote

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from app.domain import nik, phone, templating, text, tracking
from app.domain.errors import DomainError
from app.extensions import db
from tests.conftest import DEMO_PASSWORD, _empty_tables, csrf_from

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Any text a phone keyboard, a paste or an attacker may produce: controls, NUL, emoji, RTL marks.
ANY_TEXT = st.text(max_size=300)
ADDRESSES = (f"10.77.{n // 250}.{n % 250 + 1}" for n in itertools.count())


@pytest.fixture(scope="module")
def seeded(_app):
    """The demo, once for this module (every test here only reads it or adds to it)."""
    from app.cli.demo import seed_demo
    from app.extensions import limiter

    with _app.app_context():
        seed_demo(DEMO_PASSWORD)
        yield _app
        db.session.rollback()
        db.session.remove()
        _empty_tables()
        limiter.reset()


def _client(app):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = next(ADDRESSES)
    return client


def _no_server_error(response, what: str) -> None:
    assert response.status_code < 500, (
        f"{what}: {response.status_code}\n{response.get_data(as_text=True)[:400]}"
    )


# --- the API, by its own description ---------------------------------------------------------


def _api_operations(app) -> list:
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    return [result.ok() for result in schema.get_all_operations()]


def test_the_api_answers_anything_without_a_server_error(seeded):
    """Schemathesis generates requests for every operation of /api/openapi.json, in-process."""
    from schemathesis.checks import not_a_server_error

    if "api.openapi" not in seeded.view_functions:
        pytest.skip("/api/openapi.json does not exist yet")
    operations = _api_operations(seeded)
    assert operations, "the OpenAPI document lists no operations"
    for operation in operations:

        @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(case=operation.as_strategy())
        def check(case):
            case.call_and_validate(checks=[not_a_server_error])

        check()


def test_a_nul_byte_in_a_query_or_form_is_a_bad_request(seeded):
    client = _client(seeded)
    assert client.get("/api/open311/v2/services.json?jurisdiction_id=18%00").status_code == 400
    assert client.get("/lacak?kode=AB%00CD").status_code == 400
    token = csrf_from(client.get("/akun/masuk").get_data(as_text=True))
    refused = client.post("/akun/masuk", data={"email": "a\x00@b.c", "password": "x", "csrf_token": token})
    assert refused.status_code == 400 and "Traceback" not in refused.get_data(as_text=True)


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/products?page=462005461920677174358300426240",
        "/api/v1/villages/hanura/apbdes?year=462005461920677174358300426240",
        "/desa/hanura/pengumuman?halaman=462005461920677174358300426240",
        "/api/open311/v2/requests.json?jurisdiction_id=18.09.10.2004&page=462005461920677174358300426240",
    ],
)
def test_an_absurd_number_is_never_a_server_error(seeded, url):
    response = _client(seeded).get(url)
    assert response.status_code in (200, 400, 404), response.status_code


def test_digits_that_are_not_decimal_are_not_numbers(seeded):
    """'¹' and '²' pass str.isdigit() but int() refuses them: they must be a form error, never a 500."""
    from app.models.bumdes import Product

    product = db.session.scalar(select(Product).where(Product.published.is_(True)).order_by(Product.id))
    url = f"/produk/{product.id}-{product.slug}"
    client = _client(seeded)
    token = csrf_from(client.get(url).get_data(as_text=True))
    data = {"quantity": "²", "buyer_name": "A", "buyer_phone": "0812-3456-7890", "fulfilment": "pickup"}
    assert client.post(url + "/pesan", data={**data, "csrf_token": token}).status_code == 422
    assert client.get(f"/produk/{product.id}-{product.slug}?jumlah=³").status_code == 200
    assert (
        client.get(
            "/api/open311/v2/requests.json?jurisdiction_id=18.09.10.2004&service_request_id=¹"
        ).status_code
        < 500
    )


# --- the resident's forms ------------------------------------------------------------------------

RESIDENT_FIELDS = (
    "nik",
    "name",
    "phone",
    "email",
    "purpose",
    "idempotency_key",
    "d_tempat_lahir",
    "d_pekerjaan",
    "d_alamat",
    "kept_ktp",
    "kept_kk",
)


@FUZZ
@given(
    values=st.fixed_dictionaries({f: ANY_TEXT for f in RESIDENT_FIELDS}),
    step=st.sampled_from(["check", "send", "edit", "", "\x00"]),
)
def test_the_request_form_takes_any_text_without_a_server_error(seeded, values, step):
    client = _client(seeded)
    token = csrf_from(client.get("/desa/hanura/layanan/domisili").get_data(as_text=True))
    response = client.post(
        "/desa/hanura/layanan/domisili", data={**values, "step": step, "csrf_token": token}
    )
    _no_server_error(response, "request form")
    assert response.status_code in (200, 303, 400, 422, 429)


@FUZZ
@given(values=st.fixed_dictionaries({f: ANY_TEXT for f in ("nik", "name", "phone", "purpose", "kategori")}))
def test_the_complaint_form_takes_any_text_without_a_server_error(seeded, values):
    client = _client(seeded)
    token = csrf_from(client.get("/desa/hanura/layanan/pengaduan").get_data(as_text=True))
    data = {
        **values,
        "d_kategori": values["kategori"],
        "step": "send",
        "csrf_token": token,
        "idempotency_key": "x",
    }
    _no_server_error(client.post("/desa/hanura/layanan/pengaduan", data=data), "complaint form")


@FUZZ
@given(code=ANY_TEXT)
def test_tracking_any_code_never_makes_a_server_error(seeded, code):
    client = _client(seeded)
    by_path = client.get("/lacak/" + quote(code, safe=""))
    _no_server_error(by_path, f"/lacak/{code!r}")
    by_form = client.get("/lacak", query_string={"kode": code})
    _no_server_error(by_form, f"/lacak?kode={code!r}")
    for response in (by_path, by_form):
        assert response.status_code in (200, 301, 302, 303, 308, 400, 404, 422, 429)


@FUZZ
@given(codes=st.lists(ANY_TEXT, max_size=30))
def test_the_my_requests_poll_takes_any_codes(seeded, codes):
    response = _client(seeded).get("/saya/status", query_string=[("kode", c) for c in codes])
    _no_server_error(response, "/saya/status")


@FUZZ
@given(token=ANY_TEXT, values=st.fixed_dictionaries({f: ANY_TEXT for f in ("name", "purpose", "version")}))
def test_private_links_with_any_token_never_make_a_server_error(seeded, token, values):
    client = _client(seeded)
    path = "/permohonan/" + quote(token, safe="")
    _no_server_error(client.get(path), "private link GET")
    _no_server_error(client.get(path + "/surat.pdf"), "letter link")
    _no_server_error(client.get("/verifikasi/" + quote(token, safe="")), "verification link")


@FUZZ
@given(
    values=st.fixed_dictionaries(
        {
            f: ANY_TEXT
            for f in ("quantity", "buyer_name", "buyer_phone", "fulfilment", "address", "note", "key")
        }
    )
)
def test_the_order_form_takes_any_text_without_a_server_error(seeded, values):
    from app.models.bumdes import Product

    product = db.session.scalar(select(Product).where(Product.published.is_(True)).order_by(Product.id))
    url = f"/produk/{product.id}-{product.slug}"
    client = _client(seeded)
    token = csrf_from(client.get(url).get_data(as_text=True))
    response = client.post(url + "/pesan", data={**values, "csrf_token": token})
    _no_server_error(response, "order form")


@FUZZ
@given(email=ANY_TEXT, password=ANY_TEXT, next_=ANY_TEXT)
def test_the_login_form_takes_any_text_without_a_server_error(seeded, email, password, next_):
    client = _client(seeded)
    token = csrf_from(client.get("/akun/masuk").get_data(as_text=True))
    response = client.post(
        "/akun/masuk",
        query_string={"next": next_},
        data={"email": email, "password": password, "csrf_token": token},
    )
    _no_server_error(response, "login form")
    assert response.status_code in (200, 302, 303, 400, 422, 429)


# --- the parsers on their own ---------------------------------------------------------------


@FUZZ
@given(raw=ANY_TEXT)
def test_the_nik_parser_answers_or_explains(raw):
    try:
        info = nik.parse_nik(raw)
    except DomainError as err:
        assert err.message
    else:
        assert len(info.nik) == 16 and info.nik.isdigit()
        assert "*" in nik.mask_nik(info.nik)


@FUZZ
@given(raw=ANY_TEXT)
def test_the_phone_parser_answers_or_explains(raw):
    try:
        e164 = phone.normalize_phone(raw)
    except DomainError as err:
        assert err.message
    else:
        assert e164.startswith("+628") and e164[1:].isdigit()
        assert phone.normalize_phone(e164) == e164
        assert e164[-4:] in phone.mask_phone(e164) and e164 not in phone.mask_phone(e164)


@FUZZ
@given(raw=st.one_of(ANY_TEXT, st.integers(min_value=-(10**20), max_value=10**20).map(str)))
def test_the_price_parser_answers_or_explains(raw):
    try:
        amount = text.parse_rupiah(raw)
    except DomainError as err:
        assert err.message
    else:
        assert isinstance(amount, int) and amount > 0
        assert text.parse_rupiah(text.format_rupiah(amount)) == amount


@FUZZ
@given(raw=ANY_TEXT)
def test_the_tracking_code_parser_answers_or_explains(raw):
    try:
        code = tracking.normalize_tracking_code(raw)
    except DomainError as err:
        assert err.message
    else:
        assert tracking.normalize_tracking_code(code) == code
        assert tracking.is_tracking_code(code)


@FUZZ
@given(template=ANY_TEXT, values=st.dictionaries(st.sampled_from(["nama", "nik", "alamat", "x"]), ANY_TEXT))
def test_letter_templates_are_checked_or_rendered_never_crash(template, values):
    allowed = {"nama", "nik", "alamat"}
    try:
        templating.validate_template(template, allowed)
    except DomainError as err:
        assert err.message
        return
    rendered = templating.render_text(template, {k: values.get(k, "") for k in allowed})
    assert isinstance(rendered, str)
