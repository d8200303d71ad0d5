"""The daily watch: every company's warnings found (``hub.policy.watch``) and stored.

``run_watch`` reads every company's latest certified or submitted filing (the latest,
by id, of its filings ``approved`` or ``submitted``), a chunk of companies at a time in
company id order (keyset pagination: ``chunk_size`` companies per query and per
transaction; memory does not grow with the population), finds its warnings and brings
its stored ones (``CompanyWarning``, one per company, kind and subject) up to date:

- a warning found and not stored is *opened* (``first_seen`` = ``last_seen`` = as_of);
- a warning found and open is *still open*: ``last_seen`` moves to as_of and nothing
  else changes unless what the watch says of it changed (a new filing with other
  figures: details, loss date, saving at stake);
- a warning found and closed is opened again (a new ``first_seen``);
- an open warning not found any more is *closed* (``closed_on`` = as_of): the cause is
  gone (a new filing, a renewed licence), also for a company left with no filing the
  watch reads.

The chunks are ranges of company ids (every company is visited, the queries of a chunk
use the indexes on ``company.id``, ``filing.company_id`` and
``company_warning.company_id``): one pass over the population, never a scan per
chunk.

Running it twice on one day stores nothing new. Two runs at once (beat and a
``hub watch run``) store each warning once: the unique constraint refuses the second
insert, and that run's chunk is read and stored again (``CHUNK_ATTEMPTS`` times at
most), finding the warning stored.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from hub.clock import Clock
from hub.models import Company, CompanyWarning, Filing, FilingStatus, WarningState, stored_id
from hub.policy import PolicyRegistry, money
from hub.policy.watch import KINDS, Found, WatchedFiling, watch_filing
from hub.services.notifications import Notifier, warnings_opened
from hub.studio.impact_runs import read_inputs

#: Companies read, and warnings written, per transaction.
CHUNK_SIZE = 1_000
#: Times a chunk is tried when another run stores one of its warnings at the same time.
CHUNK_ATTEMPTS = 3
#: The filings the watch reads: certified or waiting for review.
WATCHED = (FilingStatus.APPROVED.value, FilingStatus.SUBMITTED.value)


@dataclass
class WatchSummary:
    """What one run did, by kind of warning: ``opened`` (new, or opened again),
    ``still_open`` (found again), ``closed`` (cause gone); ``companies``: those with a
    filing the watch reads."""

    as_of: dt.date
    companies: int = 0
    opened: Counter[str] = field(default_factory=Counter)
    still_open: Counter[str] = field(default_factory=Counter)
    closed: Counter[str] = field(default_factory=Counter)

    def merge(self, other: WatchSummary) -> None:
        """Add the counts of ``other`` (a chunk's) to these."""
        self.companies += other.companies
        self.opened.update(other.opened)
        self.still_open.update(other.still_open)
        self.closed.update(other.closed)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``{"as_of", "companies", "kinds": {kind: {opened, still_open,
        closed}}}``, every kind listed."""
        return {
            "as_of": self.as_of.isoformat(),
            "companies": self.companies,
            "kinds": {
                k: {
                    "opened": self.opened[k],
                    "still_open": self.still_open[k],
                    "closed": self.closed[k],
                }
                for k in KINDS
            },
        }


def _company_ids(session: Session, after: int, limit: int) -> list[int]:
    """The next ``limit`` company ids above ``after``, in order: a range of the primary
    key's index, whatever the population (the chunk's queries then find which of them
    have a watched filing or stored warnings)."""
    query = (
        sa.select(col(Company.id)).where(col(Company.id) > after).order_by(col(Company.id))
    ).limit(limit)
    return [int(cid) for cid in session.execute(query).scalars()]


class WatchedRow(NamedTuple):
    """What the watch reads of a company's latest certified or submitted filing: never
    its engine decision (the largest column), only the certified one of an approved
    filing (its benefits' savings)."""

    id: int
    company_id: int
    status: str
    policy_id: str | None
    inputs: dict[str, Any]
    certificate_code: str | None
    valid_until: dt.date | None
    tier_granted: str | None
    final_decision: dict[str, Any] | None


def latest_watched(session: Session, company_ids: Iterable[int]) -> dict[int, WatchedRow]:
    """Company id -> its latest certified or submitted filing (by id), for those that
    have one."""
    ids = list(company_ids)
    if not ids:
        return {}
    latest = (
        sa.select(col(Filing.company_id), sa.func.max(col(Filing.id)).label("id"))
        .where(col(Filing.status).in_(WATCHED), col(Filing.company_id).in_(ids))
        .group_by(col(Filing.company_id))
        .subquery()
    )
    query = sa.select(
        col(Filing.id),
        col(Filing.company_id),
        col(Filing.status),
        col(Filing.policy_id),
        sa.cast(col(Filing.inputs), sa.Text),  # parsed by read_inputs (orjson), faster
        col(Filing.certificate_code),
        col(Filing.valid_until),
        col(Filing.tier_granted),
        col(Filing.final_decision),
    ).join(latest, col(Filing.id) == latest.c.id)
    out: dict[int, WatchedRow] = {}
    for row in session.execute(query):
        found = WatchedRow(*row)
        out[found.company_id] = found._replace(inputs=read_inputs(found.inputs))
    return out


def watched_filing(filing: WatchedRow | Filing) -> WatchedFiling:
    """What the watch reads of a stored filing: its inputs and policy, and for an
    approved one its certificate (code, last valid day, tier, certified saving)."""
    certified = filing.status == FilingStatus.APPROVED.value and filing.certificate_code
    document = filing.final_decision or {}
    saving = None
    if certified:
        saving = money.total(
            b.get("estimated_annual_saving_kzt") for b in document.get("benefits", [])
        )
    return WatchedFiling(
        inputs=dict(filing.inputs or {}),
        policy_id=filing.policy_id,
        certificate_code=filing.certificate_code if certified else None,
        valid_until=filing.valid_until if certified else None,
        certified_tier=(filing.tier_granted or document.get("tier")) if certified else None,
        certified_saving=saving,
    )


def run_watch(
    engine: Engine,
    *,
    registry: PolicyRegistry,
    as_of: dt.date,
    clock: Clock,
    chunk_size: int = CHUNK_SIZE,
    notifier: Notifier | None = None,
) -> WatchSummary:
    """Find and store every company's warnings on ``as_of`` (see the module's
    docstring). Each chunk of ``chunk_size`` companies is one transaction, committed
    before the next is read. Returns the summary by kind.

    With a ``notifier`` each warning opened (new, or opened again) is told to the
    company's users in the chunk's transaction (``hub.services.notifications.
    warnings_opened``), never a warning found again: a second run on a day tells
    nothing. Without one, warnings are stored and nobody is told."""
    if chunk_size < 1:
        raise ValueError("chunk_size must be at least 1")
    summary = WatchSummary(as_of)
    after = 0
    while True:
        for attempt in range(CHUNK_ATTEMPTS):
            part = WatchSummary(as_of)
            queued = len(notifier.queued) if notifier else 0
            with Session(engine, expire_on_commit=False) as session:
                ids = _company_ids(session, after, chunk_size)
                if not ids:
                    return summary
                try:
                    _watch_chunk(session, ids, registry=registry, as_of=as_of, clock=clock,
                                 summary=part, notifier=notifier)  # fmt: skip
                    session.commit()
                    break
                except sa.exc.IntegrityError:
                    # another run opened one of these warnings meanwhile: read the chunk
                    # again, which now finds it stored
                    session.rollback()
                    if notifier:  # the mails of the chunk rolled back are gone with it
                        del notifier.queued[queued:]
                    if attempt == CHUNK_ATTEMPTS - 1:
                        raise
        summary.merge(part)
        after = ids[-1]


def _watch_chunk(
    session: Session,
    ids: list[int],
    *,
    registry: PolicyRegistry,
    as_of: dt.date,
    clock: Clock,
    summary: WatchSummary,
    notifier: Notifier | None = None,
) -> None:
    filings = latest_watched(session, ids)
    opened: list[CompanyWarning] = []
    stored: dict[tuple[int, str, str], CompanyWarning] = {
        (w.company_id, w.kind, w.subject): w
        for w in session.exec(
            select(CompanyWarning).where(col(CompanyWarning.company_id).in_(ids))
        ).all()
    }
    now = clock.now()
    seen: set[tuple[int, str, str]] = set()
    for company_id in ids:
        filing = filings.get(company_id)
        if filing is None:
            continue
        summary.companies += 1
        for found in watch_filing(watched_filing(filing), registry, as_of):
            key = (company_id, found.kind, found.subject)
            seen.add(key)
            row = stored.get(key)
            if row is None:
                row = _new_row(company_id, filing.id, found, as_of, now)
                session.add(row)
                opened.append(row)
                summary.opened[found.kind] += 1
            elif row.state == WarningState.OPEN.value:
                row.last_seen = as_of
                _refresh(row, filing.id, found, now)
                summary.still_open[found.kind] += 1
            else:
                row.state = WarningState.OPEN.value
                row.first_seen = row.last_seen = as_of
                row.closed_on = None
                row.updated_at = now
                _refresh(row, filing.id, found, now)
                opened.append(row)
                summary.opened[found.kind] += 1
    for key, row in stored.items():
        if row.state == WarningState.OPEN.value and key not in seen:
            row.state = WarningState.CLOSED.value
            row.closed_on = as_of
            row.updated_at = now
            summary.closed[row.kind] += 1
    session.flush()
    if notifier is not None and opened:
        warnings_opened(session, notifier, opened)


def _new_row(
    company_id: int, filing_id: int, found: Found, as_of: dt.date, now: dt.datetime
) -> CompanyWarning:
    return CompanyWarning(
        company_id=company_id,
        filing_id=filing_id,
        kind=found.kind,
        subject=found.subject,
        severity=found.severity,
        state=WarningState.OPEN.value,
        first_seen=as_of,
        last_seen=as_of,
        loss_on=found.loss_on,
        saving_at_stake_kzt=found.saving_at_stake,
        details=found.details,
        created_at=now,
        updated_at=now,
    )


def _refresh(row: CompanyWarning, filing_id: int, found: Found, now: dt.datetime) -> None:
    """What the watch says of an open warning, written only where it changed."""
    fresh = {
        "filing_id": filing_id,
        "severity": found.severity,
        "loss_on": found.loss_on,
        "saving_at_stake_kzt": found.saving_at_stake,
        "details": found.details,
    }
    changed = {k: v for k, v in fresh.items() if getattr(row, k) != v}
    for name, value in changed.items():
        setattr(row, name, value)
    if changed:
        row.updated_at = now


def open_warnings(session: Session, *, company_id: int) -> list[CompanyWarning]:
    """A company's open warnings: warnings before notices, the earliest loss first
    (those without a date last), then by kind and subject."""
    rows = session.exec(
        select(CompanyWarning).where(
            col(CompanyWarning.company_id) == company_id,
            col(CompanyWarning.state) == WarningState.OPEN.value,
        )
    ).all()
    return sorted(
        rows,
        key=lambda w: (
            w.severity != "warning",
            w.loss_on is None,
            w.loss_on or dt.date.max,
            KINDS.index(w.kind) if w.kind in KINDS else len(KINDS),
            w.subject,
        ),
    )


def warning_document(w: CompanyWarning) -> dict[str, Any]:
    """A stored warning as the API shows it (``GET /api/v1/warnings``)."""
    return {
        "id": stored_id(w),
        "kind": w.kind,
        "subject": w.subject,
        "severity": w.severity,
        "state": w.state,
        "first_seen": w.first_seen.isoformat(),
        "last_seen": w.last_seen.isoformat(),
        "loss_on": w.loss_on.isoformat() if w.loss_on else None,
        "saving_at_stake_kzt": w.saving_at_stake_kzt,
        "summary": w.details.get("summary"),
        "todo": list(w.details.get("todo", [])),
        "details": w.details,
    }
