"""Pages without the page cache, in-process, as ratios to a bare Flask page timed in the same run.

Builds the demo (regions, seed-demo) in a scratch database, turns the page cache off
(``PAGE_CACHE_SECONDS=0``) and times each page ``--runs`` times with Flask's test client, next to
a minimal Flask app rendering a small cached Jinja template in the same process. Counts the SQL
statements each page sends (SQLAlchemy's ``before_cursor_execute``). The officials' queue is timed
in a second database holding a village with ``--queue-rows`` requests (bench/queue_bench.py's fill).
Prints page | ms | x bare | SQL | target and writes bench/results/uncached.json. Pages and the
bare one are timed in interleaved rounds and reported as medians, so a neighbour's burst on a
shared machine moves the ratios less.

    .venv/bin/python -m bench.uncached [--runs 300] [--queue-rows 100000] [--sqlite] [--old 2bdf4fb]

``--old`` runs the same bench first over another commit's app (a temporary git worktree, its own
process and databases rebuilt) and prints page | before | after | SQL before/after | target.

PostgreSQL databases ``BENCH_PG_URL`` (default balai_uncached) and ``<it>_queue`` are dropped and
rebuilt; Redis (BENCH_REDIS_URL) is used as production uses it, when it answers.
"""

from __future__ import annotations

import argparse
import gc
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("BALAI_INSTANCE", tempfile.mkdtemp(prefix="balai-bench-"))

from flask import Flask, render_template  # noqa: E402
from jinja2 import DictLoader  # noqa: E402
from sqlalchemy import event, select  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402

from bench.support import (  # noqa: E402
    DEMO_PASSWORD,
    complaint_fields,
    fresh_postgres,
    input_value,
    postgres_reachable,
    redis_reachable,
    table,
    write_result,
)

PG_URL = os.environ.get("BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/balai_uncached")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/7")
# (ratio to bare Flask, SQL statements) per kind of page; None: no limit.
TARGETS = {
    "resident": (6, 4),
    "form": (8, 4),
    "healthz": (1.5, None),
    "queue": (15, None),
    "region": (6, None),
}
BARE_TEMPLATE = """<!doctype html><html lang="id"><head><title>{{ title }}</title></head>
<body><h1>{{ title }}</h1><ul>{% for item in items %}<li>{{ item }}</li>{% endfor %}</ul></body></html>"""

ROUNDS = 10
_statements = [0]


def _count(*_args, **_kwargs) -> None:
    _statements[0] += 1


def bare_app() -> Flask:
    """The floor: Flask rendering a small template it has compiled and cached already."""
    bare = Flask("bare")
    bare.jinja_loader = DictLoader({"page.html": BARE_TEMPLATE})

    @bare.route("/")
    def page():
        return render_template("page.html", title="Balai", items=("Surat", "Pengaduan", "Produk"))

    return bare


def make_app(url: str, redis_url: str | None):
    from app import create_app
    from app.config import TestConfig

    class Config(TestConfig):
        SQLALCHEMY_DATABASE_URI = url
        UPLOAD_DIR = tempfile.mkdtemp(prefix="balai-bench-up-")
        PAGE_CACHE_SECONDS = 0
        REDIS_URL = redis_url
        TESTING = False  # as served: errors are pages, not exceptions

    return create_app(Config)


def warm(client, path: str) -> int:
    """A few GETs (caches fill, connections open); returns the SQL statements one GET then sends."""
    for _ in range(5):
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
    _statements[0] = 0
    client.get(path)
    return _statements[0]


def timed(client, path: str, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        client.get(path)
        times.append((time.perf_counter() - began) * 1000)
    return times


def demo_pages(app) -> list[tuple[str, str, str, object]]:
    """(page, kind, path, client) for the demo's resident, public and region pages."""
    from app import models
    from app.extensions import db
    from app.models.bumdes import Product

    with app.app_context():
        village = db.session.scalar(select(models.Village).where(models.Village.slug == "hanura"))
        services = db.session.scalars(
            select(models.Service).where(models.Service.village_id == village.id, models.Service.active)
        ).all()
        letter = next(s.code for s in services if not s.is_complaint)
        complaint = next(s.code for s in services if s.is_complaint)
        tracking = db.session.scalar(
            select(models.ServiceRequest.tracking_code).where(models.ServiceRequest.village_id == village.id)
        )
        product = db.session.scalar(select(Product).order_by(Product.id))
        product_path = f"/produk/{product.id}-{product.slug}"
        shop = product.village.slug
        code = village.region_code
    resident = app.test_client()
    receipt = _send_complaint(resident, village.slug, complaint)
    anon = app.test_client()
    pages = [
        ("home /", "resident", "/", anon),
        ("village home", "resident", f"/desa/{village.slug}/", anon),
        ("service list", "resident", f"/desa/{village.slug}/layanan", anon),
        ("request form", "form", f"/desa/{village.slug}/layanan/{letter}", app.test_client()),
        ("receipt (session)", "resident", f"/tanda-terima/{receipt}", resident),
        ("tracking", "resident", f"/lacak/{tracking}", anon),
        ("my requests (session)", "resident", "/saya", resident),
        ("catalogue /produk", "resident", "/produk", anon),
        ("village shop", "resident", f"/desa/{shop}/produk", anon),
        ("product", "resident", product_path, anon),
        ("offline", "resident", "/offline", anon),
        ("announcements", "resident", f"/desa/{village.slug}/pengumuman", anon),
        ("regions /wilayah/", "region", "/wilayah/", anon),
        ("province /wilayah/18", "region", "/wilayah/18", anon),
        ("kabupaten", "region", f"/wilayah/{code[:5]}", anon),
        ("kecamatan", "region", f"/wilayah/{code[:8]}", anon),
        ("village (region)", "region", f"/wilayah/{code}", anon),
        ("/healthz", "healthz", "/healthz", anon),
    ]
    return pages


def _send_complaint(client, slug: str, code: str) -> str:
    html = client.get(f"/desa/{slug}/layanan/{code}").get_data(as_text=True)
    sent = client.post(f"/desa/{slug}/layanan/{code}", data=complaint_fields(html))
    match = re.search(r"/tanda-terima/([^/?#]+)", sent.headers.get("Location", ""))
    assert match, ("complaint not sent", sent.status_code)
    return match.group(1)


def seed(app) -> None:
    from app.cli.demo import seed_demo
    from app.extensions import db
    from app.regions import import_regions

    with app.app_context():
        db.drop_all()
        db.create_all()
        import_regions()
        seed_demo(DEMO_PASSWORD)


def queue_page(url: str, redis_url: str | None, rows: int):
    """An app whose village has ``rows`` requests, and a client signed in as its operator."""
    from bench import queue_bench

    app = make_app(url, redis_url)
    with app.app_context():
        queue_bench.fill(rows)
    client = app.test_client()
    login = client.get("/akun/masuk").get_data(as_text=True)
    response = client.post(
        "/akun/masuk",
        data={
            "email": "operator@bench.test",
            "password": queue_bench.PASSWORD,
            "csrf_token": input_value(login, "csrf_token"),
        },
    )
    assert response.status_code == 302, ("login failed", response.status_code)
    return client


def run(runs: int, queue_rows: int, sqlite: bool) -> dict:
    folder = Path(tempfile.mkdtemp(prefix="balai-uncached-"))
    if not sqlite and postgres_reachable(PG_URL):
        url, queue_url, database = PG_URL, PG_URL + "_queue", "postgresql"
        postgres_reachable(queue_url)
    else:
        url, queue_url, database = (
            f"sqlite:///{folder / 'demo.sqlite'}",
            f"sqlite:///{folder / 'queue.sqlite'}",
            "sqlite",
        )
    redis_url = REDIS_URL if redis_reachable(REDIS_URL) else None
    fresh_postgres(url)
    fresh_postgres(queue_url)
    app = make_app(url, redis_url)
    seed(app)
    pages = demo_pages(app)
    queue_client = queue_page(queue_url, redis_url, queue_rows) if queue_rows else None
    if queue_client is not None:
        pages.append(("officials' queue /kantor/", "queue", "/kantor/", queue_client))
    event.listen(Engine, "before_cursor_execute", _count)
    bare = bare_app().test_client()
    targets = [("bare Flask", "bare", "/", bare), *pages]
    statements = {name: warm(client, path) for name, _kind, path, client in targets}
    # Round-robin: every page, the bare one included, is timed in each of ROUNDS rounds, so a
    # neighbour's burst on a shared machine lands on all of them alike and the ratios hold.
    samples: dict[str, list[float]] = {name: [] for name, *_ in targets}
    per_round = max(1, runs // ROUNDS)
    gc.collect()
    for _ in range(ROUNDS):
        for name, _kind, path, client in targets:
            samples[name].extend(timed(client, path, per_round))
    bare_ms = statistics.median(samples["bare Flask"])
    rows = [
        {
            "page": name,
            "kind": kind,
            "path": path,
            "ms": round(statistics.median(samples[name]), 3),
            "sql": statements[name],
        }
        for name, kind, path, _client in pages
    ]
    for row in rows:
        ratio_limit, sql_limit = TARGETS[row["kind"]]
        row["x_bare"] = round(row["ms"] / bare_ms, 2)
        row["target"] = f"<= {ratio_limit}x" + (f", <= {sql_limit} SQL" if sql_limit else "")
        ok = row["x_bare"] <= ratio_limit and (sql_limit is None or row["sql"] <= sql_limit)
        row["status"] = "ok" if ok else "over"
        if row["kind"] != "resident" or "(" in row["page"]:
            row["path"] = re.sub(r"/(tanda-terima|lacak)/[^/]+", r"/\1/<code>", row["path"])
    return {
        "database": database,
        "redis": bool(redis_url),
        "runs": runs,
        "queue_rows": queue_rows,
        "bare_ms": round(bare_ms, 3),
        "rounds": ROUNDS,
        "pages": rows,
    }


def report(data: dict) -> str:
    rows = [
        [r["page"], f"{r['ms']:.2f}", f"{r['x_bare']:.1f}", r["sql"], r["target"], r["status"]]
        for r in data["pages"]
    ]
    head = (
        f"bare Flask page: {data['bare_ms']:.3f} ms; {data['database']}, Redis {'on' if data['redis'] else 'off'}, "
        f"median of {data['runs']} per page in {data['rounds']} interleaved rounds"
    )
    return head + "\n" + table(rows, ["page", "ms", "x bare", "SQL", "target", "status"])


def compare(before: dict, after: dict) -> str:
    """page | before ms (x bare) | after ms (x bare) | SQL before/after | target, for the README."""
    old = {r["page"]: r for r in before["pages"]}
    rows = []
    for r in after["pages"]:
        b = old.get(r["page"])
        was = f"{b['ms']:.2f} ({b['x_bare']:.1f}x)" if b else "-"
        sql = f"{b['sql'] if b else '-'} / {r['sql']}"
        rows.append([r["page"], was, f"{r['ms']:.2f} ({r['x_bare']:.1f}x)", sql, r["target"], r["status"]])
    head = f"bare Flask: before {before['bare_ms']:.3f} ms, after {after['bare_ms']:.3f} ms (each in its own run)"
    return (
        head
        + "\n"
        + table(rows, ["page", "before ms (x bare)", "after ms (x bare)", "SQL", "target", "status"])
    )


def run_old(commit: str, argv: list[str]) -> dict:
    """This bench over the app of ``commit`` (a temporary git worktree), in a process of its own."""
    import json
    import subprocess

    from bench.uncached_load import worktree

    folder = worktree(commit)
    try:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.uncached",
                "--app-root",
                str(folder),
                "--result",
                "uncached_before",
                *argv,
            ],
            cwd=ROOT,
            check=True,
        )
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(folder)], cwd=ROOT, check=False)
    return json.loads((ROOT / "bench" / "results" / "uncached_before.json").read_text())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--queue-rows", type=int, default=100_000)
    parser.add_argument("--sqlite", action="store_true", help="SQLite even when PostgreSQL answers")
    parser.add_argument("--old", help="also measure this commit first (e.g. 2bdf4fb) and print before/after")
    parser.add_argument("--app-root", help=argparse.SUPPRESS)  # the app of another checkout (--old)
    parser.add_argument("--result", default="uncached", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    shared = [
        "--runs",
        str(args.runs),
        "--queue-rows",
        str(args.queue_rows),
        *(["--sqlite"] if args.sqlite else []),
    ]
    before = run_old(args.old, shared) if args.old else None
    if args.app_root:
        sys.path.insert(0, args.app_root)  # `bench` stays this checkout's: it is imported already
    data = run(args.runs, args.queue_rows, args.sqlite)
    print(report(data))
    if before is not None:
        data["before"] = {"commit": args.old, **before}
        print()
        print(compare(before, data))
    write_result(args.result, data)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
