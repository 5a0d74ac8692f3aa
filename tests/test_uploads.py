"""Stored photos nothing refers to (forms never sent, interrupted writes) are removed; the rest stay."""

from __future__ import annotations

import os
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from app import uploads
from app.domain.storage import PhotoStore
from app.extensions import db
from app.jobs import PERIODIC
from app.models import Attachment, ServiceRequest
from app.residents import intake
from tests.test_residents import _unescape, answers, form_page, hidden_fields, submit, village  # noqa: F401

OLD = time.time() - timedelta(days=4).total_seconds()


@pytest.fixture
def folder(app, tmp_path, monkeypatch):
    """The app's upload folder, empty, for this test alone."""
    monkeypatch.setitem(app.config, "UPLOAD_DIR", str(tmp_path / "uploads"))
    return tmp_path / "uploads"


def age(path: Path, when: float = OLD) -> Path:
    os.utime(path, (when, when))
    return path


def orphans(store: PhotoStore, count: int) -> list[Path]:
    return [age(store.path(store.save(b"x" * 10, ".jpg"))) for _ in range(count)]


def test_a_photo_from_a_form_never_sent_is_removed_once_old(client, village, folder):  # noqa: F811
    csrf, key = form_page(client)
    checked = client.post(
        "/desa/hanura/layanan/domisili", data=answers(csrf, key), content_type="multipart/form-data"
    )
    assert checked.status_code == 200  # the check step: photos stored, nothing saved yet
    left = [p for p in folder.rglob("*") if p.is_file()]
    assert len(left) == 2
    assert uploads.sweep_folder(str(folder)) == uploads.Swept(photos=0, leftovers=0, kept=0)
    assert all(p.exists() for p in left)  # still young: the form may yet be sent
    for path in left:
        age(path)
    assert uploads.sweep_folder(str(folder)).photos == 2
    assert not any(p.exists() for p in left)


def test_photos_of_sent_requests_stay(client, village, folder):  # noqa: F811
    assert submit(client).status_code == 303
    req = db.session.scalars(select(ServiceRequest)).one()
    store = PhotoStore(folder)
    kept = [age(store.path(a.stored_name)) for a in req.attachments]
    gone = orphans(store, 1)
    result = uploads.sweep_folder(str(folder))
    assert (result.photos, result.kept) == (1, 2)
    assert all(p.exists() for p in kept)
    assert not gone[0].exists()
    assert db.session.scalar(select(Attachment.id).limit(1)) is not None


def test_leftovers_of_interrupted_writes_are_removed_and_other_files_left_alone(app, folder):
    store = PhotoStore(folder)
    name = store.save(b"x", ".jpg")
    shard = store.path(name).parent
    leftover = shard / ".tmp-abc123.part"
    leftover.write_bytes(b"half")
    age(leftover)
    stranger = shard / "README.txt"  # not a name this store makes: never touched
    stranger.write_text("hi")
    age(stranger)
    result = uploads.sweep_folder(str(folder))
    assert result.leftovers == 1 and not leftover.exists()
    assert stranger.exists()


def test_the_sweep_refuses_when_the_database_seems_the_wrong_one(app, folder, runner):
    store = PhotoStore(folder)
    files = orphans(store, uploads.SUSPICIOUS_COUNT)
    result = uploads.sweep_folder(str(folder))
    assert result.refused and result.photos == uploads.SUSPICIOUS_COUNT
    assert all(p.exists() for p in files)  # nothing deleted
    refused = runner.invoke(args=["uploads", "sweep"])
    assert refused.exit_code != 0 and "--force" in refused.output
    assert all(p.exists() for p in files)
    forced = runner.invoke(args=["uploads", "sweep", "--force"])
    assert forced.exit_code == 0, forced.output
    assert not any(p.exists() for p in files)


def test_the_command_counts_without_deleting_on_a_dry_run(app, folder, runner):
    files = orphans(PhotoStore(folder), 3)
    result = runner.invoke(args=["uploads", "sweep", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "3 foto tanpa pemilik" in result.output and "akan dihapus" in result.output
    assert all(p.exists() for p in files)


def test_the_periodic_jobs_sweep_and_report(app, folder):
    orphans(PhotoStore(folder), 2)
    assert {"app.uploads.sweep", "app.uploads.sweep_all"} <= {p.path for p in PERIODIC}
    assert uploads.sweep()["photos"] == 0  # the hourly sweep reads only the last day's files
    assert uploads.sweep_all() == {"photos": 2, "leftovers": 0, "kept": 0, "refused": False}


HOURS_AGO_3 = time.time() - timedelta(hours=3).total_seconds()


def test_the_hourly_sweep_removes_the_photos_of_a_form_left_three_hours_ago(client, village, folder):  # noqa: F811
    # Issue 15, item 6: photos of forms never sent (a script's flood, or an ID photo of a form given
    # up) stay on disk for hours, not days.
    from croniter import croniter

    [job] = [p for p in PERIODIC if p.path == "app.uploads.sweep"]
    runs = croniter(job.cron, datetime.now()).all_next(float)
    assert next(runs) - time.time() <= 3600 and next(runs) - next(runs) <= 3600  # hourly
    csrf, key = form_page(client)
    checked = client.post(
        "/desa/hanura/layanan/domisili", data=answers(csrf, key), content_type="multipart/form-data"
    )
    assert checked.status_code == 200
    left = [p for p in folder.rglob("*") if p.is_file()]
    assert len(left) == 2
    for path in left:
        age(path, HOURS_AGO_3)
    assert uploads.sweep()["photos"] == 2
    assert not any(p.exists() for p in left)
    # The resident comes back to the form: the photos are asked for again, in plain words, and
    # nothing typed is lost.
    fields = _unescape(hidden_fields(checked.get_data(as_text=True)))
    sent = client.post("/desa/hanura/layanan/domisili", data={**fields, "step": "send"})
    html = sent.get_data(as_text=True)
    assert sent.status_code == 422
    assert "sudah tidak tersimpan karena formulir terlalu lama dibiarkan. Pilih fotonya lagi." in html
    assert 'value="Siti Wulandari"' in html
    assert db.session.scalar(select(ServiceRequest.id)) is None


def test_a_form_still_being_worked_on_keeps_its_photos(client, village, folder):  # noqa: F811
    csrf, key = form_page(client)
    checked = client.post(
        "/desa/hanura/layanan/domisili", data=answers(csrf, key), content_type="multipart/form-data"
    )
    left = [p for p in folder.rglob("*") if p.is_file()]
    for path in left:
        age(path, HOURS_AGO_3)
    # Another step with the kept photos (an edit, a correction): each step marks them as in use.
    fields = _unescape(hidden_fields(checked.get_data(as_text=True)))
    edited = client.post("/desa/hanura/layanan/domisili", data={**fields, "step": "edit"})
    assert edited.status_code == 200
    assert uploads.sweep()["photos"] == 0
    assert all(p.exists() for p in left)
    assert edited.get_data(as_text=True).count("Foto sudah diterima") == 2


def test_the_grace_period_outlives_a_kept_photo_token():
    assert uploads.GRACE.total_seconds() > intake.MAX_AGE
    assert timedelta(hours=6) >= uploads.GRACE  # hours, not days


def test_every_photo_the_demo_stores_is_known_to_the_sweep(app, folder, demo):
    # The demo stores every kind of photo (requests, products, projects): were a new kind of stored
    # file missing from REFERENCES, the sweep would delete it after three days.
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert len(files) > 10
    for path in files:
        age(path)
    result = uploads.sweep_folder(str(folder), dry_run=True)
    assert result.photos == 0 and result.kept == len(files)


def test_two_photos_over_the_body_limit_bring_the_form_back_with_the_answers_and_their_real_size(
    app, client, monkeypatch
):
    # Issue 14, item 12: 2 x 20 MB is over MAX_CONTENT_LENGTH (32 MB), yet no bare "Berkas terlalu besar".
    import io
    import os

    from werkzeug.datastructures import FileStorage
    from werkzeug.test import encode_multipart

    from app.tenancy import activate_village
    from tests.test_residents import answers, form_page

    activate_village("18.09.10.2004", slug="hanura", head_name="Sutarno")
    db.session.commit()
    stored_before = {p for p in Path(app.config["UPLOAD_DIR"]).rglob("*") if p.is_file()}
    csrf, key = form_page(client)
    big = b"\xff\xd8\xff\xe0" + os.urandom(20 * 1024 * 1024)
    data = answers(
        csrf,
        key,
        doc_ktp=(io.BytesIO(big), "ktp.jpg", "image/jpeg"),
        doc_kk=(io.BytesIO(big + os.urandom(2 * 1024 * 1024)), "kk.jpg", "image/jpeg"),
    )
    # Encoded in memory: the test client would spool a body this big to a file it never closes.
    fields = {
        k: FileStorage(v[0], filename=v[1], content_type=v[2]) if isinstance(v, tuple) else v
        for k, v in data.items()
    }
    boundary, body = encode_multipart(fields)
    response = client.post(
        "/desa/hanura/layanan/domisili", data=body, content_type=f"multipart/form-data; boundary={boundary}"
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Foto terlalu besar (20 MB). Batasnya 10 MB." in html
    assert "Foto terlalu besar (22 MB). Batasnya 10 MB." in html
    assert 'value="Siti Wulandari"' in html  # what was typed is still there
    # Nothing of the refused photos was kept beyond the cap while they streamed in.
    assert {p for p in Path(app.config["UPLOAD_DIR"]).rglob("*") if p.is_file()} == stored_before
