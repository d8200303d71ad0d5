"""Demo data: load ``seeds/`` into the database, idempotently.

``seeds/companies.json`` lists companies (by BIN) and their filings. Loading
twice changes nothing: a company that exists is left alone, and filings are
only created for a company that has none yet.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlmodel import Session, func, select

import hub
from hub.auth.passwords import hash_password
from hub.auth.service import create_user, get_or_create_company, get_user_by_email
from hub.db import utcnow
from hub.models import Company, Filing, FilingStatus, Role

DEFAULT_SEED_DIR = Path(hub.__file__).resolve().parent.parent / "seeds"

#: One demo account per role; the company user belongs to the first seeded company.
DEMO_USERS: list[tuple[str, Role]] = [
    ("company@demo.hub", Role.COMPANY),
    ("admin@demo.hub", Role.ADMIN),
    ("author@demo.hub", Role.AUTHOR),
]
DEMO_COMPANY_BIN = "940140000385"


@dataclass
class SeedReport:
    """What a seed run created (zeros on a second run)."""

    companies: int = 0
    filings: int = 0
    users: list[str] = field(default_factory=list)


def read_seed_files(seed_dir: Path) -> list[dict[str, Any]]:
    """All company entries of the ``*.json`` / ``*.yaml`` files in ``seed_dir``, in name order."""
    companies: list[dict[str, Any]] = []
    for path in sorted(seed_dir.iterdir()):
        if path.suffix == ".json":
            doc = json.loads(path.read_text(encoding="utf-8"))
        elif path.suffix in {".yaml", ".yml"}:
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        else:
            continue
        if isinstance(doc, dict):
            companies.extend(doc.get("companies", []))
    return companies


def load_seeds(session: Session, seed_dir: Path | None = None) -> SeedReport:
    """Create the seeded companies and their filings that do not exist yet."""
    report = SeedReport()
    for entry in read_seed_files(seed_dir or DEFAULT_SEED_DIR):
        bin_ = str(entry["bin"])
        company = session.exec(select(Company).where(Company.bin == bin_)).first()
        if company is None:
            company = get_or_create_company(
                session, bin=bin_, legal_name=entry["legal_name"], activity=entry.get("activity")
            )
            report.companies += 1
        has_filings = session.exec(
            select(func.count()).select_from(Filing).where(Filing.company_id == company.id)
        ).one()
        if has_filings:
            continue
        for spec in entry.get("filings", []):
            session.add(_seed_filing(company, spec))
            report.filings += 1
    session.flush()
    return report


def _seed_filing(company: Company, spec: dict[str, Any]) -> Filing:
    status = FilingStatus(spec.get("status", FilingStatus.DRAFT.value))
    now = utcnow()
    filing = Filing(company_id=company.id, status=status.value, inputs=dict(spec["inputs"]))  # type: ignore[arg-type]
    if status is not FilingStatus.DRAFT:
        filing.submitted_at = now
    # TODO(lead): compute and freeze the decision of non-draft filings here with the
    # engine (policy version in force, digest, decision JSON, tier_claimed, and an
    # Assessment row), exactly as the submit use case will.
    return filing


def ensure_demo_users(session: Session, password: str) -> list[str]:
    """Create the demo accounts that do not exist; returns the e-mails created.

    Existing demo accounts get ``password`` too, so that the logins ``hub demo``
    prints always work, also with a freshly generated password.
    """
    created: list[str] = []
    company = session.exec(select(Company).where(Company.bin == DEMO_COMPANY_BIN)).first()
    if company is None:
        company = get_or_create_company(
            session, bin=DEMO_COMPANY_BIN, legal_name="Steppe Exchange LLP", activity="exchange"
        )
    for email, role in DEMO_USERS:
        user = get_user_by_email(session, email=email)
        if user is None:
            create_user(
                session,
                email=email,
                password=password,
                role=role,
                company=company if role is Role.COMPANY else None,
            )
            created.append(email)
        else:
            user.password_hash = hash_password(password)
            user.is_active = True
            session.add(user)
    session.flush()
    return created


def demo_password(configured: str | None) -> tuple[str, bool]:
    """The demo password and whether it was generated (to be printed once)."""
    if configured:
        return configured, False
    return secrets.token_urlsafe(12), True
