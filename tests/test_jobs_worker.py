"""The rq worker behind `flask --app wsgi jobs worker`: jobs run in the worker process by default,
and a job that outlives its timeout is still stopped.

rq's alarm (SIGALRM) interrupts a job at its timeout, in the worker process as in a forked
work-horse; a job that ignores the alarm stops the whole worker, for its process manager to start
a fresh one. A worker killed mid-job: tests/test_notifications_rq.py.

This module stays light to import: the worker subprocess imports it to find the jobs below.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.conftest import child_pids

ROOT = Path(__file__).resolve().parent.parent
FLASK = str(Path(sys.executable).parent / "flask")
pytestmark = pytest.mark.redis


def nap(seconds: float) -> str:
    """A job that sleeps."""
    time.sleep(seconds)
    return "bangun"


def stubborn(seconds: float) -> None:
    """A job that swallows rq's JobTimeoutException and carries on, as badly written code might."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            time.sleep(0.1)
        except Exception as exc:
            print(f"ignoring {type(exc).__name__}", flush=True)


@pytest.fixture
def redis(app, redis_url, monkeypatch):
    from redis import Redis

    from app import jobs

    connection = Redis.from_url(redis_url)
    connection.flushdb()
    monkeypatch.setitem(app.config, "REDIS_URL", redis_url)
    monkeypatch.setattr(jobs, "_redis_down_until", 0.0)
    yield redis_url
    connection.flushdb()


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def test_a_job_past_its_timeout_is_stopped_and_the_worker_goes_on_with_the_next(app, redis):
    from redis import Redis
    from rq.job import Job

    from app import jobs

    jobs.enqueue_many(
        app,
        [
            ("tests.test_jobs_worker.nap", (30,), "default", 1, [], "slow"),
            ("tests.test_jobs_worker.nap", (0,), "default", 10, [], "quick"),
        ],
    )
    started = time.monotonic()
    jobs.run_worker(app, ("default",), burst=True, cron=False)  # the default: no work-horse
    assert time.monotonic() - started < 15
    connection = Redis.from_url(redis)
    slow, quick = Job.fetch("slow", connection=connection), Job.fetch("quick", connection=connection)
    assert slow.is_failed and "JobTimeoutException" in slow.latest_result().exc_string
    assert quick.is_finished and quick.return_value() == "bangun"


def test_a_job_that_ignores_its_timeout_stops_the_worker_for_a_fresh_one(app, redis):
    from redis import Redis
    from rq.job import Job

    from app import jobs

    jobs.enqueue_many(app, [("tests.test_jobs_worker.stubborn", (120,), "high", 1, [], "stubborn")])
    env = {
        **os.environ,
        "BALAI_ENV": "development",
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "REDIS_URL": redis,
        "SECRET_KEY": "worker-secret-key-that-is-long-enough-for-tests",
        "JOBS_TIMEOUT_GRACE": "2",
    }
    env.pop("JOBS_FORK", None)
    with tempfile.TemporaryFile() as log:
        worker = subprocess.Popen(
            [FLASK, "--app", "wsgi", "jobs", "worker", "high"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            connection = Redis.from_url(redis)
            deadline = time.monotonic() + 30
            while Job.fetch("stubborn", connection=connection).get_status() != "started":
                assert time.monotonic() < deadline, "the job never started"
                time.sleep(0.1)
            children = child_pids(worker.pid)  # rq's scheduler and the cron process
            started = time.monotonic()
            status = worker.wait(30)
            stopped_after = time.monotonic() - started
        finally:
            if worker.poll() is None:
                worker.send_signal(signal.SIGKILL)
                worker.wait(5)
        log.seek(0)
        output = log.read().decode(errors="replace")
    assert status == 1, output
    assert stopped_after < 10, output  # 1 s timeout + 2 s grace, polled every second
    assert "ignoring JobTimeoutException" in output  # rq's alarm did fire, and was swallowed
    assert "still running" in output
    deadline = time.monotonic() + 15
    while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [pid for pid in children if _alive(pid)], "the worker left processes behind"
