"""The Procfile's web process: gunicorn with gunicorn.conf.py, started as a platform would start it."""

import os
import re
import runpy
import signal
import time
from pathlib import Path

import pytest

from app import letters, workflow
from app.extensions import db
from tests.conftest import child_pids
from tests.gunicorn_support import ROOT, get, serve_test_database, start_web
from tests.test_officials import advance, make_service, user, village


def listening_sockets(port: int) -> int:
    """How many sockets listen on 127.0.0.1/0.0.0.0:port, from /proc/net/tcp (state 0A)."""
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        if state == "0A" and int(local.split(":")[1], 16) == port:
            count += 1
    return count


@pytest.fixture
def web(tmp_path):
    with start_web(tmp_path) as served:
        yield served.process, served.port, served.base, served.log


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


def test_procfile_web_access_log_never_holds_a_private_or_verification_token(app, demo, tmp_path):
    """A token read from the log used to open the resident's private page and the letter with the NIK."""
    v = village("hanura")
    submitted = workflow.submit_request(
        v,
        make_service(v),
        nik="1809104506900001",
        name="Siti Wulandari",
        phone=None,
        idempotency_key="log-test",
        data={"alamat": "Dusun II"},
    )
    db.session.commit()
    req = advance(submitted.request, "verify", "start")
    letter = letters.issue(
        req,
        user("kades.hanura@balai.test"),
        expected_version=req.version,
        note=None,
        base_url="http://balai.test",
        upload_dir=app.config["UPLOAD_DIR"],
    )
    db.session.commit()
    verify_token = re.search(rb"/verifikasi/([A-Za-z0-9_-]+)", letter.pdf).group(1).decode()
    private = submitted.fix_token
    with serve_test_database(tmp_path) as web:
        assert get(f"{web.base}/permohonan/{private}") == 200
        assert get(f"{web.base}/permohonan/{private}/surat.pdf") == 200
        assert get(f"{web.base}/verifikasi/{verify_token}") == 200
        assert get(f"{web.base}/verifikasi/{verify_token}?cek=1") == 200
        time.sleep(0.5)
        text = web.log.read_text()
    assert private not in text and verify_token not in text
    assert '"GET /permohonan/[token]" 200' in text
    assert '"GET /permohonan/[token]/surat.pdf" 200' in text
    assert text.count('"GET /verifikasi/[token]" 200') == 2


def test_the_production_docs_require_a_buffering_proxy_that_cuts_slow_clients_off():
    """gunicorn alone can be stalled by slow clients: the proxy is not optional, and SECURITY.md says how."""
    readme = (ROOT / "README.md").read_text()
    production = readme[readme.index("## Production") :]
    assert "**Required:**" in production and "slowloris" in production
    security = (ROOT / "SECURITY.md").read_text()
    for directive in (
        "proxy_request_buffering on",
        "proxy_buffering on",
        "client_header_timeout",
        "client_body_timeout",
        "limit_conn ",
        "X-Forwarded-For $remote_addr",
    ):
        assert directive in security, directive
