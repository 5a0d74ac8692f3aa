"""The front door on a 360 px phone: finding your village as people type it, with and without JavaScript."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

QUERIES = {
    "Desa Hanura": "Desa Hanura",
    "Pekon Trimulyo": "Pekon Trimulyo",
    "teluk pandan": "Desa Hanura",
    "pesawaran": "Desa Hanura",
    "hanra": "Desa Hanura",
}


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_a_resident_finds_their_village_as_they_type_it(app, demo, live_server, _chromium, javascript):
    context = _chromium.new_context(
        viewport={"width": 360, "height": 640}, locale="id-ID", is_mobile=True, java_script_enabled=javascript
    )
    page = context.new_page()
    try:
        page.goto(live_server + "/")
        box = page.get_by_role("searchbox")
        results = page.locator("#desa-list")
        for typed, village in QUERIES.items():
            if javascript:  # active search: the list follows the typing
                with page.expect_response(
                    lambda r: "q=" in r.url and r.request.headers.get("hx-request")
                ) as answer:
                    box.fill(typed)
                assert village in answer.value.text(), typed
            else:
                box.fill(typed)
                page.get_by_role("button", name="Cari").click()
                page.wait_for_load_state()
            results.get_by_role("link", name=village).first.wait_for()
            assert results.get_by_role("link").count() >= 1, typed
        if javascript:
            with page.expect_response(lambda r: "zzyzx" in r.url):
                box.fill("zzyzx")
        else:
            box.fill("zzyzx")
            page.get_by_role("button", name="Cari").click()
        results.get_by_role("status").wait_for()
        assert results.inner_text().strip() == "Tidak ada desa yang cocok dengan “zzyzx”."
        assert page.evaluate("document.scrollingElement.scrollWidth <= innerWidth")
    finally:
        context.close()
