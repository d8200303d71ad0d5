"""The trace on every surface: `POST /api/v1/assessments?trace=true`, `hub assess --trace`
(readable, --json and --batch), the OpenAPI document and the reviewer's filing page.

Without the flag every answer is the same bytes as ``Decision.to_json()``; with it, the
same bytes with one more key, ``trace``, built by ``hub.policy.trace``.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient
from sqlmodel import Session

from hub.app_catalogue import catalogue
from hub.app_clock import app_clock
from hub.cli import main
from hub.models import Company, Filing, User
from hub.policy import assess
from hub.policy.trace import assess_traced, trace_json, with_trace
from hub.services import filings as filing_svc
from tests.functional.filing_support import t1_exchange
from tests.unit.core_support import P2026, REGISTRY, exchange, miner

# The command line here reads the policy folder alone (no database): see ``no_database``.
pytestmark = pytest.mark.usefixtures("no_database")

AS_OF = dt.date(2026, 9, 1)
URL = "/api/v1/assessments"


def _body(**changes: Any) -> dict[str, Any]:
    return {"filing": exchange(**changes), "as_of": AS_OF.isoformat(), "policy_version": "2026.1"}


# --- API -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "filing",
    [exchange(), exchange(kyc_verified_clients_pct=94.5, licence_type="none"), miner()],
    ids=["t3-exchange", "unmet-exchange", "miner"],
)
def test_without_the_flag_the_answer_is_the_same_bytes(client: FlaskClient, filing: Any) -> None:
    body = {"filing": filing, "as_of": AS_OF.isoformat()}
    expected = assess(P2026, filing, AS_OF).to_json()
    plain = client.post(URL, json=body)
    off = client.post(URL + "?trace=false", json=body)
    assert plain.status_code == off.status_code == 200
    assert plain.get_data() == off.get_data() == expected
    assert b'"trace"' not in plain.get_data()


def test_with_the_flag_the_answer_gains_the_trace_and_nothing_else(client: FlaskClient) -> None:
    body = _body(kyc_verified_clients_pct=94.5)
    plain = client.post(URL, json=body).get_data()
    r = client.post(URL + "?trace=true", json=body)
    assert r.status_code == 200 and r.mimetype == "application/json"
    raw = r.get_data()
    assert raw.startswith(plain[:-1] + b',"trace":')
    d = json.loads(raw)
    trace = d.pop("trace")
    assert json.loads(plain) == d
    _, expected = assess_traced(P2026, body["filing"], AS_OF)
    assert raw == with_trace(plain, expected)
    assert json.loads(trace_json(expected)) == trace
    kyc = {c["id"]: c for c in trace["criteria"]}["kyc_baseline"]
    assert kyc["status"] == "not_met" and kyc["fired"] == [kyc["rule"]]
    assert kyc["rule"].startswith("u:")
    assert kyc["specialised"] == "kyc_verified_clients_pct ≥ 95"
    assert kyc["parameters"] == {"kyc_baseline_min_pct": 95}
    assert kyc["read"] == {"kyc_verified_clients_pct": 94.5} and kyc["absent"] == []
    assert trace["policy"]["key"] == P2026.key and trace["as_of"] == "2026-09-01"
    assert trace["tier"]["reached"] is None and trace["tier"]["fired"] == []


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("trace=maybe", "must be true or false, not 'maybe'"),
        ("trace=1", "must be true or false, not '1'"),
        ("trace=", "must be true or false, not ''"),
        ("trace=TRUE", "must be true or false, not 'TRUE'"),
        ("trace=true&trace=false", "is given more than once"),
    ],
)
def test_a_bad_trace_value_is_a_422_naming_trace(
    client: FlaskClient, query: str, message: str
) -> None:
    r = client.post(f"{URL}?{query}", json=_body())
    assert r.status_code == 422
    assert r.get_json() == {"errors": [{"field": "trace", "message": message}]}


def test_a_traced_request_is_validated_as_any_other(client: FlaskClient) -> None:
    bad = _body(kyc_verified_clients_pct="95")
    plain = client.post(URL, json=bad)
    traced = client.post(URL + "?trace=true", json=bad)
    assert plain.status_code == traced.status_code == 422
    assert plain.get_json() == traced.get_json()
    not_an_object = client.post(URL + "?trace=true", data="[1]", content_type="application/json")
    assert not_an_object.status_code == 400


def test_the_openapi_document_describes_the_flag_and_the_trace(client: FlaskClient) -> None:
    doc = client.get("/api/openapi.json").get_json()
    post = doc["paths"]["/api/v1/assessments"]["post"]
    (param,) = [p for p in post["parameters"] if p["name"] == "trace"]
    assert param["in"] == "query" and param["schema"]["enum"] == ["true", "false"]
    schemas = doc["components"]["schemas"]
    assert schemas["Decision"]["properties"]["trace"]["$ref"] == "#/components/schemas/Trace"
    trace = client.post(URL + "?trace=true", json=_body()).get_json()["trace"]
    assert set(trace) == set(schemas["Trace"]["properties"])
    assert set(trace["criteria"][0]) == set(schemas["CriterionTrace"]["properties"])
    assert set(trace["benefits"][0]) == set(schemas["BenefitTrace"]["properties"])
    assert set(trace["benefits"][0]["saving"]) == set(schemas["SavingTrace"]["properties"])
    assert set(trace["tier"]) == set(schemas["Trace"]["properties"]["tier"]["properties"])


# --- CLI -----------------------------------------------------------------------------------


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_hub_assess_trace_prints_each_criterions_trace(tmp_path: Path) -> None:
    f = tmp_path / "filing.json"
    f.write_text(json.dumps(exchange(kyc_verified_clients_pct=94.5)))
    code, plain, _ = _run("assess", str(f), "--as-of", "2026-09-01")
    code2, out, _ = _run("assess", str(f), "--as-of", "2026-09-01", "--trace")
    assert code == code2 == 0
    assert "specialised:" not in plain
    _, trace = assess_traced(P2026, exchange(kyc_verified_clients_pct=94.5), AS_OF)
    rule = {c["id"]: c for c in trace["criteria"]}["kyc_baseline"]["rule"]
    block = out[out.index("kyc_baseline") : out.index("kyc_complete")]
    assert "specialised:  kyc_verified_clients_pct ≥ 95" in block
    assert "parameters:   kyc_baseline_min_pct = 95" in block
    assert "read:         kyc_verified_clients_pct = 94.5" in block
    assert f"engine:       rule {rule}, fired: {rule}: the condition does not hold" in block
    assert "Trace:" in out and f"policy {P2026.key}" in out
    assert "tier: none; fired: none" in out and "T1 unsatisfied: kyc_baseline" in out
    # the readable decision itself is unchanged: every line of it is still there, in order
    lines = iter(out.splitlines())
    assert all(any(line == other for other in lines) for line in plain.splitlines())


def test_hub_assess_trace_json_is_the_apis_traced_answer(tmp_path: Path, client) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path / "request.json"
    f.write_text(json.dumps(_body(licence_type="service_provider")))
    code, out, _ = _run("assess", str(f), "--json", "--trace")
    assert code == 0
    api = client.post(URL + "?trace=true", json=_body(licence_type="service_provider"))
    assert out.rstrip("\n").encode() == api.get_data()
    code, plain, _ = _run("assess", str(f), "--json")
    assert (
        plain.rstrip("\n").encode()
        == client.post(URL, json=_body(licence_type="service_provider")).get_data()
    )


def test_hub_assess_batch_trace_traces_every_line(tmp_path: Path) -> None:
    lines = [
        json.dumps(_body()),
        json.dumps(_body(kyc_verified_clients_pct="high")),
        json.dumps({"filing": miner(), "as_of": "2026-09-01"}),
    ]
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(lines) + "\n")
    outputs = {}
    for flag in ((), ("--trace",)):
        out = tmp_path / f"out{len(flag)}.jsonl"
        code, _, err = _run(
            "assess", "--batch", str(src), "--out", str(out), "--workers", "1", *flag
        )
        assert code == 1 and "3 requests: 2 assessed, 1 rejected" in err
        outputs[bool(flag)] = out.read_bytes().splitlines()
    plain, traced = outputs[False], outputs[True]
    assert plain[0] == assess(P2026, exchange(), AS_OF).to_json()
    assert traced[1] == plain[1] and b"errors" in plain[1]  # a refused line is unchanged
    for i in (0, 2):
        filing = json.loads(lines[i])["filing"]
        _, trace = assess_traced(P2026, filing, AS_OF)
        assert traced[i] == with_trace(plain[i], trace)


def test_hub_assess_trace_refuses_an_invalid_filing_as_before(tmp_path: Path) -> None:
    f = tmp_path / "filing.json"
    f.write_text(json.dumps(exchange(bin="123")))
    code, _, err = _run("assess", str(f), "--as-of", "2026-09-01", "--trace")
    assert code == 1 and "bin: must be exactly 12 digits" in err


# --- the reviewer's filing page ------------------------------------------------------------


@pytest.fixture
def submitted_filing(app, db_session: Session, make_company) -> Filing:  # type: ignore[no-untyped-def]
    with app.app_context():
        registry = catalogue().registry()
    company: Company = make_company()
    filing = filing_svc.create_draft(
        db_session,
        company=company,
        actor_id=None,
        inputs=t1_exchange(legal_name=company.legal_name),
        registry=registry,
        today=app_clock(app).today(),  # the hub's date
    )
    filing_svc.submit(
        db_session,
        filing=filing,
        actor_id=None,
        lock_version=filing.lock_version,
        registry=registry,
        today=app_clock(app).today(),  # the hub's date
    )
    db_session.commit()
    return filing


@pytest.fixture
def admin(make_user) -> User:  # type: ignore[no-untyped-def]
    return make_user("admin", email="admin@hub.kz")


def _details(html: str, criterion: str) -> str:
    match = re.search(rf'<details class="trace" id="trace-{criterion}".*?</details>', html, re.S)
    assert match, f"no trace for {criterion}"
    return match.group(0)


def test_the_reviewer_sees_each_criterions_trace(
    client: FlaskClient, login, admin: User, submitted_filing: Filing
) -> None:  # type: ignore[no-untyped-def]
    login(client, admin)
    html = client.get(f"/review/filings/{submitted_filing.id}").get_data(as_text=True)
    policy = REGISTRY.get(submitted_filing.policy_version)
    assert policy.digest == submitted_filing.policy_digest
    as_of = dt.date.fromisoformat(submitted_filing.decision["as_of"])
    _, trace = assess_traced(policy, submitted_filing.inputs, as_of)
    by_id = {c["id"]: c for c in trace["criteria"]}
    opex = _details(html, "local_opex")  # the one criterion this filing does not meet
    rule = by_id["local_opex"]["rule"]
    assert by_id["local_opex"]["status"] == "not_met" and rule.startswith("u:")
    assert "opex_in_zone_kzt ≥ 50,000,000" in opex  # as specialised
    assert "min_opex_in_zone_kzt = 50,000,000" in opex  # the parameter used
    assert "opex_in_zone_kzt = 10,000,000" in opex  # the value read
    assert f'<span class="mono">{rule}</span>; fired: <span class="mono">{rule}</span>' in opex
    licence = _details(html, "valid_licence")
    assert "required_licence[exchange] = trading_facility" in licence
    assert f"as_of = {as_of.isoformat()}" in licence
    assert 'fired: <span class="mono">none</span>' in licence
    assert html.count('<details class="trace" id="trace-') == len(policy.criteria) + 1
    section = html[html.index('id="trace"') :]
    assert policy.key in section and "does not reproduce" not in section
    assert 'data-benefit="property_land_tax"' in section and "0.015 × 2,000,000,000" in section
    tier_rule = trace["tier"]["fired"][0]
    assert f'fired: <span class="mono">{tier_rule}</span>' in section


def test_the_reviewer_is_told_when_the_decision_cannot_be_replayed(
    client: FlaskClient, login, admin: User, submitted_filing: Filing, db_session: Session
) -> None:  # type: ignore[no-untyped-def]
    login(client, admin)
    decision = dict(submitted_filing.decision)
    decision["criteria"] = [
        {**c, "status": "met"} if c["id"] == "local_opex" else c for c in decision["criteria"]
    ]
    submitted_filing.decision = decision
    db_session.add(submitted_filing)
    db_session.commit()
    html = client.get(f"/review/filings/{submitted_filing.id}").get_data(as_text=True)
    assert "does not reproduce the stored status of" in html and "local_opex" in html
    submitted_filing.policy_digest = "sha256:" + "0" * 64
    db_session.add(submitted_filing)
    db_session.commit()
    html = client.get(f"/review/filings/{submitted_filing.id}").get_data(as_text=True)
    assert "The decision cannot be re-run for a trace" in html
    assert "not the sha256:" + "0" * 64 in html
    assert '<details class="trace" id="trace-' not in html
