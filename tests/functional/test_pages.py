"""Pages and errors: the landing page, the layout, one error page, one API error shape."""

from __future__ import annotations

import re

import pytest

from hub.models import Filing


def test_landing_page_explains_the_hub_and_its_tiers(client):
    response = client.get("/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    for words in ("T1", "Registered", "T2", "Transparent", "T3", "Full disclosure"):
        assert words in html
    assert "Corporate income tax exemption" in html
    assert 'href="/register"' in html and 'href="/login"' in html


def test_pages_use_only_local_assets(client):
    html = client.get("/").get_data(as_text=True)
    for url in re.findall(r'(?:src|href)="([^"]+)"', html):
        assert not url.startswith(("http:", "https:", "//")), url
    with client.get("/static/style.css") as css:
        assert css.status_code == 200
        assert "text/css" in css.content_type


@pytest.mark.parametrize("path", ["/", "/login", "/register"])
def test_public_pages_render(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert "<title>" in response.get_data(as_text=True)


def test_flash_messages_appear_in_the_layout(client, make_user, login):
    login(client, make_user("company"))
    html = client.get("/company").get_data(as_text=True)
    assert 'class="flash flash-success"' in html and "Signed in as" in html


def test_html_errors_use_one_page_in_the_layout(client):
    not_found = client.get("/no/such/page")
    assert not_found.status_code == 404
    html = not_found.get_data(as_text=True)
    assert "Not found" in html and 'class="site-header"' in html

    not_allowed = client.get("/logout")
    assert not_allowed.status_code == 405
    assert "Method not allowed" in not_allowed.get_data(as_text=True)
    assert "POST" in not_allowed.headers["Allow"]


def test_api_errors_are_json_in_one_shape(client):
    for method, path, status in (
        ("get", "/api/no-such-endpoint", 404),
        ("post", "/api/v1/no-such-endpoint", 404),
    ):
        response = getattr(client, method)(path, json={})
        assert response.status_code == status
        assert response.is_json
        body = response.json
        assert list(body) == ["errors"]
        assert body["errors"][0]["field"] is None
        assert body["errors"][0]["message"]


def test_unexpected_exceptions_become_a_500_page_without_details(make_app):
    app = make_app()

    @app.route("/boom")
    def boom():
        raise RuntimeError("secret internals")

    @app.route("/api/boom")
    def api_boom():
        raise RuntimeError("secret internals")

    client = app.test_client()
    page = client.get("/boom")
    assert page.status_code == 500
    assert "secret internals" not in page.get_data(as_text=True)
    assert "Server error" in page.get_data(as_text=True)
    api = client.get("/api/boom")
    assert api.status_code == 500
    assert api.json["errors"][0]["field"] is None
    assert "secret internals" not in api.get_data(as_text=True)


def test_api_error_helper_keeps_field_messages(make_app):
    from hub.errors import ApiError

    app = make_app()

    @app.route("/api/test-only/invalid", methods=["POST"])
    def invalid():
        raise ApiError(422, [{"field": "kyc_verified_clients_pct", "message": "must be <= 100"}])

    response = app.test_client().post("/api/test-only/invalid")
    assert response.status_code == 422
    assert response.json == {
        "errors": [{"field": "kyc_verified_clients_pct", "message": "must be <= 100"}]
    }


@pytest.mark.parametrize(
    "data",
    [
        {"email": "x" * 5000, "password": "y"},
        {"email": "\x00@\x00", "password": "\x00"},
        {"email": ["a", "b"], "password": "z"},
        {},
    ],
)
def test_odd_form_input_never_causes_a_500(client, data):
    for path in ("/login", "/register"):
        assert client.post(path, data=data).status_code < 500


def test_malformed_requests_never_cause_a_500(client):
    assert client.post("/login", data=b"\xff\xfe", content_type="text/plain").status_code < 500
    assert client.get("/company/filings/not-a-number").status_code == 404
    assert client.get("/login?next=%00").status_code == 400
    assert client.post("/register", data={"legal_name": "a\x00b"}).status_code == 400


def test_admin_creates_staff_accounts(client, make_user, login, db_session):
    from sqlmodel import select

    from hub.models import User

    login(client, make_user("admin"))
    data = {"email": "new.author@hub.kz", "role": "author", "password": "a good password"}
    response = client.post("/admin", data=data)
    assert response.status_code == 302
    created = db_session.exec(select(User).where(User.email == "new.author@hub.kz")).one()
    assert created.role == "author" and created.company_id is None
    again = client.post("/admin", data=data)
    assert "already exists" in again.get_data(as_text=True)
    bad_role = client.post("/admin", data={**data, "email": "x@hub.kz", "role": "company"})
    assert "Not a valid choice" in bad_role.get_data(as_text=True)


def _form_pages(app) -> list[str]:
    """The pages without URL parameters that answer both GET (the page) and POST (its form)."""
    return sorted(
        rule.rule
        for rule in app.url_map.iter_rules()
        if {"GET", "POST"} <= (rule.methods or set())
        and not rule.arguments
        and not rule.rule.startswith("/api/")
    )


def test_head_is_answered_as_get_on_every_form_page(app, client, make_user, login):
    """HEAD is GET without the body (RFC 9110 9.3.2): a page that also takes its form's POST
    must not read a HEAD as a submission (/assess answered HEAD with the 422 of an empty form)."""
    pages = _form_pages(app)
    assert "/assess" in pages
    login(client, make_user("company"))
    for path in pages:
        get = client.get(path)
        head = client.head(path)
        assert head.status_code == get.status_code, path
        assert head.get_data() == b"", path


def test_head_on_a_draft_filings_edit_page_changes_nothing(client, make_user, login, db_session):
    login(client, make_user("company"))
    response = client.post("/filings/new")
    filing_id = int(re.search(r"/filings/(\d+)/edit", response.headers["Location"]).group(1))

    def stored() -> tuple[object, ...]:
        db_session.expire_all()
        filing = db_session.get(Filing, filing_id)
        assert filing is not None
        return (filing.status, filing.lock_version, filing.inputs, filing.updated_at)

    before = stored()
    head = client.head(f"/filings/{filing_id}/edit")
    assert (head.status_code, head.get_data()) == (200, b"")
    assert stored() == before
    assert client.get(f"/filings/{filing_id}/edit").status_code == 200
