"""Companies at risk: the open warnings of the daily watch (``hub.services.watch``) as the
administrators read them, a page at a time, and their counts by kind.

Every query is bounded by the page, never by the population: the page's rows come from
SQL (``ORDER BY`` ... ``LIMIT``/``OFFSET``, the id as the last key so a page never
repeats or skips a row), the totals and the counts by kind from ``COUNT``. Warnings
without a loss date (notices) or without a saving at stake come last in either order.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from hub.models import Company, CompanyWarning, Filing, FilingStatus, WarningState
from hub.policy.watch import (
    CERTIFICATE_EXPIRY,
    CLOSE_TO_LINE,
    KINDS,
    LICENCE_EXPIRY,
    POLICY_CHANGE,
)

#: Rows per page unless asked otherwise, and the most a page may hold.
PER_PAGE = 25
MAX_PER_PAGE = 100
#: The orders the page offers: the column each sorts by.
SORTS = ("loss_on", "saving")
#: What each kind is called on the pages.
KIND_TITLES = {
    LICENCE_EXPIRY: "Licence expiring",
    CERTIFICATE_EXPIRY: "Certificate expiring",
    POLICY_CHANGE: "New policy version",
    CLOSE_TO_LINE: "Close to the line",
}


@dataclass(frozen=True)
class AtRiskRow:
    """One open warning with its company and the company's latest filing (not a draft)
    that a reviewer opens (None: the company has none left)."""

    warning: CompanyWarning
    company: Company
    latest_filing_id: int | None

    def risk(self, titles: Mapping[str, str] | None = None) -> str:
        """What the company stands to lose, in words (``risk_text``)."""
        return risk_text(self.warning.kind, self.warning.details, titles)


@dataclass(frozen=True)
class AtRiskPage:
    """One page of open warnings: ``rows``, the ``total`` matching, the page number
    (clamped to the last page) and its size."""

    rows: list[AtRiskRow]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def risk_text(kind: str, details: dict[str, Any], titles: Mapping[str, str] | None = None) -> str:
    """What a warning puts at risk: "T2 → no tier", "T2 → T1; loses Reduced CIT",
    "T3 (certified)", "T2 (kyc_baseline)"; "—" when the watch did not say. Benefits are
    named by their ``titles`` (benefit id -> title) where given, else by id."""
    if kind in (LICENCE_EXPIRY, POLICY_CHANGE):
        before, after = details.get("tier_before"), details.get("tier_after")
        text = f"{before or 'no tier'} → {after or 'no tier'}" if before != after else ""
        names = titles or {}
        lost = ", ".join(names.get(str(b), str(b)) for b in details.get("benefits_lost") or [])
        if lost:
            text = f"{text}; loses {lost}" if text else f"loses {lost}"
        return text or "—"
    if kind == CERTIFICATE_EXPIRY:
        tier = details.get("tier")
        return f"{tier} (certified)" if tier else "the certificate"
    if kind == CLOSE_TO_LINE:
        tier, criterion = details.get("tier"), details.get("criterion")
        if tier and criterion:
            return f"{tier} ({criterion})"
        return str(tier or criterion or "—")
    return "—"


def _open(kind: str | None) -> Any:
    query = select(CompanyWarning, Company).join(
        Company, col(Company.id) == col(CompanyWarning.company_id)
    )
    query = query.where(col(CompanyWarning.state) == WarningState.OPEN.value)
    if kind is not None:
        query = query.where(col(CompanyWarning.kind) == kind)
    return query


def _order(sort: str, descending: bool) -> list[Any]:
    column: Any = col(CompanyWarning.saving_at_stake_kzt)
    if sort == "loss_on":
        column = col(CompanyWarning.loss_on)
    # unknown (NULL) last either way: an explicit key, the same on SQLite and PostgreSQL
    return [
        sa.case((column.is_(None), 1), else_=0),
        column.desc() if descending else column.asc(),
        col(CompanyWarning.id).desc() if descending else col(CompanyWarning.id).asc(),
    ]


def at_risk_page(
    session: Session,
    *,
    kind: str | None = None,
    sort: str = "loss_on",
    descending: bool = False,
    page: int = 1,
    per_page: int = PER_PAGE,
) -> AtRiskPage:
    """One page of the open warnings (of one ``kind``, or all), sorted by ``sort``
    (``loss_on``: the date of the loss, soonest first; ``saving``: the saving at stake,
    smallest first; ``descending`` reverses either), unknown values last.

    ``page`` past the last is the last; ``per_page`` is bounded to 1..``MAX_PER_PAGE``.
    Raises ValueError for a kind or a sort it does not know (the caller validates)."""
    if kind is not None and kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}")
    if sort not in SORTS:
        raise ValueError(f"unknown sort {sort!r}")
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    count = select(func.count()).select_from(CompanyWarning)
    count = count.where(col(CompanyWarning.state) == WarningState.OPEN.value)
    if kind is not None:
        count = count.where(col(CompanyWarning.kind) == kind)
    total = int(session.exec(count).one())
    pages = max(1, -(-total // per_page))
    page = max(1, min(page, pages))
    found = session.exec(
        _open(kind)
        .order_by(*_order(sort, descending))
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    latest = latest_filings(session, {c.id for _, c in found if c.id is not None})
    rows = [AtRiskRow(w, c, latest.get(c.id or 0, w.filing_id)) for w, c in found]
    return AtRiskPage(rows=rows, total=total, page=page, per_page=per_page)


def latest_filings(session: Session, company_ids: set[int]) -> dict[int, int]:
    """Company id -> its latest filing that is not a draft (by id): the one a reviewer
    opens. One grouped query over the page's companies."""
    if not company_ids:
        return {}
    rows = session.exec(
        select(Filing.company_id, func.max(Filing.id))
        .where(
            col(Filing.company_id).in_(sorted(company_ids)),
            col(Filing.status) != FilingStatus.DRAFT.value,
        )
        .group_by(col(Filing.company_id))
    ).all()
    return {int(company): int(filing) for company, filing in rows if filing is not None}


@dataclass(frozen=True)
class AtRiskCounts:
    """Companies with an open warning: ``by_kind`` (every kind of ``KINDS``, in that order,
    0 when none) and ``companies``, those with any (a company is counted once per kind and
    once in all)."""

    by_kind: list[tuple[str, int]]
    companies: int


def at_risk_counts(session: Session) -> AtRiskCounts:
    """The companies at risk by kind: two ``COUNT(DISTINCT company_id)`` queries."""
    open_ = col(CompanyWarning.state) == WarningState.OPEN.value
    per_kind = dict(
        session.exec(
            select(CompanyWarning.kind, func.count(sa.distinct(col(CompanyWarning.company_id))))
            .where(open_)
            .group_by(col(CompanyWarning.kind))
        ).all()
    )
    companies = session.exec(
        select(func.count(sa.distinct(col(CompanyWarning.company_id)))).where(open_)
    ).one()
    return AtRiskCounts(
        by_kind=[(k, int(per_kind.get(k, 0))) for k in KINDS], companies=int(companies)
    )


def days_left(loss_on: dt.date | None, today: dt.date) -> int | None:
    """Days from ``today`` to the loss (negative: already lost; None: no date)."""
    return None if loss_on is None else (loss_on - today).days
