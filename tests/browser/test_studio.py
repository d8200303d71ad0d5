"""An author turns 2026.1 into a new version in the browser, as a new user would."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from playwright.sync_api import expect

from hub.app_catalogue import catalogue
from hub.models import Role
from tests.conftest import DEFAULT_PASSWORD
from tests.functional.publishing_support import approve_draft
from tests.functional.test_studio import KYC_OUTLINE, population, update_kyc_scenarios

__all__ = ["population"]  # the fixture, reused: six companies with decided filings

SHOTS = os.environ.get("HUB_SCREENSHOTS")

#: The hub's now in this test (its today: 2026-11-29, 2026.1 in force, 2027.1 from
#: 2027-01-01): fixed, so the test does not depend on the real date.
NOW = dt.datetime(2026, 11, 29, 6, tzinfo=dt.UTC)


def shot(page, name: str) -> None:
    """Screenshots for a human look when HUB_SCREENSHOTS names a folder."""
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"studio-{name}.png"), full_page=True)


def test_author_raises_a_threshold_tests_sees_impact_and_publishes(
    page, app, make_user, population, db_session, queue_worker, fix_clock
):
    fix_clock(NOW)
    make_user(Role.AUTHOR, email="author@example.kz")
    page.goto("/login")
    page.get_by_label("E-mail").fill("author@example.kz")
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    # The versions, then 2026.1 in words.
    page.get_by_role("link", name="Policy studio").click()
    expect(page.locator("#versions")).to_contain_text("2027.1")
    shot(page, "1-versions")
    page.locator("#versions").get_by_role("link", name="2026.1", exact=True).click()
    expect(page.locator("#criteria")).to_contain_text("kyc_baseline")

    # A draft from it: the editor with line numbers.
    page.get_by_label("Version number of the draft").fill("2026.2")
    page.get_by_role("button", name="Create draft").click()
    expect(page.get_by_role("heading", name="Draft 2026.2")).to_be_visible()
    expect(page.locator(".gutter").first).to_contain_text("120")

    # A wrong move first: a typo in the rules is shown at its line and blocks testing.
    rules = page.locator("#text")
    original = rules.input_value()
    rules.fill(
        original.replace("kyc_baseline_min_pct: {value: 95,", "kyc_baseline_min_pct: {valu: 96,")
    )
    page.get_by_role("button", name="Save and run the scenarios").click()
    expect(page.locator("#validation-errors")).to_contain_text("line")
    expect(page.locator("#validation-errors")).to_contain_text("unknown field 'valu'")
    shot(page, "2-error-at-line")

    # Raise the baseline 95 -> 96 and run the scenarios: the boundary ones fail.
    rules.fill(
        original.replace("kyc_baseline_min_pct: {value: 95,", "kyc_baseline_min_pct: {value: 96,")
    )
    page.get_by_role("button", name="Save and run the scenarios").click()
    expect(page.locator("#spec-summary")).to_contain_text("scenarios fail", timeout=30_000)
    failed = page.locator("#failed-scenarios")
    expect(failed).to_contain_text(KYC_OUTLINE)
    expect(failed).to_contain_text("expected met, got not_met")
    shot(page, "3-specs-fail")

    # What changed, in words.
    page.goto("/policies/2026.2/edit")
    page.get_by_role("link", name="Compare with 2026.1").click()
    expect(page.locator("#diff")).to_contain_text("kyc_baseline_min_pct")
    expect(page.locator("#diff")).to_contain_text("96")
    shot(page, "3b-diff")

    # Publishing now is refused, and says why.
    day = NOW.date() + dt.timedelta(days=7)
    with app.app_context():
        taken = {p.effective_from for p in catalogue().registry().versions()}
    while day in taken:
        day += dt.timedelta(days=1)
    page.goto(f"/policies/2026.2/publish?effective_from={day.isoformat()}")
    expect(page.locator("#publish-refused")).to_contain_text("scenario(s) fail")

    # The impact: who changes, as of the day it is to be published (publishing needs that).
    page.goto("/policies/2026.2")
    page.locator("#impact-as-of").fill(day.isoformat())
    page.get_by_role("button", name="Run the impact analysis").click()
    expect(page.locator("#impact-summary")).to_contain_text(
        "3 of 6 companies change", timeout=30_000
    )
    expect(page.locator("#impact-rows")).to_contain_text("Low Kyc Broker LLP")
    expect(page.locator("#impact-rows")).to_contain_text("kyc_baseline: met → not_met")
    shot(page, "4-impact")

    # Update the boundary scenarios to the new threshold, run them green.
    page.goto("/policies/2026.2/edit")
    scenarios = page.locator("#features_text")
    # (A 2,000-line paste: set it at once, as a paste does; typing it would take minutes.)
    scenarios.evaluate(
        "(el, v) => { el.value = v; el.dispatchEvent(new Event('input')); }",
        update_kyc_scenarios(scenarios.input_value()),
    )
    page.get_by_role("button", name="Save and run the scenarios").click()
    expect(page.locator("#spec-summary")).to_contain_text("scenarios pass", timeout=30_000)
    shot(page, "5-specs-pass")

    # A second person approves the text (helper D's approval page will do it in the browser).
    approve_draft(db_session, make_user, "2026.2")

    # Publish with a future date, after seeing the results and the impact.
    page.goto("/policies/2026.2/publish")
    page.get_by_label("Effective from").fill(day.isoformat())
    page.get_by_role("button", name="Check this date").click()
    expect(page.locator("#spec-summary")).to_contain_text("scenarios pass")
    expect(page.get_by_text("3 of 6 companies change")).to_be_visible()
    shot(page, "6-confirm")
    page.get_by_role("button", name="Publish 2026.2").click()
    expect(page.locator(".flash-success")).to_contain_text("is published")
    shot(page, "7-published")
    with app.app_context():
        registry = catalogue().registry()
        assert registry.select(day).version == "2026.2"
        assert registry.select(day - dt.timedelta(days=1)).version == "2026.1"
