"""Changing filings: create, update and submit drafts, revise, and move a filing along
the state machine (``transition``), each a compare-and-set on ``lock_version`` that
flushes and never commits (see ``hub.services.filings``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from hub import audit
from hub.models import Assessment, Company, Filing, FilingStatus, stored_id
from hub.policy import Policy, PolicyRegistry
from hub.policy.ahead import check_ahead
from hub.services.filings.reading import (
    assess_filing,
    check_draft_inputs,
    inputs_ahead,
    pending_filings,
    policy_in_force,
    successor_of,
)
from hub.services.filings.states import (
    APPROVED,
    DRAFT,
    PENDING,
    REJECTED,
    REVISABLE,
    STATUS_WORDS,
    SUBMITTED,
    SUPERSEDED,
    TRANSITIONS,
    WITHDRAWN,
    FilingConflict,
    FilingRejected,
    stale,
    wrong_status,
)
from hub.storage import update_if_unchanged, utcnow


def _compare_and_set(
    session: Session,
    filing: Filing,
    *,
    lock_version: int,
    status: str,
    values: Mapping[str, Any],
) -> None:
    """Apply ``values`` only if the row still has ``status`` and ``lock_version``; bump it.

    Raises FilingConflict (after reloading ``filing``) when someone changed it first.
    """
    session.flush()
    where = {"status": status}
    changed = update_if_unchanged(
        session, Filing, filing.id, lock_version, where=where, **values, updated_at=utcnow()
    )
    session.refresh(filing)
    if not changed:
        raise stale(filing)


def _check_seen(filing: Filing, lock_version: int | None) -> int:
    """The lock_version the change is based on (the caller's, else the loaded one)."""
    if lock_version is None:
        return filing.lock_version
    if lock_version != filing.lock_version:
        raise stale(filing)
    return lock_version


def _prefilled(policy: Policy, inputs: Any, company: Company) -> Any:
    """``inputs`` with the company's legal name and activity where they are absent (or
    null), as a new draft starts: a draft saved without them (a PUT of other inputs)
    keeps what the account says instead of losing it. Anything not a mapping is left
    for ``check_draft_inputs`` to refuse."""
    if not isinstance(inputs, Mapping):
        return inputs
    given = dict(inputs)
    if given.get("legal_name") is None:
        given["legal_name"] = company.legal_name
    if given.get(policy.applicability_input) is None and company.activity in policy.activities:
        given[policy.applicability_input] = company.activity
    return given


def create_draft(
    session: Session,
    *,
    company: Company,
    actor_id: int | None,
    inputs: Mapping[str, Any] | None,
    registry: PolicyRegistry,
    today: dt.date,
) -> Filing:
    """Start a filing for ``company``: BIN from the account, name and activity prefilled."""
    policy = policy_in_force(registry, today)
    given = _prefilled(policy, {} if inputs is None else inputs, company)
    ahead = inputs_ahead(registry, policy, today)
    values = check_draft_inputs(policy, given, company=company, ahead=ahead)
    filing = Filing(
        company_id=stored_id(company),
        status=DRAFT,
        inputs=values,
        created_by_id=actor_id,
    )
    session.add(filing)
    session.flush()
    audit.append(
        session,
        action="filing.created",
        entity_type="filing",
        entity_id=filing.id,
        actor_id=actor_id,
        after={"status": DRAFT, "company_id": company.id, "lock_version": filing.lock_version},
    )
    return filing


def update_draft(
    session: Session,
    *,
    filing: Filing,
    company: Company,
    actor_id: int | None,
    inputs: Mapping[str, Any],
    lock_version: int | None,
    registry: PolicyRegistry,
    today: dt.date,
    keep_identity: bool = False,
) -> Filing:
    """Replace a draft's inputs (partial inputs allowed); 409 unless it is a draft as seen.

    ``keep_identity`` (the API's PUT, whose body need not repeat them): a legal name or
    activity absent from ``inputs`` is the account's, as a new draft's is; the filing
    form sends every field, and an answer it leaves empty stays empty.
    """
    if filing.status != DRAFT:
        raise wrong_status(
            filing, "be edited", hint=": start a revision, which creates a new draft"
        )
    seen = _check_seen(filing, lock_version)
    policy = policy_in_force(registry, today)
    ahead = inputs_ahead(registry, policy, today)
    given = _prefilled(policy, inputs, company) if keep_identity else inputs
    values = check_draft_inputs(policy, given, company=company, ahead=ahead)
    before = dict(filing.inputs or {})
    changed = sorted(k for k in before.keys() | values.keys() if before.get(k) != values.get(k))
    _compare_and_set(session, filing, lock_version=seen, status=DRAFT, values={"inputs": values})
    audit.append(
        session,
        action="filing.draft_saved",
        entity_type="filing",
        entity_id=filing.id,
        actor_id=actor_id,
        before={"lock_version": seen},
        after={"lock_version": filing.lock_version, "changed": changed},
    )
    return filing


def submit(
    session: Session,
    *,
    filing: Filing,
    actor_id: int | None,
    lock_version: int | None,
    registry: PolicyRegistry,
    today: dt.date,
) -> Filing:
    """Submit a draft for review: validate, assess, freeze, and record it, atomically.

    Writes (all in the caller's transaction) the frozen filing, an ``Assessment``
    row, the ``superseded`` status of the filing it revises when that one was still
    pending, and the audit records. 422 with field errors if the inputs are not
    complete and valid; 409 if it is not a draft (submitting twice) or is stale. The
    frozen inputs keep the draft's answers ahead of upcoming versions (``inputs_ahead``).
    """
    if filing.status != DRAFT:
        raise wrong_status(filing, "be submitted again")
    seen = _check_seen(filing, lock_version)
    _lock_company(session, filing.company_id)
    decision = assess_filing(filing, registry=registry, today=today)
    document = decision.to_dict()
    clean = dict(decision.filing)
    policy = decision.policy
    # Answers ahead of an upcoming version are kept (it decides on them from its first
    # day); checked again, since the versions published ahead may have changed.
    later, errors = check_ahead(
        policy, dict(filing.inputs or {}), inputs_ahead(registry, policy, today)
    )
    if errors:
        raise FilingRejected(errors)
    now = utcnow()
    _compare_and_set(
        session,
        filing,
        lock_version=seen,
        status=DRAFT,
        values={
            "status": SUBMITTED,
            "inputs": clean | later,
            "decision": document,
            "policy_id": policy.id,
            "policy_version": policy.version,
            "policy_digest": policy.digest,
            "tier_claimed": decision.tier,
            "submitted_at": now,
        },
    )
    assessment = Assessment(
        filing_id=filing.id,
        company_id=filing.company_id,
        inputs=clean,
        as_of=today,
        policy_id=policy.id,
        policy_version=policy.version,
        policy_digest=policy.digest,
        decision=document,
        tier=decision.tier,
        created_by_id=actor_id,
    )
    session.add(assessment)
    session.flush()
    if filing.supersedes_id is not None:
        _supersede_predecessor(session, filing=filing, actor_id=actor_id)
    for other in pending_filings(session, company_id=filing.company_id, excluding=filing.id):
        _supersede(session, previous=other, by=filing, actor_id=actor_id)
    audit.append(
        session,
        action="filing.submitted",
        entity_type="filing",
        entity_id=filing.id,
        actor_id=actor_id,
        before={"status": DRAFT, "lock_version": seen},
        after={
            "status": SUBMITTED,
            "lock_version": filing.lock_version,
            "tier": decision.tier,
            "as_of": today.isoformat(),
            "assessment_id": assessment.id,
            "supersedes_id": filing.supersedes_id,
        },
        policy_version=policy.version,
        policy_digest=policy.digest,
    )
    return filing


def _supersede_predecessor(session: Session, *, filing: Filing, actor_id: int | None) -> None:
    previous = session.get(Filing, filing.supersedes_id)
    if previous is None or previous.company_id != filing.company_id:
        return
    session.refresh(previous)
    if previous.status == SUPERSEDED:
        raise FilingConflict(
            f"filing {previous.id}, which this draft revises, has already been replaced by "
            "another revision; start again from the newest filing",
            filing=previous,
        )
    if previous.status not in PENDING:
        return  # approved, rejected or withdrawn: the decision stays on record
    _supersede(session, previous=previous, by=filing, actor_id=actor_id)


def _supersede(session: Session, *, previous: Filing, by: Filing, actor_id: int | None) -> None:
    """``previous`` (pending) becomes superseded by the submission ``by``; audited."""
    try:
        transition(
            session,
            filing=previous,
            to=SUPERSEDED,
            lock_version=previous.lock_version,
            actor_id=actor_id,
            action="filing.superseded",
            details={"superseded_by": by.id},
        )
    except FilingConflict:
        raise FilingConflict(
            f"filing {previous.id}, which this submission replaces, changed while you were "
            "submitting (a reviewer acted on it). Submit again.",
            filing=previous,
        ) from None


def _lock_company(session: Session, company_id: int) -> None:
    """Serialise the submissions of one company until the transaction ends.

    A no-op UPDATE of the company's row: PostgreSQL locks the row (a second submission
    waits, then reads what the first committed), SQLite takes its write lock. So two
    submissions at once cannot both find no pending filing and both stay submitted.
    """
    session.execute(
        sa.update(Company).where(col(Company.id) == company_id).values(id=col(Company.id))
    )


def withdraw(
    session: Session,
    *,
    filing: Filing,
    actor_id: int | None,
    lock_version: int | None,
) -> Filing:
    """Take back a submission no one has decided yet (submitted, or sent back with changes
    requested): it becomes ``withdrawn``, final, and leaves the review queue; audited.

    The company can start a new draft from it with ``revise``. 409 once the hub has
    decided it (approved, rejected), when it is not submitted, or when stale.
    """
    if filing.status not in PENDING:
        decided = filing.status in (APPROVED, REJECTED)
        hint = ": the hub has decided it, and a decision stays on record" if decided else ""
        raise wrong_status(filing, "be withdrawn", hint=hint)
    return transition(
        session,
        filing=filing,
        to=WITHDRAWN,
        lock_version=_check_seen(filing, lock_version),
        actor_id=actor_id,
        action="filing.withdrawn",
    )


def revise(
    session: Session,
    *,
    filing: Filing,
    actor_id: int | None,
    lock_version: int | None = None,
) -> Filing:
    """Start a new draft that revises a submitted or decided filing (inputs copied).

    If a draft revising it is already open, that draft is returned instead of a second.
    """
    if filing.status == DRAFT:
        raise wrong_status(filing, "be revised", hint=": edit the draft itself")
    if filing.status not in REVISABLE:
        newer = successor_of(session, filing=filing)
        hint = f": filing {newer.id} replaces it, revise that one" if newer else ""
        raise wrong_status(filing, "be revised", hint=hint)
    _check_seen(filing, lock_version)
    existing = session.exec(
        select(Filing).where(
            Filing.supersedes_id == filing.id,
            Filing.company_id == filing.company_id,
            Filing.status == DRAFT,
        )
    ).first()
    if existing is not None:
        return existing
    draft = Filing(
        company_id=filing.company_id,
        status=DRAFT,
        inputs=dict(filing.inputs or {}),
        supersedes_id=filing.id,
        created_by_id=actor_id,
    )
    session.add(draft)
    session.flush()
    audit.append(
        session,
        action="filing.created",
        entity_type="filing",
        entity_id=draft.id,
        actor_id=actor_id,
        after={
            "status": DRAFT,
            "company_id": filing.company_id,
            "supersedes_id": filing.id,
            "lock_version": draft.lock_version,
        },
    )
    return draft


def transition(
    session: Session,
    *,
    filing: Filing,
    to: str,
    lock_version: int,
    actor_id: int | None,
    action: str,
    values: Mapping[str, Any] | None = None,
    details: Mapping[str, Any] | None = None,
) -> Filing:
    """Move a filing to status ``to`` if allowed and unchanged since ``lock_version``.

    The building block for review decisions: ``values`` sets further columns
    (``reviewer_message``, ``decided_by_id``, ``valid_from``...), ``details`` go into
    the audit record's ``after``. 409 for a transition not in ``TRANSITIONS`` or a
    stale ``lock_version``. Inputs and the frozen decision cannot be changed this way.
    """
    to = FilingStatus(to).value
    extra = dict(values or {})
    frozen = {"inputs", "decision", "policy_id", "policy_version", "policy_digest", "status"}
    if frozen & extra.keys():
        raise ValueError(f"transition() cannot change {sorted(frozen & extra.keys())}")
    seen_status = filing.status
    if to not in TRANSITIONS.get(seen_status, frozenset()):
        raise wrong_status(filing, f"become {STATUS_WORDS.get(to, to)}")
    seen = _check_seen(filing, lock_version)
    _compare_and_set(
        session, filing, lock_version=seen, status=seen_status, values={"status": to, **extra}
    )
    audit.append(
        session,
        action=action,
        entity_type="filing",
        entity_id=filing.id,
        actor_id=actor_id,
        before={"status": seen_status, "lock_version": seen},
        after={"status": to, "lock_version": filing.lock_version, **dict(details or {})},
        policy_version=filing.policy_version,
        policy_digest=filing.policy_digest,
    )
    return filing
