"""Notifications in Debian's Chromium: the daily watch opens a warning and tells the
company; its user sees the unread count in the navigation, reads the message (which marks
it read) and follows its link to the warning on the company's home page, whose button
starts the filing that fixes it. Then the preferences page: the decisions on a filing
cannot be turned off.

Screenshots land in the test's tmp folder (``HUB_SCREENSHOTS=dir`` keeps them).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import select

from hub import app_mail
from hub.app_catalogue import catalogue
from hub.app_clock import app_clock
from hub.clock import Clock
from hub.db import get_engine
from hub.models import Notification
from hub.services.watch import run_watch
from tests.browser.test_warnings import PASSWORD, _sign_in, _submit


@pytest.fixture
def shots(tmp_path: Path):
    folder = Path(os.environ.get("HUB_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)

    def shoot(page: Page, name: str) -> None:
        page.screenshot(path=str(folder / f"notifications-{name}.png"), full_page=True)

    return shoot


def _watch_and_tell(app) -> None:
    with app.app_context():
        run_watch(
            get_engine(app),
            registry=catalogue().registry(),
            as_of=app_clock(app).today(),
            clock=Clock(),
            notifier=app_mail.notifier(app),
        )


def test_a_company_reads_a_notification_and_follows_its_link(
    page: Page, app, db_session, make_company, make_user, shots
):
    company = make_company(legal_name="Opex Exchange LLP", activity="exchange")
    make_user("company", email="compliance@opex.kz", company=company, password=PASSWORD)
    first = _submit(app, db_session, company, opex_in_zone_kzt=55_000_000.0)  # 2027.1 demotes
    _watch_and_tell(app)
    kinds = [n.kind for n in db_session.exec(select(Notification)).all()]
    assert kinds.count("warning") == 1  # and a notice per figure close to the line
    told = len(kinds)

    # The navigation counts the unread messages.
    _sign_in(page, "compliance@opex.kz")
    badge = page.locator(".notifications-link .badge")
    expect(badge).to_have_text(str(told))
    shots(page, "1-unread")

    # The list: the unread messages, what each is about.
    page.locator(".notifications-link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Notifications")
    expect(page.locator("#notifications-summary")).to_contain_text(
        f"{told} message{'s' if told > 1 else ''}, {told} unread"
    )
    item = page.locator('li.notification.unread[data-kind="warning"]')
    expect(item).to_contain_text("Action needed by 2027-01-01: New policy version")
    shots(page, "2-list")

    # Reading it marks it read: the navigation counts one less.
    item.get_by_role("link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Action needed by 2027-01-01: New policy version"
    )
    expect(page.locator("main")).to_contain_text("unhosted_wallet_verified_pct")
    if told > 1:
        expect(page.locator(".notifications-link .badge")).to_have_text(str(told - 1))
    else:
        expect(page.locator(".notifications-link .badge")).to_have_count(0)
    shots(page, "3-read")

    # Its link goes to the warning on the company's home page, which acts on it.
    page.get_by_role("link", name="Start the filing that fixes it").click()
    expect(page).to_have_url(re.compile(r"/company#warning-\d+$"))
    warning_id = page.url.rsplit("#", 1)[1]
    warning = page.locator(f"#{warning_id}")
    expect(warning).to_be_visible()
    expect(warning).to_have_attribute("data-kind", "policy_change")
    warning.get_by_role("button", name="Start the filing that fixes this").click()
    expect(page.locator(".flash-success")).to_contain_text(f"revises filing {first}")
    shots(page, "4-fix-started")

    # Preferences: the decisions on a filing are required by law; a kind turned off stays off.
    page.goto("/notifications/preferences")
    expect(page.get_by_label("Your filing was approved (with the certificate)")).to_be_disabled()
    expect(page.get_by_text("required by law").first).to_be_visible()
    page.get_by_label("A figure close to the line (a notice of the daily watch)").uncheck()
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".flash-success")).to_contain_text("preferences are saved")
    expect(
        page.get_by_label("A figure close to the line (a notice of the daily watch)")
    ).not_to_be_checked()
    expect(
        page.get_by_label("A warning of the daily watch: what to file, and by when")
    ).to_be_checked()
    shots(page, "5-preferences")
