"""Notifications end to end: what the daily watch opens and what happens to a filing is
told to the company's users, in the app and by e-mail, and the administrators get a
daily digest.

E-mail goes through a real SMTP server started by the test (aiosmtpd) and a real Celery
worker (the test's queue worker), or, without an SMTP URL, into the outbox stored in the
database. Runs on PostgreSQL too when HUB_DATABASE_URL points at it.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import re
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner
from flask import Flask
from sqlmodel import Session, col, select

from hub import app_mail
from hub.app_catalogue import catalogue
from hub.clock import Clock
from hub.config import ConfigError, smtp_settings
from hub.db import get_engine
from hub.models import Company, Filing, MailMessage, Notification, Role, User
from hub.policy import PolicyRegistry
from hub.services import notifications as notify
from hub.services import outbox
from hub.services.watch import run_watch
from tests.functional.filing_support import submit_filing, t1_exchange

BASE = "https://hub.example.kz"
NEW_YEAR = dt.date(2027, 1, 1)


# --- a real SMTP server ---------------------------------------------------------------------


@dataclass
class Received:
    """One mail the SMTP server took: envelope and the parsed message."""

    sender: str
    recipients: list[str]
    message: EmailMessage

    def part(self, subtype: str) -> str:
        """The text of the ``text/<subtype>`` part."""
        body = self.message.get_body(preferencelist=(subtype,))
        assert body is not None and body.get_content_type() == f"text/{subtype}"
        return str(body.get_content())


@dataclass
class Collector:
    """The SMTP server's handler: keeps every mail it takes."""

    mails: list[Received] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.mails.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class SmtpServer:
    port: int
    collector: Collector
    controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.collector, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def wait_for(self, count: int, timeout: float = 30) -> list[Received]:
        """The mails taken, once there are at least ``count`` (AssertionError after
        ``timeout`` seconds)."""
        deadline = time.monotonic() + timeout
        while len(self.collector.mails) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.collector.mails) >= count, self.collector.mails
        return list(self.collector.mails)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer(free_port(), Collector())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def smtp_app(make_app: Callable[..., Flask], smtp: SmtpServer) -> Flask:
    """An app that sends mail through the test's SMTP server, links under ``BASE``."""
    return make_app(SMTP_URL=smtp.url, BASE_URL=BASE, MAIL_FROM="Hub <hub@example.kz>")


# --- helpers ----------------------------------------------------------------------------------


def _registry(app: Flask) -> PolicyRegistry:
    with app.app_context():
        return catalogue().registry()


def _watch(app: Flask, as_of: dt.date) -> Any:
    """The watch as the queue's task runs it: with the app's notifier, its pending mails
    handed to the workers after each chunk's commit."""
    with app.app_context():
        made = app_mail.notifier(app)
        summary = run_watch(
            get_engine(app), registry=catalogue().registry(), as_of=as_of, clock=Clock(),
            notifier=made,
        )  # fmt: skip
        app_mail.send_queued(made, app)
    return summary


def _mails(session: Session, **where: Any) -> list[MailMessage]:
    session.expire_all()
    query = select(MailMessage).order_by(col(MailMessage.id))
    for name, value in where.items():
        query = query.where(getattr(MailMessage, name) == value)
    return list(session.exec(query).all())


def _notes(session: Session, user: User) -> list[Notification]:
    session.expire_all()
    return list(
        session.exec(
            select(Notification)
            .where(Notification.user_id == user.id)
            .order_by(col(Notification.id))
        ).all()
    )


def _company_with_users(make_company, make_user, n: int = 2) -> tuple[Company, list[User]]:
    company = make_company()
    return company, [make_user(Role.COMPANY, company=company) for _ in range(n)]


# --- the daily watch --------------------------------------------------------------------------


@pytest.fixture
def smtp_worker(smtp_app: Flask, start_queue_worker: Callable[[Flask], Any]) -> Iterator[Any]:
    """A real Celery worker of the SMTP app's queue for the whole test."""
    with start_queue_worker(smtp_app) as worker:
        yield worker


def test_the_watch_mails_each_warning_opened_to_the_companys_users_once(
    smtp_app, smtp, db_session, make_company, make_user, clock, smtp_worker
):
    registry = _registry(smtp_app)
    demoted, (alice, bob) = _company_with_users(make_company, make_user)
    calm, (carol,) = _company_with_users(make_company, make_user, 1)
    submit_filing(db_session, registry, clock, demoted, opex_in_zone_kzt=55_000_000.0)
    submit_filing(db_session, registry, clock, calm, record_retention_years=7,
                  kyc_verified_clients_pct=100.0)  # fmt: skip
    as_of = dt.date(2026, 11, 15)
    first = _watch(smtp_app, as_of)
    assert first.opened["policy_change"] == 1
    warned = [m for m in _mails(db_session) if m.kind == "warning"]
    assert sorted(m.to_address for m in warned) == sorted([alice.email, bob.email])
    total = len(_mails(db_session))
    mails = smtp.wait_for(total)
    by_to = {r.recipients[0]: r for r in mails if r.message["Subject"].startswith("Action")}
    assert set(by_to) == {alice.email, bob.email}
    assert not any(carol.email in r.recipients for r in mails if "Action" in r.message["Subject"])
    got = by_to[alice.email]
    assert got.sender == "hub@example.kz" and got.message["To"] == alice.email
    assert got.message["Subject"] == "Action needed by 2027-01-01: New policy version"
    text, html = got.part("plain"), got.part("html")
    warning_id = next(m for m in warned if m.to_address == alice.email).notification_id
    note = db_session.get(Notification, warning_id)
    assert note is not None and note.warning_id is not None
    link = f"{BASE}/company#warning-{note.warning_id}"
    for part in (text, html):
        assert link in part
        assert "unhosted_wallet_verified_pct" in part and "before 2027-01-01 to keep T3" in part
        assert "2027-01-01" in part
    assert f'href="{link}"' in html
    # the in-app list holds the same message
    assert [n.title for n in _notes(db_session, alice) if n.kind == "warning"] == [
        got.message["Subject"]
    ]
    assert all(m.status == "sent" for m in _wait_sent(db_session, total))
    # a second run (the same day, and the next) finds them again and tells nothing
    again = _watch(smtp_app, as_of)
    later = _watch(smtp_app, as_of + dt.timedelta(days=1))
    assert sum(again.opened.values()) == sum(later.opened.values()) == 0
    assert sum(again.still_open.values()) == sum(first.opened.values())
    assert len(_mails(db_session)) == total
    time.sleep(1.0)  # nothing more reaches the server either
    assert len(smtp.collector.mails) == total


def _wait_sent(session: Session, count: int, timeout: float = 30) -> list[MailMessage]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = _mails(session)
        if len(rows) >= count and all(m.status == "sent" for m in rows):
            return rows
        time.sleep(0.05)
    raise AssertionError([(m.id, m.status, m.last_error) for m in _mails(session)])


def test_a_warning_that_closes_and_opens_again_is_told_again(
    app, db_session, make_company, make_user, clock
):
    registry = _registry(app)
    company, (user,) = _company_with_users(make_company, make_user, 1)
    today = clock.today()
    submit_filing(db_session, registry, clock, company,
                  licence_expires_on=(today + dt.timedelta(days=20)).isoformat())  # fmt: skip
    _watch(app, today)
    assert [n.kind for n in _notes(db_session, user)].count("warning") == 1
    renewed = submit_filing(db_session, registry, clock, company)  # licence renewed: closed
    _watch(app, today + dt.timedelta(days=1))
    assert [n.kind for n in _notes(db_session, user)].count("warning") == 1
    # the renewal is withdrawn (a new filing with the old licence): the warning reopens
    submit_filing(db_session, registry, clock, company,
                  licence_expires_on=(today + dt.timedelta(days=20)).isoformat())  # fmt: skip
    _watch(app, today + dt.timedelta(days=2))
    assert [n.kind for n in _notes(db_session, user)].count("warning") == 2
    assert renewed.id


def test_without_smtp_mail_is_kept_in_the_outbox(app, db_session, make_company, make_user, clock):
    registry = _registry(app)
    company, (user,) = _company_with_users(make_company, make_user, 1)
    submit_filing(db_session, registry, clock, company, opex_in_zone_kzt=55_000_000.0)
    _watch(app, dt.date(2026, 11, 15))
    mails = _mails(db_session, kind="warning")
    assert [(m.to_address, m.status) for m in mails] == [(user.email, "outbox")]
    assert "http://127.0.0.1:5000/company#warning-" in mails[0].text_body


# --- filing events ----------------------------------------------------------------------------


def _lock(client, url: str) -> str:
    page = client.get(url).get_data(as_text=True)
    found = re.search(r'name="lock_version" value="(\d+)"', page)
    assert found, url
    return found.group(1)


def test_each_filing_event_is_told_to_the_companys_users(
    smtp_app, smtp, db_session, make_company, make_user, clock, login, smtp_worker
):
    registry = _registry(smtp_app)
    company, (alice, bob) = _company_with_users(make_company, make_user)
    admin = make_user(Role.ADMIN)
    company_client, admin_client = smtp_app.test_client(), smtp_app.test_client()
    login(company_client, alice)
    login(admin_client, admin)

    def draft(**changes: Any) -> Filing:
        from hub.services import filings as filing_svc

        filing = filing_svc.create_draft(
            db_session, company=company, actor_id=None,
            inputs=t1_exchange(legal_name=company.legal_name, **changes),
            registry=registry, today=clock.today(),
        )  # fmt: skip
        db_session.commit()
        return filing

    def submit(filing: Filing) -> None:
        response = company_client.post(
            f"/filings/{filing.id}/submit",
            data={"lock_version": filing.lock_version, "confirm": "yes"},
        )
        assert response.status_code == 303, response.get_data(as_text=True)

    def decide(filing: Filing, action: str, **data: str) -> None:
        lock = _lock(admin_client, f"/review/filings/{filing.id}")
        response = admin_client.post(
            f"/review/filings/{filing.id}/{action.replace('_', '-')}",
            data={"lock_version": lock, **data},
        )
        assert response.status_code in (302, 303), response.get_data(as_text=True)

    # one at a time: a company has one filing waiting for review (a new one supersedes it)
    approved = draft()
    submit(approved)
    decide(approved, "approve")
    rejected = draft()
    submit(rejected)
    decide(rejected, "reject", reason="The licence scan is unreadable, send it again.")
    sent_back = draft()
    submit(sent_back)
    decide(sent_back, "request_changes", message="Please state fte_in_zone as of today.")
    kinds = [n.kind for n in _notes(db_session, alice)]
    assert kinds == [
        "filing_submitted",
        "filing_approved",
        "filing_submitted",
        "filing_rejected",
        "filing_submitted",
        "filing_changes_requested",
    ]
    assert [n.kind for n in _notes(db_session, bob)] == kinds
    assert not _notes(db_session, admin)
    mails = smtp.wait_for(12)
    by_subject = {(r.recipients[0], r.message["Subject"]): r for r in mails}
    db_session.expire_all()
    certified = db_session.get(Filing, approved.id)
    assert certified is not None and certified.certificate_code
    got = by_subject[
        (alice.email,
         f"Filing {approved.id} approved: T1 certified until {certified.valid_until}")
    ]  # fmt: skip
    for part in (got.part("plain"), got.part("html")):
        assert f"{BASE}/certificates/{approved.id}" in part
        assert certified.certificate_code in part
    got = by_subject[(bob.email, f"Filing {rejected.id} rejected")]
    for part in (got.part("plain"), got.part("html")):
        assert "The licence scan is unreadable, send it again." in part
        assert f"{BASE}/filings/{rejected.id}" in part
    got = by_subject[(alice.email, f"Filing {sent_back.id}: changes requested")]
    for part in (got.part("plain"), got.part("html")):
        assert "Please state fte_in_zone as of today." in part
        assert f"{BASE}/filings/{sent_back.id}" in part
    got = by_subject[(bob.email, f"Filing {approved.id} submitted for review")]
    assert f"{BASE}/filings/{approved.id}" in got.part("plain")
    # an override is no decision: nobody is told
    before = len(_mails(db_session))
    overridden = draft()
    submit(overridden)
    db_session.expire_all()
    stored = db_session.get(Filing, overridden.id)
    assert stored is not None and stored.decision
    criterion = next(c["id"] for c in stored.decision["criteria"] if c["status"] == "met")
    decide(overridden, "override", criterion=criterion, status="not_applicable",
           reason="Checked by hand against the register.")  # fmt: skip
    assert len(_mails(db_session)) == before + 2  # the submission, to both users


def test_the_api_submission_is_told_too(app, db_session, make_company, make_user, clock):
    from hub.auth.tokens import issue_token

    registry = _registry(app)
    company, (user,) = _company_with_users(make_company, make_user, 1)
    _, token = issue_token(db_session, user=user, name="ci")
    db_session.commit()
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    created = client.post(
        "/api/v1/filings",
        json={"filing": t1_exchange(legal_name=company.legal_name)},
        headers=headers,
    )
    assert created.status_code == 201, created.get_json()
    fid = created.get_json()["id"]
    done = client.post(f"/api/v1/filings/{fid}/submit", json={}, headers=headers)
    assert done.status_code == 200, done.get_json()
    assert [n.kind for n in _notes(db_session, user)] == ["filing_submitted"]
    assert registry


# --- preferences ------------------------------------------------------------------------------


def test_preferences_turn_kinds_off_except_the_decisions(
    app, db_session, make_company, make_user, clock, login
):
    registry = _registry(app)
    company, (quiet, loud) = _company_with_users(make_company, make_user)
    client = app.test_client()
    login(client, quiet)
    page = client.get("/notifications/preferences").get_data(as_text=True)
    assert page.count("required by law") == 3
    for kind in ("filing_approved", "filing_rejected", "filing_changes_requested"):
        assert re.search(rf'value="{kind}" checked disabled', page), kind
    # every box unchecked: the optional kinds go off, the required ones stay on
    response = client.post("/notifications/preferences", data={"kind": ["filing_approved"]})
    assert response.status_code == 303
    db_session.expire_all()
    assert notify.preferences(db_session, user=quiet) == {
        "warning": False,
        "notice": False,
        "filing_submitted": False,
        "filing_approved": True,
        "filing_rejected": True,
        "filing_changes_requested": True,
    }
    today = clock.today()
    submit_filing(db_session, registry, clock, company, approve=True,
                  licence_expires_on=(today + dt.timedelta(days=20)).isoformat())  # fmt: skip
    # approval made by the service directly: tell it as the review page does
    filing = db_session.exec(select(Filing).where(Filing.company_id == company.id)).one()
    with app.app_context():
        made = app_mail.notifier(app)
        filing.status = "submitted"
        notify.filing_event(db_session, made, filing)  # what a submission says
        filing.status = "approved"
        notify.filing_event(db_session, made, filing)
        db_session.commit()
    _watch(app, today)
    assert [n.kind for n in _notes(db_session, quiet)] == ["filing_approved"]
    assert [m.kind for m in _mails(db_session, to_address=quiet.email)] == ["filing_approved"]
    assert sorted(n.kind for n in _notes(db_session, loud)) == sorted(
        ["filing_submitted", "filing_approved", "warning"]
        + ["notice"] * sum(1 for n in _notes(db_session, loud) if n.kind == "notice")
    )
    # a role the hub sends nothing to has nothing to choose
    author_client = app.test_client()
    login(author_client, make_user(Role.AUTHOR))
    page = author_client.get("/notifications/preferences").get_data(as_text=True)
    assert "nothing to choose" in page and 'type="checkbox"' not in page
    # on again
    client.post("/notifications/preferences", data={"kind": ["warning"]})
    db_session.expire_all()
    assert notify.preferences(db_session, user=quiet)["warning"] is True
    assert notify.preferences(db_session, user=quiet)["filing_submitted"] is False


# --- the in-app list, unread counts -----------------------------------------------------------


def test_unread_counts_reading_and_marking(app, db_session, make_company, make_user, clock, login):
    registry = _registry(app)
    company, (user, other) = _company_with_users(make_company, make_user)
    stranger, (outsider,) = _company_with_users(make_company, make_user, 1)
    with app.app_context():
        made = app_mail.notifier(app)
        for _ in range(3):  # each told as it is submitted (the next one supersedes it)
            notify.filing_event(
                db_session, made, submit_filing(db_session, registry, clock, company)
            )
            db_session.commit()
    client = app.test_client()
    login(client, user)
    home = client.get("/company").get_data(as_text=True)
    assert 'data-unread="3"' in home and "Notifications, 3 unread" in home
    listing = client.get("/notifications").get_data(as_text=True)
    assert "3 messages, 3 unread" in listing
    first, second, third = _notes(db_session, user)
    shown = client.get(f"/notifications/{first.id}")
    assert shown.status_code == 200
    assert f'href="{first.link}">Open the filing</a>' in shown.get_data(as_text=True)
    assert 'data-unread="2"' in shown.get_data(as_text=True)
    assert client.post(f"/notifications/{second.id}/read").status_code == 303
    assert "3 messages, 1 unread" in client.get("/notifications").get_data(as_text=True)
    # another user's message is 404, as a missing one, and stays unread
    mine_elsewhere = _notes(db_session, other)[0]
    assert client.get(f"/notifications/{mine_elsewhere.id}").status_code == 404
    assert client.post(f"/notifications/{mine_elsewhere.id}/read").status_code == 404
    assert client.get("/notifications/999999").status_code == 404
    assert _notes(db_session, other)[0].read_at is None
    assert client.post("/notifications/read-all").status_code == 303
    page = client.get("/notifications").get_data(as_text=True)
    assert "3 messages, 0 unread" in page and "data-unread" not in page
    with app.app_context():
        assert notify.unread_count(db_session, user_id=other.id) == 3
        assert notify.unread_count(db_session, user_id=outsider.id) == 0
    assert third.id and stranger.id


# --- the outbox ------------------------------------------------------------------------------


def test_the_outbox_is_for_administrators_only(
    app, db_session, make_company, make_user, clock, login
):
    registry = _registry(app)
    company, (user,) = _company_with_users(make_company, make_user, 1)
    submit_filing(db_session, registry, clock, company, opex_in_zone_kzt=55_000_000.0)
    _watch(app, dt.date(2026, 11, 15))
    mail = _mails(db_session, kind="warning")[0]
    company_client = app.test_client()
    login(company_client, user)
    assert company_client.get("/outbox").status_code == 403
    assert company_client.get(f"/outbox/{mail.id}").status_code == 403
    assert "/outbox" not in company_client.get("/company").get_data(as_text=True)
    author = make_user(Role.AUTHOR)
    author_client = app.test_client()
    login(author_client, author)
    assert author_client.get("/outbox").status_code == 403
    admin_client = app.test_client()
    login(admin_client, make_user(Role.ADMIN))
    page = admin_client.get("/outbox")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert user.email in html and "Action needed by 2027-01-01: New policy version" in html
    one = admin_client.get(f"/outbox/{mail.id}").get_data(as_text=True)
    assert "unhosted_wallet_verified_pct" in one and "srcdoc=" in one
    assert admin_client.get("/outbox?status=outbox").status_code == 200
    bad = admin_client.get("/outbox?status=lost")
    assert bad.status_code == 400 and "status" in bad.get_data(as_text=True)
    assert admin_client.get("/outbox/999999").status_code == 404


# --- sending: retried, never lost -------------------------------------------------------------


def test_a_failed_send_is_kept_and_sent_later(make_app, db_session, make_company, make_user, clock):
    port = free_port()  # nothing listens there yet
    app = make_app(SMTP_URL=f"smtp://127.0.0.1:{port}?timeout=5", BASE_URL=BASE)
    registry = _registry(app)
    company, (user,) = _company_with_users(make_company, make_user, 1)
    submit_filing(db_session, registry, clock, company, opex_in_zone_kzt=55_000_000.0)
    _watch(app, dt.date(2026, 11, 15))  # its tasks go to a queue nobody reads
    [mail] = _mails(db_session, kind="warning")
    assert mail.status == "pending"
    now = clock.now()
    with app.app_context():
        mailer = app_mail.MailmanMailer()
        outcome = outbox.deliver(get_engine(app), mail.id, mailer=mailer, clock=clock)
        assert outcome == "failed"
        [mail] = _mails(db_session, kind="warning")
        assert (mail.status, mail.attempts) == ("pending", 1)
        assert mail.last_error and "Connection" in mail.last_error
        assert mail.next_attempt_at is not None and mail.next_attempt_at > now
        assert mail.id not in outbox.due_messages(db_session, now=now)
        server = SmtpServer(port, Collector())
        server.start()
        try:
            later = Clock.fixed(mail.next_attempt_at + dt.timedelta(seconds=1))
            assert mail.id in outbox.due_messages(db_session, now=later.now())
            assert outbox.deliver(get_engine(app), mail.id, mailer=mailer, clock=later) == "sent"
            assert outbox.deliver(get_engine(app), mail.id, mailer=mailer, clock=later) == "done"
            [got] = server.wait_for(1)
        finally:
            server.stop()
    assert got.recipients == [user.email]
    [mail] = _mails(db_session, kind="warning")
    assert (mail.status, mail.attempts, mail.last_error) == ("sent", 2, None)


def test_the_sweep_hands_due_mail_to_the_workers(
    smtp_app, smtp, db_session, make_company, make_user, clock, start_queue_worker
):
    from hub.tasks import SEND_DUE_MAIL, celery_of

    registry = _registry(smtp_app)
    company, (user,) = _company_with_users(make_company, make_user, 1)
    submit_filing(db_session, registry, clock, company, opex_in_zone_kzt=55_000_000.0)
    with smtp_app.app_context():  # made and committed, never handed to the workers
        run_watch(get_engine(smtp_app), registry=registry, as_of=dt.date(2026, 11, 15),
                  clock=Clock(), notifier=app_mail.notifier(smtp_app))  # fmt: skip
    pending = _mails(db_session, status="pending")
    assert pending
    celery = celery_of(smtp_app)
    assert celery.conf.beat_schedule["send-due-mail"]["task"] == SEND_DUE_MAIL
    handed = celery.tasks[SEND_DUE_MAIL].apply().get()
    assert handed == len(pending)
    with start_queue_worker(smtp_app):
        smtp.wait_for(len(pending))
        _wait_sent(db_session, len(pending))
    assert {r.recipients[0] for r in smtp.collector.mails} == {user.email}


# --- the digest -------------------------------------------------------------------------------


def test_the_daily_digest_tells_the_administrators_once_a_day(
    app, db_session, make_company, make_user, clock, monkeypatch
):
    registry = _registry(app)
    admins = [make_user(Role.ADMIN), make_user(Role.ADMIN)]
    make_user(Role.ADMIN, is_active=False)
    company, (user,) = _company_with_users(make_company, make_user, 1)
    waiting = submit_filing(db_session, registry, clock, company, opex_in_zone_kzt=55_000_000.0)
    other = make_company(legal_name="Quiet Custody LLP")
    submit_filing(db_session, registry, clock, other, approve=True)
    as_of = dt.date(2026, 11, 15)
    _watch(app, as_of)
    monkeypatch.setenv("HUB_DATABASE_URL", app.config["DATABASE_URL"])
    monkeypatch.setenv("HUB_INSTANCE_PATH", app.instance_path)
    monkeypatch.setenv("HUB_BASE_URL", BASE)
    from hub.cli import main

    runner = CliRunner()
    first = runner.invoke(main, ["notifications", "digest", "--as-of", as_of.isoformat()])
    assert first.exit_code == 0, first.output
    assert "1 submissions waiting (1 new)" in first.output
    assert sorted(first.output.split("Sent to 2: ")[1].strip(" .\n").split(", ")) == sorted(
        a.email for a in admins
    )
    mails = _mails(db_session, kind="digest")
    assert sorted(m.to_address for m in mails) == sorted(a.email for a in admins)
    text, html = mails[0].text_body, mails[0].html_body
    from hub.services.at_risk import at_risk_counts

    at_risk = at_risk_counts(db_session).companies
    assert at_risk >= 1
    assert mails[0].subject == (
        f"Hub digest {as_of}: 1 waiting for review (1 new), {at_risk} companies at risk"
    )
    for part in (text, html):
        assert f"{BASE}/review/filings/{waiting.id}" in part
        assert company.legal_name in part and "New policy version" in part
        assert f"{BASE}/review/at-risk" in part and f"{BASE}/review" in part
    assert f"filing {waiting.id}" in text and "Quiet Custody LLP, filing" not in text
    assert [n.kind for n in _notes(db_session, admins[0])] == ["digest"]
    assert not [n for n in _notes(db_session, user) if n.kind == "digest"]
    again = runner.invoke(main, ["notifications", "digest", "--as-of", as_of.isoformat()])
    assert again.exit_code == 0 and "Sent to nobody" in again.output
    assert len(_mails(db_session, kind="digest")) == 2
    # the next day: nothing new since the previous digest
    with app.app_context():
        made = app_mail.notifier(app)
        digest = notify.send_digest(db_session, made, as_of=as_of + dt.timedelta(days=1))
        db_session.commit()
    assert (digest.waiting, digest.new, digest.opened) == (1, 0, 0)
    assert len(digest.recipients) == 2
    from hub.tasks import RUN_DIGEST, celery_of

    entry = celery_of(app).conf.beat_schedule["daily-digest"]
    assert entry["task"] == RUN_DIGEST


def test_no_digest_when_nothing_waits_and_nobody_is_at_risk(app, db_session, make_user):
    make_user(Role.ADMIN)
    with app.app_context():
        digest = notify.send_digest(db_session, app_mail.notifier(app), as_of=dt.date(2026, 11, 15))
    assert digest.recipients == [] and not _mails(db_session)


# --- settings ----------------------------------------------------------------------------------


def test_smtp_urls_and_their_refusals(make_app):
    assert smtp_settings("smtps://u%40x:p%3Aw@mail.example.kz") | {} == {
        "MAIL_BACKEND": "smtp", "MAIL_SERVER": "mail.example.kz", "MAIL_PORT": 465,
        "MAIL_USERNAME": "u@x", "MAIL_PASSWORD": "p:w", "MAIL_USE_TLS": False,
        "MAIL_USE_SSL": True, "MAIL_TIMEOUT": 30.0,
    }  # fmt: skip
    starttls = smtp_settings("smtp://user:pw@mail.example.kz?starttls=true&timeout=10")
    assert (starttls["MAIL_PORT"], starttls["MAIL_USE_TLS"], starttls["MAIL_TIMEOUT"]) == (
        587, True, 10.0,
    )  # fmt: skip
    assert smtp_settings("smtp://localhost:2525")["MAIL_PORT"] == 2525
    assert smtp_settings("") == {"MAIL_BACKEND": None}
    for bad in ("http://mail.example.kz", "smtp://", "smtp://h:99999", "smtps://h?starttls=true",
                "smtp://h?tls=yes", "smtp://h?timeout=0", "smtp://h/path"):  # fmt: skip
        with pytest.raises(ConfigError, match="HUB_SMTP_URL"):
            smtp_settings(bad)
    from hub.config import mail_settings

    with pytest.raises(ConfigError, match="HUB_MAIL_FROM"):
        mail_settings({"HUB_MAIL_FROM": "nobody"})
    with pytest.raises(ConfigError, match="HUB_BASE_URL"):
        mail_settings({"HUB_BASE_URL": "hub.example.kz"})
    assert mail_settings({"HUB_BASE_URL": "https://hub.example.kz/"})["BASE_URL"] == BASE
    with pytest.raises(ConfigError, match="HUB_SMTP_URL"):
        make_app(SMTP_URL="smtp//nohost")


# --- the demo data (the issue's "done when") -----------------------------------------------


def test_on_the_demo_data_each_demoted_company_is_told_once(app, db_session, clock):
    from hub.models import CompanyWarning
    from hub.seeding import ensure_company_contacts, ensure_demo_users, load_seeds

    registry = _registry(app)
    load_seeds(db_session, clock=clock, registry=registry)
    ensure_demo_users(db_session, "demo-password")
    created = ensure_company_contacts(db_session, "demo-password")
    db_session.commit()
    assert created and all(e.startswith("contact.") for e in created)
    companies = db_session.exec(select(Company)).all()
    users = db_session.exec(select(User).where(User.role == Role.COMPANY.value)).all()
    assert {u.company_id for u in users} == {c.id for c in companies}  # everyone reachable
    as_of = dt.date(2026, 11, 15)
    first = _watch(app, as_of)
    demoted = {
        w.company_id: w
        for w in db_session.exec(
            select(CompanyWarning).where(CompanyWarning.kind == "policy_change")
        ).all()
    }
    assert len(demoted) == first.opened["policy_change"] > 0
    mails = _mails(db_session, kind="warning")
    by_company: dict[int, list[MailMessage]] = {}
    for m in mails:
        user = next(u for u in users if u.email == m.to_address)
        assert user.company_id is not None
        by_company.setdefault(user.company_id, []).append(m)
    for company_id, warning in demoted.items():
        told = [m for m in by_company[company_id] if m.subject.endswith("New policy version")]
        assert len(told) == len([u for u in users if u.company_id == company_id])
        for m in told:
            assert m.status == "outbox"
            assert "before 2027-01-01 to keep" in m.text_body
            assert f"/company#warning-{warning.id}" in m.text_body
            assert f"/company#warning-{warning.id}" in m.html_body
    total = len(_mails(db_session))
    assert total == sum(first.opened.values())  # one user per company: a mail per warning
    second = _watch(app, as_of)
    assert sum(second.opened.values()) == 0 and len(_mails(db_session)) == total
    # a second demo start adds no contact
    assert ensure_company_contacts(db_session, "demo-password") == []
