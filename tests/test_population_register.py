"""The population register at /kantor/penduduk: only the village's officials, every look logged, NIKs
never in URLs; corrections audited; imports with a per-row report; what the queue and a request page
learn from it; the privacy tools; tokens, the push log and messages on /kantor/opendk."""

from __future__ import annotations

import csv
import io
import json
import re
import secrets
from datetime import date

import pytest
from sqlalchemy import func, select

from app import workflow
from app.extensions import db
from app.models import Service, ServiceRequest, Village
from app.models.population import (
    FAILED,
    Message,
    MessageThread,
    PopulationStat,
    RegisterAccess,
    Resident,
    ResidentCorrection,
    SyncPush,
    SyncToken,
)
from app.population import register, tokens
from tests import opendk_support as sup
from tests.conftest import csrf_from

BUDI = "1809100101800002"
SITI = "1809104107850001"
OPERATOR, HEAD, REGION, OTHER_OPERATOR, SUPERADMIN = (
    "operator.hanura@balai.test",
    "kades.hanura@balai.test",
    "pesawaran@balai.test",
    "operator.trimulyo@balai.test",
    "admin@balai.test",
)


def hanura_village() -> Village:
    return db.session.scalar(select(Village).where(Village.slug == "hanura"))


@pytest.fixture
def hanura(demo):
    village = hanura_village()
    sup.load_captured_register(village)
    db.session.commit()
    return village


def resident(nik: str) -> Resident:
    return db.session.scalar(select(Resident).where(Resident.nik == nik))


def html_of(response) -> str:
    return response.get_data(as_text=True)


# --- the register pages --------------------------------------------------------------------------


def test_officials_search_a_nik_only_through_a_post_form_and_every_search_is_logged(client, auth, hanura):
    auth.login(OPERATOR)
    page = client.get("/kantor/penduduk/")
    assert page.status_code == 200 and "21 penduduk hidup dalam 2 keluarga" in html_of(page)
    assert "no-store" in page.headers["Cache-Control"]
    found = auth.post("/kantor/penduduk/", {"q": BUDI})
    assert found.status_code == 200 and "BUDI SANTOSO" in html_of(found)
    assert "AISYAH PUTRI" not in html_of(found)
    by_kk = auth.post("/kantor/penduduk/", {"q": "1809100202020002"})
    assert "HENDRA GUNAWAN" in html_of(by_kk) and "BUDI SANTOSO" not in html_of(by_kk)
    # A NIK in a link would reach logs and browser history: refused, and not written back.
    refused = client.get(f"/kantor/penduduk/?q={BUDI}")
    assert refused.status_code == 200
    assert "tidak boleh ada di alamat" in html_of(refused)
    assert "BUDI SANTOSO" not in html_of(refused) and BUDI not in html_of(refused)
    by_name = client.get("/kantor/penduduk/?q=santoso")
    assert "BUDI SANTOSO" in html_of(by_name)
    searches = db.session.scalars(select(RegisterAccess).where(RegisterAccess.action == "search")).all()
    assert len(searches) == 3
    assert all(BUDI not in s.detail and s.user_name for s in searches)


def test_opening_a_resident_is_logged_with_a_digest_of_the_nik_never_the_nik(client, auth, hanura):
    auth.login(OPERATOR)
    budi = resident(BUDI)
    page = client.get(f"/kantor/penduduk/{budi.id}")
    text = html_of(page)
    assert page.status_code == 200 and BUDI in text
    for label in ("MENGURUS RUMAH TANGGA", "SLTA / SEDERAJAT", "ISLAM", "KAWIN", "SUAMI", "SITI AMINAH"):
        assert label in text
    (look,) = db.session.scalars(select(RegisterAccess).where(RegisterAccess.action == "view")).all()
    assert look.subject == register.subject_digest(BUDI) and look.village_id == hanura.id
    assert BUDI not in json.dumps([look.detail, look.subject, look.user_name])


def test_region_staff_and_other_villages_never_open_the_register(client, auth, hanura):
    budi = resident(BUDI)
    auth.login(REGION)
    assert client.get("/kantor/penduduk/").status_code == 403
    assert client.get(f"/kantor/penduduk/{budi.id}").status_code == 403
    auth.logout()
    auth.login(OTHER_OPERATOR)
    own = client.get("/kantor/penduduk/")
    assert own.status_code == 200 and "masih kosong" in html_of(own)
    assert client.get(f"/kantor/penduduk/{budi.id}").status_code == 404
    assert "BUDI" not in html_of(auth.post("/kantor/penduduk/", {"q": BUDI}))


def _push_register(village, change=None) -> None:
    _name, data = sup.captured_xlsx()
    from app.domain import opensid

    header, lines = opensid.xlsx_rows(data)
    records = []
    for line, cells in lines:
        record, _notes = opensid.resident_from_opensid(dict(zip(header, cells, strict=False)), line)
        if change:
            change(record)
        records.append(record)
    register.replace(village, records, source="opendk", as_of=date(2026, 12, 4))
    db.session.commit()


def test_a_correction_is_audited_and_kept_until_the_villages_own_system_changes_that_field(
    client, auth, hanura
):
    auth.login(OPERATOR)
    budi = resident(BUDI)
    url = f"/kantor/penduduk/{budi.id}"
    missing_reason = auth.post(
        url + "/koreksi", {"field": "occupation", "value": "PETANI/PEKEBUN"}, form_page=url
    )
    assert missing_reason.status_code == 422
    wrong = auth.post(
        url + "/koreksi", {"field": "occupation", "value": "ASTRONOT", "reason": "KK baru"}, form_page=url
    )
    assert wrong.status_code == 422 and "Pilih salah satu" in html_of(wrong)
    done = auth.post(
        url + "/koreksi",
        {"field": "occupation", "value": "petani/pekebun", "reason": "sesuai KK baru"},
        form_page=url,
    )
    assert done.status_code == 303
    (c,) = db.session.scalars(select(ResidentCorrection)).all()
    assert (c.field, c.old_value, c.new_value, c.reason, c.nik) == (
        "occupation",
        "2",
        "9",
        "sesuai KK baru",
        BUDI,
    )
    assert resident(BUDI).occupation == 9
    stats = dict(((s.dimension, s.key), s.n) for s in db.session.scalars(select(PopulationStat)))
    assert stats["occupation", "9"] == 1
    assert "PETANI/PEKEBUN" in html_of(client.get(url)) and "sesuai KK baru" in html_of(client.get(url))
    # The next push still says 2 (and changed something else): the correction is applied again.
    _push_register(hanura, change=lambda r: setattr(r, "address", r.address + " "))
    assert resident(BUDI).occupation == 9
    # The village corrected it in OpenSID itself: its value wins, the correction is marked superseded.
    _push_register(hanura, change=lambda r: setattr(r, "occupation", 11) if r.nik == BUDI else None)
    assert resident(BUDI).occupation == 11
    assert db.session.scalar(select(ResidentCorrection)).superseded_at is not None
    assert (
        db.session.scalar(
            select(func.count()).select_from(RegisterAccess).where(RegisterAccess.action == "correct")
        )
        == 1
    )


def _template(rows: list[list[str]], fmt: str = "xlsx") -> tuple[bytes, str]:
    header = register.template_header()
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(rows)
        return ("\ufeff" + out.getvalue()).encode(), "penduduk.csv"
    return sup.make_xlsx(header, rows), "penduduk.xlsx"


def _row(nik: str, name: str, sex: str = "L", **extra) -> list[str]:
    values = dict(zip(register.template_header(), register.template_example(), strict=True))
    values.update(nik=nik, nama=name, jenis_kelamin=sex, **extra)
    return list(values.values())


def _upload(auth, data: bytes, filename: str):
    return auth.post(
        "/kantor/penduduk/impor",
        {"file": (io.BytesIO(data), filename)},
        form_page="/kantor/penduduk/impor",
        content_type="multipart/form-data",
    )


def test_an_import_with_bad_rows_changes_nothing_and_lists_each_row_to_fix(client, auth, hanura):
    auth.login(OPERATOR)
    data, name = _template(
        [
            _row("1809100101900001", "WARGA BAIK"),
            _row("1809100101900", "NIK PENDEK"),
            _row("1809100101900003", "TANPA KELAMIN", sex="X"),
            _row("1809100101900001", "NIK KEMBAR"),
            _row("1809100101900005", "AGAMA ANEH", agama="TIDAK ADA"),
            _row("1809100101900006", "TANGGAL SALAH", tanggal_lahir="31-02-1990"),
        ]
    )
    answer = _upload(auth, data, name)
    assert answer.status_code == 303
    report = client.get(answer.headers["Location"])
    text = html_of(report)
    for expected in (
        "Baris 3: NIK tidak sah",
        "Baris 4: jenis kelamin harus L atau P",
        "Baris 5: NIK sama dengan baris 2",
        "Baris 6: isi kolom agama tidak ada",
        "Baris 7: tanggal_lahir bukan tanggal",
        "Tidak ada yang diubah",
    ):
        assert expected in text, expected
    assert db.session.scalar(select(func.count()).select_from(Resident)) == 21
    assert db.session.scalar(select(SyncPush).order_by(SyncPush.id.desc())).state == FAILED


def test_a_good_template_csv_with_a_bom_replaces_the_register(client, auth, hanura):
    auth.login(OPERATOR)
    data, name = _template(
        [
            _row("1809100101900001", "WARGA SATU"),
            _row("1809104101900002", "WARGA DUA", sex="P", agama="KRISTEN"),
        ],
        fmt="csv",
    )
    answer = _upload(auth, data, name)
    assert answer.status_code == 303
    names = {r.name: r for r in db.session.scalars(select(Resident))}
    assert set(names) == {"WARGA SATU", "WARGA DUA"} and names["WARGA DUA"].religion == 2
    assert all(r.source == "import" for r in names.values())
    assert "tersimpan" in html_of(client.get(answer.headers["Location"]))


def test_opensids_unduh_data_zip_imports_the_whole_register(client, auth, demo):
    auth.login(OPERATOR)
    answer = _upload(auth, sup.captured_zip(138), "penduduk_03_12_2026_opendk.zip")
    assert answer.status_code == 303
    assert db.session.scalar(select(func.count()).select_from(Resident)) == 21
    assert resident(BUDI).source == "import"
    hostile = _upload(auth, sup.make_zip({"../x/penduduk.xlsx": b"x"}), "penduduk.zip")
    assert hostile.status_code == 422 and "tidak aman" in html_of(hostile)


def test_the_template_downloads_carry_only_headers_and_an_example(client, auth, demo):
    auth.login(OPERATOR)
    text = client.get("/kantor/penduduk/templat.csv").get_data().decode("utf-8-sig")
    assert text.splitlines()[0].split(",") == register.template_header()
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(client.get("/kantor/penduduk/templat.xlsx").get_data()), read_only=True)
    assert [c for c in next(book.worksheets[0].iter_rows(values_only=True))] == register.template_header()


# --- what officials handling a request learn from the register ------------------------------------


def _request(village: Village, nik: str, name: str, **data) -> ServiceRequest:
    service = db.session.scalar(
        select(Service).where(Service.village_id == village.id, Service.code == "domisili")
    )
    submitted = workflow.submit_request(
        village,
        service,
        nik=nik,
        name=name,
        phone="+6281234567890",
        idempotency_key=secrets.token_hex(8),
        data=data,
        purpose="Melamar kerja",
    )
    db.session.commit()
    return submitted.request


def test_the_queue_and_the_request_page_say_whether_the_nik_is_registered_and_the_name_matches(
    client, auth, hanura
):
    same = _request(hanura, BUDI, "Budi  Santoso")
    other_name = _request(hanura, SITI, "Siti Rahayu")
    unknown = _request(hanura, "1809104508920077", "Pendatang Baru")
    auth.login(OPERATOR)
    queue = html_of(client.get("/kantor/?q=&status=semua"))
    assert "terdaftar" in queue and "nama beda di register" in queue and "NIK tak terdaftar" in queue
    assert "Terdaftar, nama cocok" in html_of(client.get(f"/kantor/permohonan/{same.id}"))
    page = html_of(client.get(f"/kantor/permohonan/{other_name.id}"))
    assert "Terdaftar, nama berbeda" in page and "SITI AMINAH" in page
    page = html_of(client.get(f"/kantor/permohonan/{unknown.id}"))
    assert "NIK tidak terdaftar" in page and "tetap dilayani" in page
    # ...and is served like any other.
    from tests.test_officials import act

    assert act(auth, unknown.id, "verify", unknown.version).status_code in (302, 303)
    assert db.session.get(ServiceRequest, unknown.id).status == "diverifikasi"


def test_letter_fields_come_from_the_register_only_once_the_official_confirms_them(client, auth, hanura):
    req = _request(hanura, BUDI, "Budi Santoso", tempat_lahir="", pekerjaan="Petani", alamat="Dusun 1")
    auth.login(OPERATOR)
    page = html_of(client.get(f"/kantor/permohonan/{req.id}"))
    assert 'value="Pesawaran"' in page and 'value="Mengurus Rumah Tangga"' in page
    assert "Jl. Pantai Mutun No. 12, RT 001/RW 001, Dusun I" in page
    assert db.session.get(ServiceRequest, req.id).data["tempat_lahir"] == ""  # nothing changes by itself
    csrf = csrf_from(page)
    stale = client.post(
        f"/kantor/penduduk/permohonan/{req.id}/isi",
        data={
            "csrf_token": csrf,
            "version": str(req.version - 1),
            "pakai": ["tempat_lahir"],
            "nilai_tempat_lahir": "X",
        },
    )
    assert stale.status_code == 303 and db.session.get(ServiceRequest, req.id).data["tempat_lahir"] == ""
    done = client.post(
        f"/kantor/penduduk/permohonan/{req.id}/isi",
        data={
            "csrf_token": csrf,
            "version": str(req.version),
            "pakai": ["tempat_lahir", "alamat", "bukan_isian"],
            "nilai_tempat_lahir": "Pesawaran",
            "nilai_alamat": "Jl. Pantai Mutun No. 12, RT 001/RW 001, Dusun I, Hanura",
            "nilai_pekerjaan": "diabaikan",
        },
    )
    assert done.status_code == 303
    data = db.session.get(ServiceRequest, req.id).data
    assert data["tempat_lahir"] == "Pesawaran"
    assert data["alamat"] == "Jl. Pantai Mutun No. 12, RT 001/RW 001, Dusun I, Hanura"
    assert data["pekerjaan"] == "Petani" and "bukan_isian" not in data
    (log,) = db.session.scalars(select(RegisterAccess).where(RegisterAccess.action == "prefill")).all()
    assert log.subject == register.subject_digest(BUDI) and req.tracking_code in log.detail


def test_residents_and_region_staff_never_see_what_the_register_says(client, auth, hanura):
    req = _request(hanura, SITI, "Siti Rahayu")
    for path in (f"/lacak/{req.tracking_code}",):
        text = html_of(client.get(path))
        assert "register" not in text.lower() and "SITI AMINAH" not in text
    auth.login(REGION)
    queue = html_of(client.get(f"/kantor/?desa={hanura.id}&status=semua"))
    assert "nama beda di register" not in queue and "NIK tak terdaftar" not in queue
    detail = html_of(client.get(f"/kantor/permohonan/{req.id}"))
    assert "Register penduduk" not in detail and "SITI AMINAH" not in detail


# --- the privacy tools -----------------------------------------------------------------------------


def test_the_privacy_tools_export_and_erase_a_nik_from_the_register(client, auth, hanura):
    auth.login(SUPERADMIN)
    page = auth.post("/admin/data-pribadi", {"nik": BUDI})
    assert page.status_code == 200 and "1 baris register penduduk" in html_of(page)
    exported = auth.post("/admin/data-pribadi/ekspor", {"nik": BUDI}, form_page="/admin/data-pribadi")
    body = json.loads(exported.get_data(as_text=True))
    assert body["register"][0]["name"] == "BUDI SANTOSO" and body["register"][0]["labels"]["occupation"] == (
        "MENGURUS RUMAH TANGGA"
    )
    assert {a["action"] for a in body["register_access"]} >= {"view"}
    erased = auth.post(
        "/admin/data-pribadi/hapus", {"nik": BUDI, "confirm": "y"}, form_page="/admin/data-pribadi"
    )
    assert erased.status_code == 200 and "1 baris register penduduk dihapus" in html_of(erased)
    assert resident(BUDI) is None
    assert db.session.scalar(select(PopulationStat.n).where(PopulationStat.dimension == "total")) == 20
    actions = {
        a.action
        for a in db.session.scalars(select(RegisterAccess).where(RegisterAccess.village_id == hanura.id))
    }
    assert {"view", "export", "erase"} <= actions


# --- /kantor/opendk: tokens, the push log, messages ------------------------------------------------


def test_an_operator_makes_a_token_seen_once_and_revokes_it(client, auth, demo):
    village = hanura_village()
    auth.login(OPERATOR)
    made = auth.post("/kantor/opendk/token", {"name": "OpenSID Hanura"}, form_page="/kantor/opendk/")
    raw = re.search(r"opendk_[A-Za-z0-9_-]{20,}", html_of(made)).group(0)
    token = db.session.scalar(select(SyncToken))
    assert token.digest == tokens.digest(raw) and token.village_id == village.id and token.via == "balai"
    assert raw not in html_of(client.get("/kantor/opendk/"))
    assert village.region_code in html_of(client.get("/kantor/opendk/"))
    use = {"Authorization": f"Bearer {raw}"}
    assert client.get(f"/opendk/api/v1/surat?desa_id={village.region_code}", headers=use).status_code == 200
    revoked = auth.post(f"/kantor/opendk/token/{token.id}/cabut", {}, form_page="/kantor/opendk/")
    assert revoked.status_code == 303
    assert client.get(f"/opendk/api/v1/surat?desa_id={village.region_code}", headers=use).status_code == 401


def test_region_admins_make_tokens_only_for_villages_in_their_region(client, auth, demo):
    hanura = hanura_village()
    trimulyo = db.session.scalar(select(Village).where(Village.slug == "trimulyo"))
    auth.login(REGION)
    ok = auth.post(
        f"/kantor/opendk/token?desa={hanura.id}", {"name": "dari kabupaten"}, form_page="/kantor/opendk/"
    )
    assert ok.status_code == 200 and re.search(r"opendk_", html_of(ok))
    assert db.session.scalar(select(SyncToken)).village_id == hanura.id
    assert (
        auth.post(
            f"/kantor/opendk/token?desa={trimulyo.id}", {"name": "x"}, form_page="/kantor/opendk/"
        ).status_code
        == 404
    )


def _token(village: Village) -> dict:
    raw = tokens.issue(village, "uji")
    db.session.commit()
    return {"Authorization": f"Bearer {raw}"}


def test_the_push_log_shows_each_push_to_the_village_and_its_region_admins(client, auth, demo):
    village = hanura_village()
    use = _token(village)
    empty = client.post(
        "/opendk/api/v1/laporan-apbdes",
        json={"desa_id": village.region_code, "laporan_apbdes": []},
        headers=use,
    )
    assert empty.status_code == 422
    stored = client.post(
        "/opendk/api/v1/penduduk/storedata",
        data={
            "file": (
                io.BytesIO(sup.captured_zip(138)),
                "desa/upload/sinkronisasi/penduduk_03_12_2026_opendk.zip",
            )
        },
        headers=use,
        content_type="multipart/form-data",
    )
    assert stored.status_code == 200
    auth.login(OPERATOR)
    log = html_of(client.get("/kantor/opendk/"))
    assert "Penduduk" in log and "tersimpan" in log and "Laporan APBDes" in log and "daftar kosong" in log
    failed = db.session.scalar(select(SyncPush).where(SyncPush.state == FAILED))
    assert "mengirim daftar kosong" in html_of(client.get(f"/kantor/opendk/kiriman/{failed.id}"))
    auth.logout()
    auth.login(REGION)
    assert "tersimpan" in html_of(client.get(f"/kantor/opendk/?desa={village.id}"))
    assert "Hanura" in html_of(client.get("/kantor/opendk/"))
    auth.logout()
    auth.login("lambar@balai.test")
    assert client.get(f"/kantor/opendk/?desa={village.id}").status_code == 404
    assert client.get(f"/kantor/opendk/kiriman/{failed.id}").status_code == 404


def test_region_staff_answer_a_villages_message_and_its_opensid_fetches_the_answer(client, auth, demo):
    village = hanura_village()
    use = _token(village)
    sent = client.post(
        "/opendk/api/v1/pesan",
        data={
            "kode_desa": village.region_code,
            "judul": "Data stunting",
            "pesan": "Mohon formatnya",
            "pengirim": "desa",
        },
        headers=use,
    )
    assert sent.get_json()["status"] == "success"
    thread = db.session.scalar(select(MessageThread))
    auth.login(REGION)
    listing = html_of(client.get("/kantor/opendk/pesan"))
    assert "Data stunting" in listing and "baru" in listing
    answer = auth.post(
        f"/kantor/opendk/pesan/{thread.id}/balas",
        {"text": "Format <b>terlampir</b> minggu depan."},
        form_page=f"/kantor/opendk/pesan/{thread.id}",
    )
    assert answer.status_code == 303
    last = db.session.scalar(select(func.max(Message.id)).where(Message.sender == "desa"))
    fetched = client.post(
        "/opendk/api/v1/pesan/getpesan", data={"kode_desa": village.region_code, "id": str(last)}, headers=use
    ).get_json()
    (detail,) = fetched["data"][0]["detail_pesan"]
    assert detail["pengirim"] == "kecamatan" and detail["nama_pengirim"] == "Kabupaten Pesawaran"
    assert detail["text"] == "Format &lt;b&gt;terlampir&lt;/b&gt; minggu depan."  # OpenSID shows it as HTML
    started = auth.post(
        f"/kantor/opendk/pesan/baru?desa={village.id}",
        {"title": "Undangan rapat", "text": "Rapat koordinasi Senin."},
        form_page=f"/kantor/opendk/pesan/baru?desa={village.id}",
    )
    assert started.status_code == 303
    fetched = client.post(
        "/opendk/api/v1/pesan/getpesan", data={"kode_desa": village.region_code, "id": "0"}, headers=use
    ).get_json()
    assert {t["judul"]: t["jenis"] for t in fetched["data"]} == {
        "Data stunting": "Pesan Masuk",
        "Undangan rapat": "Pesan Keluar",
    }
    auth.logout()
    auth.login(OPERATOR)
    assert "Data stunting" in html_of(client.get("/kantor/opendk/pesan"))
    assert (
        auth.post(
            f"/kantor/opendk/pesan/{thread.id}/balas", {"text": "x"}, form_page="/kantor/opendk/pesan"
        ).status_code
        == 403
    )
