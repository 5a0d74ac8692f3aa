"""The Procfile's web process (gunicorn with gunicorn.conf.py), started as a platform starts it.

``start_web`` runs it in its own session on a free port and stops it afterwards; tests/test_deploy.py
uses it with an empty database, attack tests with the test session's database (``serve_test_database``),
so what they send meets gunicorn, the WSGI stack and the real database exactly as in production.
"""

from __future__ import annotations

import http.client
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import DATABASE_URL, TMP, child_pids

ROOT = Path(__file__).resolve().parent.parent
TEST_SECRET_KEY = "gunicorn-test-secret-key-long-enough"


def procfile_command(name: str) -> list[str]:
    for line in (ROOT / "Procfile").read_text().splitlines():
        process, _, command = line.partition(":")
        if process.strip() == name:
            return shlex.split(command)
    raise AssertionError(f"no {name} process in the Procfile")


def get(url: str) -> int:
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""))
        return conn.getresponse().status
    finally:
        conn.close()


@dataclass
class Web:
    process: subprocess.Popen
    port: int
    base: str
    log: Path


@contextmanager
def start_web(folder: Path, **settings: str) -> Iterator[Web]:
    """gunicorn as the Procfile runs it, with ``settings`` in its environment; its output in web.log."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ)
    env.pop("REDIS_URL", None)
    env.update(
        PORT=str(port),
        WEB_CONCURRENCY="2",
        WEB_THREADS="2",
        BALAI_ENV="development",
        BALAI_INSTANCE=str(folder / "instance"),
        DATABASE_URL=f"sqlite:///{folder / 'web.sqlite'}",
        SECRET_KEY=TEST_SECRET_KEY,
        UPLOAD_DIR=str(folder / "uploads"),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
    )
    env.update(settings)
    log_path = folder / "web.log"
    log = open(log_path, "wb")  # noqa: SIM115  (closed below)
    process = subprocess.Popen(
        procfile_command("web"),
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert process.poll() is None, log_path.read_text()[-3000:]
            try:
                if get(base + "/healthz") == 200 and len(child_pids(process.pid)) == 2:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        else:
            raise AssertionError("the web process did not answer /healthz within 60 s")
        yield Web(process, port, base, log_path)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


@contextmanager
def serve_test_database(folder: Path, **settings: str) -> Iterator[Web]:
    """gunicorn on the database (and stored photos) the tests fill, with no page cache."""
    with start_web(
        folder,
        DATABASE_URL=DATABASE_URL,
        UPLOAD_DIR=str(TMP / "uploads"),
        BASE_URL="http://balai.test",
        PAGE_CACHE_SECONDS="0",
        **settings,
    ) as web:
        yield web
