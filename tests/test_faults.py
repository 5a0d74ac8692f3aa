"""Faults: the database gone, Redis gone, the disk full. Residents lose nothing and see a plain page.

A worker killed mid-job is tried with real rq worker processes in
tests/test_notifications_rq.py (test_a_worker_killed_mid_job_still_delivers_exactly_once).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Attachment, ServiceRequest
from tests.test_residents import answers, form_page, submit

# --- the database --------------------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def dead_db_app(tmp_path):
    from app import create_app
    from tests.conftest import Config

    class DeadDatabase(Config):
        # Nothing listens there: every connection is refused at once.
        SQLALCHEMY_DATABASE_URI = f"postgresql+psycopg://balai@127.0.0.1:{_closed_port()}/balai"
        SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True, "connect_args": {"connect_timeout": 2}}
        UPLOAD_DIR = str(tmp_path / "uploads")

    app = create_app(DeadDatabase)
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.mark.parametrize(
    "path", ["/desa/hanura/layanan", "/lacak/7KQ2-MX9D-4T", "/produk", "/desa/hanura/", "/kantor/"]
)
def test_with_the_database_down_pages_answer_503_with_a_friendly_page(dead_db_app, path):
    response = dead_db_app.test_client().get(path)
    html = response.get_data(as_text=True)
    if path == "/kantor/":
        assert response.status_code in (302, 503)  # anonymous: to the login page needs no database
        return
    assert response.status_code == 503, html[:300]
    assert "Layanan sedang tidak tersedia" in html
    for leak in ("Traceback", "OperationalError", "psycopg", "127.0.0.1", "SELECT"):
        assert leak not in html


def test_with_the_database_down_a_posted_form_answers_503_not_a_stack_trace(dead_db_app):
    client = dead_db_app.test_client()
    response = client.post("/desa/hanura/layanan/domisili", data={"nik": "1809104508920001"})
    assert response.status_code in (400, 503)  # the CSRF check may refuse it first: also no trace
    assert "Traceback" not in response.get_data(as_text=True)


def test_with_the_database_down_the_health_check_says_so(dead_db_app):
    response = dead_db_app.test_client().get("/healthz")
    assert response.status_code == 503
    assert "OperationalError" in response.get_data(as_text=True)


def test_with_the_database_down_the_log_says_why_without_the_password(dead_db_app, caplog):
    dead_db_app.test_client().get("/desa/hanura/layanan")
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "database unavailable" in messages


# --- Redis ---------------------------------------------------------------------------------------


class OwnRedis:
    """A redis-server of this test's own, on a free port, that the test may stop and start."""

    def __init__(self, tmp_path: Path):
        self.port = _closed_port()
        self.dir = tmp_path
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> OwnRedis:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.dir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        from redis import Redis
        from redis.exceptions import RedisError

        for _ in range(100):
            with contextlib.suppress(RedisError):
                Redis.from_url(self.url, socket_connect_timeout=0.2).ping()
                return self
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


@pytest.fixture
def own_redis(tmp_path):
    if shutil.which("redis-server") is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is required in CI")
        pytest.skip("no redis-server on this machine")
    server = OwnRedis(tmp_path)
    yield server
    server.stop()


@pytest.fixture
def village(app):
    from app.tenancy import activate_village

    village = activate_village("18.09.10.2004", slug="hanura", head_name="Sutarno")
    db.session.commit()
    return village


@pytest.mark.redis
def test_with_redis_down_requests_are_saved_and_their_messages_go_out_when_it_returns(
    app, client, village, own_redis, monkeypatch
):
    from app import jobs
    from app.models.notifications import CREATED, Delivery, Notification
    from tests.test_notifications_support import set_channels

    set_channels(village, whatsapp="simulator")
    db.session.commit()
    monkeypatch.setitem(app.config, "REDIS_URL", own_redis.url)
    monkeypatch.setitem(app.config, "JOBS_SIMPLE_WORKER", True)
    monkeypatch.setattr(jobs, "_redis_down_until", 0.0)

    # Redis was never started: it is down.
    sent = submit(client)
    assert sent.status_code == 303
    req = db.session.scalars(select(ServiceRequest)).one()
    waiting = db.session.scalars(select(Notification).where(Notification.request_id == req.id)).all()
    assert waiting and all(n.relayed_at is None and n.state == CREATED for n in waiting)
    tracked = client.get(f"/lacak/{req.tracking_code}")
    assert tracked.status_code == 200

    own_redis.start()
    monkeypatch.setattr(jobs, "_redis_down_until", 0.0)
    from app.notifications import outbox

    assert outbox.sweep() >= len(waiting)
    jobs.run_worker(app, burst=True, cron=False)
    db.session.expire_all()
    for n in db.session.scalars(select(Notification).where(Notification.request_id == req.id)):
        assert n.state != CREATED, n
        deliveries = db.session.scalars(select(Delivery).where(Delivery.notification_id == n.id)).all()
        assert len({d.channel for d in deliveries}) == len(deliveries)  # never twice on one channel
    assert any(n.state == "delivered" for n in db.session.scalars(select(Notification)))
    # A second sweep finds nothing left to hand over: nothing is sent twice.
    assert outbox.sweep() == 0


# --- the disk ------------------------------------------------------------------------------------


@pytest.fixture
def tiny_disk(tmp_path):
    """A 256 KB tmpfs as the upload folder: a real ENOSPC, not a simulated one."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    try:
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], check=True, capture_output=True
        )
    except (subprocess.CalledProcessError, FileNotFoundError) as exc:
        if os.environ.get("CI"):
            pytest.fail(f"cannot mount a tmpfs: {exc}")
        pytest.skip("mounting a tmpfs needs root")
    yield mount
    subprocess.run(["umount", str(mount)], check=False)


def _fill(folder: Path, leave: int) -> Path:
    stat = os.statvfs(folder)
    free = stat.f_bavail * stat.f_frsize
    filler = folder / "filler"
    filler.write_bytes(b"\0" * max(free - leave, 0))
    return filler


def test_a_full_disk_refuses_the_photo_clearly_and_leaves_nothing_half_saved(
    app, client, village, tiny_disk, monkeypatch
):
    monkeypatch.setitem(app.config, "UPLOAD_DIR", str(tiny_disk))
    filler = _fill(tiny_disk, leave=2048)
    csrf, key = form_page(client)
    response = client.post(
        "/desa/hanura/layanan/domisili", data=answers(csrf, key), content_type="multipart/form-data"
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422, html[:300]
    assert "penyimpanan" in html.lower() or "penuh" in html.lower()
    assert 'value="Siti Wulandari"' in html  # what was typed is kept for the next try
    assert db.session.scalar(select(func.count(ServiceRequest.id))) == 0
    assert db.session.scalar(select(func.count(Attachment.id))) == 0
    left = [p for p in tiny_disk.rglob("*") if p.is_file() and p != filler]
    assert not left, f"half-saved files left behind: {left}"

    filler.unlink()
    assert submit(client).status_code == 303
    assert db.session.scalar(select(func.count(Attachment.id))) == 2
