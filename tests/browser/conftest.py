"""Browser fixtures: the app on a live local port and Debian's Chromium through Playwright.

Playwright's own browser download is never used (``playwright install`` fails
here); the system Chromium at /usr/bin/chromium is driven instead. Every test
gets a fresh database (the ``app`` fixture), its own server thread and a new
browser context; the browser process is shared by the whole run.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

CHROMIUM = os.environ.get("HUB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything under tests/browser is a browser test (``-m "not browser"`` skips them).

    Under pytest-xdist with ``--dist loadgroup`` (scripts/test) they all run on
    one worker, so the run starts one Chromium, not one per worker.
    """
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.xdist_group("browser"))


class LiveServer:
    """The app served by werkzeug in a background thread on a free port."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.port = self._server.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def app(make_app) -> Flask:
    """In the browser the app runs as in production: CSRF protection on."""
    return make_app(WTF_CSRF_ENABLED=True)


@pytest.fixture
def live_server(app: Flask) -> Iterator[LiveServer]:
    """The test's app on http://127.0.0.1:<free port> (``live_server.url``)."""
    server = LiveServer(app)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """One headless Chromium for the run."""
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}: run `apt-get install -y chromium` "
            "(scripts/test does it) or set HUB_CHROMIUM."
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield chromium
        finally:
            chromium.close()


#: How Chromium's console reports what the Content-Security-Policy refused.
CSP_VIOLATION_MARKS = ("Content Security Policy", "Content-Security-Policy")


def is_csp_violation(text: str) -> bool:
    """Whether a console message is Chromium reporting a Content-Security-Policy refusal
    ("Refused to execute inline script because it violates the following Content
    Security Policy directive: ...")."""
    return any(mark in text for mark in CSP_VIOLATION_MARKS)


@pytest.fixture
def csp_violations() -> list[str]:
    """The CSP refusals the test's pages reported on the console, in order (the ``page``
    fixture fills it, and fails the test at its end if it is not empty; a test that
    provokes refusals on purpose empties it)."""
    return []


@pytest.fixture
def page(browser, live_server: LiveServer, csp_violations: list[str]) -> Iterator[object]:
    """A fresh browser context and page whose relative URLs go to the live server.

    Every console message of every page of the context is watched: a refusal by the
    Content-Security-Policy (an inline script or style, an asset from elsewhere) breaks a
    page silently, so the test fails with the refusals listed.
    """
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(10_000)

    def watch(message: Any) -> None:
        if is_csp_violation(message.text):
            csp_violations.append(f"{message.type}: {message.text} (on {message.location})")

    context.on("page", lambda p: p.on("console", watch))
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()
    if csp_violations:
        pytest.fail(
            "the Content-Security-Policy refused something on a page:\n" + "\n".join(csp_violations)
        )
