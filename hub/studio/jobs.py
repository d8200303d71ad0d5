"""Scenario runs and impact analyses of a draft, as background jobs (a row each)."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from hub.clock import Clock
from hub.models import (
    Company,
    Filing,
    PolicyVersionRecord,
    StudioJob,
    User,
)
from hub.policy import NoVersionInForce, Policy, PolicyRegistry
from hub.policy.impact import Subject, analyse, baseline_of, default_as_of
from hub.services.errors import Invalid
from hub.storage import utcnow
from hub.studio.drafts import compiled_policy
from hub.studio.features import check_features_text, features_digest, spec_suite

log = logging.getLogger(__name__)

STALE_AFTER = dt.timedelta(minutes=10)


# --- spec runs and impact analyses ---------------------------------------------------------


def run_draft_specs(
    policy: Policy, features_text: str | None, catalogue: Sequence[Policy]
) -> dict[str, Any]:
    """Run a draft's scenarios against it; the report as a dict (what jobs store)."""
    suite = spec_suite(features_text)
    report = suite.run(policy, catalogue=list(catalogue))
    return report.to_dict()


def latest_filings(session: Session) -> list[tuple[Filing, Company]]:
    """The latest decided filing of each company (the population impact analyses use)."""
    latest = (
        select(col(Filing.company_id), sa.func.max(col(Filing.id)).label("id"))
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
    rows: Iterable[tuple[Filing, Company]], baseline: Policy
) -> tuple[list[Subject], list[str]]:
    """Impact subjects compared under ``baseline``, and the filings left out (decided
    under another policy)."""
    subjects, skipped = [], []
    for filing, company in rows:
        if filing.policy_id is not None and filing.policy_id != baseline.id:
            skipped.append(f"{company.bin}: decided under another policy ({filing.policy_id})")
            continue
        subjects.append(
            Subject(
                key=company.bin,
                label=company.legal_name,
                inputs=dict(filing.inputs),
                policy=baseline,
            )
        )
    return subjects, skipped


@dataclass(frozen=True)
class ImpactPlan:
    """What an impact analysis compares: the candidate with ``against`` (the version
    otherwise in force on ``as_of``, or the one named), both assessed as of ``as_of``."""

    as_of: dt.date
    against: Policy
    #: True when ``against`` was named rather than found in force on the date
    named: bool = False


def plan_impact(
    registry: PolicyRegistry,
    candidate: Policy,
    *,
    today: dt.date,
    as_of: dt.date | None = None,
    against: Policy | None = None,
) -> ImpactPlan:
    """The date and the baseline of an impact analysis of ``candidate``.

    ``as_of`` defaults to the candidate's effective date (today when that is past);
    ``against`` to the version that would otherwise be in force on that date in
    ``registry``. Raises ``Invalid`` (field ``as_of``) when no version is in force on
    that date: there is nothing to compare with.
    """
    day = as_of or default_as_of(candidate, today)
    if against is not None:
        return ImpactPlan(day, against, named=True)
    try:
        return ImpactPlan(day, baseline_of(registry, candidate, day))
    except NoVersionInForce as exc:
        raise Invalid(
            f"Nothing to compare {candidate.version} with: {exc.message}. "
            "Choose a date on which a version is in force.",
            field="as_of",
        ) from None


#: What a job reads the policy versions from: called once per job, so a long-lived
#: worker sees versions published since it started (``PolicyCatalogue.registry``).
RegistrySource = Callable[[], PolicyRegistry]


def start_job(
    session: Session,
    *,
    engine: Engine,
    clock: Clock,
    registry: RegistrySource,
    kind: str,
    record: PolicyVersionRecord,
    user: User | None,
    as_of: dt.date | None = None,
) -> StudioJob:
    """Record a job (committed in ``session``) and run it in a background thread.

    The thread opens its own sessions on ``engine``; no Flask app is needed, so a
    worker process or a command can start jobs too. An impact analysis is planned
    here (``plan_impact``: ``as_of`` or the draft's effective date by ``clock``, and
    the version otherwise in force then, from one read of ``registry``) and both are
    recorded on the row before it runs. Raises ``Invalid`` when the draft does not
    compile, or (field ``as_of``) when no version is in force on the date.
    """
    policy = compiled_policy(record)
    if kind == "specs":
        check_features_text(record.features_text)  # stored before the limits: refused here
    plan = None
    if kind == "impact":
        versions = registry()
        plan = plan_impact(versions, policy, today=clock.today(), as_of=as_of)
        registry = lambda: versions  # noqa: E731 - the job uses the versions it was planned on
    job = StudioJob(
        kind=kind,
        policy_id=record.policy_id,
        version=record.version,
        digest=policy.digest,
        features_digest=features_digest(record.features_text) if kind == "specs" else None,
        against=plan.against.version if plan else None,
        as_of=plan.as_of if plan else None,
        state="queued",
        created_by_id=user.id if user else None,
    )
    session.add(job)
    session.commit()
    features_text = record.features_text
    job_id = job.id
    assert job_id is not None
    runner = _Runner(engine, clock, registry, job_id, plan)
    thread = threading.Thread(
        target=runner.run,
        args=(kind, policy, features_text),
        name=f"studio-{kind}-{job_id}",
        daemon=True,
    )
    thread.start()
    return job


# At most two runs at a time per process: the engine's C calls hold the GIL, so more
# threads would only slow every request of this server down, not finish sooner.
_SLOTS = threading.BoundedSemaphore(2)


@dataclass
class _Runner:
    """One job's background part, with what it needs passed in."""

    engine: Engine
    clock: Clock
    registry: RegistrySource
    job_id: int
    impact: ImpactPlan | None = None
    #: failures to raise to the caller instead of recording them (the task queue tries
    #: such a job again: ``hub.studio.attempts``); by default every failure is recorded
    reraise: Callable[[BaseException], bool] | None = None

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A session of its own: commit on success, roll back on error."""
        session = Session(self.engine, expire_on_commit=False)
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def update(self, **values: Any) -> None:
        """Set columns of the job's row (and its ``updated_at``) in a transaction of its own."""
        with self.session() as session:
            job = session.get(StudioJob, self.job_id)
            if job is None:
                return
            for key, value in values.items():
                setattr(job, key, value)
            job.updated_at = utcnow()
            session.add(job)

    def run(self, kind: str, policy: Policy, features_text: str | None) -> None:
        """The background part: raises only what ``reraise`` picks (any other failure is
        recorded in the job's row)."""
        with _SLOTS:
            self._run(kind, policy, features_text)

    def _run(self, kind: str, policy: Policy, features_text: str | None) -> None:
        job_id = self.job_id
        try:
            registry = self.registry()
            if kind == "specs":
                self.update(state="running", total=1)
                result = run_draft_specs(policy, features_text, registry.versions(policy.id))
                summary = result["summary"]
                self.update(
                    state="done",
                    done=summary["total"],
                    total=summary["total"],
                    result=result,
                    finished_at=utcnow(),
                )
                return
            plan = self.impact or plan_impact(registry, policy, today=self.clock.today())
            with self.session() as session:
                rows = latest_filings(session)
                subjects, skipped = subjects_of(rows, plan.against)
            total = len(subjects)
            self.update(state="running", total=total)
            report = analyse(
                subjects,
                policy,
                plan.as_of,
                progress=lambda done: self.update(done=done),
                every=max(1, min(200, total // 20 or 1)),
                against=plan.against.version,
            )
            result = report.to_dict()
            result["skipped"] = skipped
            self.update(state="done", done=total, result=result, finished_at=utcnow())
        except Exception as exc:  # a job must leave a readable failure, never a dead thread
            if self.reraise is not None and self.reraise(exc):
                raise
            log.exception("studio job %s failed", job_id)
            try:
                self.update(state="failed", error=f"{type(exc).__name__}: {exc}",
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
