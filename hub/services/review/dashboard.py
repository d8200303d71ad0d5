"""The review dashboard: the figures of the queue and of past decisions."""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter
from collections.abc import Sequence
from typing import Any

from sqlmodel import Session, col, select

from hub.clock import Clock
from hub.models import Company, Filing, FilingStatus
from hub.services import filings as svc
from hub.services.review.certificates import add_months
from hub.services.review.common import APPROVED, SUBMITTED, SUPERSEDED


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
