"""No account enumeration (issue 17, item 4): registration answers "check your mail" in
every case, the mail goes to whom it concerns, and a new account signs in only after
following the link of its confirmation mail, once, before it expires."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import pytest
from sqlmodel import col, select

from hub.auth.service import CONFIRM_MAX_AGE, confirmation_token
from hub.models import Company, MailMessage, MailStatus, User
from tests.conftest import confirmation_link
from tests.conftest import more_bins as bins_after_the_valid_ones

PASSWORD = "a long passphrase"


@pytest.fixture
def more_bins() -> Iterator[str]:
    """BINs no company of the test has (``make_company`` takes the ``VALID_BINS``)."""
    return bins_after_the_valid_ones()


def registration(email: str, bin_: str, name: str = "Steppe Exchange LLP") -> dict[str, str]:
    return {
        "email": email,
        "password": PASSWORD,
        "confirm": PASSWORD,
        "bin": bin_,
        "legal_name": name,
        "activity": "exchange",
    }


def _without_csrf(html: str) -> str:
    return re.sub(r'(name="csrf[-_]token"[^>]*content|name="csrf_token"[^>]*value)="[^"]*"',
                  r'\1=""', html)  # fmt: skip


def answer(client, data: dict[str, str]) -> tuple[int, str, str]:
    """A registration's answer as the person sees it: status, Location, the page it leads
    to (CSRF tokens blanked)."""
    response = client.post("/register", data=data)
    location = response.headers.get("Location", "")
    page = client.get(location) if location else response
    return response.status_code, location, _without_csrf(page.get_data(as_text=True))


def mails(db_session, **where) -> list[MailMessage]:
    db_session.expire_all()
    query = select(MailMessage).order_by(col(MailMessage.id))
    for name, value in where.items():
        query = query.where(getattr(MailMessage, name) == value)
    return list(db_session.exec(query).all())


def test_taken_email_and_taken_bin_answer_exactly_like_a_new_registration(
    app, make_user, make_company, db_session, more_bins
):
    owner = make_user("company", email="owner@steppe.kz")
    company = db_session.get(Company, owner.company_id)
    fresh = answer(app.test_client(), registration("new@steppe.kz", next(more_bins)))
    taken_email = answer(app.test_client(), registration("owner@steppe.kz", next(more_bins)))
    taken_bin = answer(app.test_client(), registration("other@steppe.kz", company.bin))
    assert fresh[:2] == (302, "/register/sent")
    assert "Check your mail to continue" in fresh[2]
    assert taken_email == fresh
    assert taken_bin == fresh
    assert "already exists" not in fresh[2] and "already has an account" not in fresh[2]
    # Only the fresh registration made an account (and its company).
    emails = sorted(u.email for u in db_session.exec(select(User)))
    assert emails == ["new@steppe.kz", "owner@steppe.kz"]
    assert len(db_session.exec(select(Company)).all()) == 2


def test_each_case_mails_the_right_people(app, make_user, db_session, more_bins, client):
    owner = make_user("company", email="owner@steppe.kz")
    company = db_session.get(Company, owner.company_id)
    colleague = make_user("company", email="colleague@steppe.kz", company=company)
    client.post("/register", data=registration("owner@steppe.kz", next(more_bins)))
    taken = mails(db_session, kind="account_email_taken")
    assert [m.to_address for m in taken] == ["owner@steppe.kz"]
    assert "Someone tried to register" in taken[0].subject
    assert "/login" in taken[0].text_body and "/confirm/" not in taken[0].text_body

    client.post("/register", data=registration("stranger@example.kz", company.bin))
    told = mails(db_session, kind="account_bin_taken")
    assert sorted(m.to_address for m in told) == sorted([owner.email, colleague.email])
    assert company.bin in told[0].text_body
    assert "stranger@example.kz" not in told[0].text_body + told[0].html_body
    assert mails(db_session, to_address="stranger@example.kz") == []

    client.post("/register", data=registration("new@steppe.kz", next(more_bins), "New LLP"))
    sent = mails(db_session, kind="account_confirm")
    assert [m.to_address for m in sent] == ["new@steppe.kz"]
    assert "New LLP" in sent[0].text_body
    assert sent[0].status == MailStatus.OUTBOX.value  # no SMTP here: kept for /outbox
    # Each account mail went only to whom it concerns, with no in-app message.
    assert all(m.notification_id is None for m in mails(db_session))


def test_an_unconfirmed_account_cannot_sign_in_until_its_link_is_followed(
    client, db_session, more_bins, login, confirm_account
):
    client.post("/register", data=registration("new@steppe.kz", next(more_bins)))
    refused = login(client, "new@steppe.kz", PASSWORD)
    assert refused.status_code == 200
    assert "Confirm your e-mail address first" in refused.get_data(as_text=True)
    assert client.get("/company").status_code == 302
    # A wrong password says what it says for any account: nothing about confirmation.
    wrong = login(client, "new@steppe.kz", "not the password").get_data(as_text=True)
    assert "Wrong e-mail or password" in wrong and "Confirm" not in wrong

    assert confirm_account(client, "new@steppe.kz").headers["Location"] == "/login"
    assert login(client, "new@steppe.kz", PASSWORD).status_code == 302
    assert client.get("/company").status_code == 200


def test_the_link_works_once_and_opening_it_changes_nothing(
    client, db_session, more_bins, confirm_account
):
    client.post("/register", data=registration("new@steppe.kz", next(more_bins)))
    path = confirmation_link(db_session, "new@steppe.kz")
    assert client.get(path).status_code == 200  # a mail scanner opening it activates nothing
    user = db_session.exec(select(User).where(User.email == "new@steppe.kz")).one()
    db_session.refresh(user)
    assert user.email_confirmed is False
    assert confirm_account(client, "new@steppe.kz").status_code == 302
    again = confirm_account(client, "new@steppe.kz")
    assert again.status_code == 200
    assert "not valid, or was used already" in again.get_data(as_text=True)


def test_the_link_expires_and_a_forged_one_does_nothing(app, client, db_session, more_bins, clock):
    client.post("/register", data=registration("new@steppe.kz", next(more_bins)))
    user = db_session.exec(select(User).where(User.email == "new@steppe.kz")).one()
    made = clock.now() - dt.timedelta(seconds=CONFIRM_MAX_AGE + 60)
    old = confirmation_token(app.config["SECRET_KEY"], user, now=made)
    expired = client.post(f"/confirm/{old}")
    assert "has expired" in expired.get_data(as_text=True)
    forged = confirmation_token("another key", user, now=clock.now())
    assert "not valid" in client.post(f"/confirm/{forged}").get_data(as_text=True)
    assert "not valid" in client.post("/confirm/" + "x" * 5000).get_data(as_text=True)
    db_session.refresh(user)
    assert user.email_confirmed is False
    # A fresh link (made now) still works.
    fresh = confirmation_token(app.config["SECRET_KEY"], user, now=clock.now())
    assert client.post(f"/confirm/{fresh}").status_code == 302


def test_registering_again_an_unconfirmed_address_mails_a_new_link(
    client, db_session, more_bins, login, confirm_account
):
    client.post("/register", data=registration("new@steppe.kz", next(more_bins)))
    client.post("/register", data=registration("new@steppe.kz", next(more_bins)))
    again = mails(db_session, kind="account_email_taken")
    assert [m.to_address for m in again] == ["new@steppe.kz"]
    assert "/confirm/" in again[0].text_body
    path = re.search(r"https?://[^/\s]+(/confirm/\S+)", again[0].text_body)
    assert path is not None
    assert client.post(path.group(1)).status_code == 302
    assert login(client, "new@steppe.kz", PASSWORD).status_code == 302


def test_without_smtp_an_administrator_finds_the_link_in_the_outbox(
    app, client, db_session, make_user, more_bins, login
):
    """The demo's path: no mail server, the confirmation mail is on /outbox."""
    client.post("/register", data=registration("new@steppe.kz", next(more_bins)))
    (mail,) = mails(db_session, kind="account_confirm")
    admin = app.test_client()
    login(admin, make_user("admin"))
    assert "new@steppe.kz" in admin.get("/outbox").get_data(as_text=True)
    shown = admin.get(f"/outbox/{mail.id}").get_data(as_text=True)
    link = re.search(r"https?://[^/\s\"<]+(/confirm/[^\s\"<]+)", shown)
    assert link is not None, shown
    assert client.post(link.group(1)).headers["Location"] == "/login"
    assert login(client, "new@steppe.kz", PASSWORD).status_code == 302


def test_every_case_costs_the_same_argon2_work(app, make_user, db_session, more_bins, monkeypatch):
    """Timing without a stopwatch: each registration hashes the password once, whatever
    happened; signing in to an unconfirmed account verifies once and hashes nothing, as
    for any account (tests/functional/test_sessions_and_tokens.py)."""
    from tests.functional.test_sessions_and_tokens import HasherSpy

    owner = make_user("company", email="owner@steppe.kz")
    company = db_session.get(Company, owner.company_id)
    spy = HasherSpy(monkeypatch)
    for data in (
        registration("new@steppe.kz", next(more_bins)),
        registration("owner@steppe.kz", next(more_bins)),
        registration("other@steppe.kz", company.bin),
        registration("new@steppe.kz", next(more_bins)),  # unconfirmed, taken
    ):
        spy.reset()
        assert app.test_client().post("/register", data=data).status_code == 302
        assert (spy.hashed, spy.verified) == (1, []), data["email"]
    for password in (PASSWORD, "not the password"):
        spy.reset()
        client = app.test_client()
        page = client.post("/login", data={"email": "new@steppe.kz", "password": password})
        assert page.status_code == 200
        assert (spy.hashed, len(spy.verified)) == (0, 1)
