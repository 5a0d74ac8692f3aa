"""`make bench`: every bench, each in its own process with a time limit, then one summary table.

Runs this area's benches (page weights, paint, load, Lighthouse, pages without the page cache
against a bare Flask page and against commit 2bdf4fb) and the other areas' bench scripts found in
bench/ (queue, notifications, catalogue, dashboard, population, national). A bench that fails or runs out of time is
reported and the rest still run. Each writes its JSON to bench/results/.

    .venv/bin/python -m bench [--only page_weights,paint] [--timeout 900] [--national-scale 1]

The national bench (every village of Indonesia) builds 5 million requests and 1 million residents by
default, a tenth of its full 50 and 10 million, to keep it within about half an hour; `--national-scale 1`
(`make bench NATIONAL_SCALE=1`) builds the full size, which takes an hour or more here.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from bench.support import RESULTS, ROOT, machine, postgres_reachable, table

BENCH = Path(__file__).resolve().parent
OURS = ("page_weights", "paint", "load", "lighthouse", "uncached", "uncached_load")
OTHERS = (
    "queue_bench",
    "notify_bench",
    "notify_announcement",
    "catalog_bench",
    "dashboard_bench",
    "login_bench",
    "population_bench",
    "national",
    "village_search_bench",
)
# Benches that are another script run with arguments.
VARIANTS = {"notify_announcement": ("notify_bench", "--announcement", "100000")}
SCRATCH_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/balai_bench"
NATIONAL_SCALE = 0.1


def command(name: str, national_scale: float = NATIONAL_SCALE) -> list[str]:
    if name == "uncached":  # before/after: the commit issue 17 measured from, then this one
        return [sys.executable, "-m", "bench.uncached", "--old", "2bdf4fb"]
    if name in OURS:
        return [sys.executable, "-m", f"bench.{name}"]
    if name == "national":
        return [sys.executable, str(BENCH / "national.py"), "--scale", str(national_scale)]
    if name in VARIANTS:
        script, *args = VARIANTS[name]
        return [sys.executable, str(BENCH / f"{script}.py"), *args]
    return [sys.executable, str(BENCH / f"{name}.py")]


def scratch_env() -> dict:
    """The other areas' benches fill (and wipe) a scratch PostgreSQL database; make it if need be."""
    env = dict(os.environ)
    url = env.get("BENCH_DATABASE_URL") or SCRATCH_PG_URL
    if postgres_reachable(url):
        env["BENCH_DATABASE_URL"] = env["BENCH_PG_URL"] = url
    return env


def run_one(name: str, timeout: int, national_scale: float = NATIONAL_SCALE) -> dict:
    started = time.monotonic()
    print(f"\n=== {name}", flush=True)
    env = scratch_env() if name in OTHERS else None
    if name == "national":  # its own database (tens of GB at full size), and its own time
        timeout += 600 + int(9000 * national_scale)  # + publishing every province's population
    try:
        done = subprocess.run(command(name, national_scale), cwd=ROOT, timeout=timeout, check=False, env=env)
        outcome = "ok" if done.returncode == 0 else f"exit {done.returncode}"
    except subprocess.TimeoutExpired:
        outcome = f"timed out after {timeout} s"
    return {"bench": name, "outcome": outcome, "seconds": round(time.monotonic() - started)}


def summary_rows() -> list[list]:
    """One line per budgeted figure from this area's JSON results."""
    rows = []
    weights = _load("page_weights")
    if weights:
        for p in weights["pages"]:
            if p["status"] == "missing":
                rows.append(["weight", p["page"], "missing", "-"])
                continue
            t = p["by_type"]
            figure = (
                f"{p['total'] / 1024:.1f} KB total, js {t['js'] / 1024:.1f}, "
                f"html+css {p['critical'] / 1024:.1f}, {len(p['blocking'])} blocking"
            )
            rows.append(["weight", p["page"], figure, p["status"]])
    paint = _load("paint")
    if paint:
        for p in paint["pages"]:
            if p["status"] == "missing":
                rows.append(["FCP 3G", p["page"], "missing", "-"])
                continue
            rows.append(
                [
                    "FCP 3G",
                    p["page"],
                    f"{p['fcp_first_ms']} ms first, {p['fcp_repeat_ms']} ms repeat",
                    p["status"],
                ]
            )
    lighthouse = _load("lighthouse")
    if lighthouse:
        for p in lighthouse["pages"]:
            if "scores" not in p:
                rows.append(["Lighthouse", p["page"], p["status"], "-"])
                continue
            s, m = p["scores"], p["metrics"]
            figure = (
                f"perf {s.get('performance')}, a11y {s.get('accessibility')}; FCP {m['fcp_ms']} ms, "
                f"LCP {m['lcp_ms']} ms, TBT {m['tbt_ms']} ms, CLS {m['cls']}"
            )
            rows.append(["Lighthouse", p["page"], figure, p["status"]])
    load = _load("load")
    if load:
        for r in load["rows"]:
            if "rps" not in r:
                rows.append(["server", f"{r['page']} ({r['database']})", r["status"], "-"])
                continue
            rows.append(
                [
                    "server",
                    f"{r['page']} ({r['database']})",
                    f"{r['rps']} req/s, p99 {r['p99_ms']} ms",
                    r["status"],
                ]
            )
    uncached = _load("uncached")
    if uncached:
        for r in uncached["pages"]:
            figure = f"{r['ms']} ms, {r['x_bare']}x bare Flask ({uncached['bare_ms']} ms), {r['sql']} SQL"
            rows.append(["uncached", r["page"], figure, f"{r['status']} ({r['target']})"])
    uncached_load = _load("uncached_load")
    if uncached_load:
        for r in uncached_load["rows"]:
            figure = f"{r['new']['rps']} req/s vs {r['old']['rps']} at {uncached_load['old_commit']}: {r['x_old']}x"
            rows.append(["wrk, cache off", r["page"], figure, r["status"]])
    notify = _load("notify")
    if notify and notify.get("messages_per_second") is not None:
        figure = f"{notify['messages_per_second']} messages/s, {notify.get('sql_statements_per_message', '?')} SQL each"
        rows.append(["relay", f"{notify['workers']} workers ({notify['database']})", figure, "-"])
    announcement = _load("notify_announcement")
    if announcement:
        figure = f"{announcement['enqueued_seconds']} s to enqueue"
        status = "ok" if announcement["enqueued_seconds"] < 60 else "over 60 s"
        rows.append(["announcement", f"{announcement['recipients']:,} recipients", figure, status])
    national = _load("national")
    if national:
        for label, t in national["timings"].items():
            rows.append(["national", label, f"p95 {t['p95_ms']} ms (median {t['median_ms']})", t["status"]])
        data = national["data"]
        if "living_residents" in data:
            figure = (
                f"{data['living_residents']:,} residents in {data['population_stats_rows']:,} aggregate rows, "
                f"{data['population_published_rows']:,} published; every province in {data['publish_seconds']} s"
            )
            rows.append(["national", "population registers", figure, "-"])
        m = national["memory"]
        figure = (
            f"RSS {m['rss_after_warmup_mb']} -> {m['rss_after_load_mb']} MB after {m['requests']} requests"
        )
        rows.append(["national", "web workers' memory", figure, "-"])
    return rows


def _load(name: str) -> dict | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the benches and print a summary.")
    parser.add_argument("--only", help="comma-separated bench names")
    parser.add_argument("--timeout", type=int, default=1200, help="seconds per bench")
    parser.add_argument(
        "--national-scale",
        type=float,
        default=NATIONAL_SCALE,
        help="share of the national bench's 50 million requests (1 for the full size)",
    )
    args = parser.parse_args(argv)
    names = [*OURS, *(n for n in OTHERS if (BENCH / f"{VARIANTS.get(n, (n,))[0]}.py").exists())]
    if args.only:
        wanted = set(args.only.split(","))
        names = [n for n in names if n in wanted]
    outcomes = [run_one(name, args.timeout, args.national_scale) for name in names]
    print(f"\n=== summary ({machine()})")
    print(
        table([[o["bench"], o["outcome"], o["seconds"]] for o in outcomes], ["bench", "outcome", "seconds"])
    )
    rows = summary_rows()
    if rows:
        print()
        print(table(rows, ["budget", "page", "figure", "status"]))
    return 0 if all(o["outcome"] == "ok" for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
