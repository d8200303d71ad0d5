"""The studio's approval, publish and retire pages through the test client (real database,
real background jobs): a second person approves, the publish page runs nothing and shows
the plan, shadowing a later version needs an explicit confirmation, retirement."""

from __future__ import annotations

import datetime as dt
import html as markup
import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, select

from hub.app_catalogue import catalogue
from hub.models import AuditRecord, Role, StudioJob, User
from tests.functional.publishing_support import approve_draft
from tests.functional.test_studio import (
    author,
    author_client,
    green_draft,
    html,
    new_draft,
    record,
    run_impact,
    save,
)

__all__ = ["author", "author_client"]  # the fixtures, reused

#: the hub's today in these tests (the shipped versions: 2026.1 from 2026-07-01, 2027.1
#: from 2027-01-01)
NOW = dt.datetime(2026, 11, 29, 6, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def fixed_today(fix_clock: Callable[..., Any]) -> None:
    fix_clock(NOW)


@pytest.fixture
def second(app: Flask, make_user: Callable[..., User], login: Callable[..., Any]) -> FlaskClient:
    """Another author's client: the second person."""
    client = app.test_client()
    login(client, make_user(Role.AUTHOR, email="second@example.kz"))
    return client


def text(response: Any) -> str:
    """The page as words: tags dropped, spaces collapsed."""
    words = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html(response)))
    return markup.unescape(re.sub(r" ([.,;:])", r"\1", words))


def lock_of(db: Session, version: str = "2026.2") -> int:
    """The stored revision of a draft."""
    return record(db, version).lock_version


def items(page: str, list_id: str) -> list[str]:
    """The items of the list ``list_id`` of a page, as text."""
    body = page.split(f'id="{list_id}"', 1)[1].split("</ul>", 1)[0]
    return [markup.unescape(i) for i in re.findall(r"<li>([^<]*)</li>", body)]


def ready(
    client: FlaskClient, db: Session, make_user: Callable[..., User], day: str = "2026-12-15"
) -> None:
    """Draft 2026.2 (from 2026.1): scenarios green, impact run as of ``day``, approved by a
    second person."""
    green_draft(client, db)
    run_impact(client, db, "2026.2", day)
    approve_draft(db, make_user, "2026.2")


# --- approval -------------------------------------------------------------------------------


def test_the_editor_cannot_approve_their_draft_and_is_told_why(author_client, db_session):
    new_draft(author_client)
    page = html(author_client.get("/policies/2026.2"))
    assert 'id="approve-draft"' not in page
    assert "You created or saved this draft, so you cannot approve it" in page
    response = author_client.post(
        "/policies/2026.2/approve", data={"lock_version": record(db_session, "2026.2").lock_version}
    )
    assert response.status_code == 403
    assert "edited version 2026.2 and cannot approve it" in html(response)
    assert record(db_session, "2026.2").approved_by_id is None


@pytest.mark.parametrize("role", [Role.AUTHOR, Role.ADMIN])
def test_a_second_person_approves_and_a_later_save_voids_it(
    app, author_client, db_session, make_user, login, role
):
    new_draft(author_client)
    who = make_user(role, email="second@example.kz")
    client = app.test_client()
    login(client, who)
    page = text(client.get("/policies/2026.2"))
    assert "Revision 1: not approved yet." in page and "Approve this draft" in page
    response = client.post("/policies/2026.2/approve", data={"lock_version": 1})
    assert response.status_code == 302, html(response)
    rec = record(db_session, "2026.2")
    assert (rec.approved_by_id, rec.approved_revision) == (who.id, 1)
    entry = db_session.exec(select(AuditRecord).where(AuditRecord.action == "policy.approved"))
    assert entry.one().actor_id == who.id
    page = text(client.get("/policies/2026.2"))
    assert "Revision 1: approved by second@example.kz at revision 1" in page
    assert "Approve this draft" not in page
    # The author saves again: the approval is void, and the second person may approve anew.
    assert save(author_client, db_session, "2026.2").status_code == 302
    page = text(client.get("/policies/2026.2"))
    assert (
        "approval by second@example.kz at revision 1 voided by a later save (now revision 2)"
        in page
    )
    assert "Approve this draft" in page
    # An approval of the revision read before that save is refused, on the page.
    response = client.post("/policies/2026.2/approve", data={"lock_version": 1})
    assert response.status_code == 409
    assert "was saved again after you read it" in html(response)
    assert record(db_session, "2026.2").approved_revision == 1


# --- the publish page ------------------------------------------------------------------------


def many_scenarios(features: str, rows: int) -> str:
    """The draft's scenarios plus one file with an outline of ``rows`` examples."""
    background = re.search(r"\n  Background:.*?\n\n", features, re.S)
    assert background
    table = "\n".join(f"      | {97 + i / 10_000:.4f} | met    |" for i in range(rows))
    return (
        features.rstrip("\n")
        + "\n# ==== many.feature ====\nFeature: Many rows\n"
        + background.group(0)
        + "  @v2026.2\n  Scenario Outline: kyc at many points above the baseline\n"
        + "    Given its clients are <pct>% identity-verified\n"
        + "    When the company is assessed\n"
        + "    Then criterion kyc_baseline is <status>\n\n"
        + "    Examples:\n      | pct    | status |\n"
        + table
        + "\n"
    )


def test_the_publish_page_runs_nothing_and_offers_a_run(author_client, db_session):
    new_draft(author_client)
    rec = record(db_session, "2026.2")
    response = save(
        author_client, db_session, "2026.2", features_text=many_scenarios(rec.features_text, 3000)
    )
    assert response.status_code == 302, text(response)[:2000]
    response = author_client.get("/policies/2026.2/publish?effective_from=2026-12-15")
    page = text(response)
    assert "No run yet of the current text and scenarios." in page
    assert 'id="run-specs"' in html(response)
    assert "no finished scenario run for the current text and scenarios" in page
    assert db_session.exec(select(StudioJob)).first() is None  # nothing started, nothing run
    # Running 3,000 scenarios takes seconds of CPU; the page (templates compiled) takes
    # milliseconds. The test client serves in this thread, so this thread's CPU time is the
    # request's work, whatever else the machine is doing.
    start = time.thread_time()
    assert author_client.get("/policies/2026.2/publish?effective_from=2026-12-15").status_code
    took = time.thread_time() - start
    assert took < 1.0, f"the publish page took {took:.2f} s of CPU"


def test_the_publish_page_shows_the_last_finished_run_and_links_to_it(author_client, db_session):
    green_draft(author_client, db_session)
    job = db_session.exec(select(StudioJob).where(StudioJob.kind == "specs")).one()
    page = html(author_client.get("/policies/2026.2/publish?effective_from=2026-12-15"))
    assert re.search(r'id="spec-summary">\s*All \d+ scenarios pass', page)
    assert f'href="/policies/jobs/{job.id}">run {job.id}</a>' in page
    # A save changes the text: that run no longer counts.
    rec = record(db_session, "2026.2")
    save(author_client, db_session, "2026.2", text=rec.text.replace("value: 96,", "value: 97,"))
    page = text(author_client.get("/policies/2026.2/publish?effective_from=2026-12-15"))
    assert "No run yet of the current text and scenarios." in page


def test_publishing_without_a_second_persons_approval_is_refused(author_client, db_session):
    green_draft(author_client, db_session)
    run_impact(author_client, db_session, "2026.2")
    response = author_client.get("/policies/2026.2/publish?effective_from=2026-12-15")
    page = text(response)
    assert "Publishing is refused on 2026-12-15" in page
    assert "it has not been approved by a second person" in page
    assert 'id="confirm-publish"' not in html(response)
    response = author_client.post(
        "/policies/2026.2/publish",
        data={"effective_from": "2026-12-15", "lock_version": lock_of(db_session)},
    )
    assert response.status_code == 422
    assert re.search(
        r'data-field="effective_from"><strong>Effective from:</strong> Version 2026.2 cannot be '
        r"published: it has not been approved by a second person",
        html(response),
    )
    assert record(db_session, "2026.2").state == "draft"


def test_a_date_that_is_not_a_date_is_shown_with_its_field(author_client, db_session):
    new_draft(author_client)
    response = author_client.get("/policies/2026.2/publish?effective_from=2026-13-45")
    assert response.status_code == 422
    assert "Effective from: '2026-13-45' is not a date" in text(response)
    response = author_client.post("/policies/2026.2/publish", data={"effective_from": "soon"})
    assert response.status_code == 422
    assert "Effective from: 'soon' is not a date" in text(response)


def test_publishing_on_its_base_shows_the_plan_and_the_timeline_after(
    app, author_client, db_session, make_user
):
    ready(author_client, db_session, make_user)
    page = text(author_client.get("/policies/2026.2/publish?effective_from=2026-12-15"))
    assert (
        "From 2026-12-15, 2026.2 replaces 2026.1, the version that would otherwise be in "
        "force then." in page
    )
    assert "It is based on 2026.1: the version it replaces." in page
    assert "It stays in force to 2026-12-31; from 2027-01-01 2027.1 takes over." in page
    assert "changes input kyc_verified_clients_pct" not in page
    assert "confirm-changes" not in page
    after = page.split("The timeline after publication", 1)[1]
    assert (
        "2026-12-15 2026-12-31 2026.2 2026.2 takes effect on 2026-12-15; replaced by 2027.1 "
        "from 2027-01-01." in after
    )
    response = author_client.post(
        "/policies/2026.2/publish",
        data={"effective_from": "2026-12-15", "lock_version": lock_of(db_session)},
    )
    assert response.status_code == 302, text(response)
    assert record(db_session, "2026.2").state == "published"


def test_shadowing_a_later_version_needs_the_confirmation_of_every_change(
    app, author_client, db_session, make_user, author
):
    day = "2027-03-01"  # after 2027.1 takes effect: 2026.2 (based on 2026.1) would replace it
    ready(author_client, db_session, make_user, day)
    response = author_client.get(f"/policies/2026.2/publish?effective_from={day}")
    page = text(response)
    assert "From 2027-03-01, 2026.2 replaces 2027.1" in page
    assert "It is based on 2026.1, not on 2027.1, the version it replaces." in page
    changes = items(html(response), "plan-changes")
    assert changes and any("self_hosted" in c or "wallet" in c for c in changes), changes
    assert all(c in page for c in changes)
    confirmation = re.search(
        r'name="confirmation" value="([0-9a-f]+)"[^>]*required', html(response)
    )
    assert confirmation
    lock = record(db_session, "2026.2").lock_version
    # Without the box ticked: refused, the changes named, on the page.
    response = author_client.post(
        "/policies/2026.2/publish", data={"effective_from": day, "lock_version": lock}
    )
    assert response.status_code == 422
    refused = html(response)
    assert 'data-field="confirmation"' in refused and 'id="confirmation-error"' in refused
    assert "Publishing needs an explicit confirmation" in refused
    assert record(db_session, "2026.2").state == "draft"
    # A confirmation of other changes (a stale page) is refused too.
    response = author_client.post(
        "/policies/2026.2/publish",
        data={"effective_from": day, "lock_version": lock, "confirmation": "0" * 12},
    )
    assert response.status_code == 422 and record(db_session, "2026.2").state == "draft"
    # Ticked: published, the confirmed changes in the audit trail.
    response = author_client.post(
        "/policies/2026.2/publish",
        data={"effective_from": day, "lock_version": lock, "confirmation": confirmation.group(1)},
    )
    assert response.status_code == 302, text(response)
    assert record(db_session, "2026.2").state == "published"
    entry = db_session.exec(
        select(AuditRecord).where(AuditRecord.action == "policy.published")
    ).one()
    assert entry.actor_id == author.id and entry.after["confirmed_changes"] == changes
    assert "2027-03-01 no end date 2026.2" in text(author_client.get("/policies"))


# --- retirement -------------------------------------------------------------------------------


def test_retiring_a_published_version(app, author_client, db_session, author):
    page = html(author_client.get("/policies/2027.1"))
    assert 'action="/policies/2027.1/retire"' in page and 'name="retired_from"' in page
    response = author_client.get("/policies/2027.1/retire?retired_from=2027-06-01")
    assert response.status_code == 200
    page = text(response)
    assert "From 2027-06-01, 2026.1 applies instead of 2027.1." in page
    changes = items(html(response), "retire-changes")
    assert changes and all(c in page for c in changes)
    assert "2026.1 applies again from 2027-06-01 (2027.1 is retired from 2027-06-01)" in page
    # A date in the past is refused on the page; so is a post without the box ticked.
    response = author_client.get("/policies/2027.1/retire?retired_from=2026-11-01")
    assert "Retiring is refused" in text(response) and "is in the past" in text(response)
    response = author_client.post("/policies/2027.1/retire", data={"retired_from": "2027-06-01"})
    assert response.status_code == 422
    assert "Confirmation: Tick the box" in text(response)
    assert record(db_session, "2027.1").state == "published"
    response = author_client.post(
        "/policies/2027.1/retire", data={"retired_from": "2027-06-01", "confirm": "2027-06-01"}
    )
    assert response.status_code == 302, text(response)
    rec = record(db_session, "2027.1")
    assert (rec.state, rec.retired_from, rec.retired_by_id) == (
        "retired",
        dt.date(2027, 6, 1),
        author.id,
    )
    assert db_session.exec(select(AuditRecord).where(AuditRecord.action == "policy.retired")).one()
    # Retired twice: refused on the page, never a 500.
    response = author_client.post(
        "/policies/2027.1/retire", data={"retired_from": "2027-07-01", "confirm": "2027-07-01"}
    )
    assert response.status_code == 409 and "already retired" in text(response)


def test_a_retired_version_is_on_the_timeline_and_out_of_force(app, author_client, db_session):
    """After a retirement through the page, every surface reads it from the catalogue: the
    timeline says it and the registry selects the version that applies again."""
    response = author_client.post(
        "/policies/2027.1/retire", data={"retired_from": "2027-06-01", "confirm": "2027-06-01"}
    )
    assert response.status_code == 302, text(response)
    page = text(author_client.get("/policies"))
    assert (
        "2027-01-01 2027-05-31 2027.1 2027.1 takes effect on 2027-01-01; retired from 2027-06-01."
        in page
    )
    assert (
        "2027-06-01 no end date 2026.1 2026.1 applies again from 2027-06-01 (2027.1 is retired "
        "from 2027-06-01)." in page
    )
    assert "Retired: 2027.1 retired from 2027-06-01 (decisions made under it keep it)." in page
    page = text(author_client.get("/policies/2027.1"))
    assert "In force from 2027-01-01 to 2027-05-31" in page
    assert (
        "Retired from 2027-06-01 (the first day it no longer applies), by author@example.kz" in page
    )
    with app.app_context():
        registry = catalogue().registry()
        assert registry.select(dt.date(2027, 5, 31)).version == "2027.1"
        assert registry.select(dt.date(2027, 6, 1)).version == "2026.1"


# --- administrators ---------------------------------------------------------------------------


def test_an_administrator_publishes_and_retires_from_the_studio_pages(
    app, author_client, db_session, make_user, login
):
    """The pages let whom the service lets (an author or an administrator), not authors
    only: an administrator runs the impact analysis, publishes and retires."""
    admin = make_user(Role.ADMIN, email="admin@example.kz")
    client = app.test_client()
    login(client, admin)
    green_draft(author_client, db_session)
    run_impact(client, db_session, "2026.2", "2026-12-15")
    approve_draft(db_session, make_user, "2026.2")
    page = html(client.get("/policies/2026.2"))
    assert 'href="/policies/2026.2/publish"' in page and "Discard draft" not in page
    response = client.get("/policies/2026.2/publish?effective_from=2026-12-15")
    assert response.status_code == 200 and 'id="confirm-publish"' in html(response)
    response = client.post(
        "/policies/2026.2/publish",
        data={"effective_from": "2026-12-15", "lock_version": lock_of(db_session)},
    )
    assert response.status_code == 302, text(response)
    rec = record(db_session, "2026.2")
    assert (rec.state, rec.published_by_id) == ("published", admin.id)

    assert 'action="/policies/2026.2/retire"' in html(client.get("/policies/2026.2"))
    assert client.get("/policies/2026.2/retire?retired_from=2026-12-20").status_code == 200
    response = client.post(
        "/policies/2026.2/retire", data={"retired_from": "2026-12-20", "confirm": "2026-12-20"}
    )
    assert response.status_code == 302, text(response)
    rec = record(db_session, "2026.2")
    assert (rec.state, rec.retired_by_id) == ("retired", admin.id)


def test_an_administrator_never_approves_their_own_edits(
    app, author_client, db_session, make_user, login
):
    from hub.studio import drafts

    admin = make_user(Role.ADMIN, email="admin@example.kz")
    new_draft(author_client)
    rec = record(db_session, "2026.2")
    drafts.save_draft(  # as `hub policy draft --by admin@...` saves it
        db_session, record=rec, text=rec.text, features_text=None,
        lock_version=rec.lock_version, author=admin,
    )  # fmt: skip
    db_session.commit()
    client = app.test_client()
    login(client, admin)
    page = text(client.get("/policies/2026.2"))
    assert "You created or saved this draft, so you cannot approve it" in page
    response = client.post("/policies/2026.2/approve", data={"lock_version": lock_of(db_session)})
    assert response.status_code == 403 and "cannot approve it" in html(response)
    assert record(db_session, "2026.2").approved_by_id is None
