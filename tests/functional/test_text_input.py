"""Text through every surface: NFC before any check, lone surrogates, control and bidi
characters and invisible names refused with a field error, and no page ever 500."""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlmodel import select

from hub.auth.tokens import issue_token
from hub.cli import main
from hub.models import Company, Filing, User
from tests.unit.core_support import exchange

from .filing_support import t1_exchange
from .test_assess_page import form_data
from .test_cli import cli_env  # noqa: F401  (a fixture)

COMPOSED = "Ệ" * 55 + " Steppe Exchange and Custody of Digital Assets (Viet Nam-Kazakhstan) LLP."
DECOMPOSED = unicodedata.normalize("NFD", COMPOSED)
SURROGATE_BODY = '{"filing": {"legal_name": "Steppe \\ud800 LLP"}}'  # the JSON escape


def test_the_names_are_as_the_issue_says() -> None:
    assert (len(COMPOSED), len(DECOMPOSED)) == (128, 238)


def post_json(client, url: str, body: str, headers=None):  # type: ignore[no-untyped-def]
    return client.post(url, data=body, content_type="application/json", headers=headers or {})


# --- POST /api/v1/assessments -------------------------------------------------------------


def test_assessments_judge_a_name_composed_whichever_form_it_is_sent_in(client) -> None:
    for name in (COMPOSED, DECOMPOSED):
        body = {"filing": exchange(legal_name=name), "as_of": "2026-09-01"}
        response = client.post("/api/v1/assessments", json=body)
        assert response.status_code == 200, response.json


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('{"filing": %s, "as_of": "2026-09-01"}', "legal_name"),
        ('{"filing": {"legal_name": "Steppe"}, "as_of": "2026-09-0\\udfff"}', "as_of"),
        ('{"filing": {"officers_appointed": ["SEO", "\\ud800"]}}', "officers_appointed"),
        ('{"filing": {"legal_name": "Steppe"}, "policy_version": "\\ud800"}', "policy_version"),
    ],
)
def test_a_lone_surrogate_in_a_request_is_a_422_naming_the_field(client, body, field) -> None:
    if "%s" in body:
        filing = json.dumps(exchange()).replace("Steppe Exchange LLP", "Steppe \\ud800 LLP")
        body = body % filing
    response = post_json(client, "/api/v1/assessments", body)
    assert response.status_code == 422, response.get_data(as_text=True)
    assert [e["field"] for e in response.json["errors"]] == [field]
    response.get_data().decode("utf-8")  # the answer is UTF-8 text


def test_a_lone_surrogate_in_a_field_name_is_a_422(client) -> None:
    response = post_json(client, "/api/v1/assessments", '{"filing": {"\\ud800": 1}}')
    assert response.status_code == 422
    assert response.json["errors"][0]["field"] == "'\\ud800'"


@pytest.mark.parametrize(
    "name",
    [
        "Steppe\u202eLLP",
        "\u200b",
        "Steppe\tLLP",
        "Steppe\x85LLP",
        " \u3000 ",
        # LINE SEPARATOR and PARAGRAPH SEPARATOR: line breaks outside C0/C1
        "Steppe\u2028LLP",
        "Steppe\u2029LLP",
    ],
)
def test_names_that_cannot_be_shown_are_refused_by_the_api(client, name) -> None:
    body = {"filing": exchange(legal_name=name), "as_of": "2026-09-01"}
    response = client.post("/api/v1/assessments", json=body)
    assert response.status_code == 422
    assert [e["field"] for e in response.json["errors"]] == ["legal_name"]


# --- the filings API and the pages that show a filing --------------------------------------


@pytest.fixture
def member(make_user):  # type: ignore[no-untyped-def]
    return make_user("company")


@pytest.fixture
def auth(member, db_session):  # type: ignore[no-untyped-def]
    _, plaintext = issue_token(db_session, user=member, name="test")
    db_session.commit()
    return {"Authorization": f"Bearer {plaintext}"}


def test_the_filings_api_refuses_a_lone_surrogate_and_stores_nothing(
    client, auth, db_session
) -> None:
    response = post_json(client, "/api/v1/filings", SURROGATE_BODY, auth)
    assert response.status_code == 422
    assert [e["field"] for e in response.json["errors"]] == ["legal_name"]
    assert db_session.exec(select(Filing)).all() == []


def test_the_filings_api_stores_text_composed(client, auth, db_session) -> None:
    response = client.post("/api/v1/filings", json={"filing": {"legal_name": DECOMPOSED}},
                           headers=auth)  # fmt: skip
    assert response.status_code == 201, response.json
    assert response.json["inputs"]["legal_name"] == COMPOSED
    filing = db_session.get(Filing, response.json["id"])
    assert filing.inputs["legal_name"] == COMPOSED


def test_no_page_of_a_filing_fails_on_text_sent_through_the_api(
    app, client, auth, member, make_user, login
) -> None:
    created = client.post("/api/v1/filings", json={"filing": t1_exchange()}, headers=auth).json
    url = f"/api/v1/filings/{created['id']}"
    for name in ("Steppe \\ud800 LLP", "Steppe \\u202e LLP", "\\u200b", "A\\u0000B"):
        filing = json.dumps(t1_exchange()).replace('"Steppe Exchange LLP"', f'"{name}"')
        body = '{"lock_version": 1, "filing": ' + filing + "}"
        response = client.put(url, data=body, content_type="application/json", headers=auth)
        assert response.status_code == 422, name
        assert [e["field"] for e in response.json["errors"]] == ["legal_name"], name
    submitted = client.post(f"{url}/submit", headers=auth)
    assert submitted.status_code == 200, submitted.json
    login(client, member)
    for page in (f"/filings/{created['id']}", f"/filings/{created['id']}/print", "/filings"):
        assert client.get(page).status_code == 200, page
    reviewer = app.test_client()
    login(reviewer, make_user("admin"))
    assert reviewer.get(f"/review/filings/{created['id']}").status_code == 200


# --- the web form ---------------------------------------------------------------------------


def new_draft(client) -> int:  # type: ignore[no-untyped-def]
    response = client.post("/filings/new")
    assert response.status_code == 303
    return int(re.search(r"/filings/(\d+)/edit", response.headers["Location"]).group(1))


def test_the_web_form_keeps_names_composed_and_refuses_bidi_overrides(
    client, member, login, db_session
) -> None:
    login(client, member)
    filing_id = new_draft(client)
    data = {**form_data(t1_exchange(legal_name=DECOMPOSED)), "lock_version": "1"}
    response = client.post(f"/filings/{filing_id}/edit", data=data)
    assert response.status_code == 303, response.get_data(as_text=True)
    filing = db_session.get(Filing, filing_id)
    db_session.refresh(filing)
    assert filing.inputs["legal_name"] == COMPOSED
    for name in ("Steppe \u202e LLP", "\u200b\u200b", "Steppe\x1bLLP"):
        data = {**form_data(t1_exchange(legal_name=name)), "lock_version": "2"}
        response = client.post(f"/filings/{filing_id}/edit", data=data)
        assert response.status_code == 422, name
        page = response.get_data(as_text=True)
        assert re.search(r"Must (not contain|contain visible)", page), name
    assert client.get(f"/filings/{filing_id}/edit").status_code == 200


def test_the_anonymous_assessment_form_takes_decomposed_names(client) -> None:
    response = client.post("/assess", data=form_data(exchange(legal_name=DECOMPOSED)))
    assert response.status_code == 200
    assert "at most 200 characters" not in response.get_data(as_text=True)


# --- names people type: registration, tokens, review --------------------------------------

REGISTRATION = {
    "email": "text@steppe.kz",
    "password": "a long passphrase",
    "confirm": "a long passphrase",
    "bin": "940140000385",
    "activity": "exchange",
}


@pytest.mark.parametrize(
    "name", ["Steppe \u202eLLP", "\u200b", "Step\x85pe", "Step\x1bpe", "Step\u2028pe"]
)
def test_registration_refuses_names_that_cannot_be_shown(client, db_session, name) -> None:
    response = client.post("/register", data={**REGISTRATION, "legal_name": name})
    assert response.status_code == 200  # the form again, with the error
    assert "The name must" in response.get_data(as_text=True)
    assert db_session.exec(select(Company)).all() == []


def test_registration_keeps_the_name_composed(client, db_session) -> None:
    response = client.post("/register", data={**REGISTRATION, "legal_name": DECOMPOSED})
    assert response.status_code in (302, 303), response.get_data(as_text=True)
    (company,) = db_session.exec(select(Company)).all()
    assert company.legal_name == COMPOSED


def test_token_names_are_names(client, member, login, db_session) -> None:
    login(client, member)
    for name in ("\u200b", "ERP\x1bexport", "ERP \u202eexport"):
        assert client.post("/filings/tokens", data={"name": name}).status_code == 422
    assert client.post("/filings/tokens", data={"name": "Экспорт ERP"}).status_code == 200


@pytest.mark.usefixtures("cli_env")
def test_users_create_refuses_a_legal_name_that_is_not_text(db_session) -> None:
    # Bytes that are not UTF-8 on the command line reach Python as lone surrogates.
    name = "Steppe \udcff LLP"
    args = ["users", "create", "--role", "company", "--email", "x@steppe.kz", "--password",
            "a long passphrase", "--bin", "940140000385", "--legal-name", name]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code != 0 and "name" in result.output.lower()
    assert db_session.exec(select(User)).all() == []


# --- hub assess and --batch -----------------------------------------------------------------


@pytest.mark.usefixtures("no_database")  # the policy folder alone
def test_hub_assess_names_the_field_of_a_lone_surrogate(tmp_path: Path) -> None:
    f = tmp_path / "filing.json"
    f.write_text(
        json.dumps(exchange()).replace("Steppe Exchange LLP", "Steppe \\ud800 LLP"),
        encoding="utf-8",
    )
    result = CliRunner().invoke(main, ["assess", str(f), "--as-of", "2026-09-01", "--json"])
    assert result.exit_code == 1, result.output
    assert [e["field"] for e in json.loads(result.stdout)["errors"]] == ["legal_name"]
    result = CliRunner().invoke(main, ["assess", str(f), "--as-of", "2026-09-01"])
    assert result.exit_code == 1 and "legal_name" in result.stderr


@pytest.mark.usefixtures("no_database")  # the policy folder alone
def test_hub_assess_batch_refuses_only_the_line_with_bad_text(tmp_path: Path) -> None:
    good = json.dumps({"filing": exchange(legal_name=DECOMPOSED), "as_of": "2026-09-01"})
    bad = good.replace("Steppe", "St\\ud800eppe", 1)
    bidi = json.dumps({"filing": exchange(legal_name="A\u202eB"), "as_of": "2026-09-01"})
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join([good, bad, bidi, good]) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(
        main, ["assess", "--batch", str(source), "--out", str(out), "--workers", "1"]
    )
    assert result.exit_code == 1, result.output
    answers = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [("errors" in a) for a in answers] == [False, True, True, False]
    assert answers[1]["errors"][0]["field"] == "legal_name"
    assert answers[2]["errors"][0]["field"] == "legal_name"
    assert answers[0] == answers[3]


@pytest.mark.usefixtures("no_database")  # the policy folder alone
def test_surrogates_written_as_raw_bytes_are_refused_too(client, tmp_path: Path) -> None:
    # Python's JSON reader lets the bytes ED A0 80 through as a lone surrogate.
    body = json.dumps({"filing": exchange(), "as_of": "2026-09-01"}).encode()
    body = body.replace(b"Steppe Exchange", b"Steppe \xed\xa0\x80 Exchange")
    response = client.post("/api/v1/assessments", data=body, content_type="application/json")
    assert response.status_code in (400, 422), response.get_data(as_text=True)
    if response.status_code == 422:
        assert [e["field"] for e in response.json["errors"]] == ["legal_name"]
    source = tmp_path / "in.jsonl"
    source.write_bytes(body + b"\n")
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(main, ["assess", "--batch", str(source), "--out", str(out),
                                       "--workers", "1"])  # fmt: skip
    assert result.exit_code == 1, result.output
    (answer,) = [json.loads(line) for line in out.read_bytes().splitlines()]
    assert answer["errors"][0]["field"] in ("legal_name", None)


# --- a reviewer's texts, and policy files -------------------------------------------------


def test_reviewers_texts_may_span_lines_but_hold_no_other_controls(
    client, login, make_user, db_session
) -> None:
    from .test_review import _post, _reload  # the reviewer's form, as its tests post it

    member = make_user("company")
    _, plaintext = issue_token(db_session, user=member, name="t")
    db_session.commit()
    auth = {"Authorization": f"Bearer {plaintext}"}
    created = client.post("/api/v1/filings", json={"filing": t1_exchange()}, headers=auth).json
    assert client.post(f"/api/v1/filings/{created['id']}/submit", headers=auth).status_code == 200
    filing = db_session.get(Filing, created["id"])
    login(client, make_user("admin"))
    for message in ("Raise opex\x1b to 50m.", "Raise opex\x85 to 50m.", "Raise\u0007 opex."):
        response = _post(client, filing, "request-changes", message=message)
        assert response.status_code == 422, message
        assert "must not contain control characters" in response.get_data(as_text=True)
        assert _reload(db_session, filing).status == "submitted"
    decomposed = unicodedata.normalize("NFD", "Увеличьте расходы.\n\tСпасибо, Қазақ")
    response = _post(client, filing, "request-changes", message=decomposed)
    assert response.status_code == 302
    assert _reload(db_session, filing).reviewer_message == unicodedata.normalize("NFC", decomposed)


def test_policy_check_refuses_a_decomposed_choice_with_its_line(tmp_path: Path) -> None:
    source = Path(__file__).resolve().parents[2] / "policies/astana-crypto-hub/2026.1.yaml"
    text = source.read_text(encoding="utf-8").replace(
        "      none: No licence\n", "      " + unicodedata.normalize("NFD", "нет_й") + ": None\n"
    )
    line = text[: text.index(": None\n")].count("\n") + 1
    draft = tmp_path / "2026.1.yaml"
    draft.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(main, ["policy", "check", str(draft)])
    assert result.exit_code == 1
    assert f"2026.1.yaml:{line}: inputs.licence_type.choices: 'нет_й' is written in " in (
        result.output
    )
