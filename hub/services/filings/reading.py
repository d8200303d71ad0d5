"""Reading filings and checking their inputs: one company's filings, the version in
force, a draft's inputs checked, a filing re-assessed (nothing stored).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from sqlmodel import Session, col, select

from hub.models import Company, Filing
from hub.policy import Decision, FilingInvalid, NoVersionInForce, Policy, PolicyRegistry, assess
from hub.policy import validate_filing as _validate_filing
from hub.policy.ahead import AheadInput, ahead_inputs, check_ahead, inputs_for
from hub.policy.text import nfc
from hub.services.filings.states import PENDING, FilingNotFound, FilingRejected

#: A filing id as written in a URL or a request: ASCII digits, no leading zero.
_ID = re.compile(r"[1-9][0-9]*")


def get_filing(session: Session, *, filing_id: Any, company_id: int) -> Filing:
    """The company's filing, or FilingNotFound (missing and foreign look the same)."""
    # One spelling per filing: ASCII digits, no sign, no leading zero, no "_" (int()
    # reads "١٢", " 12", "+12", "012" and "1_2" as 12 too).
    if isinstance(filing_id, int) and not isinstance(filing_id, bool):
        key = filing_id
    elif isinstance(filing_id, str) and _ID.fullmatch(filing_id):
        key = int(filing_id)
    else:
        raise FilingNotFound(filing_id)
    if not 0 < key < 2**31:  # the id column is a 32-bit integer (PostgreSQL refuses more)
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


def pending_filings(
    session: Session, *, company_id: int, excluding: int | None = None
) -> list[Filing]:
    """The company's filings waiting for the hub (submitted, or sent back with changes
    requested), oldest first: at most one once submissions supersede (``submit``)."""
    query = select(Filing).where(
        Filing.company_id == company_id, col(Filing.status).in_(sorted(PENDING))
    )
    if excluding is not None:
        query = query.where(Filing.id != excluding)
    return list(session.exec(query.order_by(col(Filing.id))).all())


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


def inputs_ahead(registry: PolicyRegistry, policy: Policy, today: dt.date) -> dict[str, AheadInput]:
    """The inputs a draft may answer ahead of the versions published to take effect after
    ``today`` (``hub.policy.ahead``): ``{name: AheadInput}``, empty when none asks more."""
    return ahead_inputs(policy, registry.upcoming(today, policy.id))


def check_draft_inputs(
    policy: Policy,
    inputs: Any,
    *,
    company: Company,
    ahead: Mapping[str, AheadInput] | None = None,
) -> dict[str, Any]:
    """The inputs a draft may store: every value present must be valid, none is required.

    A draft is work in progress, so absent inputs (required ones included) are fine;
    a value that is present but wrong (a typo'd field, text in a number, 150 %) is
    refused now rather than at submission. The BIN is always the company's own.
    ``ahead`` (``inputs_ahead``): inputs of upcoming versions the draft may answer too,
    each checked against that version's definition. Returns the inputs with absent
    (None) values dropped, as the client gave them but for text, which is kept in NFC
    (composed), the form validation compares it in.
    """
    if not isinstance(inputs, Mapping):
        raise FilingRejected([{"field": "filing", "message": "must be a JSON object"}])
    values = {k: nfc(v) for k, v in inputs.items() if v is not None}
    # Unknown names first and on our own: the core may skip that check when it
    # already has other errors (it counts them to decide whether to look).
    later, errors = check_ahead(policy, values, ahead or {})
    values = inputs_for(policy, values)
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
    return values | later


def assess_filing(filing: Filing, *, registry: PolicyRegistry, today: dt.date) -> Decision:
    """Re-assess a filing's current inputs under the version in force (nothing stored);
    its answers ahead of an upcoming version are not read (``hub.policy.ahead``).

    Raises FilingRejected with the field errors while the inputs are incomplete or invalid.
    """
    policy = policy_in_force(registry, today)
    try:
        return assess(policy, inputs_for(policy, filing.inputs or {}), today)
    except FilingInvalid as exc:
        raise FilingRejected(exc.errors) from None


def assess_upcoming(
    filing: Filing, *, registry: PolicyRegistry, today: dt.date
) -> list[tuple[Policy, Decision | None]]:
    """How each version published to take effect after ``today`` would decide the filing
    on its first day, earliest first: ``(version, decision)``, the decision None while
    the inputs are incomplete or invalid for it (nothing stored)."""
    policy = policy_in_force(registry, today)
    out: list[tuple[Policy, Decision | None]] = []
    for later in registry.upcoming(today, policy.id):
        try:
            decision: Decision | None = assess(
                later, inputs_for(later, filing.inputs or {}), later.effective_from
            )
        except FilingInvalid:
            decision = None
        out.append((later, decision))
    return out
