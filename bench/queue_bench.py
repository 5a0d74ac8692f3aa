"""Queue page under load: one village with 100,000 requests, on SQLite and on PostgreSQL.

Fills the village with bulk inserts, logs an operator in, and times the server side of
``GET /kantor/`` (in-process, no network) for the views officials use most. Prints median and
95th-percentile milliseconds and writes them to bench/results/queue.json.

    .venv/bin/python bench/queue_bench.py                      # both databases
    .venv/bin/python bench/queue_bench.py --only sqlite --rows 20000
    BENCH_PG_URL=postgresql+psycopg://postgres@127.0.0.1:5432/balai_bench .venv/bin/python bench/queue_bench.py

The PostgreSQL database named by BENCH_PG_URL is emptied (drop_all) first: give it a scratch database.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import secrets
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("BALAI_INSTANCE", tempfile.mkdtemp(prefix="balai-bench-"))

from sqlalchemy import insert, select, text  # noqa: E402

from app import create_app  # noqa: E402
from app.config import TestConfig  # noqa: E402
from app.domain import states  # noqa: E402
from app.domain.tracking import new_tracking_code, tracking_key  # noqa: E402
from app.extensions import db  # noqa: E402
from app.models import Role, Service, ServiceRequest, User  # noqa: E402
from bench.support import requests_in_bulk  # noqa: E402

VILLAGE_CODE = "18.09.10.2004"
PASSWORD = "bench-password-123"
BATCH = 5000
FIRST_NAMES = ("Siti", "Budi", "Ani", "Joko", "Wayan", "Dewi", "Agus", "Rina", "Made", "Putri", "Andi", "Sri")
LAST_NAMES = ("Wulandari", "Santoso", "Saputra", "Lestari", "Hidayat", "Pratama", "Kurniawan", "Rahayu")
# Most requests of a village that has used Balai for years are finished; a few hundred are open.
STATUS_WEIGHTS = {
    states.SELESAI: 85,
    states.DITOLAK: 6,
    states.DIAJUKAN: 3,
    states.DIVERIFIKASI: 2,
    states.DIPROSES: 2,
    states.SIAP_DIAMBIL: 1,
    states.PERLU_PERBAIKAN: 1,
}


def make_app(url: str):
    class Config(TestConfig):
        SQLALCHEMY_DATABASE_URI = url
        WTF_CSRF_ENABLED = False
        UPLOAD_DIR = tempfile.mkdtemp(prefix="balai-bench-up-")

    return create_app(Config)


def fill(rows: int) -> tuple[int, str]:
    """A fresh schema, the village, an operator and ``rows`` requests; returns (village id, a NIK)."""
    from app.regions import import_regions
    from app.tenancy import activate_village

    db.drop_all()
    db.create_all()
    import_regions()
    village = activate_village(VILLAGE_CODE, slug="hanura", short_code="HNR", head_name="Sutarno")
    services = list(db.session.scalars(select(Service).where(Service.village_id == village.id)))
    if not services:
        services = [
            Service(village_id=village.id, code=f"surat-{i}", name=f"Surat {i}", sla_days=3) for i in range(6)
        ]
        db.session.add_all(services)
    operator = User(
        email="operator@bench.test", name="Operator Bench", role=Role.OPERATOR, village_id=village.id
    )
    operator.set_password(PASSWORD)
    db.session.add(operator)
    db.session.commit()

    rng = random.Random(42)
    codes: set[str] = set()
    start = datetime.now(UTC) - timedelta(days=3 * 365)
    statuses, weights = zip(*STATUS_WEIGHTS.items(), strict=True)
    sample_nik = ""
    batch: list[dict] = []
    began = time.perf_counter()
    with requests_in_bulk(lambda sql: db.session.execute(text(sql)), db.engine.dialect.name):
        for i in range(rows):
            code = new_tracking_code()
            while code in codes:
                code = new_tracking_code()
            codes.add(code)
            submitted = start + timedelta(seconds=i * (3 * 365 * 86400 // rows) + rng.randint(0, 600))
            status = rng.choices(statuses, weights)[0]
            if status in states.OPEN_STATUSES:
                # Open requests are the recent ones.
                submitted = datetime.now(UTC) - timedelta(
                    days=rng.randint(0, 20), seconds=rng.randint(0, 86400)
                )
            nik = f"180910{rng.randint(1, 28):02d}{rng.randint(1, 12):02d}{rng.randint(60, 99)}{rng.randint(1, 9999):04d}"
            sample_nik = sample_nik or nik
            finished = (
                submitted + timedelta(hours=rng.randint(2, 200)) if status in states.FINAL_STATUSES else None
            )
            batch.append(
                {
                    "village_id": village.id,
                    "service_id": services[i % len(services)].id,
                    "tracking_code": code,
                    "tracking_key": tracking_key(code),
                    "status": status,
                    "version": 1,
                    "nik": nik,
                    "name": f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
                    "phone": None,
                    "email": None,
                    "data": {},
                    "purpose": "",
                    "category": None,
                    "hide_name": False,
                    "idempotency_key": secrets.token_hex(12),
                    "fix_token_hash": secrets.token_hex(32),
                    "channel": "online",
                    "assisted_by_id": None,
                    "notify": False,
                    "locale": "id",
                    "submitted_at": submitted,
                    "due_date": (submitted + timedelta(days=4)).date(),
                    "updated_at": finished or submitted,
                    "finished_at": finished,
                }
            )
            if len(batch) >= BATCH:
                db.session.execute(insert(ServiceRequest), batch)
                batch = []
        if batch:
            db.session.execute(insert(ServiceRequest), batch)
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        # What autovacuum would do soon after a bulk load: statistics and the visibility map.
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            tables = ", ".join(t for t in ("service_requests", "desk_counts") if t in db.metadata.tables)
            conn.execute(text(f"VACUUM ANALYZE {tables}"))
    else:
        with db.engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    print(f"  filled {rows:,} requests in {time.perf_counter() - began:.1f} s")
    return village.id, sample_nik


def measure(client, url: str, runs: int, form: dict | None = None) -> dict:
    """Time ``url``: a GET, or a POST of ``form`` (the queue's search form posts)."""

    def fetch():
        return client.post(url, data=form) if form is not None else client.get(url)

    for _ in range(3):
        assert fetch().status_code == 200
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        response = fetch()
        times.append((time.perf_counter() - began) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    times.sort()
    return {
        "median_ms": round(statistics.median(times), 2),
        "p95_ms": round(times[max(0, round(0.95 * len(times)) - 1)], 2),
        "runs": runs,
    }


def run(url: str, rows: int, runs: int) -> dict:
    app = make_app(url)
    with app.app_context():
        _, nik = fill(rows)
        client = app.test_client()
        response = client.post("/akun/masuk", data={"email": "operator@bench.test", "password": PASSWORD})
        assert response.status_code == 302, "login failed"
        first = client.get("/kantor/?status=semua", headers={"HX-Request": "true"}).get_data(as_text=True)
        cursor = re.search(r"setelah=([0-9.]+)", first).group(1)
        scenarios = {
            "queue (open, full page)": "/kantor/",
            "all statuses, page 1": "/kantor/?status=semua",
            "all statuses, page 2 (cursor)": f"/kantor/?status=semua&setelah={cursor}",
            "status selesai": "/kantor/?status=selesai",
            "overdue only": "/kantor/?lewat=1",
            "search exact NIK": ("/kantor/", {"q": nik}),  # posted: a NIK never enters a URL
            "search name": "/kantor/?q=wulan",
        }
        results = {}
        for name, path in scenarios.items():
            path, form = path if isinstance(path, tuple) else (path, None)
            results[name] = measure(client, path, runs, form)
            print(
                f"  {name:32} median {results[name]['median_ms']:8.2f} ms   p95 {results[name]['p95_ms']:8.2f} ms"
            )
        db.session.remove()
        db.engine.dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/balai_bench"),
    )
    args = parser.parse_args()
    targets = {
        "sqlite": f"sqlite:///{tempfile.mkdtemp(prefix='balai-bench-db-')}/bench.sqlite",
        "postgresql": args.pg_url,
    }
    out = {"rows": args.rows, "runs": args.runs, "measured_at": datetime.now(UTC).isoformat(), "results": {}}
    for name, url in targets.items():
        if args.only and name != args.only:
            continue
        print(f"{name}:")
        out["results"][name] = run(url, args.rows, args.runs)
    results_dir = Path(__file__).parent / "results"
    results_dir.mkdir(exist_ok=True)
    path = results_dir / "queue.json"
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(f"written to {path}")


if __name__ == "__main__":
    main()
