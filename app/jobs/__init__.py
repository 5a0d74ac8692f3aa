"""Background jobs: rq queues when REDIS_URL is set, otherwise in-process after the commit.

Jobs are named by dotted path and take plain ids, never ORM objects, so each run loads fresh rows
(in the worker process, or in a forked rq work-horse under ``jobs worker --fork``). Periodic work (the outbox sweep, digests,
clean-up) is registered in ``PERIODIC`` and run by rq's cron scheduler inside ``jobs worker``, or by
a small thread in the web process when there is no Redis (the embedded default).
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from flask import Flask, current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.extensions import db

log = logging.getLogger(__name__)
QUEUES = ("high", "default", "low")
_executor: ThreadPoolExecutor | None = None
# After Redis refused us, web requests skip it for a few seconds instead of each waiting for a timeout.
_redis_down_until = 0.0
REDIS_BACKOFF_SECONDS = 5.0


@dataclass(frozen=True)
class Periodic:
    """Work that runs on a schedule: every ``interval`` seconds or on a ``cron`` line (local time)."""

    path: str
    queue: str = "low"
    interval: int | None = None
    cron: str | None = None
    timeout: int = 300
    name: str = field(default="")


# Areas append their periodic work here (at import time of their package).
PERIODIC: list[Periodic] = []
# Modules the worker imports before it forks, so each work-horse starts with them loaded
# (importing pywebpush or requests in every horse would cost more than the job itself).
PRELOAD: list[str] = []


def resolve(path: str):
    """The function behind a dotted job path such as ``app.notifications.jobs.deliver``."""
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def redis_connection(url: str | None = None):
    from redis import Redis

    return Redis.from_url(url or current_app.config["REDIS_URL"], socket_connect_timeout=2, socket_timeout=5)


def redis_available() -> bool:
    """False for a few seconds after Redis last refused a connection."""
    return time.monotonic() >= _redis_down_until


def mark_redis_down() -> None:
    global _redis_down_until
    _redis_down_until = time.monotonic() + REDIS_BACKOFF_SECONDS


def enqueue(
    path: str, *args, queue: str = "default", timeout: int = 60, retries: int = 3, job_id: str | None = None
) -> None:
    """Run ``path(*args)`` in the background once the current transaction commits."""
    app = current_app._get_current_object()
    jobs = db.session.info.setdefault("balai_jobs", [])
    jobs.append((app, path, args, queue, timeout, retries, job_id))


def on_commit(fn: Callable, *args) -> None:
    """Call ``fn(*args)`` right after the current transaction commits, in a fresh app context.

    Used to hand outbox rows to the queue at once; if that fails the rows are still in the
    database and the sweep hands them over later.
    """
    app = current_app._get_current_object()
    db.session.info.setdefault("balai_after_commit", []).append((app, fn, args))


def _dispatch(session: Session) -> None:
    jobs = session.info.pop("balai_jobs", [])
    hooks = session.info.pop("balai_after_commit", [])
    for app, path, args, queue, timeout, retries, job_id in jobs:
        if app.config.get("REDIS_URL"):
            intervals = [10, 60, 300][:retries]
            _to_rq(app, path, args, queue, timeout, intervals, job_id)
        else:
            run_inprocess(app, path, args)
    for app, fn, args in hooks:
        with app.app_context():
            try:
                fn(*args)
            except Exception:
                log.exception("after-commit hook %s failed", getattr(fn, "__name__", fn))
                db.session.rollback()
            finally:
                db.session.remove()


def _discard(session: Session, _previous=None) -> None:
    session.info.pop("balai_jobs", None)
    session.info.pop("balai_after_commit", None)


def _to_rq(app: Flask, path, args, queue, timeout, intervals, job_id) -> None:
    from redis.exceptions import RedisError

    if not redis_available():
        log.warning("Redis marked unavailable, job %s left for the sweep", path)
        return
    try:
        enqueue_many(app, [(path, args, queue, timeout, intervals, job_id)])
    except RedisError as exc:
        # The work is recorded in the database (the outbox); the sweep hands it over when Redis returns.
        log.warning("Redis unavailable, job %s left for the sweep: %s", path, type(exc).__name__)


def enqueue_many(app: Flask, jobs: list[tuple]) -> None:
    """Put ``(path, args, queue, timeout, retry_intervals, job_id[, at])`` jobs on rq in one round trip.

    A job with an ``at`` (an aware datetime) waits in rq's scheduler until then. Raises RedisError
    when Redis cannot take them (and marks Redis as down for a few seconds).
    """
    from redis.exceptions import RedisError
    from rq import Queue, Retry

    connection = redis_connection(app.config["REDIS_URL"])
    try:
        by_queue: dict[str, list] = {}
        later: list[tuple] = []
        for path, args, queue, timeout, intervals, job_id, *at in jobs:
            retry = Retry(max=len(intervals), interval=list(intervals)) if intervals else None
            if at and at[0] is not None:
                later.append((queue, at[0], path, args, timeout, retry, job_id))
                continue
            data = Queue.prepare_data(
                path, args=args, timeout=timeout, retry=retry, job_id=job_id, result_ttl=300
            )
            by_queue.setdefault(queue, []).append(data)
        with connection.pipeline() as pipe:
            for name, datas in by_queue.items():
                Queue(name, connection=connection).enqueue_many(datas, pipeline=pipe)
            for name, at, path, args, timeout, retry, job_id in later:
                Queue(name, connection=connection).enqueue_at(
                    at,
                    path,
                    *args,
                    job_timeout=timeout,
                    retry=retry,
                    job_id=job_id,
                    result_ttl=300,
                    pipeline=pipe,
                )
            pipe.execute()
    except RedisError:
        mark_redis_down()
        raise
    finally:
        connection.close()


def run_inprocess(app: Flask, path: str, args: tuple) -> None:
    """Without Redis: inline under tests (or JOBS_INLINE), otherwise on a small thread pool."""
    if app.config.get("TESTING") or app.config.get("JOBS_INLINE"):
        _run(app, path, args)
    else:
        _pool().submit(_run, app, path, args)


def _run(app: Flask, path: str, args: tuple) -> None:
    with app.app_context():
        try:
            resolve(path)(*args)
        except Exception:
            log.exception("in-process job %s failed", path)
            db.session.rollback()
        finally:
            db.session.remove()


def _pool() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="balai-job")
    return _executor


event.listen(Session, "after_commit", _dispatch)
event.listen(Session, "after_soft_rollback", _discard)


def run_worker(
    app: Flask,
    queues: tuple[str, ...] = QUEUES,
    burst: bool = False,
    cron: bool = True,
    fork: bool | None = None,
) -> None:
    """Run an rq worker (with rq's scheduler for retries, and the cron process for periodic work).

    By default jobs run in the worker process itself (rq's SimpleWorker): a warm connection pool,
    compiled-query cache and imported gateways make a short job such as sending a message many
    times cheaper than in a freshly forked work-horse (see bench/notify_bench.py). ``fork=True``
    (``jobs worker --fork``, or JOBS_FORK=1) keeps rq's forking Worker, one work-horse per job.

    Either way a job that outlives its timeout is interrupted by rq's alarm (SIGALRM raises
    JobTimeoutException in the job, which fails it and lets its Retry run), and a worker killed
    mid-job loses nothing: the job's notification lease runs out and the sweep hands it over again.
    Without a work-horse to kill, a job still running JOBS_TIMEOUT_GRACE seconds (default 60, as
    rq's forking worker waits before killing its horse) after its timeout stops the whole worker
    with exit status 1, for its process manager to start a fresh one (see ``_Watchdog``).
    """
    from rq import Queue, SimpleWorker, Worker

    if fork is None:
        fork = _flag(app.config.get("JOBS_FORK", os.environ.get("JOBS_FORK")))
    parent = os.getpid()
    watchdog = None if fork else _Watchdog(_grace(app))

    class AppWorker(Worker if fork else SimpleWorker):
        def perform_job(self, job, queue, *args, **kwargs):
            with app.app_context():
                if os.getpid() != parent:
                    # A forked work-horse drops (without closing) the pool inherited from the
                    # parent, so it opens its own connections and never shares a socket.
                    db.engine.dispose(close=False)
                if watchdog is not None:
                    watchdog.arm(job.description or job.id, job.timeout or Queue.DEFAULT_TIMEOUT)
                try:
                    return super().perform_job(job, queue, *args, **kwargs)
                finally:
                    if watchdog is not None:
                        watchdog.disarm()
                    # Back to the pool, rolled back; a connection a timeout left half-way through
                    # a query fails that reset and is thrown away (and a connection idle for a while is pinged at checkout: app/transactions.py).
                    db.session.remove()

    for module in PRELOAD:
        importlib.import_module(module)
    url = app.config["REDIS_URL"]
    cron_process = start_cron_process(url) if cron and not burst and PERIODIC else None
    worker = AppWorker(list(queues), connection=redis_connection(url))
    log.info(
        "jobs worker on %s: %s",
        ", ".join(queues),
        "a forked work-horse per job" if fork else "jobs run in this process",
    )
    if watchdog is not None:
        watchdog.start(worker, cron_process)
    try:
        worker.work(burst=burst, with_scheduler=True)
    finally:
        if watchdog is not None:
            watchdog.stop()
        if cron_process is not None and cron_process.is_alive():
            cron_process.terminate()
            cron_process.join(5)


def _flag(value) -> bool:
    return str(value or "").strip().lower() in ("1", "true", "yes", "on")


def _grace(app: Flask) -> float:
    return float(app.config.get("JOBS_TIMEOUT_GRACE", os.environ.get("JOBS_TIMEOUT_GRACE", "60")))


class _Watchdog:
    """Stops a non-forking worker whose job ran ``grace`` seconds past its timeout.

    rq's alarm normally ends such a job at its timeout. If it did not (a call stuck in C code that
    never returns to Python, a job that swallowed JobTimeoutException), the job can only be stopped
    with the process that runs it: this thread stops rq's scheduler and the cron process, then
    exits with status 1, so the process manager (systemd, supervisor, the platform running the
    Procfile) starts a fresh worker. What the job was doing is not lost: its notification keeps a
    lease that runs out, and the sweep hands it over again; rq sees the job abandoned.
    """

    def __init__(self, grace: float):
        self.grace = grace
        self.deadline: float | None = None
        self.job = ""
        self.timeout = 0
        self._stopped = threading.Event()

    def arm(self, job: str, timeout: int) -> None:
        self.job, self.timeout = job, timeout
        self.deadline = None if timeout == -1 else time.monotonic() + timeout + self.grace

    def disarm(self) -> None:
        self.deadline = None

    def start(self, worker, cron_process) -> None:
        self._worker = worker
        self._cron_process = cron_process
        threading.Thread(target=self._watch, name="balai-job-watchdog", daemon=True).start()

    def stop(self) -> None:
        self._stopped.set()

    def _watch(self) -> None:
        while not self._stopped.wait(1.0):
            deadline = self.deadline
            if deadline is not None and time.monotonic() > deadline:
                self._expire()

    def _expire(self) -> None:
        log.error(
            "job %s is still running %d s after its %d s timeout; stopping this worker "
            "so that a fresh one takes over",
            self.job,
            self.grace,
            self.timeout,
        )
        scheduler = getattr(self._worker, "scheduler", None)
        for process in (getattr(scheduler, "_process", None), self._cron_process):
            with contextlib.suppress(Exception):  # exiting matters more than tidying up
                if process is not None and process.is_alive():
                    process.terminate()
        logging.shutdown()
        os._exit(1)


# --- periodic work under rq ------------------------------------------------------------------

CRON_LEADER_KEY = "balai:cron:leader"


def start_cron_process(redis_url: str):
    """Fork the cron scheduler next to the worker; it stops when the worker goes away."""
    import multiprocessing

    process = multiprocessing.get_context("fork").Process(
        target=_cron_main, args=(redis_url, os.getpid()), name="balai-cron", daemon=True
    )
    process.start()
    return process


def _cron_main(redis_url: str, parent_pid: int) -> None:
    """Enqueue PERIODIC jobs with rq's CronScheduler; one leader per Redis, so several workers are safe.

    The schedule lives in code and every periodic job is idempotent (its state is in the database),
    so a restarted worker simply picks up where the last one stopped: a digest missed while the
    worker was down is sent at the next hourly run, the sweep drains whatever waited.
    """
    from redis.exceptions import RedisError
    from rq.cron import CronScheduler

    connection = redis_connection(redis_url)
    scheduler = CronScheduler(connection=connection)
    for job in PERIODIC:
        scheduler.register(
            resolve(job.path),
            job.queue,
            interval=job.interval,
            cron=job.cron,
            job_timeout=job.timeout,
            name=job.name or job.path,
        )
    registered = False
    while os.getppid() == parent_pid:
        try:
            if not registered:
                scheduler.register_birth()
                registered = True
            if _lead(connection, scheduler.name) and scheduler.enqueue_jobs():
                scheduler.save()
            scheduler.heartbeat()
            pause = min(scheduler.calculate_sleep_interval(), 15)
        except RedisError as exc:
            log.warning("cron: Redis unavailable (%s); trying again shortly", type(exc).__name__)
            pause = 5
        time.sleep(max(pause, 0.5))


def _lead(connection, name: str) -> bool:
    """Hold (or take over) the single cron leadership for 60 seconds at a time."""
    if connection.set(CRON_LEADER_KEY, name, nx=True, ex=60):
        return True
    current = connection.get(CRON_LEADER_KEY)
    if current is not None and current.decode() == name:
        connection.expire(CRON_LEADER_KEY, 60)
        return True
    return False


# --- periodic work without Redis -------------------------------------------------------------

_inprocess_started = False
_inprocess_lock = threading.Lock()


def start_inprocess_scheduler(app: Flask) -> None:
    """Run PERIODIC in a daemon thread of this process (the embedded default has no worker)."""
    global _inprocess_started
    with _inprocess_lock:
        if _inprocess_started:
            return
        _inprocess_started = True
    thread = threading.Thread(target=_inprocess_loop, args=(app,), name="balai-periodic", daemon=True)
    thread.start()


def _inprocess_loop(app: Flask) -> None:
    from datetime import datetime

    from croniter import croniter

    next_run: dict[Periodic, float] = {}
    now = time.time()
    for job in PERIODIC:
        if job.cron:
            next_run[job] = croniter(job.cron, datetime.now()).get_next(float)
        else:
            next_run[job] = now + 5
    while True:
        now = time.time()
        for job, due in next_run.items():
            if due <= now:
                _run(app, job.path, ())
                next_run[job] = (
                    croniter(job.cron, datetime.now()).get_next(float)
                    if job.cron
                    else time.time() + (job.interval or 60)
                )
        time.sleep(max(1.0, min(next_run.values(), default=now + 30) - time.time()))
