"""The filing service on a real database: every transition, allowed and forbidden."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import select

from hub import audit
from hub.errors import status_of
from hub.models import Assessment, AuditRecord, Filing
from hub.policy import PolicyRegistry
from hub.services import filings as svc

from .filing_support import t1_exchange

TODAY = dt.date(2026, 9, 1)


@pytest.fixture
def registry(app) -> PolicyRegistry:
    return PolicyRegistry.from_directory(app.config["POLICY_DIR"])


@pytest.fixture
def company_user(make_user):
    return make_user("company")


@pytest.fixture
def company(company_user, db_session):
    from hub.models import Company

    return db_session.get(Company, company_user.company_id)


def _draft(db_session, company, user, registry, inputs=None):
    filing = svc.create_draft(
        db_session,
        company=company,
        actor_id=user.id,
        inputs=inputs,
        registry=registry,
        today=TODAY,
    )
    db_session.commit()
    return filing


def _submit(db_session, filing, user, registry, lock_version=None):
    svc.submit(
        db_session,
        filing=filing,
        actor_id=user.id,
        lock_version=lock_version,
        registry=registry,
        today=TODAY,
    )
    db_session.commit()
    return filing


def test_a_new_draft_takes_bin_name_and_activity_from_the_company(
    db_session, company, company_user, registry
):
    filing = _draft(db_session, company, company_user, registry)
    assert filing.status == "draft"
    assert filing.inputs == {
        "bin": company.bin,
        "legal_name": company.legal_name,
        "activity": company.activity,
    }
    assert filing.lock_version == 1
    assert filing.policy_version is None and filing.decision is None
    # (the shipped versions' imports are in the trail before it: policy.imported)
    record = db_session.exec(select(AuditRecord).where(AuditRecord.entity_type == "filing")).one()
    assert (record.action, record.entity_id) == ("filing.created", str(filing.id))


def test_a_draft_may_be_partial_but_not_wrong(db_session, company, company_user, registry):
    filing = _draft(db_session, company, company_user, registry, {"fte_in_zone": 2})
    assert filing.inputs["fte_in_zone"] == 2
    with pytest.raises(svc.FilingRejected) as caught:
        svc.update_draft(
            db_session,
            filing=filing,
            company=company,
            actor_id=company_user.id,
            inputs={"kyc_verified_clients_pct": 150, "kyc_typo": 1, "activity": None},
            lock_version=1,
            registry=registry,
            today=TODAY,
        )
    fields = {e["field"] for e in caught.value.errors}
    assert fields == {"kyc_verified_clients_pct", "kyc_typo"}  # activity absent is fine
    assert status_of(caught.value) == 422


def test_the_bin_of_a_draft_is_the_companys(db_session, company, company_user, registry):
    with pytest.raises(svc.FilingRejected) as caught:
        _draft(db_session, company, company_user, registry, {"bin": "990140004654"})
    assert caught.value.errors[0]["field"] == "bin"
    assert company.bin in caught.value.errors[0]["message"]


def test_update_draft_bumps_the_lock_and_refuses_a_stale_version(
    db_session, company, company_user, registry
):
    filing = _draft(db_session, company, company_user, registry)
    svc.update_draft(
        db_session,
        filing=filing,
        company=company,
        actor_id=company_user.id,
        inputs=t1_exchange(legal_name="Renamed LLP"),
        lock_version=1,
        registry=registry,
        today=TODAY,
    )
    db_session.commit()
    assert filing.lock_version == 2
    assert filing.inputs["legal_name"] == "Renamed LLP"
    with pytest.raises(svc.FilingConflict) as caught:
        svc.update_draft(
            db_session,
            filing=filing,
            company=company,
            actor_id=company_user.id,
            inputs={},
            lock_version=1,
            registry=registry,
            today=TODAY,
        )
    assert status_of(caught.value) == 409
    assert "changed" in caught.value.errors[0]["message"]


def test_a_concurrent_change_loses_even_with_the_right_version_in_hand(
    app, db_session, company, company_user, registry
):
    """Two sessions load version 1; the second write fails instead of overwriting."""
    from sqlmodel import Session

    from hub.db import get_engine

    filing = _draft(db_session, company, company_user, registry)
    with Session(get_engine(app), expire_on_commit=False) as other:
        theirs = other.get(Filing, filing.id)
        svc.update_draft(
            other,
            filing=theirs,
            company=company,
            actor_id=company_user.id,
            inputs={"fte_in_zone": 4},
            lock_version=1,
            registry=registry,
            today=TODAY,
        )
        other.commit()
    assert filing.lock_version == 1  # this session's stale copy
    with pytest.raises(svc.FilingConflict):
        svc.update_draft(
            db_session,
            filing=filing,
            company=company,
            actor_id=company_user.id,
            inputs={"fte_in_zone": 5},
            lock_version=None,
            registry=registry,
            today=TODAY,
        )
    db_session.rollback()
    assert db_session.get(Filing, filing.id).inputs["fte_in_zone"] == 4


def test_submit_freezes_everything_with_an_assessment_and_an_audit_record(
    db_session, company, company_user, registry
):
    filing = _draft(db_session, company, company_user, registry, t1_exchange())
    _submit(db_session, filing, company_user, registry, lock_version=1)
    assert filing.status == "submitted"
    assert filing.tier_claimed == "T1"
    assert filing.policy_version == "2026.1"
    assert filing.policy_digest.startswith("sha256:")
    assert filing.decision["as_of"] == "2026-09-01"
    assert svc.filing_as_of(filing) == TODAY
    assert filing.submitted_at is not None
    assessment = db_session.exec(select(Assessment)).one()
    assert assessment.filing_id == filing.id
    assert assessment.decision == filing.decision
    assert assessment.inputs == filing.inputs
    assert assessment.policy_digest == filing.policy_digest
    submitted = db_session.exec(
        select(AuditRecord).where(AuditRecord.action == "filing.submitted")
    ).one()
    assert submitted.policy_digest == filing.policy_digest
    assert submitted.after["assessment_id"] == assessment.id
    assert audit.verify(db_session) == []


def test_an_incomplete_draft_cannot_be_submitted(db_session, company, company_user, registry):
    filing = _draft(db_session, company, company_user, registry, {"kyc_verified_clients_pct": 90})
    svc.update_draft(
        db_session,
        filing=filing,
        company=company,
        actor_id=company_user.id,
        inputs={"activity": None},
        lock_version=1,
        registry=registry,
        today=TODAY,
    )
    db_session.commit()
    with pytest.raises(svc.FilingRejected) as caught:
        _submit(db_session, filing, company_user, registry)
    assert {e["field"] for e in caught.value.errors} == {"legal_name", "activity"}
    db_session.rollback()
    assert db_session.get(Filing, filing.id).status == "draft"


def test_submitting_twice_and_editing_a_submitted_filing_are_conflicts(
    db_session, company, company_user, registry
):
    filing = _draft(db_session, company, company_user, registry, t1_exchange())
    _submit(db_session, filing, company_user, registry)
    with pytest.raises(svc.FilingConflict, match="cannot be submitted again"):
        _submit(db_session, filing, company_user, registry)
    with pytest.raises(svc.FilingConflict, match="start a revision"):
        svc.update_draft(
            db_session,
            filing=filing,
            company=company,
            actor_id=company_user.id,
            inputs={},
            lock_version=filing.lock_version,
            registry=registry,
            today=TODAY,
        )
    assert len(db_session.exec(select(Assessment)).all()) == 1


def test_submission_is_atomic(db_session, company, company_user, registry, monkeypatch):
    """If the audit record cannot be written, neither the filing nor the assessment is."""
    filing = _draft(db_session, company, company_user, registry, t1_exchange())

    def broken(*args, **kwargs):
        raise RuntimeError("audit storage failed")

    monkeypatch.setattr(audit, "append", broken)
    with pytest.raises(RuntimeError):
        svc.submit(
            db_session,
            filing=filing,
            actor_id=company_user.id,
            lock_version=1,
            registry=registry,
            today=TODAY,
        )
    db_session.rollback()
    stored = db_session.get(Filing, filing.id)
    db_session.refresh(stored)
    assert stored.status == "draft" and stored.decision is None and stored.lock_version == 1
    assert db_session.exec(select(Assessment)).all() == []


def test_revise_starts_a_draft_and_its_submission_supersedes_the_pending_filing(
    db_session, company, company_user, registry
):
    first = _draft(db_session, company, company_user, registry, t1_exchange())
    _submit(db_session, first, company_user, registry)
    draft = svc.revise(db_session, filing=first, actor_id=company_user.id)
    db_session.commit()
    assert draft.status == "draft" and draft.supersedes_id == first.id
    assert draft.inputs == first.inputs
    # Revising again while the revision is open gives the same draft.
    assert svc.revise(db_session, filing=first, actor_id=company_user.id).id == draft.id
    svc.update_draft(
        db_session,
        filing=draft,
        company=company,
        actor_id=company_user.id,
        inputs=t1_exchange(opex_in_zone_kzt=60_000_000.0),
        lock_version=draft.lock_version,
        registry=registry,
        today=TODAY,
    )
    _submit(db_session, draft, company_user, registry)
    db_session.refresh(first)
    assert first.status == "superseded"
    assert draft.tier_claimed == "T3"
    assert svc.successor_of(db_session, filing=first).id == draft.id
    with pytest.raises(svc.FilingConflict, match="revise that one"):
        svc.revise(db_session, filing=first, actor_id=company_user.id)
    with pytest.raises(svc.FilingConflict, match="edit the draft itself"):
        svc.revise(
            db_session,
            filing=svc.revise(db_session, filing=draft, actor_id=company_user.id),
            actor_id=company_user.id,
        )


def test_changes_requested_can_be_revised_and_resubmitted(
    db_session, company, company_user, make_user, registry
):
    admin = make_user("admin")
    filing = _draft(db_session, company, company_user, registry, t1_exchange())
    _submit(db_session, filing, company_user, registry)
    svc.transition(
        db_session,
        filing=filing,
        to="changes_requested",
        lock_version=filing.lock_version,
        actor_id=admin.id,
        action="filing.changes_requested",
        values={"reviewer_message": "Please attach the opex figure."},
    )
    db_session.commit()
    assert filing.reviewer_message == "Please attach the opex figure."
    revision = svc.revise(db_session, filing=filing, actor_id=company_user.id)
    _submit(db_session, revision, company_user, registry)
    db_session.refresh(filing)
    assert filing.status == "superseded"
    assert revision.status == "submitted"


def test_an_approved_filing_keeps_its_status_when_revised(
    db_session, company, company_user, make_user, registry
):
    admin = make_user("admin")
    filing = _draft(db_session, company, company_user, registry, t1_exchange())
    _submit(db_session, filing, company_user, registry)
    svc.transition(
        db_session,
        filing=filing,
        to="approved",
        lock_version=filing.lock_version,
        actor_id=admin.id,
        action="filing.approved",
    )
    db_session.commit()
    revision = svc.revise(db_session, filing=filing, actor_id=company_user.id)
    _submit(db_session, revision, company_user, registry)
    db_session.refresh(filing)
    assert filing.status == "approved"


def test_transitions_outside_the_table_are_refused(db_session, company, company_user, registry):
    filing = _draft(db_session, company, company_user, registry, t1_exchange())
    with pytest.raises(svc.FilingConflict):
        svc.transition(
            db_session,
            filing=filing,
            to="approved",
            lock_version=1,
            actor_id=None,
            action="filing.approved",
        )
    with pytest.raises(ValueError):
        svc.transition(
            db_session,
            filing=filing,
            to="submitted",
            lock_version=1,
            actor_id=None,
            action="x",
            values={"inputs": {}},
        )


def test_a_revision_submitted_after_a_reviewer_acted_is_a_conflict(
    app, db_session, company, company_user, make_user, registry
):
    from sqlmodel import Session

    from hub.db import get_engine

    first = _draft(db_session, company, company_user, registry, t1_exchange())
    _submit(db_session, first, company_user, registry)
    revision = svc.revise(db_session, filing=first, actor_id=company_user.id)
    db_session.commit()
    seen_lock = first.lock_version
    # Another revision of the same filing is submitted in another session first.
    with Session(get_engine(app), expire_on_commit=False) as other:
        rival = Filing(company_id=company.id, inputs=dict(revision.inputs), supersedes_id=first.id)
        other.add(rival)
        other.commit()
        _submit(other, rival, company_user, registry)
    with pytest.raises(svc.FilingConflict, match="already been replaced"):
        _submit(db_session, revision, company_user, registry)
    db_session.rollback()
    assert db_session.get(Filing, revision.id).status == "draft"
    assert seen_lock < db_session.get(Filing, first.id).lock_version


def test_get_and_list_are_scoped_to_the_company(
    db_session, company, company_user, make_user, registry
):
    other_user = make_user("company")
    from hub.models import Company

    other_company = db_session.get(Company, other_user.company_id)
    mine = _draft(db_session, company, company_user, registry)
    theirs = _draft(db_session, other_company, other_user, registry)
    assert svc.get_filing(db_session, filing_id=mine.id, company_id=company.id) is mine
    for bad in (theirs.id, 999999, "abc", -1, 10**30):
        with pytest.raises(svc.FilingNotFound):
            svc.get_filing(db_session, filing_id=bad, company_id=company.id)
    assert [f.id for f in svc.list_filings(db_session, company_id=company.id)] == [mine.id]
    assert svc.list_filings(db_session, company_id=company.id, status="submitted") == []


def test_filing_to_dict(db_session, company, company_user, registry):
    filing = _draft(db_session, company, company_user, registry, t1_exchange())
    _submit(db_session, filing, company_user, registry)
    data = svc.filing_to_dict(filing)
    assert data["policy"]["version"] == "2026.1"
    assert data["as_of"] == "2026-09-01"
    assert data["decision"]["tier"] == "T1"
    assert data["status"] == "submitted"
