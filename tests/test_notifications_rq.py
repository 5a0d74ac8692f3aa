"""Notifications with a real Redis and real rq worker processes (`flask --app wsgi jobs worker`).

rq's synchronous mode never applies Retry, so retries, the outbox sweep after a Redis outage and
a worker killed mid-job are tried here with the worker the Procfile starts (jobs in the worker
process; the kill is also tried with `--fork`'s work-horse). Timeouts: tests/test_jobs_worker.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import ServiceRequest
from app.models.notifications import DELIVERED, Delivery, Notification
from app.workflow import apply_action
from tests.conftest import child_pids, csrf_from
from tests.test_notifications_support import (
    Browser,
    Gateway,
    Smtp,
    add_official,
    free_port,
    make_village,
    set_channels,
    submit,
    wait_until,
)

ROOT = Path(__file__).resolve().parent.parent
FLASK = str(Path(sys.executable).parent / "flask")
pytestmark = pytest.mark.redis


@pytest.fixture
def redis(redis_url):
    from redis import Redis

    connection = Redis.from_url(redis_url)
    connection.flushdb()
    yield redis_url
    connection.flushdb()


@pytest.fixture
def smtp(app, monkeypatch):
    with Smtp() as server:
        monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
        monkeypatch.setitem(app.config, "MAIL_PORT", server.port)
        yield server


@pytest.fixture
def queued(app, redis, monkeypatch):
    """The test app hands notifications to this Redis, with one-second retries."""
    from app import jobs as jobs_module

    monkeypatch.setitem(app.config, "REDIS_URL", redis)
    monkeypatch.setitem(app.config, "NOTIFY_RETRY_INTERVALS", [1, 1, 1])
    monkeypatch.setattr(jobs_module, "_redis_down_until", 0.0)
    return redis


class Worker:
    """`flask --app wsgi jobs worker` in a subprocess, against the test database."""

    def __init__(self, app, redis_url: str, **env):
        self.env = {
            **os.environ,
            "BALAI_ENV": "development",
            "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
            "REDIS_URL": redis_url,
            "SECRET_KEY": "worker-secret-key-that-is-long-enough-for-tests",
            "BASE_URL": app.config["BASE_URL"],
            "NOTIFY_RETRY_INTERVALS": "1,1,1",
            "NOTIFY_LEASE_SECONDS": "3",
            "NOTIFY_SWEEP_SECONDS": "2",
            "PUSH_ENDPOINT_HOSTS": "127.0.0.1",
            "GATEWAY_ALLOW_LOOPBACK": "1",  # the gateways here are local HTTP servers
            **{k: str(v) for k, v in env.items() if v is not None},
        }
        for key in ("MAIL_SERVER", "MAIL_PORT", "VAPID_PRIVATE_KEY", "VAPID_PUBLIC_KEY"):
            if app.config.get(key) and key not in env:
                self.env[key] = str(app.config[key])
        self.process: subprocess.Popen | None = None

    def start(self):
        import tempfile

        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115  (closed when the worker stops)
            prefix="balai-worker-", suffix=".log", delete=False
        )
        self.process = subprocess.Popen(
            [FLASK, "--app", "wsgi", "jobs", "worker"],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        return self

    def children(self) -> list[int]:
        """Processes this worker forked (rq's scheduler, the cron process, a work-horse)."""
        return child_pids(self.process.pid)

    def kill(self):
        """SIGKILL the worker and everything it forked: no chance to clean up."""
        pids = self.children()
        self.process.kill()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait(10)
        self.log.close()

    def stop(self) -> str:
        if self.process is None or self.process.poll() is not None:
            return self._stderr()
        pids = self.children()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return self._stderr()

    def _stderr(self) -> str:
        self.log.close()
        return Path(self.log.name).read_text(errors="replace")


@pytest.fixture
def workers(app):
    started: list[Worker] = []

    def start(redis_url: str, **env) -> Worker:
        worker = Worker(app, redis_url, **env).start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


def state_of(notification_id: int) -> str:
    return db.session.get(Notification, notification_id).state


def delivered_count() -> int:
    return db.session.scalar(select(func.count(Notification.id)).where(Notification.state == DELIVERED))


def test_a_resident_hears_by_email_whatsapp_and_push_through_a_real_worker(
    app, client, queued, smtp, workers
):
    from app.notifications.channels.push import generate_keys

    private, public = generate_keys()
    app.config.update(VAPID_PRIVATE_KEY=private, VAPID_PUBLIC_KEY=public, PUSH_ENDPOINT_HOSTS=["127.0.0.1"])
    try:
        with Gateway() as wa, Gateway(statuses=(201,)) as push_service:
            village, service = make_village()
            set_channels(village, whatsapp="webhook", whatsapp_url=wa.url)
            add_official(village, "operator.rq@balai.test")
            req = submit(village, service, email="siti@example.com")
            db.session.commit()
            assert (
                db.session.scalar(
                    select(func.count(Notification.id)).where(Notification.relayed_at.is_(None))
                )
                == 0
            )
            workers(queued)
            wait_until(lambda: delivered_count() == 3)
            assert len(wa.requests) == 1 and req.tracking_code in wa.json_bodies()[0]["message"]
            assert sorted(m[0][0] for m in smtp.messages) == ["operator.rq@balai.test", "siti@example.com"]

            # The resident opts in to push on the receipt page; the next status arrives there.
            browser = Browser(push_service.url + "/push/1")
            with client.session_transaction() as session:
                session["receipts"] = {req.tracking_code: ""}  # what sending the form leaves
            token = csrf_from(client.get("/akun/masuk").get_data(as_text=True))
            response = client.post(
                f"/lacak/{req.tracking_code}/push",
                data=json.dumps(browser.subscription),
                content_type="application/json",
                headers={"X-CSRFToken": token},
            )
            assert response.status_code == 201
            db.session.rollback()
            apply_action(db.session.get(ServiceRequest, req.id), "verify", actor=None)
            db.session.commit()
            wait_until(lambda: len(push_service.requests) == 1 and len(smtp.messages) == 3)
            payload = browser.decrypt(push_service.requests[0]["raw"])
            assert "kini diverifikasi" in payload["body"] and payload["url"] == f"/lacak/{req.tracking_code}"
            assert len(wa.requests) == 1  # push delivered, so WhatsApp was not needed
    finally:
        for key in ("VAPID_PRIVATE_KEY", "VAPID_PUBLIC_KEY"):
            app.config[key] = None
        app.config["PUSH_ENDPOINT_HOSTS"] = []


def test_a_gateway_answering_500_then_200_delivers_once_with_the_attempts_recorded(app, queued, workers):
    with Gateway(statuses=(500, 200)) as wa:
        village, service = make_village()
        set_channels(village, whatsapp="webhook", whatsapp_url=wa.url)
        submit(village, service)
        db.session.commit()
        [n] = db.session.scalars(select(Notification)).all()
        workers(queued)
        wait_until(lambda: state_of(n.id) == DELIVERED)
    n = db.session.get(Notification, n.id)
    [d] = n.deliveries
    assert (n.attempts, d.attempts, d.state, d.provider_message_id) == (2, 2, DELIVERED, "gw-1")
    assert len(wa.requests) == 2 and len(wa.delivered) == 1
    keys = {r["headers"]["idempotency-key"] for r in wa.requests}
    assert keys == {f"balai-{n.id}-whatsapp"}


def test_failed_jobs_are_listed_for_a_superadmin_who_can_retry_them(
    app, auth, client, queued, workers, monkeypatch
):
    from rq import Queue

    from app.jobs import redis_connection
    from app.models import Role

    monkeypatch.setitem(app.config, "NOTIFY_RETRY_INTERVALS", [1])
    with Gateway(statuses=(503,)) as wa:
        village, service = make_village()
        set_channels(village, whatsapp="webhook", whatsapp_url=wa.url)
        admin = add_official(village, "admin.rq@balai.test", role=Role.SUPERADMIN)
        admin.village_id = None
        submit(village, service, phone="+6281234567890")
        db.session.commit()
        [n] = db.session.scalars(select(Notification)).all()
        workers(queued)
        failed = Queue("high", connection=redis_connection(queued)).failed_job_registry
        wait_until(lambda: failed.count == 1)
        assert len(wa.requests) == 2
        auth.login("admin.rq@balai.test")
        page = client.get("/notifikasi/admin").get_data(as_text=True)
        [job_id] = failed.get_job_ids()
        assert job_id in page and "app.notifications.jobs.deliver" in page and "RetryLater" in page
        assert "+628" not in page
        wa.statuses = [200]
        response = client.post(
            f"/notifikasi/admin/job/{job_id}/ulang", data={"csrf_token": csrf_from(page), "queue": "high"}
        )
        assert response.status_code == 303
        wait_until(lambda: state_of(n.id) == DELIVERED)
    assert failed.count == 0 and len(wa.delivered) == 1


@pytest.mark.parametrize("fork", [False, True], ids=["in-process", "forked-horse"])
def test_a_worker_killed_mid_job_still_delivers_exactly_once(app, queued, workers, fork):
    with Gateway(delay_first=4) as wa:
        village, service = make_village()
        set_channels(village, whatsapp="webhook", whatsapp_url=wa.url)
        submit(village, service)
        db.session.commit()
        [n] = db.session.scalars(select(Notification)).all()
        first = workers(queued, JOBS_FORK="1" if fork else None)
        wait_until(lambda: len(wa.requests) == 1)
        first.kill()  # the worker (and its work-horse, if it forks) dies waiting for the gateway's answer
        assert state_of(n.id) == "sending"
        workers(queued, JOBS_FORK="1" if fork else None)  # restarted: its sweep finds the expired lease
        wait_until(lambda: state_of(n.id) == DELIVERED, timeout=90)
    [d] = db.session.get(Notification, n.id).deliveries
    assert d.attempts == 2 and d.state == DELIVERED
    assert len(wa.requests) == 2 and len(wa.delivered) == 1  # the same reference both times
    assert {r["headers"]["idempotency-key"] for r in wa.requests} == {f"balai-{n.id}-whatsapp"}


def test_a_worker_killed_mid_batch_sends_the_rest_of_its_batch_once_its_lease_runs_out(app, queued, workers):
    from app.notifications import outbox

    with Gateway(delay_first=4) as wa:
        village, service = make_village()
        set_channels(village, whatsapp="webhook", whatsapp_url=wa.url)
        for i in range(3):
            submit(village, service, phone=f"+62812345678{i:02d}")
        db.session.info.pop("balai_after_commit")
        db.session.commit()
        assert outbox.relay() == 3  # one batch job for the three
        first = workers(queued)
        wait_until(lambda: len(wa.requests) == 1)
        first.kill()  # the first message is at the gateway; the other two were claimed with it
        assert {state_of(n.id) for n in db.session.scalars(select(Notification))} == {"sending"}
        workers(queued)
        wait_until(lambda: delivered_count() == 3, timeout=90)
    references = [r["headers"]["idempotency-key"] for r in wa.requests]
    assert len(wa.delivered) == 3 and len(references) == 4  # only the first went out twice
    assert sorted(set(references)) == sorted(
        f"balai-{n.id}-whatsapp" for n in db.session.scalars(select(Notification))
    )


@pytest.fixture
def own_redis():
    """A Redis of our own on a spare port, so stopping it disturbs nobody else."""
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed")
    port = free_port()
    start = [server, "--port", str(port), "--save", "", "--appendonly", "no", "--daemonize", "yes"]
    subprocess.run(start, check=True, stdout=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    _wait_for_redis(url, up=True)

    def stop():
        from redis import Redis
        from redis.exceptions import ConnectionError as RedisConnectionError

        with contextlib.suppress(RedisConnectionError):
            Redis.from_url(url).shutdown(nosave=True)
        _wait_for_redis(url, up=False)

    def restart():
        subprocess.run(start, check=True, stdout=subprocess.DEVNULL)
        _wait_for_redis(url, up=True)

    yield url, stop, restart
    stop()


def _wait_for_redis(url: str, up: bool) -> None:
    from redis import Redis
    from redis.exceptions import RedisError

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            Redis.from_url(url, socket_connect_timeout=0.5).ping()
            if up:
                return
        except RedisError:
            if not up:
                return
        time.sleep(0.1)
    raise AssertionError("redis did not change state")


def test_requests_made_while_redis_is_down_are_saved_and_their_messages_sent_when_it_returns(
    app, own_redis, workers, monkeypatch
):
    from app import jobs as jobs_module

    url, stop, restart = own_redis
    monkeypatch.setitem(app.config, "REDIS_URL", url)
    monkeypatch.setitem(app.config, "NOTIFY_RETRY_INTERVALS", [1, 1, 1])
    monkeypatch.setattr(jobs_module, "_redis_down_until", 0.0)
    with Gateway() as wa:
        village, service = make_village()
        set_channels(village, whatsapp="webhook", whatsapp_url=wa.url)
        db.session.commit()
        stop()
        started = time.monotonic()
        for i in range(5):
            submit(village, service, phone=f"+62812345678{i:02d}")
            db.session.commit()
        assert time.monotonic() - started < 10  # residents are not kept waiting on a dead Redis
        assert db.session.scalar(select(func.count(ServiceRequest.id))) == 5
        assert (
            db.session.scalar(select(func.count(Notification.id)).where(Notification.relayed_at.is_(None)))
            == 5
        )
        restart()
        workers(url)  # the worker's periodic sweep drains the outbox
        wait_until(lambda: delivered_count() == 5, timeout=90)
        assert len(wa.delivered) == 5
    assert db.session.scalar(select(func.count(Delivery.id))) == 5


def test_the_worker_command_runs_the_periodic_sweep_on_its_own(app, queued, workers):
    from redis import Redis

    with Gateway() as wa:
        village, service = make_village()
        set_channels(village, whatsapp="webhook", whatsapp_url=wa.url)
        submit(village, service)
        # As if the web process died right after its commit: the row is saved, never handed over.
        db.session.info.pop("balai_after_commit")
        db.session.commit()
        [n] = db.session.scalars(select(Notification)).all()
        assert n.relayed_at is None
        workers(queued)
        wait_until(lambda: state_of(n.id) == DELIVERED)
        assert len(wa.requests) == 1
    assert Redis.from_url(queued).exists("balai:cron:leader") == 1
