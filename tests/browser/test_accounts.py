"""A new company registers in the browser, confirms its account from the mail's link,
signs in, signs out, and signs in again."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.conftest import confirmation_link


def test_company_registers_and_signs_in(page, db_session):
    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Tax breaks")
    page.get_by_role("link", name="Register your company").click()

    # A mistake first: the BIN's check digit is wrong; the form keeps what was typed.
    page.get_by_label("BIN (business identification number)").fill("940140000386")
    page.get_by_label("Registered legal name").fill("Steppe Exchange LLP")
    page.get_by_label("Principal licensed activity").select_option("exchange")
    page.get_by_label("Work e-mail").fill("compliance@steppe.kz")
    page.get_by_label("Password", exact=True).fill("a long passphrase")
    page.get_by_label("Repeat the password").fill("a long passphrase")
    page.get_by_role("button", name="Create the account").click()
    expect(page.locator(".has-error .error")).to_contain_text("This BIN")
    expect(page.get_by_label("Registered legal name")).to_have_value("Steppe Exchange LLP")

    page.get_by_label("BIN (business identification number)").fill("940140000385")
    page.get_by_label("Password", exact=True).fill("a long passphrase")
    page.get_by_label("Repeat the password").fill("a long passphrase")
    page.get_by_role("button", name="Create the account").click()

    expect(page).to_have_url("/register/sent")
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your mail to continue")

    # The account waits for its confirmation: signing in says so.
    page.get_by_role("link", name="Sign in").first.click()
    page.get_by_label("E-mail").fill("compliance@steppe.kz")
    page.get_by_label("Password").fill("a long passphrase")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".error")).to_contain_text("Confirm your e-mail address first")

    # The link of the confirmation mail (kept in the outbox: no SMTP here).
    page.goto(confirmation_link(db_session, "compliance@steppe.kz"))
    page.get_by_role("button", name="Activate my account").click()
    expect(page).to_have_url("/login")
    expect(page.locator(".flash-success")).to_contain_text("Your account is confirmed")
    page.get_by_label("E-mail").fill("compliance@steppe.kz")
    page.get_by_label("Password").fill("a long passphrase")
    page.get_by_role("button", name="Sign in").click()

    expect(page).to_have_url("/company")
    expect(page.get_by_role("heading", level=1)).to_have_text("Steppe Exchange LLP")
    expect(page.locator(".account-box")).to_contain_text("compliance@steppe.kz")

    page.get_by_role("button", name="Sign out").click()
    expect(page.locator(".flash-info")).to_contain_text("signed out")

    page.get_by_role("link", name="Sign in").first.click()
    page.get_by_label("E-mail").fill("compliance@steppe.kz")
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".error")).to_contain_text("Wrong e-mail or password")

    page.get_by_label("Password").fill("a long passphrase")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url("/company")
    expect(page.get_by_role("navigation", name="Main")).to_contain_text("My company")
