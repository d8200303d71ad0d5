"""Answering ahead of a version: a company warned that 2027.1 will demote it files what
2027.1 asks before 2027-01-01, through the form and the API, and the warning closes.

Before: a draft was checked against the version in force alone, so the input the warning
named (``unhosted_wallet_verified_pct``) was refused as "unknown field for policy 2026.1"
until the day the company had already lost its tier.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from flask import Flask
from sqlmodel import Session, col, select

from hub.app_catalogue import catalogue
from hub.auth.tokens import issue_token
from hub.clock import Clock
from hub.db import get_engine
from hub.models import CompanyWarning, Filing
from hub.policy import PolicyRegistry
from hub.policy.watch import POLICY_CHANGE
from hub.services import filings as filing_svc
from hub.services.watch import run_watch
from tests.functional.filing_support import submit_filing

NEW_YEAR = dt.date(2027, 1, 1)  # 2027.1 takes effect
NEW_INPUT = "unhosted_wallet_verified_pct"
# A Tuesday in November 2026, 10:00 in Almaty: 2027.1 is published and 46 days ahead.
NOVEMBER = dt.datetime(2026, 11, 17, 5, tzinfo=dt.UTC)
# T3 under 2026.1 and under 2027.1 once 2027.1's new input is answered (T1 without it).
T3 = {"opex_in_zone_kzt": 100_000_000.0}


@pytest.fixture
def today(fix_clock) -> dt.date:
    return fix_clock(NOVEMBER).today()


@pytest.fixture
def registry(app: Flask, today: dt.date) -> PolicyRegistry:
    with app.app_context():
        return catalogue().registry()


def _watch(app: Flask, registry: PolicyRegistry, as_of: dt.date) -> None:
    run_watch(get_engine(app), registry=registry, as_of=as_of, clock=Clock())


def _open_policy_change(db_session: Session, company_id: int) -> list[CompanyWarning]:
    db_session.expire_all()
    return list(
        db_session.exec(
            select(CompanyWarning).where(
                CompanyWarning.company_id == company_id,
                CompanyWarning.kind == POLICY_CHANGE,
                col(CompanyWarning.closed_on).is_(None),
            )
        ).all()
    )


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def _form_fields(html: str) -> dict[str, Any]:
    """The values a browser would post for the edit form's text and number inputs."""
    form = html[html.index('id="filing-form"') :]
    form = form[: form.index("</form>")]
    data: dict[str, Any] = {}
    for tag in re.findall(r"<input [^>]*>", form):
        name = re.search(r'name="([^"]+)"', tag)
        if not name:
            continue
        kind = re.search(r'type="([^"]+)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if kind and kind.group(1) in ("radio", "checkbox"):
            if "checked" in tag and value:
                data.setdefault(name.group(1), []).append(value.group(1))
            continue
        data[name.group(1)] = value.group(1) if value else ""
    for select_tag in re.findall(r'<select [^>]*name="([^"]+)"[^>]*>(.*?)</select>', form, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected', select_tag[1])
        data[select_tag[0]] = chosen.group(1) if chosen else ""
    return data


def test_a_warned_company_files_the_new_input_in_the_form_and_the_warning_closes(
    app, client, db_session, registry, today, make_company, make_user, login
):
    company = make_company()
    certified = submit_filing(db_session, registry, Clock.fixed(NOVEMBER), company, **T3)
    assert certified.tier_claimed == "T3"
    _watch(app, registry, today)
    [warning] = _open_policy_change(db_session, company.id)
    assert warning.details["tier_after"] == "T1"
    assert any(NEW_INPUT in step for step in warning.details["todo"])

    login(client, make_user(company=company))
    home = client.get("/company").get_data(as_text=True)
    revise = client.post(
        f"/filings/{certified.id}/revise",
        data={"csrf_token": _csrf(home), "lock_version": certified.lock_version},
    )
    assert revise.status_code == 303
    edit_url = revise.headers["Location"]
    page = client.get(edit_url).get_data(as_text=True)
    # the question 2027.1 asks is in the form, in a group that says when it counts
    assert "Asked from version 2027.1, in force from 2027-01-01" in page
    assert f'name="{NEW_INPUT}"' in page
    assert "Version 2027.1 cannot decide the saved draft yet" not in page  # it is missing
    assert "would reach <strong>Registered" in page  # T1 under 2027.1 without it

    data = _form_fields(page)
    data[NEW_INPUT] = "100"
    data["action"] = "check"
    saved = client.post(edit_url, data=data)
    assert saved.status_code == 303, saved.get_data(as_text=True)[:2000]
    page = client.get(edit_url).get_data(as_text=True)
    assert f'name="{NEW_INPUT}"' in page and 'value="100' in page
    assert "would reach <strong>Full disclosure" in page  # T3 kept under 2027.1
    draft_id = int(edit_url.rstrip("/").split("/")[-2])
    draft = db_session.get(Filing, draft_id)
    db_session.refresh(draft)
    assert draft.inputs[NEW_INPUT] == 100.0

    data = _form_fields(page)
    data["action"] = "submit"
    saved = client.post(edit_url, data=data)
    assert saved.status_code == 303
    confirm = client.get(saved.headers["Location"]).get_data(as_text=True)
    assert "From 2027-01-01" in confirm and "these answers would reach Full disclosure" in confirm
    lock = re.search(r'name="lock_version" value="(\d+)"', confirm)
    assert lock
    submitted = client.post(
        saved.headers["Location"],
        data={"csrf_token": _csrf(confirm), "lock_version": lock.group(1), "confirm": "yes"},
    )
    assert submitted.status_code == 303
    db_session.refresh(draft)
    assert draft.status == "submitted" and draft.policy_version == "2026.1"
    assert draft.tier_claimed == "T3" and draft.inputs[NEW_INPUT] == 100.0
    # the filing's page shows the answer with its label
    detail = client.get(f"/filings/{draft.id}").get_data(as_text=True)
    label = registry.get("2027.1").inputs_by_name[NEW_INPUT].label
    assert label in detail

    _watch(app, registry, today + dt.timedelta(days=1))
    assert _open_policy_change(db_session, company.id) == []


def _api(client, token: str, method: str, url: str, body: Any) -> Any:
    return client.open(url, method=method, json=body, headers={"Authorization": f"Bearer {token}"})


def test_the_api_takes_answers_ahead_checked_against_the_version_that_asks_them(
    app, client, db_session, registry, today, make_company, make_user
):
    company = make_company()
    user = make_user(company=company)
    token = issue_token(db_session, user=user, name="ahead")[1]
    db_session.commit()
    created = _api(client, token, "POST", "/api/v1/filings", {"filing": {NEW_INPUT: 100}})
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["inputs"][NEW_INPUT] == 100
    url = f"/api/v1/filings/{body['id']}"
    # a value 2027.1 refuses is refused now, named
    lock = body["lock_version"]
    bad = _api(client, token, "PUT", url, {"filing": {NEW_INPUT: 150}, "lock_version": lock})
    assert bad.status_code == 422
    assert [e["field"] for e in bad.get_json()["errors"]] == [NEW_INPUT]
    # a name no version asks is still unknown, and the message names both versions
    typo = _api(
        client, token, "PUT", url, {"filing": {"unhosted_wallet_pct": 100}, "lock_version": lock}
    )
    assert typo.status_code == 422
    [error] = typo.get_json()["errors"]
    assert error == {
        "field": "unhosted_wallet_pct",
        "message": "unknown field for policy 2026.1 or 2027.1",
    }


def test_without_a_version_ahead_the_input_is_unknown(app, db_session, make_company, fix_clock):
    """With no version published ahead (2026.1 alone), the name is unknown as it always
    was: answers ahead are taken only for a version that asks them."""
    only_2026 = PolicyRegistry([catalogue_of(app).get("2026.1")])
    company = make_company()
    with pytest.raises(filing_svc.FilingRejected) as refused:
        filing_svc.create_draft(
            db_session,
            company=company,
            actor_id=None,
            inputs={NEW_INPUT: 100},
            registry=only_2026,
            today=dt.date(2026, 11, 17),
        )
    assert refused.value.errors == [
        {"field": NEW_INPUT, "message": "unknown field for policy 2026.1"}
    ]


def catalogue_of(app: Flask) -> PolicyRegistry:
    with app.app_context():
        return catalogue().registry()


def test_the_answer_ahead_is_read_by_2027_1_from_its_first_day_only(
    db_session, registry, today, make_company
):
    """The version in force decides without the answer (an unmet 2027.1 criterion does not
    touch the 2026.1 decision); the same stored filing decided on 2027-01-01 reads it."""
    company = make_company()
    filing = submit_filing(
        db_session, registry, Clock.fixed(NOVEMBER), company, **T3, **{NEW_INPUT: 50.0}
    )
    assert filing.policy_version == "2026.1" and filing.tier_claimed == "T3"
    assert filing.inputs[NEW_INPUT] == 50.0
    [(later, decision)] = filing_svc.assess_upcoming(filing, registry=registry, today=today)
    assert later.version == "2027.1" and decision is not None
    assert decision.tier == "T1"  # 50 % is short of 2027.1's 100 %
    met = {c.id: c.status for c in decision.criteria()}
    assert met["unhosted_wallet_checks"] == "not_met"
