"""Server throughput and latency: the tracking page, the service list and the catalogue under load.

gunicorn serves the app as the Procfile does (gunicorn.conf.py: 2 workers, 4 threads each) on this machine, seeded
with the demo, once on SQLite and once on PostgreSQL (BENCH_PG_URL, default the balai_h6 database,
which is dropped and rebuilt). Debian's ``wrk`` opens 32 connections and asks for compressed
pages as a browser would. Budget: at least 500 requests/s with p99 under 50 ms, each page, each
database.

    .venv/bin/python -m bench.load [--seconds 10] [--no-postgres]

Prints the figures and writes bench/results/load.json.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.support import (
    PG_URL,
    Server,
    gunicorn_settings,
    postgres_reachable,
    resident_pages,
    sqlite_url,
    table,
    write_result,
)

CONNECTIONS = 32
MIN_RPS = 500
MAX_P99_MS = 50
PAGES = ("tracking", "service list", "catalogue")
WARM_UP_SECONDS = 5
HEADERS = ["Accept-Encoding: gzip, deflate, br, zstd", "Accept-Language: id-ID,id;q=0.9"]


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def parse_wrk(out: str) -> dict:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    latency = {
        p: _ms(v, u)
        for p, v, u in re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE)
    }
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {
        "rps": round(rps),
        "p50_ms": round(latency.get("50", 0), 1),
        "p90_ms": round(latency.get("90", 0), 1),
        "p99_ms": round(latency.get("99", 0), 1),
        "non_2xx": int(errors.group(1)) if errors else 0,
        "socket_errors": sum(int(x) for x in sockets.groups()) if sockets else 0,
    }


def wrk(url: str, seconds: int) -> dict:
    args = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency"]
    for header in HEADERS:
        args += ["-H", header]
    done = subprocess.run([*args, url], capture_output=True, text=True, timeout=seconds + 60)
    if done.returncode != 0:
        raise RuntimeError(done.stderr)
    return parse_wrk(done.stdout)


def settle(url: str) -> None:
    """After the bulk seed, do the statistics and clean-up that autovacuum would otherwise start
    in the middle of the measurement (PostgreSQL; SQLite has none)."""
    if not url.startswith("postgresql"):
        return
    import psycopg

    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def measure(database: str, url: str, seconds: int, workers: int | None, threads: int | None) -> list[dict]:
    rows = []
    with Server(url, workers=workers, threads=threads) as server:
        settle(url)
        pages = {p.name: p for p in resident_pages(server)}
        for name in PAGES:
            page = pages.get(name)
            if page is None or page.missing:
                rows.append({"database": database, "page": name, "path": None, "status": "missing"})
                continue
            target = server.base_url + page.path
            wrk(target, WARM_UP_SECONDS)  # warm up: workers import, caches fill, connections open
            result = wrk(target, seconds)
            ok = result["rps"] >= MIN_RPS and result["p99_ms"] < MAX_P99_MS and not result["non_2xx"]
            rows.append(
                {
                    "database": database,
                    "page": name,
                    "path": page.path,
                    **result,
                    "status": "ok" if ok else "over budget",
                }
            )
    return rows


def run(
    seconds: int = 10, postgres: bool = True, workers: int | None = None, threads: int | None = None
) -> dict:
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install -y wrk")
    folder = Path(tempfile.mkdtemp(prefix="balai-load-"))
    rows = measure("sqlite", sqlite_url(folder), seconds, workers, threads)
    if postgres and postgres_reachable():
        rows += measure("postgresql", PG_URL, seconds, workers, threads)
    elif postgres:
        rows.append(
            {"database": "postgresql", "page": "-", "path": None, "status": f"skipped: no server at {PG_URL}"}
        )
    conf = gunicorn_settings()
    workers, threads = workers or conf["workers"], threads or conf["threads"]
    balanced = ", a socket per worker" if conf.get("reuse_port") else ""
    setup = {
        "connections": CONNECTIONS,
        "seconds": seconds,
        "gunicorn": f"{workers} workers x {threads} threads{balanced}",
        "tool": "wrk",
    }
    return {"setup": setup, "budgets": {"min_rps": MIN_RPS, "max_p99_ms": MAX_P99_MS}, "rows": rows}


def report(data: dict) -> str:
    rows = [
        [
            r["database"],
            r["page"],
            r.get("path") or "-",
            r.get("rps", ""),
            r.get("p50_ms", ""),
            r.get("p99_ms", ""),
            r.get("non_2xx", ""),
            "ok" if r["status"] == "ok" else ("OVER" if r["status"] == "over budget" else r["status"]),
        ]
        for r in data["rows"]
    ]
    s = data["setup"]
    return (
        table(rows, ["database", "page", "path", "req/s", "p50 ms", "p99 ms", "non-2xx", "budget"])
        + f"\n{s['tool']}, {s['connections']} connections, {s['seconds']} s, gunicorn {s['gunicorn']}; "
        f"budget >= {data['budgets']['min_rps']} req/s and p99 < {data['budgets']['max_p99_ms']} ms"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--workers", type=int, help="default: as gunicorn.conf.py (the Procfile)")
    parser.add_argument("--threads", type=int, help="default: as gunicorn.conf.py (the Procfile)")
    args = parser.parse_args(argv)
    data = run(args.seconds, not args.no_postgres, args.workers, args.threads)
    print(report(data))
    print(f"written {write_result('load', data)}")
    return 1 if any(r["status"] == "over budget" for r in data["rows"]) else 0


if __name__ == "__main__":
    sys.exit(main())
