"""Filing journeys in Debian's Chromium: the anonymous check, and a company that files."""

from __future__ import annotations

import os
import re
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.functional.filing_support import t1_exchange

SHOTS = os.environ.get("HUB_SCREENSHOTS")  # a folder: save screenshots of each step


def shot(page: Page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"))


def fill_filing(page: Page, filing: dict) -> None:
    """Answer the generated form as a person would: type, tick, choose."""
    for name, value in filing.items():
        if value is True or value is False:
            page.locator(f'input[name="{name}"][value="{"yes" if value else "no"}"]').check()
        elif isinstance(value, list):
            for item in value:
                page.locator(f'input[name="{name}"][value="{item}"]').check()
        elif page.locator(f"select#in-{name}").count():
            page.locator(f"#in-{name}").select_option(str(value))
        elif page.locator(f"#in-{name}[readonly]").count():
            continue
        else:
            number = value if not isinstance(value, float) or not value.is_integer() else int(value)
            page.locator(f"#in-{name}").fill(str(number))


def test_anonymous_check_with_a_validation_error_corrected(page: Page):
    page.goto("/")
    page.get_by_role("link", name="Check eligibility").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your eligibility")

    # Choosing mining marks the client-facing questions as not needed (live, by script).
    page.get_by_label("Principal licensed activity").select_option("mining")
    expect(page.locator("#field-kyc_verified_clients_pct")).to_contain_text(
        "Not needed for Mining."
    )
    expect(page.locator("#in-kyc_verified_clients_pct")).to_be_hidden()
    expect(page.locator("#in-renewable_energy_pct")).to_be_visible()
    page.get_by_label("Principal licensed activity").select_option("exchange")
    expect(page.locator("#in-kyc_verified_clients_pct")).to_be_visible()

    # A mistake: a BIN with a wrong check digit.
    fill_filing(page, t1_exchange(bin="940140000386"))
    page.get_by_role("button", name="Check eligibility").click()
    expect(page.locator("#error-summary")).to_contain_text("1 answer needs your attention")
    expect(page.locator("#err-bin")).to_have_text("Has a wrong check digit.")
    # What was typed is kept, including the wrong value itself.
    expect(page.locator("#in-bin")).to_have_value("940140000386")
    expect(page.locator("#in-kyc_verified_clients_pct")).to_have_value("100")
    expect(page.locator('input[name="registered_in_hub"][value="yes"]')).to_be_checked()
    shot(page, "anon-1-error")

    page.locator("#in-bin").fill("940140000385")
    page.get_by_role("button", name="Check eligibility").click()
    expect(page.locator(".tier-reached")).to_contain_text("T1 Registered tier reached")
    expect(page.locator(".next-tier")).to_contain_text(
        "raise opex_in_zone_kzt from 10,000,000 to at least 50,000,000"
    )
    expect(page.locator(".benefits .total")).to_have_text("36,000,000 KZT")
    first_row = page.locator("table.criteria tbody tr").first
    expect(first_row).to_contain_text("Operating expenditure in the zone")
    expect(first_row.locator(".bar")).to_be_visible()
    shot(page, "anon-2-result")

    page.get_by_role("link", name="read the rules").first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("version 2026.1")


def test_company_saves_a_draft_fixes_an_unmet_criterion_and_submits(
    page: Page, make_user, default_password
):
    user = make_user("company", email="officer@steppe.kz")
    page.goto("/login")
    page.get_by_label("E-mail").fill(user.email)
    page.get_by_label("Password").fill(default_password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Filings").click()
    expect(page.locator("body")).to_contain_text("No filings yet")

    page.get_by_role("button", name="Start a new filing").click()
    expect(page.locator(".flash-success")).to_contain_text("started")
    expect(page.locator("#in-bin")).to_have_value("940140000385")
    expect(page.locator("#in-bin")).to_have_attribute("readonly", "")

    # Only part of it first, then save: a draft may be incomplete.
    page.locator("#in-fte_in_zone").fill("9")
    page.get_by_role("button", name="Save draft").click()
    expect(page.locator(".flash-success")).to_have_text("Draft saved.")
    expect(page.locator("#in-fte_in_zone")).to_have_value("9")

    # The rest, then check: one criterion is unmet and its fix says what to do.
    fill_filing(page, t1_exchange())
    page.get_by_role("button", name="Save and check").click()
    decision = page.locator("#decision")
    expect(decision).to_contain_text("T1 Registered tier reached")
    fix = page.locator("#crit-local_opex .fix")
    expect(fix).to_contain_text("raise opex_in_zone_kzt from 10,000,000 to at least 50,000,000")
    shot(page, "company-1-checked")

    # Fix it as the fix says, and submit.
    page.locator("#in-opex_in_zone_kzt").fill("50000000")
    page.get_by_role("button", name="Save and submit for review").click()
    # a summary to confirm: the tier claimed, benefits, what is not met
    expect(page.locator("#tier-claimed")).to_contain_text("Full disclosure (T3)")
    shot(page, "company-2-confirm")
    page.get_by_role("button", name=re.compile("^Confirm and submit")).click()
    expect(page.locator(".flash-success")).to_contain_text("submitted for review (tier T3 claimed)")
    expect(page.locator("#filing-status")).to_have_text("submitted")
    expect(page.locator("#decision")).to_contain_text("T3 Full disclosure tier reached")
    shot(page, "company-2-submitted")

    page.get_by_role("link", name="← All filings").click()
    row = page.locator("#filings tbody tr").first
    expect(row).to_contain_text("submitted")
    expect(row).to_contain_text("T3")

    # A submitted filing is frozen: changing it starts a revision.
    row.get_by_role("link").first.click()
    page.get_by_role("button", name="Revise (start a new draft)").click()
    expect(page.locator(".flash-success")).to_contain_text("revises filing")
    shot(page, "company-3-revision")
