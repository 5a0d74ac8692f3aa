"""Letters: numbering that never repeats or skips, the head's approval, the PDF, its QR and verification."""

from __future__ import annotations

import hashlib
import re
import threading

import pytest
from sqlalchemy import select

from app import letters, workflow
from app.domain import states
from app.domain.errors import DomainError
from app.domain.letters import to_roman_month
from app.domain.nik import mask_nik
from app.domain.templating import render_text
from app.extensions import db
from app.models import ServiceRequest, User
from app.models.letters import ISSUED, Letter, LetterCounter, VillageLetterSettings
from tests.test_officials import act, advance, make_request, make_service, user, village

URI = re.compile(rb"/URI \((http[^)]+)\)")


@pytest.fixture
def hanura(demo):
    v = village("hanura")
    return v, make_service(v)


def _ready(v, service, **kw) -> ServiceRequest:
    return advance(make_request(v, service, **kw), "verify", "start")


def _roman_now() -> tuple[str, int]:
    today = workflow.local_today()
    return to_roman_month(today.month), today.year


def test_marking_a_letter_ready_issues_a_numbered_pdf_whose_qr_opens_the_verification_page(
    client, auth, hanura
):
    v, service = hanura
    req = _ready(v, service)
    auth.login("operator.hanura@balai.test")
    response = act(auth, req.id, "mark_ready", req.version)
    assert response.status_code == 303
    letter = letters.letter_for(req.id)
    roman, year = _roman_now()
    assert letter.state == ISSUED and letter.number == f"470/001/HNR/{roman}/{year}"
    assert db.session.get(ServiceRequest, req.id).status == states.SIAP_DIAMBIL
    assert letter.pdf.startswith(b"%PDF") and hashlib.sha256(letter.pdf).hexdigest() == letter.sha256
    assert "Siti Wulandari" in letter.body and "Dusun II RT 03" in letter.body

    url = URI.search(letter.pdf).group(1).decode()
    assert url.startswith("http://balai.test/verifikasi/")
    token = url.rsplit("/", 1)[1]
    assert len(token) >= 43 and letter.token_hash != token  # 256 random bits; only a digest is stored
    auth.logout()
    page = client.get(f"/verifikasi/{token}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert letter.number.replace("/", "/<wbr>") in html and letter.sha256 in html and "Desa Hanura" in html
    # What a verifier matches against the paper: the full name as printed, the NIK masked, and who
    # really acted (here an operator, in a village that asks no head's approval).
    assert "Siti Wulandari" in html and req.nik not in html and mask_nik(req.nik) in html
    assert "Diterbitkan di Balai oleh" in html and "Tidak ada persetujuan Kepala Desa di Balai." in html
    assert "Disetujui di Balai oleh" not in html
    assert client.get(f"/verifikasi/{token[:-1]}x").status_code == 404
    assert client.get(f"/verifikasi/{letter.id}").status_code == 404

    auth.login("operator.hanura@balai.test")
    pdf = client.get(f"/kantor/permohonan/{req.id}/surat.pdf")
    assert pdf.data == letter.pdf and pdf.headers["Cache-Control"] == "private, no-store"


def test_the_resident_downloads_the_final_pdf_only_through_the_private_link(client, hanura):
    v, service = hanura
    submitted = workflow.submit_request(
        v,
        service,
        nik="1809104506900001",
        name="Siti",
        phone=None,
        idempotency_key="k-1",
        data={"alamat": "X"},
    )
    db.session.commit()
    req = submitted.request
    link = f"/permohonan/{submitted.fix_token}/surat.pdf"
    assert client.get(link).status_code == 404  # not issued yet
    advance(req, "verify", "start")
    letters.issue(
        req,
        user("operator.hanura@balai.test"),
        expected_version=req.version,
        note=None,
        base_url="http://balai.test",
        upload_dir="/nonexistent",
    )
    db.session.commit()
    response = client.get(link)
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.data == letters.letter_for(req.id).pdf
    assert response.headers["Cache-Control"] == "private, no-store"
    assert client.get("/permohonan/not-the-token/surat.pdf").status_code == 404


def test_the_draft_has_no_number_and_no_qr(app, client, auth, hanura):
    v, service = hanura
    req = _ready(v, service)
    draft = letters.draft_pdf(req, user("operator.hanura@balai.test"), upload_dir=app.config["UPLOAD_DIR"])
    assert draft.startswith(b"%PDF") and URI.search(draft) is None
    auth.login("operator.hanura@balai.test")
    response = client.get(f"/kantor/permohonan/{req.id}/surat-draf.pdf")
    assert response.status_code == 200 and URI.search(response.data) is None
    assert db.session.scalar(select(LetterCounter)) is None


def test_where_the_village_requires_it_the_head_approves_before_the_number_is_given(client, auth, hanura):
    v, service = hanura
    db.session.add(VillageLetterSettings(village_id=v.id, require_head_approval=True))
    db.session.commit()
    req = _ready(v, service)
    auth.login("operator.hanura@balai.test")
    assert "Ajukan surat ke Kepala Desa" in client.get(f"/kantor/permohonan/{req.id}").get_data(as_text=True)
    assert act(auth, req.id, "mark_ready", req.version).status_code == 303
    db.session.expire_all()
    req = db.session.get(ServiceRequest, req.id)
    letter = letters.letter_for(req.id)
    assert req.status == states.DIPROSES and letter.state != ISSUED and letter.number is None
    page = client.get(f"/kantor/permohonan/{req.id}").get_data(as_text=True)
    assert "Menunggu persetujuan" in page and 'value="mark_ready"' not in page
    again = act(auth, req.id, "mark_ready", req.version)
    assert again.status_code == 422
    assert db.session.scalar(select(LetterCounter)) is None
    auth.logout()

    auth.login("kades.hanura@balai.test")
    home = client.get("/kantor/").get_data(as_text=True)
    assert re.search(r"<b>1</b>Surat menunggu persetujuan", home)
    assert "Setujui dan terbitkan surat" in client.get(f"/kantor/permohonan/{req.id}").get_data(as_text=True)
    assert act(auth, req.id, "mark_ready", req.version).status_code == 303
    db.session.expire_all()
    letter = letters.letter_for(req.id)
    assert letter.state == ISSUED and letter.number.startswith("470/001/")
    assert letter.approved_by_id == user("kades.hanura@balai.test").id
    assert letter.requested_by_id == user("operator.hanura@balai.test").id
    assert db.session.get(ServiceRequest, req.id).status == states.SIAP_DIAMBIL
    token = URI.search(letter.pdf).group(1).decode().rsplit("/", 1)[1]
    verified = client.get(f"/verifikasi/{token}").get_data(as_text=True)
    head = user("kades.hanura@balai.test")
    assert f'Disetujui di Balai oleh</dt><dd id="penyetuju">{head.name}, Kepala Desa' in verified


def test_numbers_count_per_letter_type_by_default_or_across_the_village(hanura):
    v, service = hanura
    other = make_service(v, code="uji-dua", name="Surat Kedua")
    operator = user("operator.hanura@balai.test")

    def issue(svc):
        req = _ready(v, svc)
        letter = letters.issue(
            req, operator, expected_version=req.version, note=None, base_url="http://x", upload_dir="/x"
        )
        db.session.commit()
        return letter.seq

    assert [issue(service), issue(other), issue(service)] == [1, 1, 2]
    db.session.add(VillageLetterSettings(village_id=v.id, numbering_mode="village"))
    db.session.commit()
    assert [issue(other), issue(service)] == [1, 2]


def test_a_rolled_back_issue_gives_its_number_back(hanura):
    v, service = hanura
    today = workflow.local_today()
    assert letters.next_number(v, service, today)[2] == 1
    db.session.rollback()
    assert letters.next_number(v, service, today)[2] == 1
    db.session.commit()
    assert letters.next_number(v, service, today)[2] == 2


def test_a_stale_mark_ready_uses_no_number(client, auth, hanura):
    v, service = hanura
    req = _ready(v, service)
    auth.login("operator.hanura@balai.test")
    response = act(auth, req.id, "mark_ready", req.version - 1)
    assert response.status_code == 409
    assert db.session.scalar(select(LetterCounter)) is None
    assert letters.letter_for(req.id) is None


def test_a_template_cannot_run_code_and_values_are_inserted_literally(hanura):
    _, service = hanura
    for template in ("{% for x in y %}", "{{ nama.__class__ }}", "{{ nama|e }}", "{{ self }}", "{# x #}"):
        with pytest.raises(DomainError):
            letters.check_template(service, template)
    letters.check_template(service, "{{ nama }} di {{ alamat }}, {{ desa }}")
    assert render_text("{{ nama }}", {"nama": "{{ nik }}"}) == "{{ nik }}"


def test_numbers_never_repeat_or_skip_when_officials_issue_at_the_same_moment(app, hanura):
    v, service = hanura
    count = 12
    requests = [_ready(v, service, name=f"Warga {i}").id for i in range(count)]
    operator_id = user("operator.hanura@balai.test").id
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []

    def worker(request_id: int) -> None:
        with app.app_context():
            try:
                req = db.session.get(ServiceRequest, request_id)
                actor = db.session.get(User, operator_id)
                barrier.wait(timeout=30)
                letters.issue(
                    req,
                    actor,
                    expected_version=req.version,
                    note=None,
                    base_url="http://balai.test",
                    upload_dir=app.config["UPLOAD_DIR"],
                )
                db.session.commit()
            except BaseException as exc:  # reported below, with the thread's traceback
                errors.append(exc)
                db.session.rollback()
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker, args=(rid,)) for rid in requests]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    db.session.expire_all()
    seqs = sorted(db.session.scalars(select(Letter.seq).where(Letter.village_id == v.id)))
    assert seqs == list(range(1, count + 1))
    numbers = db.session.scalars(select(Letter.number)).all()
    assert len(set(numbers)) == count
    counter = db.session.scalar(select(LetterCounter))
    assert counter.last_seq == count


# ---------------------------------------------------------------- who may relax the head's approval


def _settings_post(auth, data: dict, url: str = "/kantor/pengaturan-surat"):
    return auth.post(url, data=data, form_page=url)


def _approval_required(v) -> bool:
    db.session.expire_all()
    return letters.settings_for(v.id).require_head_approval


def test_an_operator_posting_directly_cannot_switch_off_the_heads_approval(client, auth, hanura):
    v, service = hanura
    letters.change_settings(v, user("kades.hanura@balai.test"), require_head_approval=True)
    db.session.commit()
    auth.login("operator.hanura@balai.test")
    page = client.get("/kantor/pengaturan-surat").get_data(as_text=True)
    assert 'value="tidak"' not in page and "Hanya Kepala Desa atau admin" in page

    # The attack: the form the operator's page does not offer, posted by hand, with a new pattern too.
    response = _settings_post(
        auth,
        {
            "numbering_mode": "per_type",
            "number_pattern": "{nomor}/X/{tahun}",
            "require_head_approval": "tidak",
        },
    )
    assert response.status_code == 403
    assert "Hanya Kepala Desa atau admin wilayah" in response.get_data(as_text=True)
    assert _approval_required(v)
    assert letters.settings_for(v.id).number_pattern != "{nomor}/X/{tahun}"  # refused as a whole
    assert [c.new_value for c in letters.setting_history(v.id)] == ["ya"]  # only the head's change

    # So the operator can only put the letter before the head: no number, no signature.
    req = _ready(v, service)
    assert act(auth, req.id, "mark_ready", req.version).status_code == 303
    letter = letters.letter_for(req.id)
    assert letter.state != ISSUED and letter.number is None and letter.signer_name == ""


def test_the_head_switches_the_approval_off_and_each_change_is_recorded(client, auth, hanura):
    v, _ = hanura
    head = user("kades.hanura@balai.test")
    letters.change_settings(v, user("operator.hanura@balai.test"), require_head_approval=True)
    db.session.commit()
    auth.login("kades.hanura@balai.test")
    assert 'value="tidak"' in client.get("/kantor/pengaturan-surat").get_data(as_text=True)
    response = _settings_post(
        auth,
        {
            "numbering_mode": "per_type",
            "number_pattern": "470/{nomor}/{tahun}",
            "require_head_approval": "tidak",
        },
    )
    assert response.status_code == 303
    assert not _approval_required(v)
    trail = letters.setting_history(v.id)
    assert {(c.setting, c.old_value, c.new_value, c.changed_by_name) for c in trail[:2]} == {
        ("require_head_approval", "ya", "tidak", head.name),
        ("number_pattern", letters.DEFAULT_PATTERN, "470/{nomor}/{tahun}", head.name),
    }
    assert trail[-1].changed_by_id == user("operator.hanura@balai.test").id and trail[-1].new_value == "ya"
    assert all(c.changed_at is not None and c.changed_by_role for c in trail)
    page = client.get("/kantor/pengaturan-surat").get_data(as_text=True)
    assert "Riwayat perubahan" in page and head.name in page and "tidak wajib" in page


def test_an_admin_of_the_region_may_switch_it_off_one_of_another_region_may_not(client, auth, hanura):
    v, _ = hanura
    letters.change_settings(v, user("kades.hanura@balai.test"), require_head_approval=True)
    db.session.commit()
    url = f"/kantor/pengaturan-surat?desa={v.id}"
    auth.login("lambar@balai.test")  # Lampung Barat: Hanura lies in Pesawaran
    assert client.get(url).status_code == 404
    assert _settings_post(auth, {"require_head_approval": "tidak"}, url=url).status_code == 404
    assert _approval_required(v)
    auth.logout()
    auth.login("pesawaran@balai.test")
    page = client.get(url).get_data(as_text=True)
    assert 'name="number_pattern"' not in page  # numbering stays the village's own business
    response = _settings_post(auth, {"require_head_approval": "tidak", "number_pattern": "X{nomor}"}, url=url)
    assert response.status_code == 303
    assert not _approval_required(v)
    assert letters.settings_for(v.id).number_pattern == letters.DEFAULT_PATTERN
    assert letters.setting_history(v.id)[0].changed_by_name == user("pesawaran@balai.test").name


def test_approval_cannot_be_required_where_no_head_could_give_it(client, auth, hanura):
    v, _ = hanura
    head = user("kades.hanura@balai.test")
    head.active = False
    db.session.commit()
    auth.login("operator.hanura@balai.test")
    response = _settings_post(
        auth,
        {
            "numbering_mode": "per_type",
            "number_pattern": letters.DEFAULT_PATTERN,
            "require_head_approval": "ya",
        },
    )
    assert response.status_code == 403
    assert "belum punya akun Kepala Desa yang aktif" in response.get_data(as_text=True)
    assert not _approval_required(v)


def test_a_letter_bears_as_signer_only_the_official_who_issued_or_approved_it(client, auth, hanura):
    v, service = hanura
    operator, head = user("operator.hanura@balai.test"), user("kades.hanura@balai.test")

    def issue(actor):
        req = _ready(v, service)
        letter = letters.issue(
            req, actor, expected_version=req.version, note=None, base_url="http://balai.test", upload_dir="/x"
        )
        db.session.commit()
        return letter

    by_operator = issue(operator)
    assert by_operator.signer_name == operator.name != head.name
    assert by_operator.signer_title == "a.n. Kepala Desa Hanura"
    assert by_operator.approved_by_id is None
    by_head = issue(head)
    assert (by_head.signer_name, by_head.signer_title) == (head.name, "Kepala Desa Hanura")
    assert by_head.approved_by_id == head.id

    token = URI.search(by_operator.pdf).group(1).decode().rsplit("/", 1)[1]
    html = client.get(f"/verifikasi/{token}").get_data(as_text=True)
    assert f"a.n. Kepala Desa Hanura, {operator.name}" in html and head.name not in html
