"""POST /api/v1/assessments and the policy endpoints, exactly as the API contract says."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from flask.testing import FlaskClient

from hub.clock import Clock
from tests.unit.core_support import P2026, exchange


def post(client: FlaskClient, body: Any) -> Any:
    return client.post("/api/v1/assessments", json=body)


def test_an_assessment_follows_the_contract(client: FlaskClient) -> None:
    r = post(client, {"filing": exchange(), "as_of": "2026-09-01", "policy_version": "2026.1"})
    assert r.status_code == 200
    d = r.get_json()
    assert d["policy"] == {"id": "astana-crypto-hub", "version": "2026.1", "digest": P2026.digest}
    assert d["as_of"] == "2026-09-01" and d["tier"] == "T3"
    assert {"id", "title", "estimated_annual_saving_kzt"} <= set(d["benefits"][0])
    assert len(d["criteria"]) == len(P2026.criteria)
    for c in d["criteria"]:
        assert {"id", "tier", "status", "explanation", "fix", "citation"} <= set(c)
        assert c["status"] in {"met", "not_met", "not_applicable", "missing"}


def test_the_version_follows_as_of(client: FlaskClient) -> None:
    body = {"filing": exchange()}
    assert post(client, body | {"as_of": "2026-12-31"}).get_json()["policy"]["version"] == "2026.1"
    d = post(client, body | {"as_of": "2027-01-01"}).get_json()
    assert d["policy"]["version"] == "2027.1" and d["tier"] == "T1"
    crit = {c["id"]: c for c in d["criteria"]}
    assert crit["unhosted_wallet_checks"]["status"] == "missing"


def test_as_of_defaults_to_today(client: FlaskClient, clock: Clock) -> None:
    d = post(client, {"filing": exchange()}).get_json()
    assert d["as_of"] == clock.today().isoformat()  # the hub's date, not the server's


def test_nothing_is_stored(client: FlaskClient, db_session: Any) -> None:
    from sqlmodel import func, select

    from hub.models import Assessment, AuditRecord, Filing

    def counts() -> list[int]:
        return [
            db_session.exec(select(func.count()).select_from(table)).one()
            for table in (Assessment, Filing, AuditRecord)
        ]

    before = counts()  # the audit trail holds the shipped versions' imports
    post(client, {"filing": exchange(), "as_of": "2026-09-01"})
    assert counts() == before and before[:2] == [0, 0]


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"filing": exchange(kyc_verified_clients_pct="95")}, "kyc_verified_clients_pct",
         "must be a number"),
        ({"filing": exchange(bin="940140000384")}, "bin", "wrong check digit"),
        ({"filing": exchange(colour="red")}, "colour", "unknown field"),
        ({"filing": {}}, "bin", "is required"),
        ({"filing": exchange(), "as_of": "2026-06-30"}, "as_of", "no policy version is in force"),
        ({"filing": exchange(), "as_of": "01/09/2026"}, "as_of", "YYYY-MM-DD"),
        ({"filing": exchange(), "as_of": "2026-02-30"}, "as_of", "not a real date"),
        ({"filing": exchange(), "policy_version": "1999.1"}, "policy_version", "no policy version"),
        ({"filing": exchange(), "policy_version": 2026.1}, "policy_version", "must be text"),
        ({"filing": exchange(), "extra": 1}, "extra", "unknown field"),
        ({"filing": "x"}, "filing", "must be a JSON object"),
        ({}, "filing", "is required"),
    ],
)  # fmt: skip
def test_invalid_requests_get_422_with_the_field(client: FlaskClient, body: Any, field: str,
                                                 message: str) -> None:  # fmt: skip
    r = post(client, body)
    assert r.status_code == 422
    errors = r.get_json()["errors"]
    assert any(e["field"] == field and message in e["message"] for e in errors), errors


@pytest.mark.parametrize(
    "raw",
    [b"", b"{", b"[1, 2]", b'"filing"', b"null", b"\xff\xfe", b"[" * 100_000 + b"]" * 100_000,
     b'{"filing": {"fte_in_zone": 1' + b"0" * 5000 + b"}}"],
)  # fmt: skip
def test_malformed_bodies_get_400(client: FlaskClient, raw: bytes) -> None:
    r = client.post("/api/v1/assessments", data=raw, content_type="application/json")
    assert r.status_code == 400
    (error,) = r.get_json()["errors"]
    assert error["field"] is None and error["message"]


def test_json_nan_and_infinity_are_refused_as_422(client: FlaskClient) -> None:
    others = exchange(fte_declared=None, opex_in_zone_kzt=None)  # each named once, below
    filing = json.dumps(others)[:-1] + ', "fte_declared": NaN, "opex_in_zone_kzt": Infinity}'
    r = client.post("/api/v1/assessments", data=f'{{"filing": {filing}}}',
                    content_type="application/json")  # fmt: skip
    assert r.status_code == 422
    assert {e["field"] for e in r.get_json()["errors"]} == {"fte_declared", "opex_in_zone_kzt"}


def test_hostile_values_never_give_500(client: FlaskClient) -> None:
    hostile: list[Any] = ["x" * 70_000, "\x00", -1e308, 1e308, [], {}, True, None, "9" * 5000]
    for field in ("legal_name", "activity", "kyc_verified_clients_pct", "officers_appointed",
                  "licence_expires_on", "fte_in_zone", "bin"):  # fmt: skip
        for value in hostile:
            r = post(client, {"filing": exchange(**{field: value}), "as_of": "2026-09-01"})
            assert r.status_code in (200, 422), (field, value, r.status_code)


def test_text_the_fast_paths_do_not_take_never_gives_500(client: FlaskClient) -> None:
    # A lone surrogate (valid JSON escape, not valid UTF-8), e-notation in text, edge
    # spaces and a tab: the general paths take these, and the answer is still 200 or 422.
    filing = json.dumps(exchange())[:-1]
    for extra in (
        ', "legal_name": "Steppe \\ud800 LLP"}',
        ', "legal_name": "e-money 1e+5"}',
        ', "legal_name": " Steppe\\tLLP "}',
        ', "officers_appointed": ["\\ud800"]}',
    ):
        r = client.post("/api/v1/assessments", data=f'{{"filing": {filing}{extra}}}',
                        content_type="application/json")  # fmt: skip
        assert r.status_code in (200, 422), (extra, r.status_code)


def test_wrong_method_is_json_405(client: FlaskClient) -> None:
    r = client.get("/api/v1/assessments")
    assert r.status_code == 405 and r.get_json()["errors"][0]["message"]


def test_policy_list_and_version(client: FlaskClient) -> None:
    listed = client.get("/api/v1/policies").get_json()["policies"]
    assert [p["version"] for p in listed] == ["2026.1", "2027.1"]
    v = client.get("/api/v1/policies/2027.1").get_json()
    assert v["version"] == "2027.1" and v["effective_from"] == "2027-01-01"
    names = [i["name"] for i in v["inputs"]]
    assert "unhosted_wallet_verified_pct" in names
    activity = next(i for i in v["inputs"] if i["name"] == "activity")
    assert [c["value"] for c in activity["choices"]][:2] == ["exchange", "broker"]
    r = client.get("/api/v1/policies/3000.1")
    assert r.status_code == 404 and r.get_json()["errors"][0]["field"] == "version"


def test_openapi_document_and_docs_page(client: FlaskClient) -> None:
    doc = client.get("/api/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    assert "/api/v1/assessments" in doc["paths"]
    schemas = doc["components"]["schemas"]
    assert "unhosted_wallet_verified_pct" in schemas["Filing_2027_1"]["properties"]
    assert "unhosted_wallet_verified_pct" not in schemas["Filing_2026_1"]["properties"]
    page = client.get("/api/docs/").get_data(as_text=True)
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert "/api/docs/swagger-ui-bundle.js" in assets
    # Served here, no CDN; Swagger UI started by a static file of the hub (CSP: no inline).
    assert all(a.startswith(("/api/docs/", "/static/")) for a in assets), assets
    assert "/static/swagger-init.js" in assets
    with client.get("/api/docs/swagger-ui-bundle.js") as js:
        assert js.status_code == 200 and b"SwaggerUIBundle" in js.data


def test_rate_limit_on_anonymous_assessments(make_app: Any) -> None:
    app = make_app(RATELIMIT_ENABLED=True, ASSESS_RATE_LIMIT="3 per minute")
    client = app.test_client()
    codes = [post(client, {"filing": exchange()}).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    r = post(client, {"filing": exchange()})
    assert "Too many requests" in r.get_json()["errors"][0]["message"] or r.status_code == 429
