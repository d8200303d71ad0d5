"""Approving, publishing and retiring stored policy versions: the checks and the audit.

A draft goes ``draft -> published -> retired``. Before it is published a second
person (an author or administrator who did not edit it) approves the revision
they read; any later save voids that approval. Publishing never runs the
scenarios itself: it reads the newest finished spec run of the draft's current
text and scenarios (a studio job, or the run ``hub policy publish`` records
through :func:`record_spec_run`), nor the impact analysis: it reads the newest
finished impact analysis of the current text as of the effective date (a studio
job, or the one ``hub policy publish`` records through
:func:`record_impact_run`), against the version that would otherwise be in
force then; one of another date does not count. It refuses a date in the past, a
date on or before decisions already made, a day another version starts on, and a draft
whose base is not the version that would otherwise be in force on the
effective date unless the author confirms every criterion, input and benefit
it drops or changes against that version.

Every function takes its session and collaborators (the registry of versions,
today's date, the acting user) as arguments; refusals raise
``hub.services.errors``: ``Invalid`` (with the problems named), ``Conflict``
(the version is not in the state the caller saw), ``Forbidden`` (the actor may
not do this). Nothing here commits (the caller does) but ``record_impact_run``,
whose run writes through sessions of its own.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from hub.clock import Clock
from hub.models import (
    Assessment,
    AuditRecord,
    PolicyState,
    PolicyVersionRecord,
    Role,
    StudioJob,
    User,
)
from hub.policy import Policy, PolicyError, PolicyRegistry, load_policy_text
from hub.policy.diff import Change, diff_policies
from hub.policy.registry import NoVersionInForce, Period
from hub.services.errors import Conflict, Forbidden, Invalid
from hub.storage import update_if_unchanged, utcnow
from hub.studio import attempts
from hub.studio.drafts import audit_version, compiled_policy, require_draft, set_line
from hub.studio.features import features_digest
from hub.studio.jobs import plan_impact, run_draft_specs

log = logging.getLogger(__name__)

EFFECTIVE_RE = re.compile(r"^effective_from:[ \t]*(?P<value>[^\n#]*?)[ \t]*(?:#.*)?$", re.M)

#: The audit actions that make a user an editor of a draft (who may then not approve it).
EDIT_ACTIONS = ("policy.draft_created", "policy.draft_saved", "policy.draft_imported")

#: Who may approve, publish and retire versions.
APPROVER_ROLES = (Role.AUTHOR.value, Role.ADMIN.value)

#: The sections of a policy whose changes a confirmation must name, and their nouns.
_CONFIRMED_SECTIONS = {"inputs": "input", "criteria": "criterion", "benefits": "benefit"}

#: How a changed field of a diff reads in a sentence.
_FIELD_WORDS = {"condition_text": "condition", "requires_text": "requirement"}


# --- who edited, who approved ----------------------------------------------------------------


def editors_of(session: Session, record: PolicyVersionRecord) -> set[int]:
    """The ids of the users who created, imported or saved ``record`` (from the audit trail),
    and its author: none of them may approve it."""
    query = select(AuditRecord.actor_id).where(
        col(AuditRecord.entity_type) == "policy_version",
        col(AuditRecord.entity_id) == str(record.id),
        col(AuditRecord.policy_version) == record.version,
        col(AuditRecord.action).in_(EDIT_ACTIONS),
        col(AuditRecord.actor_id).is_not(None),
    )
    editors = {actor for actor in session.exec(query).all() if actor is not None}
    if record.author_id is not None:
        editors.add(record.author_id)
    return editors


def _require_role(actor: User, doing: str) -> None:
    if actor.role not in APPROVER_ROLES:
        raise Forbidden(
            f"{actor.email} is not an author or administrator and may not {doing}.", field="by"
        )


def is_approved(record: PolicyVersionRecord) -> bool:
    """True when a second person approved the draft's current revision (no save since)."""
    return record.approved_by_id is not None and record.approved_revision == record.lock_version


def latest_spec_result(session: Session, record: PolicyVersionRecord) -> StudioJob | None:
    """The newest *finished* spec run (``done`` or ``failed``) of the draft's current text
    and scenarios (its digest and features digest), or None when there is none."""
    if not record.digest:
        return None
    query = (
        select(StudioJob)
        .where(
            col(StudioJob.kind) == "specs",
            col(StudioJob.policy_id) == record.policy_id,
            col(StudioJob.version) == record.version,
            col(StudioJob.digest) == record.digest,
            col(StudioJob.features_digest) == features_digest(record.features_text),
            col(StudioJob.state).in_(("done", "failed")),
        )
        .order_by(col(StudioJob.id).desc())
        .limit(1)
    )
    return session.exec(query).first()


def _spec_problems(job: StudioJob | None) -> list[str]:
    """Why a spec run does not allow publishing (empty when every scenario passed)."""
    if job is None:
        return [
            "no finished scenario run for the current text and scenarios: run the "
            "scenarios and wait for the result"
        ]
    if job.state != "done" or not job.result:
        return [f"the latest scenario run failed: {job.error or 'it left no result'}"]
    problems = []
    summary = job.result.get("summary", {})
    errors = job.result.get("errors") or []
    if errors:
        problems.append(f"{len(errors)} feature file(s) do not parse")
    if summary.get("failed"):
        problems.append(f"{summary['failed']} scenario(s) fail")
    if not summary.get("passed"):
        problems.append("no scenario ran: a version without passing scenarios proves nothing")
    return problems


def _spec_summary(job: StudioJob | None) -> dict[str, Any] | None:
    if job is None:
        return None
    summary = dict((job.result or {}).get("summary") or {})
    return {"job": job.id, "state": job.state, **summary}


def _impact_summary(job: StudioJob | None) -> dict[str, Any] | None:
    if job is None:
        return None
    totals = (job.result or {}).get("totals") or {}
    return {
        "job": job.id,
        "as_of": job.as_of.isoformat() if job.as_of else None,
        "against": job.against,
        "companies": totals.get("companies"),
        "changed": totals.get("changed"),
    }


def approve(
    session: Session, *, record: PolicyVersionRecord, actor: User, lock_version: int
) -> None:
    """Approve revision ``lock_version`` of a draft as its second person.

    Raises ``Forbidden`` when ``actor`` is not an author or administrator or
    edited the draft, ``Conflict`` when it is not a draft, was saved since the
    approver read revision ``lock_version``, or is already approved at this
    revision, ``Invalid`` when it does not compile. Audited as ``policy.approved``
    with the revision, digests and the latest spec run seen.
    """
    require_draft(record)
    _require_role(actor, "approve a draft")
    if actor.id in editors_of(session, record):
        raise Forbidden(
            f"{actor.email} edited version {record.version} and cannot approve it: a second "
            "person (an author or administrator who did not edit it) must approve.",
            field="by",
        )
    if lock_version != record.lock_version:
        raise Conflict(
            f"Version {record.version} was saved again after you read it (you read revision "
            f"{lock_version}, the stored one is revision {record.lock_version}): read the new "
            "text before approving it.",
            field="lock_version",
        )
    if is_approved(record):
        raise Conflict(f"Revision {record.lock_version} of version {record.version} is already "
                       "approved.")  # fmt: skip
    policy = compiled_policy(record)
    job = latest_spec_result(session, record)
    # Compare-and-set: still this revision of a draft, approved by nobody since it was read
    # (of two second persons approving at once, one does). Approving is no new revision.
    read = {"state": PolicyState.DRAFT.value, "approved_revision": record.approved_revision}
    approved = update_if_unchanged(
        session,
        PolicyVersionRecord,
        record.id,
        lock_version,
        where=read,
        bump=False,
        approved_by_id=actor.id,
        approved_at=utcnow(),
        approved_revision=lock_version,
    )
    if not approved:
        session.rollback()
        raise Conflict(
            f"Version {record.version} was saved or approved by someone else while you were "
            "approving it: read it again.",
            field="lock_version",
        )
    audit_version(
        session,
        record,
        "policy.approved",
        actor,
        after={
            "policy_id": record.policy_id,
            "version": record.version,
            "revision": record.lock_version,
            "digest": policy.digest,
            "features_digest": features_digest(record.features_text),
            "base_version": record.base_version,
            "specs": _spec_summary(job),
        },
        digest=policy.digest,
    )


# --- spec runs the command line records --------------------------------------------------------


def record_spec_run(
    session: Session, *, record: PolicyVersionRecord, registry: PolicyRegistry, actor: User | None
) -> StudioJob:
    """Run the draft's scenarios here and now (the studio job's own runner,
    ``run_draft_specs``) and store the run as a finished spec job, as the studio's
    background job would; ``latest_spec_result`` then finds it. Raises ``Invalid``
    when the draft does not compile."""
    policy = compiled_policy(record)
    job = StudioJob(
        kind="specs",
        policy_id=record.policy_id,
        version=record.version,
        digest=policy.digest,
        features_digest=features_digest(record.features_text),
        state="running",
        created_by_id=actor.id if actor else None,
    )
    try:
        result = run_draft_specs(policy, record.features_text, registry)
    except Exception as exc:  # a run that breaks is recorded failed, with why
        log.exception("scenario run of %s failed", record.version)
        job.state, job.error = "failed", f"{type(exc).__name__}: {exc}"
    else:
        total = result["summary"]["total"]
        job.state, job.result, job.done, job.total = "done", result, total, total
    job.finished_at = job.updated_at = utcnow()
    session.add(job)
    session.flush()
    return job


def latest_impact_result(session: Session, record: PolicyVersionRecord) -> StudioJob | None:
    """The newest *finished* impact analysis (``done`` or ``failed``) of the draft's
    current text (its digest), whatever its as-of date, or None when there is none."""
    if not record.digest:
        return None
    query = (
        select(StudioJob)
        .where(
            col(StudioJob.kind) == "impact",
            col(StudioJob.policy_id) == record.policy_id,
            col(StudioJob.version) == record.version,
            col(StudioJob.digest) == record.digest,
            col(StudioJob.state).in_(("done", "failed")),
        )
        .order_by(col(StudioJob.id).desc())
        .limit(1)
    )
    return session.exec(query).first()


def impact_on(session: Session, record: PolicyVersionRecord, as_of: dt.date) -> StudioJob | None:
    """The newest impact analysis of the draft's current text assessed as of ``as_of``
    that finished with a result (state ``done``), or None."""
    if not record.digest:
        return None
    query = (
        select(StudioJob)
        .where(
            col(StudioJob.kind) == "impact",
            col(StudioJob.policy_id) == record.policy_id,
            col(StudioJob.version) == record.version,
            col(StudioJob.digest) == record.digest,
            col(StudioJob.as_of) == as_of,
            col(StudioJob.state) == "done",
        )
        .order_by(col(StudioJob.id).desc())
        .limit(1)
    )
    return session.exec(query).first()


def _impact_problems(
    session: Session, record: PolicyVersionRecord, effective_from: dt.date, replaced: Policy
) -> tuple[StudioJob | None, list[str]]:
    """The impact analysis publishing on ``effective_from`` reads, and why it does not allow
    publishing (empty when a finished analysis of the current text as of that date, against
    ``replaced``, the version otherwise in force then, exists)."""
    job = impact_on(session, record, effective_from)
    day = effective_from.isoformat()
    if job is not None and job.against == replaced.version:
        return job, []
    if job is not None:
        return job, [
            f"the impact analysis of the current text as of {day} compares it with "
            f"{job.against}, but {replaced.version} is the version otherwise in force then: "
            f"run the impact analysis as of {day} again"
        ]
    problem = (
        f"no finished impact analysis of the current text as of the effective date {day}: "
        f"run the impact analysis as of {day} and wait for the result"
    )
    last = latest_impact_result(session, record)
    if last is not None and last.state == "failed":
        problem += f" (the last one failed: {last.error or 'it left no result'})"
    elif last is not None and last.as_of is not None and last.as_of != effective_from:
        problem += f" (the last one is as of {last.as_of.isoformat()}, another date)"
    return None, [problem]


def record_impact_run(
    session: Session,
    *,
    engine: Engine,
    clock: Clock,
    record: PolicyVersionRecord,
    registry: PolicyRegistry,
    actor: User | None,
    as_of: dt.date,
) -> StudioJob:
    """Run the impact analysis of the draft's current text as of ``as_of`` here and now,
    recorded as a studio impact job (planned by ``plan_impact``, run by the studio's own
    runner through ``attempts.run_job``, as a queue worker would); ``plan_publication``
    then finds it. Commits ``session`` (the job's row must be visible to the run's own
    sessions). Raises ``Invalid`` when the draft does not compile or (field ``as_of``)
    when no other version is in force on ``as_of``.
    """
    policy = compiled_policy(record)
    plan = plan_impact(registry, policy, today=clock.today(), as_of=as_of)
    job = StudioJob(
        kind="impact",
        policy_id=record.policy_id,
        version=record.version,
        digest=policy.digest,
        against=plan.against.version,
        as_of=plan.as_of,
        state="queued",
        created_by_id=actor.id if actor else None,
        heartbeat_at=utcnow(),
    )
    session.add(job)
    session.commit()
    assert job.id is not None
    attempts.run_job(engine, clock=clock, registry=lambda: registry, job_id=job.id,
                     max_attempts=1)  # fmt: skip
    session.refresh(job)
    return job


# --- publication -------------------------------------------------------------------------------


def _in_force(registry: PolicyRegistry, day: dt.date, policy_id: str) -> Policy | None:
    try:
        return registry.select(day, policy_id=policy_id)
    except NoVersionInForce:
        return None


def _value(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


def change_words(old: Policy, new: Policy) -> list[str]:
    """Every input, criterion and benefit ``new`` drops, adds or changes against ``old``,
    one sentence each, in policy order."""
    titles: dict[str, str] = {}
    for p in (new, old):
        titles.update({c.id: c.title for c in p.criteria})
        titles.update({b.id: b.title for b in p.benefits})
    out = []
    change: Change
    for change in diff_policies(old, new).changes:
        noun = _CONFIRMED_SECTIONS.get(change.section)
        if noun is None:
            continue
        name = f"{noun} {change.id}"
        if change.section != "inputs" and change.id in titles:
            name += f" ({titles[change.id]})"
        if change.kind == "removed":
            was = f": {_value(change.old)}" if change.old else ""
            out.append(f"drops {name} of {old.version}{was}")
        elif change.kind == "added":
            now = f": {_value(change.new)}" if change.new else ""
            out.append(f"adds {name}, not in {old.version}{now}")
        else:
            out.append(
                f"changes {name}, {_FIELD_WORDS.get(change.field or '', change.field)} "
                f"{_value(change.old)} in {old.version} -> "
                f"{_value(change.new)}"
            )
    return out


def _confirmation(replaced: Policy | None, changes: list[str]) -> str:
    text = "\n".join([replaced.digest if replaced else "-", *changes])
    return hashlib.sha256(text.encode()).hexdigest()[:12]


@dataclass
class PublicationPlan:
    """What publishing a draft on ``effective_from`` would do, and what stands in the way.

    ``policy``/``text``: the draft with its effective date set (what would be
    stored); ``replaced``: the version that would otherwise be in force on that
    date (None when none would be); ``base_matches``: that version is the draft's
    base (or there is none); ``changes``: every input, criterion and benefit the
    draft drops, adds or changes against ``replaced``, in words; ``until`` and
    ``until_from``: the later version that takes over from the draft, and its
    date (None: the draft stays in force); ``timeline``: the periods in force
    with the draft published; ``problems``: what refuses publication (dates,
    approval, the scenario run, the impact analysis); ``spec_job``: the run read;
    ``impact_job``: the finished impact analysis of the current text as of
    ``effective_from`` (None: none, which refuses publication); ``confirmation``: a
    short digest of ``changes`` the author echoes back to confirm them.
    """

    record: PolicyVersionRecord
    effective_from: dt.date
    policy: Policy
    text: str
    replaced: Policy | None
    base_matches: bool
    changes: list[str]
    until: Policy | None
    until_from: dt.date | None
    timeline: list[Period]
    problems: list[str]
    spec_job: StudioJob | None
    confirmation: str
    specs: dict[str, Any] | None = field(default=None)
    impact_job: StudioJob | None = field(default=None)

    @property
    def needs_confirmation(self) -> bool:
        """True when the draft's base is not the version it replaces and the rules differ."""
        return not self.base_matches and bool(self.changes)

    @property
    def ok(self) -> bool:
        """No problem refuses it (a needed confirmation is asked for separately)."""
        return not self.problems

    def shadow_message(self) -> str:
        """The sentence naming the replaced version and every change to confirm."""
        replaced = self.replaced.version if self.replaced else "none"
        base = self.record.base_version or "none"
        return (
            f"From {self.effective_from.isoformat()} version {self.record.version} would "
            f"replace {replaced}, which is not its base ({base}); against {replaced} it "
            + "; ".join(self.changes)
            + "."
        )


def _date_problems(
    session: Session,
    record: PolicyVersionRecord,
    effective_from: dt.date,
    today: dt.date,
    registry: PolicyRegistry,
) -> list[str]:
    problems = []
    if effective_from < today:
        problems.append(
            f"the effective date {effective_from.isoformat()} is in the past: decisions have "
            f"already been made on that date. Choose today ({today.isoformat()}) or later"
        )
    decided = session.exec(
        select(sa.func.max(Assessment.as_of)).where(col(Assessment.policy_id) == record.policy_id)
    ).one()
    if decided is not None and decided >= effective_from:
        problems.append(
            f"Decisions have already been made for {decided.isoformat()}, on or after "
            f"{effective_from.isoformat()}; a new version may only take effect after them. "
            f"Choose {(decided + dt.timedelta(days=1)).isoformat()} or later"
        )
    for p in registry.versions(record.policy_id):
        if p.effective_from == effective_from and p.version != record.version:
            problems.append(
                f"Version {p.version} already takes effect on {effective_from.isoformat()}; "
                "two versions cannot start on the same day. Choose another date"
            )
    return problems


def replaced_on(
    registry: PolicyRegistry, record: PolicyVersionRecord, effective_from: dt.date
) -> Policy | None:
    """The version that would otherwise be in force on ``effective_from`` if ``record`` were
    published then (never ``record``'s own number), or None: none would."""
    replaced = _in_force(registry, effective_from, record.policy_id)
    if replaced is not None and replaced.version == record.version:
        return None  # a file of the draft's own number is not another version
    return replaced


def plan_publication(
    session: Session,
    *,
    record: PolicyVersionRecord,
    effective_from: dt.date,
    today: dt.date,
    registry: PolicyRegistry,
) -> PublicationPlan:
    """Everything publishing ``record`` from ``effective_from`` would do and every problem.

    ``registry`` is the current catalogue (retirements included). Raises
    ``Conflict`` when ``record`` is not a draft and ``Invalid`` when it does not
    compile; every other refusal is listed in the plan's ``problems``.
    """
    require_draft(record)
    compiled_policy(record)
    text = set_line(EFFECTIVE_RE, record.text, "effective_from", effective_from.isoformat())
    try:
        policy = load_policy_text(text, source=f"{record.version}.yaml")
    except PolicyError as exc:  # cannot happen for a compiled draft; said plainly if it does
        raise Invalid("; ".join(exc.errors), field="effective_from") from None
    replaced = replaced_on(registry, record, effective_from)
    base_matches = replaced is None or replaced.version == record.base_version
    changes = change_words(replaced, policy) if replaced is not None else []
    what_if = registry.with_versions([policy])
    timeline = what_if.timeline(record.policy_id)
    until = until_from = None
    for period in timeline:
        if period.start > effective_from and period.policy is not policy:
            until, until_from = period.policy, period.start
            break
    problems = _date_problems(session, record, effective_from, today, registry)
    if not is_approved(record):
        if record.approved_by_id is not None:
            problems.append(
                f"its approval (of revision {record.approved_revision}) was voided by a later "
                "save: a second person must approve the current text"
            )
        else:
            problems.append(
                "it has not been approved by a second person (an author or administrator "
                "who did not edit it)"
            )
    job = latest_spec_result(session, record)
    problems.extend(_spec_problems(job))
    impact_job: StudioJob | None = None
    if replaced is not None:  # with no other version in force there is nothing to compare
        impact_job, impact_problems = _impact_problems(session, record, effective_from, replaced)
        problems.extend(impact_problems)
    return PublicationPlan(
        record=record,
        effective_from=effective_from,
        policy=policy,
        text=text,
        replaced=replaced,
        base_matches=base_matches,
        changes=changes,
        until=until,
        until_from=until_from,
        timeline=timeline,
        problems=problems,
        spec_job=job,
        confirmation=_confirmation(replaced, changes),
        specs=job.result if job is not None and job.state == "done" else None,
        impact_job=impact_job,
    )


def publish(
    session: Session,
    *,
    record: PolicyVersionRecord,
    effective_from: dt.date,
    today: dt.date,
    registry: PolicyRegistry,
    actor: User,
    lock_version: int | None,
    confirmed: str | None,
) -> Policy:
    """Publish a draft from ``effective_from`` and return the published policy.

    Refused (``Invalid``, every problem named) unless a second person approved
    the current revision, the newest finished scenario run of the current text
    passed, an impact analysis of the current text as of ``effective_from``
    finished and the date is allowed; when the draft would replace a version that
    is not its base, ``confirmed`` must equal the plan's ``confirmation``
    (``Invalid`` with field ``confirmation`` naming every change otherwise).
    ``Conflict`` when ``lock_version`` (None: not checked) moved or the draft
    changed meanwhile; ``Forbidden`` for an actor who is not an author or
    administrator. Audited as ``policy.published`` with the replaced version,
    the confirmed changes, the approval and the scenario run.
    """
    _require_role(actor, "publish a version")
    if lock_version is not None and lock_version != record.lock_version:
        raise Conflict(
            f"Version {record.version} was saved again after you reviewed it; review the "
            "new text and its results before publishing.",
            field="lock_version",
        )
    plan = plan_publication(
        session, record=record, effective_from=effective_from, today=today, registry=registry
    )
    if plan.problems:
        raise Invalid(
            f"Version {record.version} cannot be published: " + "; ".join(plan.problems) + ".",
            field="effective_from",
        )
    if plan.needs_confirmation and confirmed != plan.confirmation:
        raise Invalid(
            plan.shadow_message() + " Publishing needs an explicit confirmation of these "
            "changes (or a draft based on the version it replaces).",
            field="confirmation",
        )
    # The revision the second person approved (the plan refused anything else), read
    # before the compare-and-set below moves lock_version on.
    approved_revision = record.approved_revision
    now = utcnow()
    published = update_if_unchanged(
        session,
        PolicyVersionRecord,
        record.id,
        record.lock_version,
        where={"state": PolicyState.DRAFT.value},
        text=plan.text,
        digest=plan.policy.digest,
        effective_from=effective_from,
        state=PolicyState.PUBLISHED.value,
        published_at=now,
        published_by_id=actor.id,
        updated_at=now,
    )
    if not published:
        session.rollback()
        raise Conflict(f"Version {record.version} changed while it was being published.")
    audit_version(
        session,
        record,
        "policy.published",
        actor,
        after={
            "policy_id": record.policy_id,
            "version": record.version,
            "effective_from": effective_from.isoformat(),
            "digest": record.digest,
            "base_version": record.base_version,
            "replaces": plan.replaced.version if plan.replaced else None,
            "until": plan.until.version if plan.until else None,
            "confirmed_changes": plan.changes if plan.needs_confirmation else [],
            "approved_by_id": record.approved_by_id,
            "approved_revision": approved_revision,
            "specs": _spec_summary(plan.spec_job),
            "impact": _impact_summary(plan.impact_job),
        },
        digest=record.digest,
    )
    return plan.policy


# --- retirement --------------------------------------------------------------------------------


@dataclass
class RetirementPlan:
    """What retiring a version from ``retired_from`` would do, and what stands in the way.

    ``after``: the version that applies from ``retired_from`` (None: none
    would, and assessments on those dates are refused); ``changes``: every
    input, criterion and benefit that differs from ``after`` (in words);
    ``timeline``: the periods in force with the retirement; ``problems``: what
    refuses it.
    """

    record: PolicyVersionRecord
    retired_from: dt.date
    policy: Policy | None
    after: Policy | None
    changes: list[str]
    timeline: list[Period]
    problems: list[str]

    @property
    def ok(self) -> bool:
        """No problem refuses it."""
        return not self.problems


def _state_problem(record: PolicyVersionRecord) -> str | None:
    if record.state == PolicyState.RETIRED.value:
        when = record.retired_from.isoformat() if record.retired_from else "an earlier date"
        return f"version {record.version} is already retired (from {when})"
    if record.state != PolicyState.PUBLISHED.value:
        return f"version {record.version} is a {record.state}, never published: discard it instead"
    return None


def plan_retirement(
    session: Session,
    *,
    record: PolicyVersionRecord,
    retired_from: dt.date,
    today: dt.date,
    registry: PolicyRegistry,
) -> RetirementPlan:
    """Everything retiring ``record`` from ``retired_from`` (the first day it no longer
    applies) would do, and every problem: not published (a draft, or retired
    already), a date in the past or before its effective date, decisions already
    made under it on or after that date."""
    problems = []
    state = _state_problem(record)
    if state:
        problems.append(state)
    try:
        policy: Policy | None = registry.get(record.version, record.policy_id)
    except NoVersionInForce:
        try:
            policy = load_policy_text(record.text, source=f"{record.version}.yaml")
        except PolicyError:
            policy = None
    if retired_from < today:
        problems.append(
            f"the date {retired_from.isoformat()} is in the past: decisions may have been made "
            f"under it then. Choose today ({today.isoformat()}) or later"
        )
    start = record.effective_from or (policy.effective_from if policy else None)
    if start is not None and retired_from < start:
        problems.append(
            f"{retired_from.isoformat()} is before its effective date {start.isoformat()}"
        )
    decided = session.exec(
        select(sa.func.max(Assessment.as_of)).where(
            col(Assessment.policy_id) == record.policy_id,
            col(Assessment.policy_version) == record.version,
        )
    ).one()
    if decided is not None and decided >= retired_from:
        problems.append(
            f"decisions have already been made under {record.version} for "
            f"{decided.isoformat()}, on or after {retired_from.isoformat()}. Choose "
            f"{(decided + dt.timedelta(days=1)).isoformat()} or later"
        )
    after: Policy | None = None
    changes: list[str] = []
    timeline: list[Period] = []
    if policy is not None:
        what_if = registry.with_versions(
            [policy], retired={(record.policy_id, record.version): retired_from}
        )
        after = _in_force(what_if, retired_from, record.policy_id)
        timeline = what_if.timeline(record.policy_id)
        if after is not None:
            changes = change_words(policy, after)
    return RetirementPlan(
        record=record,
        retired_from=retired_from,
        policy=policy,
        after=after,
        changes=changes,
        timeline=timeline,
        problems=problems,
    )


def retire(
    session: Session,
    *,
    record: PolicyVersionRecord,
    retired_from: dt.date,
    today: dt.date,
    registry: PolicyRegistry,
    actor: User,
) -> None:
    """Retire a published version: from ``retired_from`` on it no longer applies (the
    latest other version in effect applies again); decisions made under it keep it.

    Raises ``Forbidden`` for an actor who is not an author or administrator,
    ``Conflict`` when it is not published (a draft, or retired already),
    ``Invalid`` naming every problem of the date. Audited as ``policy.retired``
    with the version applying afterwards and what changes.
    """
    _require_role(actor, "retire a version")
    state = _state_problem(record)
    if state:
        raise Conflict(state[0].upper() + state[1:] + ".")
    plan = plan_retirement(
        session, record=record, retired_from=retired_from, today=today, registry=registry
    )
    if plan.problems:
        raise Invalid(
            f"Version {record.version} cannot be retired from {retired_from.isoformat()}: "
            + "; ".join(plan.problems)
            + ".",
            field="retired_from",
        )
    now = utcnow()
    retired = update_if_unchanged(
        session,
        PolicyVersionRecord,
        record.id,
        record.lock_version,
        where={"state": PolicyState.PUBLISHED.value},
        state=PolicyState.RETIRED.value,
        retired_from=retired_from,
        retired_at=now,
        retired_by_id=actor.id,
        updated_at=now,
    )
    if not retired:
        session.rollback()
        raise Conflict(f"Version {record.version} changed while it was being retired.")
    audit_version(
        session,
        record,
        "policy.retired",
        actor,
        after={
            "policy_id": record.policy_id,
            "version": record.version,
            "retired_from": retired_from.isoformat(),
            "applies_after": plan.after.version if plan.after else None,
            "changes": plan.changes,
        },
        digest=record.digest,
    )
