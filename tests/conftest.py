"""Shared fixtures: one app and database per test session, emptied after each test.

TEST_DATABASE_URL picks the database (SQLite in a temporary folder by default, e.g.
postgresql+psycopg://postgres@127.0.0.1:5432/test for PostgreSQL). TEST_REDIS_URL picks the
Redis used by job tests (redis://127.0.0.1:6379/15 by default); without a reachable Redis those
tests are skipped on a developer machine and fail under CI=true.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import pytest
from flask import g, has_app_context
from flask.testing import FlaskClient
from sqlalchemy import delete, text

TMP = Path(tempfile.mkdtemp(prefix="balai-test-"))
os.environ.setdefault("BALAI_INSTANCE", str(TMP / "instance"))

from app import create_app  # noqa: E402
from app.config import TestConfig  # noqa: E402
from app.extensions import db  # noqa: E402

# Browser fixtures (live_server, page) registered once, so one Playwright session serves all modules.
pytest_plugins = ["tests.browser_support"]

DEMO_PASSWORD = "demo-password-123"
DATABASE_URL = os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{TMP / 'test.sqlite'}"
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
KEEP_TABLES = {"regions", "alembic_version"}


def _url(url: str) -> str:
    return (
        url.replace("postgresql://", "postgresql+psycopg://", 1) if url.startswith("postgresql://") else url
    )


class Config(TestConfig):
    SQLALCHEMY_DATABASE_URI = _url(DATABASE_URL)
    UPLOAD_DIR = str(TMP / "uploads")


class FreshContextClient(FlaskClient):
    """A test client whose requests do not share ``g`` (the logged-in user, the locale) with the test.

    The test holds an app context open for database work, and Flask reuses it for each request;
    in production every request gets its own.
    """

    def open(self, *args, **kwargs):
        if has_app_context():
            for key in list(g):
                g.pop(key)
        return super().open(*args, **kwargs)


@pytest.fixture(scope="session")
def _app():
    app = create_app(Config)
    app.test_client_class = FreshContextClient
    with app.app_context():
        db.drop_all()
        db.create_all()
        from app.regions import import_regions

        import_regions()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def app(_app):
    """The app, with an empty database (regions kept) and a fresh app context."""
    page_cache = _app.extensions.get("balai_page_cache")
    if page_cache is not None:
        page_cache.clear()  # tables are emptied and refilled without the ORM, which would clear it
    data_cache = _app.extensions.get("balai_data_cache")
    if data_cache is not None:
        data_cache.bump()  # likewise (app/datacache.py)
    with _app.app_context():
        yield _app
        db.session.rollback()
        db.session.remove()
        _empty_tables()
    from app.extensions import limiter

    limiter.reset()


def _empty_tables() -> None:
    with db.engine.begin() as conn:
        tables = [t for t in reversed(db.metadata.sorted_tables) if t.name not in KEEP_TABLES]
        if conn.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                conn.execute(delete(table))


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


_DEMO_SNAPSHOT: dict = {}


@pytest.fixture
def demo(app):
    """The demo villages, accounts and data, every password set to DEMO_PASSWORD.

    Seeding runs the whole workflow (photos, notifications) and takes seconds, so it runs once per
    session; later tests get the same rows (and stored files) copied back in.
    """
    if not _DEMO_SNAPSHOT:
        from app.cli.demo import seed_demo

        root = Path(app.config["UPLOAD_DIR"])
        before = {p for p in root.rglob("*") if p.is_file()}  # earlier tests' files are not the demo's
        seed_demo(DEMO_PASSWORD)
        _take_snapshot(app, before)
    else:
        _restore_snapshot(app)
    return DEMO_PASSWORD


# Kept by the database itself (triggers on service_requests, app/models/deskcounts.py): refilled as
# the requests are copied back, so never copied themselves.
DERIVED_TABLES = {"desk_counts"}


def _data_tables():
    return [t for t in db.metadata.sorted_tables if t.name not in KEEP_TABLES | DERIVED_TABLES]


def _take_snapshot(app, before: set[Path]) -> None:
    with db.engine.connect() as conn:
        _DEMO_SNAPSHOT["rows"] = {
            t.name: [dict(r) for r in conn.execute(t.select()).mappings()] for t in _data_tables()
        }
    root = Path(app.config["UPLOAD_DIR"])
    _DEMO_SNAPSHOT["files"] = {
        p.relative_to(root): p.read_bytes() for p in root.rglob("*") if p.is_file() and p not in before
    }


def _restore_snapshot(app) -> None:
    with db.engine.begin() as conn:
        for table in _data_tables():
            rows = _DEMO_SNAPSHOT["rows"][table.name]
            if rows:
                conn.execute(table.insert(), rows)
        if conn.dialect.name == "postgresql":
            for table in _data_tables():
                if "id" in table.c and table.c.id.autoincrement in (True, "auto") and table.c.id.primary_key:
                    conn.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "  # noqa: S608 (table names from metadata)
                            f'coalesce((SELECT max(id) FROM "{table.name}"), 1), '
                            f'(SELECT max(id) FROM "{table.name}") IS NOT NULL)'
                        )
                    )
    root = Path(app.config["UPLOAD_DIR"])
    for rel, data in _DEMO_SNAPSHOT["files"].items():
        path = root / rel
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)


CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


def csrf_from(html: str) -> str:
    """The CSRF token of the first form on a page."""
    match = CSRF_RE.search(html)
    assert match, "no csrf_token in page"
    return match.group(1) or match.group(2)


def without_csrf(html: str) -> str:
    """A page with its CSRF token (signed with the second it was made, so two pages a second apart
    differ) replaced wherever it appears, for comparing two answers that must otherwise be the same."""
    match = CSRF_RE.search(html)
    return html.replace(match.group(1) or match.group(2), "CSRF") if match else html


class Auth:
    def __init__(self, client):
        self.client = client

    def csrf(self, path: str = "/akun/masuk") -> str:
        return csrf_from(self.client.get(path).get_data(as_text=True))

    def login(self, email: str, password: str = DEMO_PASSWORD):
        token = self.csrf()
        return self.client.post(
            "/akun/masuk", data={"email": email, "password": password, "csrf_token": token}
        )

    def logout(self):
        return self.client.post("/akun/keluar", data={"csrf_token": self.csrf("/")})

    def post(self, path: str, data: dict | None = None, form_page: str | None = None, **kwargs):
        """POST with the CSRF token taken from ``form_page`` (or the page at ``path``)."""
        data = dict(data or {})
        data.setdefault("csrf_token", self.csrf(form_page or path))
        return self.client.post(path, data=data, **kwargs)


@pytest.fixture
def auth(client):
    return Auth(client)


@pytest.fixture(scope="session")
def redis_url():
    """A real Redis for job tests."""
    from redis import Redis
    from redis.exceptions import RedisError

    try:
        Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except RedisError:
        if os.environ.get("CI"):
            pytest.fail(f"Redis at {REDIS_URL} is required in CI")
        pytest.skip(f"no Redis at {REDIS_URL}")
    return REDIS_URL


def is_postgres() -> bool:
    return _url(DATABASE_URL).startswith("postgresql")


def child_pids(pid: int) -> list[int]:
    """The processes ``pid`` forked (rq's scheduler, the cron process, a work-horse), from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found
