"""The OpenDK receiver, fed the bytes a real OpenSID v2410 sent, over a socket, to gunicorn.

Each capture in ../shared/opensid-sync/requests/ is replayed as it was recorded (only the request
target gains the /opendk prefix a village enters as its server), then the database is checked for
what was stored. The same web process serves every test of this module; tables are emptied between
tests as everywhere else.
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from app.domain import opensid
from app.domain.suppression import SHOWN, exposed
from app.extensions import db
from app.models import Role, User, Village
from app.models.population import (
    DONE,
    FAILED,
    FINISHED,
    UNCHANGED,
    AidProgramme,
    AidRecipient,
    Message,
    MessageThread,
    PopulationStat,
    PublishedStat,
    PublishState,
    Resident,
    SyncedProject,
    SyncedReport,
    SyncPush,
    SyncToken,
    VillageIdentity,
)
from app.models.profile import Project, ProjectPhoto
from app.population import tokens
from tests import opendk_support as sup
from tests.conftest import Config

TRIMULYO = "18.04.15.2004"


@pytest.fixture(scope="module")
def web(_app, tmp_path_factory):
    server = sup.Web(
        Config.SQLALCHEMY_DATABASE_URI, Config.UPLOAD_DIR, tmp_path_factory.mktemp("opendk")
    ).start()
    yield server
    server.stop()


def _village(code: str, slug: str, token: str) -> Village:
    from app.tenancy import activate_village

    village = activate_village(code, slug=slug)
    db.session.add(
        SyncToken(village_id=village.id, name="uji", digest=tokens.digest(token), prefix=token[:8])
    )
    return village


@pytest.fixture
def hanura(app):
    village = _village(sup.HANURA, "hanura", sup.TOKEN)
    user = User(email=sup.OPERATOR_EMAIL, name="Operator Hanura", role=Role.OPERATOR, village_id=village.id)
    user.set_password(sup.OPERATOR_PASSWORD)
    db.session.add(user)
    db.session.commit()
    return village


def settle(timeout: float = 90) -> None:
    """Wait until every push is read and every province published."""

    def done() -> bool:
        db.session.rollback()
        busy = db.session.scalar(
            select(func.count()).select_from(SyncPush).where(SyncPush.state.not_in(FINISHED))
        )
        behind = db.session.scalar(
            select(func.count())
            .select_from(PublishState)
            .where(PublishState.version > PublishState.published_version)
        )
        return busy == 0 and behind == 0

    sup.wait_until(done, timeout=timeout)


def replay(web, n: int, token: str | None = None) -> sup.Answer:
    raw = sup.capture(n)
    if token is not None:
        raw = raw.replace(b"Bearer test-token", b"Bearer " + token.encode())
    return sup.send_raw(web.port, sup.for_balai(raw))


def upload_files() -> set[Path]:
    return {p for p in Path(Config.UPLOAD_DIR).rglob("*") if p.is_file()}


EXPECTED = {
    1: 204,
    2: 200,
    25: 200,
    26: 200,
    27: 200,
    135: 200,
    136: 200,
    137: 200,
    138: 200,
    139: 200,
    140: 422,
    141: 200,
    142: 422,
    143: 200,
    144: 200,
    145: 200,
    146: 200,
    147: 200,
    148: 200,
    149: 200,
    150: 200,
    151: 200,
    152: 200,
    153: 200,
}


def _replay_everything(web) -> dict[int, sup.Answer]:
    answers = {}
    for n in sup.captured_numbers():
        answers[n] = replay(web, n)
        assert answers[n].status == EXPECTED[n], (
            n,
            answers[n].status,
            answers[n].body[:500],
            web.text()[-2000:],
        )
    return answers


def _check_what_was_stored(answers: dict[int, sup.Answer], village: Village, files_before: set[Path]) -> None:
    # Buat Key: the browser's preflight and login, answered with CORS
    preflight = answers[1]
    assert preflight.headers["access-control-allow-origin"] in ("*", "http://127.0.0.1:5201")
    assert "content-type" in preflight.headers["access-control-allow-headers"].lower()
    assert "POST" in preflight.headers["access-control-allow-methods"]
    login = answers[2]
    assert login.headers["access-control-allow-origin"] in ("*", "http://127.0.0.1:5201")
    new_token = login.json()["access_token"]
    assert new_token.startswith("opendk_")
    made = db.session.scalar(select(SyncToken).where(SyncToken.via == "login"))
    assert made.village_id == village.id and made.digest == tokens.digest(new_token)
    assert new_token not in json.dumps([t.prefix for t in db.session.scalars(select(SyncToken))])

    # every answer OpenSID reads is JSON with the status and message it shows
    for n in (137, 139, 144, 145, 146, 147, 149, 151):
        assert answers[n].json()["status"] == "success", (n, answers[n].body)
    assert "21 penduduk hidup dalam 2 keluarga" in answers[139].json()["message"]
    for n in (140, 142):  # the empty lists OpenSID's real button sends: refused with 422 so not marked "sent"
        body = answers[n].json()
        assert isinstance(body["errors"], dict) and body["message"]
    assert answers[152].json()["data"][0]["detail_pesan"][0]["text"] == "Baik, kepala desa akan hadir."
    assert answers[153].json() == {"status": "success", "data": []}

    # the register: 21 residents, coded values as OpenSID's tables say
    residents = {
        r.name: r for r in db.session.scalars(select(Resident).where(Resident.village_id == village.id))
    }
    assert len(residents) == 21
    budi = residents["BUDI SANTOSO"]
    assert (budi.nik, budi.kk, budi.external_id) == ("1809100101800002", "1809100101010001", "2")
    assert opensid.label("sex", budi.sex) == "LAKI-LAKI"
    assert opensid.label("religion", budi.religion) == "ISLAM"
    assert opensid.label("education", budi.education) == "SLTA / SEDERAJAT"
    assert opensid.label("occupation", budi.occupation) == "MENGURUS RUMAH TANGGA"
    assert opensid.label("marital", budi.marital) == "KAWIN"
    assert opensid.label("relation", budi.relation) == "SUAMI"
    assert (budi.dusun, budi.rw, budi.rt, budi.birth_place) == ("Dusun I", "001", "001", "PESAWARAN")
    assert str(budi.birth_date) == "1980-01-01"
    assert opensid.label("citizenship", residents["TAN WEI LIANG"].citizenship) == "WNA"
    assert opensid.label("religion", residents["TAN WEI LIANG"].religion) == "BUDHA"
    assert residents["YOHANES SIMANJUNTAK"].education_now == 17
    stats = {(s.dimension, s.key): s.n for s in db.session.scalars(select(PopulationStat))}
    assert stats["total", ""] == 21 and stats["households", ""] == 2
    assert (stats["sex", "L"], stats["sex", "P"]) == (11, 10)

    # published: no count from 1 to 4 is shown anywhere, and no sum gives one back
    from app.stats.population import equations, province_values

    people, _docs, _codes = province_values("18")
    marks = {
        (r.region_code, r.dimension, r.key): r.mark
        for r in db.session.scalars(
            select(PublishedStat).where(PublishedStat.dimension.not_in(("programmes", "projects", "apbdes")))
        )
    }
    for cell, n in people.items():
        assert cell in marks
        assert not (0 < n < 5 and marks[cell] == SHOWN), cell
    assert exposed(people, equations(people), marks) == []
    assert db.session.get(PublishedStat, (sup.HANURA, "total", "")).n == 21

    # the rest of the sync
    identity = db.session.get(VillageIdentity, village.id)
    assert identity.website == "http://127.0.0.1:5201/" and identity.boundary[0][0] == [-5.5281, 105.2239]
    link = db.session.scalar(select(SyncedProject))
    project = db.session.get(Project, link.project_id)
    assert project.name == "Pembangunan Jalan Rabat Beton Dusun II"
    assert (project.year, project.budget, project.progress) == (2026, 180_000_000, 50)
    assert project.location == "Dusun Dusun II - Rw 002/RT 002"
    photos = db.session.scalars(select(ProjectPhoto).where(ProjectPhoto.project_id == project.id)).all()
    assert len(photos) == 2 and {p.caption for p in photos} >= {"Pengecoran 125 meter pertama selesai"}
    # Only the two progress photos were kept (each with its thumbnail); never a resident's photo.
    new_files = upload_files() - files_before
    assert {p.name for p in new_files} == {n for p in photos for n in (p.stored_name, p.small_name)}
    reports = {r.kind: r for r in db.session.scalars(select(SyncedReport))}
    assert reports["penduduk"].period == 11 and reports["penduduk"].pdf.startswith(b"%PDF-1.4")
    assert (
        reports["apbdes"].title == "Laporan Realisasi APBDes Semester I 2026"
        and reports["apbdes"].period == 1
    )
    programmes = {p.name: p for p in db.session.scalars(select(AidProgramme))}
    blt, pkh = programmes["BLT Dana Desa 2026"], programmes["PKH Keluarga"]
    # The shifted columns: status and asaldana after the empty userid.
    assert (blt.active, blt.fund, blt.target) == (True, "Dana Desa", 1)
    assert (pkh.active, pkh.fund, pkh.target) == (False, "Pusat", 2)
    recipients = db.session.scalars(select(AidRecipient).order_by(AidRecipient.external_id)).all()
    assert [(r.ident, r.target) for r in recipients] == [
        ("1809100707500007", 1),
        ("1809100202020002", 2),
        ("1809100202020002", 2),
    ] or len(recipients) == 3
    thread = db.session.scalar(select(MessageThread))
    assert thread.title == "Permohonan data stunting" and thread.village_id == village.id
    texts = [m.text for m in db.session.scalars(select(Message).order_by(Message.id))]
    assert texts == [
        "Mohon kirimkan format laporan stunting terbaru.\nTerima kasih.",
        "Baik, kepala desa akan hadir.",
    ]

    # the push log: one row per push, with the module, rows and what went wrong
    log = {(p.module, p.state) for p in db.session.scalars(select(SyncPush))}
    assert {
        ("penduduk", DONE),
        ("identitas-desa", DONE),
        ("laporan-penduduk", FAILED),
        ("laporan-penduduk", DONE),
        ("laporan-apbdes", FAILED),
        ("laporan-apbdes", DONE),
        ("pembangunan", UNCHANGED),  # N=027: OpenSID's incremental run sends the header only
        ("pembangunan", DONE),
        ("pembangunan-dokumentasi", DONE),
        ("program-bantuan", DONE),
        ("program-bantuan-peserta", DONE),
    } <= log
    assert (
        db.session.scalar(select(func.count()).select_from(SyncPush).where(SyncPush.payload.is_not(None)))
        == 0
    )


def test_the_captured_sync_replayed_byte_for_byte_is_stored(web, hanura):
    files_before = upload_files()
    answers = _replay_everything(web)
    settle()
    _check_what_was_stored(answers, db.session.get(Village, hanura.id), files_before)


@pytest.fixture(scope="module")
def web_rq(_app, redis_url, tmp_path_factory):
    """gunicorn handing the jobs to Redis, and a `jobs worker` reading them, as in production."""
    import os
    import subprocess
    import sys

    from redis import Redis

    Redis.from_url(redis_url).flushdb()
    folder = tmp_path_factory.mktemp("opendk-rq")
    server = sup.Web(Config.SQLALCHEMY_DATABASE_URI, Config.UPLOAD_DIR, folder, REDIS_URL=redis_url).start()
    env = {**server.env, "REDIS_URL": redis_url}
    log = open(folder / "worker.log", "wb")  # noqa: SIM115  (closed below)
    worker = subprocess.Popen(
        [str(Path(sys.executable).parent / "flask"), "--app", "wsgi", "jobs", "worker"],
        cwd=sup.ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    yield server
    import signal

    os.killpg(worker.pid, signal.SIGTERM)
    try:
        worker.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
    log.close()
    server.stop()
    Redis.from_url(redis_url).flushdb()


@pytest.mark.redis
def test_the_captured_sync_is_read_by_rq_workers_as_in_production(web_rq, hanura):
    files_before = upload_files()
    answers = _replay_everything(web_rq)
    settle()
    _check_what_was_stored(answers, db.session.get(Village, hanura.id), files_before)


def test_the_same_push_twice_changes_nothing(web, hanura):
    replay(web, 138)
    first = replay(web, 139)
    settle()
    before = [
        (r.id, r.nik, r.name, r.occupation)
        for r in db.session.scalars(select(Resident).order_by(Resident.id))
    ]
    stats_before = sorted((s.dimension, s.key, s.n) for s in db.session.scalars(select(PopulationStat)))
    published_before = sorted(
        (p.region_code, p.dimension, p.key, p.n, p.mark) for p in db.session.scalars(select(PublishedStat))
    )
    replay(web, 138)
    second = replay(web, 139)
    settle()
    assert "21 penduduk" in first.json()["message"]
    assert (
        second.json()["status"] == "success" and "sama dengan kiriman sebelumnya" in second.json()["message"]
    )
    assert [
        (r.id, r.nik, r.name, r.occupation)
        for r in db.session.scalars(select(Resident).order_by(Resident.id))
    ] == before
    assert (
        sorted((s.dimension, s.key, s.n) for s in db.session.scalars(select(PopulationStat))) == stats_before
    )
    assert (
        sorted(
            (p.region_code, p.dimension, p.key, p.n, p.mark)
            for p in db.session.scalars(select(PublishedStat))
        )
        == published_before
    )
    states = [
        p.state
        for p in db.session.scalars(
            select(SyncPush).where(SyncPush.module == "penduduk").order_by(SyncPush.id)
        )
    ]
    assert states == [DONE, UNCHANGED]
    # The documents too: the same reports, programme and project again change nothing.
    for n in (141, 144, 145, 146, 147):
        replay(web, n)
    settle()
    counts = [
        db.session.scalar(select(func.count()).select_from(m))
        for m in (SyncedReport, Project, ProjectPhoto, AidProgramme, AidRecipient)
    ]
    for n in (141, 144, 145, 146, 147):
        replay(web, n)
    settle()
    assert [
        db.session.scalar(select(func.count()).select_from(m))
        for m in (SyncedReport, Project, ProjectPhoto, AidProgramme, AidRecipient)
    ] == counts


def test_a_token_of_one_village_never_writes_another(web, hanura):
    trimulyo = _village(TRIMULYO, "trimulyo", "token-trimulyo")
    db.session.commit()
    # The resident sheet says 18.09.10.2004: Trimulyo's token may not store it, for itself or for Hanura.
    assert replay(web, 138, token="token-trimulyo").status == 200
    answer = replay(web, 139, token="token-trimulyo")
    settle()
    assert answer.status == 200 and answer.json()["status"] == "danger"
    assert "18.09.10.2004" in answer.json()["message"] and TRIMULYO in answer.json()["message"]
    assert db.session.scalar(select(func.count()).select_from(Resident)) == 0
    push = db.session.scalar(
        select(SyncPush).where(SyncPush.village_id == trimulyo.id, SyncPush.module == "penduduk")
    )
    assert push.state == FAILED and push.errors[0]["m"] == opensid.OTHER_VILLAGE
    # Guzzle calls naming another village are refused with a message OpenSID shows.
    for n in (137, 144, 146, 149, 152, 153):
        refused = replay(web, n, token="token-trimulyo")
        assert refused.status == 403, (n, refused.body)
        assert TRIMULYO in refused.json()["message"]
    for n in (141, 143):  # laporan: a 422, so OpenSID does not mark them sent
        assert replay(web, n, token="token-trimulyo").status == 422
    assert replay(web, 149).status == 200  # Hanura opens a thread
    thread = db.session.scalar(select(MessageThread))
    reply = sup.guzzle_form(
        "/opendk/api/v1/pesan",
        "token-trimulyo",
        f"pesan_id={thread.id}&pesan=menyusup&kode_desa={TRIMULYO}&pengirim=desa",
    )
    answer = sup.send_raw(web.port, reply)
    assert answer.status == 200 and answer.json()["status"] is False
    settle()
    assert [m.text for m in db.session.scalars(select(Message))] == [
        "Mohon kirimkan format laporan stunting terbaru.\nTerima kasih."
    ]
    assert db.session.scalar(select(func.count()).select_from(Project)) == 0


def test_an_unknown_or_revoked_token_is_refused_in_the_shape_each_call_expects(web, hanura):
    for n, status in ((138, 401), (139, 401), (141, 422), (144, 401), (149, 401), (152, 401)):
        answer = replay(web, n, token="bukan-token")
        assert answer.status == status, (n, answer.status)
        body = answer.json()
        assert body["status"] == "danger" and "Token OpenDK" in body["message"]
        if n == 139:
            assert not isinstance(body.get("errors"), dict)  # OpenSID crashes on an errors object there
    token = db.session.scalar(select(SyncToken).where(SyncToken.village_id == hanura.id))
    tokens.revoke(token)
    db.session.commit()
    assert replay(web, 137).status == 401


def _big_zip(members: dict[str, bytes], size: int) -> bytes:
    """A zip of at least ``size`` bytes: the members plus a photo-sized blob that does not compress."""
    import os as _os

    return sup.make_zip({**members, "kecil_foto_besar.jpg": _os.urandom(size)})


def test_bodies_over_a_mebibyte_wait_for_100_continue_from_curl_and_guzzle(web, hanura):
    name, xlsx = sup.captured_xlsx()
    big = _big_zip({name: xlsx}, 1_500_000)
    storedata = sup.curl_multipart(
        "/opendk/api/v1/penduduk/storedata",
        sup.TOKEN,
        "desa/upload/sinkronisasi/" + name.replace(".xlsx", ".zip"),
        big,
        expect=True,
    )
    answer = sup.send_raw(web.port, storedata, wait_for_continue=True)
    assert answer.interim == [100] and answer.status == 200, answer.body
    project_zip = sup.captured_zip(144)
    archive = zipfile.ZipFile(io.BytesIO(project_zip))
    bigger = _big_zip({n: archive.read(n) for n in archive.namelist()}, 1_500_000)
    pembangunan = sup.guzzle_multipart(
        "/opendk/api/v1/pembangunan",
        sup.TOKEN,
        "pembangunan_03_12_2026_opendk.zip",
        bigger,
        sup.HANURA,
        expect=True,
    )
    answer = sup.send_raw(web.port, pembangunan, wait_for_continue=True)
    assert answer.interim == [100] and answer.status == 200, answer.body
    settle()
    assert db.session.scalar(select(func.count()).select_from(Resident)) == 21
    assert db.session.scalar(select(func.count()).select_from(SyncedProject)) == 1


def _storedata(web, data: bytes, filename: str = "penduduk_03_12_2026_opendk.zip") -> sup.Answer:
    raw = sup.curl_multipart(
        "/opendk/api/v1/penduduk/storedata", sup.TOKEN, "desa/upload/sinkronisasi/" + filename, data
    )
    return sup.send_raw(web.port, raw)


def test_hostile_zips_are_refused_and_logged_without_storing_anything(web, hanura):
    name, xlsx = sup.captured_xlsx()
    slip = sup.make_zip({"../../../etc/" + name: xlsx})
    bomb = sup.make_zip({name: b"\0" * 30_000_000})
    not_zip = b"%PDF-1.4 not a zip"
    no_xlsx = sup.make_zip({"kecil_foto_budi.jpg": b"\xff\xd8\xff"})
    for data in (slip, bomb, not_zip, no_xlsx):
        answer = _storedata(web, data)
        assert answer.status == 400, answer.body  # never a 422 with an errors object on penduduk
        assert answer.json()["status"] == "danger"
    refused = sup.send_raw(
        web.port, sup.guzzle_multipart("/opendk/api/v1/pembangunan", sup.TOKEN, "x.zip", slip, sup.HANURA)
    )
    assert refused.status == 422 and "file" in refused.json()["errors"]
    settle()
    assert db.session.scalar(select(func.count()).select_from(Resident)) == 0
    failed = db.session.scalars(select(SyncPush).order_by(SyncPush.id)).all()
    assert [p.errors[0]["m"] for p in failed] == [
        opensid.UNSAFE_ZIP,
        opensid.ZIP_BOMB,
        opensid.NOT_ZIP,
        opensid.NO_XLSX,
        opensid.UNSAFE_ZIP,
    ]
    assert all(p.state == FAILED and p.payload is None for p in failed)


def test_a_push_that_fails_half_way_leaves_the_previous_register_intact(web, hanura, app):
    replay(web, 138)
    replay(web, 139)
    settle()
    before = sorted((r.nik, r.name) for r in db.session.scalars(select(Resident)))
    # The next sheet changes every name, and the database refuses one of its rows half way through.
    header, rows = sup.xlsx_rows()
    name_at = header.index("nama")
    for row in rows:
        row[name_at] = row[name_at] + " BARU"
    rows[15][name_at] = "GAGAL DISIMPAN"
    postgres = db.engine.dialect.name == "postgresql"
    statements = (
        [
            "CREATE OR REPLACE FUNCTION refuse_resident() RETURNS trigger AS $$ BEGIN "
            "RAISE EXCEPTION 'ditolak'; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER refuse_resident BEFORE INSERT ON residents FOR EACH ROW "
            "WHEN (NEW.name = 'GAGAL DISIMPAN') EXECUTE FUNCTION refuse_resident()",
        ]
        if postgres
        else [
            "CREATE TRIGGER refuse_resident BEFORE INSERT ON residents WHEN NEW.name = 'GAGAL DISIMPAN' "
            "BEGIN SELECT RAISE(ABORT, 'ditolak'); END"
        ]
    )
    for statement in statements:
        db.session.execute(text(statement))
    db.session.commit()
    try:
        answer = _storedata(
            web, sup.make_zip({"penduduk_03_12_2026_opendk.xlsx": sup.make_xlsx(header, rows)})
        )
        assert answer.status == 200
        push_id = db.session.scalar(select(func.max(SyncPush.id)))

        def tried() -> bool:
            db.session.rollback()
            push = db.session.get(SyncPush, push_id)
            return push.attempts >= 1 and push.state != "processing"

        sup.wait_until(tried)
        db.session.rollback()
        assert sorted((r.nik, r.name) for r in db.session.scalars(select(Resident))) == before
        # Tried again until it gives up: still nothing half-stored, and the log says so.
        from app.population import pushes

        for _ in range(3):
            pushes.process_village(hanura.id)
        push = db.session.get(SyncPush, push_id)
        assert push.state == FAILED and push.errors[0]["m"] == pushes.INTERNAL
        assert sorted((r.nik, r.name) for r in db.session.scalars(select(Resident))) == before
    finally:
        db.session.rollback()
        db.session.execute(
            text("DROP TRIGGER IF EXISTS refuse_resident" + (" ON residents" if postgres else ""))
        )
        db.session.commit()


def test_penduduk_deletions_remove_only_this_villages_residents(web, hanura):
    replay(web, 138)
    replay(web, 139)
    settle()
    gone = sup.curl_json(
        "/opendk/api/v1/penduduk",
        sup.TOKEN,
        {"hapus_penduduk": [{"desa_id": sup.HANURA, "id_pend_desa": "2", "foto": "foto_budi.jpg"}]},
    )
    answer = sup.send_raw(web.port, gone)
    settle()
    assert answer.status == 200 and "1 penghapusan" in answer.json()["message"]
    names = {r.name for r in db.session.scalars(select(Resident))}
    assert "BUDI SANTOSO" not in names and len(names) == 20
    assert db.session.scalar(select(PopulationStat.n).where(PopulationStat.dimension == "total")) == 20
    other = sup.curl_json(
        "/opendk/api/v1/penduduk", sup.TOKEN, {"hapus_penduduk": [{"desa_id": TRIMULYO, "id_pend_desa": "3"}]}
    )
    refused = sup.send_raw(web.port, other)
    assert refused.status == 403 and not isinstance(refused.json().get("errors"), dict)
    time.sleep(0.2)
    assert len({r.name for r in db.session.scalars(select(Resident))}) == 20


def test_the_receiver_is_rate_limited_per_token_and_per_address(app, client, hanura, monkeypatch):
    monkeypatch.setitem(app.config, "OPENDK_TOKEN_LIMIT", "3 per minute")
    url = f"/opendk/api/v1/surat?desa_id={sup.HANURA}"
    use = {"Authorization": f"Bearer {sup.TOKEN}"}
    assert [client.get(url, headers=use).status_code for _ in range(3)] == [200, 200, 200]
    limited = client.get(url, headers=use)
    assert limited.status_code == 429
    assert limited.get_json()["status"] == "danger" and "Terlalu sering" in limited.get_json()["message"]
    monkeypatch.setitem(app.config, "LOGIN_RATE_LIMIT", "2 per minute")
    body = {"email": sup.OPERATOR_EMAIL, "password": "salah"}
    answers = [client.post("/opendk/api/v1/auth/login", json=body) for _ in range(3)]
    assert [a.status_code for a in answers] == [401, 401, 429]
    assert answers[-1].headers["Access-Control-Allow-Origin"] == "*"  # the browser can read why
