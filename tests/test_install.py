"""A new installer's first ten minutes: what `make` and `.ci/run` say and set up on a stock machine."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import make_url

from tests.conftest import Config, is_postgres

ROOT = Path(__file__).resolve().parent.parent
CHECK = [sys.executable, str(ROOT / ".ci" / "postgres_check.py")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check(url: str) -> tuple[int, str]:
    done = subprocess.run([*CHECK, url], capture_output=True, text=True, timeout=30, check=False)
    return done.returncode, done.stdout.strip()


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==([^\s;#]+)", line.strip())
        if match:
            pins[re.sub(r"[-_.]+", "-", match.group(1)).lower()] = match.group(2)
    return pins


def test_make_install_installs_within_the_lock_of_every_transitive_dependency():
    dry = subprocess.run(
        ["make", "-n", "-B", "install"], cwd=ROOT, capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert "-r requirements-dev.txt -c constraints.txt" in dry
    locked = _pins(ROOT / "constraints.txt")
    wanted = {**_pins(ROOT / "requirements.txt"), **_pins(ROOT / "requirements-dev.txt")}
    assert len(locked) > len(wanted)  # the dependencies' dependencies too
    differ = {name: (pin, locked.get(name)) for name, pin in wanted.items() if locked.get(name) != pin}
    assert not differ, f"requirements and constraints.txt disagree (run `make constraints`): {differ}"


def test_make_run_prints_the_address_it_serves_and_the_readme_commands_have_targets():
    dry = subprocess.run(
        ["make", "-n", "-o", "install", "run", "PORT=5123"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "http://127.0.0.1:5123/" in dry
    for target, command in {
        "db-upgrade": "db upgrade",
        "regions": "regions import",
        "seed": "seed-demo",
        "worker": "jobs worker",
        "admin": "users create-admin",
    }.items():
        out = subprocess.run(
            ["make", "-n", "-o", "install", target], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout
        assert f".venv/bin/flask --app wsgi {command}" in out, target


def test_the_postgresql_check_names_the_real_reason():
    code, line = check(f"postgresql+psycopg://postgres@127.0.0.1:{_free_port()}/test")
    assert code == 10 and "no server" in line
    if is_postgres():
        url = make_url(Config.SQLALCHEMY_DATABASE_URI)
        missing = url.set(database=f"nope_{secrets.token_hex(4)}").render_as_string(hide_password=False)
        code, line = check(missing)
        assert code == 12 and "database does not exist" in line
        wrong = url.set(username=f"nobody_{secrets.token_hex(4)}", password="x").render_as_string(
            hide_password=False
        )
        code, line = check(wrong)
        assert code in (11, 0), line  # refused, unless the server trusts every local login
        ok = url.render_as_string(hide_password=False)
        assert check(ok) == (0, f"PostgreSQL at {url.host}:{url.port}/{url.database}: reachable")
        assert url.password is None or url.password not in check(ok)[1]


def _can_make_clusters() -> bool:
    return os.geteuid() == 0 and shutil.which("pg_createcluster") is not None and shutil.which("runuser")


@pytest.fixture
def stock_cluster():
    """A throwaway PostgreSQL cluster as Debian makes one: peer and scram logins, no `test` database."""
    if not _can_make_clusters():
        if os.environ.get("CI"):
            pytest.fail("CI runs as root with Debian's postgresql (pg_createcluster)")
        pytest.skip("needs root and Debian's pg_createcluster")
    version = sorted(os.listdir("/etc/postgresql"), key=lambda v: [int(p) for p in v.split(".")])[-1]
    name, port = f"balai{secrets.token_hex(3)}", _free_port()
    subprocess.run(
        ["pg_createcluster", version, name, "--port", str(port), "--start"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    try:
        yield port
    finally:
        subprocess.run(
            ["pg_dropcluster", "--stop", version, name], check=False, capture_output=True, timeout=120
        )


def setup(env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(ROOT / ".ci" / "postgres_setup")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_ci_sets_up_a_stock_postgresql_itself(stock_cluster):
    port = stock_cluster
    default = f"postgresql+psycopg://postgres@127.0.0.1:{port}/test"
    code, line = check(default)
    assert code == 11 and "refused the login" in line  # not "no server"
    env = {**os.environ, "PG_PORT": str(port), "PYTHON": sys.executable, "CI_PG_ROLE": "balai_ci_test"}
    env.pop("TEST_PG_URL", None)
    done = setup(env)
    assert done.returncode == 0, done.stderr
    url = done.stdout.strip()
    assert "creating role balai_ci_test" in done.stderr and "creating database test" in done.stderr
    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")  # the catalogue's and village search's index
        conn.execute("CREATE DATABASE balai_created_by_tests")  # tests/test_migrations.py does
        conn.execute("DROP DATABASE balai_created_by_tests")
    # Running it again keeps working (a new password each run).
    again = setup(env)
    assert again.returncode == 0 and check(again.stdout.strip())[0] == 0


def test_ci_says_aloud_what_it_changes_on_the_machine():
    script = (ROOT / ".ci" / "run").read_text()
    assert "echo \"ci: setting the kernel's net.ipv4.tcp_migrate_req=1" in script
    assert "TEST_PG_URL=$(PG_PORT=5432 .ci/postgres_setup)" in script
