"""Requests that race for a unique value answer with the form's error, never a 500.

Every unique constraint of the schema (hub/models.py, hub/migrations/versions) and
whether a request can reach it:

- ``company.bin``: registration (a new company), answered on the form's BIN field;
- ``user.email``: registration, and an administrator creating a staff account (also
  ``hub users create``), answered on the form's e-mail field;
- ``policy_version (policy_id, version)``: a draft created in the studio, answered
  "Version ... already exists" (``hub.studio.drafts``, tested in test_studio.py);
- ``company_warning (company_id, kind, subject)``: the daily watch only, which reads its
  chunk again (``hub.services.watch``);
- ``impact_run.job_id``, ``impact_chunk (run_id, number)``: written by workers only;
- ``audit_record.prev_hash`` and ``hash``: every audited request; appends are
  serialised (an advisory lock on PostgreSQL, the write lock on SQLite), so two
  requests never take the same place in the chain;
- ``api_token.token_hash``, ``filing.certificate_code``: random values of 256 and 80
  bits, made by the hub, never by a client.

The races are real: the app is served by a threaded server, and the requests are sent
at once from threads released together, many times over. Before the fix the three
account tests failed on PostgreSQL (a 500 for the loser of the first round already); on
SQLite the BIN and staff ones did (two registrations with one e-mail and two new BINs
are serialised there by the company inserts, which wait for each other's write lock).
"""

from __future__ import annotations

import http.client
import threading
import urllib.parse
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlmodel import Session, func, select
from werkzeug.serving import make_server

from hub.db import get_engine
from hub.models import Company, Role, User
from hub.policy.filing import validate_bin

ROUNDS = 12
PASSWORD = "a long passphrase"


def valid_bin(n: int) -> str:
    """A valid BIN made from ``n`` (the check digit found by the hub's own rule)."""
    for last in "0123456789":
        candidate = f"9901{4}{n:06d}{last}"
        if validate_bin(candidate) is None:
            return candidate
    return valid_bin(n + 500_000)


@pytest.fixture
def served(app: Flask) -> Iterator[str]:
    """The test's app on a threaded werkzeug server: ``host:port``."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def post_together(
    address: str, path: str, forms: list[dict[str, str]], cookies: str = ""
) -> list[tuple[int, str]]:
    """POST each form from its own thread, all released at once: (status, body) each, or
    (status, Location) for a redirect."""
    barrier = threading.Barrier(len(forms))
    answers: list[tuple[int, str]] = [(0, "")] * len(forms)

    def send(i: int) -> None:
        conn = http.client.HTTPConnection(address, timeout=60)
        body = urllib.parse.urlencode(forms[i])
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookies}
        conn.connect()
        barrier.wait()
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        body = response.read().decode()
        answers[i] = (response.status, response.getheader("Location") or body)
        conn.close()

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(forms))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=90)
    return answers


def registration(email: str, bin_: str) -> dict[str, str]:
    return {
        "email": email,
        "password": PASSWORD,
        "confirm": PASSWORD,
        "bin": bin_,
        "legal_name": f"Company {bin_}",
        "activity": "exchange",
    }


def one_won(answers: list[tuple[int, str]], message: str) -> None:
    statuses = sorted(status for status, _ in answers)
    assert statuses == [200, 302], statuses  # one account, one form error; never a 500
    refused = next(body for status, body in answers if status == 200)
    assert message in refused


def alike(answers: list[tuple[int, str]]) -> None:
    """Both registrations answer "check your mail" (no account enumeration, never a
    500); the counts of the database show that one account was made."""
    statuses = sorted(status for status, _ in answers)
    assert statuses == [302, 302], statuses
    assert {location for _, location in answers} == {"/register/sent"}


def test_two_registrations_with_one_email_at_once(app: Flask, served: str) -> None:
    for n in range(ROUNDS):
        email = f"race{n}@example.kz"
        forms = [registration(email, valid_bin(2 * n)), registration(email, valid_bin(2 * n + 1))]
        alike(post_together(served, "/register", forms))
    with Session(get_engine(app)) as session:
        assert session.exec(select(func.count()).select_from(User)).one() == ROUNDS
        # The loser's company was not kept either: one company per account.
        assert session.exec(select(func.count()).select_from(Company)).one() == ROUNDS


def test_two_registrations_with_one_bin_at_once(app: Flask, served: str) -> None:
    for n in range(ROUNDS):
        bin_ = valid_bin(n)
        forms = [registration(f"a{n}@example.kz", bin_), registration(f"b{n}@example.kz", bin_)]
        alike(post_together(served, "/register", forms))
    with Session(get_engine(app)) as session:
        assert session.exec(select(func.count()).select_from(User)).one() == ROUNDS
        assert session.exec(select(func.count()).select_from(Company)).one() == ROUNDS


def test_two_registrations_joining_a_known_company_at_once(
    app: Flask, served: str, make_company
) -> None:
    # A company the hub knows without accounts (seeded, or made by an administrator):
    # the first registration of its BIN joins it, a second one at the same moment not.
    for n in range(ROUNDS):
        bin_ = valid_bin(100 + n)
        make_company(bin=bin_, legal_name=f"Known {n} LLP")
        forms = [registration(f"c{n}@example.kz", bin_), registration(f"d{n}@example.kz", bin_)]
        alike(post_together(served, "/register", forms))
    with Session(get_engine(app)) as session:
        assert session.exec(select(func.count()).select_from(User)).one() == ROUNDS


def test_two_staff_accounts_with_one_email_at_once(
    app: Flask, served: str, make_user, login
) -> None:
    admin = make_user(Role.ADMIN, email="admin@example.kz")
    client = app.test_client()
    login(client, admin)
    cookie = client.get_cookie("session")
    assert cookie is not None
    for n in range(ROUNDS):
        form = {"email": f"staff{n}@example.kz", "password": PASSWORD, "role": "author"}
        answers = post_together(served, "/admin", [form, form], f"session={cookie.value}")
        one_won(answers, "already exists")


def test_two_drafts_of_one_number_at_once(app: Flask, served: str, make_user, login) -> None:
    author = make_user(Role.AUTHOR, email="author@example.kz")
    client = app.test_client()
    login(client, author)
    cookie = client.get_cookie("session")
    assert cookie is not None
    for n in range(ROUNDS // 2):
        form = {"version": f"2099.{n + 1}"}
        answers = post_together(
            served, "/policies/2026.1/drafts", [form, form], f"session={cookie.value}"
        )
        # One draft made (its editor), one refusal shown on the base version's page.
        assert sorted(where for _, where in answers) == [
            "/policies/2026.1",
            f"/policies/2099.{n + 1}/edit",
        ], answers
        assert client.get("/policies/2026.1").status_code == 200
