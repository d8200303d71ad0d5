"""The API is strict about what it reads: JSON only when declared as JSON (415 otherwise),
values echoed in errors cut short, and control characters refused in free text."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask.testing import FlaskClient

from hub.auth.tokens import issue_token

from .filing_support import t1_exchange

BIN = "940140000385"
MEGABYTE = 1_000_000


@pytest.fixture
def auth(make_user, db_session) -> dict[str, str]:
    _, plaintext = issue_token(db_session, user=make_user("company"), name="test")
    db_session.commit()
    return {"Authorization": f"Bearer {plaintext}"}


@pytest.fixture
def draft_id(client: FlaskClient, auth: dict[str, str]) -> int:
    response = client.post("/api/v1/filings", json={}, headers=auth)
    assert response.status_code == 201
    return response.json["id"]


def body_endpoints(draft: int) -> list[tuple[str, str, dict[str, Any]]]:
    """Every operation that reads a JSON body: (method, path, a body it accepts)."""
    return [
        ("POST", "/api/v1/assessments", {"filing": t1_exchange(bin=BIN)}),
        ("POST", "/api/v1/filings", {"filing": {"fte_in_zone": 2}}),
        ("PUT", f"/api/v1/filings/{draft}", {"filing": {"fte_in_zone": 3}}),
        ("POST", f"/api/v1/filings/{draft}/submit", {"lock_version": 1}),
        ("POST", f"/api/v1/filings/{draft}/revise", {"lock_version": 1}),
    ]


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
        "text/json",
        "application/json; charset=latin-1",
    ],
)
def test_a_body_not_declared_as_json_is_refused_with_415(
    client: FlaskClient, auth: dict[str, str], draft_id: int, content_type: str | None
) -> None:
    for method, path, body in body_endpoints(draft_id):
        headers = dict(auth)
        if content_type is not None:
            headers["Content-Type"] = content_type
        response = client.open(path, method=method, data=json.dumps(body), headers=headers)
        assert response.status_code == 415, (path, content_type, response.data)
        assert response.mimetype == "application/json"
        [error] = response.json["errors"]
        assert error["field"] is None
        assert "application/json" in error["message"]
        if content_type and "charset" not in content_type:
            assert f"(got {content_type.split(';')[0]}" in error["message"]


def test_json_types_are_read(client: FlaskClient, auth: dict[str, str], draft_id: int) -> None:
    body = json.dumps({"filing": t1_exchange(bin=BIN)})
    for content_type in (
        "application/json",
        "application/json; charset=utf-8",
        "application/json; charset=UTF-8",
        "application/problem+json",
    ):
        response = client.post(
            "/api/v1/assessments", data=body, headers={"Content-Type": content_type}
        )
        assert response.status_code == 200, (content_type, response.data)
    # An optional body may be left out altogether (no body, no type).
    assert client.post("/api/v1/filings", headers=auth).status_code == 201
    submitted = client.post(f"/api/v1/filings/{draft_id}/submit", headers=auth)
    assert submitted.status_code in (200, 409, 422), submitted.data  # read, not refused


def test_a_megabyte_value_is_not_echoed_back(client: FlaskClient) -> None:
    huge = "x" * MEGABYTE
    response = client.post(
        "/api/v1/assessments", json={"filing": t1_exchange(bin=BIN), "policy_version": huge}
    )
    assert response.status_code == 422
    assert len(response.data) < 1000, len(response.data)
    [error] = response.json["errors"]
    assert error["field"] == "policy_version"
    assert "x" * 40 + "…" in error["message"]
    # The same version named in the address.
    response = client.get("/api/v1/policies/" + "v" * 100_000)
    assert response.status_code == 404
    assert len(response.data) < 1000, len(response.data)


@pytest.mark.parametrize(
    "change",
    [
        {"policy_version": "x" * MEGABYTE},
        {"as_of": "2026-" + "1" * MEGABYTE},
        {"filing": {**t1_exchange(bin=BIN), "k" * MEGABYTE: 1}},
        {"filing": t1_exchange(bin=BIN, activity="a" * MEGABYTE)},
        {"filing": t1_exchange(bin=BIN, legal_name="n" * MEGABYTE)},
        {"filing": t1_exchange(bin=BIN, licence_expires_on="d" * MEGABYTE)},
        {"filing": t1_exchange(bin=BIN, officers_appointed=["o" * MEGABYTE])},
        {"filing": t1_exchange(bin="9" * MEGABYTE)},
        {"k" * MEGABYTE: 1},
    ],
    ids=lambda c: next(iter(c))[:20],
)
def test_no_error_answer_carries_a_large_value(client: FlaskClient, change: dict) -> None:
    body = {"filing": t1_exchange(bin=BIN), **change}
    response = client.post("/api/v1/assessments", json=body)
    assert response.status_code == 422
    assert len(response.data) < 2000, len(response.data)


def test_control_characters_are_refused_naming_the_field(
    client: FlaskClient, auth: dict[str, str], draft_id: int
) -> None:
    escape = "2026.1\x1b[2J"
    response = client.post(
        "/api/v1/assessments", json={"filing": t1_exchange(bin=BIN), "policy_version": escape}
    )
    assert response.status_code == 422
    assert response.json["errors"] == [
        {
            "field": "policy_version",
            "message": "must not contain control characters (tabs and line breaks included)",
        }
    ]
    for text in ("Steppe\x00 LLP", "Steppe\x1b[31m LLP", "Steppe\u0085LLP", "Steppe\nLLP"):
        response = client.post(
            "/api/v1/assessments", json={"filing": t1_exchange(bin=BIN, legal_name=text)}
        )
        assert response.status_code == 422
        assert [e["field"] for e in response.json["errors"]] == ["legal_name"]
        assert "control characters" in response.json["errors"][0]["message"]
        response = client.put(
            f"/api/v1/filings/{draft_id}",
            json={"filing": {"legal_name": text}, "lock_version": 1},
            headers=auth,
        )
        assert response.status_code == 422
        assert [e["field"] for e in response.json["errors"]] == ["legal_name"]
