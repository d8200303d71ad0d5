"""The review queue and what a reviewer reads of one filing: filters, pages, history, audit."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, func, or_, select

from hub.models import AuditRecord, Company, CriterionOverride, Filing, FilingStatus
from hub.policy.text import CONTROL_RE
from hub.services import filings as svc
from hub.services.review.common import SUBMITTED, ReviewNotFound

PER_PAGE = 20


def get_filing(session: Session, *, filing_id: Any) -> Filing:
    """Any company's filing by id (reviewers see all), or ReviewNotFound."""
    try:
        key = int(filing_id)
    except (TypeError, ValueError):
        raise ReviewNotFound(filing_id) from None
    filing = session.get(Filing, key) if 0 < key < 2**31 else None  # the id column is 32-bit
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
            q=CONTROL_RE.sub("", args.get("q", "")).strip()[:200],  # NUL: no SQL text
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
