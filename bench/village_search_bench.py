"""Village search benchmark: every village of Indonesia (83,762) on Balai, the front page's search timed.

Imports the regions, makes every village an active tenant (bulk insert, with its search text), then
times the search (app/public: exact words, and the one-typo fallback) through the app in-process:
the front page's htmx fragment, so the figures are server time without the network.

    .venv/bin/python bench/village_search_bench.py                 # SQLite in a temp folder
    .venv/bin/python bench/village_search_bench.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/db

The PostgreSQL database given is emptied. Prints the figures and writes bench/results/village_search.json.
Never run by the tests.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TMP = Path(tempfile.mkdtemp(prefix="balai-bench-"))
os.environ.setdefault("BALAI_INSTANCE", str(TMP / "instance"))

from sqlalchemy import insert, select, text  # noqa: E402

from app import create_app  # noqa: E402
from app.config import TestConfig  # noqa: E402
from app.extensions import db  # noqa: E402

# The queries (the typo last: it takes the fallback), and one that matches nothing.
QUERIES = ["Desa Hanura", "Pekon Trimulyo", "teluk pandan", "pesawaran", "hanra", "sukamaju", "zzyzxq"]


class BenchConfig(TestConfig):
    PAGE_CACHE_SECONDS = 0  # time the search, not the page cache


def build(url: str) -> int:
    """A fresh database over ``url`` with every village of the region list active; returns how many."""
    app = create_app(type("Cfg", (BenchConfig,), {"SQLALCHEMY_DATABASE_URI": url}))
    with app.app_context():
        db.drop_all()
        db.create_all()
        from app.domain.search import search_text
        from app.models import Region, Village
        from app.models.region import VILLAGE
        from app.regions import import_regions

        import_regions()
        names = dict(db.session.execute(select(Region.code, Region.name)).all())
        rows = []
        for code, name in db.session.execute(
            select(Region.code, Region.name).where(Region.level == VILLAGE).order_by(Region.code)
        ):
            district = code.rsplit(".", 1)[0]
            rows.append(
                {
                    "region_code": code,
                    "slug": code.replace(".", "-"),
                    "name": name,
                    "term": "desa",
                    "short_code": "DSA",
                    "search_text": search_text(
                        name, names.get(district), names.get(district.rsplit(".", 1)[0])
                    ),
                }
            )
        for start in range(0, len(rows), 5000):
            db.session.execute(insert(Village), rows[start : start + 5000])
        db.session.commit()
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE"))
        db.session.remove()
        db.engine.dispose()
        return len(rows)


def time_queries(app, runs: int) -> dict:
    client = app.test_client()
    headers = {"HX-Request": "true"}
    found = {}
    for q in QUERIES:  # warm up, and note what each finds
        body = client.get("/", query_string={"q": q}, headers=headers).get_data(as_text=True)
        found[q] = body.count('class="row"')
    times: dict[str, list[float]] = {q: [] for q in QUERIES}
    for _ in range(runs):
        for q in QUERIES:
            started = time.perf_counter()
            response = client.get("/", query_string={"q": q}, headers=headers)
            times[q].append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200
    every = [t for ts in times.values() for t in ts]
    return {
        "median_ms": round(statistics.median(every), 2),
        "p95_ms": round(statistics.quantiles(every, n=20, method="inclusive")[18], 2),
        "queries": {
            q: {"found": found[q], "median_ms": round(statistics.median(ts), 2), "max_ms": round(max(ts), 2)}
            for q, ts in times.items()
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--sqlite", default=str(TMP / "bench.sqlite"))
    parser.add_argument("--postgres", default=os.environ.get("BENCH_DATABASE_URL"))
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "village_search.json"))
    args = parser.parse_args()
    results: dict = {
        "runs": args.runs,
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "databases": {},
    }
    targets = [("sqlite", f"sqlite:///{args.sqlite}")]
    if args.postgres:
        targets.append(("postgresql", args.postgres))
    for label, url in targets:
        print(f"{label}: filling…")
        villages = build(url)
        app = create_app(type("Cfg", (BenchConfig,), {"SQLALCHEMY_DATABASE_URI": url}))
        with app.app_context():
            figures = time_queries(app, args.runs)
            figures["villages"] = villages
            results["databases"][label] = figures
            print(f"  {villages} villages: median {figures['median_ms']} ms, p95 {figures['p95_ms']} ms")
            for q, f in figures["queries"].items():
                print(f"    {q!r:18} {f['found']:3} found, median {f['median_ms']} ms, max {f['max_ms']} ms")
            db.session.remove()
            db.engine.dispose()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(f"written {out}")


if __name__ == "__main__":
    main()
