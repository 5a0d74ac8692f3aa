"""Residents: catalogue, request form with photos, receipt, tracking, private fix link, posters, queue."""

from __future__ import annotations

import base64
import io
import re
import zlib

import pytest
from PIL import Image, ImageDraw
from sqlalchemy import event, func, select

from app import workflow
from app.domain import states, templating
from app.domain.storage import PhotoStore
from app.domain.tracking import ALPHABET, is_tracking_code
from app.extensions import db
from app.models import Attachment, Service, ServiceRequest, StatusChange, Village
from app.residents.catalog import COMMON_PLACEHOLDERS, DEFAULT_SERVICES, placeholders_for
from app.tenancy import activate_village
from tests.conftest import csrf_from

NIK = "1809104508920001"  # Lampung, Pesawaran, Teluk Pandan; a woman born 5 August 1992
PHONE_TYPED = "0812-3456-7890"
PHONE = "+6281234567890"
GPS_IFD = 0x8825
CODE_RE = re.compile(r"[2-9A-Z]{4}-[2-9A-Z]{4}-[2-9A-Z]{2}")


# --- helpers -----------------------------------------------------------------------------------


@pytest.fixture
def village(app):
    village = activate_village("18.09.10.2004", slug="hanura", head_name="Sutarno")
    db.session.commit()
    return village


def jpeg(size=(320, 240), gps=False) -> bytes:
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, size[0] // 2, size[1]), fill="red")
    draw.ellipse((size[0] // 4, size[1] // 4, size[0] // 2, size[1] // 2), fill="blue")
    buffer = io.BytesIO()
    kwargs = {}
    if gps:
        exif = Image.Exif()
        exif[0x010F] = "Samsung"
        exif.get_ifd(GPS_IFD).update({1: "S", 2: (5.0, 31.0, 12.5), 3: "E", 4: (105.0, 12.0, 3.25)})
        kwargs["exif"] = exif
    image.save(buffer, "JPEG", quality=90, **kwargs)
    return buffer.getvalue()


def png(size=(64, 48)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, "green").save(buffer, "PNG")
    return buffer.getvalue()


def form_page(client, slug="hanura", code="domisili"):
    response = client.get(f"/desa/{slug}/layanan/{code}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    key = re.search(r'name="idempotency_key"[^>]*value="([^"]+)"', html).group(1)
    return csrf_from(html), key


def answers(csrf, key, **overrides):
    data = {
        "csrf_token": csrf,
        "idempotency_key": key,
        "nik": NIK,
        "name": "Siti Wulandari",
        "phone": PHONE_TYPED,
        "email": "",
        "purpose": "Melamar pekerjaan",
        "d_tempat_lahir": "Pesawaran",
        "d_pekerjaan": "Wiraswasta",
        "d_alamat": "Dusun 1, RT 002/RW 001",
        "doc_ktp": (io.BytesIO(jpeg()), "ktp.jpg", "image/jpeg"),
        "doc_kk": (io.BytesIO(jpeg()), "kk.jpg", "image/jpeg"),
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def hidden_fields(html: str) -> dict[str, str]:
    """The hidden inputs of the check page's form, as the browser would send them back."""
    form = html[html.index('<form method="post"') :]
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))


def submit(client, slug="hanura", code="domisili", **overrides):
    """Fill in, check and send; return the response of the send step."""
    csrf, key = form_page(client, slug, code)
    checked = client.post(
        f"/desa/{slug}/layanan/{code}",
        data=answers(csrf, key, **overrides),
        content_type="multipart/form-data",
    )
    assert checked.status_code == 200, checked.get_data(as_text=True)
    fields = hidden_fields(checked.get_data(as_text=True))
    return client.post(f"/desa/{slug}/layanan/{code}", data={**_unescape(fields), "step": "send"})


def _unescape(fields: dict[str, str]) -> dict[str, str]:
    import html

    return {k: html.unescape(v) for k, v in fields.items()}


def only_request() -> ServiceRequest:
    return db.session.scalars(select(ServiceRequest)).one()


# --- catalogue ----------------------------------------------------------------------------------


def test_a_new_village_gets_the_six_letters_and_the_complaint_box(village):
    services = db.session.scalars(select(Service).where(Service.village_id == village.id)).all()
    names = {s.name for s in services}
    assert {
        "Surat Keterangan Domisili",
        "Surat Keterangan Tidak Mampu",
        "Surat Keterangan Usaha",
        "Surat Pengantar KTP/KK",
        "Surat Keterangan Kelahiran",
        "Surat Keterangan Kematian",
        "Pengaduan dan aspirasi",
    } <= names
    assert all(s.fee == 0 for s in services)
    assert all(s.classification_code for s in services)


def test_every_default_letter_template_uses_only_known_placeholders():
    for spec in DEFAULT_SERVICES:
        if spec["kind"] == "letter":
            templating.validate_template(spec["letter_template"], placeholders_for(spec))
            assert "{{ nama }}" in spec["letter_template"]
    assert set(COMMON_PLACEHOLDERS) == {
        "nama",
        "nik",
        "jenis_kelamin",
        "tanggal_lahir",
        "keperluan",
        "desa",
        "kecamatan",
        "kabupaten",
        "provinsi",
    }


def test_service_list_shows_free_services_as_gratis_with_their_sla(client, village):
    html = client.get("/desa/hanura/layanan").get_data(as_text=True)
    assert "Surat Keterangan Domisili" in html
    assert "Gratis" in html
    assert "2 hari kerja" in html
    assert "/desa/hanura/layanan/pengaduan" in html


def test_a_retired_service_and_an_unknown_village_are_not_found(client, village):
    service = db.session.scalar(select(Service).where(Service.code == "usaha"))
    service.active = False
    db.session.commit()
    assert client.get("/desa/hanura/layanan/usaha").status_code == 404
    assert client.get("/desa/tidak-ada/layanan").status_code == 404


# --- NIK and phone through the form -------------------------------------------------------------


@pytest.mark.parametrize(
    ("nik", "message"),
    [
        ("99091045089200", "NIK harus 16 angka"),
        ("9909104508920001", "Dua angka pertama NIK (99)"),
        ("1809107508920001", "Angka ke-7 dan ke-8 NIK (tanggal lahir) adalah 75"),
        ("1809100513920001", "Angka ke-9 dan ke-10 NIK (bulan lahir) adalah 13"),
        ("1809104508920000", "nomor urut"),
        ("18091045O8920001", "hanya boleh berisi angka"),
    ],
)
def test_the_form_says_which_part_of_the_nik_is_wrong_and_keeps_the_rest(client, village, nik, message):
    csrf, key = form_page(client)
    response = client.post(
        "/desa/hanura/layanan/domisili", data=answers(csrf, key, nik=nik), content_type="multipart/form-data"
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in html
    assert 'value="Siti Wulandari"' in html
    assert "Dusun 1, RT 002/RW 001" in html


def test_a_nik_typed_with_spaces_and_dots_is_accepted(client, village):
    response = submit(client, nik="1809.1045 0892-0001")
    assert response.status_code == 303
    assert only_request().nik == NIK


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("0812-3456-7890", PHONE), ("+62 812 3456 7890", PHONE), ("62812 3456 7890", PHONE)],
)
def test_phone_numbers_are_normalised_to_plus_62(client, village, typed, stored):
    assert submit(client, phone=typed).status_code == 303
    assert only_request().phone == stored


def test_a_foreign_or_short_phone_number_is_refused_with_an_example(client, village):
    csrf, key = form_page(client)
    response = client.post(
        "/desa/hanura/layanan/domisili",
        data=answers(csrf, key, phone="+1 555 0100"),
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert "Hanya nomor HP Indonesia (+62)" in response.get_data(as_text=True)


def test_email_is_optional_but_must_be_valid_when_given(client, village):
    csrf, key = form_page(client)
    response = client.post(
        "/desa/hanura/layanan/domisili",
        data=answers(csrf, key, email="bukan-email"),
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert "Alamat email tidak valid." in response.get_data(as_text=True)


def test_the_services_own_required_fields_are_checked(client, village):
    csrf, key = form_page(client)
    response = client.post(
        "/desa/hanura/layanan/domisili",
        data=answers(csrf, key, d_alamat=""),
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert "belum diisi" in response.get_data(as_text=True)


# --- check step, sending, idempotency, receipt ----------------------------------------------


def test_the_check_step_shows_the_answers_and_sends_nothing_yet(client, village):
    csrf, key = form_page(client)
    response = client.post(
        "/desa/hanura/layanan/domisili", data=answers(csrf, key), content_type="multipart/form-data"
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Periksa jawaban Anda" in html
    assert "5 Agustus 1992" in html  # read from the NIK
    assert PHONE in html
    assert db.session.scalar(select(func.count(ServiceRequest.id))) == 0


def test_editing_from_the_check_step_keeps_answers_and_photos(client, village):
    csrf, key = form_page(client)
    checked = client.post(
        "/desa/hanura/layanan/domisili", data=answers(csrf, key), content_type="multipart/form-data"
    )
    fields = _unescape(hidden_fields(checked.get_data(as_text=True)))
    edit = client.post("/desa/hanura/layanan/domisili", data={**fields, "step": "edit"})
    html = edit.get_data(as_text=True)
    assert edit.status_code == 200
    assert 'value="Siti Wulandari"' in html
    assert html.count("Foto sudah diterima") == 2


def test_sending_creates_one_request_with_photos_and_shows_the_receipt(client, village):
    response = submit(client)
    assert response.status_code == 303
    req = only_request()
    assert req.status == states.DIAJUKAN
    assert req.name == "Siti Wulandari"
    assert req.data["alamat"] == "Dusun 1, RT 002/RW 001"
    assert sorted(a.doc_key for a in req.attachments) == ["kk", "ktp"]
    receipt = client.get(response.headers["Location"])
    html = receipt.get_data(as_text=True)
    assert receipt.status_code == 200
    assert req.tracking_code in html
    assert "<svg" in html and 'class="qr"' in html
    assert "http://balai.test/permohonan/" in html  # the private link, shown once
    assert receipt.headers["Cache-Control"] == "no-store"
    assert NIK not in html and PHONE not in html


def test_the_tracking_code_is_short_grouped_and_unambiguous(client, village):
    submit(client)
    code = only_request().tracking_code
    assert CODE_RE.fullmatch(code)
    assert is_tracking_code(code)
    assert set(code.replace("-", "")) <= set(ALPHABET)


def test_sending_the_same_form_twice_creates_one_request_and_the_same_receipt(client, village):
    csrf, key = form_page(client)
    checked = client.post(
        "/desa/hanura/layanan/domisili", data=answers(csrf, key), content_type="multipart/form-data"
    )
    fields = {**_unescape(hidden_fields(checked.get_data(as_text=True))), "step": "send"}
    first = client.post("/desa/hanura/layanan/domisili", data=fields)
    second = client.post("/desa/hanura/layanan/domisili", data=fields)
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert db.session.scalar(select(func.count(ServiceRequest.id))) == 1
    assert db.session.scalar(select(func.count(Attachment.id))) == 2
    assert "/permohonan/" in client.get(second.headers["Location"]).get_data(as_text=True)


def test_a_receipt_of_someone_elses_code_sends_you_to_the_public_tracking_page(client, village, app):
    response = submit(client)
    code = only_request().tracking_code
    other = app.test_client()
    assert other.get(f"/tanda-terima/{code}").headers["Location"].endswith(f"/lacak/{code}")
    assert client.get(f"/tanda-terima/{code}/cetak").status_code == 200
    assert response.status_code == 303


PRIVATE_LINK = re.compile(r"/permohonan/([A-Za-z0-9_-]{43})")


def session_cookie_text(client) -> str:
    """What anyone holding the session cookie can read without the key: its payload, unsigned."""
    value = client.get_cookie("session").value
    payload = value.lstrip(".").split(".")[0]
    data = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    return (zlib.decompress(data) if value.startswith(".") else data).decode()


def test_the_session_cookie_keeps_the_private_link_sealed_and_the_receipt_still_shows_it(client, village):
    submit(client)
    req = only_request()
    html = client.get(f"/tanda-terima/{req.tracking_code}").get_data(as_text=True)
    token = PRIVATE_LINK.search(html).group(1)
    readable = session_cookie_text(client)
    assert req.tracking_code in readable  # "my requests" still knows which ones
    assert token not in readable and token not in client.get_cookie("session").value
    assert client.get(f"/permohonan/{token}").status_code == 200
    assert req.tracking_code in client.get("/saya").get_data(as_text=True)


def test_a_session_from_before_sealing_keeps_its_link_and_is_sealed_on_the_next_visit(client, village):
    req = _request_in(village, ())
    with client.session_transaction() as sess:
        sess["receipts"] = {req.tracking_code: req.fix_token}
    html = client.get(f"/tanda-terima/{req.tracking_code}").get_data(as_text=True)
    assert f"/permohonan/{req.fix_token}" in html
    assert req.fix_token not in session_cookie_text(client)


def test_a_sealed_link_opens_only_for_its_own_code_and_key(app, village):
    from app.residents import receipts

    sealed = receipts.seal("2345-6789-AB", "secret-token")
    assert receipts.unseal("2345-6789-AB", sealed) == "secret-token"
    assert receipts.unseal("2345-6789-AC", sealed) is None  # moved to another request
    # Tampered: a character in the middle changed (the last ones may only carry base64 padding bits).
    middle = len(sealed) // 2
    tampered = sealed[:middle] + ("B" if sealed[middle] == "A" else "A") + sealed[middle + 1 :]
    assert receipts.unseal("2345-6789-AB", tampered) is None
    app.config["SECRET_KEY"], old = "another-key-that-is-long-enough-for-tests", app.config["SECRET_KEY"]
    try:
        assert receipts.unseal("2345-6789-AB", sealed) is None
    finally:
        app.config["SECRET_KEY"] = old


def test_a_complaint_can_hide_the_name_from_the_public_page(client, village):
    csrf, key = form_page(client, code="pengaduan")
    data = {
        "csrf_token": csrf,
        "idempotency_key": key,
        "nik": NIK,
        "name": "Siti Wulandari",
        "phone": PHONE_TYPED,
        "purpose": "Jalan berlubang di dusun 2",
        "d_kategori": "Jalan dan jembatan",
        "d_lokasi": "Dekat pos ronda",
        "hide_name": "y",
    }
    checked = client.post("/desa/hanura/layanan/pengaduan", data=data, content_type="multipart/form-data")
    assert checked.status_code == 200, checked.get_data(as_text=True)
    fields = _unescape(hidden_fields(checked.get_data(as_text=True)))
    sent = client.post("/desa/hanura/layanan/pengaduan", data={**fields, "step": "send"})
    assert sent.status_code == 303
    req = only_request()
    assert req.hide_name and req.category == "Jalan dan jembatan"
    html = client.get(f"/lacak/{req.tracking_code}").get_data(as_text=True)
    assert "Nama disembunyikan" in html
    assert "S*** W********" not in html


def test_a_complaint_category_outside_the_list_is_refused(client, village):
    csrf, key = form_page(client, code="pengaduan")
    data = {
        "csrf_token": csrf,
        "idempotency_key": key,
        "nik": NIK,
        "name": "Siti",
        "phone": PHONE_TYPED,
        "purpose": "x",
        "d_kategori": "<script>",
    }
    response = client.post("/desa/hanura/layanan/pengaduan", data=data, content_type="multipart/form-data")
    assert response.status_code == 422
    assert "Pilih salah satu pilihan" in response.get_data(as_text=True)


# --- photos ------------------------------------------------------------------------------------


def test_a_jpeg_with_gps_exif_is_stored_without_it(client, village, app):
    source = jpeg(gps=True)
    assert Image.open(io.BytesIO(source)).getexif().get_ifd(GPS_IFD)
    submit(client, doc_ktp=(io.BytesIO(source), "IMG_2024.jpg", "image/jpeg"))
    ktp = next(a for a in only_request().attachments if a.doc_key == "ktp")
    stored = PhotoStore(app.config["UPLOAD_DIR"]).open(ktp.stored_name)
    image = Image.open(io.BytesIO(stored))
    assert not image.getexif().get_ifd(GPS_IFD)
    assert not image.getexif()
    assert b"Samsung" not in stored


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        ((png, "ktp.jpg", "image/jpeg"), "PNG"),
        ((lambda: b"ini bukan foto, hanya teks biasa\n" * 20, "ktp.jpg", "image/jpeg"), "teks"),
    ],
)
def test_a_bad_photo_is_refused_clearly_and_nothing_typed_is_lost(client, village, upload, message):
    make, filename, mime = upload
    csrf, key = form_page(client)
    response = client.post(
        "/desa/hanura/layanan/domisili",
        data=answers(csrf, key, doc_ktp=(io.BytesIO(make()), filename, mime)),
        content_type="multipart/form-data",
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in html
    assert 'value="Siti Wulandari"' in html and f'value="{NIK}"' in html
    assert "Dusun 1, RT 002/RW 001" in html and "Melamar pekerjaan" in html
    # The KK photo that was fine is kept: only the KTP has to be sent again.
    assert html.count("Foto sudah diterima") == 1
    assert db.session.scalar(select(func.count(ServiceRequest.id))) == 0


def test_an_image_over_the_byte_limit_is_refused_with_the_limit(client, village, app, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_PHOTO_BYTES", 20_000)
    big = jpeg(size=(1600, 1200))
    assert len(big) > 20_000
    csrf, key = form_page(client)
    response = client.post(
        "/desa/hanura/layanan/domisili",
        data=answers(csrf, key, doc_ktp=(io.BytesIO(big), "ktp.jpg", "image/jpeg")),
        content_type="multipart/form-data",
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Foto terlalu besar" in html
    assert 'value="Siti Wulandari"' in html


def test_an_image_with_too_many_pixels_is_refused_before_decoding(client, village):
    from tests.test_photos import _bomb_png

    bomb = _bomb_png()
    csrf, key = form_page(client)
    response = client.post(
        "/desa/hanura/layanan/domisili",
        data=answers(csrf, key, doc_ktp=(io.BytesIO(bomb), "ktp.png", "image/png")),
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert "Ukuran gambar terlalu besar" in response.get_data(as_text=True)


def test_a_small_png_of_huge_dimensions_is_refused_at_the_check_step(client, village, app):
    # Issue 15, item 6: a 37 KB 6300 x 6300 PNG cost seconds of CPU per upload. It is refused from
    # its header with a clear message, and nothing of it is stored.
    from tests.test_photos import _flat_png

    flat = _flat_png(6300, 6300)
    assert len(flat) < 60_000
    from pathlib import Path

    def stored() -> set:
        return {p for p in Path(app.config["UPLOAD_DIR"]).rglob("*") if p.is_file()}

    before = stored()
    csrf, key = form_page(client)
    response = client.post(
        "/desa/hanura/layanan/domisili",
        data=answers(csrf, key, doc_ktp=(io.BytesIO(flat), "ktp.png", "image/png"), doc_kk=None),
        content_type="multipart/form-data",
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Ukuran gambar terlalu besar (6300 x 6300 piksel)" in html and "16 megapiksel" in html
    assert 'value="Siti Wulandari"' in html  # nothing typed is lost
    assert stored() == before


def test_a_missing_required_photo_is_named(client, village):
    csrf, key = form_page(client)
    response = client.post(
        "/desa/hanura/layanan/domisili",
        data=answers(csrf, key, doc_kk=None),
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert "Foto Kartu Keluarga (KK) belum dilampirkan." in response.get_data(as_text=True)


def test_a_forged_photo_token_is_ignored(client, village):
    csrf, key = form_page(client)
    data = answers(csrf, key, doc_ktp=None, kept_ktp="eyJmYWtlIjoxfQ.forged.sig")
    response = client.post("/desa/hanura/layanan/domisili", data=data, content_type="multipart/form-data")
    assert response.status_code == 422
    assert "Foto KTP belum dilampirkan." in response.get_data(as_text=True)


def test_a_photo_token_from_another_form_is_not_accepted(client, village):
    csrf, key = form_page(client)
    checked = client.post(
        "/desa/hanura/layanan/domisili", data=answers(csrf, key), content_type="multipart/form-data"
    )
    token = _unescape(hidden_fields(checked.get_data(as_text=True)))["kept_ktp"]
    _csrf, other_key = form_page(client)
    data = answers(csrf, other_key, doc_ktp=None, kept_ktp=token)
    response = client.post("/desa/hanura/layanan/domisili", data=data, content_type="multipart/form-data")
    assert response.status_code == 422


# --- tracking ----------------------------------------------------------------------------------


def _request_in(village, status_path=(), note=None, **kwargs) -> ServiceRequest:
    service = db.session.scalar(
        select(Service).where(
            Service.village_id == village.id, Service.code == kwargs.pop("code", "domisili")
        )
    )
    result = workflow.submit_request(
        village,
        service,
        nik=NIK,
        name="Siti Wulandari",
        phone=PHONE,
        idempotency_key=kwargs.pop("key", "k" * 20),
        data={"alamat": "Dusun 1"},
        purpose="Melamar kerja",
        **kwargs,
    )
    for action in status_path:
        workflow.apply_action(result.request, action, actor=None, note=note)
    db.session.commit()
    result.request.fix_token = result.fix_token
    return result.request


def test_the_public_tracking_page_shows_the_masked_name_and_never_the_nik_or_phone(client, village):
    req = _request_in(village)
    response = client.get(f"/lacak/{req.tracking_code}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "S*** W********" in html
    assert "Siti Wulandari" not in html
    for secret in (NIK, PHONE, "081234567890", "81234567890", "Dusun 1"):
        assert secret not in html
    assert "Diajukan" in html and "Diverifikasi" in html  # the step to come
    assert "/permohonan/" not in html


def _statements_of(client, path: str) -> tuple[str, list[str]]:
    queries = []

    def count(_conn, _cursor, statement, *_args):
        queries.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        html = client.get(path).get_data(as_text=True)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    return html, queries


def test_the_tracking_page_shows_every_step_in_order_from_one_query(client, village):
    req = _request_in(village, ("verify", "request_fix"), note="Foto KK buram.")
    html, queries = _statements_of(client, f"/lacak/{req.tracking_code}")
    assert len(queries) == 1, queries
    timeline = html[html.index('<ol class="timeline">') :]
    done = re.findall(r'<li class="done (\w+)">', timeline)
    assert done == ["diajukan", "diverifikasi", "perlu_perbaikan"]
    assert "Foto KK buram." in timeline and "Hanura" in html and "Surat Keterangan Domisili" in html


def test_the_receipt_is_read_in_one_query_and_shows_the_village_fee_and_qr(client, village):
    submit(client)
    code = only_request().tracking_code
    html, queries = _statements_of(client, f"/tanda-terima/{code}")
    assert len(queries) == 1, queries
    assert code in html and "<svg" in html and "Gratis" in html and "Desa Hanura" in html


def test_a_code_found_by_its_look_alikes_and_the_exact_spelling_wins(app, village):
    from app import tracked

    first = _request_in(village, key="p" * 20)
    second = _request_in(village, ("verify",), key="q" * 20)
    first.tracking_code, second.tracking_code = (
        "2345-6789-AS",
        "2345-6789-A5",
    )  # made before look-alikes were avoided
    db.session.commit()
    assert tracked.find_shown("2345-6789-AS").id == first.id
    assert tracked.find_shown("2345-6789-A5").id == second.id
    assert tracked.find_shown("2345-6789-A2") is None  # another key altogether
    second.tracking_code = "2345-6789-AC"
    db.session.commit()
    shown = tracked.find_shown("2345-6789-A5")  # typed either way, one request holds the key
    assert shown.id == first.id and shown.tracking_code == "2345-6789-AS"
    assert [step.to_status for step in shown.history] == ["diajukan"]
    assert tracked.find_shown("2345-6789-AS", with_history=False).history == []


def test_a_code_typed_in_lowercase_without_dashes_finds_the_request(client, village):
    req = _request_in(village)
    typed = req.tracking_code.replace("-", "").lower()
    response = client.get(f"/lacak?kode={typed}")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/lacak/{req.tracking_code}")


def test_a_malformed_code_says_what_is_wrong(client, village):
    response = client.get("/lacak?kode=K7QM-3HXP-W0")
    assert response.status_code == 422
    assert "tidak memakai" in response.get_data(as_text=True)


def test_rejected_and_to_fix_requests_show_the_reason(client, village):
    fix = _request_in(village, ("request_fix",), note="Foto KK buram.", key="a" * 20)
    rejected = _request_in(village, ("reject",), note="Bukan warga desa ini.", key="b" * 20)
    assert "Foto KK buram." in client.get(f"/lacak/{fix.tracking_code}").get_data(as_text=True)
    assert "Bukan warga desa ini." in client.get(f"/lacak/{rejected.tracking_code}").get_data(as_text=True)


def test_a_poll_with_the_current_etag_costs_nothing(client, village):
    req = _request_in(village)
    headers = {"HX-Request": "true"}
    first = client.get(f"/lacak/{req.tracking_code}", headers=headers)
    assert first.status_code == 200
    etag = first.headers["ETag"]
    again = client.get(f"/lacak/{req.tracking_code}", headers={**headers, "If-None-Match": etag})
    assert again.status_code == 304
    assert again.get_data() == b""
    assert 'id="lacak-status"' in first.get_data(as_text=True)
    assert "<html" not in first.get_data(as_text=True)  # a fragment for htmx

    workflow.apply_action(req, "verify", actor=None)
    db.session.commit()
    changed = client.get(f"/lacak/{req.tracking_code}", headers={**headers, "If-None-Match": etag})
    assert changed.status_code == 200
    assert "Diverifikasi" in changed.get_data(as_text=True)


def test_a_poll_on_a_finished_request_answers_286_to_stop_polling(client, village):
    req = _request_in(village, ("verify", "start", "mark_ready", "hand_over"))
    response = client.get(f"/lacak/{req.tracking_code}", headers={"HX-Request": "true"})
    assert response.status_code == 286
    assert "hx-trigger" not in response.get_data(as_text=True)


def test_unknown_codes_are_rate_limited_with_a_clear_message(client, village, app, monkeypatch):
    monkeypatch.setitem(app.config, "TRACK_MISS_LIMIT", "3 per minute")
    req = _request_in(village)
    assert client.get(f"/lacak/{req.tracking_code}").status_code == 200
    statuses = [client.get("/lacak/2345-6789-AB").status_code for _ in range(3)]
    assert statuses == [404, 404, 404]
    blocked = client.get("/lacak/2345-6789-AC")
    assert blocked.status_code == 429
    assert "Terlalu banyak kode lacak yang tidak ditemukan" in blocked.get_data(as_text=True)
    # Once blocked, a known code tells nothing either: guessing is stopped, not answered.
    assert client.get(f"/lacak/{req.tracking_code}").status_code == 429


def test_my_requests_statuses_count_each_unknown_code_as_a_guess(client, village, app, monkeypatch):
    # /saya/status takes up to 20 codes a call and answers only the real ones: each code that is
    # not there is a guess, from the same budget as /lacak, and a batch that would overdraw it
    # is refused whole.
    monkeypatch.setitem(app.config, "TRACK_MISS_LIMIT", "10 per minute")
    req = _request_in(village)
    guesses = ["2345-6789-" + a + b for a in "AB" for b in ALPHABET[10:20]]
    first = client.get("/saya/status", query_string={"kode": [*guesses[:5], req.tracking_code]})
    assert first.status_code == 200 and req.tracking_code in first.get_data(as_text=True)
    overdraw = client.get("/saya/status", query_string={"kode": [*guesses[5:11], req.tracking_code]})
    assert overdraw.status_code == 429
    assert "Terlalu banyak kode lacak yang tidak ditemukan" in overdraw.get_data(as_text=True)
    assert req.tracking_code not in overdraw.get_data(as_text=True)
    # The refusal spent what was left: no more answers here or on /lacak for a while.
    assert client.get("/saya/status", query_string={"kode": [req.tracking_code]}).status_code == 429
    assert client.get(f"/lacak/{req.tracking_code}").status_code == 429


def test_my_requests_with_only_real_codes_never_run_into_the_guess_limit(client, village, app, monkeypatch):
    monkeypatch.setitem(app.config, "TRACK_MISS_LIMIT", "3 per minute")
    codes = [_request_in(village, key=f"mine-{n}").tracking_code for n in range(5)]
    for _ in range(5):
        response = client.get("/saya/status", query_string={"kode": codes})
        assert response.status_code == 200
        assert all(code in response.get_data(as_text=True) for code in codes)


def test_known_codes_do_not_use_up_the_limit(client, village, app, monkeypatch):
    monkeypatch.setitem(app.config, "TRACK_MISS_LIMIT", "3 per minute")
    req = _request_in(village)
    assert all(client.get(f"/lacak/{req.tracking_code}").status_code == 200 for _ in range(6))


# --- at the counter ----------------------------------------------------------------------------


def test_an_official_of_the_village_sees_the_counter_actions(client, auth, demo, app, monkeypatch):
    hanura = db.session.scalar(select(Village).where(Village.slug == "hanura"))
    req = _request_in(hanura, ("verify", "start", "mark_ready"), key="c" * 20)
    public = client.get(f"/lacak/{req.tracking_code}").get_data(as_text=True)
    assert "/kantor/permohonan/" not in public

    if "officials.act" not in app.view_functions:
        # Without the officials' area the buttons would have nowhere to post; stand in for it.
        monkeypatch.setitem(app.view_functions, "officials.act", lambda **kwargs: ("", 204))

    auth.login("operator.hanura@balai.test")
    html = client.get(f"/lacak/{req.tracking_code}").get_data(as_text=True)
    assert f'action="/kantor/permohonan/{req.id}/aksi"' in html
    assert 'name="action" value="hand_over"' in html
    assert f'name="version" value="{req.version}"' in html
    auth.logout()
    auth.login("operator.trimulyo@balai.test")
    other = client.get(f"/lacak/{req.tracking_code}").get_data(as_text=True)
    assert "/kantor/permohonan/" not in other


# --- the private link and fixing a request ---------------------------------------------------


def test_the_private_link_lets_the_resident_fix_fields_and_photos(client, village):
    submit(client)
    req = only_request()
    receipt = client.get(f"/tanda-terima/{req.tracking_code}").get_data(as_text=True)
    token = re.search(r"/permohonan/([A-Za-z0-9_-]{43})", receipt).group(1)
    workflow.apply_action(req, "request_fix", actor=None, note="Foto KTP buram, alamat kurang lengkap.")
    db.session.commit()
    page = client.get(f"/permohonan/{token}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Foto KTP buram" in html
    assert "Perbaiki permohonan" in html
    assert NIK not in html and "1809**********01" in html
    old_ktp = next(a.stored_name for a in req.attachments if a.doc_key == "ktp")

    data = {
        "csrf_token": csrf_from(html),
        "version": str(req.version),
        "nik": "",
        "phone": "",
        "name": "Siti Wulandari",
        "email": "",
        "purpose": "Melamar pekerjaan",
        "d_tempat_lahir": "Pesawaran",
        "d_pekerjaan": "Wiraswasta",
        "d_alamat": "Dusun 1, RT 002/RW 001, Desa Hanura",
        "doc_ktp": (io.BytesIO(jpeg(size=(400, 300))), "ktp-baru.jpg", "image/jpeg"),
    }
    response = client.post(f"/permohonan/{token}", data=data, content_type="multipart/form-data")
    assert response.status_code == 303
    db.session.expire_all()
    req = only_request()
    assert req.status == states.DIAJUKAN
    assert req.data["alamat"] == "Dusun 1, RT 002/RW 001, Desa Hanura"
    assert req.nik == NIK and req.phone == PHONE  # blank means unchanged
    ktp = [a for a in req.attachments if a.doc_key == "ktp"]
    assert len(ktp) == 1 and ktp[0].stored_name != old_ktp and ktp[0].width == 400
    assert not PhotoStore(client.application.config["UPLOAD_DIR"]).exists(old_ktp)
    assert [c.action for c in req.history][-1] == "resubmit"


def test_a_bad_photo_on_the_fix_page_keeps_what_was_typed(client, village):
    req = _request_in(village, ("request_fix",), note="Foto KTP buram.")
    html = client.get(f"/permohonan/{req.fix_token}").get_data(as_text=True)
    data = {
        "csrf_token": csrf_from(html),
        "version": str(req.version),
        "name": "Siti Wulandari Putri",
        "purpose": "Melamar kerja",
        "d_tempat_lahir": "Pesawaran",
        "d_pekerjaan": "Guru honorer",
        "d_alamat": "Dusun 1",
        "doc_ktp": (io.BytesIO(png()), "ktp.jpg", "image/jpeg"),
    }
    response = client.post(f"/permohonan/{req.fix_token}", data=data, content_type="multipart/form-data")
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'value="Siti Wulandari Putri"' in body and 'value="Guru honorer"' in body
    db.session.expire_all()
    assert db.session.get(ServiceRequest, req.id).status == states.PERLU_PERBAIKAN


def test_the_tracking_code_alone_cannot_fix_a_request(client, village):
    req = _request_in(village, ("request_fix",), note="Foto KTP buram.")
    assert client.get(f"/permohonan/{req.tracking_code}").status_code == 404
    assert client.post(f"/permohonan/{req.tracking_code}", data={}).status_code in (400, 404)
    assert "Perbaiki permohonan" not in client.get(f"/lacak/{req.tracking_code}").get_data(as_text=True)


def test_a_request_not_waiting_for_a_fix_cannot_be_changed(client, village):
    req = _request_in(village)
    html = client.get(f"/permohonan/{req.fix_token}").get_data(as_text=True)
    assert "Perbaiki permohonan" not in html
    response = client.post(
        f"/permohonan/{req.fix_token}", data={"csrf_token": form_page(client)[0], "name": "Orang Lain"}
    )
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(ServiceRequest, req.id).name == "Siti Wulandari"


def test_a_stale_fix_is_refused_with_who_acted(client, village):
    req = _request_in(village, ("request_fix",), note="Foto KTP buram.")
    html = client.get(f"/permohonan/{req.fix_token}").get_data(as_text=True)
    old_version = req.version
    data = {
        "csrf_token": csrf_from(html),
        "version": str(old_version - 1),
        "name": "Siti",
        "purpose": "x",
        "d_tempat_lahir": "A",
        "d_pekerjaan": "B",
        "d_alamat": "C",
    }
    response = client.post(f"/permohonan/{req.fix_token}", data=data, content_type="multipart/form-data")
    assert response.status_code == 409
    assert "sudah diubah" in response.get_data(as_text=True)


def test_the_letter_link_shows_only_once_the_officials_area_has_issued_the_letter(client, village, app):
    req = _request_in(village, ("verify", "start", "mark_ready"))
    html = client.get(f"/permohonan/{req.fix_token}").get_data(as_text=True)
    if "officials.letter_for_resident" not in app.view_functions:
        assert "surat.pdf" not in html
        return
    from app.models.letters import Letter

    assert "surat.pdf" not in html  # nothing issued yet
    db.session.add(
        Letter(
            request_id=req.id, village_id=village.id, service_id=req.service_id, state="issued", pdf=b"%PDF"
        )
    )
    db.session.commit()
    html = client.get(f"/permohonan/{req.fix_token}").get_data(as_text=True)
    assert f'href="/permohonan/{req.fix_token}/surat.pdf"' in html


# --- "Permohonan saya" -----------------------------------------------------------------------


def test_my_requests_lists_this_sessions_codes_and_statuses_in_one_query(client, village):
    submit(client)
    code = only_request().tracking_code
    html = client.get("/saya").get_data(as_text=True)
    assert code in html and "Diajukan" in html

    other = _request_in(village, ("verify",), key="z" * 20)
    url = f"/saya/status?kode={code}&kode={other.tracking_code.lower()}&kode=bukan-kode"
    queries = []

    def count(_conn, _cursor, statement, *_args):
        queries.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        response = client.get(url)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert code in body and other.tracking_code in body and "Diverifikasi" in body
    assert len(queries) == 1, queries
    assert "Siti" not in body and NIK not in body


# --- posters and the queue ---------------------------------------------------------------------


def test_the_posters_carry_a_big_qr_and_three_steps(client, village):
    for path, target in (
        ("/desa/hanura/poster", "/desa/hanura/layanan"),
        ("/desa/hanura/poster-lacak", "/lacak"),
    ):
        html = client.get(path).get_data(as_text=True)
        assert "<svg" in html
        assert f"http://balai.test{target}" in html
        assert html.count("<li>") == 3
        assert "GRATIS" in html


def test_the_queue_shows_codes_only_and_answers_304_when_nothing_changed(client, village):
    ready = _request_in(village, ("verify", "start", "mark_ready"), key="r" * 20)
    working = _request_in(village, ("verify",), key="w" * 20)
    done = _request_in(village, ("verify", "start", "mark_ready", "hand_over"), key="d" * 20)
    page = client.get("/desa/hanura/antrian")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert ready.tracking_code in html and working.tracking_code in html
    assert done.tracking_code not in html
    assert "Siti" not in html and "S***" not in html
    assert 'hx-trigger="every' in html

    poll = client.get("/desa/hanura/antrian", headers={"HX-Request": "true"})
    etag = poll.headers["ETag"]
    same = client.get("/desa/hanura/antrian", headers={"HX-Request": "true", "If-None-Match": etag})
    assert same.status_code == 304 and same.get_data() == b""

    workflow.apply_action(ready, "hand_over", actor=None)
    db.session.commit()
    changed = client.get("/desa/hanura/antrian", headers={"HX-Request": "true", "If-None-Match": etag})
    assert changed.status_code == 200
    assert ready.tracking_code not in changed.get_data(as_text=True)


# --- demo --------------------------------------------------------------------------------------


def test_the_demo_has_requests_in_every_status_and_seeding_twice_changes_nothing(app, demo):
    from app.cli.demo import seed_demo

    hanura = db.session.scalar(select(Village).where(Village.slug == "hanura"))
    statuses = set(
        db.session.scalars(select(ServiceRequest.status).where(ServiceRequest.village_id == hanura.id))
    )
    assert statuses == set(states.STATUSES)
    counts = (
        db.session.scalar(select(func.count(ServiceRequest.id))),
        db.session.scalar(select(func.count(StatusChange.id))),
        db.session.scalar(select(func.count(Attachment.id))),
        db.session.scalar(select(func.count(Service.id))),
    )
    seed_demo(demo)
    assert counts == (
        db.session.scalar(select(func.count(ServiceRequest.id))),
        db.session.scalar(select(func.count(StatusChange.id))),
        db.session.scalar(select(func.count(Attachment.id))),
        db.session.scalar(select(func.count(Service.id))),
    )


def test_the_villages_operator_sees_the_full_name_and_the_counter_on_the_tracking_page(client, auth, demo):
    hanura = db.session.scalar(select(Village).where(Village.slug == "hanura"))
    req = db.session.scalar(
        select(ServiceRequest)
        .where(
            ServiceRequest.village_id == hanura.id,
            ServiceRequest.status == states.DIAJUKAN,
            ServiceRequest.routed_to == "desa",
        )
        .order_by(ServiceRequest.id)
    )
    auth.login("operator.trimulyo@balai.test")
    html = client.get(f"/lacak/{req.tracking_code}").get_data(as_text=True)
    assert "Untuk petugas" not in html and req.name not in html  # another village's operator
    auth.logout()
    auth.login("operator.hanura@balai.test")
    html = client.get(f"/lacak/{req.tracking_code}").get_data(as_text=True)
    assert "Untuk petugas" in html and req.name in html
    assert f'action="/kantor/permohonan/{req.id}/aksi"' in html and f'value="{req.version}"' in html
