"""The Content-Security-Policy in Chromium: pages work under it, and a refusal fails a test.

Every browser test watches the console for the policy's refusals (``page`` in
tests/browser/conftest.py); these tests show that the watch catches them, that the
Swagger UI page (which flask-swagger-ui starts with an inline script) works under the
policy, and that what moved from style attributes to data- attributes still draws.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from playwright.sync_api import Page, expect

from hub.models import Role
from tests.browser.test_filing_journeys import fill_filing
from tests.conftest import DEFAULT_PASSWORD
from tests.functional.filing_support import t1_exchange

PROBE = """<!doctype html><html><head><title>probe</title></head><body>
<p id="inline" style="color: red">inline style</p>
<button id="handler" onclick="document.title = 'handler ran'">click</button>
<script>document.title = "inline script ran";</script>
</body></html>"""


def test_a_refused_inline_script_is_caught_by_the_watch(
    app: Flask, page: Page, csp_violations: list[str]
) -> None:
    # A page of the app's own origin, with what the policy refuses: the app's headers apply.
    app.add_url_rule("/csp-probe", "csp_probe", lambda: PROBE)
    page.goto("/csp-probe")
    page.locator("#handler").click()
    expect(page.locator("#inline")).to_be_visible()
    assert page.title() == "probe"  # neither the inline script nor the handler ran
    refused = "\n".join(csp_violations)
    assert "inline script" in refused or "script-src" in refused, refused
    assert "style-src" in refused, refused
    assert len(csp_violations) >= 3, refused  # the script, the handler, the style attribute
    csp_violations.clear()  # provoked on purpose: the test itself passes


def enforced(response: Any) -> str:
    """The policy a page was served with, checked to refuse inline script and style."""
    policy = response.headers.get("content-security-policy", "")
    assert "script-src 'self';" in policy and "style-src 'self';" in policy, policy
    return policy


def test_the_api_documentation_works_under_the_policy(page: Page) -> None:
    enforced(page.goto("/api/docs/"))
    # Swagger UI started (from static/swagger-init.js), read the OpenAPI document and
    # lists the operations; any refusal by the policy fails the test (conftest.py).
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Astana Crypto Hub")
    operation = page.locator(".opblock-summary-path", has_text="/api/v1/assessments").first
    expect(operation).to_be_visible()
    operation.click()
    expect(page.locator(".opblock-body").first).to_be_visible()


#: A function of an element: its width and left offset in % of its parent's width.
SHARE = """(el => {
  const box = el.getBoundingClientRect(), outer = el.parentElement.getBoundingClientRect();
  return {width: 100 * box.width / outer.width, left: 100 * (box.left - outer.left) / outer.width};
})"""


def test_bars_are_drawn_from_data_attributes(page: Page) -> None:
    enforced(page.goto("/assess"))
    page.get_by_label("Principal licensed activity").select_option("exchange")
    fill_filing(page, t1_exchange(bin="940140000385"))
    page.get_by_role("button", name="Check eligibility").click()
    bar = page.locator("table.criteria tbody tr .bar").first
    expect(bar).to_be_visible()
    fill = bar.locator(".bar-fill")
    wanted = float(fill.get_attribute("data-width") or "nan")
    drawn = fill.evaluate(f"el => {SHARE}(el).width")
    assert wanted > 0 and abs(drawn - wanted) < 1.5, (drawn, wanted)
    mark = bar.locator(".bar-mark")
    left = float(mark.get_attribute("data-left") or "nan")
    at = mark.evaluate(f"el => {SHARE}(el).left")
    assert abs(at - left) < 1.5, (at, left)


def test_the_discard_question_is_asked_from_the_static_script(page: Page, make_user) -> None:
    # Once an inline onsubmit="return confirm(...)": now <form data-confirm> and page.js.
    make_user(Role.AUTHOR, email="author@example.kz")
    page.goto("/login")
    page.get_by_label("E-mail").fill("author@example.kz")
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto("/policies/2026.1")
    page.get_by_label("Version number of the draft").fill("2026.2")
    page.get_by_role("button", name="Create draft").click()
    expect(page.get_by_role("heading", name="Draft 2026.2")).to_be_visible()
    enforced(page.goto("/policies/2026.2"))

    asked: list[str] = []

    def answer(dialog: Any, accept: bool) -> None:
        asked.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    page.once("dialog", lambda d: answer(d, False))
    page.get_by_role("button", name="Discard draft").click()
    expect(page.get_by_role("button", name="Discard draft")).to_be_visible()
    assert asked == ["Discard draft 2026.2?"]
    assert page.url.endswith("/policies/2026.2")  # dismissed: nothing sent

    page.once("dialog", lambda d: answer(d, True))
    page.get_by_role("button", name="Discard draft").click()
    expect(page.get_by_role("button", name="Discard draft")).to_have_count(0)
    assert asked == ["Discard draft 2026.2?", "Discard draft 2026.2?"]
