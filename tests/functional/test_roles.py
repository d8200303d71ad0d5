"""Role guard: every guarded page against every role, and the API guard.

The guarded pages are discovered from the app's URL map (``roles_required``
marks its views), so pages added later are checked without editing this file.
"""

from __future__ import annotations

import re
import tempfile

import pytest
from flask import Flask
from sqlmodel import select

from hub import create_app
from hub.auth.guards import api_roles_required
from hub.auth.tokens import issue_token, revoke_token
from hub.models import ApiToken, Role

ROLES = [r.value for r in Role]


def _guarded_routes() -> list[tuple[str, frozenset[str]]]:
    with tempfile.TemporaryDirectory() as instance:
        app = create_app(
            {"DATABASE_URL": "sqlite://", "SECRET_KEY": "x", "INSTANCE_PATH": instance}
        )
    routes = []
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        roles = getattr(view, "required_roles", None)
        if roles is None or "GET" not in (rule.methods or ()):
            continue
        # Fill path arguments with an id that does not exist.
        path = re.sub(r"<(?:int:)?[^>]+>", "999999", rule.rule)
        routes.append((path, roles))
    return sorted(routes)


GUARDED = _guarded_routes()


def test_the_known_guarded_pages_are_discovered():
    paths = {path for path, _ in GUARDED}
    assert {"/account", "/account/password", "/company", "/admin", "/author"} <= paths


@pytest.mark.parametrize(("path", "roles"), GUARDED, ids=[p for p, _ in GUARDED])
def test_anonymous_visitors_are_sent_to_login(client, path, roles):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("path", "roles"), GUARDED, ids=[p for p, _ in GUARDED])
def test_each_role_against_each_guarded_page(client, make_user, login, path, roles, role):
    login(client, make_user(role))
    response = client.get(path)
    if not roles or role in roles:
        # Allowed: the page (or a redirect to it, not to login), or 404 for the
        # placeholder id in a parametrised path.
        expected = {200, 302, 404} if "999999" in path else {200, 302}
        assert response.status_code in expected
        assert not response.headers.get("Location", "").startswith("/login")
    else:
        assert response.status_code == 403
        assert "Not allowed" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("role", "home"), [("company", "/company"), ("admin", "/admin"), ("author", "/author")]
)
def test_each_role_lands_on_its_own_home(client, make_user, login, role, home):
    response = login(client, make_user(role))
    assert response.headers["Location"] == home
    assert client.get("/home").headers["Location"] == home
    assert client.get(home).status_code == 200


@pytest.mark.parametrize(
    ("role", "visible", "hidden"),
    [
        ("company", "My company", "Administration"),
        ("admin", "Administration", "My company"),
        ("author", "Policy files", "Administration"),
    ],
)
def test_navigation_depends_on_the_role(client, make_user, login, role, visible, hidden):
    login(client, make_user(role))
    nav = client.get("/account").get_data(as_text=True).split("</nav>")[0]
    assert visible in nav
    assert hidden not in nav


@pytest.fixture
def api_app(make_app) -> Flask:
    """An app with one token-guarded API route for company users."""
    app = make_app()

    @api_roles_required(Role.COMPANY)
    def whoami() -> dict:
        from hub.auth.guards import current_api_user

        return {"email": current_api_user().email}

    app.add_url_rule("/api/test-only/whoami", "test_whoami", whoami)
    return app


def test_api_guard_requires_a_valid_token(api_app, make_user, db_session):
    client = api_app.test_client()
    company_user = make_user("company")
    admin = make_user("admin")
    _, token = issue_token(db_session, user=company_user, name="ci")
    _, admin_token = issue_token(db_session, user=admin, name="ci")
    db_session.commit()

    for headers in ({}, {"Authorization": "Bearer hub_wrong"}, {"Authorization": f"Basic {token}"}):
        response = client.get("/api/test-only/whoami", headers=headers)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert response.json == {
            "errors": [{"field": None, "message": response.json["errors"][0]["message"]}]
        }
        assert "API token" in response.json["errors"][0]["message"]

    forbidden = client.get(
        "/api/test-only/whoami", headers={"Authorization": f"Bearer {admin_token}"}
    )
    assert forbidden.status_code == 403
    assert forbidden.json["errors"][0]["field"] is None

    ok = client.get("/api/test-only/whoami", headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200
    assert ok.json == {"email": company_user.email}
    row = db_session.exec(select(ApiToken).where(ApiToken.user_id == company_user.id)).one()
    db_session.refresh(row)
    assert row.last_used_at is not None
    assert row.token_hash != token and token.startswith(row.prefix)


def test_revoked_token_is_refused(api_app, make_user, db_session):
    client = api_app.test_client()
    user = make_user("company")
    row, token = issue_token(db_session, user=user, name="laptop")
    db_session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/test-only/whoami", headers=headers).status_code == 200
    other = make_user("company")
    assert revoke_token(db_session, token_id=row.id, user=other) is False
    assert revoke_token(db_session, token_id=row.id, user=user) is True
    db_session.commit()
    assert client.get("/api/test-only/whoami", headers=headers).status_code == 401


def test_session_cookie_does_not_authenticate_the_api(api_app, make_user, login):
    client = api_app.test_client()
    login(client, make_user("company"))
    assert client.get("/api/test-only/whoami").status_code == 401
