"""Use cases of the policy studio: import, draft, save, test, analyse, publish, export.

Views and commands call these with an explicit session; nothing here reads
Flask globals except the job launcher, which needs the app to open sessions
from its thread. Refusals raise the domain's errors (``hub.services.errors``:
``NotFound``, ``Invalid``, ``Conflict``) with a message written for the author who
made the wrong move.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask
from sqlmodel import Session, col, select

from hub import audit
from hub.clock import app_clock
from hub.db import session_scope, utcnow
from hub.models import (
    Assessment,
    Company,
    Filing,
    PolicyState,
    PolicyVersionRecord,
    StudioJob,
    User,
)
from hub.policy import Policy, PolicyError, PolicyRegistry, load_policy, load_policy_text
from hub.policy.document import VERSION_RE
from hub.policy.impact import Subject, analyse
from hub.services.errors import Conflict, Invalid, NotFound
from hub.specs import SpecSuite, read_features
from hub.studio.features import copy_for_draft, features_digest, retag_text, split_features

log = logging.getLogger(__name__)

EFFECTIVE_RE = re.compile(r"^effective_from:[ \t]*(?P<value>[^\n#]*?)[ \t]*(?:#.*)?$", re.M)
VERSION_LINE_RE = re.compile(r"^version:[ \t]*(?P<value>[^\n#]*?)[ \t]*(?:#.*)?$", re.M)
STALE_AFTER = dt.timedelta(minutes=10)


class DraftChanged(Conflict):
    """Someone saved the draft since this author opened it (its ``lock_version`` moved)."""


# --- loading stored versions --------------------------------------------------------------

_PARSED: dict[str, Policy] = {}


def policy_of(record: PolicyVersionRecord) -> Policy:
    """The parsed policy of a stored version (cached by digest; raises PolicyError)."""
    key = record.digest or ""
    hit = _PARSED.get(key) if key else None
    if hit is not None and hit.text == record.text:
        return hit
    policy = load_policy_text(record.text, source=f"{record.version}.yaml")
    if record.digest == policy.digest:
        if len(_PARSED) > 64:
            _PARSED.clear()
        _PARSED[policy.digest] = policy
    return policy


def published_records(session: Session) -> list[PolicyVersionRecord]:
    query = select(PolicyVersionRecord).where(
        PolicyVersionRecord.state == PolicyState.PUBLISHED.value
    )
    return list(session.exec(query).all())


def registry_with(session: Session, files: PolicyRegistry) -> PolicyRegistry:
    """The shipped files plus every version published in the database."""
    from hub.catalogue import merge_registry

    return merge_registry(files, [policy_of(r) for r in published_records(session)])


# --- import and export ----------------------------------------------------------------------


@dataclass
class ImportReport:
    added: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def import_files(session: Session, directory: str | Path) -> ImportReport:
    """Store every shipped policy file as a published version; safe to run again.

    A file whose version is already stored with another text is a conflict:
    published versions never change, so the stored one stays and the file
    must get a new version number.
    """
    report = ImportReport()
    for path in sorted(Path(directory).rglob("*.yaml")):
        try:
            policy = load_policy(path)
        except PolicyError as exc:
            report.errors.extend(exc.errors)
            continue
        name = f"{policy.id} {policy.version}"
        stored = session.exec(
            select(PolicyVersionRecord).where(
                PolicyVersionRecord.policy_id == policy.id,
                PolicyVersionRecord.version == policy.version,
            )
        ).first()
        if stored is None:
            session.add(
                PolicyVersionRecord(
                    policy_id=policy.id,
                    version=policy.version,
                    state=PolicyState.PUBLISHED.value,
                    effective_from=policy.effective_from,
                    text=policy.text,
                    digest=policy.digest,
                    published_at=utcnow(),
                )
            )
            session.flush()
            report.added.append(name)
        elif stored.digest == policy.digest:
            report.unchanged.append(name)
        else:
            report.conflicts.append(
                f"{path}: {name} is already stored as {stored.state} with digest "
                f"{stored.digest}; the file has {policy.digest}. Published versions never "
                "change: give the file a new version number."
            )
    return report


def export_version(
    record: PolicyVersionRecord, policies_dir: str | Path, features_dir: str | Path
) -> list[Path]:
    """Write a version's text to <policies_dir>/<id>/<version>.yaml and its scenarios to
    <features_dir>/<id>/v<version>/, beside the others; returns the files written."""
    written: list[Path] = []
    policy_file = Path(policies_dir) / record.policy_id / f"{record.version}.yaml"
    policy_file.parent.mkdir(parents=True, exist_ok=True)
    policy_file.write_text(record.text, encoding="utf-8")
    written.append(policy_file)
    if record.features_text:
        folder = Path(features_dir) / record.policy_id / f"v{record.version}"
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in split_features(record.features_text):
            target = folder / Path(name).name
            target.write_text(text.lstrip("\n"), encoding="utf-8")
            written.append(target)
    return written


# --- drafts ---------------------------------------------------------------------------------


def get_record(session: Session, version: str, policy_id: str | None = None) -> PolicyVersionRecord:
    query = select(PolicyVersionRecord).where(PolicyVersionRecord.version == version)
    if policy_id:
        query = query.where(PolicyVersionRecord.policy_id == policy_id)
    record = session.exec(query).first()
    if record is None:
        raise NotFound(f"There is no policy version {version!r}.", field="version")
    return record


def suggest_version(session: Session, base: PolicyVersionRecord) -> str:
    """The next free version number of the base's year: 2026.1 -> 2026.2."""
    year, _, rest = base.version.partition(".")
    taken = {
        r.version
        for r in session.exec(
            select(PolicyVersionRecord).where(PolicyVersionRecord.policy_id == base.policy_id)
        )
    }
    n = int(rest) + 1 if rest.isascii() and rest.isdigit() else 1
    while f"{year}.{n}" in taken:
        n += 1
    return f"{year}.{n}"


def _set_line(regex: re.Pattern[str], text: str, key: str, value: str) -> str:
    new, count = regex.subn(f"{key}: {value}", text, count=1)
    if not count:
        raise Invalid(f"The policy text has no top-level '{key}:' line to set.")
    return new


def base_features(
    base: PolicyVersionRecord, version: str, features_dir: str | Path
) -> tuple[str, list[str]]:
    """The scenarios a new draft starts with: the base's from features/, else its stored ones."""
    directory = Path(features_dir)
    files = read_features(directory) if directory.exists() else []
    text, problems = copy_for_draft(files, base.version, version)
    if not text.strip() and base.features_text:
        text = retag_text(base.features_text, base.version, version)
    return text, problems


def create_draft(
    session: Session,
    *,
    base: PolicyVersionRecord,
    version: str,
    author: User,
    features_dir: str | Path,
) -> PolicyVersionRecord:
    """A new draft whose text and scenarios are copies of ``base``'s, renumbered ``version``."""
    version = version.strip()
    if not VERSION_RE.match(version):
        raise Invalid(
            f"{version!r} is not a version number: write the year, a dot and a number "
            "(for example 2026.2)."
        )
    existing = session.exec(
        select(PolicyVersionRecord).where(
            PolicyVersionRecord.policy_id == base.policy_id,
            PolicyVersionRecord.version == version,
        )
    ).first()
    if existing is not None:
        raise Conflict(
            f"Version {version} already exists ({existing.state}). Choose another number.",
            field="version",
        )
    text = _set_line(VERSION_LINE_RE, base.text, "version", f'"{version}"')
    features, _problems = base_features(base, version, features_dir)
    record = PolicyVersionRecord(
        policy_id=base.policy_id,
        version=version,
        state=PolicyState.DRAFT.value,
        text=text,
        features_text=features,
        base_version=base.version,
        author_id=author.id,
    )
    _validate_into(record)
    session.add(record)
    try:
        session.flush()
    except sa.exc.IntegrityError:
        session.rollback()
        raise Conflict(
            f"Version {version} already exists. Choose another number.", field="version"
        ) from None
    audit.append(
        session,
        action="policy.draft_created",
        entity_type="policy_version",
        entity_id=record.id,
        actor_id=author.id,
        after={"version": version, "base_version": base.version},
        policy_version=version,
    )
    return record


def validation_errors(record: PolicyVersionRecord) -> list[dict[str, Any]]:
    """The draft's problems as ``{"line": n or None, "message": ...}`` for the editor."""
    try:
        policy = load_policy_text(record.text, source=f"{record.version}.yaml")
    except PolicyError as exc:
        return [_located(e) for e in exc.errors]
    errors = []
    if policy.id != record.policy_id:
        errors.append(
            {
                "line": _line_of(record.text, "id"),
                "message": f"id must stay {record.policy_id!r}: a draft belongs to its policy",
            }
        )
    if policy.version != record.version:
        errors.append(
            {
                "line": _line_of(record.text, "version"),
                "message": f"version must stay {record.version!r} (this draft's number); "
                "create a new draft for another number",
            }
        )
    return errors


def _line_of(text: str, key: str) -> int | None:
    m = re.search(rf"^{key}:", text, re.M)
    return text.count("\n", 0, m.start()) + 1 if m else None


_LOCATED = re.compile(r"^[^:\s]+:(?P<line>\d+): (?P<message>.*)$", re.S)


def _located(error: str) -> dict[str, Any]:
    m = _LOCATED.match(error)
    if m:
        return {"line": int(m.group("line")), "message": m.group("message")}
    return {"line": None, "message": error.split(": ", 1)[-1] if ": " in error else error}


def _validate_into(record: PolicyVersionRecord) -> list[dict[str, Any]]:
    errors = validation_errors(record)
    if errors:
        record.digest = None
        return errors
    policy = policy_of_text(record)
    record.digest = policy.digest
    record.effective_from = policy.effective_from
    return []


def policy_of_text(record: PolicyVersionRecord) -> Policy:
    return load_policy_text(record.text, source=f"{record.version}.yaml")


def require_draft(record: PolicyVersionRecord) -> None:
    if record.state != PolicyState.DRAFT.value:
        raise Conflict(
            f"Version {record.version} is {record.state} and can no longer be changed. "
            "Create a draft from it to make a new version."
        )


def save_draft(
    session: Session,
    *,
    record: PolicyVersionRecord,
    text: str,
    features_text: str | None,
    lock_version: int,
    author: User,
) -> list[dict[str, Any]]:
    """Store the author's text (even when it does not validate, so no work is lost) and
    return the validation errors; refuse a save over a newer one."""
    require_draft(record)
    if lock_version != record.lock_version:
        raise DraftChanged(
            f"Someone else saved version {record.version} after you opened it (your copy is "
            f"revision {lock_version}, the stored one is revision {record.lock_version}). "
            "Your text is below, not saved: copy your changes, reload the draft, and apply "
            "them again."
        )
    text = text.replace("\r\n", "\n")
    if features_text is not None:
        features_text = features_text.replace("\r\n", "\n")
    # Compare-and-set in the database too, so two servers cannot both win the race.
    result = session.execute(
        sa.update(PolicyVersionRecord)
        .where(
            col(PolicyVersionRecord.id) == record.id,
            col(PolicyVersionRecord.lock_version) == lock_version,
            col(PolicyVersionRecord.state) == PolicyState.DRAFT.value,
        )
        .values(lock_version=lock_version + 1)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]  # an UPDATE gives a CursorResult
        session.rollback()
        raise DraftChanged(
            f"Someone else saved version {record.version} at the same moment. Your text is "
            "below, not saved: reload the draft and apply your changes again."
        )
    session.refresh(record)
    record.text = text
    if features_text is not None:
        record.features_text = features_text
    record.updated_at = utcnow()
    errors = _validate_into(record)
    session.add(record)
    session.flush()
    return errors


def delete_draft(session: Session, *, record: PolicyVersionRecord, actor: User) -> None:
    """Discard a draft (and its compiled rules)."""
    require_draft(record)
    from hub.policy import engine

    if record.digest:
        with contextlib.suppress(PolicyError):
            engine().forget(policy_of_text(record).key)
    for job in session.exec(
        select(StudioJob).where(
            StudioJob.policy_id == record.policy_id, StudioJob.version == record.version
        )
    ):
        session.delete(job)
    session.delete(record)
    audit.append(
        session,
        action="policy.draft_deleted",
        entity_type="policy_version",
        entity_id=record.id,
        actor_id=actor.id,
        before={"version": record.version},
        policy_version=record.version,
    )


def compiled_policy(record: PolicyVersionRecord) -> Policy:
    """The draft's policy, or a refusal naming why it cannot be used."""
    errors = validation_errors(record)
    if errors:
        first = errors[0]
        where = f"line {first['line']}: " if first["line"] else ""
        raise Invalid(
            f"Version {record.version} does not compile ({len(errors)} error"
            f"{'s' if len(errors) != 1 else ''}; first: {where}{first['message']}). "
            "Fix the text and save it before testing or publishing."
        )
    return policy_of_text(record)


# --- spec runs and impact analyses ---------------------------------------------------------


def run_draft_specs(
    policy: Policy, features_text: str | None, catalogue: Sequence[Policy]
) -> dict[str, Any]:
    """Run a draft's scenarios against it; the report as a dict (what jobs store)."""
    suite = SpecSuite.from_texts(split_features(features_text))
    report = suite.run(policy, catalogue=list(catalogue))
    return report.to_dict()


def latest_filings(session: Session) -> list[tuple[Filing, Company]]:
    """The latest decided filing of each company (the population impact analyses use)."""
    latest = (
        select(Filing.company_id, sa.func.max(Filing.id).label("id"))
        .where(col(Filing.policy_version).is_not(None), col(Filing.decision).is_not(None))
        .group_by(col(Filing.company_id))
        .subquery()
    )
    query = (
        select(Filing, Company)
        .join(latest, col(Filing.id) == latest.c.id)
        .join(Company, col(Company.id) == col(Filing.company_id))
        .order_by(Company.legal_name, col(Company.id))
    )
    return list(session.exec(query).all())


def subjects_of(
    rows: Iterable[tuple[Filing, Company]], registry: PolicyRegistry
) -> tuple[list[Subject], list[str]]:
    """Impact subjects, and the filings left out because their version is unknown here."""
    subjects, skipped = [], []
    for filing, company in rows:
        try:
            policy = registry.get(filing.policy_version or "", filing.policy_id)
        except LookupError:
            skipped.append(f"{company.bin}: version {filing.policy_version} is not available")
            continue
        subjects.append(
            Subject(
                key=company.bin,
                label=company.legal_name,
                inputs=dict(filing.inputs),
                policy=policy,
            )
        )
    return subjects, skipped


def impact_as_of(candidate: Policy, today: dt.date) -> dt.date:
    """Both sides are assessed on the day the candidate would first apply."""
    return max(today, candidate.effective_from)


def start_job(
    app: Flask,
    session: Session,
    *,
    kind: str,
    record: PolicyVersionRecord,
    user: User | None,
    against: str | None = None,
) -> StudioJob:
    """Record a job and run it in a background thread of this process."""
    policy = compiled_policy(record)
    job = StudioJob(
        kind=kind,
        policy_id=record.policy_id,
        version=record.version,
        digest=policy.digest,
        features_digest=features_digest(record.features_text) if kind == "specs" else None,
        against=against,
        state="queued",
        created_by_id=user.id if user else None,
    )
    session.add(job)
    session.commit()
    features_text = record.features_text
    job_id = job.id
    assert job_id is not None
    thread = threading.Thread(
        target=_run_job,
        args=(app, job_id, kind, policy, features_text),
        name=f"studio-{kind}-{job_id}",
        daemon=True,
    )
    thread.start()
    return job


def _update(app: Flask, job_id: int, **values: Any) -> None:
    with session_scope(app) as session:
        job = session.get(StudioJob, job_id)
        if job is None:
            return
        for key, value in values.items():
            setattr(job, key, value)
        job.updated_at = utcnow()
        session.add(job)


# At most two runs at a time per process: the engine's C calls hold the GIL, so more
# threads would only slow every request of this server down, not finish sooner.
_SLOTS = threading.BoundedSemaphore(2)


def _run_job(app: Flask, job_id: int, kind: str, policy: Policy, features_text: str | None) -> None:
    """The background part: never raises (a failed job says why in its row)."""
    with _SLOTS:
        _run_job_now(app, job_id, kind, policy, features_text)


def _run_job_now(
    app: Flask, job_id: int, kind: str, policy: Policy, features_text: str | None
) -> None:
    try:
        with app.app_context():
            from hub.catalogue import catalogue

            registry = catalogue().registry()
            if kind == "specs":
                _update(app, job_id, state="running", total=1)
                result = run_draft_specs(policy, features_text, registry.versions(policy.id))
                summary = result["summary"]
                _update(
                    app,
                    job_id,
                    state="done",
                    done=summary["total"],
                    total=summary["total"],
                    result=result,
                    finished_at=utcnow(),
                )
                return
            with session_scope(app) as session:
                rows = latest_filings(session)
                subjects, skipped = subjects_of(rows, registry)
            total = len(subjects)
            _update(app, job_id, state="running", total=total)
            as_of = impact_as_of(policy, app_clock(app).today())
            report = analyse(
                subjects,
                policy,
                as_of,
                progress=lambda done: _update(app, job_id, done=done),
                every=max(1, min(200, total // 20 or 1)),
            )
            result = report.to_dict()
            result["skipped"] = skipped
            _update(app, job_id, state="done", done=total, result=result, finished_at=utcnow())
    except Exception as exc:  # a job must leave a readable failure, never a dead thread
        log.exception("studio job %s failed", job_id)
        try:
            _update(app, job_id, state="failed", error=f"{type(exc).__name__}: {exc}",
                    finished_at=utcnow())  # fmt: skip
        except Exception:
            log.exception("studio job %s: could not record the failure", job_id)


def job_view(job: StudioJob) -> dict[str, Any]:
    """A job as the browser polls it (a job whose server stopped is reported failed)."""
    state, error = job.state, job.error
    if state in ("queued", "running") and utcnow() - job.updated_at > STALE_AFTER:
        state, error = "failed", "the server running this job stopped; start it again"
    return {
        "id": job.id,
        "kind": job.kind,
        "version": job.version,
        "state": state,
        "done": job.done,
        "total": job.total,
        "error": error,
        "finished": state in ("done", "failed"),
    }


def latest_job(
    session: Session, record: PolicyVersionRecord, kind: str, *, current_only: bool = True
) -> StudioJob | None:
    """The newest job of a kind for this version (for its current text, by default)."""
    query = select(StudioJob).where(
        StudioJob.kind == kind,
        StudioJob.policy_id == record.policy_id,
        StudioJob.version == record.version,
    )
    if current_only:
        query = query.where(StudioJob.digest == (record.digest or "-"))
        if kind == "specs":
            query = query.where(StudioJob.features_digest == features_digest(record.features_text))
    return session.exec(query.order_by(col(StudioJob.id).desc()).limit(1)).first()


# --- publishing ----------------------------------------------------------------------------


@dataclass
class PublishCheck:
    """What the confirmation page shows: the final text and its spec results."""

    policy: Policy
    text: str
    specs: dict[str, Any]
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def check_publication(
    session: Session,
    *,
    record: PolicyVersionRecord,
    effective_from: dt.date,
    today: dt.date,
    catalogue: Sequence[Policy],
) -> PublishCheck:
    """Everything that must hold before ``record`` is published on ``effective_from``."""
    require_draft(record)
    compiled_policy(record)
    if effective_from < today:
        raise Invalid(
            f"The effective date {effective_from.isoformat()} is in the past: decisions have "
            f"already been made on that date. Choose today ({today.isoformat()}) or later."
        )
    decided = session.exec(
        select(sa.func.max(Assessment.as_of)).where(col(Assessment.policy_id) == record.policy_id)
    ).one()
    if decided is not None and decided >= effective_from:
        raise Invalid(
            f"Decisions have already been made for {decided.isoformat()}, on or after "
            f"{effective_from.isoformat()}; a new version may only take effect after them. "
            f"Choose {(decided + dt.timedelta(days=1)).isoformat()} or later."
        )
    for p in catalogue:
        if p.id == record.policy_id and p.effective_from == effective_from:
            raise Invalid(
                f"Version {p.version} already takes effect on {effective_from.isoformat()}; "
                "two versions cannot start on the same day. Choose another date."
            )
    text = _set_line(EFFECTIVE_RE, record.text, "effective_from", effective_from.isoformat())
    policy = load_policy_text(text, source=f"{record.version}.yaml")
    specs = run_draft_specs(policy, record.features_text, catalogue)
    problems = []
    summary = specs["summary"]
    if specs["errors"]:
        problems.append(f"{len(specs['errors'])} feature file(s) do not parse")
    if summary["failed"]:
        problems.append(f"{summary['failed']} scenario(s) fail")
    if not summary["passed"]:
        problems.append("no scenario ran: a version without passing scenarios proves nothing")
    return PublishCheck(policy, text, specs, problems)


def publish(
    session: Session,
    *,
    record: PolicyVersionRecord,
    effective_from: dt.date,
    today: dt.date,
    catalogue: Sequence[Policy],
    actor: User,
    lock_version: int | None = None,
) -> Policy:
    """Publish a draft from ``effective_from``: refused while any scenario fails."""
    if lock_version is not None and lock_version != record.lock_version:
        raise Conflict(
            f"Version {record.version} was saved again after you reviewed it; review the "
            "new text and its results before publishing."
        )
    check = check_publication(
        session, record=record, effective_from=effective_from, today=today, catalogue=catalogue
    )
    if not check.ok:
        raise Invalid(
            f"Version {record.version} cannot be published: " + "; ".join(check.problems) + ". "
            "Fix the rules or the scenarios until every scenario passes."
        )
    result = session.execute(
        sa.update(PolicyVersionRecord)
        .where(
            col(PolicyVersionRecord.id) == record.id,
            col(PolicyVersionRecord.lock_version) == record.lock_version,
            col(PolicyVersionRecord.state) == PolicyState.DRAFT.value,
        )
        .values(lock_version=record.lock_version + 1)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]  # an UPDATE gives a CursorResult
        session.rollback()
        raise Conflict(f"Version {record.version} changed while it was being published.")
    session.refresh(record)
    record.text = check.text
    record.digest = check.policy.digest
    record.effective_from = effective_from
    record.state = PolicyState.PUBLISHED.value
    record.published_at = utcnow()
    record.updated_at = record.published_at
    session.add(record)
    session.flush()
    audit.append(
        session,
        action="policy.published",
        entity_type="policy_version",
        entity_id=record.id,
        actor_id=actor.id,
        after={
            "policy_id": record.policy_id,
            "version": record.version,
            "effective_from": effective_from.isoformat(),
            "digest": record.digest,
            "base_version": record.base_version,
            "specs": check.specs["summary"],
        },
        policy_version=record.version,
        policy_digest=record.digest,
    )
    return check.policy
