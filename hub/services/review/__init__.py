"""The hub's review of submitted filings: queue, decisions, overrides, certificates.

Builds on ``hub.services.filings`` (its state machine and ``transition``) with the
same rules: keyword-only arguments and an explicit session; functions flush and
never commit, so one action is one transaction (status change, override row,
superseded certificate and audit record are stored together or not at all).

Decisions a reviewer can take on a ``submitted`` filing::

    submitted ──approve──────────► approved            (tier > none; 12-month certificate)
              ──reject(reason)───► rejected
              ──request_changes(message)──► changes_requested
              ──override(criterion, status, reason)──► submitted (lock_version bumped)

Optimistic locking: every action names the ``lock_version`` the reviewer's page
showed. The change is a compare-and-set on it (``transition`` in the filing
service, ``hub.db.update_if_unchanged`` for overrides), so of two reviewers acting
on the same page the second gets ``FilingConflict`` (409) and nothing is
overwritten; PostgreSQL makes the second UPDATE wait for the first and then
re-check its WHERE clause, so this holds under true concurrency too.

Overrides and the cumulative tier rule
--------------------------------------
An override replaces one criterion's status (``met``, ``not_met`` or
``not_applicable``) with a written reason; the engine's status stays in the
decision beside it. The certified outcome is then recomputed from the effective
statuses with the policy's own rules, read once in ``hub.policy.outcome`` (the
cumulative tier rule: tier k is reached when every criterion of tier rank <= k is
``met`` or ``not_applicable``; each benefit's ``requires`` read with that tier and
``met(x)`` true only for effective status ``met``); the savings and their total are
the engine's own (``hub.policy.decision.estimate_savings``: exact, rounded by the
policy's rule, the total the sum of the rounded savings) over the filed inputs.

So overriding a T1 criterion to ``not_met`` drops the tier to none, and overriding
the only unmet T2 criterion to ``met`` lifts a T1 filing to T2 with the T2
benefits. With no override the recomputation equals the engine's decision
(``tests/functional/test_review.py`` checks this on every demo filing).
"""

from __future__ import annotations

import calendar
import csv
import datetime as dt
import io
import secrets
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, col, func, or_, select

from hub import audit
from hub.clock import Clock
from hub.db import update_if_unchanged, utcnow
from hub.errors import ApiError
from hub.models import AuditRecord, Company, CriterionOverride, Filing, FilingStatus
from hub.policy import FilingInvalid, NoVersionInForce, Policy, PolicyRegistry, assess
from hub.policy.decision import estimate_savings
from hub.policy.outcome import reach
from hub.policy.trace import CriterionTrace, Trace, assess_traced
from hub.services import filings as svc
from hub.services.filings import FilingConflict

SUBMITTED = svc.SUBMITTED
APPROVED = svc.APPROVED
REJECTED = svc.REJECTED
CHANGES_REQUESTED = svc.CHANGES_REQUESTED
SUPERSEDED = svc.SUPERSEDED

#: Statuses a reviewer may set by override (``missing`` is a fact about the inputs).
OVERRIDE_STATUSES = ("met", "not_met", "not_applicable")
#: How long a certificate is valid: 12 months from the decision.
CERTIFICATE_MONTHS = 12
MAX_TEXT = 5000
MIN_REASON = 10
PER_PAGE = 20
#: Letters and digits that cannot be misread for one another (no 0/O, 1/I/L).
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


class ReviewNotFound(ApiError):
    """No filing with this id (or it was never submitted, so there is nothing to review)."""

    def __init__(self, filing_id: Any) -> None:
        super().__init__(404, f"there is no filing {filing_id} to review", field="id")


class ReviewInvalid(ApiError):
    """A review action with a missing or unusable field (reason, message, criterion...)."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(422, message, field=field_name)


# --- reading -----------------------------------------------------------------------------


def get_filing(session: Session, *, filing_id: Any) -> Filing:
    """Any company's filing by id (reviewers see all), or ReviewNotFound."""
    try:
        key = int(filing_id)
    except (TypeError, ValueError):
        raise ReviewNotFound(filing_id) from None
    filing = session.get(Filing, key) if 0 < key < 2**63 else None
    if filing is None:
        raise ReviewNotFound(filing_id)
    return filing


def waited(filing: Filing, now: dt.datetime) -> dt.timedelta | None:
    """How long the filing has waited for the hub: until the decision, or until ``now``."""
    if filing.submitted_at is None:
        return None
    end = filing.decided_at or now
    return max(end - filing.submitted_at, dt.timedelta(0))


def human_duration(delta: dt.timedelta | None) -> str:
    """'3 days 4 h', '5 h 12 min', '40 min': how long in words a reviewer reads at a glance."""
    if delta is None:
        return "—"
    minutes = int(delta.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} day{'s' if days != 1 else ''} {hours} h"
    if hours:
        return f"{hours} h {mins} min"
    return f"{mins} min"


@dataclass(frozen=True)
class QueueFilters:
    """What the queue shows; empty strings mean 'any'. ``status`` defaults to submitted."""

    status: str = SUBMITTED
    activity: str = ""
    tier: str = ""
    version: str = ""
    q: str = ""
    order: str = "oldest"

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> QueueFilters:
        """Filters from query parameters, unknown values ignored rather than erroring."""
        status = args.get("status", SUBMITTED)
        if status not in {"all", *(s.value for s in FilingStatus)} - {"draft"}:
            status = SUBMITTED
        order = args.get("order", "oldest")
        return cls(
            status=status,
            activity=args.get("activity", "").strip()[:32],
            tier=args.get("tier", "").strip()[:8],
            version=args.get("version", "").strip()[:50],
            q=args.get("q", "").strip()[:200],
            order=order if order in {"oldest", "newest"} else "oldest",
        )

    def as_args(self, **changes: Any) -> dict[str, Any]:
        """The non-default filters as query parameters (for links and the export)."""
        values = {
            "status": self.status,
            "activity": self.activity,
            "tier": self.tier,
            "version": self.version,
            "q": self.q,
            "order": self.order,
            **changes,
        }
        defaults = QueueFilters()
        return {k: v for k, v in values.items() if v and v != getattr(defaults, k, None)}


@dataclass
class QueuePage:
    """One page of the queue: rows of (filing, company), the total and the page numbers."""

    rows: list[tuple[Filing, Company]]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _queue_query(filters: QueueFilters) -> Any:
    query = (
        select(Filing, Company)
        .join(Company, col(Company.id) == col(Filing.company_id))
        .where(col(Filing.status) != svc.DRAFT)
    )
    if filters.status != "all":
        query = query.where(col(Filing.status) == filters.status)
    if filters.activity:
        query = query.where(col(Company.activity) == filters.activity)
    if filters.tier == "none":
        query = query.where(col(Filing.tier_claimed).is_(None))
    elif filters.tier:
        query = query.where(col(Filing.tier_claimed) == filters.tier)
    if filters.version:
        query = query.where(col(Filing.policy_version) == filters.version)
    if filters.q:
        needle = filters.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(
            or_(
                col(Company.bin).startswith(filters.q, autoescape=True),
                func.lower(Company.legal_name).like(f"%{needle.lower()}%", escape="\\"),
            )
        )
    if filters.order == "newest":
        return query.order_by(col(Filing.submitted_at).desc(), col(Filing.id).desc())
    return query.order_by(col(Filing.submitted_at).asc(), col(Filing.id).asc())


def queue(
    session: Session, *, filters: QueueFilters, page: int = 1, per_page: int = PER_PAGE
) -> QueuePage:
    """The filings a reviewer works through: submitted ones oldest first by default."""
    query = _queue_query(filters)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    page = max(1, min(page, max(1, -(-total // per_page))))
    rows = session.exec(query.offset((page - 1) * per_page).limit(per_page)).all()
    return QueuePage(rows=[(f, c) for f, c in rows], total=total, page=page, per_page=per_page)


def queue_all(session: Session, *, filters: QueueFilters) -> list[tuple[Filing, Company]]:
    """Every row the filters match (for the CSV export)."""
    return [(f, c) for f, c in session.exec(_queue_query(filters)).all()]


def facets(session: Session) -> dict[str, list[str]]:
    """The values the queue's filters offer (versions and tiers actually present)."""
    versions = session.exec(
        select(Filing.policy_version).where(col(Filing.policy_version).is_not(None)).distinct()
    ).all()
    activities = session.exec(
        select(Company.activity).where(col(Company.activity).is_not(None)).distinct()
    ).all()
    return {
        "statuses": ["all", *(s.value for s in FilingStatus if s is not FilingStatus.DRAFT)],
        "activities": sorted(a for a in activities if a),
        "tiers": ["T1", "T2", "T3", "none"],
        "versions": sorted((v for v in versions if v), reverse=True),
    }


def history(session: Session, *, filing: Filing) -> list[Filing]:
    """The company's other filings, newest first (drafts included: they show intent)."""
    return list(
        session.exec(
            select(Filing)
            .where(Filing.company_id == filing.company_id, Filing.id != filing.id)
            .order_by(col(Filing.created_at).desc(), col(Filing.id).desc())
        ).all()
    )


def audit_trail(session: Session, *, filing: Filing) -> list[AuditRecord]:
    """The audit records about this filing, oldest first."""
    return list(
        session.exec(
            select(AuditRecord)
            .where(AuditRecord.entity_type == "filing", AuditRecord.entity_id == str(filing.id))
            .order_by(col(AuditRecord.id))
        ).all()
    )


def overrides(session: Session, *, filing: Filing) -> list[CriterionOverride]:
    """Every override recorded on the filing, oldest first (later ones win)."""
    return list(
        session.exec(
            select(CriterionOverride)
            .where(CriterionOverride.filing_id == filing.id)
            .order_by(col(CriterionOverride.id))
        ).all()
    )


def effective_overrides(rows: Iterable[CriterionOverride]) -> dict[str, CriterionOverride]:
    """The override in force per criterion (the latest one; none if it restored the engine's)."""
    latest: dict[str, CriterionOverride] = {}
    for row in rows:
        latest[row.criterion_id] = row
    return {cid: row for cid, row in latest.items() if row.status != row.engine_status}


# --- policy and outcome ------------------------------------------------------------------


def policy_of(registry: PolicyRegistry, filing: Filing) -> Policy | None:
    """The policy version the filing was decided under, if the catalogue still has it."""
    if not filing.policy_version:
        return None
    try:
        return registry.get(filing.policy_version)
    except (NoVersionInForce, KeyError, LookupError):
        return None


def outcome(
    policy: Policy,
    inputs: Mapping[str, Any],
    statuses: Mapping[str, str],
    as_of: dt.date | str | None = None,
) -> dict[str, Any]:
    """Tier and benefits for given criterion statuses under the cumulative tier rule.

    The tier and the benefits granted are the policy's plain reading
    (``hub.policy.outcome.reach``: the same rules the engine applies), so a reviewer's
    override changes the certified tier and benefits consistently; ``as_of`` (the
    decision's date) is there for requirements that read it. Returns the decision's
    ``tier``, ``tier_title``, ``benefits`` (id, title, standard rate, estimated saving)
    and ``estimated_total_saving_kzt``.
    """
    reached = reach(policy, statuses, inputs, as_of)
    savings, total = estimate_savings(policy, list(reached.benefits), dict(inputs))
    benefits = [
        {
            "id": policy.benefits[j].id,
            "title": policy.benefits[j].title,
            "standard_rate": policy.rate_text(policy.benefits[j]),
            "estimated_annual_saving_kzt": saving,
        }
        for j, saving in zip(reached.benefits, savings, strict=True)
    ]
    return {
        "tier": reached.tier,
        "tier_title": policy.tier_by_id[reached.tier].title if reached.tier else None,
        "benefits": benefits,
        "estimated_total_saving_kzt": total,
    }


def final_decision(
    policy: Policy | None, filing: Filing, rows: Iterable[CriterionOverride]
) -> dict[str, Any]:
    """The decision as the hub certifies it: the engine's, with overrides applied.

    Each criterion keeps ``engine_status`` beside its effective ``status`` (and the
    ``override`` with its reason where one applies); ``engine`` keeps the engine's
    tier and benefits. Without overrides it is the frozen decision itself.
    """
    stored = dict(filing.decision or {})
    active = effective_overrides(rows)
    criteria = []
    for c in stored.get("criteria", []):
        row = dict(c, engine_status=c["status"])
        if (o := active.get(c["id"])) is not None:
            row["status"] = o.status
            row["override"] = {
                "status": o.status,
                "reason": o.reason,
                "actor_id": o.actor_id,
                "at": o.created_at.isoformat(),
            }
        criteria.append(row)
    document = {
        **stored,
        "criteria": criteria,
        "engine": {
            "tier": stored.get("tier"),
            "benefits": [b["id"] for b in stored.get("benefits", [])],
        },
        "overrides": [
            {
                "criterion_id": o.criterion_id,
                "engine_status": o.engine_status,
                "status": o.status,
                "reason": o.reason,
                "actor_id": o.actor_id,
                "at": o.created_at.isoformat(),
            }
            for o in active.values()
        ],
    }
    if active:
        if policy is None:
            raise ReviewInvalid(
                "policy_version",
                f"policy version {filing.policy_version} is no longer in the catalogue, so "
                "the overridden outcome cannot be computed",
            )
        document.update(
            outcome(
                policy,
                filing.inputs or {},
                {c["id"]: c["status"] for c in criteria},
                stored.get("as_of"),
            )
        )
    return document


@dataclass
class Reassessment:
    """The filing's inputs assessed under the version in force today, against the stored one."""

    policy_version: str | None
    decision: dict[str, Any] | None
    errors: list[dict[str, Any]] = field(default_factory=list)
    changed: list[dict[str, Any]] = field(default_factory=list)
    tier_changed: bool = False

    @property
    def differs(self) -> bool:
        return bool(self.errors or self.changed or self.tier_changed)


def reassess(filing: Filing, *, registry: PolicyRegistry, today: dt.date) -> Reassessment:
    """Assess the submitted inputs again under today's policy (nothing stored)."""
    try:
        policy = registry.select(today)
    except NoVersionInForce as exc:
        return Reassessment(None, None, errors=[{"field": exc.field, "message": exc.message}])
    try:
        now = assess(policy, dict(filing.inputs or {}), today).to_dict()
    except FilingInvalid as exc:
        return Reassessment(policy.version, None, errors=exc.errors)
    before = {c["id"]: c for c in (filing.decision or {}).get("criteria", [])}
    changed = []
    for c in now["criteria"]:
        old = before.get(c["id"])
        if old is None or old["status"] != c["status"]:
            changed.append(
                {
                    "id": c["id"],
                    "title": c["title"],
                    "before": old["status"] if old else "not in that version",
                    "after": c["status"],
                    "explanation": c["explanation"],
                }
            )
    for cid, old in before.items():
        if cid not in {c["id"] for c in now["criteria"]}:
            changed.append(
                {
                    "id": cid,
                    "title": old["title"],
                    "before": old["status"],
                    "after": "not in this version",
                    "explanation": "",
                }
            )
    return Reassessment(
        policy.version,
        now,
        changed=changed,
        tier_changed=now["tier"] != (filing.decision or {}).get("tier"),
    )


@dataclass
class FilingTrace:
    """The trace of a stored decision, from re-running the filing's frozen inputs under
    its frozen policy version and ``as_of`` (``hub.policy.trace``)."""

    trace: Trace | None
    errors: list[dict[str, Any]] = field(default_factory=list)
    #: criteria whose status in the re-run differs from the stored decision's
    differs: list[str] = field(default_factory=list)

    @property
    def by_criterion(self) -> dict[str, CriterionTrace]:
        return {c["id"]: c for c in self.trace["criteria"]} if self.trace else {}


def trace_filing(filing: Filing, *, registry: PolicyRegistry) -> FilingTrace | None:
    """Re-run a decided filing exactly as it was decided and trace it (nothing stored).

    None for a filing never decided. The version must still be in the catalogue with
    the digest the filing froze; otherwise (or if the frozen inputs no longer pass
    validation) the answer carries errors instead of a trace. ``differs`` names the
    criteria whose status the re-run does not reproduce (never expected: decisions
    are deterministic)."""
    stored = filing.decision
    if not stored:
        return None
    policy = policy_of(registry, filing)
    if policy is None:
        message = f"version {filing.policy_version} is not in the catalogue"
        return FilingTrace(None, [{"field": "policy_version", "message": message}])
    if filing.policy_digest and policy.digest != filing.policy_digest:
        message = (
            f"version {policy.version} in the catalogue has digest {policy.digest}, "
            f"not the {filing.policy_digest} the decision was made with"
        )
        return FilingTrace(None, [{"field": "policy_digest", "message": message}])
    try:
        as_of = dt.date.fromisoformat(str(stored.get("as_of")))
    except ValueError:
        return FilingTrace(None, [{"field": "as_of", "message": "the stored date is unreadable"}])
    try:
        _, trace = assess_traced(policy, dict(filing.inputs or {}), as_of)
    except FilingInvalid as exc:
        return FilingTrace(None, exc.errors)
    before = {c["id"]: c["status"] for c in stored.get("criteria", [])}
    differs = [c["id"] for c in trace["criteria"] if before.get(c["id"]) != c["status"]]
    return FilingTrace(trace, differs=differs)


def audit_page(
    session: Session, *, page: int = 1, per_page: int = 50, action: str = ""
) -> tuple[list[AuditRecord], int]:
    """Audit records newest first (optionally of one action prefix) and their total."""
    query = select(AuditRecord)
    if action:
        query = query.where(col(AuditRecord.action).startswith(action, autoescape=True))
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(
        query.order_by(col(AuditRecord.id).desc())
        .offset((max(page, 1) - 1) * per_page)
        .limit(per_page)
    ).all()
    return list(rows), total


# --- acting ------------------------------------------------------------------------------


def _text(value: Any, field_name: str, what: str, *, minimum: int = 1) -> str:
    text = value.strip() if isinstance(value, str) else ""
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
        raise svc._wrong_status(filing, doing, hint=hint)


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` later (clamped to the month's end: 29 Feb -> 28 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return day.replace(
        year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1])
    )


def validity(decided: dt.date) -> tuple[dt.date, dt.date]:
    """First and last day of a certificate decided on ``decided`` (12 months, inclusive)."""
    return decided, add_months(decided, CERTIFICATE_MONTHS) - dt.timedelta(days=1)


def new_certificate_code() -> str:
    """A random, unguessable verification code such as ``K7QM-3XPA-9RTE-WN4C``."""
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(16))
    return "-".join(raw[i : i + 4] for i in range(0, 16, 4))


def normalise_code(code: str) -> str:
    """A code as typed (any case, spaces or dashes) in its stored form, or '' if malformed."""
    raw = "".join(ch for ch in code.upper() if ch.isalnum())
    if len(raw) != 16 or any(ch not in CODE_ALPHABET for ch in raw):
        return ""
    return "-".join(raw[i : i + 4] for i in range(0, 16, 4))


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
        filing_id=filing.id,  # type: ignore[arg-type]
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
    text = note.strip()[:MAX_TEXT] if isinstance(note, str) and note.strip() else None
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


# --- certificates ------------------------------------------------------------------------


@dataclass(frozen=True)
class CertificateCheck:
    """What the public verification page may say: status and non-private facts only."""

    state: str  # valid | expired | revoked | not_yet_valid | unknown
    code: str
    legal_name: str | None = None
    bin: str | None = None
    tier: str | None = None
    tier_title: str | None = None
    benefits: tuple[str, ...] = ()
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None
    policy_version: str | None = None
    policy_digest: str | None = None
    replaced_on: dt.date | None = None


def check_certificate(session: Session, *, code: str, clock: Clock) -> CertificateCheck:
    """Look a verification code up: valid, expired, revoked (replaced) or unknown.

    Valid or expired by the hub's date (``clock.today()``); ``replaced_on`` is the
    hub's date of the decision that replaced it.

    Only facts printed on the certificate itself are returned; never the inputs,
    the savings or anything about the review.
    """
    normal = normalise_code(code)
    if not normal:
        return CertificateCheck("unknown", code.strip()[:40])
    filing = session.exec(select(Filing).where(Filing.certificate_code == normal)).first()
    if filing is None or filing.valid_from is None or filing.valid_until is None:
        return CertificateCheck("unknown", normal)
    company = session.get(Company, filing.company_id)
    document = filing.final_decision or filing.decision or {}
    replaced_on = None
    if filing.status != APPROVED:
        state = "revoked"
        newer = session.exec(
            select(Filing)
            .where(
                Filing.company_id == filing.company_id,
                col(Filing.decided_at) > filing.decided_at,
                Filing.status.in_([APPROVED, SUPERSEDED]),  # type: ignore[attr-defined]
            )
            .order_by(col(Filing.decided_at))
        ).first()
        replaced_on = clock.date_of(newer.decided_at) if newer and newer.decided_at else None
    elif (today := clock.today()) > filing.valid_until:
        state = "expired"
    elif today < filing.valid_from:
        state = "not_yet_valid"
    else:
        state = "valid"
    return CertificateCheck(
        state=state,
        code=normal,
        legal_name=company.legal_name if company else None,
        bin=company.bin if company else None,
        tier=filing.tier_granted,
        tier_title=document.get("tier_title"),
        benefits=tuple(b["title"] for b in document.get("benefits", [])),
        valid_from=filing.valid_from,
        valid_until=filing.valid_until,
        policy_version=filing.policy_version,
        policy_digest=filing.policy_digest,
        replaced_on=replaced_on,
    )


# --- dashboard ---------------------------------------------------------------------------


def _median_hours(values: Sequence[dt.timedelta]) -> float | None:
    if not values:
        return None
    return round(statistics.median(v.total_seconds() for v in values) / 3600, 1)


def dashboard(session: Session, *, clock: Clock) -> dict[str, Any]:
    """The figures of the dashboard, each a list of (label, number) pairs or a number.

    Approvals are counted by the month of the hub's date they were decided on.
    """
    now = clock.now()
    rows = session.exec(
        select(Filing, Company).join(Company, col(Company.id) == col(Filing.company_id))
    ).all()
    by_status: Counter[str] = Counter()
    by_tier: Counter[str] = Counter()
    by_activity: Counter[str] = Counter()
    unmet: Counter[str] = Counter()
    titles: dict[str, str] = {}
    waiting: list[dt.timedelta] = []
    deciding: list[dt.timedelta] = []
    approvals: Counter[str] = Counter()
    for filing, company in rows:
        by_status[filing.status] += 1
        if filing.status == svc.DRAFT:
            continue
        by_activity[company.activity or "unknown"] += 1
        tier = filing.tier_granted if filing.status == APPROVED else None
        if filing.status == APPROVED:
            by_tier[tier or "none"] += 1
        if filing.status == SUBMITTED and filing.submitted_at:
            waiting.append(now - filing.submitted_at)
        if filing.decided_at and filing.submitted_at:
            deciding.append(filing.decided_at - filing.submitted_at)
        if (
            filing.status in {APPROVED, SUPERSEDED}
            and filing.certificate_code
            and filing.decided_at
        ):
            approvals[clock.date_of(filing.decided_at).strftime("%Y-%m")] += 1
        if filing.status != SUPERSEDED:
            document = filing.final_decision or filing.decision or {}
            for c in document.get("criteria", []):
                if c["status"] in {"not_met", "missing"}:
                    unmet[c["id"]] += 1
                    titles[c["id"]] = c.get("title", c["id"])
    months = sorted(approvals)
    if months:
        first = dt.date.fromisoformat(months[0] + "-01")
        last = clock.date_of(now).replace(day=1)
        series, day = [], first
        while day <= last:
            key = day.strftime("%Y-%m")
            series.append((key, approvals.get(key, 0)))
            day = add_months(day, 1)
    else:
        series = []
    claimed: Counter[str] = Counter(
        f.tier_claimed or "none" for f, _ in rows if f.status == SUBMITTED
    )
    return {
        "by_status": [(s.value, by_status.get(s.value, 0)) for s in FilingStatus],
        "certified_by_tier": [(t, by_tier.get(t, 0)) for t in ("T1", "T2", "T3")],
        "claimed_by_tier": [(t, claimed.get(t, 0)) for t in ("T1", "T2", "T3", "none")],
        "by_activity": sorted(by_activity.items()),
        "median_waiting_hours": _median_hours(waiting),
        "median_decision_hours": _median_hours(deciding),
        "waiting_count": len(waiting),
        "decided_count": len(deciding),
        "approvals_by_month": series,
        "unmet": [(titles[cid], n) for cid, n in unmet.most_common(10)],
        "unmet_ids": [cid for cid, _ in unmet.most_common(10)],
    }


# --- CSV ---------------------------------------------------------------------------------

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: Any) -> str:
    """A cell that a spreadsheet shows as text, never runs as a formula (CSV injection)."""
    if value is None:
        return ""
    text = value.isoformat() if isinstance(value, dt.date | dt.datetime) else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def to_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """CSV text (with a header row) whose every cell went through ``csv_safe``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([csv_safe(v) for v in row])
    return out.getvalue()


QUEUE_HEADER = (
    "filing_id",
    "status",
    "bin",
    "legal_name",
    "activity",
    "tier_claimed",
    "policy_version",
    "submitted_at",
    "waiting_hours",
)


def queue_csv(rows: Iterable[tuple[Filing, Company]], *, now: dt.datetime) -> str:
    """The queue as CSV (the rows the filters matched, every page), waiting until ``now``."""

    def hours(f: Filing) -> Any:
        w = waited(f, now)
        return round(w.total_seconds() / 3600, 1) if w is not None else None

    return to_csv(
        QUEUE_HEADER,
        (
            (
                f.id,
                f.status,
                c.bin,
                c.legal_name,
                c.activity,
                f.tier_claimed,
                f.policy_version,
                f.submitted_at,
                hours(f),
            )
            for f, c in rows
        ),
    )


DECISIONS_HEADER = (
    "filing_id",
    "bin",
    "legal_name",
    "activity",
    "decision",
    "engine_tier",
    "tier_granted",
    "overrides",
    "decided_at",
    "decided_by",
    "hours_to_decide",
    "valid_from",
    "valid_until",
    "certificate_code",
    "policy_version",
    "policy_digest",
    "message",
)


def decisions(session: Session) -> list[tuple[Filing, Company]]:
    """Every decided filing (newest decision first) with its company."""
    return [
        (f, c)
        for f, c in session.exec(
            select(Filing, Company)
            .join(Company, col(Company.id) == col(Filing.company_id))
            .where(col(Filing.decided_at).is_not(None))
            .order_by(col(Filing.decided_at).desc(), col(Filing.id).desc())
        ).all()
    ]


def decisions_csv(session: Session) -> str:
    """Every decision taken, with the engine's tier, overrides and the certificate."""
    from hub.models import User

    emails = dict(session.exec(select(User.id, User.email)).all())

    def row(f: Filing, c: Company) -> tuple[Any, ...]:
        document = f.final_decision or {}
        engine = document.get("engine", {})
        took = waited(f, f.decided_at) if f.decided_at else None  # decided: no clock needed
        return (
            f.id,
            c.bin,
            c.legal_name,
            c.activity,
            f.status,
            engine.get("tier", f.tier_claimed),
            f.tier_granted,
            "; ".join(
                f"{o['criterion_id']}: {o['engine_status']} -> {o['status']}"
                for o in document.get("overrides", [])
            ),
            f.decided_at,
            emails.get(f.decided_by_id),
            round(took.total_seconds() / 3600, 1) if took is not None else None,
            f.valid_from,
            f.valid_until,
            f.certificate_code,
            f.policy_version,
            f.policy_digest,
            f.reviewer_message,
        )

    return to_csv(DECISIONS_HEADER, (row(f, c) for f, c in decisions(session)))


__all__ = [
    "CertificateCheck",
    "FilingConflict",
    "QueueFilters",
    "QueuePage",
    "Reassessment",
    "ReviewInvalid",
    "ReviewNotFound",
    "approve",
    "audit_trail",
    "check_certificate",
    "dashboard",
    "decisions_csv",
    "final_decision",
    "history",
    "outcome",
    "override_criterion",
    "queue",
    "queue_csv",
    "reassess",
    "reject",
    "request_changes",
]
