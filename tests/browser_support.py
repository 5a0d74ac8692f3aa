"""Fixtures for browser tests: the test app served on 127.0.0.1 in a thread, and a headless Chromium page.

They are registered once in tests/conftest.py (pytest_plugins); test modules just name them.
Debian's chromium is required; without /usr/bin/chromium the tests are skipped on a developer
machine and fail when CI is set.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE_VIEWPORT = {"width": 360, "height": 740}


@pytest.fixture
def live_server(app, monkeypatch):
    """The test app on a free port of 127.0.0.1; yields its base URL."""
    # Flask-Compress wraps streamed static files in a generator that never closes the file, which
    # a real server (unlike the test client) turns into ResourceWarnings, errors under pytest.
    monkeypatch.setitem(app.config, "COMPRESS_STREAMS", False)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@pytest.fixture(scope="session")
def _chromium():
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail("Chromium (/usr/bin/chromium) is required in CI: apt-get install chromium")
        pytest.skip("no /usr/bin/chromium; install Debian's chromium to run browser tests")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(_chromium):
    """A fresh page on a 360 px wide phone screen; console errors (CSP!) are collected in page.errors."""
    context = _chromium.new_context(viewport=PHONE_VIEWPORT, locale="id-ID", is_mobile=True, has_touch=True)
    page = context.new_page()
    page.errors = []
    page.on("console", lambda msg: page.errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    page.set_default_timeout(15_000)
    yield page
    context.close()
