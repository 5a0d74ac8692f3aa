"""Page weights: what a first visit to each resident page costs a phone, measured in Chromium.

Each page is opened in a fresh browser context (empty cache) on a 360 px phone screen against a
seeded gunicorn server. Every request the page makes, and those its service worker makes while
installing, is counted with its compressed size on the wire (headers included), by type.
Render-blocking requests come from the browser's own Resource Timing (renderBlockingStatus).
htmx fragments are weighed too, and a poll with nothing new must cost a 304 or 286 with no body.

    .venv/bin/python -m bench.page_weights            # SQLite in a temp folder

Prints the figures against the budgets and writes bench/results/page_weights.json.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from bench.support import Page, Server, browser_cookies, get, resident_pages, sqlite_url, table, write_result

KB = 1024
BUDGETS = {
    "total": 50 * KB,
    "js": 20 * KB,
    "critical": 14 * KB,
    "blocking": 2,
    "fonts": 0,
    "fragment": 5 * KB,
}
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True, "locale": "id-ID"}
TYPES = {"document": "html", "stylesheet": "css", "script": "js", "image": "img", "font": "font"}

# What Resource Timing knows that request events do not: is the request render-blocking.
BLOCKING_JS = """() => performance.getEntriesByType('resource')
  .filter(e => e.renderBlockingStatus === 'blocking').map(e => e.name)"""
IMAGES_JS = """() => Array.from(document.images).map(img => {
  const r = img.getBoundingClientRect();
  // data-src: a picture balai.js loads only when the phone scrolls near it (lazier than lazy).
  return {src: img.currentSrc || img.src || img.dataset.src, lazy: img.loading === 'lazy' || img.hasAttribute('data-src'),
          sized: img.hasAttribute('width') && img.hasAttribute('height'),
          below: r.top > window.innerHeight, natural: img.naturalWidth, shown: Math.round(r.width)};
})"""


def weigh(browser, server: Server, page: Page) -> dict:
    context = browser.new_context(**PHONE)
    if page.cookie:
        context.add_cookies(browser_cookies(page, server.base_url))
    requests: list[dict] = []

    def finished(request):
        response = request.response()
        if response is None:
            return
        sizes = request.sizes()
        requests.append(
            {
                "url": request.url.removeprefix(server.base_url),
                "type": TYPES.get(request.resource_type, "other"),
                "status": response.status,
                "encoding": response.headers.get("content-encoding", ""),
                "bytes": sizes["responseBodySize"] + sizes["responseHeadersSize"],
                "by_sw": request.service_worker is not None,
                "from_sw": response.from_service_worker,
            }
        )

    context.on("requestfinished", finished)
    tab = context.new_page()
    tab.goto(server.base_url + page.path, wait_until="load")
    blocking_urls = tab.evaluate(BLOCKING_JS)
    images = tab.evaluate(IMAGES_JS)
    # Let the service worker install (it precaches the shell) so its bytes are counted too.
    tab.evaluate(
        """() => 'serviceWorker' in navigator ? Promise.race([
             navigator.serviceWorker.ready.then(() => true),
             new Promise(r => setTimeout(() => r(false), 5000))]) : false"""
    )
    tab.wait_for_timeout(500)
    context.close()

    page_requests = [r for r in requests if not r.get("by_sw") and not r.get("from_sw")]
    sw_requests = [r for r in requests if r.get("by_sw")]
    by_type = {t: 0 for t in ("html", "css", "js", "img", "font", "other")}
    for r in page_requests:
        by_type[r["type"]] += r["bytes"]
    blocking = [u.removeprefix(server.base_url) for u in blocking_urls]
    critical = by_type["html"] + sum(
        r["bytes"] for r in page_requests if r["url"] in blocking and r["type"] == "css"
    )
    total = sum(by_type.values())
    sw_bytes = sum(r["bytes"] for r in sw_requests)
    fonts = sum(1 for r in page_requests if r["type"] == "font")
    eager_below = [i["src"] for i in images if i["below"] and not i["lazy"]]
    unsized = [i["src"] for i in images if not i["sized"]]
    # More than twice the pixels a 2x phone screen can show (SVG scales, so it never is).
    oversized = [
        i["src"]
        for i in images
        if ".svg" not in i["src"] and i["natural"] and i["shown"] and i["natural"] > 2 * 2 * i["shown"]
    ]
    checks = {
        "total": total <= BUDGETS["total"],
        "js": by_type["js"] <= BUDGETS["js"],
        "critical": critical <= BUDGETS["critical"],
        "blocking": len(blocking) <= BUDGETS["blocking"],
        "fonts": fonts == 0,
        "images": not eager_below and not unsized and not oversized,
    }
    return {
        "page": page.name,
        "path": page.path,
        "status": "ok" if all(checks.values()) else "over budget",
        "total": total,
        # The service worker's precache, counted apart: most of it comes out of the HTTP cache.
        "sw_install": sw_bytes,
        "by_type": by_type,
        "critical": critical,
        "blocking": blocking,
        "encodings": sorted({r["encoding"] or "identity" for r in page_requests}),
        "images": {"eager_below_fold": eager_below, "unsized": unsized, "oversized": oversized},
        "checks": checks,
        "requests": requests,
    }


def fragments(server: Server, pages: list[Page]) -> list[dict]:
    """htmx fragments: their size, and what a poll with nothing new costs."""
    out = []
    found = {p.name: p.path for p in pages if p.path}
    base = server.base_url
    enc = {"Accept-Encoding": "br, gzip", "HX-Request": "true"}

    def weigh_poll(name: str, path: str) -> None:
        first = get(base, path, headers=enc)
        row = {"fragment": name, "path": path, "status": first.status, "bytes": len(first.body)}
        etag = first.headers.get("ETag")
        if etag:
            again = get(base, path, headers={**enc, "If-None-Match": etag})
            row["repeat_status"] = again.status
            row["repeat_bytes"] = len(again.body)
        row["ok"] = row["bytes"] <= BUDGETS["fragment"] and (
            row.get("repeat_status") in (304, 286) and row.get("repeat_bytes") == 0
            if "repeat_status" in row
            else first.status == 286
        )
        out.append(row)

    if found.get("tracking"):
        weigh_poll("tracking poll", found["tracking"])
    slug = server.facts.get("slug")
    if slug and get(base, f"/desa/{slug}/antrian").status == 200:
        weigh_poll("queue screen poll", f"/desa/{slug}/antrian")
    if found.get("home"):
        reply = get(base, "/?q=han", headers=enc)
        out.append(
            {
                "fragment": "village search",
                "path": "/?q=han",
                "status": reply.status,
                "bytes": len(reply.body),
                "ok": len(reply.body) <= BUDGETS["fragment"],
            }
        )
    if found.get("catalogue"):
        reply = get(base, "/produk?q=kopi", headers=enc)
        out.append(
            {
                "fragment": "catalogue search",
                "path": "/produk?q=kopi",
                "status": reply.status,
                "bytes": len(reply.body),
                "ok": len(reply.body) <= BUDGETS["fragment"],
            }
        )
    return out


def run(database_url: str | None = None) -> dict:
    from playwright.sync_api import sync_playwright

    os.environ.setdefault("PW_EXPERIMENTAL_SERVICE_WORKER_NETWORK_EVENTS", "1")
    folder = Path(tempfile.mkdtemp(prefix="balai-weights-"))
    with Server(database_url or sqlite_url(folder)) as server:
        pages = resident_pages(server)
        results = []
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for page in pages:
                if page.missing:
                    results.append({"page": page.name, "path": None, "status": "missing"})
                    continue
                results.append(weigh(browser, server, page))
            browser.close()
        frags = fragments(server, pages)
    return {"budgets": BUDGETS, "pages": results, "fragments": frags}


def kb(n: int) -> str:
    return f"{n / KB:.1f}"


def report(data: dict) -> str:
    rows = []
    for r in data["pages"]:
        if r["status"] == "missing":
            rows.append([r["page"], "-", "", "", "", "", "", "", "", "", "missing"])
            continue
        t = r["by_type"]
        bad = [k for k, ok in r["checks"].items() if not ok]
        rows.append(
            [
                r["page"],
                r["path"],
                kb(r["total"]),
                kb(t["html"]),
                kb(t["css"]),
                kb(t["js"]),
                kb(t["img"]),
                kb(r["critical"]),
                len(r["blocking"]),
                kb(r["sw_install"]),
                "ok" if not bad else "OVER: " + ",".join(bad),
            ]
        )
    head = [
        "page",
        "path",
        "total KB",
        "html",
        "css",
        "js",
        "img",
        "html+css crit",
        "blocking",
        "sw install",
        "budget",
    ]
    lines = [table(rows, head), ""]
    frows = [
        [
            f["fragment"],
            f["path"],
            f["status"],
            f["bytes"],
            f.get("repeat_status", ""),
            f.get("repeat_bytes", ""),
            "ok" if f["ok"] else "OVER",
        ]
        for f in data["fragments"]
    ]
    lines.append(table(frows, ["fragment", "path", "status", "bytes", "repeat", "repeat bytes", "budget"]))
    b = data["budgets"]
    lines.append(
        f"\nbudgets: total <= {kb(b['total'])} KB, js <= {kb(b['js'])} KB, html+css critical <= {kb(b['critical'])} KB, "
        f"<= {b['blocking']} render-blocking, no fonts, fragments <= {kb(b['fragment'])} KB"
    )
    return "\n".join(lines)


def main() -> int:
    data = run()
    print(report(data))
    path = write_result("page_weights", data)
    print(f"written {path}")
    failed = [r for r in data["pages"] if r["status"] == "over budget"] + [
        f for f in data["fragments"] if not f["ok"]
    ]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
