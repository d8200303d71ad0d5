"""Dates typed on the publish and retire pages and on `hub policy publish|retire`: only
YYYY-MM-DD in ASCII digits is a date (never the week date 2026-W50-1, which
``date.fromisoformat`` reads as 2026-12-07), and a date at the end of the calendar is
shown or refused on the page, never a 500."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from tests.functional.test_policy_workflow_cli import cli_env, draft_file, hub, people, stored
from tests.functional.test_studio import author, author_client, new_draft, record
from tests.functional.test_studio_publish_pages import NOW, text

__all__ = ["author", "author_client", "cli_env", "people"]  # the fixtures, reused


@pytest.fixture(autouse=True)
def fixed_today(fix_clock: Callable[..., Any]) -> None:
    fix_clock(NOW)


@pytest.mark.parametrize("typed", ["2026-W50-1", "20261215", "٢٠٢٦-١٢-١٥", "2026-12-15 "])
def test_the_publish_page_reads_only_yyyy_mm_dd(author_client, db_session, typed):
    new_draft(author_client)
    response = author_client.get(f"/policies/2026.2/publish?effective_from={typed}")
    assert response.status_code == 422
    assert f"Effective from: {typed!r} is not a date: write it as YYYY-MM-DD." in text(response)
    response = author_client.post("/policies/2026.2/publish", data={"effective_from": typed})
    assert response.status_code == 422
    assert f"{typed!r} is not a date" in text(response)
    assert record(db_session, "2026.2").state == "draft"


def test_the_retire_page_reads_only_yyyy_mm_dd(author_client, db_session):
    response = author_client.post(
        "/policies/2027.1/retire", data={"retired_from": "2027-W23-2", "confirm": "2027-W23-2"}
    )
    assert response.status_code == 422
    assert "No longer applies from: '2027-W23-2' is not a date" in text(response)
    assert record(db_session, "2027.1").state == "published"


@pytest.mark.parametrize("day", ["9999-12-31", "9999-12-30", "9999-06-01"])
def test_a_date_at_the_end_of_the_calendar_is_never_a_500(author_client, db_session, day):
    new_draft(author_client)
    response = author_client.get(f"/policies/2026.2/publish?effective_from={day}")
    assert response.status_code == 422, text(response)  # shown, refused: not approved
    assert f"Publishing is refused on {day}" in text(response)
    response = author_client.post("/policies/2026.2/publish", data={"effective_from": day})
    assert response.status_code == 422, text(response)
    response = author_client.get(f"/policies/2027.1/retire?retired_from={day}")
    assert response.status_code == 200, text(response)
    assert f"From {day}, 2026.1 applies instead of 2027.1." in text(response)


def test_the_command_line_reads_only_yyyy_mm_dd(cli_env, db_session, people, tmp_path):
    result = hub("draft", str(draft_file(tmp_path)), "--by", "author@example.kz")
    assert result.exit_code == 0, result.output
    # 2027-W10-1 is 2027-03-08 to date.fromisoformat: a usage error here, nothing run.
    for typed in ("2027-W10-1", "20270308"):
        result = hub("publish", "2026.2", "--effective-from", typed, "--by", "author@example.kz")
        assert result.exit_code == 2, result.output
        assert f"'{typed}' is not a date: write it as YYYY-MM-DD" in result.output
        result = hub("retire", "2027.1", "--from", typed, "--by", "admin@example.kz")
        assert result.exit_code == 2, result.output
    assert stored(db_session, "2026.2").state == "draft"
    assert stored(db_session, "2027.1").retired_from is None
    assert dt.date.fromisoformat("2027-W10-1") == dt.date(2027, 3, 8)  # why it matters
