"""The company filing API with personal bearer tokens."""

from __future__ import annotations

import pytest
from sqlmodel import select

from hub.auth.tokens import issue_token, revoke_token
from hub.models import Assessment, Company, Filing

from .filing_support import t1_exchange


@pytest.fixture
def token_for(db_session):
    def make(user) -> dict[str, str]:
        _, plaintext = issue_token(db_session, user=user, name="test")
        db_session.commit()
        return {"Authorization": f"Bearer {plaintext}"}

    return make


@pytest.fixture
def member(make_user):
    return make_user("company")


@pytest.fixture
def auth(member, token_for):
    return token_for(member)


def create(client, auth, filing=None):
    body = {} if filing is None else {"filing": filing}
    response = client.post("/api/v1/filings", json=body, headers=auth)
    assert response.status_code == 201, response.json
    return response.json


def test_create_list_get_put_submit(client, auth, member, db_session):
    created = create(client, auth, {"fte_in_zone": 2})
    assert created["status"] == "draft"
    assert created["inputs"]["fte_in_zone"] == 2
    assert created["inputs"]["bin"]  # from the account
    assert created["decision"] is None and created["policy"] is None
    filing_id = created["id"]
    listing = client.get("/api/v1/filings", headers=auth).json["filings"]
    assert [f["id"] for f in listing] == [filing_id]
    assert client.get(f"/api/v1/filings/{filing_id}", headers=auth).json["lock_version"] == 1
    response = client.put(
        f"/api/v1/filings/{filing_id}",
        json={"filing": t1_exchange(), "lock_version": 1},
        headers=auth,
    )
    assert response.status_code == 200, response.json
    assert response.json["lock_version"] == 2
    response = client.post(
        f"/api/v1/filings/{filing_id}/submit", json={"lock_version": 2}, headers=auth
    )
    assert response.status_code == 200, response.json
    body = response.json
    assert body["status"] == "submitted"
    assert body["tier_claimed"] == "T1"
    assert body["decision"]["tier"] == "T1"
    assert body["policy"]["version"] == "2026.1"
    assert body["policy"]["digest"].startswith("sha256:")
    assert body["as_of"] == body["decision"]["as_of"]
    assert db_session.exec(select(Assessment)).one().filing_id == filing_id
    submitted = client.get("/api/v1/filings?status=submitted", headers=auth).json["filings"]
    assert [f["id"] for f in submitted] == [filing_id]
    assert client.get("/api/v1/filings?status=draft", headers=auth).json["filings"] == []


def test_submit_needs_a_complete_valid_filing_with_the_same_errors_as_assessments(
    client, auth, member, db_session
):
    company = db_session.get(Company, member.company_id)
    company.activity = None  # nothing to prefill the activity from
    db_session.commit()
    filing_id = create(client, auth, {"fte_in_zone": 2})["id"]
    put = client.put(
        f"/api/v1/filings/{filing_id}",
        json={"filing": {"legal_name": "X"}, "lock_version": 1},
        headers=auth,
    )
    assert put.status_code == 200, put.json
    response = client.post(f"/api/v1/filings/{filing_id}/submit", headers=auth)
    assert response.status_code == 422
    assert response.json == {"errors": [{"field": "activity", "message": "is required"}]}
    anonymous = client.post(
        "/api/v1/assessments", json={"filing": {"bin": "940140000385", "legal_name": "X"}}
    )
    assert anonymous.json == response.json


def test_draft_values_are_validated_like_assessments(client, auth):
    response = client.post(
        "/api/v1/filings",
        json={"filing": {"kyc_verified_clients_pct": "95", "typo_pct": 1}},
        headers=auth,
    )
    assert response.status_code == 422
    fields = {e["field"]: e["message"] for e in response.json["errors"]}
    assert fields["kyc_verified_clients_pct"] == "must be a number, not text"
    assert fields["typo_pct"].startswith("unknown field")


def test_submitting_twice_and_changing_a_submitted_filing_are_409(client, auth):
    filing_id = create(client, auth, t1_exchange())["id"]
    assert client.post(f"/api/v1/filings/{filing_id}/submit", headers=auth).status_code == 200
    again = client.post(f"/api/v1/filings/{filing_id}/submit", headers=auth)
    assert again.status_code == 409
    assert "cannot be submitted again" in again.json["errors"][0]["message"]
    put = client.put(f"/api/v1/filings/{filing_id}", json={"filing": {}}, headers=auth)
    assert put.status_code == 409
    assert "start a revision" in put.json["errors"][0]["message"]


def test_put_keeps_what_post_filled_in_and_needs_the_lock_version(client, auth, member):
    """Before: a PUT of other inputs dropped the legal name and activity POST had filled in
    from the account (the next submit failed: legal_name is required), and a PUT without
    lock_version silently overwrote whatever had changed since."""
    created = create(client, auth, {"fte_in_zone": 2})
    url = f"/api/v1/filings/{created['id']}"
    inputs = {k: v for k, v in t1_exchange().items() if k not in ("legal_name", "activity")}
    blind = client.put(url, json={"filing": inputs}, headers=auth)
    assert blind.status_code == 422
    assert [e["field"] for e in blind.json["errors"]] == ["lock_version"]
    assert "is required" in blind.json["errors"][0]["message"]
    put = client.put(url, json={"filing": inputs, "lock_version": 1}, headers=auth)
    assert put.status_code == 200, put.json
    kept = put.json["inputs"]
    assert kept["legal_name"] == created["inputs"]["legal_name"]
    assert kept["activity"] == created["inputs"]["activity"] == "exchange"
    submitted = client.post(f"{url}/submit", json={"lock_version": 2}, headers=auth)
    assert submitted.status_code == 200, submitted.json
    assert submitted.json["status"] == "submitted"


def test_a_stale_lock_version_is_409(client, auth):
    filing_id = create(client, auth)["id"]
    ok = client.put(
        f"/api/v1/filings/{filing_id}", json={"filing": {}, "lock_version": 1}, headers=auth
    )
    assert ok.status_code == 200
    stale = client.put(
        f"/api/v1/filings/{filing_id}", json={"filing": {}, "lock_version": 1}, headers=auth
    )
    assert stale.status_code == 409
    assert "changed" in stale.json["errors"][0]["message"]
    bad = client.put(
        f"/api/v1/filings/{filing_id}", json={"filing": {}, "lock_version": "2"}, headers=auth
    )
    assert bad.status_code == 422 and bad.json["errors"][0]["field"] == "lock_version"


def test_lock_version_null_and_an_empty_status_are_refused_as_documented(client, auth):
    """Before: ``"lock_version": null`` was taken as no lock_version (the document says an
    integer from 1) and ``?status=`` as no filter (the document says one of the statuses)."""
    filing_id = create(client, auth)["id"]
    url = f"/api/v1/filings/{filing_id}"
    for body in ({"filing": {}, "lock_version": None}, {"filing": {}, "lock_version": 2**31}):
        put = client.put(url, json=body, headers=auth)
        assert put.status_code == 422, put.json
        assert [e["field"] for e in put.json["errors"]] == ["lock_version"]
    for action in ("submit", "withdraw", "revise"):
        response = client.post(f"{url}/{action}", json={"lock_version": None}, headers=auth)
        assert response.status_code == 422, (action, response.json)
        assert [e["field"] for e in response.json["errors"]] == ["lock_version"]
    empty = client.get("/api/v1/filings?status=", headers=auth)
    assert empty.status_code == 422
    assert [e["field"] for e in empty.json["errors"]] == ["status"]
    assert client.get("/api/v1/filings?status=draft", headers=auth).status_code == 200


def test_an_id_beyond_the_id_column_is_a_404(client, auth):
    """Before: on PostgreSQL (a 32-bit id column) an id from 2**31 was a 500."""
    for filing_id in (2**31, 2**31 + 7, 2**40):
        response = client.get(f"/api/v1/filings/{filing_id}", headers=auth)
        assert response.status_code == 404, (filing_id, response.json)
        put = client.put(
            f"/api/v1/filings/{filing_id}", json={"filing": {}, "lock_version": 1}, headers=auth
        )
        assert put.status_code == 404, (filing_id, put.json)


def test_revise_through_the_api(client, auth, db_session):
    filing_id = create(client, auth, t1_exchange())["id"]
    client.post(f"/api/v1/filings/{filing_id}/submit", headers=auth)
    response = client.post(f"/api/v1/filings/{filing_id}/revise", headers=auth)
    assert response.status_code == 201
    draft = response.json
    assert draft["supersedes_id"] == filing_id and draft["status"] == "draft"
    assert response.headers["Location"] == f"/api/v1/filings/{draft['id']}"
    client.post(f"/api/v1/filings/{draft['id']}/submit", headers=auth)
    assert client.get(f"/api/v1/filings/{filing_id}", headers=auth).json["status"] == "superseded"
    draft_again = client.post(f"/api/v1/filings/{draft['id']}/revise", headers=auth).json
    assert (
        client.post(f"/api/v1/filings/{draft_again['id']}/revise", headers=auth).status_code == 409
    )


def test_another_companys_filing_is_404_never_403(client, auth, make_user, token_for):
    other = make_user("company")
    other_auth = token_for(other)
    theirs = create(client, other_auth, t1_exchange())["id"]
    for method, path in [
        ("get", f"/api/v1/filings/{theirs}"),
        ("put", f"/api/v1/filings/{theirs}"),
        ("post", f"/api/v1/filings/{theirs}/submit"),
        ("post", f"/api/v1/filings/{theirs}/revise"),
        ("get", "/api/v1/filings/999999"),
        ("get", "/api/v1/filings/abc"),
        ("get", "/api/v1/filings/" + "9" * 40),
    ]:
        response = getattr(client, method)(path, json={"filing": {}}, headers=auth)
        assert response.status_code == 404, (method, path, response.json)
        assert response.json["errors"][0]["message"].startswith("there is no filing")
    assert client.get("/api/v1/filings", headers=auth).json["filings"] == []


def test_tokens_missing_wrong_revoked_or_of_staff(client, member, make_user, token_for, db_session):
    assert client.get("/api/v1/filings").status_code == 401
    assert (
        client.get("/api/v1/filings", headers={"Authorization": "Bearer nope"}).status_code == 401
    )
    assert client.get("/api/v1/filings", headers={"Authorization": "Basic x"}).status_code == 401
    admin_auth = token_for(make_user("admin"))
    assert client.get("/api/v1/filings", headers=admin_auth).status_code == 403
    auth = token_for(member)
    assert client.get("/api/v1/filings", headers=auth).status_code == 200
    from hub.models import ApiToken

    row = db_session.exec(select(ApiToken).where(ApiToken.user_id == member.id)).one()
    revoke_token(db_session, token_id=row.id, user=member)
    db_session.commit()
    response = client.get("/api/v1/filings", headers=auth)
    assert response.status_code == 401
    assert response.json["errors"][0]["field"] is None


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[1, 2]",
        b'{"filing": [1]}',
        b'{"filing": {"kyc_verified_clients_pct": NaN}}',
        b'{"filing": {"kyc_verified_clients_pct": 1e999}}',
        b'{"filing": {"opex_in_zone_kzt": 123456789012345678901234567890}}',
        b'{"filing": {"legal_name": "' + b"x" * 70_000 + b'"}}',
        b'{"filing": {"legal_name": "a\\u0000b"}}',
        b'{"filing": {"activity": "a\\u0000b"}}',
        b'{"filing": {"bin\\u0000": 1}}',
        b'{"filing": {"officers_appointed": ["SEO", "SEO"]}}',
        b'{"filing": {"fte_in_zone": true}}',
        b'{"filing": {}, "extra": 1}',
        b'{"filing": {}, "lock_version": 99999999999}',
        b'{"filing": {"licence_expires_on": "2026-13-01"}}',
        b'{"filing": {"tax_arrears_kzt": -1}}',
        b"\xff\xfe",
    ],
)
def test_hostile_bodies_get_4xx_never_500(client, auth, body):
    filing_id = create(client, auth)["id"]
    for method, path in [
        ("post", "/api/v1/filings"),
        ("put", f"/api/v1/filings/{filing_id}"),
        ("post", f"/api/v1/filings/{filing_id}/submit"),
    ]:
        response = getattr(client, method)(
            path, data=body, headers={**auth, "Content-Type": "application/json"}
        )
        assert 400 <= response.status_code < 500 or response.status_code in (200, 201), (
            path,
            body[:60],
        )
        assert response.status_code != 500
        if response.status_code >= 400:
            assert set(response.json) == {"errors"}
            assert all(set(e) == {"field", "message"} for e in response.json["errors"])


def test_nothing_is_stored_when_a_draft_is_rejected(client, auth, db_session):
    client.post("/api/v1/filings", json={"filing": {"kyc_verified_clients_pct": 101}}, headers=auth)
    assert db_session.exec(select(Filing)).all() == []


def test_the_filing_endpoints_are_in_the_openapi_document(client):
    doc = client.get("/api/openapi.json").json
    assert {"post", "get"} <= doc["paths"]["/api/v1/filings"].keys()
    assert {"get", "put"} <= doc["paths"]["/api/v1/filings/{filing_id}"].keys()
    submit = doc["paths"]["/api/v1/filings/{filing_id}/submit"]["post"]
    assert {"200", "404", "409", "422"} <= submit["responses"].keys()
    assert submit["security"] == [{"bearer": []}]


def test_the_filing_api_is_rate_limited(make_app, make_user, db_session):
    app = make_app(RATELIMIT_ENABLED=True, FILINGS_API_RATE_LIMIT="2 per minute")
    _, plaintext = issue_token(db_session, user=make_user("company"), name="t")
    db_session.commit()
    client = app.test_client()
    headers = {"Authorization": f"Bearer {plaintext}"}
    codes = [client.get("/api/v1/filings", headers=headers).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    response = client.get("/api/v1/filings", headers=headers)
    assert response.json["errors"][0]["message"].startswith("You are going too fast")


def other_spellings(number: int) -> list[str]:
    """Strings Python's int() and Werkzeug's \\d+ read as ``number``: none is its address."""
    digits = str(number)
    arabic_indic = "".join(chr(0x0660 + int(d)) for d in digits)
    fullwidth = "".join(chr(0xFF10 + int(d)) for d in digits)
    return ["0" + digits, "00" + digits, "+" + digits, "%20" + digits, digits + "%20",
            "0_" + digits, arabic_indic, fullwidth, digits + ".0"]  # fmt: skip


def test_a_filing_has_one_address(client, auth, member, make_user, login):
    """An id is ASCII digits without a leading zero: every other spelling of the same
    number is 404 on the API and on the web pages (the filing's, the review's)."""
    filing_id = create(client, auth, t1_exchange())["id"]
    assert client.get(f"/api/v1/filings/{filing_id}", headers=auth).status_code == 200
    for spelling in other_spellings(filing_id):
        for method, path in [
            ("get", f"/api/v1/filings/{spelling}"),
            ("put", f"/api/v1/filings/{spelling}"),
            ("post", f"/api/v1/filings/{spelling}/submit"),
        ]:
            response = getattr(client, method)(path, json={"filing": {}}, headers=auth)
            assert response.status_code == 404, (method, path, response.json)
    web = client.application.test_client()
    login(web, member)
    assert web.get(f"/filings/{filing_id}").status_code == 200
    admin = client.application.test_client()
    login(admin, make_user("admin"))
    assert admin.get(f"/review/filings/{filing_id}").status_code == 200
    for spelling in other_spellings(filing_id):
        assert web.get(f"/filings/{spelling}").status_code == 404, spelling
        assert web.get(f"/filings/{spelling}/edit").status_code == 404, spelling
        assert admin.get(f"/review/filings/{spelling}").status_code == 404, spelling
