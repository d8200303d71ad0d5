"""Approving, publishing and retiring versions through hub.studio.publishing, on a real
database: the second person, the scenario run, the shadow check and retirement."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from flask import Flask
from sqlmodel import Session, select

from hub.clock import Clock
from hub.db import get_engine
from hub.models import Assessment, AuditRecord, PolicyVersionRecord, Role, StudioJob, User
from hub.policy import Policy, PolicyRegistry, load_policy_text
from hub.services.errors import Conflict, Forbidden, Invalid
from hub.specs import default_features_dir
from hub.studio import drafts, publishing

TODAY = dt.date(2026, 11, 29)
CLOCK = Clock.fixed(dt.datetime(2026, 11, 29, 12, tzinfo=dt.UTC))


@pytest.fixture
def author(make_user: Callable[..., User]) -> User:
    return make_user(Role.AUTHOR, email="author@example.kz")


@pytest.fixture
def reviewer(make_user: Callable[..., User]) -> User:
    return make_user(Role.AUTHOR, email="reviewer@example.kz")


def stored(db: Session, version: str) -> PolicyVersionRecord:
    db.expire_all()
    return db.exec(select(PolicyVersionRecord).where(PolicyVersionRecord.version == version)).one()


def catalogue_registry(db: Session) -> PolicyRegistry:
    """Every stored version that was published (retired ones with their date)."""
    policies: list[Policy] = []
    retired: dict[tuple[str, str], dt.date] = {}
    for rec in db.exec(select(PolicyVersionRecord)).all():
        if rec.state == "draft":
            continue
        policies.append(load_policy_text(rec.text, source=f"{rec.version}.yaml"))
        if rec.retired_from:
            retired[(rec.policy_id, rec.version)] = rec.retired_from
    return PolicyRegistry(policies, retired)


def audit(db: Session, action: str) -> list[AuditRecord]:
    return list(db.exec(select(AuditRecord).where(AuditRecord.action == action)).all())


def draft_from(db: Session, author: User, base: str, version: str) -> PolicyVersionRecord:
    rec = drafts.create_draft(
        db,
        base=stored(db, base),
        version=version,
        author=author,
        features_dir=default_features_dir(),
    )
    db.commit()
    return rec


def save(db: Session, rec: PolicyVersionRecord, author: User, text: str | None = None) -> None:
    """Save the draft (its own text unless ``text``) over the revision ``rec`` holds; committed."""
    drafts.save_draft(
        db,
        record=rec,
        text=rec.text if text is None else text,
        features_text=None,
        lock_version=rec.lock_version,
        author=author,
    )
    db.commit()


def approve(db: Session, rec: PolicyVersionRecord, actor: User) -> None:
    """Approve the revision ``rec`` holds as ``actor``; committed."""
    publishing.approve(db, record=rec, actor=actor, lock_version=rec.lock_version)
    db.commit()


def publish(
    db: Session,
    rec: PolicyVersionRecord,
    day: dt.date,
    actor: User,
    *,
    registry: PolicyRegistry | None = None,
    confirmed: str | None = None,
    check_lock: bool = True,
) -> Policy:
    """Publish the draft from ``day`` (the revision ``rec`` holds, unless not ``check_lock``)
    against the stored catalogue unless ``registry``; committed when it succeeds."""
    published = publishing.publish(
        db,
        record=rec,
        effective_from=day,
        today=TODAY,
        registry=registry or catalogue_registry(db),
        actor=actor,
        lock_version=rec.lock_version if check_lock else None,
        confirmed=confirmed,
    )
    db.commit()
    return published


def retire(
    db: Session,
    rec: PolicyVersionRecord,
    day: dt.date,
    actor: User,
    *,
    registry: PolicyRegistry | None = None,
) -> None:
    """Retire the version from ``day`` against the stored catalogue unless ``registry``;
    committed when it succeeds."""
    publishing.retire(
        db,
        record=rec,
        retired_from=day,
        today=TODAY,
        registry=registry or catalogue_registry(db),
        actor=actor,
    )
    db.commit()


def impact_as_of(db: Session, rec: PolicyVersionRecord, day: dt.date, actor: User) -> StudioJob:
    """A finished impact analysis of the draft's current text as of ``day`` (recorded as the
    studio's job, by the hub's clock fixed on ``TODAY``)."""
    job = publishing.record_impact_run(
        db,
        engine=db.get_bind(),  # type: ignore[arg-type]
        clock=CLOCK,
        record=rec,
        registry=catalogue_registry(db),
        actor=actor,
        as_of=day,
    )
    assert job.kind == "impact" and job.state == "done" and job.as_of == day, job.error
    return job


def ready(
    db: Session, rec: PolicyVersionRecord, author: User, reviewer: User, day: dt.date
) -> None:
    """A finished, passing scenario run, an impact analysis as of ``day`` and a second
    person's approval."""
    job = publishing.record_spec_run(db, record=rec, registry=catalogue_registry(db), actor=author)
    assert job.state == "done" and job.result and job.result["summary"]["ok"], job.error
    impact_as_of(db, rec, day, author)
    approve(db, rec, reviewer)


def test_a_draft_writes_its_base_into_its_text(app: Flask, db_session, author):
    rec = draft_from(db_session, author, "2026.1", "2026.2")
    assert 'version: "2026.2"\nbased_on: "2026.1"\n' in rec.text
    assert rec.base_version == "2026.1"
    # The base follows the text: an author who rebases the draft by hand says so in it.
    save(db_session, rec, author, rec.text.replace('based_on: "2026.1"', 'based_on: "2027.1"'))
    assert stored(db_session, "2026.2").base_version == "2027.1"


def test_publishing_over_a_later_version_needs_a_confirmation_naming_what_it_drops(
    app: Flask, db_session, author, reviewer
):
    rec = draft_from(db_session, author, "2026.1", "2026.2")
    march = dt.date(2027, 3, 1)
    ready(db_session, rec, author, reviewer, march)
    registry = catalogue_registry(db_session)
    plan = publishing.plan_publication(
        db_session, record=rec, effective_from=march, today=TODAY, registry=registry
    )
    assert plan.ok and plan.replaced is not None and plan.replaced.version == "2027.1"
    assert not plan.base_matches and plan.needs_confirmation and plan.until is None
    dropped = [c for c in plan.changes if "unhosted_wallet_checks" in c]
    assert dropped and dropped[0].startswith("drops criterion unhosted_wallet_checks")
    assert any(c.startswith("drops input unhosted_wallet_verified_pct") for c in plan.changes)
    assert [(p.start, p.policy.version if p.policy else None) for p in plan.timeline] == [
        (dt.date(2026, 7, 1), "2026.1"),
        (dt.date(2027, 1, 1), "2027.1"),
        (march, "2026.2"),
    ]

    for confirmed in (None, "not-the-digest"):
        with pytest.raises(Invalid) as refused:
            publish(db_session, rec, march, author, registry=registry, confirmed=confirmed)
        message = refused.value.message
        assert refused.value.field == "confirmation"
        assert "replace 2027.1, which is not its base (2026.1)" in message
        assert "drops criterion unhosted_wallet_checks (Self-hosted wallet owners verified)" in (
            message
        )
    db_session.rollback()
    assert stored(db_session, "2026.2").state == "draft"
    assert not audit(db_session, "policy.published")

    published = publish(
        db_session, rec, march, author, registry=registry, confirmed=plan.confirmation
    )
    rec = stored(db_session, "2026.2")
    assert rec.state == "published" and rec.effective_from == march
    assert rec.published_by_id == author.id and published.digest == rec.digest
    (entry,) = audit(db_session, "policy.published")
    assert entry.actor_id == author.id and entry.after is not None
    assert entry.after["replaces"] == "2027.1"
    assert entry.after["confirmed_changes"] == plan.changes
    assert entry.after["approved_by_id"] == reviewer.id
    assert entry.after["specs"]["failed"] == 0 and entry.after["specs"]["passed"] > 0
    after = catalogue_registry(db_session)
    assert after.select(march).version == "2026.2"
    assert after.select(march - dt.timedelta(days=1)).version == "2027.1"


def test_a_draft_on_its_base_needs_no_confirmation_and_runs_until_the_next_version(
    app: Flask, db_session, author, reviewer
):
    rec = draft_from(db_session, author, "2026.1", "2026.2")
    day = dt.date(2026, 12, 15)
    ready(db_session, rec, author, reviewer, day)
    plan = publishing.plan_publication(
        db_session,
        record=rec,
        effective_from=day,
        today=TODAY,
        registry=catalogue_registry(db_session),
    )
    assert plan.ok and plan.base_matches and not plan.needs_confirmation
    assert plan.replaced is not None and plan.replaced.version == "2026.1" and plan.changes == []
    assert plan.until is not None and plan.until.version == "2027.1"
    assert plan.until_from == dt.date(2027, 1, 1)
    publish(db_session, rec, day, author, check_lock=False)
    assert stored(db_session, "2026.2").state == "published"


def test_publishing_needs_a_second_persons_approval_of_the_current_text(
    app: Flask, db_session, author, reviewer, make_user
):
    rec = draft_from(db_session, author, "2026.1", "2026.2")
    registry = catalogue_registry(db_session)
    job = publishing.record_spec_run(db_session, record=rec, registry=registry, actor=author)
    assert publishing.latest_spec_result(db_session, rec) == job
    day = dt.date(2026, 12, 15)
    impact_as_of(db_session, rec, day, author)

    with pytest.raises(Invalid, match="not been approved by a second person"):
        publish(db_session, rec, day, author, registry=registry)
    # The editor cannot approve their own draft; a company user cannot approve at all.
    with pytest.raises(Forbidden, match=r"edited version 2026\.2 and cannot approve it"):
        approve(db_session, rec, author)
    with pytest.raises(Forbidden, match="not an author or administrator"):
        approve(db_session, rec, make_user(Role.COMPANY))
    # An approval of a revision the approver did not read is refused.
    with pytest.raises(Conflict, match="saved again after you read it"):
        publishing.approve(
            db_session, record=rec, actor=reviewer, lock_version=rec.lock_version - 1
        )
    approve(db_session, rec, reviewer)
    assert publishing.is_approved(rec) and rec.approved_by_id == reviewer.id
    (approved,) = audit(db_session, "policy.approved")
    assert approved.actor_id == reviewer.id and approved.after is not None
    assert approved.after["revision"] == rec.lock_version
    assert approved.after["specs"]["job"] == job.id

    # A save after the approval voids it (the same text: what was approved is a revision).
    save(db_session, rec, author)
    assert not publishing.is_approved(rec)
    assert publishing.editors_of(db_session, rec) == {author.id}
    with pytest.raises(Invalid, match=r"approval .* was voided by a later save"):
        publish(db_session, rec, day, author, registry=registry)
    # The reviewer who saves the draft becomes an editor and may no longer approve it.
    save(db_session, rec, reviewer)
    assert publishing.editors_of(db_session, rec) == {author.id, reviewer.id}
    with pytest.raises(Forbidden):
        approve(db_session, rec, reviewer)
    admin = make_user(Role.ADMIN)
    approve(db_session, rec, admin)
    publish(db_session, rec, day, author, registry=registry)
    assert stored(db_session, "2026.2").state == "published"
    # The publication records the revision the admin approved, not the one publishing made.
    approval = audit(db_session, "policy.approved")[-1]
    (published,) = audit(db_session, "policy.published")
    assert approval.after is not None and published.after is not None
    assert published.after["approved_revision"] == approval.after["revision"]
    assert published.after["approved_by_id"] == admin.id
    saved = audit(db_session, "policy.draft_saved")
    assert [(s.actor_id, s.after["revision"]) for s in saved if s.after] == [
        (author.id, 2),
        (reviewer.id, 3),
    ]


def test_of_two_second_persons_approving_at_once_one_does(
    app: Flask, db_session, author, reviewer, make_user
):
    rec = draft_from(db_session, author, "2026.1", "2026.2")
    admin = make_user(Role.ADMIN)
    # Both read the draft, unapproved, before either approves.
    with Session(get_engine(app), expire_on_commit=False) as other:
        theirs = stored(other, "2026.2")
        read = theirs.lock_version
        approve(db_session, rec, reviewer)
        with pytest.raises(Conflict, match="approved by someone else while you were approving"):
            approve(other, theirs, admin)
        other.rollback()
    rec = stored(db_session, "2026.2")
    assert rec.approved_by_id == reviewer.id and publishing.is_approved(rec)
    assert [a.actor_id for a in audit(db_session, "policy.approved")] == [reviewer.id]
    # Approving is not a new revision: the draft keeps the one the approver read.
    assert rec.approved_revision == rec.lock_version == read


def test_a_save_that_lands_while_a_draft_is_approved_voids_nothing_it_did_not_see(
    app: Flask, db_session, author, reviewer
):
    rec = draft_from(db_session, author, "2026.1", "2026.2")
    with Session(get_engine(app), expire_on_commit=False) as other:
        theirs = stored(other, "2026.2")  # the reviewer reads revision 1...
        save(db_session, rec, author)  # ...the author saves revision 2 meanwhile
        with pytest.raises(Conflict, match="saved or approved by someone else"):
            publishing.approve(other, record=theirs, actor=reviewer, lock_version=1)
        other.rollback()
    rec = stored(db_session, "2026.2")
    assert rec.lock_version == 2 and rec.approved_by_id is None
    assert not audit(db_session, "policy.approved")


def test_publishing_reads_the_latest_finished_scenario_run_of_the_current_text(
    app: Flask, db_session, author, reviewer
):
    rec = draft_from(db_session, author, "2026.1", "2026.2")
    approve(db_session, rec, reviewer)
    registry = catalogue_registry(db_session)
    day = dt.date(2026, 12, 15)
    impact_as_of(db_session, rec, day, author)

    def problems() -> list[str]:
        return publishing.plan_publication(
            db_session, record=rec, effective_from=day, today=TODAY, registry=registry
        ).problems

    assert problems() == [
        "no finished scenario run for the current text and scenarios: run the scenarios "
        "and wait for the result"
    ]
    # Scenarios that contradict the text: the run fails, and says how.
    rec.features_text = (rec.features_text or "").replace(
        "| 95   | met     |", "| 95   | not met |"
    )
    db_session.add(rec)
    db_session.commit()
    publishing.record_spec_run(db_session, record=rec, registry=registry, actor=author)
    assert any(p.endswith("scenario(s) fail") for p in problems())


def test_retiring_a_version(app: Flask, db_session, author):
    later = stored(db_session, "2027.1")
    registry = catalogue_registry(db_session)
    june = dt.date(2027, 6, 1)

    def plan(day: dt.date) -> publishing.RetirementPlan:
        return publishing.plan_retirement(
            db_session, record=later, retired_from=day, today=TODAY, registry=registry
        )

    assert "is in the past" in plan(TODAY - dt.timedelta(days=1)).problems[0]
    assert "before its effective date 2027-01-01" in plan(dt.date(2026, 12, 31)).problems[0]
    db_session.add(
        Assessment(
            as_of=dt.date(2027, 6, 3),
            policy_id="astana-crypto-hub",
            policy_version="2027.1",
            policy_digest=later.digest or "",
            inputs={},
            decision={},
        )
    )
    db_session.commit()
    assert (
        "decisions have already been made under 2027.1 for 2027-06-03" in (plan(june).problems[0])
    )
    with pytest.raises(Invalid, match="Choose 2027-06-04 or later"):
        retire(db_session, later, june, author, registry=registry)
    day = dt.date(2027, 7, 1)
    good = plan(day)
    assert good.ok and good.after is not None and good.after.version == "2026.1"
    assert any(c.startswith("drops criterion unhosted_wallet_checks") for c in good.changes)
    assert [(p.start, p.policy.version if p.policy else None) for p in good.timeline] == [
        (dt.date(2026, 7, 1), "2026.1"),
        (dt.date(2027, 1, 1), "2027.1"),
        (day, "2026.1"),
    ]
    retire(db_session, later, day, author, registry=registry)
    later = stored(db_session, "2027.1")
    assert later.state == "retired" and later.retired_from == day
    assert later.retired_by_id == author.id and later.retired_at is not None
    (entry,) = audit(db_session, "policy.retired")
    assert entry.actor_id == author.id and entry.after is not None
    assert entry.after["retired_from"] == day.isoformat()
    assert entry.after["applies_after"] == "2026.1"
    after = catalogue_registry(db_session)
    assert after.select(day).version == "2026.1"
    assert after.select(day - dt.timedelta(days=1)).version == "2027.1"
    assert after.get("2027.1").version == "2027.1"  # decisions made under it keep it
    # Twice, or a draft: refused.
    with pytest.raises(Conflict, match="already retired \\(from 2027-07-01\\)"):
        retire(db_session, later, day, author, registry=after)
    draft = draft_from(db_session, author, "2026.1", "2026.2")
    with pytest.raises(Conflict, match="never published"):
        retire(db_session, draft, day, author, registry=after)


def test_publishing_needs_a_finished_impact_analysis_of_the_current_text_as_of_its_date(
    app: Flask, db_session, author, reviewer, make_user
):
    rec = draft_from(db_session, author, "2026.1", "2026.2")
    december, march = dt.date(2026, 12, 15), dt.date(2027, 3, 1)
    ready(db_session, rec, author, reviewer, december)
    registry = catalogue_registry(db_session)

    def plan(day: dt.date) -> publishing.PublicationPlan:
        return publishing.plan_publication(
            db_session, record=rec, effective_from=day, today=TODAY, registry=registry
        )

    assert plan(december).ok and plan(december).impact_job is not None
    # An analysis of another date does not count, and the refusal says which one there is.
    assert plan(march).problems == [
        "no finished impact analysis of the current text as of the effective date 2027-03-01: "
        "run the impact analysis as of 2027-03-01 and wait for the result (the last one is "
        "as of 2026-12-15, another date)"
    ]
    admin = make_user(Role.ADMIN)
    with pytest.raises(Invalid, match=r"no finished impact analysis .* as of the effective date"):
        publish(db_session, rec, march, admin, registry=registry)
    # Nor does one of an earlier text (the analysis of today's text is what was seen).
    impact_as_of(db_session, rec, march, author)
    assert plan(march).ok
    rec.text = rec.text.replace("kyc_baseline_min_pct: {value: 95,", "kyc_baseline_min_pct: "
                                "{value: 94,")  # fmt: skip
    rec.digest = drafts.compiled_policy(rec).digest
    db_session.add(rec)
    db_session.commit()
    assert any("no finished impact analysis" in p for p in plan(march).problems)

    # With no other version in force on the date there is nothing to compare: not asked for.
    lone = PolicyRegistry([])
    assert not any(
        "impact" in p
        for p in publishing.plan_publication(
            db_session, record=rec, effective_from=march, today=TODAY, registry=lone
        ).problems
    )


def test_an_administrator_publishes_and_retires_through_the_service(
    app: Flask, db_session, author, reviewer, make_user
):
    admin = make_user(Role.ADMIN, email="admin@example.kz")
    rec = draft_from(db_session, author, "2026.1", "2026.2")
    day = dt.date(2026, 12, 15)
    ready(db_session, rec, author, reviewer, day)
    publish(db_session, rec, day, admin)
    assert stored(db_session, "2026.2").published_by_id == admin.id
    (published,) = audit(db_session, "policy.published")
    assert published.after is not None and published.after["impact"]["as_of"] == "2026-12-15"
    retire(db_session, stored(db_session, "2026.2"), dt.date(2026, 12, 20), admin)
    assert stored(db_session, "2026.2").retired_by_id == admin.id
