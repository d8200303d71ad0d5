"""Registration, sign-in, sign-out and password change through the test client."""

from __future__ import annotations

import pytest
from sqlmodel import select

from hub.config import ConfigError
from hub.models import AuditRecord, Company, User

DEFAULT_PASSWORD = "correct horse battery"  # make_user's default (see the default_password fixture)

REGISTRATION = {
    "email": "Compliance@Steppe.kz ",
    "password": "a long passphrase",
    "confirm": "a long passphrase",
    "bin": "940140000385",
    "legal_name": "  Steppe Exchange LLP ",
    "activity": "exchange",
}


def test_registration_creates_a_company_user_confirmed_by_mail(
    client, db_session, confirm_account, login
):
    response = client.post("/register", data=REGISTRATION)
    assert response.status_code == 302
    assert response.headers["Location"] == "/register/sent"
    assert "Check your mail" in client.get("/register/sent").get_data(as_text=True)

    user = db_session.exec(select(User)).one()
    company = db_session.exec(select(Company)).one()
    assert user.email == "compliance@steppe.kz"
    assert user.role == "company"
    assert user.company_id == company.id
    assert user.email_confirmed is False
    assert (company.bin, company.legal_name, company.activity) == (
        "940140000385",
        "Steppe Exchange LLP",
        "exchange",
    )
    assert user.password_hash.startswith("$argon2id$")
    assert "a long passphrase" not in user.password_hash
    assert client.get("/company").status_code == 302  # not signed in

    confirmed = confirm_account(client, "compliance@steppe.kz")
    assert confirmed.status_code == 302
    assert confirmed.headers["Location"] == "/login"
    assert login(client, "compliance@steppe.kz", "a long passphrase").status_code == 302
    home = client.get("/company")
    assert home.status_code == 200
    assert "Steppe Exchange LLP" in home.get_data(as_text=True)
    query = select(AuditRecord).where(AuditRecord.action != "policy.imported")
    actions = [r.action for r in db_session.exec(query)]
    assert actions == ["user.create", "user.confirm"]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("email", "not-an-email", "valid e-mail"),
        ("password", "short", "at least 8"),
        ("confirm", "something else entirely", "passwords differ"),
        ("bin", "12345", "This BIN must be"),
        ("bin", "94014000038X", "This BIN must be"),
        ("legal_name", "   ", "required"),
        ("legal_name", "x" * 201, "200"),
        ("activity", "casino", "Not a valid choice"),
    ],
)
def test_registration_rejects_invalid_fields(client, db_session, field, value, message):
    data = {**REGISTRATION, field: value}
    response = client.post("/register", data=data)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert message.lower() in html.lower()
    assert 'class="error"' in html
    assert db_session.exec(select(User)).first() is None
    # What the person typed is kept (except passwords).
    if field == "email":
        assert "not-an-email" in html


@pytest.mark.parametrize("bin_", ["940140000386", "940170000385", "941340000018"])
def test_registration_checks_the_bin_rule_of_the_policy(client, db_session, bin_):
    """Wrong check digit; 5th digit neither 4 nor 5; month 13 (its check digit right)."""
    response = client.post("/register", data={**REGISTRATION, "bin": bin_})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "This BIN" in html
    assert "Example: 940140000385." in html  # the help text shows a valid one
    assert db_session.exec(select(User)).first() is None


def test_registration_makes_no_account_for_a_bin_that_already_has_one(
    client, make_user, db_session
):
    owner = make_user("company")
    company = db_session.get(Company, owner.company_id)
    response = client.post("/register", data={**REGISTRATION, "bin": company.bin})
    assert response.headers["Location"] == "/register/sent"  # as a new account's
    assert len(db_session.exec(select(User)).all()) == 1


def test_registration_joins_a_known_company_without_accounts(client, make_company, db_session):
    company = make_company(bin="940140000385", legal_name="Steppe Exchange LLP")
    response = client.post("/register", data=REGISTRATION)
    assert response.status_code == 302
    user = db_session.exec(select(User)).one()
    assert user.company_id == company.id
    assert len(db_session.exec(select(Company)).all()) == 1


def test_registration_with_a_taken_email_makes_nothing(client, make_user, db_session):
    make_user("admin", email="compliance@steppe.kz")
    response = client.post("/register", data=REGISTRATION)
    assert response.headers["Location"] == "/register/sent"  # as a new account's
    assert db_session.exec(select(Company)).first() is None
    assert len(db_session.exec(select(User)).all()) == 1


def test_login_with_the_right_password(client, make_user, login):
    user = make_user("admin")
    response = login(client, user)
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin"
    assert user.email in client.get("/account").get_data(as_text=True)


@pytest.mark.parametrize(
    ("email", "password"),
    [("known", "wrong password"), ("nobody@example.kz", DEFAULT_PASSWORD), ("known", "")],
)
def test_login_fails_with_wrong_credentials(client, make_user, login, email, password):
    user = make_user("company")
    response = login(client, user.email if email == "known" else email, password)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    if password:
        assert "Wrong e-mail or password." in html
    assert client.get("/account").status_code == 302  # still anonymous


def test_login_is_case_insensitive_on_the_email(client, make_user, login):
    make_user("author", email="author@example.kz")
    assert login(client, "  AUTHOR@example.KZ ", DEFAULT_PASSWORD).status_code == 302


def test_deactivated_user_cannot_sign_in(client, make_user, login):
    user = make_user("company", is_active=False)
    assert login(client, user).status_code == 200
    assert client.get("/account").status_code == 302


def test_login_follows_local_next_only(client, make_user):
    user = make_user("company")
    data = {"email": user.email, "password": DEFAULT_PASSWORD}
    response = client.post("/login?next=/account", data=data)
    assert response.headers["Location"] == "/account"
    client.post("/logout")
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        response = client.post("/login", query_string={"next": target}, data=data)
        assert response.headers["Location"] == "/company", target
        client.post("/logout")


def test_guarded_page_sends_anonymous_visitors_to_login_and_back(client, make_user):
    response = client.get("/account")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/account"


def test_logout_signs_out_and_needs_post(client, make_user, login):
    login(client, make_user("company"))
    assert client.get("/logout").status_code == 405
    assert client.get("/account").status_code == 200
    response = client.post("/logout")
    assert response.status_code == 302
    assert client.get("/account").status_code == 302


def test_password_change(app, make_user, login, db_session):
    user = make_user("company")
    me, other_device = app.test_client(), app.test_client()
    login(me, user)
    login(other_device, user)

    wrong = me.post(
        "/account/password",
        data={
            "current_password": "nope",
            "new_password": "new password 1",
            "confirm": "new password 1",
        },
    )
    assert "current password is not correct" in wrong.get_data(as_text=True)

    response = me.post(
        "/account/password",
        data={
            "current_password": DEFAULT_PASSWORD,
            "new_password": "new password 1",
            "confirm": "new password 1",
        },
    )
    assert response.status_code == 302
    assert me.get("/account").status_code == 200  # this session stays signed in
    assert other_device.get("/account").status_code == 302  # the others are signed out

    me.post("/logout")
    assert login(me, user, DEFAULT_PASSWORD).status_code == 200
    assert login(me, user, "new password 1").status_code == 302


def test_csrf_token_is_required_on_forms(make_app, make_user, csrf_token):
    app = make_app(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    user = make_user("company")
    data = {"email": user.email, "password": DEFAULT_PASSWORD}

    rejected = client.post("/login", data=data)
    assert rejected.status_code == 400
    assert "security token" in rejected.get_data(as_text=True)
    assert client.get("/account").status_code == 302

    registration = client.post("/register", data={**REGISTRATION, "bin": "990140004654"})
    assert registration.status_code == 400

    accepted = client.post("/login", data={**data, "csrf_token": csrf_token(client, "/login")})
    assert accepted.status_code == 302
    assert client.post("/logout").status_code == 400  # sign-out is a form too
    assert client.get("/account").status_code == 200
    token = csrf_token(client, "/account/password")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/account").status_code == 302


def test_session_cookie_flags(make_app, make_user, login):
    user = make_user("company")
    for env, secure in (("development", False), ("production", True)):
        # Production refuses the suite's HUB_PASSWORD_HASH=fast (tests/functional/
        # test_passwords.py); cookie flags do not depend on it, so the setting is overridden.
        app = make_app(HUB_ENV=env, SESSION_COOKIE_SECURE=secure, PASSWORD_HASH="production")
        client = app.test_client()
        response = login(client, user)
        cookie = response.headers["Set-Cookie"]
        assert "HttpOnly" in cookie
        assert "SameSite=Lax" in cookie
        assert ("Secure" in cookie) is secure


def test_production_settings_require_a_secret_key(monkeypatch, tmp_path):
    from hub import create_app

    monkeypatch.setenv("HUB_ENV", "production")
    monkeypatch.setenv("HUB_PASSWORD_HASH", "production")  # the suite's "fast" is refused too
    monkeypatch.delenv("HUB_SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="HUB_SECRET_KEY"):
        create_app({"INSTANCE_PATH": str(tmp_path), "DATABASE_URL": "sqlite://"})

    monkeypatch.setenv("HUB_SECRET_KEY", "s" * 64)
    app = create_app({"INSTANCE_PATH": str(tmp_path), "DATABASE_URL": "sqlite://"})
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SECRET_KEY"] == "s" * 64


def test_default_settings_use_sqlite_in_the_instance_folder(monkeypatch, tmp_path):
    from hub import create_app

    for name in ("HUB_DATABASE_URL", "HUB_SECRET_KEY", "HUB_ENV", "HUB_POLICY_DIR"):
        monkeypatch.delenv(name, raising=False)
    app = create_app({"INSTANCE_PATH": str(tmp_path / "inst")})
    assert app.config["DATABASE_URL"] == f"sqlite:///{tmp_path / 'inst' / 'hub.sqlite'}"
    assert app.config["POLICY_DIR"].endswith("policies")
    # A development secret is generated once and kept, so sessions survive restarts.
    again = create_app({"INSTANCE_PATH": str(tmp_path / "inst")})
    assert app.config["SECRET_KEY"] == again.config["SECRET_KEY"]
    assert len(app.config["SECRET_KEY"]) >= 32


def test_login_is_rate_limited(make_app, make_user):
    app = make_app(RATELIMIT_ENABLED=True)
    client = app.test_client()
    # Another account each time: the per-account limits (below) do not come into it.
    statuses = [
        client.post(
            "/login", data={"email": f"nobody{i}@example.kz", "password": "wrong"}
        ).status_code
        for i in range(11)
    ]
    assert statuses[:10] == [200] * 10
    assert statuses[10] == 429
    page = client.post("/login", data={"email": "nobody@example.kz", "password": "wrong"})
    assert "Wait a minute" in page.get_data(as_text=True)
    assert client.get("/login").status_code == 200  # reading the form is not limited


def test_default_password_constant_matches_the_factory(default_password):
    assert default_password == DEFAULT_PASSWORD
