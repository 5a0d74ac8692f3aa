"""First contentful paint of each resident page on a cheap phone over 3G, in headless Chromium.

The 3G profile is set over the DevTools protocol: Network.emulateNetworkConditions at 400 kbps
each way with 400 ms latency per request, and Emulation.setCPUThrottlingRate 4. A first visit
starts from an empty cache; the repeat visit reopens the page once the service worker controls it.
Each figure is the median of RUNS runs.

    .venv/bin/python -m bench.paint

Budgets: FCP under 1.5 s on a first visit, under 0.8 s on a repeat visit.
Prints the figures and writes bench/results/paint.json.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path

from bench.page_weights import CHROMIUM, CHROMIUM_ARGS, PHONE
from bench.support import Page, Server, browser_cookies, resident_pages, sqlite_url, table, write_result

RUNS = 3
KBPS = 400
LATENCY_MS = 400
CPU_SLOWDOWN = 4
BUDGET_FIRST_MS = 1500
BUDGET_REPEAT_MS = 800

FCP_JS = """() => new Promise(resolve => {
  const seen = performance.getEntriesByName('first-contentful-paint');
  if (seen.length) return resolve(seen[0].startTime);
  new PerformanceObserver(list => {
    const e = list.getEntriesByName('first-contentful-paint');
    if (e.length) resolve(e[0].startTime);
  }).observe({type: 'paint', buffered: true});
  setTimeout(() => resolve(null), 15000);
})"""
NAV_JS = """() => { const n = performance.getEntriesByType('navigation')[0];
  return {via_sw: n.workerStart > 0, ttfb: n.responseStart, bytes: n.transferSize}; }"""
SW_READY_JS = """async () => {
  if (!('serviceWorker' in navigator)) return false;
  await Promise.race([navigator.serviceWorker.ready, new Promise(r => setTimeout(r, 20000))]);
  for (let i = 0; i < 100 && !navigator.serviceWorker.controller; i++) await new Promise(r => setTimeout(r, 100));
  return !!navigator.serviceWorker.controller;
}"""


def throttle(context, tab) -> None:
    cdp = context.new_cdp_session(tab)
    cdp.send("Network.enable")
    rate = KBPS * 1000 / 8
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": LATENCY_MS, "downloadThroughput": rate, "uploadThroughput": rate},
    )
    cdp.send("Emulation.setCPUThrottlingRate", {"rate": CPU_SLOWDOWN})


def measure(browser, server: Server, page: Page) -> dict:
    context = browser.new_context(**PHONE)
    if page.cookie:
        context.add_cookies(browser_cookies(page, server.base_url))
    try:
        tab = context.new_page()
        throttle(context, tab)
        url = server.base_url + page.path
        tab.goto(url, wait_until="load", timeout=60_000)
        first = tab.evaluate(FCP_JS)
        first_nav = tab.evaluate(NAV_JS)
        controlled = tab.evaluate(SW_READY_JS)
        tab.goto(url, wait_until="load", timeout=60_000)
        repeat = tab.evaluate(FCP_JS)
        repeat_nav = tab.evaluate(NAV_JS)
    finally:
        context.close()
    return {
        "first": first,
        "repeat": repeat,
        "sw": controlled,
        "first_nav": first_nav,
        "repeat_nav": repeat_nav,
    }


def run(database_url: str | None = None) -> dict:
    from playwright.sync_api import sync_playwright

    folder = Path(tempfile.mkdtemp(prefix="balai-paint-"))
    results = []
    with Server(database_url or sqlite_url(folder)) as server:
        pages = resident_pages(server)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for page in pages:
                if page.missing:
                    results.append({"page": page.name, "path": None, "status": "missing"})
                    continue
                runs = [measure(browser, server, page) for _ in range(RUNS)]
                firsts = [r["first"] for r in runs if r["first"] is not None]
                repeats = [r["repeat"] for r in runs if r["repeat"] is not None]
                first = round(statistics.median(firsts)) if firsts else None
                repeat = round(statistics.median(repeats)) if repeats else None
                ok = (
                    first is not None
                    and repeat is not None
                    and first < BUDGET_FIRST_MS
                    and repeat < BUDGET_REPEAT_MS
                )
                results.append(
                    {
                        "page": page.name,
                        "path": page.path,
                        "fcp_first_ms": first,
                        "fcp_repeat_ms": repeat,
                        "sw_controlled": all(r["sw"] for r in runs),
                        "repeat_via_sw": all(r["repeat_nav"]["via_sw"] for r in runs),
                        "ttfb_first_ms": round(statistics.median(r["first_nav"]["ttfb"] for r in runs)),
                        "ttfb_repeat_ms": round(statistics.median(r["repeat_nav"]["ttfb"] for r in runs)),
                        "runs": runs,
                        "status": "ok" if ok else "over budget",
                    }
                )
            browser.close()
    profile = {"kbps": KBPS, "latency_ms": LATENCY_MS, "cpu_slowdown": CPU_SLOWDOWN, "runs": RUNS}
    budgets = {"fcp_first_ms": BUDGET_FIRST_MS, "fcp_repeat_ms": BUDGET_REPEAT_MS}
    return {"profile": profile, "budgets": budgets, "pages": results}


def report(data: dict) -> str:
    rows = []
    for r in data["pages"]:
        if r["status"] == "missing":
            rows.append([r["page"], "-", "", "", "", "missing"])
            continue
        rows.append(
            [
                r["page"],
                r["path"],
                r["fcp_first_ms"],
                r["fcp_repeat_ms"],
                "yes" if r["repeat_via_sw"] else "no",
                "ok" if r["status"] == "ok" else "OVER",
            ]
        )
    p, b = data["profile"], data["budgets"]
    return (
        table(rows, ["page", "path", "FCP first ms", "FCP repeat ms", "repeat via SW", "budget"])
        + f"\n3G profile: {p['kbps']} kbps each way, {p['latency_ms']} ms latency, CPU /{p['cpu_slowdown']}; "
        f"median of {p['runs']}. Budgets: first < {b['fcp_first_ms']} ms, repeat < {b['fcp_repeat_ms']} ms"
    )


def main() -> int:
    data = run()
    print(report(data))
    print(f"written {write_result('paint', data)}")
    return 1 if any(r["status"] == "over budget" for r in data["pages"]) else 0


if __name__ == "__main__":
    sys.exit(main())
