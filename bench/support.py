"""What the benches share: a seeded gunicorn server of the app, the resident pages it serves, results.

The database is built with ``db.create_all()``, ``regions import`` and ``seed-demo`` in a child
process (not ``db upgrade``: migrations may lag the models while areas are being built). A
PostgreSQL database given here is dropped and rebuilt.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PYTHON = sys.executable
DEMO_PASSWORD = "balai-demo-2026"
PG_URL = os.environ.get("BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/balai_h6")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/6")
NIK = "1809104508920001"  # Pesawaran, Teluk Pandan; valid, as in the residents' tests
# A fresh number per run: the per-phone submission limit is counted in Redis across runs.
PHONE = f"0812-{secrets.randbelow(10**4):04d}-{secrets.randbelow(10**4):04d}"


@contextmanager
def requests_in_bulk(execute: Callable[[str], object], dialect: str) -> Iterator[None]:
    """Many requests loaded at once, in one transaction: the desk counts' insert trigger paused
    meanwhile and every count made once afterwards (app/models/deskcounts.py says why).
    ``execute`` runs one SQL statement on the loading connection."""
    try:
        from app.models.deskcounts import PAUSE_FOR_BULK_LOAD, RECOUNT_AFTER_BULK_LOAD
    except ModuleNotFoundError:  # an app from before the desk counts (bench.uncached --old)
        yield
        return
    for statement in PAUSE_FOR_BULK_LOAD[dialect]:
        execute(statement)
    yield
    for statement in RECOUNT_AFTER_BULK_LOAD[dialect]:
        execute(statement)


# Run in the child: build the schema, import the regions, seed the demo, print what exists.
_SEED = r"""
import json, sys
from sqlalchemy import select
from app import create_app, models
from app.extensions import db
from app.regions import import_regions
from app.cli.demo import seed_demo

app = create_app()
with app.app_context():
    db.drop_all()
    db.create_all()
    import_regions()
    seed_demo(sys.argv[1])
    facts = {}
    village = db.session.scalar(select(models.Village).where(models.Village.active.is_(True)).order_by(models.Village.id))
    facts["slug"] = village.slug if village else None
    if village is not None:
        services = db.session.scalars(select(models.Service).where(models.Service.village_id == village.id,
            models.Service.active.is_(True)).order_by(models.Service.position, models.Service.id)).all()
        facts["letter"] = next((s.code for s in services if not s.is_complaint), None)
        facts["complaint"] = next((s.code for s in services if s.is_complaint), None)
        req = db.session.scalar(select(models.ServiceRequest).where(models.ServiceRequest.village_id == village.id)
            .order_by(models.ServiceRequest.id))
        facts["tracking_code"] = req.tracking_code if req else None
    product_model = getattr(models, "Product", None)
    product = None
    if product_model is not None:
        stmt = select(product_model)
        if hasattr(product_model, "published"):
            stmt = stmt.where(product_model.published.is_(True))
        product = db.session.scalar(stmt.order_by(product_model.id))
    facts["product"] = f"/produk/{product.id}-{product.slug}" if product is not None else None
    if product is not None and getattr(product, "village", None) is not None:
        facts["shop_slug"] = product.village.slug
    print("FACTS " + json.dumps(facts))
"""


def gunicorn_settings() -> dict:
    """What gunicorn.conf.py sets here (workers, threads, reuse_port...), as the Procfile runs it."""
    import runpy

    names = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    return {k: v for k, v in names.items() if not k.startswith("_") and isinstance(v, (int, str, bool))}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def sqlite_url(folder: Path) -> str:
    return f"sqlite:///{folder / 'bench.sqlite'}"


def postgres_reachable(url: str = PG_URL) -> bool:
    """True when the bench database answers; made first if the server runs but lacks it."""
    import psycopg

    dsn = url.replace("+psycopg", "")
    try:
        psycopg.connect(dsn, connect_timeout=3).close()
        return True
    except psycopg.OperationalError as error:
        if "does not exist" not in str(error):
            return False  # no server: skip PostgreSQL, and say so
    parts = urllib.parse.urlsplit(dsn)
    name = parts.path.lstrip("/")
    try:
        with psycopg.connect(
            parts._replace(path="/postgres").geturl(), autocommit=True, connect_timeout=3
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        psycopg.connect(dsn, connect_timeout=3).close()
    except psycopg.Error:
        return False
    return True


def fresh_postgres(url: str) -> None:
    """An empty public schema in the bench database ``url`` (PostgreSQL; anything else is left be).

    ``drop_all`` drops only the tables its own commit knows: an older commit's app (``--old``) fails
    on a database a newer one built (desk_counts refers to villages), and the reverse leaves tables.
    """
    if not url.startswith("postgresql"):
        return
    import psycopg

    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True, connect_timeout=10) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")


def redis_reachable(url: str = REDIS_URL) -> bool:
    try:
        from redis import Redis

        Redis.from_url(url, socket_connect_timeout=1).ping()
    except Exception:  # any failure means: count rate limits in memory instead
        return False
    return True


@dataclass
class Server:
    """A gunicorn of the app on a free port of 127.0.0.1, seeded with the demo."""

    database_url: str
    workers: int | None = None  # None: as gunicorn.conf.py says (the Procfile's settings)
    threads: int | None = None
    base_url: str = ""
    facts: dict = field(default_factory=dict)
    process: subprocess.Popen | None = None
    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="balai-bench-")))
    root: Path = ROOT  # the checkout served (bench/uncached_load.py serves an older commit beside this one)
    extra_env: dict = field(default_factory=dict)

    def env(self) -> dict:
        env = dict(os.environ)
        env.update(
            BALAI_ENV="development",
            BALAI_INSTANCE=str(self.folder / "instance"),
            DATABASE_URL=self.database_url,
            SECRET_KEY="bench-secret-key-long-enough-for-the-production-check",
            UPLOAD_DIR=str(self.folder / "uploads"),
            PYTHONPATH=str(self.root),
        )
        env.pop("REDIS_URL", None)
        # Rate limits are counted in Redis in production; fall back to memory when there is none.
        env["RATELIMIT_STORAGE_URI"] = REDIS_URL if redis_reachable() else "memory://"
        env.update(self.extra_env)
        return env

    def seed(self) -> dict:
        fresh_postgres(self.database_url)
        done = subprocess.run(
            [PYTHON, "-c", _SEED, DEMO_PASSWORD],
            cwd=self.root,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=600,
        )
        if done.returncode != 0:
            raise RuntimeError(f"seeding failed:\n{done.stderr[-3000:]}")
        line = next(x for x in done.stdout.splitlines() if x.startswith("FACTS "))
        self.facts = json.loads(line[len("FACTS ") :])
        return self.facts

    def start(self) -> Server:
        if not self.facts:
            self.seed()
        port = free_port()
        self.base_url = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen(
            [
                str(Path(PYTHON).parent / "gunicorn"),
                *(["--workers", str(self.workers)] if self.workers else []),
                *(["--threads", str(self.threads)] if self.threads else []),
                "--bind",
                f"127.0.0.1:{port}",
                "--log-level",
                "warning",
                "wsgi:app",
            ],
            cwd=self.root,
            env=self.env(),
            stdout=subprocess.DEVNULL,
            stderr=open(self.folder / "gunicorn.log", "wb"),  # noqa: SIM115  (closed with the process)
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError((self.folder / "gunicorn.log").read_text()[-3000:])
            try:
                if get(self.base_url, "/healthz").status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("gunicorn did not answer /healthz within 60 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes


def get(base_url: str, path: str, headers: dict | None = None, method: str = "GET", body=None) -> Reply:
    """One plain HTTP request (no redirects followed)."""
    parts = urllib.parse.urlsplit(base_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return Reply(response.status, response.headers, response.read())
    finally:
        conn.close()


def _cookie(reply: Reply, jar: dict) -> None:
    for value in reply.headers.get_all("Set-Cookie") or []:
        name, _, rest = value.partition("=")
        jar[name.strip()] = rest.split(";", 1)[0]


def submit_complaint(base_url: str, slug: str, code: str) -> tuple[str | None, str]:
    """Send a complaint as a resident would (no photo needed); returns (tracking code, session cookie)."""
    jar: dict[str, str] = {}
    page = get(base_url, f"/desa/{slug}/layanan/{code}")
    _cookie(page, jar)
    fields = complaint_fields(page.body.decode())
    cookie = "; ".join(f"{k}={v}" for k, v in jar.items())
    sent = get(
        base_url,
        f"/desa/{slug}/layanan/{code}",
        method="POST",
        body=urllib.parse.urlencode(fields),
        headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie},
    )
    _cookie(sent, jar)
    location = sent.headers.get("Location", "")
    match = re.search(r"/tanda-terima/([^/?#]+)", location)
    return (match.group(1) if match else None), "; ".join(f"{k}={v}" for k, v in jar.items())


def complaint_fields(html: str) -> dict:
    """What a resident fills in a complaint form (``html``, the form page), ready to send."""
    return {
        "csrf_token": input_value(html, "csrf_token"),
        "idempotency_key": input_value(html, "idempotency_key"),
        "nik": NIK,
        "name": "Siti Wulandari",
        "phone": PHONE,
        "purpose": "Jalan berlubang di dusun 2",
        "d_kategori": "Jalan dan jembatan",
        "d_lokasi": "Dekat pos ronda",
        "step": "send",
    }


def input_value(html: str, name: str) -> str:
    match = re.search(rf'name="{name}"[^>]*value="([^"]*)"', html) or re.search(
        rf'value="([^"]*)"[^>]*name="{name}"', html
    )
    return match.group(1) if match else ""


@dataclass
class Page:
    name: str
    path: str | None
    cookie: str = ""

    @property
    def missing(self) -> bool:
        return self.path is None


def resident_pages(server: Server) -> list[Page]:
    """The resident-facing pages, with real paths taken from the running app; None where it has none."""
    f = server.facts
    slug = f.get("slug")
    base = server.base_url

    def served(path: str | None) -> str | None:
        if not path:
            return None
        return path if get(base, path).status == 200 else None

    receipt_code, cookie = (None, "")
    if slug and f.get("complaint") and served(f"/desa/{slug}/layanan/{f['complaint']}"):
        receipt_code, cookie = submit_complaint(base, slug, f["complaint"])
    tracking = f.get("tracking_code") or receipt_code
    shop = f.get("shop_slug") or slug
    product = f.get("product") or _first_link(base, ["/produk", f"/desa/{shop}/produk"], PRODUCT_LINK)
    pages = [
        Page("home", served("/")),
        Page("village home", served(f"/desa/{slug}/") if slug else None),
        Page("service list", served(f"/desa/{slug}/layanan") if slug else None),
        Page(
            "request form",
            served(f"/desa/{slug}/layanan/{f['letter']}") if slug and f.get("letter") else None,
        ),
        Page("receipt", f"/tanda-terima/{receipt_code}" if receipt_code else None, cookie),
        Page("tracking", served(f"/lacak/{tracking}") if tracking else None),
        Page("my requests", served("/saya")),
        Page("catalogue", served("/produk")),
        Page("village shop", served(f"/desa/{shop}/produk") if shop else None),
        Page("product", served(product)),
        Page("offline", served("/offline")),
        Page("queue screen (TV)", served(f"/desa/{slug}/antrian") if slug else None),
    ]
    return pages


def browser_cookies(page: Page, base_url: str) -> list[dict]:
    """The page's cookies (its session) for a browser context, without the CSS one: a first visit
    must not claim to hold the stylesheet already."""
    cookies = []
    for part in page.cookie.split(";"):
        name, _, value = part.strip().partition("=")
        if name and name != "css":
            cookies.append({"name": name, "value": value, "url": base_url})
    return cookies


PRODUCT_LINK = re.compile(r'href="(/produk/\d+-[^"/?#]+)"')


def _first_link(base: str, paths: list[str], pattern: re.Pattern) -> str | None:
    for path in paths:
        reply = get(base, path)
        if reply.status == 200:
            match = pattern.search(reply.body.decode(errors="replace"))
            if match:
                return match.group(1)
    return None


def machine() -> str:
    """The machine the figures came from, for the README table."""
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 1048576:.0f} GB RAM"
    except (OSError, ValueError, IndexError):
        pass
    try:
        load = f", load average {os.getloadavg()[0]:.1f} at start"
    except OSError:
        load = ""
    return f"{os.cpu_count()} cores, {cpu}{mem}{load}"


def write_result(name: str, data: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    data = {"bench": name, "machine": machine(), "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **data}
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    return path


def table(rows: list[list], headers: list[str]) -> str:
    """A plain text table."""
    cells = [[str(c) for c in row] for row in [headers, *rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
