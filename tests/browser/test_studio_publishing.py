"""Two authors publish a version in the browser: one edits, the other approves; the
timeline shows the new version."""

from __future__ import annotations

import datetime as dt

from playwright.sync_api import expect

from hub.app_catalogue import catalogue
from hub.models import Role
from tests.browser.test_studio import shot
from tests.conftest import DEFAULT_PASSWORD
from tests.functional.test_studio import population, raise_kyc, update_kyc_scenarios

__all__ = ["population"]  # the fixture, reused: six companies with decided filings

NOW = dt.datetime(2026, 11, 29, 6, tzinfo=dt.UTC)  # the hub's today: 2026.1 in force
DAY = "2026-12-15"  # the effective date chosen: before 2027.1 takes over


def sign_in(page, email: str) -> None:
    page.goto("/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def test_one_author_edits_another_approves_and_the_timeline_shows_the_new_version(
    page, app, make_user, fix_clock, population, queue_worker
):
    fix_clock(NOW)
    make_user(Role.AUTHOR, email="a@example.kz")
    make_user(Role.AUTHOR, email="b@example.kz")

    # The timeline before: 2026.1 in force today, 2027.1 from 2027-01-01.
    sign_in(page, "a@example.kz")
    page.get_by_role("link", name="Policy studio").click()
    timeline = page.locator("#timeline-astana-crypto-hub table")
    expect(timeline.locator("tbody tr")).to_have_count(2)
    expect(timeline.locator("tbody tr").first).to_contain_text("2026.1 in force today")
    shot(page, "timeline-1-before")

    # Author A drafts 2026.2 from 2026.1, raises the baseline and runs the scenarios green.
    page.goto("/policies/2026.1")
    page.get_by_label("Version number of the draft").fill("2026.2")
    page.get_by_role("button", name="Create draft").click()
    expect(page.get_by_role("heading", name="Draft 2026.2")).to_be_visible()
    rules = page.locator("#text")
    rules.fill(raise_kyc(rules.input_value()))
    scenarios = page.locator("#features_text")
    # (A 2,000-line paste: set it at once, as a paste does.)
    scenarios.evaluate(
        "(el, v) => { el.value = v; el.dispatchEvent(new Event('input')); }",
        update_kyc_scenarios(scenarios.input_value()),
    )
    page.get_by_role("button", name="Save and run the scenarios").click()
    expect(page.locator("#spec-summary")).to_contain_text("scenarios pass", timeout=30_000)

    # A cannot approve their own draft, and is told why; the draft is listed, not in force.
    page.goto("/policies/2026.2")
    expect(page.locator("#approval-summary")).to_have_text("not approved yet")
    expect(page.locator("#cannot-approve")).to_contain_text("you cannot approve it")
    expect(page.get_by_role("button", name="Approve this draft")).to_have_count(0)
    expect(page.locator("#in-force")).to_contain_text("not in force")
    # Publishing is refused without the approval, and says so.
    page.goto(f"/policies/2026.2/publish?effective_from={DAY}")
    expect(page.locator("#publish-refused")).to_contain_text("not been approved by a second person")
    expect(page.get_by_role("button", name="Publish 2026.2")).to_have_count(0)
    shot(page, "timeline-2-refused")
    page.get_by_role("button", name="Run the impact analysis").click()
    expect(page.locator("#impact-summary")).to_contain_text("companies change", timeout=30_000)
    page.get_by_role("button", name="Sign out").click()

    # Author B reads the draft and approves it.
    sign_in(page, "b@example.kz")
    page.goto("/policies")
    expect(page.locator("#drafts")).to_contain_text("2026.2 — based on 2026.1, by a@example.kz")
    page.locator("#drafts").get_by_role("link", name="2026.2").click()
    page.get_by_role("button", name="Approve this draft").click()
    expect(page.locator(".flash-success")).to_contain_text("You approved revision")
    expect(page.locator("#approval-summary")).to_contain_text("approved by b@example.kz")
    shot(page, "timeline-3-approved")
    page.get_by_role("button", name="Sign out").click()

    # A publishes: the last run, the approval and the plan are on the page.
    sign_in(page, "a@example.kz")
    page.goto("/policies/2026.2")
    page.get_by_role("link", name="Publish…").click()
    page.get_by_label("Effective from").fill(DAY)
    page.get_by_role("button", name="Check this date").click()
    expect(page.locator("#spec-summary")).to_contain_text("scenarios pass")
    expect(page.locator("#publish-approval")).to_contain_text("approved by b@example.kz")
    expect(page.locator("#plan-replaces")).to_contain_text(f"From {DAY}, 2026.2 replaces 2026.1")
    expect(page.locator("#plan-until")).to_contain_text("from 2027-01-01 2027.1 takes over")
    shot(page, "timeline-4-publish")
    page.get_by_role("button", name="Publish 2026.2").click()
    expect(page.locator(".flash-success")).to_contain_text("is published")

    # The timeline shows the new version, from its date to the day before 2027.1.
    page.get_by_role("link", name="Policy studio").click()
    rows = page.locator("#timeline-astana-crypto-hub table tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_contain_text("2026-07-01")
    expect(rows.nth(0)).to_contain_text("2026-12-14")
    expect(rows.nth(1)).to_contain_text(f"{DAY} 2026-12-31 2026.2")
    expect(rows.nth(1)).to_contain_text("replaced by 2027.1 from 2027-01-01")
    expect(page.locator("#drafts")).to_contain_text("No drafts.")
    shot(page, "timeline-5-after")
    with app.app_context():
        assert catalogue().registry().select(dt.date(2026, 12, 15)).version == "2026.2"
