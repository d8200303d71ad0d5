"""An administrator reviews in the browser: filter, open, send back, approve, certify.

The company resubmits in between through its own workspace, so the whole loop
(review -> company -> review -> public verification) runs as people would use it.
Screenshots land in the test's tmp folder (``HUB_SCREENSHOTS=dir`` keeps them).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import Session

from hub.app_catalogue import catalogue
from hub.app_clock import app_clock
from tests.functional.filing_support import submit_filing

PASSWORD = "correct horse battery"


@pytest.fixture
def shots(tmp_path: Path):
    folder = Path(os.environ.get("HUB_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)

    def shoot(page: Page, name: str) -> None:
        page.screenshot(path=str(folder / f"review-{name}.png"), full_page=True)

    return shoot


def _submit(app, session: Session, company, **changes) -> int:
    with app.app_context():
        registry = catalogue().registry()
    # as of the hub's date, as the server's
    return submit_filing(session, registry, app_clock(app), company, **changes).id


def _sign_in(page: Page, email: str) -> None:
    page.goto("/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def _sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()


def test_admin_sends_back_company_resubmits_admin_approves_and_certifies(
    page: Page, app, db_session, make_company, make_user, shots
):
    steppe = make_company(legal_name="Steppe Exchange LLP", activity="exchange")
    other = make_company(legal_name="Orda Exchange LLP", activity="exchange")
    make_user("company", email="compliance@steppe.kz", company=steppe)
    make_user("admin", email="reviewer@hub.kz")
    first = _submit(app, db_session, steppe)
    _submit(app, db_session, other, tax_arrears_kzt=100.0)  # reaches no tier

    # The admin filters the queue: exchanges claiming T1, searched by name.
    _sign_in(page, "reviewer@hub.kz")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Review queue").click()
    expect(page.locator("#queue-summary")).to_contain_text("2 filings waiting for a decision")
    page.get_by_label("Activity").select_option("exchange")
    page.get_by_label("Tier claimed").select_option("T1")
    page.get_by_role("button", name="Apply filters").click()
    expect(page.locator("#queue-summary")).to_contain_text("1 filing waiting")
    expect(page.locator("table.queue")).not_to_contain_text("Orda Exchange")
    page.get_by_label("BIN or company name").fill("nobody at all")
    page.get_by_role("button", name="Apply filters").click()
    expect(page.locator(".empty")).to_contain_text("No filings match")
    page.get_by_label("BIN or company name").fill("steppe")
    page.get_by_role("button", name="Apply filters").click()
    shots(page, "1-queue-filtered")
    page.get_by_role("link", name="Steppe Exchange LLP").click()

    # The filing: decision criterion by criterion; a wrong move first (too short a message).
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Filing #{first}")
    expect(page.locator("#crit-local_opex")).to_contain_text("Not met")
    expect(page.locator("#inputs")).to_contain_text("Steppe Exchange LLP")
    page.get_by_label("Message to the company").fill("Too short")
    page.get_by_label("Message to the company").evaluate("e => e.removeAttribute('minlength')")
    page.get_by_role("button", name="Send back for changes").click()
    expect(page.locator("#action-error")).to_contain_text("Not saved: please correct this.")
    expect(page.locator("#action-error")).to_contain_text("at least 10 characters")
    expect(page.get_by_label("Message to the company")).to_have_value("Too short")
    shots(page, "2-wrong-move")
    message = "Operating expenditure in the zone looks too low: send the audited figure."
    page.get_by_label("Message to the company").fill(message)
    page.get_by_role("button", name="Send back for changes").click()
    expect(page.locator(".flash-success")).to_contain_text("sent back to the company")
    expect(page.locator("#queue-summary")).to_contain_text("1 filing waiting")
    _sign_out(page)

    # The company reads the message, revises and resubmits with the corrected figure.
    _sign_in(page, "compliance@steppe.kz")
    page.goto(f"/filings/{first}")
    expect(page.locator("main")).to_contain_text(message)
    page.get_by_role("button", name="Revise and resubmit").click()
    page.locator("#in-opex_in_zone_kzt").fill("65000000")
    page.get_by_role("button", name="Save and submit for review").click()
    page.get_by_role("button", name=re.compile("^Confirm and submit")).click()
    expect(page.locator(".flash-success")).to_contain_text("submitted for review")
    revision = int(re.search(r"/filings/(\d+)", page.url).group(1))
    assert revision != first
    _sign_out(page)

    # The admin approves the revision and opens its certificate.
    _sign_in(page, "reviewer@hub.kz")
    page.goto("/review")
    expect(page.locator(f'tr[data-filing="{revision}"]')).to_contain_text("T3")
    page.locator(f'tr[data-filing="{revision}"]').get_by_role("link", name=f"#{revision}").click()
    expect(page.locator("#history")).to_contain_text("superseded")
    expect(page.locator("#audit")).to_contain_text("filing.submitted")
    expect(page.locator("#approve-form")).to_contain_text("valid from")
    shots(page, "3-filing")
    page.get_by_role("button", name="Approve and certify T3").click()
    expect(page.locator(".flash-success")).to_contain_text("approved: T3 certified from")
    expect(page.locator("#certificate")).to_contain_text("Verification code")
    page.get_by_role("link", name="Open the printable certificate").click()
    certificate = page.locator("article.certificate")
    expect(certificate).to_contain_text("Steppe Exchange LLP")
    expect(certificate).to_contain_text(steppe.bin)
    expect(certificate).to_contain_text("Full disclosure")
    expect(certificate).to_contain_text("2026.1")
    code = certificate.locator(".cert-code").inner_text().strip()
    shots(page, "4-certificate")
    _sign_out(page)

    # Anyone can check the code, without signing in.
    page.goto("/verify")
    page.get_by_label("Verification code").fill(code.lower())
    page.get_by_role("button", name="Verify").click()
    expect(page.locator("#verify-result")).to_contain_text("This certificate is valid today.")
    expect(page.locator("#verify-result")).to_contain_text("Steppe Exchange LLP")
    expect(page.locator("#verify-result")).not_to_contain_text("KZT")
    shots(page, "5-verified")


def test_dashboard_draws_its_charts_from_the_local_library(
    page: Page, app, db_session, make_company, make_user
):
    make_user("admin", email="reviewer@hub.kz")
    _submit(app, db_session, make_company())
    _sign_in(page, "reviewer@hub.kz")
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto("/review/dashboard")
    expect(page.locator("#by-status canvas")).to_be_visible()
    page.wait_for_function("() => window.Chart && Object.keys(Chart.instances).length >= 6")
    assert errors == []
    assert all(url.startswith(page.url.split("/review")[0]) for url in requests)
