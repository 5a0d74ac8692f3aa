"""Lighthouse on every resident page: its default mobile run, headless in Debian's Chromium.

Lighthouse's default configuration is a Moto G Power sized phone with simulated throttling: slow 4G
is simulated, but the main thread's tasks are timed on this machine and multiplied by 4, so other
work on the machine (a soak or a load bench) shows up as blocking time. So each run waits first for
the CPUs to be mostly idle (at most QUIET_WAIT seconds for the whole bench), each page is run
RUNS times and the median run by performance score counts, as Lighthouse advises; the runs'
benchmark index, CPU load and Lighthouse's own warnings are kept with the figures.

Each page is opened from an empty cache (Lighthouse resets storage first) against a seeded gunicorn
server; the receipt page gets the session cookie that sent the complaint, through
``--extra-headers``. Lighthouse comes from the npm registry, pinned in bench/package.json and
bench/package-lock.json; ``npm ci --prefix bench`` is run when bench/node_modules is missing.

    .venv/bin/python -m bench.lighthouse [--only home,receipt] [--runs 3]

Prints per page the scores (performance, accessibility, best practices, SEO; Lighthouse 12 has no
PWA category any more) and the metrics, with the audits that cost points; writes
bench/results/lighthouse.json and every run's full report to bench/results/lighthouse/. Exits
non-zero when a page's performance score is below 100, an accessibility audit fails, or a run fails.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

from bench.support import RESULTS, ROOT, Page, Server, resident_pages, sqlite_url, table, write_result

BENCH = ROOT / "bench"
LIGHTHOUSE = BENCH / "node_modules" / "lighthouse" / "cli" / "index.js"
CHROMIUM = "/usr/bin/chromium"
CHROME_FLAGS = "--headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage"
CATEGORIES = ("performance", "accessibility", "best-practices", "seo")
METRICS = {
    "fcp_ms": "first-contentful-paint",
    "lcp_ms": "largest-contentful-paint",
    "tbt_ms": "total-blocking-time",
    "cls": "cumulative-layout-shift",
    "si_ms": "speed-index",
}
REPORTS = RESULTS / "lighthouse"
# The app's "stylesheet is cached" cookie (app/caching.py): Lighthouse starts from an empty cache,
# so sending it would make the server link a stylesheet the browser does not have.
CSS_COOKIE = "css"
TIMEOUT = 180  # seconds for one Lighthouse run
RUNS = 3  # per page; the median by performance score counts
# Lighthouse slows its CPU figures 4x from what this machine does: other work on the machine (a soak
# or load bench) shows up as blocking time. Before each run, wait for the CPUs to be mostly idle,
# at most QUIET_WAIT seconds for the whole bench.
QUIET_BUSY = 0.5  # fraction of all CPU time busy over a second
QUIET_WAIT = 180


def ensure_lighthouse() -> None:
    """Install the pinned Lighthouse into bench/node_modules when it is not there yet."""
    if LIGHTHOUSE.exists():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is not installed: Lighthouse cannot be installed")
    print("installing Lighthouse: npm ci --prefix bench", flush=True)
    subprocess.run(
        [npm, "ci", "--prefix", str(BENCH), "--no-audit", "--no-fund"],
        cwd=ROOT,
        check=True,
        timeout=600,
    )


def lighthouse(url: str, out: Path, cookie: str = "") -> dict:
    """One Lighthouse run of its default (mobile) configuration; returns the report (LHR)."""
    cmd = [
        shutil.which("node") or "node",
        str(LIGHTHOUSE),
        url,
        "--output=json",
        f"--output-path={out}",
        f"--only-categories={','.join(CATEGORIES)}",
        f"--chrome-flags={CHROME_FLAGS}",
        "--quiet",
    ]
    if cookie:
        cmd.append(f"--extra-headers={json.dumps({'Cookie': cookie})}")
    env = {**os.environ, "CHROME_PATH": CHROMIUM}
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    if done.returncode != 0 or not out.exists():
        raise RuntimeError(f"lighthouse failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(out.read_text())


def cpu_busy(seconds: float = 1.0) -> float | None:
    """The fraction of CPU time spent busy over the next ``seconds``, from /proc/stat."""

    def sample() -> tuple[int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
        return sum(fields), idle

    try:
        total0, idle0 = sample()
        time.sleep(seconds)
        total1, idle1 = sample()
    except (OSError, ValueError, IndexError):
        return None
    total = total1 - total0
    return 1 - (idle1 - idle0) / total if total else None


class Quiet:
    """Waits for an idle machine before a run, within a budget of seconds for the whole bench."""

    def __init__(self, budget: float = QUIET_WAIT) -> None:
        self.left = budget
        self.waited = 0.0

    def wait(self) -> float | None:
        busy = cpu_busy()
        while busy is not None and busy > QUIET_BUSY and self.left > 0:
            started = time.monotonic()
            time.sleep(min(5.0, self.left))
            busy = cpu_busy()
            spent = time.monotonic() - started
            self.left -= spent
            self.waited += spent
        return None if busy is None else round(busy, 2)


def first_visit_cookie(cookie: str) -> str:
    """The page's cookies less the one that says the stylesheet is cached."""
    kept = [c.strip() for c in cookie.split(";") if c.strip() and c.split("=", 1)[0].strip() != CSS_COOKIE]
    return "; ".join(kept)


def lost_points(lhr: dict) -> dict[str, list[dict]]:
    """Per category, the audits that cost points: scored (weight > 0) and not passed."""
    out: dict[str, list[dict]] = {}
    for cat_id, cat in lhr["categories"].items():
        rows = []
        for ref in cat["auditRefs"]:
            audit = lhr["audits"][ref["id"]]
            score = audit.get("score")
            if not ref.get("weight") or (score is not None and score >= 1):
                continue
            if audit.get("scoreDisplayMode") in ("manual", "notApplicable", "informative"):
                continue
            rows.append(
                {
                    "id": ref["id"],
                    "title": audit.get("title", ""),
                    "score": score,
                    "weight": ref["weight"],
                    "display": audit.get("displayValue", ""),
                    "error": audit.get("errorMessage", ""),
                }
            )
        out[cat_id] = rows
    return out


def summarise(lhr: dict) -> dict:
    scores = {
        c: (round(lhr["categories"][c]["score"] * 100) if lhr["categories"][c]["score"] is not None else None)
        for c in CATEGORIES
        if c in lhr["categories"]
    }
    metrics = {}
    for key, audit_id in METRICS.items():
        value = lhr["audits"][audit_id].get("numericValue")
        metrics[key] = None if value is None else (round(value, 3) if key == "cls" else round(value))
    # Opportunities, insights and diagnostics that carry no weight but point at a cause.
    flagged = [
        a["id"]
        for a in lhr["audits"].values()
        if a.get("scoreDisplayMode") in ("metricSavings", "binary", "numeric")
        and a.get("score") is not None
        and a["score"] < 0.9
        and a["id"] not in METRICS.values()
    ]
    return {
        "scores": scores,
        "metrics": metrics,
        "lost": lost_points(lhr),
        "flagged": sorted(flagged),
        "warnings": lhr.get("runWarnings", []),
        "benchmark_index": lhr.get("environment", {}).get("benchmarkIndex"),
        "final_url": lhr.get("finalDisplayedUrl") or lhr.get("finalUrl"),
    }


def measure(server: Server, page: Page, runs: int, quiet: Quiet) -> dict:
    REPORTS.mkdir(parents=True, exist_ok=True)
    slug = page.name.replace(" ", "-")
    for old in [*REPORTS.glob(f"{slug}.json"), *REPORTS.glob(f"{slug}.*.json")]:
        old.unlink()
    results = []
    for i in range(runs):
        out = REPORTS / (f"{slug}.json" if runs == 1 else f"{slug}.{i + 1}.json")
        busy = quiet.wait()
        load = round(os.getloadavg()[0], 1)
        lhr = lighthouse(server.base_url + page.path, out, first_visit_cookie(page.cookie))
        result = {
            **summarise(lhr),
            "cpu_busy_before": busy,
            "load_average": load,
            "report": str(out.relative_to(ROOT)),
        }
        results.append(result)
        print(
            f"  run {i + 1}: performance {result['scores'].get('performance')}, "
            f"TBT {result['metrics']['tbt_ms']} ms, LCP {result['metrics']['lcp_ms']} ms "
            f"(benchmark index {result['benchmark_index']}, CPU busy {busy} before, load average {load})",
            flush=True,
        )
    # The median run by performance score (Lighthouse's own advice for variance); among equal
    # scores, by blocking time, the metric that varies most.
    results.sort(key=lambda r: (r["scores"].get("performance") or 0, -(r["metrics"]["tbt_ms"] or 0)))
    chosen = results[len(results) // 2]
    perf = chosen["scores"].get("performance")
    a11y_failing = [a["id"] for a in chosen["lost"].get("accessibility", [])]
    # A page that redirected (say, a receipt without its session) measured another page.
    landed = urllib.parse.urlsplit(chosen["final_url"] or "").path
    if landed != urllib.parse.urlsplit(page.path).path:
        status = f"redirected to {landed}"
    elif perf != 100:
        status = "below 100"
    else:
        status = "a11y audits failing" if a11y_failing else "ok"
    return {
        "page": page.name,
        "path": page.path,
        **chosen,
        "performance_runs": [r["scores"].get("performance") for r in results],
        "tbt_runs": [r["metrics"]["tbt_ms"] for r in results],
        "status": status,
    }


def run(database_url: str | None = None, only: set[str] | None = None, runs: int = RUNS) -> dict:
    ensure_lighthouse()
    version = json.loads((LIGHTHOUSE.parent.parent / "package.json").read_text())["version"]
    folder = Path(tempfile.mkdtemp(prefix="balai-lighthouse-"))
    results = []
    quiet = Quiet()
    with Server(database_url or sqlite_url(folder)) as server:
        pages = resident_pages(server)
        for page in pages:
            if only and page.name not in only:
                continue
            if page.missing:
                results.append({"page": page.name, "path": None, "status": "missing"})
                continue
            print(f"lighthouse: {page.name} {page.path}", flush=True)
            try:
                results.append(measure(server, page, runs, quiet))
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                results.append({"page": page.name, "path": page.path, "status": "failed", "error": str(exc)})
    shutil.rmtree(folder, ignore_errors=True)
    return {
        "lighthouse": version,
        "config": "default (mobile, simulated throttling)",
        "chromium": CHROMIUM,
        "runs": runs,
        "waited_for_quiet_s": round(quiet.waited),
        "pages": results,
    }


def report(data: dict) -> str:
    rows = []
    notes = []
    for r in data["pages"]:
        if r["status"] in ("missing", "failed"):
            rows.append([r["page"], r["path"] or "-", *[""] * 9, r["status"]])
            continue
        s, m = r["scores"], r["metrics"]
        rows.append(
            [
                r["page"],
                r["path"],
                s.get("performance"),
                m["fcp_ms"],
                m["lcp_ms"],
                m["tbt_ms"],
                m["cls"],
                m["si_ms"],
                s.get("accessibility"),
                s.get("best-practices"),
                s.get("seo"),
                "ok" if r["status"] == "ok" else r["status"].upper(),
            ]
        )
        for cat, audits in r["lost"].items():
            for a in audits:
                notes.append(
                    f"  {r['page']}: [{cat}] {a['id']} ({a['score']}) {a['display'] or a['error']}".rstrip()
                )
        for w in r["warnings"]:
            notes.append(f"  {r['page']}: WARNING {w}")
    head = [
        "page",
        "path",
        "perf",
        "FCP ms",
        "LCP ms",
        "TBT ms",
        "CLS",
        "SI ms",
        "a11y",
        "bp",
        "seo",
        "status",
    ]
    out = [table(rows, head)]
    if notes:
        out.append("\naudits that cost points, and run warnings:")
        out.extend(notes)
    out.append(
        f"\nLighthouse {data['lighthouse']}, {data['config']}, {data['chromium']}; "
        f"median of {data['runs']} run(s) per page; waited {data['waited_for_quiet_s']} s for an idle CPU. "
        "Target: performance 100, no failing accessibility audit."
    )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Lighthouse's default mobile run on the resident pages.")
    parser.add_argument("--only", help="comma-separated page names, e.g. home,receipt")
    parser.add_argument("--runs", type=int, default=RUNS, help="runs per page (the median by score counts)")
    args = parser.parse_args(argv)
    only = set(args.only.split(",")) if args.only else None
    data = run(only=only, runs=max(1, args.runs))
    print(report(data))
    print(f"written {write_result('lighthouse', data)}")
    perf = [r["scores"]["performance"] for r in data["pages"] if "scores" in r]
    if perf:
        print(f"performance: min {min(perf)}, median {statistics.median(perf)}")
    return 0 if all(r["status"] in ("ok", "missing") for r in data["pages"]) else 1


if __name__ == "__main__":
    sys.exit(main())
