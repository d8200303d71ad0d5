"""A reviewer's actions on a submitted filing: override, approve, reject, request changes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlmodel import Session, col, select

from hub import audit
from hub.clock import Clock
from hub.models import CriterionOverride, Filing, stored_id
from hub.policy import PolicyRegistry
from hub.policy.text import clean_text
from hub.services import filings as svc
from hub.services.filings import FilingConflict
from hub.services.review.certificates import new_certificate_code, validity
from hub.services.review.common import (
    APPROVED,
    CHANGES_REQUESTED,
    REJECTED,
    SUBMITTED,
    SUPERSEDED,
    ReviewInvalid,
)
from hub.services.review.decision import final_decision, policy_of, require_readable
from hub.services.review.queue import effective_overrides, overrides
from hub.storage import update_if_unchanged, utcnow

#: Statuses a reviewer may set by override (``missing`` is a fact about the inputs).
OVERRIDE_STATUSES = ("met", "not_met", "not_applicable")
MAX_TEXT = 5000
MIN_REASON = 10


def _text(value: Any, field_name: str, what: str, *, minimum: int = 1) -> str:
    # Several lines of text: NFC, and nothing that cannot be stored or shown (a NUL,
    # other control characters than tabs and line breaks, a lone surrogate).
    text, problem = clean_text(value if isinstance(value, str) else "", multiline=True, name=False)
    if problem is not None:
        raise ReviewInvalid(field_name, f"{what} {problem}")
    if not text:
        raise ReviewInvalid(field_name, f"write {what}: it is required and kept on record")
    if len(text) < minimum:
        raise ReviewInvalid(
            field_name, f"write {what} in a full sentence (at least {minimum} characters)"
        )
    if len(text) > MAX_TEXT:
        raise ReviewInvalid(field_name, f"keep {what} under {MAX_TEXT} characters")
    return text


def _check_seen(session: Session, filing: Filing, lock_version: int) -> None:
    """Conflict (409) unless the filing is still at the version the reviewer's page showed."""
    if lock_version != filing.lock_version:
        raise _conflict(session, filing)


def _conflict(session: Session, filing: Filing) -> FilingConflict:
    """The conflict message a second reviewer reads: who changed the filing, and to what."""
    from hub.models import User

    state = svc.STATUS_WORDS.get(filing.status, filing.status)
    who = ""
    if filing.decided_by_id and filing.status in {APPROVED, REJECTED, CHANGES_REQUESTED}:
        user = session.get(User, filing.decided_by_id)
        when = filing.decided_at.strftime("%Y-%m-%d %H:%M UTC") if filing.decided_at else ""
        who = f" by {user.email if user else 'another reviewer'} ({when})"
    elif filing.status == SUBMITTED:
        last = session.exec(
            select(CriterionOverride)
            .where(CriterionOverride.filing_id == filing.id)
            .order_by(col(CriterionOverride.id).desc())
        ).first()
        if last is not None:
            user = session.get(User, last.actor_id) if last.actor_id else None
            who = (
                f", and {user.email if user else 'another reviewer'} has overridden "
                f"{last.criterion_id} to {last.status.replace('_', ' ')} in the meantime"
            )
    return FilingConflict(
        f"Filing {filing.id} changed while you were looking at it: it is now {state}{who}. "
        "Nothing you sent was saved. Reload the page to see the current state, then decide again.",
        filing=filing,
    )


def _must_be_submitted(filing: Filing, doing: str) -> None:
    if filing.status != SUBMITTED:
        hint = {
            svc.DRAFT: ": the company has not submitted it",
            APPROVED: ": it has been decided already",
            REJECTED: ": it has been decided already",
            CHANGES_REQUESTED: ": it is back with the company, waiting for a revision",
            SUPERSEDED: ": a later filing of the company replaces it",
        }.get(filing.status, "")
        raise svc.wrong_status(filing, doing, hint=hint)


def override_criterion(
    session: Session,
    *,
    filing: Filing,
    criterion_id: str,
    status: str,
    reason: Any,
    actor_id: int | None,
    lock_version: int,
    registry: PolicyRegistry,
) -> CriterionOverride:
    """Record a reviewer's override of one criterion on a submitted filing.

    The filing stays ``submitted``; its ``lock_version`` is bumped so that a reviewer
    deciding on a page that did not show this override gets a conflict.
    """
    _check_seen(session, filing, lock_version)
    _must_be_submitted(filing, "have a criterion overridden")
    reason = _text(reason, "reason", "the reason for the override", minimum=MIN_REASON)
    require_readable(filing)
    criteria = {c["id"]: c for c in (filing.decision or {}).get("criteria", [])}
    if criterion_id not in criteria:
        raise ReviewInvalid("criterion", f"filing {filing.id} has no criterion {criterion_id!r}")
    if status not in OVERRIDE_STATUSES:
        raise ReviewInvalid("status", f"choose one of {', '.join(OVERRIDE_STATUSES)}")
    rows = overrides(session, filing=filing)
    engine_status = criteria[criterion_id]["status"]
    active = effective_overrides(rows)
    previous = active[criterion_id].status if criterion_id in active else engine_status
    if status == previous:
        raise ReviewInvalid(
            "status", f"{criterion_id} is already {status}: choose a different status"
        )
    policy = policy_of(registry, filing)
    before = final_decision(policy, filing, rows)
    if not update_if_unchanged(session, Filing, filing.id, lock_version, updated_at=utcnow()):
        session.refresh(filing)
        raise _conflict(session, filing)
    session.refresh(filing)
    row = CriterionOverride(
        filing_id=stored_id(filing),
        criterion_id=criterion_id,
        engine_status=engine_status,
        previous_status=previous,
        status=status,
        reason=reason,
        actor_id=actor_id,
    )
    session.add(row)
    session.flush()
    after = final_decision(policy, filing, [*rows, row])
    audit.append(
        session,
        action="review.override",
        entity_type="filing",
        entity_id=filing.id,
        actor_id=actor_id,
        before={
            "status": SUBMITTED,
            "lock_version": lock_version,
            "criterion": criterion_id,
            "criterion_status": previous,
            "tier": before.get("tier"),
        },
        after={
            "status": SUBMITTED,
            "lock_version": filing.lock_version,
            "criterion": criterion_id,
            "criterion_status": status,
            "engine_status": engine_status,
            "reason": reason,
            "tier": after.get("tier"),
            "override_id": row.id,
        },
        policy_version=filing.policy_version,
        policy_digest=filing.policy_digest,
    )
    return row


def _decide(
    session: Session,
    *,
    filing: Filing,
    to: str,
    action: str,
    actor_id: int | None,
    lock_version: int,
    registry: PolicyRegistry,
    now: dt.datetime,
    message: str | None,
    values: Mapping[str, Any] | None = None,
    details: Mapping[str, Any] | None = None,
) -> Filing:
    document = final_decision(
        policy_of(registry, filing), filing, overrides(session, filing=filing)
    )
    try:
        return _transition(
            session,
            filing,
            to,
            lock_version,
            actor_id,
            action,
            document,
            now,
            message,
            values,
            details,
        )
    except FilingConflict:
        raise _conflict(session, filing) from None


def _transition(
    session: Session,
    filing: Filing,
    to: str,
    lock_version: int,
    actor_id: int | None,
    action: str,
    document: dict[str, Any],
    now: dt.datetime,
    message: str | None,
    values: Mapping[str, Any] | None,
    details: Mapping[str, Any] | None,
) -> Filing:
    return svc.transition(
        session,
        filing=filing,
        to=to,
        lock_version=lock_version,
        actor_id=actor_id,
        action=action,
        values={
            "decided_by_id": actor_id,
            "decided_at": now,
            "reviewer_message": message,
            "final_decision": document,
            **dict(values or {}),
        },
        details={
            "tier": document.get("tier"),
            "engine_tier": document["engine"]["tier"],
            "overrides": [o["criterion_id"] for o in document["overrides"]],
            "message": message,
            **dict(details or {}),
        },
    )


def approve(
    session: Session,
    *,
    filing: Filing,
    actor_id: int | None,
    lock_version: int,
    registry: PolicyRegistry,
    clock: Clock,
    note: Any = None,
) -> Filing:
    """Certify the filing's tier and benefits for 12 months from the hub's today.

    ``clock`` gives the decision's instant and the hub's date it is certified from
    (``validity``: the last day is the day before the anniversary).

    Refused (422) when the certified outcome reaches no tier: there is nothing to
    certify, so reject it or override what the engine got wrong. The company's
    earlier approved filing, if any, becomes ``superseded`` and its certificate
    stops verifying as valid (replaced), in the same transaction.
    """
    _check_seen(session, filing, lock_version)
    _must_be_submitted(filing, "be approved")
    now = clock.now()
    document = final_decision(
        policy_of(registry, filing), filing, overrides(session, filing=filing)
    )
    if not document.get("tier"):
        raise ReviewInvalid(
            "tier",
            f"filing {filing.id} reaches no tier, so there is nothing to certify: reject it, "
            "request changes, or override the criteria the engine got wrong",
        )
    written, problem = clean_text(note if isinstance(note, str) else "", multiline=True, name=False)
    if problem is not None:
        raise ReviewInvalid("note", f"the note {problem}")
    text = written[:MAX_TEXT] or None
    valid_from, valid_until = validity(clock.date_of(now))
    code = new_certificate_code()
    earlier = session.exec(
        select(Filing).where(
            Filing.company_id == filing.company_id,
            Filing.status == APPROVED,
            Filing.id != filing.id,
        )
    ).all()
    _decide(
        session,
        filing=filing,
        to=APPROVED,
        action="review.approved",
        actor_id=actor_id,
        lock_version=lock_version,
        registry=registry,
        now=now,
        message=text,
        values={
            "tier_granted": document["tier"],
            "valid_from": valid_from,
            "valid_until": valid_until,
            "certificate_code": code,
        },
        details={
            "valid_from": valid_from.isoformat(),
            "valid_until": valid_until.isoformat(),
            "certificate_code": code,
            "benefits": [b["id"] for b in document.get("benefits", [])],
            "replaces": [f.id for f in earlier],
        },
    )
    for old in earlier:
        svc.transition(
            session,
            filing=old,
            to=SUPERSEDED,
            lock_version=old.lock_version,
            actor_id=actor_id,
            action="certificate.replaced",
            details={"superseded_by": filing.id, "certificate_code": old.certificate_code},
        )
    return filing


def reject(
    session: Session,
    *,
    filing: Filing,
    actor_id: int | None,
    lock_version: int,
    registry: PolicyRegistry,
    reason: Any,
    clock: Clock,
) -> Filing:
    """Refuse certification; the reason is required and shown to the company."""
    _check_seen(session, filing, lock_version)
    _must_be_submitted(filing, "be rejected")
    text = _text(reason, "reason", "the reason for the rejection", minimum=MIN_REASON)
    return _decide(
        session,
        filing=filing,
        to=REJECTED,
        action="review.rejected",
        actor_id=actor_id,
        lock_version=lock_version,
        registry=registry,
        now=clock.now(),
        message=text,
    )


def request_changes(
    session: Session,
    *,
    filing: Filing,
    actor_id: int | None,
    lock_version: int,
    registry: PolicyRegistry,
    message: Any,
    clock: Clock,
) -> Filing:
    """Send the filing back to the company with a message saying what to change."""
    _check_seen(session, filing, lock_version)
    _must_be_submitted(filing, "be sent back")
    text = _text(message, "message", "a message to the company", minimum=MIN_REASON)
    return _decide(
        session,
        filing=filing,
        to=CHANGES_REQUESTED,
        action="review.changes_requested",
        actor_id=actor_id,
        lock_version=lock_version,
        registry=registry,
        now=clock.now(),
        message=text,
    )
