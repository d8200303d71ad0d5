"""CSV exports of the queue and of the decisions, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Sequence
from typing import Any

from sqlmodel import Session, col, select

from hub.models import Company, Filing
from hub.services.review.queue import waited

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
