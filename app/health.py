"""``/healthz`` answered in front of Flask: a load balancer asks every few seconds, per process.

It checks what it always did (the database answers ``SELECT 1``; Redis, when configured, answers
a ping) and says so in the same JSON, but without a request context, session, locale, rate limit
or after-request hooks: none of them has anything to do with the answer. Redis is asked over a
kept client instead of a new connection each time; the database query runs in autocommit, so it is
one round trip. A process checks at most once per ``HEALTH_CHECK_SECONDS`` (1 s): asked again
within it (several balancers, a burst of probes), it gives the answer it just found. The Flask
route (app/pwa/routes.py) stays for anything mounted differently.
"""

from __future__ import annotations

import json
import time

from flask import Flask
from sqlalchemy import text

PATH = "/healthz"
_HEADERS = [("Content-Type", "application/json"), ("Cache-Control", "no-store")]


class HealthCheck:
    """WSGI middleware: answer GET/HEAD ``/healthz`` itself, pass everything else on."""

    def __init__(self, app: Flask, wsgi_app):
        from app.extensions import db

        self.app = app
        self.wsgi_app = wsgi_app
        with app.app_context():
            self.engine = db.engine
        self._redis: tuple[str, object] | None = None
        self._last: tuple[str | None, float, dict, bool] | None = None
        from app.security import security_headers

        self.headers = _HEADERS + security_headers(production=app.config["ENV_NAME"] == "production")

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") != PATH or environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            return self.wsgi_app(environ, start_response)
        state, ok = self.recent_check()
        body = json.dumps(state, sort_keys=True).encode() + b"\n"
        status = "200 OK" if ok else "503 SERVICE UNAVAILABLE"
        start_response(status, [*self.headers, ("Content-Length", str(len(body)))])
        return [b"" if environ["REQUEST_METHOD"] == "HEAD" else body]

    def recent_check(self) -> tuple[dict, bool]:
        """The last answer while it is younger than HEALTH_CHECK_SECONDS (and for the same Redis)."""
        seconds = float(self.app.config.get("HEALTH_CHECK_SECONDS", 1.0))
        url = self.app.config.get("REDIS_URL")
        last = self._last
        now = time.monotonic()
        if last is not None and last[0] == url and now - last[1] < seconds:
            return last[2], last[3]
        state, ok = self.check()
        self._last = (url, now, state, ok)
        return state, ok

    def check(self) -> tuple[dict, bool]:
        state = {"database": "ok", "redis": "not configured"}
        ok = True
        try:
            with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:  # any driver error means the app cannot serve
            state["database"] = f"error: {type(exc).__name__}"
            ok = False
        redis = self.redis()
        if redis is not None:
            from redis.exceptions import RedisError

            try:
                redis.ping()
                state["redis"] = "ok"
            except RedisError as exc:
                # Requests are still saved without Redis (jobs wait in the outbox), so the app can serve.
                state["redis"] = f"error: {type(exc).__name__}"
        state["status"] = "ok" if ok else "error"
        return state, ok

    def redis(self):
        url = self.app.config.get("REDIS_URL")
        if not url:
            return None
        if self._redis is None or self._redis[0] != url:
            from redis import Redis

            self._redis = (url, Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1))
        return self._redis[1]


def init_app(app: Flask) -> None:
    app.wsgi_app = HealthCheck(app, app.wsgi_app)
