"""Keys given twice and numbers the engine cannot compare exactly, through every surface:
the assessment API, the filings API, `hub assess`, `--batch`, the seeds loader, the
web form, the OpenAPI document and the policy pages (issue 11, items 3 and 4)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from hub.cli import main
from hub.seeding import SeedFileError, read_seed_files
from tests.unit.core_support import exchange

from .test_api_filings import create

# The command line here reads the policy folder alone (no database): see ``no_database``.
pytestmark = pytest.mark.usefixtures("no_database")

BOUND = "9,007,199,254,740,991"
ONCE = "is given more than once"
TWICE = {"field": "filing.kyc_verified_clients_pct", "message": ONCE}
TOO_MANY_FTE = {"errors": [{"field": "fte_declared", "message": f"must be at most {BOUND}"}]}


def with_kyc_twice(body: dict[str, Any]) -> str:
    """The body as JSON text whose filing names kyc_verified_clients_pct twice (50, then
    100: the last value would meet every KYC criterion)."""
    filing = dict(body["filing"])
    filing.pop("kyc_verified_clients_pct", None)
    inner = json.dumps(filing)[1:-1]
    text = '{"kyc_verified_clients_pct": 50, ' + inner + ', "kyc_verified_clients_pct": 100}'
    rest = {k: v for k, v in body.items() if k != "filing"}
    tail = "".join(f", {json.dumps(k)}: {json.dumps(v)}" for k, v in rest.items())
    return '{"filing": ' + text + tail + "}"


def post_text(client: Any, path: str, text: str, **kw: Any) -> Any:
    return client.post(path, data=text.encode(), content_type="application/json", **kw)


# --- the assessment API -----------------------------------------------------------------


def test_the_api_refuses_a_key_given_twice(client: Any) -> None:
    r = post_text(client, "/api/v1/assessments", with_kyc_twice({"filing": exchange()}))
    assert r.status_code == 422
    assert r.get_json() == {"errors": [TWICE]}
    twice = '{"filing": {}, "as_of": "2026-09-01", "as_of": "2027-09-01"}'
    r = post_text(client, "/api/v1/assessments", twice)
    assert r.status_code == 422
    assert r.get_json() == {"errors": [{"field": "as_of", "message": "is given more than once"}]}


def test_the_api_refuses_a_number_it_cannot_compare_exactly(client: Any) -> None:
    text = json.dumps({"filing": exchange(kyc_verified_clients_pct=1)}).replace(
        '"kyc_verified_clients_pct": 1', '"kyc_verified_clients_pct": 94.99999999999999999'
    )
    r = post_text(client, "/api/v1/assessments", text)
    assert r.status_code == 422
    [error] = r.get_json()["errors"]
    assert error["field"] == "filing.kyc_verified_clients_pct"
    assert "significant digits" in error["message"]


def test_the_issue_s_fte_case_end_to_end(client: Any) -> None:
    filing = exchange(fte_declared=10**18, fte_in_zone=799_999_999_999_999_999)
    r = client.post("/api/v1/assessments", json={"filing": filing, "as_of": "2026-09-01"})
    assert r.status_code == 422
    assert r.get_json() == {
        "errors": [
            {"field": "fte_declared", "message": f"must be at most {BOUND}"},
            {"field": "fte_in_zone", "message": f"must be at most {BOUND}"},
        ]
    }
    # Within the bound the criterion is decided as the policy reads: 0.8 * 6394092583090594
    # is 5115274066472475.2, so 5115274066472475 staff are not enough.
    filing = exchange(fte_declared=6_394_092_583_090_594, fte_in_zone=5_115_274_066_472_475)
    r = client.post("/api/v1/assessments", json={"filing": filing, "as_of": "2026-09-01"})
    d = r.get_json()
    status = {c["id"]: c["status"] for c in d["criteria"]}
    assert status["staff_as_declared"] == "not_met" and d["tier"] == "T1"


# --- the filings API --------------------------------------------------------------------


def test_the_filings_api_refuses_a_key_given_twice(client: Any, auth: Any) -> None:
    body = with_kyc_twice({"filing": {"fte_in_zone": 3}})
    r = post_text(client, "/api/v1/filings", body, headers=auth)
    assert r.status_code == 422 and r.get_json() == {"errors": [TWICE]}
    filing_id = create(client, auth, {"fte_in_zone": 2})["id"]
    r = client.put(
        f"/api/v1/filings/{filing_id}",
        data=with_kyc_twice({"filing": {"fte_in_zone": 3}, "lock_version": 1}).encode(),
        content_type="application/json",
        headers=auth,
    )
    assert r.status_code == 422 and r.get_json() == {"errors": [TWICE]}
    lock_twice = '{"lock_version": 1, "lock_version": 1}'
    r = post_text(client, f"/api/v1/filings/{filing_id}/submit", lock_twice, headers=auth)
    assert r.status_code == 422
    assert r.get_json() == {"errors": [{"field": "lock_version", "message": ONCE}]}
    stored = client.get(f"/api/v1/filings/{filing_id}", headers=auth).get_json()
    assert stored["inputs"]["fte_in_zone"] == 2 and stored["lock_version"] == 1  # unchanged


def test_the_filings_api_refuses_values_beyond_the_bounds(client: Any, auth: Any) -> None:
    r = client.post("/api/v1/filings", json={"filing": {"fte_declared": 2**53}}, headers=auth)
    assert r.status_code == 422
    assert r.get_json() == TOO_MANY_FTE


# --- hub assess and --batch -------------------------------------------------------------


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_hub_assess_refuses_a_file_with_a_key_given_twice(tmp_path: Path) -> None:
    f = tmp_path / "request.json"
    f.write_text(with_kyc_twice({"filing": exchange(), "as_of": "2026-09-01"}))
    code, _, err = run("assess", str(f))
    assert code == 1 and "filing.kyc_verified_clients_pct: is given more than once" in err
    code, out, _ = run("assess", str(f), "--json")
    assert code == 1 and json.loads(out) == {"errors": [TWICE]}
    bare = tmp_path / "filing.json"  # a bare filing: the key's path is its name
    bare.write_text(with_kyc_twice({"filing": exchange()})[len('{"filing": ') : -1])
    code, _, err = run("assess", str(bare), "--as-of", "2026-09-01")
    assert code == 1 and "kyc_verified_clients_pct: is given more than once" in err


def test_batch_refuses_only_the_line_with_a_key_given_twice(tmp_path: Path) -> None:
    good = json.dumps({"filing": exchange(kyc_verified_clients_pct=50), "as_of": "2026-09-01"})
    fte = json.dumps({"filing": exchange(fte_declared=10**18), "as_of": "2026-09-01"})
    twice = with_kyc_twice({"filing": exchange(), "as_of": "2026-09-01"})
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join([good, twice, good, fte, twice.replace(": 100}", ": 100 }")]) + "\n")
    out = tmp_path / "out.jsonl"
    code, _, err = run("assess", "--batch", str(src), "--out", str(out), "--workers", "1")
    answers = [json.loads(line) for line in out.read_text().splitlines()]
    assert code == 1 and "5 requests: 2 assessed, 3 rejected" in err
    assert answers[0]["tier"] is None and answers[2] == answers[0]
    assert answers[1] == answers[4] == {"errors": [TWICE]}
    assert answers[3] == TOO_MANY_FTE


# --- the seeds loader -------------------------------------------------------------------


def test_the_seeds_loader_refuses_a_key_given_twice(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(
        '{"companies": [{"bin": "940140000385", "filings": '
        '[{"inputs": {"fte_in_zone": 1, "fte_in_zone": 9}}]}]}'
    )
    where = r"companies\[0\]\.filings\[0\]\.inputs\.fte_in_zone: is given more than once"
    with pytest.raises(SeedFileError, match=where):
        read_seed_files(tmp_path)
    (tmp_path / "a.json").unlink()
    (tmp_path / "b.yaml").write_text(
        "companies:\n  - bin: '940140000385'\n    filings:\n      - inputs:\n"
        "          fte_in_zone: 1\n          fte_in_zone: 9\n"
    )
    where = r"line 6: not valid YAML: duplicate key 'fte_in_zone': companies\[0\]\.filings\[0\]"
    with pytest.raises(
        SeedFileError, match=where + r"\.inputs\.fte_in_zone is given more than once"
    ):
        read_seed_files(tmp_path)


# --- where the bounds are shown ---------------------------------------------------------


def test_the_openapi_document_states_the_bounds_and_the_duplicate_error(client: Any) -> None:
    doc = client.get("/api/openapi.json").get_json()
    props = doc["components"]["schemas"]["Filing_2026_1"]["properties"]
    assert props["fte_declared"]["minimum"] == 0
    assert props["fte_declared"]["maximum"] == 2**53 - 1
    assert props["opex_in_zone_kzt"]["maximum"] == 9_999_999_999_999.99
    kyc = props["kyc_verified_clients_pct"]
    assert (kyc["minimum"], kyc["maximum"]) == (0, 100)
    for path in ("/api/v1/assessments", "/api/v1/filings"):
        assert "more than once" in doc["paths"][path]["post"]["responses"]["422"]["description"]


def test_the_policy_api_and_page_state_the_bounds(client: Any) -> None:
    inputs = {i["name"]: i for i in client.get("/api/v1/policies/2026.1").get_json()["inputs"]}
    assert (inputs["fte_declared"]["min"], inputs["fte_declared"]["max"]) == (0, 2**53 - 1)
    assert inputs["opex_in_zone_kzt"]["max"] == 9_999_999_999_999.99
    page = client.get("/assess/policy/2026.1").get_data(as_text=True)
    assert f"0 to {BOUND}" in page and "0 to 9,999,999,999,999.99" in page


def test_the_form_states_the_bounds_and_refuses_beyond_them(client: Any) -> None:
    from .test_assess_page import complete

    page = client.get("/assess").get_data(as_text=True)
    assert 'max="9007199254740991"' in page and 'max="9999999999999.99"' in page
    assert f"Allowed: 0 to {BOUND} FTE." in page
    data = complete(fte_declared=10**18, fte_in_zone=799_999_999_999_999_999)
    r = client.post("/assess", data=data)
    assert r.status_code == 422
    assert f"Must be at most {BOUND}." in r.get_data(as_text=True)
    data = complete()
    data["kyc_verified_clients_pct"] = "94.99999999999999999"
    r = client.post("/assess", data=data)
    assert r.status_code == 422 and "significant digits" in r.get_data(as_text=True)


@pytest.fixture
def auth(make_user: Any, db_session: Any) -> dict[str, str]:
    from hub.auth.tokens import issue_token

    _, plaintext = issue_token(db_session, user=make_user("company"), name="test")
    db_session.commit()
    return {"Authorization": f"Bearer {plaintext}"}
