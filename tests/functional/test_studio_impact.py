"""The impact analysis compares a draft with the version otherwise in force on its date.

Issue 13: a draft based on 2026.1 and effective 2027-03-01 would replace 2027.1 from
that day, so its impact is measured against 2027.1 (and its self-hosted-wallet rule),
both assessed as of 2027-03-01; another date can be chosen, in the studio's form and
with ``hub policy impact --as-of``.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import object_session
from sqlmodel import Session, select

from hub.models import StudioJob
from tests.functional import test_studio as studio
from tests.functional import test_studio_cli as studio_cli
from tests.functional.test_studio import (
    POPULATION,
    html,
    job_id_of,
    new_draft,
    raise_kyc,
    record,
    save,
    wait_job,
)
from tests.functional.test_studio_cli import run

# The studio tests' fixtures, shared.
author = studio.author
author_client = studio.author_client
population = studio.population
cli_env = studio_cli.cli_env

WALLET_FLIP = {"criterion": "unhosted_wallet_checks", "before": "missing", "after": "absent"}
KYC_FLIP = {"criterion": "kyc_baseline", "before": "met", "after": "not_met"}


def draft_effective(client: FlaskClient, db: Session, day: dt.date, *, kyc: int = 96) -> None:
    """Draft 2026.2 from 2026.1, kyc_baseline raised to ``kyc``, effective ``day``."""
    assert new_draft(client).status_code == 302
    text = raise_kyc(record(db, "2026.2").text, to=kyc)
    new = text.replace("effective_from: 2026-07-01", f"effective_from: {day.isoformat()}")
    assert new != text
    assert save(client, db, "2026.2", text=new).status_code == 302
    assert record(db, "2026.2").effective_from == day


def start_impact(client: FlaskClient, db: Session, **form: str) -> StudioJob:
    job_id = job_id_of(client.post("/policies/2026.2/impact", data=form))
    view = wait_job(client, job_id)
    assert view["state"] == "done", view
    db.expire_all()
    job = db.get(StudioJob, job_id)
    assert job is not None and job.result is not None
    return job


def rows_of(job: StudioJob) -> dict[str, dict[str, Any]]:
    session = object_session(job)
    assert session is not None
    return {r["label"]: r for r in studio.stored_rows(session, job)}


@pytest.fixture
def december(fix_clock: Any) -> dt.date:
    """The hub's today: 2026-12-01, while 2026.1 is in force and 2027.1 is yet to come."""
    fix_clock(dt.datetime(2026, 12, 1, 6, tzinfo=dt.UTC))
    return dt.date(2026, 12, 1)


def test_a_draft_effective_after_2027_1_is_compared_with_2027_1_on_its_date(
    december, author_client, db_session, population
):
    draft_effective(author_client, db_session, dt.date(2027, 3, 1))
    page = html(author_client.get("/policies/2026.2"))
    assert 'name="as_of" value="2027-03-01"' in page  # the form's default: the effective date
    job = start_impact(author_client, db_session)
    assert (job.as_of, job.against) == (dt.date(2027, 3, 1), "2027.1")
    assert job.result is not None
    assert (job.result["as_of"], job.result["against"]) == ("2027-03-01", "2027.1")
    rows = rows_of(job)
    # 2027.1's self-hosted-wallet rule is what the draft would drop for every company
    # it applies to (its kyc baseline of 97 is above the draft's 96: nobody here is between).
    broker = rows["Transparent Broker LLP"]
    assert broker["before"]["version"] == "2027.1" and WALLET_FLIP in broker["flipped"]
    assert WALLET_FLIP in rows["Kyc 99 Exchange LLP"]["flipped"]
    assert rows["Low Kyc Broker LLP"]["flipped"] == [WALLET_FLIP]
    assert rows["Software House LLP"]["flipped"] == []
    page = html(author_client.get(f"/policies/jobs/{job.id}"))
    assert "Impact analysis of 2026.2 against 2027.1, both as of 2027-03-01" in page
    assert "2026.2 against 2027.1, both as of 2027-03-01" in page
    assert "unhosted_wallet_checks: missing → absent" in page


def test_an_analysis_beyond_the_newest_kept_says_its_rows_were_deleted(
    december, app, author_client, db_session, population
):
    """With HUB_IMPACT_KEEP_RUNS=1 the worker deletes the first analysis's rows once the
    second is done: its page keeps the totals and says so, the second lists its rows."""
    app.config["IMPACT_KEEP_RUNS"] = 1
    draft_effective(author_client, db_session, dt.date(2027, 3, 1))
    first = start_impact(author_client, db_session, as_of="2026-12-15")
    assert rows_of(first)  # kept while it is the newest
    second = start_impact(author_client, db_session)
    deadline = time.monotonic() + 20  # the worker prunes once the job is done
    while True:
        db_session.refresh(first)
        assert first.result is not None
        if "rows_pruned_at" in first.result or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert first.result["rows_pruned_at"]
    assert rows_of(first) == {} and rows_of(second)
    page = html(author_client.get(f"/policies/jobs/{first.id}"))
    assert 'id="rows-pruned"' in page and "Low Kyc Broker LLP" not in page
    assert 'id="benefit-totals"' in page  # the totals stay
    page = html(author_client.get(f"/policies/jobs/{second.id}"))
    assert 'id="rows-pruned"' not in page and 'id="impact-rows"' in page


def test_a_chosen_date_changes_the_baseline_and_the_assessment_date(
    december, author_client, db_session, population
):
    draft_effective(author_client, db_session, dt.date(2027, 3, 1))
    job = start_impact(author_client, db_session, as_of="2026-12-15")
    assert (job.as_of, job.against) == (dt.date(2026, 12, 15), "2026.1")
    assert job.result is not None
    assert (job.result["as_of"], job.result["against"]) == ("2026-12-15", "2026.1")
    rows = rows_of(job)
    changed = {label for label, r in rows.items() if r["changed"]}
    assert changed == {"Kyc 95 Exchange LLP", "Kyc 95.5 Exchange LLP", "Low Kyc Broker LLP"}
    assert rows["Low Kyc Broker LLP"]["flipped"] == [KYC_FLIP]
    assert all(WALLET_FLIP not in r["flipped"] for r in rows.values())
    page = html(author_client.get(f"/policies/jobs/{job.id}"))
    assert "Impact analysis of 2026.2 against 2026.1, both as of 2026-12-15" in page


def test_the_date_defaults_to_today_once_the_effective_date_is_past(
    december, author_client, db_session, population
):
    assert new_draft(author_client).status_code == 302  # 2026.1's text: effective 2026-07-01
    page = html(author_client.get("/policies/2026.2"))
    assert 'name="as_of" value="2026-12-01"' in page
    job = start_impact(author_client, db_session, as_of="")
    assert (job.as_of, job.against) == (dt.date(2026, 12, 1), "2026.1")
    page = html(author_client.get("/policies/2026.2/impact"))
    assert "2026.2 against 2026.1, both as of 2026-12-01" in page


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("20261215", "Write the date as YYYY-MM-DD"),
        ("2026-02-30", "Write the date as YYYY-MM-DD"),
        ("２０２６-12-15", "Write the date as YYYY-MM-DD"),  # fullwidth digits
        ("٢٠٢٦-١٢-١٥", "Write the date as YYYY-MM-DD"),  # Arabic-Indic digits
        ("2026-01-01", "no policy version is in force on 2026-01-01"),
    ],
)
def test_a_bad_date_is_a_field_error_and_starts_nothing(
    december, author_client, db_session, typed, message
):
    draft_effective(author_client, db_session, dt.date(2027, 3, 1))
    response = author_client.post("/policies/2026.2/impact", data={"as_of": typed})
    assert response.status_code == 422
    page = html(response)
    assert 'id="err-as_of"' in page and message in page and 'aria-invalid="true"' in page
    assert db_session.exec(select(StudioJob)).all() == []


def test_the_impact_form_says_what_it_compares(december, author_client, db_session):
    draft_effective(author_client, db_session, dt.date(2027, 3, 1))
    page = html(author_client.get("/policies/2026.2/impact"))
    assert 'value="2027-03-01"' in page
    assert "2026.2 against 2027.1, both as of 2027-03-01" in page
    page = html(author_client.get("/policies/2026.2/impact?as_of=2026-12-15"))
    assert "2026.2 against 2026.1, both as of 2026-12-15" in page
    assert author_client.get("/policies/2026.2/impact?as_of=x").status_code == 422


# --- hub policy impact ----------------------------------------------------------------------------


def later_than_2027_1(today: dt.date) -> dt.date:
    """A day after 2027.1 took effect and after today (the CLI reads the system clock)."""
    return max(dt.date(2027, 3, 1), today + dt.timedelta(days=30))


def test_the_command_compares_with_the_version_in_force_on_the_effective_date(
    cli_env, clock, author_client, db_session, population
):
    day = later_than_2027_1(clock.today())
    draft_effective(author_client, db_session, day)
    result = run("policy", "impact", "2026.2", "--all")
    assert result.exit_code == 0, result.output
    assert f"2026.2 against 2027.1, both as of {day.isoformat()}" in result.output
    assert f"2027.1: the version otherwise in force on {day.isoformat()}" in result.output
    assert "unhosted_wallet_checks missing->absent" in result.output
    # Another date: the version in force then, assessed then.
    result = run("policy", "impact", "2026.2", "--as-of", "2026-12-15", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert (data["as_of"], data["against"]) == ("2026-12-15", "2026.1")
    assert {r["label"] for r in data["rows"] if r["changed"]} == {
        "Kyc 95 Exchange LLP",
        "Kyc 95.5 Exchange LLP",
        "Low Kyc Broker LLP",
    }
    assert data["totals"]["companies"] == len(POPULATION)
    # --against stays an explicit override (on the default date).
    result = run("policy", "impact", "2026.2", "--against", "2026.1")
    assert result.exit_code == 0, result.output
    assert f"2026.2 against 2026.1, both as of {day.isoformat()}" in result.output
    assert "2026.1: named with --against" in result.output


def test_the_command_refuses_a_date_without_a_version_or_not_a_date(
    cli_env, author_client, db_session
):
    draft_effective(author_client, db_session, dt.date(2027, 3, 1))
    result = run("policy", "impact", "2026.2", "--as-of", "2026-01-01")
    assert result.exit_code == 1
    assert "no policy version is in force on 2026-01-01" in result.output
    assert "--against" in result.output
    for typed in ("20261215", "2026-02-30", "２０２６-12-15"):
        result = run("policy", "impact", "2026.2", "--as-of", typed)
        assert result.exit_code == 2 and "--as-of" in result.output, typed


def test_the_publish_page_runs_the_impact_as_of_the_date_being_published(
    december, author_client, db_session, population
):
    draft_effective(author_client, db_session, dt.date(2027, 3, 1))
    start_impact(author_client, db_session)
    page = html(author_client.get("/policies/2026.2/publish?effective_from=2027-03-01"))
    assert "assessed on 2027-03-01, 2026.2 against 2027.1" in page
    assert 'id="impact-on-date"' not in page  # the analysis is of this very date
    page = html(author_client.get("/policies/2026.2/publish?effective_from=2026-12-20"))
    assert 'id="impact-on-date"' in page and 'name="as_of" value="2026-12-20"' in page
    job = start_impact(author_client, db_session, as_of="2026-12-20")
    assert (job.as_of, job.against) == (dt.date(2026, 12, 20), "2026.1")
