"""One attempt at a recorded studio job, as the task queue makes it: claim, run, give up.

A queue may deliver a job's task more than once: its worker was killed in the
middle (the message goes back to the queue), a visibility timeout passed while the
task still ran, or an attempt failed and is retried. ``run_job`` makes every
delivery harmless:

- a job already done or failed is left as it is;
- a job that another process runs, with a live heartbeat, is not run twice
  (``JobBusy``: the task looks again later, and takes the job over once that
  heartbeat stops);
- otherwise the job is claimed by one conditional UPDATE (so of two workers
  exactly one runs it), its attempt counted, and it is run by the studio's own
  runner (``hub.studio.jobs``), which records progress, heartbeats, the result
  or the failure;
- an attempt that fails for a reason that may pass (the database or the disk,
  not the draft) puts the job back in the queue (``AttemptFailed``); after
  ``max_attempts`` attempts, and when the workers running it were lost that many
  times, the job is failed with the reason. Nothing stays "running" forever.

No Flask here: the task (``hub.tasks``) passes the engine, the clock and the
registry of its app.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import CursorResult, Engine
from sqlmodel import Session, col, select

from hub.clock import Clock
from hub.models import PolicyVersionRecord, StudioJob
from hub.policy import Policy
from hub.services.errors import Conflict, DomainError, NotFound
from hub.storage import utcnow
from hub.studio.drafts import compiled_policy
from hub.studio.features import features_digest
from hub.studio.impact_runs import ChunkDispatch
from hub.studio.jobs import (
    HEARTBEAT_SECONDS,
    ImpactPlan,
    RegistrySource,
    _Runner,
    stale_after,
)

log = logging.getLogger(__name__)

FINISHED = ("done", "failed")


class JobBusy(Exception):
    """Another process runs the job and its heartbeat is live: look again in ``retry_in``
    seconds (by then it has finished, or its heartbeat has stopped)."""

    def __init__(self, message: str, retry_in: float) -> None:
        super().__init__(message)
        self.retry_in = retry_in


class AttemptFailed(Exception):
    """This attempt failed for a reason that may pass; the job is queued again."""


def may_pass(exc: BaseException) -> bool:
    """Whether a failure is about the surroundings (database, disk, memory), which a later
    attempt may not meet, rather than about the job's text or the code."""
    return isinstance(exc, sa.exc.SQLAlchemyError | OSError | MemoryError)


def _claim(engine: Engine, job_id: int, *, max_attempts: int, stale: dt.timedelta) -> bool:
    """Take the job for this process: queued, or running with a stopped heartbeat, and with
    attempts left. One conditional UPDATE, so two workers never both get it."""
    table = StudioJob.__table__  # type: ignore[attr-defined]
    now = utcnow()
    beat = sa.func.coalesce(table.c.heartbeat_at, table.c.updated_at)
    statement = (
        sa.update(table)
        .where(
            table.c.id == job_id,
            table.c.attempts < max_attempts,
            sa.or_(
                table.c.state == "queued",
                sa.and_(table.c.state == "running", beat < now - stale),
            ),
        )
        .values(state="running", attempts=table.c.attempts + 1, heartbeat_at=now, updated_at=now)
    )
    with engine.begin() as conn:
        result = cast(CursorResult[Any], conn.execute(statement))
        return result.rowcount == 1


def _set(engine: Engine, job_id: int, **values: Any) -> None:
    with Session(engine, expire_on_commit=False) as session:
        job = session.get(StudioJob, job_id)
        if job is not None:
            for key, value in values.items():
                setattr(job, key, value)
            job.updated_at = utcnow()
            session.add(job)
            session.commit()


def _fail(engine: Engine, job_id: int, reason: str) -> str:
    _set(engine, job_id, state="failed", error=reason, finished_at=utcnow())
    log.warning("studio job %s failed: %s", job_id, reason)
    return "failed"


def job_input(
    session: Session, job: StudioJob, registry: RegistrySource
) -> tuple[Policy, str | None, ImpactPlan | None]:
    """The compiled policy, the scenarios text and (for an impact analysis) the plan the
    job was started with: the version it compares with and the date, as recorded.

    Raises ``DomainError`` when they are no longer there: the version was deleted,
    or its text (or, for a spec run, its scenarios) changed since the job started, or
    the version it compares with is no longer served.
    """
    record = session.exec(
        select(PolicyVersionRecord).where(
            PolicyVersionRecord.policy_id == job.policy_id,
            PolicyVersionRecord.version == job.version,
        )
    ).first()
    if record is None:
        raise NotFound(f"version {job.version} was deleted before the job ran")
    policy = compiled_policy(record)
    changed = policy.digest != job.digest or (
        job.kind == "specs" and features_digest(record.features_text) != job.features_digest
    )
    if changed:
        raise Conflict(
            f"version {job.version} was changed after the job was started; start it again "
            "for the text as it is now"
        )
    plan = None
    if job.kind == "impact" and job.against and job.as_of:
        try:
            against = registry().get(job.against, job.policy_id)
        except LookupError:
            raise NotFound(
                f"version {job.against}, which the analysis compares with, is not served any more"
            ) from None
        plan = ImpactPlan(job.as_of, against)
    return policy, record.features_text, plan


def run_job(
    engine: Engine,
    *,
    clock: Clock,
    registry: RegistrySource,
    job_id: int,
    max_attempts: int,
    heartbeat_seconds: float = HEARTBEAT_SECONDS,
    fan_out: ChunkDispatch | None = None,
) -> str:
    """Run the recorded job ``job_id`` if it is still to run; what happened, as a word:

    - ``finished``: it was already done or failed (a second delivery), nothing done;
    - ``gone``: no such job;
    - ``done`` / ``failed``: this attempt ran it (or gave it up: the reason is in its row).

    Raises ``JobBusy`` when another process runs it with a live heartbeat, and
    ``AttemptFailed`` when this attempt failed for a reason that may pass and attempts
    are left (the job is queued again). ``clock`` dates the impact analysis,
    ``registry`` gives the versions (read once); ``fan_out`` sends an impact analysis's
    chunks to the queue (``hub.studio.impact_runs``). The job's heartbeat is written
    every ``heartbeat_seconds`` while it runs; a running job whose heartbeat is older
    than ``stale_after(heartbeat_seconds)`` has lost its process, and is taken over.
    """
    stale = stale_after(heartbeat_seconds)
    if not _claim(engine, job_id, max_attempts=max_attempts, stale=stale):
        with Session(engine) as session:
            job = session.get(StudioJob, job_id)
            if job is None:
                return "gone"
            if job.state in FINISHED:
                return "finished"
            if job.attempts >= max_attempts:
                return _fail(
                    engine,
                    job_id,
                    f"the worker running this job stopped {job.attempts} time"
                    f"{'s' if job.attempts != 1 else ''} (at most {max_attempts} attempts, "
                    "HUB_JOB_ATTEMPTS); start it again",
                )
            beat = job.heartbeat_at or job.updated_at
            left = (beat + stale - utcnow()).total_seconds()
            raise JobBusy(f"another process runs it (heartbeat {beat:%H:%M:%S})", max(1.0, left))
    with Session(engine, expire_on_commit=False) as session:
        job = session.get(StudioJob, job_id)
        assert job is not None
        attempt, kind = job.attempts, job.kind
        try:
            policy, features_text, plan = job_input(session, job, registry)
        except DomainError as exc:
            return _fail(engine, job_id, exc.message)
    runner = _Runner(
        engine,
        clock,
        registry,
        job_id,
        plan,
        heartbeat=heartbeat_seconds,
        reraise=may_pass,
        fan_out=fan_out,
    )
    try:
        runner.run(kind, policy, features_text)
    except Exception as exc:
        reason = f"{type(exc).__name__}: {exc}"
        if attempt >= max_attempts:
            return _fail(engine, job_id, f"{reason} (attempt {attempt} of {max_attempts})")
        _set(engine, job_id, state="queued", done=0)
        raise AttemptFailed(f"attempt {attempt} of {max_attempts}: {reason}") from exc
    with Session(engine) as session:
        state = session.exec(select(col(StudioJob.state)).where(StudioJob.id == job_id)).one()
    return state
