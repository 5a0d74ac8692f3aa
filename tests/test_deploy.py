"""The Procfile's web process: gunicorn with gunicorn.conf.py, started as a platform would start it."""

import http.client
import os
import runpy
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import pytest

from tests.conftest import child_pids

ROOT = Path(__file__).resolve().parent.parent


def procfile_command(name: str) -> list[str]:
    for line in (ROOT / "Procfile").read_text().splitlines():
        process, _, command = line.partition(":")
        if process.strip() == name:
            return shlex.split(command)
    raise AssertionError(f"no {name} process in the Procfile")


def listening_sockets(port: int) -> int:
    """How many sockets listen on 127.0.0.1/0.0.0.0:port, from /proc/net/tcp (state 0A)."""
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        if state == "0A" and int(local.split(":")[1], 16) == port:
            count += 1
    return count


def get(url: str) -> int:
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""))
        return conn.getresponse().status
    finally:
        conn.close()


@pytest.fixture
def web(tmp_path):
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
        BALAI_INSTANCE=str(tmp_path / "instance"),
        DATABASE_URL=f"sqlite:///{tmp_path / 'web.sqlite'}",
        SECRET_KEY="deploy-test-secret-key-long-enough",
        UPLOAD_DIR=str(tmp_path / "uploads"),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
    )
    log = open(tmp_path / "web.log", "wb")  # noqa: SIM115  (closed below)
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
            assert process.poll() is None, (tmp_path / "web.log").read_text()[-3000:]
            try:
                if get(base + "/healthz") == 200 and len(child_pids(process.pid)) == 2:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        else:
            raise AssertionError("the web process did not answer /healthz within 60 s")
        yield process, port, base, tmp_path / "web.log"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


def test_procfile_web_listens_as_gunicorn_conf_says(web):
    process, port, _, _ = web
    own_sockets = runpy.run_path(str(ROOT / "gunicorn.conf.py"))["reuse_port"]
    # Where the kernel can hand queued connections on, one socket per worker (spread by the
    # kernel) and none in the master; elsewhere one socket shared by both workers.
    expected = 2 if own_sockets else 1
    deadline = time.monotonic() + 10
    while listening_sockets(port) < expected and time.monotonic() < deadline:
        time.sleep(0.1)
    assert listening_sockets(port) == expected
    assert len(child_pids(process.pid)) == 2


def test_procfile_web_keeps_serving_when_a_worker_dies(web):
    process, _, base, _ = web
    os.kill(child_pids(process.pid)[0], signal.SIGKILL)
    # The master starts a replacement; meanwhile every request still gets an answer.
    for _ in range(20):
        assert get(base + "/healthz") == 200
    deadline = time.monotonic() + 30
    while len(child_pids(process.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(child_pids(process.pid)) == 2


def test_procfile_web_access_log_leaves_out_query_strings(web):
    _, _, base, log = web
    get(base + "/lacak?kode=SECRET-QUERY-VALUE")
    get(base + "/healthz")
    time.sleep(0.5)
    text = log.read_text()
    assert '"GET /healthz" 200' in text
    assert "/lacak" in text
    assert "SECRET-QUERY-VALUE" not in text
