"""Certificates: validity, codes, and the public check of a code."""

from __future__ import annotations

import calendar
import datetime as dt
import secrets
from dataclasses import dataclass

from sqlmodel import Session, col, select

from hub.clock import Clock
from hub.models import Company, Filing
from hub.services.review.common import APPROVED, SUPERSEDED

#: How long a certificate is valid: 12 months from the decision.
CERTIFICATE_MONTHS = 12
#: Letters and digits that cannot be misread for one another (no 0/O, 1/I/L).
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


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
                col(Filing.status).in_([APPROVED, SUPERSEDED]),
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
