"""Demo data: load ``seeds/`` into the database, idempotently.

``seeds/companies.json`` lists companies (by BIN) and their filings, each
played through the real use cases (draft, submission, overrides, decision), so
the demo has filings in every state with engine decisions, certificates and
audit records. Loading twice changes nothing: a company that exists is left
alone, and filings are only created for a company that has none yet.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlmodel import Session, col, func, select

import hub
from hub.auth.passwords import hash_password
from hub.auth.service import create_user, get_or_create_company, get_user_by_email
from hub.clock import Clock
from hub.models import Company, Filing, FilingStatus, Role, User
from hub.policy import NoVersionInForce, PolicyRegistry, jsondoc, yaml12
from hub.services.errors import DomainError

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


class SeedFileError(ValueError):
    """A seed file that must not be loaded (a key given twice, a number read inexactly);
    the message names the file and the key's path or line."""


def _read_yaml(text: str) -> Any:
    """A seed YAML document read as policy files are, by YAML 1.2 (``hub.policy.yaml12``).

    PyYAML's YAML 1.1 would take an unquoted BIN such as ``012345670123`` for an octal
    number, ``24:00`` for 1440, ``no`` for false and ``2026-07-01`` for a date object;
    YAML 1.2 reads what is written, and every form the two read differently is refused
    at its line, as a key given twice is. SeedFileError lists each problem with its line.
    """
    try:
        data, _ = yaml12.load_with_lines(text)
    except yaml12.AmbiguousYaml as exc:
        raise SeedFileError(
            "; ".join(f"line {line}: {message}" for line, message in exc.problems)
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise SeedFileError(f"{where}not valid YAML: {problem}") from None
    return data


def _read_seed_file(path: Path) -> Any:
    """One seed file's document; SeedFileError names the file and what is wrong."""
    try:
        if path.suffix == ".json":
            return jsondoc.loads_strict(path.read_bytes())
        return _read_yaml(path.read_text(encoding="utf-8"))
    except jsondoc.DocumentRefused as exc:
        problems = "; ".join(f"{e['field']}: {e['message']}" for e in exc.errors)
        raise SeedFileError(f"{path}: {problems}") from None
    except SeedFileError as exc:
        raise SeedFileError(f"{path}: {exc}") from None


def _seed_entries(seed_dir: Path) -> list[tuple[str, dict[str, Any]]]:
    """Each company entry of the seed files with where it is (``file: companies[n]``).

    Raises SeedFileError for a file that cannot be read (see ``_read_seed_file``) and
    for an entry that is not a company: a mapping with a ``bin`` and a ``legal_name``
    written as text, and ``filings`` (if any) a list of mappings with a known ``status``.
    """
    entries: list[tuple[str, dict[str, Any]]] = []
    for path in sorted(seed_dir.iterdir()):
        if path.suffix not in {".json", ".yaml", ".yml"}:
            continue
        doc = _read_seed_file(path)
        if doc is None:
            continue
        companies = doc.get("companies", []) if isinstance(doc, dict) else None
        if not isinstance(companies, list):
            raise SeedFileError(f"{path}: companies must be a list of companies")
        for n, entry in enumerate(companies):
            where = f"{path}: companies[{n}]"
            _check_entry(where, entry)
            entries.append((where, entry))
    return entries


_STATUSES = {s.value for s in FilingStatus}


def _check_entry(where: str, entry: Any) -> None:
    """SeedFileError (naming ``where`` and the field) unless ``entry`` has a company's shape."""
    if not isinstance(entry, dict):
        raise SeedFileError(f"{where}: must be a mapping with bin, legal_name and filings")
    for key in ("bin", "legal_name"):
        if not isinstance(entry.get(key), str):
            raise SeedFileError(f"{where}.{key}: must be text (quote a BIN: '940140000385')")
    filings = entry.get("filings", [])
    if not isinstance(filings, list) or not all(isinstance(f, dict) for f in filings):
        raise SeedFileError(f"{where}.filings: must be a list of mappings")
    for n, spec in enumerate(filings):
        status = spec.get("status", FilingStatus.DRAFT.value)
        if status not in _STATUSES:
            raise SeedFileError(
                f"{where}.filings[{n}].status: must be one of {', '.join(sorted(_STATUSES))}"
            )
        for key in ("inputs", "changes"):
            if not isinstance(spec.get(key, {}), dict):
                raise SeedFileError(f"{where}.filings[{n}].{key}: must be a mapping")


def read_seed_files(seed_dir: Path) -> list[dict[str, Any]]:
    """All company entries of the ``*.json`` / ``*.yaml`` files in ``seed_dir``, in name order.

    JSON is read strictly (``jsondoc.loads_strict``), YAML by YAML 1.2 as policy files are
    (``hub.policy.yaml12``). Raises SeedFileError, naming the file and the key's path or
    line, for a key given twice at any depth (a seeded filing would otherwise hold
    whichever value came last), a number read inexactly, a YAML form that YAML 1.1 reads
    differently (an unquoted ``012345670123`` is octal there) and an entry that is not a
    company."""
    return [entry for _, entry in _seed_entries(seed_dir)]


def _registry() -> PolicyRegistry:
    """The app's policy catalogue inside an app context, else the project's policy folder."""
    from flask import has_app_context

    if has_app_context():
        from hub.app_catalogue import catalogue

        return catalogue().registry()
    return PolicyRegistry.from_directory(DEFAULT_SEED_DIR.parent / "policies")


def load_seeds(
    session: Session,
    seed_dir: Path | None = None,
    *,
    clock: Clock,
    registry: PolicyRegistry | None = None,
    today: dt.date | None = None,
) -> SeedReport:
    """Create the seeded companies and their filings that do not exist yet.

    Filings are played through the same use cases as in production (drafts,
    submission assessed by the engine, overrides, decisions), so every decision
    carries its policy version, digest and audit records. Only dates are set back
    to the ``*_days_ago`` of the seed file (counted back from ``today``, default the
    hub's date by ``clock``), so waiting times look real; ``clock`` also stamps the
    decisions.
    """
    report = SeedReport()
    registry = registry or _registry()
    today = today or clock.today()
    try:
        registry.select(today)
    except NoVersionInForce:
        # Before the first version takes effect the demo plays out on its first day,
        # so `hub demo` still has decisions to show.
        starts = [p.effective_from for p in registry.versions()]
        today = min(starts) if starts else today
    for where, entry in _seed_entries(seed_dir or DEFAULT_SEED_DIR):
        try:
            _seed_company(session, entry, report, registry=registry, clock=clock, today=today)
        except _Refused as exc:
            raise SeedFileError(f"{where}{exc.where} (BIN {entry['bin']}): {exc}") from None
    session.flush()
    return report


class _Refused(Exception):
    """A seed entry the use cases refused: ``where`` in the entry, the message by field."""

    def __init__(self, where: str, exc: DomainError) -> None:
        super().__init__(
            "; ".join(
                f"{e['field']}: {e['message']}" if e.get("field") else str(e["message"])
                for e in exc.errors
            )
        )
        self.where = where


def _seed_company(
    session: Session,
    entry: dict[str, Any],
    report: SeedReport,
    *,
    registry: PolicyRegistry,
    clock: Clock,
    today: dt.date,
) -> None:
    """Create one seeded company (unless it exists) and its filings (unless it has some)."""
    bin_ = entry["bin"]
    company = session.exec(select(Company).where(Company.bin == bin_)).first()
    if company is None:
        try:
            company = get_or_create_company(
                session, bin=bin_, legal_name=entry["legal_name"], activity=entry.get("activity")
            )
        except DomainError as exc:
            raise _Refused("", exc) from None
        report.companies += 1
    has_filings = session.exec(
        select(func.count()).select_from(Filing).where(Filing.company_id == company.id)
    ).one()
    if has_filings:
        return
    previous: Filing | None = None
    for n, spec in enumerate(entry.get("filings", [])):
        try:
            previous = _seed_filing(
                session,
                company,
                spec,
                previous,
                registry=registry,
                clock=clock,
                today=today,
                salt=n,
            )
        except DomainError as exc:  # refused by the use cases, by field
            raise _Refused(f".filings[{n}]", exc) from None
        report.filings += 1


def _day(registry: PolicyRegistry, today: dt.date, days_ago: Any) -> dt.date:
    """``days_ago`` before today, but never before the first version came into force."""
    day = today - dt.timedelta(days=int(days_ago or 0))
    starts = [p.effective_from for p in registry.versions() if p.effective_from <= today]
    return max(day, min(starts)) if starts else day


def _at(day: dt.date, salt: int, hour: int, clock: Clock) -> dt.datetime:
    """An instant in working hours of the hub's ``day`` (so its hub date is ``day``), UTC."""
    local = dt.time(hour + salt % 7, (salt * 17) % 60)
    return dt.datetime.combine(day, local, tzinfo=clock.zone).astimezone(dt.UTC)


def _seed_filing(
    session: Session,
    company: Company,
    spec: dict[str, Any],
    previous: Filing | None,
    *,
    registry: PolicyRegistry,
    clock: Clock,
    today: dt.date,
    salt: int,
) -> Filing:
    """Play one filing of the seed file through the use cases up to its ``status``."""
    from hub.services import filings as filing_svc
    from hub.services.review import actions as review_actions

    status = FilingStatus(spec.get("status", FilingStatus.DRAFT.value))
    salt += company.id or 0
    if spec.get("revises_previous") and previous is not None:
        filing = filing_svc.revise(session, filing=previous, actor_id=None)
        inputs = {**(filing.inputs or {}), **spec.get("changes", {})}
    else:
        filing = filing_svc.create_draft(
            session, company=company, actor_id=None, inputs={}, registry=registry, today=today
        )
        inputs = dict(spec.get("inputs", {}))
    inputs["bin"] = company.bin
    filing_svc.update_draft(
        session,
        filing=filing,
        company=company,
        actor_id=None,
        inputs=inputs,
        lock_version=filing.lock_version,
        registry=registry,
        today=today,
    )
    if status is FilingStatus.DRAFT:
        return filing
    submitted_on = _day(registry, today, spec.get("submitted_days_ago"))
    filing_svc.submit(
        session,
        filing=filing,
        actor_id=None,
        lock_version=filing.lock_version,
        registry=registry,
        today=submitted_on,
    )
    filing.submitted_at = _at(submitted_on, salt, 8, clock)
    session.add(filing)
    session.flush()
    for o in spec.get("overrides", []):
        review_actions.override_criterion(
            session,
            filing=filing,
            criterion_id=o["criterion"],
            status=o["status"],
            reason=o["reason"],
            actor_id=None,
            lock_version=filing.lock_version,
            registry=registry,
        )
    if status is FilingStatus.SUBMITTED:
        return filing
    decided_on = max(_day(registry, today, spec.get("decided_days_ago")), submitted_on)
    decided_at = max(_at(decided_on, salt, 10, clock), filing.submitted_at + dt.timedelta(hours=2))
    common: dict[str, Any] = {
        "filing": filing,
        "actor_id": None,
        "lock_version": filing.lock_version,
        "registry": registry,
        # Decided at that instant: the certificate runs from its (hub) date.
        "clock": Clock.fixed(decided_at, clock.zone),
    }
    message = spec.get("message")
    if status is FilingStatus.APPROVED:
        review_actions.approve(session, note=message, **common)
    elif status is FilingStatus.REJECTED:
        review_actions.reject(session, reason=message, **common)
    elif status is FilingStatus.CHANGES_REQUESTED:
        review_actions.request_changes(session, message=message, **common)
    else:
        raise ValueError(f"seed filings cannot be created as {status.value}: revise them")
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


#: The demo account of each seeded company that has none (``ensure_company_contacts``).
CONTACT_EMAIL = "contact.{bin}@demo.hub"


def ensure_company_contacts(session: Session, password: str) -> list[str]:
    """Give every company without an account one company user, ``contact.<BIN>@demo.hub``
    with ``password`` (hashed once for all of them), so that what the hub tells a demo
    company (the daily watch's warnings, decisions) reaches someone; existing contacts get
    ``password`` too. Returns the e-mails created."""
    hashed = hash_password(password)
    with_users = {
        u
        for u in session.exec(select(User.company_id).where(User.company_id.is_not(None)))  # type: ignore[union-attr]
    }
    created: list[str] = []
    for company in session.exec(select(Company).order_by(col(Company.id))).all():
        email = CONTACT_EMAIL.format(bin=company.bin)
        existing = get_user_by_email(session, email=email)
        if existing is not None:
            existing.password_hash = hashed
            existing.is_active = True
            session.add(existing)
        elif company.id not in with_users:
            session.add(
                User(
                    email=email,
                    password_hash=hashed,
                    role=Role.COMPANY.value,
                    company_id=company.id,
                )
            )
            created.append(email)
    session.flush()
    return created


def demo_password(configured: str | None) -> tuple[str, bool]:
    """The demo password and whether it was generated (to be printed once)."""
    if configured:
        return configured, False
    return secrets.token_urlsafe(12), True
