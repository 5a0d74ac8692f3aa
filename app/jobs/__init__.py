"""Background jobs: rq queues when REDIS_URL is set, otherwise in-process after the commit.

Jobs are named by dotted path and take plain ids, never ORM objects, so a forked rq work-horse
loads fresh rows through its own database connections.
"""

from __future__ import annotations

import importlib
import logging
from concurrent.futures import ThreadPoolExecutor

from flask import Flask, current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.extensions import db

log = logging.getLogger(__name__)
QUEUES = ("high", "default", "low")
_executor: ThreadPoolExecutor | None = None


def resolve(path: str):
    """The function behind a dotted job path such as ``app.notifications.jobs.deliver``."""
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def redis_connection(url: str | None = None):
    from redis import Redis

    return Redis.from_url(url or current_app.config["REDIS_URL"], socket_connect_timeout=2, socket_timeout=5)


def enqueue(
    path: str, *args, queue: str = "default", timeout: int = 60, retries: int = 3, job_id: str | None = None
) -> None:
    """Run ``path(*args)`` in the background once the current transaction commits."""
    app = current_app._get_current_object()
    jobs = db.session.info.setdefault("balai_jobs", [])
    jobs.append((app, path, args, queue, timeout, retries, job_id))


def _dispatch(session: Session) -> None:
    jobs = session.info.pop("balai_jobs", [])
    for app, path, args, queue, timeout, retries, job_id in jobs:
        if app.config.get("REDIS_URL"):
            _to_rq(app, path, args, queue, timeout, retries, job_id)
        elif app.config.get("TESTING") or app.config.get("JOBS_INLINE"):
            _run(app, path, args)
        else:
            _pool().submit(_run, app, path, args)


def _discard(session: Session) -> None:
    session.info.pop("balai_jobs", None)


def _to_rq(app: Flask, path, args, queue, timeout, retries, job_id) -> None:
    from redis.exceptions import RedisError
    from rq import Queue, Retry

    try:
        q = Queue(queue, connection=redis_connection(app.config["REDIS_URL"]))
        retry = Retry(max=retries, interval=[10, 60, 300][:retries]) if retries else None
        q.enqueue(path, *args, job_timeout=timeout, retry=retry, job_id=job_id)
    except RedisError as exc:
        # The work is recorded in the database (the outbox); the sweep hands it over when Redis returns.
        log.warning("Redis unavailable, job %s left for the sweep: %s", path, type(exc).__name__)


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


def run_worker(app: Flask, queues: tuple[str, ...] = QUEUES, burst: bool = False) -> None:
    """Run an rq worker (with its scheduler) whose jobs see this app's context."""
    from rq import Worker

    class AppWorker(Worker):
        def perform_job(self, job, queue):
            with app.app_context():
                # A forked work-horse must not reuse the parent's pooled connections.
                db.engine.dispose(close=False)
                try:
                    return super().perform_job(job, queue)
                finally:
                    db.session.remove()

    worker = AppWorker(list(queues), connection=redis_connection(app.config["REDIS_URL"]))
    worker.work(burst=burst, with_scheduler=True)
