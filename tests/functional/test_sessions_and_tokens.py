"""Issue 17, items 1-3: sessions bounded and revocable on the server, everything revoked by
a password change or a deactivation, tokens that expire, sign-in throttled per account.

Times are moved with the app's injectable clock (``fix_clock``), never by sleeping. The
stolen-cookie-after-sign-out replay is ``test_sign_out_deletes_the_session_on_the_server``
(tests/functional/test_deployment.py).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pytest
from argon2 import PasswordHasher, extract_parameters
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, select

from hub.app_clock import app_clock
from hub.auth import passwords
from hub.auth.throttle import DEVICE_COOKIE
from hub.models import ApiToken, AuditRecord, Role, User
from tests.conftest import DEFAULT_PASSWORD

NEW_PASSWORD = "a brand new passphrase"
T0 = dt.datetime(2026, 11, 29, 6, 0, tzinfo=dt.UTC)  # 11:00 in Almaty on TEST_TODAY


def cookie(client: FlaskClient) -> str:
    found = client.get_cookie("session")
    assert found is not None
    return found.value


def copy_of(app: Flask, client: FlaskClient) -> FlaskClient:
    """Another browser holding a copy of ``client``'s session cookie (a stolen one)."""
    thief = app.test_client()
    thief.set_cookie("session", cookie(client))
    return thief


def signed_out(response: Any) -> bool:
    return response.status_code == 302 and "/login" in response.headers["Location"]


def create_token(client: FlaskClient, name: str, expires_on: str = "") -> str:
    """Create an API token through the tokens page; its plaintext."""
    page = client.post("/filings/tokens", data={"name": name, "expires_on": expires_on})
    assert page.status_code == 200, page.get_data(as_text=True)
    match = re.search(r'id="new-token">(hub_[A-Za-z0-9_-]+)<', page.get_data(as_text=True))
    assert match, "no token shown"
    return match.group(1)


def api(client: FlaskClient, token: str) -> Any:
    return client.get("/api/v1/warnings", headers={"Authorization": f"Bearer {token}"})


def change_password(client: FlaskClient) -> Any:
    return client.post(
        "/account/password",
        data={
            "current_password": DEFAULT_PASSWORD,
            "new_password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
        },
        follow_redirects=True,
    )


# --- item 1: idle timeout and absolute lifetime, on the server ------------------------------


def test_a_session_ends_after_its_idle_timeout(
    make_app: Callable[..., Flask],
    make_user: Callable[..., User],
    login: Callable[..., Any],
    fix_clock: Callable[..., Any],
) -> None:
    app = make_app(SESSION_IDLE_TIMEOUT=600, SESSION_MAX_AGE=3600)
    fix_clock(T0, app=app)
    client = app.test_client()
    assert login(client, make_user(Role.COMPANY)).status_code == 302
    stolen = copy_of(app, client)
    # Each request within the idle timeout keeps the session alive.
    for at in (599, 1198, 1797):
        fix_clock(T0 + dt.timedelta(seconds=at), app=app)
        assert client.get("/filings").status_code == 200, at
    # 600 seconds without a request: signed out on the server, with the reason.
    fix_clock(T0 + dt.timedelta(seconds=1797 + 600), app=app)
    response = client.get("/filings")
    assert signed_out(response)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "You were signed out after 10 minutes without activity." in page
    # The record is gone: a copy of the cookie opens nothing either.
    assert signed_out(stolen.get("/filings"))


def test_a_session_ends_at_its_absolute_lifetime_however_active(
    make_app: Callable[..., Flask],
    make_user: Callable[..., User],
    login: Callable[..., Any],
    fix_clock: Callable[..., Any],
) -> None:
    app = make_app(SESSION_IDLE_TIMEOUT=600, SESSION_MAX_AGE=3600)
    fix_clock(T0, app=app)
    client = app.test_client()
    assert login(client, make_user(Role.COMPANY)).status_code == 302
    for at in range(0, 3600, 300):
        fix_clock(T0 + dt.timedelta(seconds=at), app=app)
        assert client.get("/filings").status_code == 200, at
    fix_clock(T0 + dt.timedelta(seconds=3600), app=app)
    response = client.get("/filings")
    assert signed_out(response)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "a session lasts 1 hour after signing in" in page


def test_session_bounds_come_from_the_settings(
    make_app: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUB_SESSION_IDLE_TIMEOUT", "900")
    monkeypatch.setenv("HUB_SESSION_MAX_AGE", "28800")
    app = make_app()
    assert (app.config["SESSION_IDLE_TIMEOUT"], app.config["SESSION_MAX_AGE"]) == (900, 28800)
    # The store keeps a record for the idle timeout and the step its last use is written at.
    assert app.permanent_session_lifetime == dt.timedelta(seconds=900 + 60)


# --- item 2: a password change or a deactivation revokes everything -------------------------


def test_a_password_change_revokes_other_sessions_and_every_token(
    app: Flask,
    make_user: Callable[..., User],
    login: Callable[..., Any],
    db_session: Session,
) -> None:
    user = make_user(Role.COMPANY)
    laptop, phone = app.test_client(), app.test_client()
    assert login(laptop, user).status_code == 302
    assert login(phone, user).status_code == 302
    copied = copy_of(app, laptop)  # the laptop's cookie, taken by someone else
    erp = create_token(laptop, "ERP export")
    ci = create_token(laptop, "CI pipeline")
    assert api(laptop, erp).status_code == 200

    page = change_password(phone).get_data(as_text=True)
    assert "Other sessions are signed out." in page
    assert "2 API tokens revoked: \u201cERP export\u201d, \u201cCI pipeline\u201d" in page

    assert phone.get("/filings").status_code == 200  # the session that changed it stays
    assert signed_out(laptop.get("/filings"))
    assert signed_out(copied.get("/filings"))  # the copied cookie too
    for token in (erp, ci):
        refused = api(app.test_client(), token)
        assert refused.status_code == 401
        message = refused.json["errors"][0]["message"]
        assert message.startswith("This API token was revoked on 2026-11-29"), message
    rows = db_session.exec(select(ApiToken).where(ApiToken.user_id == user.id)).all()
    assert all(row.revoked_at is not None for row in rows)
    record = db_session.exec(
        select(AuditRecord).where(AuditRecord.action == "user.password_change")
    ).one()
    assert record.after == {"tokens_revoked": ["ERP export", "CI pipeline"]}
    # A token created afterwards works.
    assert api(phone, create_token(phone, "ERP export 2")).status_code == 200


def test_an_admin_deactivation_revokes_sessions_and_tokens_for_good(
    app: Flask,
    make_user: Callable[..., User],
    login: Callable[..., Any],
    db_session: Session,
) -> None:
    user = make_user(Role.COMPANY)
    admin = make_user(Role.ADMIN)
    company, staff = app.test_client(), app.test_client()
    assert login(company, user).status_code == 302
    assert login(staff, admin).status_code == 302
    copied = copy_of(app, company)
    token = create_token(company, "Nightly sync")

    def set_status(email: str, action: str) -> str:
        response = staff.post(
            "/admin/accounts/status",
            data={"status-email": email, "status-action": action},
            follow_redirects=True,
        )
        assert response.status_code == 200
        return response.get_data(as_text=True)

    page = set_status(user.email.upper(), "deactivate")
    assert f"{user.email} is deactivated and signed out of every session." in page
    assert "1 API token revoked: \u201cNightly sync\u201d" in page
    assert signed_out(company.get("/filings"))
    assert signed_out(copied.get("/filings"))
    assert api(app.test_client(), token).status_code == 401
    assert login(app.test_client(), user).status_code == 200  # cannot sign in

    # Reactivated: the account signs in again, but nothing from before comes back.
    assert f"{user.email} can sign in again." in set_status(user.email, "activate")
    assert signed_out(copied.get("/filings"))
    assert api(app.test_client(), token).status_code == 401
    assert login(app.test_client(), user).status_code == 302

    assert "You cannot deactivate your own account." in set_status(admin.email, "deactivate")
    assert "There is no account nobody@example.kz." in set_status("nobody@example.kz", "deactivate")
    actions = db_session.exec(
        select(AuditRecord.action).where(AuditRecord.entity_type == "user")
    ).all()
    assert actions.count("user.deactivate") == 1 and actions.count("user.activate") == 1
    # Only administrators reach it.
    assert company.post(
        "/admin/accounts/status", data={"status-email": admin.email, "status-action": "deactivate"}
    ).status_code in (302, 403)
    assert db_session.get(User, admin.id).is_active


def test_tokens_may_expire_and_are_refused_with_a_clear_message(
    app: Flask,
    make_user: Callable[..., User],
    login: Callable[..., Any],
    fix_clock: Callable[..., Any],
) -> None:
    client = app.test_client()
    user = make_user(Role.COMPANY)
    assert login(client, user).status_code == 302
    today = app_clock(app).today()
    last_day = today + dt.timedelta(days=1)
    short = create_token(client, "Short-lived", expires_on=last_day.isoformat())
    forever = create_token(client, "Long-lived")
    page = client.get("/filings/tokens").get_data(as_text=True)
    assert f"<td>{last_day.isoformat()}</td>" in page and "<td>never</td>" in page
    assert api(client, short).status_code == 200

    zone = app_clock(app).zone
    end = dt.datetime.combine(last_day + dt.timedelta(days=1), dt.time(0), zone)
    fix_clock(end - dt.timedelta(seconds=1))  # 23:59:59 of its last day, the hub's time
    assert api(client, short).status_code == 200
    fix_clock(end)
    refused = api(client, short)
    assert refused.status_code == 401
    assert refused.json["errors"][0]["message"] == (
        f"This API token expired after {last_day.isoformat()}: create a new one on the "
        "API tokens page."
    )
    assert api(client, forever).status_code == 200
    assert login(client, user).status_code == 302  # a day later: the session has ended
    assert "<td>expired</td>" in client.get("/filings/tokens").get_data(as_text=True)


@pytest.mark.parametrize(
    ("expires_on", "message"),
    [
        ("2026-13-01", "Give the last day as a date such as 2027-06-30."),
        ("29.11.2027", "Give the last day as a date such as 2027-06-30."),
        ("２０２７-01-01", "Give the last day as a date such as 2027-06-30."),
        ("2026-11-29", "The last day must be after today (2026-11-29)."),
        ("2035-01-01", "The last day must be within 1098 days of today"),
    ],
)
def test_a_token_expiry_that_is_no_later_date_is_refused(
    client: FlaskClient,
    make_user: Callable[..., User],
    login: Callable[..., Any],
    db_session: Session,
    expires_on: str,
    message: str,
) -> None:
    assert login(client, make_user(Role.COMPANY)).status_code == 302
    page = client.post("/filings/tokens", data={"name": "ERP", "expires_on": expires_on})
    assert page.status_code == 422
    assert message in page.get_data(as_text=True)
    assert db_session.exec(select(ApiToken)).first() is None


# --- item 3: sign-in throttled per account, no lockout of the real user ---------------------


def from_address(app: Flask, address: str) -> FlaskClient:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def attempt(client: FlaskClient, email: str, password: str = "wrong password") -> Any:
    return client.post("/login", data={"email": email, "password": password})


@pytest.mark.parametrize("account", ["known", "unknown"])
def test_failed_sign_ins_are_throttled_per_account_and_address(
    make_app: Callable[..., Flask], make_user: Callable[..., User], account: str
) -> None:
    app = make_app(RATELIMIT_ENABLED=True)
    user = make_user(Role.COMPANY)
    email = user.email if account == "known" else "nobody@example.kz"
    attacker = from_address(app, "203.0.113.7")
    for _ in range(5):
        answer = attempt(attacker, email)
        assert answer.status_code == 200
        assert "Wrong e-mail or password." in answer.get_data(as_text=True)
    # The sixth is refused before the password is looked at, the right one included, the
    # same way whether or not the account exists.
    refused = attempt(attacker, email, DEFAULT_PASSWORD)
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) <= 15 * 60
    assert (
        "Too many failed sign-ins to this account from your network: try again in 15 minutes."
        in refused.get_data(as_text=True)
    )
    # The address may still sign in to other accounts; the account from other addresses.
    other = make_user(Role.COMPANY)
    assert attempt(attacker, other.email, DEFAULT_PASSWORD).status_code == 302
    if account == "known":
        assert (
            attempt(from_address(app, "198.51.100.2"), email, DEFAULT_PASSWORD).status_code == 302
        )


def test_a_guesser_spread_over_addresses_shuts_out_new_devices_but_not_the_users_browser(
    make_app: Callable[..., Flask], make_user: Callable[..., User]
) -> None:
    app = make_app(RATELIMIT_ENABLED=True)
    user = make_user(Role.COMPANY)
    usual = from_address(app, "198.51.100.20")  # the user's own browser, used before
    assert attempt(usual, user.email, DEFAULT_PASSWORD).status_code == 302
    assert usual.get_cookie(DEVICE_COOKIE, path="/login") is not None
    assert usual.post("/logout").status_code == 302

    for n in range(4):  # 4 addresses x 5 failures: the account's 20 an hour
        guesser = from_address(app, f"203.0.113.{n + 1}")
        assert [attempt(guesser, user.email).status_code for _ in range(5)] == [200] * 5
    new_device = from_address(app, "198.51.100.21")
    refused = attempt(new_device, user.email, DEFAULT_PASSWORD)
    assert refused.status_code == 429
    assert "from new devices" in refused.get_data(as_text=True)
    # The user's usual browser still gets in (and a forged device cookie does not help).
    forger = from_address(app, "203.0.113.99")
    forger.set_cookie(DEVICE_COOKIE, "e30.forged.signature", path="/login")
    assert attempt(forger, user.email, DEFAULT_PASSWORD).status_code == 429
    assert attempt(usual, user.email, DEFAULT_PASSWORD).status_code == 302


class HasherSpy:
    """Counts the argon2 hashes and verifications the process makes (the real ones run)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.hashed = 0
        self.verified: list[str] = []
        real_hash, real_verify = PasswordHasher.hash, PasswordHasher.verify

        def hash_(hasher: PasswordHasher, password: str | bytes, **kw: Any) -> str:
            self.hashed += 1
            return real_hash(hasher, password, **kw)

        def verify(hasher: PasswordHasher, stored: str | bytes, password: str | bytes) -> bool:
            self.verified.append(stored if isinstance(stored, str) else stored.decode())
            return real_verify(hasher, stored, password)

        monkeypatch.setattr(PasswordHasher, "hash", hash_)
        monkeypatch.setattr(PasswordHasher, "verify", verify)

    def reset(self) -> None:
        self.hashed, self.verified = 0, []


def test_signing_in_to_an_unknown_account_costs_what_a_wrong_password_costs(
    make_app: Callable[..., Flask],
    make_user: Callable[..., User],
    login: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Timing without a stopwatch: every failed sign-in makes exactly one argon2
    verification against a hash of the process's parameters and hashes nothing, whether
    the account exists, is deactivated or not; even the first one of a process (no dummy
    hash is computed: it is a constant per parameters)."""
    passwords._dummy_hash.cache_clear()  # as in a new process
    spy = HasherSpy(monkeypatch)
    app = make_app()
    user = make_user(Role.COMPANY)
    inactive = make_user(Role.COMPANY, is_active=False)
    expected = extract_parameters(user.password_hash)
    for email, password in (
        ("nobody@example.kz", DEFAULT_PASSWORD),
        (user.email, "wrong password"),
        (inactive.email, DEFAULT_PASSWORD),
        ("someone-else@example.kz", "wrong password"),
    ):
        spy.reset()
        assert login(app.test_client(), email, password).status_code == 200, email
        assert spy.hashed == 0, email
        assert len(spy.verified) == 1, email
        assert extract_parameters(spy.verified[0]) == expected, email


@pytest.mark.parametrize("name", sorted(passwords.PARAMETERS))
def test_the_dummy_hash_has_the_parameters_of_real_ones(name: str) -> None:
    """An unknown account is checked against a hash as costly as a real one's."""
    hasher = PasswordHasher.from_parameters(passwords.PARAMETERS[name])
    dummy = passwords.DUMMY_HASHES[name]
    assert extract_parameters(dummy) == extract_parameters(hasher.hash("any password"))
    assert not hasher.check_needs_rehash(dummy)


def test_the_command_line_deactivates_and_reactivates_an_account(
    app: Flask,
    make_user: Callable[..., User],
    login: Callable[..., Any],
    database_url: str,
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from click.testing import CliRunner

    from hub.cli import main

    monkeypatch.setenv("HUB_DATABASE_URL", database_url)
    monkeypatch.setenv("HUB_INSTANCE_PATH", str(tmp_path / "cli-instance"))
    user = make_user(Role.COMPANY)
    client = app.test_client()
    assert login(client, user).status_code == 302
    token = create_token(client, "Nightly sync")

    def run(*args: str) -> Any:
        return CliRunner().invoke(main, ["users", *args], catch_exceptions=False)

    done = run("deactivate", "--email", user.email)
    assert done.exit_code == 0, done.output
    assert done.output.splitlines() == [
        f"{user.email} is deactivated and signed out of every session.",
        "API tokens revoked: Nightly sync.",
    ]
    assert signed_out(client.get("/filings"))
    assert api(app.test_client(), token).status_code == 401
    again = run("activate", "--email", user.email)
    assert again.output == f"{user.email} can sign in again.\n"
    assert login(app.test_client(), user).status_code == 302
    unknown = run("deactivate", "--email", "nobody@example.kz")
    assert unknown.exit_code == 1 and "there is no account nobody@example.kz" in unknown.output
