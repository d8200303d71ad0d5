"""Company filings: drafts, submission and revision, always scoped to one company.

State machine of ``Filing.status``::

    create_draft ──► draft ◄── update_draft (partial inputs; only invalid values refused)
                       │
                     submit   (full validation; inputs, decision, policy id/version/
                       │       digest and as_of frozen; Assessment row; audit record)
                       ▼
                   submitted ──(review, issue 6)──► approved | rejected | changes_requested
                       │
    revise(any of submitted, changes_requested, approved, rejected)
        └──► a NEW draft whose ``supersedes_id`` is the revised filing (its inputs copied).
             When that draft is submitted, the revised filing becomes ``superseded`` if it
             was still pending (submitted or changes_requested), in the same transaction.
             An approved or rejected filing keeps its status: a decision taken stays a fact,
             and the certificate of an approved filing is replaced only when the new
             filing is approved (the review may call ``transition(..., to=SUPERSEDED)``).

``superseded`` is final. Only drafts are editable; from ``submitted`` on, a filing's
inputs, decision, policy version and digest never change again (``as_of`` is inside
the decision, and the same decision is kept in an ``Assessment`` row). ``TRANSITIONS``
lists every allowed status change; ``transition`` applies one (the review uses it).

Concurrency: every change is a compare-and-set on ``lock_version``
(``UPDATE ... WHERE id = :id AND status = :seen_status AND lock_version = :seen``)
that bumps it, so a stale form, a second browser tab or a second admin gets
``FilingConflict`` (409) instead of silently overwriting.

Transactions: functions flush and never commit. The caller commits once, so a
submission (filing, Assessment, predecessor superseded, audit record) is stored
entirely or not at all; the request teardown rolls back whatever is not committed.

Errors are domain errors (``hub.services.errors``: ``FilingNotFound`` a ``NotFound``,
``FilingConflict`` a ``Conflict``, ``FilingRejected`` an ``Invalid`` with field errors),
which ``hub.errors`` renders as 404, 409 and 422 in the one JSON shape or the one error
page; views catch them only to show them in a form.
A filing of another company is "not found", never "forbidden".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from hub import audit
from hub.models import Assessment, Company, Filing, FilingStatus, stored_id
from hub.policy import Decision, FilingInvalid, NoVersionInForce, Policy, PolicyRegistry, assess
from hub.policy import validate_filing as _validate_filing
from hub.policy.filing import field_name
from hub.policy.text import nfc
from hub.services.errors import Conflict, Invalid, NotFound
from hub.storage import utcnow

DRAFT = FilingStatus.DRAFT.value
SUBMITTED = FilingStatus.SUBMITTED.value
APPROVED = FilingStatus.APPROVED.value
REJECTED = FilingStatus.REJECTED.value
CHANGES_REQUESTED = FilingStatus.CHANGES_REQUESTED.value
SUPERSEDED = FilingStatus.SUPERSEDED.value

#: Every allowed status change (from -> the statuses it may become).
TRANSITIONS: dict[str, frozenset[str]] = {
    DRAFT: frozenset({SUBMITTED}),
    SUBMITTED: frozenset({APPROVED, REJECTED, CHANGES_REQUESTED, SUPERSEDED}),
    CHANGES_REQUESTED: frozenset({SUPERSEDED}),
    APPROVED: frozenset({SUPERSEDED}),
    REJECTED: frozenset({SUPERSEDED}),
    SUPERSEDED: frozenset(),
}
#: Statuses from which a company may start a revision.
REVISABLE = frozenset({SUBMITTED, CHANGES_REQUESTED, APPROVED, REJECTED})
#: Statuses still waiting for the hub: a submitted revision supersedes them.
PENDING = frozenset({SUBMITTED, CHANGES_REQUESTED})

STATUS_WORDS = {
    DRAFT: "a draft",
    SUBMITTED: "submitted",
    APPROVED: "approved",
    REJECTED: "rejected",
    CHANGES_REQUESTED: "sent back with changes requested",
    SUPERSEDED: "superseded",
}


# --- errors ------------------------------------------------------------------------------


class FilingNotFound(NotFound):
    """No such filing for this company (also when it belongs to another one)."""

    def __init__(self, filing_id: Any) -> None:
        super().__init__(f"there is no filing {filing_id} for your company", field="id")


class FilingConflict(Conflict):
    """The filing is not in the state the caller saw (wrong status or stale lock_version).

    ``filing`` is the filing as it is now, so a view can show the current version.
    """

    def __init__(self, message: str, *, filing: Filing | None = None) -> None:
        super().__init__(message)
        self.filing = filing


class FilingRejected(Invalid):
    """The inputs cannot be saved or submitted; ``errors`` name each offending field."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(errors)


def _stale(filing: Filing) -> FilingConflict:
    return FilingConflict(
        f"filing {filing.id} was changed (in another tab, or by someone else) since you "
        f"loaded it: it is now {STATUS_WORDS.get(filing.status, filing.status)} at version "
        f"{filing.lock_version}. Reload it and make your change again.",
        filing=filing,
    )


def _wrong_status(filing: Filing, doing: str, hint: str = "") -> FilingConflict:
    state = STATUS_WORDS.get(filing.status, filing.status)
    return FilingConflict(
        f"filing {filing.id} is {state}, so it cannot {doing}{hint}", filing=filing
    )


# --- reading -----------------------------------------------------------------------------


def get_filing(session: Session, *, filing_id: Any, company_id: int) -> Filing:
    """The company's filing, or FilingNotFound (missing and foreign look the same)."""
    try:
        key = int(filing_id)
    except (TypeError, ValueError):
        raise FilingNotFound(filing_id) from None
    if not 0 < key < 2**63:
        raise FilingNotFound(filing_id)
    filing = session.get(Filing, key)
    if filing is None or filing.company_id != company_id:
        raise FilingNotFound(filing_id)
    return filing


def list_filings(session: Session, *, company_id: int, status: str | None = None) -> list[Filing]:
    """The company's filings, newest first, optionally of one status."""
    query = select(Filing).where(Filing.company_id == company_id)
    if status is not None:
        query = query.where(Filing.status == status)
    query = query.order_by(col(Filing.created_at).desc(), col(Filing.id).desc())
    return list(session.exec(query).all())


def successor_of(session: Session, *, filing: Filing) -> Filing | None:
    """The newest filing that revises ``filing`` (draft or submitted), if any."""
    return session.exec(
        select(Filing)
        .where(Filing.supersedes_id == filing.id, Filing.company_id == filing.company_id)
        .order_by(col(Filing.id).desc())
    ).first()


def filing_as_of(filing: Filing) -> dt.date | None:
    """The date a submitted filing was assessed on (kept inside its frozen decision)."""
    raw = (filing.decision or {}).get("as_of")
    return dt.date.fromisoformat(raw) if isinstance(raw, str) else None


def policy_in_force(registry: PolicyRegistry, today: dt.date) -> Policy:
    """The version drafts are checked and submissions assessed under (422 if none)."""
    try:
        return registry.select(today)
    except NoVersionInForce as exc:
        raise FilingRejected([{"field": exc.field, "message": exc.message}]) from None


# --- validation --------------------------------------------------------------------------


def check_draft_inputs(policy: Policy, inputs: Any, *, company: Company) -> dict[str, Any]:
    """The inputs a draft may store: every value present must be valid, none is required.

    A draft is work in progress, so absent inputs (required ones included) are fine;
    a value that is present but wrong (a typo'd field, text in a number, 150 %) is
    refused now rather than at submission. The BIN is always the company's own.
    Returns the inputs with absent (None) values dropped, as the client gave them but
    for text, which is kept in NFC (composed), the form validation compares it in.
    """
    if not isinstance(inputs, Mapping):
        raise FilingRejected([{"field": "filing", "message": "must be a JSON object"}])
    values = {k: nfc(v) for k, v in inputs.items() if v is not None}
    # Unknown names first and on our own: the core may skip that check when it
    # already has other errors (it counts them to decide whether to look).
    known = policy.inputs_by_name
    errors: list[dict[str, Any]] = [
        {"field": field_name(k), "message": f"unknown field for policy {policy.version}"}
        for k in values
        if k not in known
    ]
    values = {k: v for k, v in values.items() if k in known}
    if "bin" in values and values["bin"] != company.bin:
        errors.append({"field": "bin", "message": f"is fixed to your company's BIN {company.bin}"})
    values["bin"] = company.bin
    try:
        _validate_filing(policy, values)
    except FilingInvalid as exc:
        required = {i.name for i in policy.inputs if i.required}
        errors.extend(
            e for e in exc.errors if not (e.get("field") in required and e["field"] not in values)
        )
    if errors:
        raise FilingRejected(errors)
    return values


def assess_filing(filing: Filing, *, registry: PolicyRegistry, today: dt.date) -> Decision:
    """Re-assess a filing's current inputs under the version in force (nothing stored).

    Raises FilingRejected with the field errors while the inputs are incomplete or invalid.
    """
    policy = policy_in_force(registry, today)
    try:
        return assess(policy, dict(filing.inputs or {}), today)
    except FilingInvalid as exc:
        raise FilingRejected(exc.errors) from None


# --- changing ----------------------------------------------------------------------------


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
    statement = (
        sa.update(Filing)
        .where(
            col(Filing.id) == filing.id,
            col(Filing.status) == status,
            col(Filing.lock_version) == lock_version,
        )
        .values(**values, lock_version=lock_version + 1, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    result = session.exec(statement)
    session.refresh(filing)
    if result.rowcount != 1:
        raise _stale(filing)


def _check_seen(filing: Filing, lock_version: int | None) -> int:
    """The lock_version the change is based on (the caller's, else the loaded one)."""
    if lock_version is None:
        return filing.lock_version
    if lock_version != filing.lock_version:
        raise _stale(filing)
    return lock_version


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
    given = {} if inputs is None else dict(inputs) if isinstance(inputs, Mapping) else inputs
    if isinstance(given, dict):
        given.setdefault("legal_name", company.legal_name)
        if company.activity and company.activity in policy.activities:
            given.setdefault(policy.applicability_input, company.activity)
    values = check_draft_inputs(policy, given, company=company)
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
) -> Filing:
    """Replace a draft's inputs (partial inputs allowed); 409 unless it is a draft as seen."""
    if filing.status != DRAFT:
        raise _wrong_status(
            filing, "be edited", hint=": start a revision, which creates a new draft"
        )
    seen = _check_seen(filing, lock_version)
    values = check_draft_inputs(policy_in_force(registry, today), inputs, company=company)
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
    complete and valid; 409 if it is not a draft (submitting twice) or is stale.
    """
    if filing.status != DRAFT:
        raise _wrong_status(filing, "be submitted again")
    seen = _check_seen(filing, lock_version)
    decision = assess_filing(filing, registry=registry, today=today)
    document = decision.to_dict()
    clean = dict(decision.filing)
    policy = decision.policy
    now = utcnow()
    _compare_and_set(
        session,
        filing,
        lock_version=seen,
        status=DRAFT,
        values={
            "status": SUBMITTED,
            "inputs": clean,
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
        return  # approved or rejected: the decision stays on record
    try:
        transition(
            session,
            filing=previous,
            to=SUPERSEDED,
            lock_version=previous.lock_version,
            actor_id=actor_id,
            action="filing.superseded",
            details={"superseded_by": filing.id},
        )
    except FilingConflict:
        raise FilingConflict(
            f"filing {previous.id}, which this draft revises, changed while you were "
            "submitting (a reviewer acted on it). Submit again.",
            filing=previous,
        ) from None


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
        raise _wrong_status(filing, "be revised", hint=": edit the draft itself")
    if filing.status not in REVISABLE:
        newer = successor_of(session, filing=filing)
        hint = f": filing {newer.id} replaces it, revise that one" if newer else ""
        raise _wrong_status(filing, "be revised", hint=hint)
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
        raise _wrong_status(filing, f"become {STATUS_WORDS.get(to, to)}")
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


# --- presenting --------------------------------------------------------------------------


def _iso(value: dt.date | dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def filing_to_dict(filing: Filing) -> dict[str, Any]:
    """A filing as the API returns it (the decision exactly as it was frozen)."""
    policy = (
        {"id": filing.policy_id, "version": filing.policy_version, "digest": filing.policy_digest}
        if filing.policy_version
        else None
    )
    as_of = filing_as_of(filing)
    return {
        "id": filing.id,
        "company_id": filing.company_id,
        "status": filing.status,
        "lock_version": filing.lock_version,
        "inputs": filing.inputs,
        "policy": policy,
        "as_of": _iso(as_of),
        "tier_claimed": filing.tier_claimed,
        "decision": filing.decision,
        "reviewer_message": filing.reviewer_message,
        "supersedes_id": filing.supersedes_id,
        "created_at": _iso(filing.created_at),
        "updated_at": _iso(filing.updated_at),
        "submitted_at": _iso(filing.submitted_at),
        "decided_at": _iso(filing.decided_at),
        "valid_from": _iso(filing.valid_from),
        "valid_until": _iso(filing.valid_until),
    }
