"""Throughput with the page cache off: this checkout against an older commit, in the same run.

The older commit (``--old``, default 2bdf4fb, issue 17's starting point) is checked out into a
temporary ``git worktree``; both are seeded with the demo in their own PostgreSQL database and served
side by side by gunicorn as ``gunicorn.conf.py`` runs it, with ``PAGE_CACHE_SECONDS=0`` and Redis
as production has it. For each page wrk (32 connections) warms up and measures the old server, then
the new one, so both see the same machine at nearly the same moment. Target: at least 5x the old
commit's requests/s. Prints the table and writes bench/results/uncached_load.json.

    .venv/bin/python -m bench.uncached_load [--seconds 10] [--old 2bdf4fb]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from pathlib import Path

from bench.load import CONNECTIONS, settle, wrk
from bench.support import (
    REDIS_URL,
    ROOT,
    Server,
    gunicorn_settings,
    postgres_reachable,
    redis_reachable,
    table,
    write_result,
)

OLD_COMMIT = "2bdf4fb"
PG_BASE = "postgresql+psycopg://postgres@127.0.0.1:5432/balai_uncached_load"
TARGET = 5.0
WARM_UP_SECONDS = 3


def pages(server: Server) -> dict[str, str]:
    f = server.facts
    slug = f["slug"]
    return {
        "village home": f"/desa/{slug}/",
        "service list": f"/desa/{slug}/layanan",
        "tracking": f"/lacak/{f['tracking_code']}",
        "catalogue": "/produk",
        "province dashboard": "/wilayah/18",
        "request form": f"/desa/{slug}/layanan/{f['letter']}",
    }


def worktree(commit: str) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="balai-old-"))
    subprocess.run(
        ["git", "worktree", "add", "--detach", str(folder), commit],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return folder


def run(seconds: int, commit: str) -> dict:
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install -y wrk")
    if not postgres_reachable(PG_BASE + "_old") or not postgres_reachable(PG_BASE + "_new"):
        raise SystemExit("PostgreSQL is needed (127.0.0.1:5432)")
    env = {"PAGE_CACHE_SECONDS": "0"}
    if redis_reachable():
        env["REDIS_URL"] = REDIS_URL
    old_root = worktree(commit)
    rows = []
    try:
        old = Server(PG_BASE + "_old", root=old_root, extra_env=env)
        new = Server(PG_BASE + "_new", extra_env=env)
        with old, new:
            settle(old.database_url)
            settle(new.database_url)
            old_pages, new_pages = pages(old), pages(new)
            for name in old_pages:
                row = {"page": name, "path": new_pages[name]}
                for label, server, path in (("old", old, old_pages[name]), ("new", new, new_pages[name])):
                    wrk(server.base_url + path, WARM_UP_SECONDS)
                    result = wrk(server.base_url + path, seconds)
                    row[label] = result
                row["x_old"] = round(row["new"]["rps"] / row["old"]["rps"], 1) if row["old"]["rps"] else None
                row["status"] = "ok" if row["x_old"] and row["x_old"] >= TARGET else "under 5x"
                rows.append(row)
                print(_line(row), flush=True)
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(old_root)], cwd=ROOT, check=False)
    return {
        "old_commit": commit,
        "connections": CONNECTIONS,
        "seconds": seconds,
        "gunicorn": gunicorn_settings(),
        "redis": "REDIS_URL" in env,
        "rows": rows,
    }


def _line(row: dict) -> str:
    o, n = row["old"], row["new"]
    return (
        f"{row['page']}: old {o['rps']} req/s p99 {o['p99_ms']} ms, new {n['rps']} req/s p99 {n['p99_ms']} ms"
    )


def report(data: dict) -> str:
    rows = [
        [
            r["page"],
            r["old"]["rps"],
            f"{r['old']['p50_ms']} / {r['old']['p99_ms']}",
            r["new"]["rps"],
            f"{r['new']['p50_ms']} / {r['new']['p99_ms']}",
            r["x_old"],
            r["status"],
        ]
        for r in data["rows"]
    ]
    head = ["page", "old req/s", "old p50/p99 ms", "new req/s", "new p50/p99 ms", "x old", "status"]
    return f"old = {data['old_commit']}, wrk {data['connections']} connections, cache off\n" + table(
        rows, head
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--old", default=OLD_COMMIT, help="the commit to compare with")
    args = parser.parse_args(argv)
    data = run(args.seconds, args.old)
    print(report(data))
    write_result("uncached_load", data)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
