"""Accessibility of every resident page in headless Chromium: axe-core, tap targets, 200 % zoom."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Service, ServiceRequest, Village

pytestmark = pytest.mark.browser


AXE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text()
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
TAP_MIN = 48
# Controls, and links that stand alone; links inside a sentence are exempt (WCAG 2.5.8, inline).
SMALL_TARGETS_JS = """min => Array.from(document.querySelectorAll(
    'button, input:not([type=hidden]), select, textarea, summary, a[href]'))
  .filter(el => {
    const r = el.getBoundingClientRect();
    if (!r.width || !r.height || el.closest('.skip')) return false;
    if (el.tagName === 'A' && getComputedStyle(el).display === 'inline' && !el.closest('nav')) return false;
    const label = el.closest('label');
    const box = (el.type === 'checkbox' || el.type === 'radio') && label ? label.getBoundingClientRect() : r;
    return box.height < min || box.width < min;
  })
  .map(el => el.outerHTML.slice(0, 120) + ' ' + Math.round(el.getBoundingClientRect().width) + 'x'
       + Math.round(el.getBoundingClientRect().height))"""


def resident_paths() -> dict[str, str]:
    """The resident pages this tree serves, with real paths from the demo data."""
    village = db.session.scalar(select(Village).where(Village.active.is_(True)).order_by(Village.id))
    letter = db.session.scalar(
        select(Service.code)
        .where(Service.village_id == village.id, Service.active.is_(True))
        .order_by(Service.id)
    )
    code = db.session.scalar(select(ServiceRequest.tracking_code).order_by(ServiceRequest.id))
    paths = {
        "home": "/",
        "village home": f"/desa/{village.slug}/",
        "service list": f"/desa/{village.slug}/layanan",
        "request form": f"/desa/{village.slug}/layanan/{letter}",
        "tracking": f"/lacak/{code}",
        "track form": "/lacak",
        "my requests": "/saya",
        "catalogue": "/produk",
        "village shop": f"/desa/{village.slug}/produk",
        "offline": "/offline",
    }
    return paths


def served(page, base: str, paths: dict[str, str]) -> dict[str, str]:
    found = {}
    for name, path in paths.items():
        if page.request.get(base + path, max_redirects=0).status == 200:
            found[name] = path
    product = re.search(r'href="(/produk/\d+-[^"/?#]+)"', page.request.get(base + "/produk").text())
    if product:
        found["product"] = product.group(1)
    return found


@pytest.fixture
def pages(app, demo, live_server, page):
    return served(page, live_server, resident_paths())


def axe_violations(page) -> list[str]:
    page.evaluate(AXE)  # evaluated over DevTools, so the page's CSP does not apply
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
        AXE_TAGS,
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} -> " + "; ".join(n["target"][0] for n in v["nodes"][:3])
        for v in result["violations"]
    ]


def test_every_resident_page_is_served(pages):
    missing = {"home", "service list", "request form", "tracking", "my requests", "offline"} - set(pages)
    assert not missing


def test_axe_finds_no_violations_on_any_resident_page(pages, live_server, page):
    problems = {}
    for name, path in pages.items():
        page.goto(live_server + path)
        found = axe_violations(page)
        if found:
            problems[f"{name} {path}"] = found
    assert problems == {}


def test_tap_targets_are_at_least_48_px(pages, live_server, page):
    problems = {}
    for name, path in pages.items():
        page.goto(live_server + path)
        small = page.evaluate(SMALL_TARGETS_JS, TAP_MIN)
        if small:
            problems[f"{name} {path}"] = small
    assert problems == {}


def test_pages_reflow_at_200_percent_zoom(pages, live_server, page):
    # 200 % zoom on a 360 px phone leaves 180 CSS pixels: nothing may need sideways scrolling.
    page.set_viewport_size({"width": 180, "height": 370})
    problems = {}
    for name, path in pages.items():
        page.goto(live_server + path)
        wide = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        if wide > 1:
            problems[f"{name} {path}"] = f"{wide} px too wide"
    assert problems == {}


def test_pages_declare_their_language_and_every_field_has_a_label(pages, live_server, page):
    page.goto(live_server + pages["request form"])
    assert page.evaluate("document.documentElement.lang") == "id"
    unlabelled = page.evaluate(
        """() => Array.from(document.querySelectorAll('input:not([type=hidden]), select, textarea'))
            .filter(el => !el.labels.length && !el.getAttribute('aria-label')).map(el => el.name)"""
    )
    assert unlabelled == []
