"""Early warnings in Debian's Chromium: a company reads a warning of the daily watch on its
home page and acts on it (its button starts the filing that fixes it, submitted, and the
next watch closes the warning); an administrator opens "companies at risk" from the
navigation, filters it by kind, orders it by the saving at stake and follows a row to the
filing's review page.

Screenshots land in the test's tmp folder (``HUB_SCREENSHOTS=dir`` keeps them).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import Session

from hub.app_catalogue import catalogue
from hub.app_clock import app_clock
from hub.clock import Clock
from hub.db import get_engine
from hub.services.watch import run_watch
from tests.functional.filing_support import submit_filing

PASSWORD = "correct horse battery"


@pytest.fixture
def shots(tmp_path: Path):
    folder = Path(os.environ.get("HUB_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)

    def shoot(page: Page, name: str) -> None:
        page.screenshot(path=str(folder / f"warnings-{name}.png"), full_page=True)

    return shoot


def _submit(app, session: Session, company, **changes) -> int:
    with app.app_context():
        registry = catalogue().registry()
    # as of the hub's date, as the server's
    return submit_filing(
        session, registry, app_clock(app), company, record_retention_years=7, **changes
    ).id


def _watch(app) -> None:
    with app.app_context():
        registry = catalogue().registry()
    run_watch(get_engine(app), registry=registry, as_of=app_clock(app).today(), clock=Clock())


def _sign_in(page: Page, email: str) -> None:
    page.goto("/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_a_company_reads_a_warning_and_files_the_fix(
    page: Page, app, db_session, make_company, make_user, shots
):
    steppe = make_company(legal_name="Steppe Exchange LLP", activity="exchange")
    make_user("company", email="compliance@steppe.kz", company=steppe, password=PASSWORD)
    today = app_clock(app).today()
    last_day = today + dt.timedelta(days=20)
    first = _submit(app, db_session, steppe, licence_expires_on=last_day.isoformat())
    _watch(app)

    # Signed in, the company lands on its home page: the warning first, with what to do.
    _sign_in(page, "compliance@steppe.kz")
    expect(page).to_have_url(re.compile(r"/company$"))
    warnings = page.locator("#warnings")
    expect(warnings).to_be_visible()
    warning = warnings.locator('li[data-kind="licence_expiry"]')
    expect(warning).to_contain_text(f"Your licence expires on {last_day.isoformat()}")
    loss = (last_day + dt.timedelta(days=1)).isoformat()
    expect(warning).to_contain_text(f"Lost from {loss}: 36,000,000 KZT a year at stake")
    expect(warning).to_contain_text(
        f"renew your licence and file its new licence_expires_on before {loss} to keep T1"
    )
    shots(page, "1-company-home")

    # Acting on it: the warning's button starts the filing that fixes it.
    warning.get_by_role("button", name="Start the filing that fixes this").click()
    expect(page.locator(".flash-success")).to_contain_text(f"revises filing {first}")
    expect(page.locator("#in-licence_expires_on")).to_have_value(last_day.isoformat())
    page.locator("#in-licence_expires_on").fill("2028-12-31")
    page.get_by_role("button", name="Save and submit for review").click()
    page.get_by_role("button", name=re.compile("^Confirm and submit")).click()
    expect(page.locator(".flash-success")).to_contain_text("submitted for review")
    shots(page, "2-fix-submitted")

    # The next watch finds the licence renewed: the warning is gone from the home page.
    _watch(app)
    page.goto("/company")
    expect(page.locator('#warnings li[data-kind="licence_expiry"]')).to_have_count(0)
    shots(page, "3-warning-closed")


def test_an_admin_opens_companies_at_risk_and_filters_them(
    page: Page, app, db_session, make_company, make_user, shots
):
    today = app_clock(app).today()
    near = make_company(legal_name="Near Licence LLP", activity="exchange")
    far = make_company(legal_name="Far Licence LLP", activity="exchange")
    demoted = make_company(legal_name="Opex Exchange LLP", activity="exchange")
    make_user("admin", email="reviewer@hub.kz", password=PASSWORD)
    _submit(app, db_session, near, property_value_kzt=1e9,
            licence_expires_on=(today + dt.timedelta(days=10)).isoformat())  # fmt: skip
    _submit(app, db_session, far, property_value_kzt=4e9,
            licence_expires_on=(today + dt.timedelta(days=50)).isoformat())  # fmt: skip
    policy_filing = _submit(app, db_session, demoted, opex_in_zone_kzt=55_000_000.0)
    _watch(app)

    # The administration page counts them by kind, each count a link to the page.
    _sign_in(page, "reviewer@hub.kz")
    counts = page.locator("#at-risk-counts")
    expect(counts).to_contain_text("3 companies in all")
    expect(counts.locator('tr[data-kind="licence_expiry"]')).to_contain_text("2")
    expect(counts.locator('tr[data-kind="policy_change"]')).to_contain_text("1")
    shots(page, "4-admin-home")

    # The page itself from the navigation: every warning, the soonest loss first.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="At risk").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Companies at risk")
    rows = page.locator("table.at-risk tbody tr")
    expect(rows.first).to_contain_text("Near Licence LLP")
    expect(rows.first).to_contain_text("T1 → no tier")
    shots(page, "5-at-risk")

    # Filtered by kind: only the company that 2027.1 demotes.
    page.get_by_label("Kind of warning").select_option("policy_change")
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"kind=policy_change"))
    expect(page.locator("#at-risk-summary")).to_contain_text("1 open warning")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Opex Exchange LLP")
    expect(rows.first).to_contain_text("T3 → T1")
    expect(rows.first).to_contain_text("2027-01-01")
    shots(page, "6-filtered")

    # Every kind again, ordered by the saving at stake: the larger licence first.
    page.get_by_label("Kind of warning").select_option("")
    page.get_by_label("Order").select_option("-saving")
    page.get_by_role("button", name="Apply").click()
    licences = page.locator('table.at-risk tbody tr[data-kind="licence_expiry"]')
    expect(licences.first).to_contain_text("Far Licence LLP")
    expect(licences.nth(1)).to_contain_text("Near Licence LLP")

    # A row's filing link opens the review page of the company's filing.
    page.locator('table.at-risk tbody tr[data-kind="policy_change"]').get_by_role(
        "link", name=f"#{policy_filing}"
    ).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Filing #{policy_filing}")
    shots(page, "7-review")
