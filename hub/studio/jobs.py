"""Scenario runs and impact analyses of a draft, as background jobs (a row each).

The web process records a job and sends it to the task queue (:func:`start_job`); a
worker runs it (``hub.studio.attempts``, with :class:`_Runner`). While it runs, the
worker writes the job's ``heartbeat_at`` every few seconds (:class:`Heartbeat`). A
running job whose heartbeat stopped is taken over by another worker when the queue
gives its task back, or, once the queue had the time to (``grace``), marked failed
with the time its process stopped (:func:`fail_stopped_jobs`, run at start-up and at
most once a minute by :class:`StoppedJobSweeper`); a job with a live heartbeat is
never shown failed, however long it runs. A queued job waits for a worker. A failed
job can be run again on the same text (:func:`rerun_job`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

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
from hub.policy.impact import Subject, baseline_of, default_as_of
from hub.services.errors import Conflict, Invalid
from hub.storage import utcnow
from hub.studio import impact_runs
from hub.studio.drafts import compiled_policy
from hub.studio.features import check_features_text, features_digest, spec_suite

log = logging.getLogger(__name__)

#: Seconds between two heartbeats of a running job (HUB_JOB_HEARTBEAT_SECONDS).
HEARTBEAT_SECONDS = 5.0
#: A job whose heartbeat is older than this many beats is failed: its process stopped.
STALE_BEATS = 12  # 60 s by default; then another worker may take it over (hub.studio.attempts)
#: Results shown on one page of a job (the CSV export holds every row).
PAGE_SIZE = 100
ACTIVE = ("queued", "running")


def stale_after(heartbeat_seconds: float) -> dt.timedelta:
    """How long a job's heartbeat may be silent before the job counts as stopped."""
    return dt.timedelta(seconds=STALE_BEATS * heartbeat_seconds)


# --- spec runs and impact analyses ---------------------------------------------------------


def run_draft_specs(
    policy: Policy, features_text: str | None, catalogue: Sequence[Policy] | PolicyRegistry
) -> dict[str, Any]:
    """Run a draft's scenarios against it; the report as a dict (what jobs store).

    ``catalogue``: the versions date-selection scenarios choose among (the catalogue's
    registry: with its retirements)."""
    suite = spec_suite(features_text)
    versions = catalogue if isinstance(catalogue, PolicyRegistry) else list(catalogue)
    report = suite.run(policy, catalogue=versions)
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


#: What sends a recorded job to the task queue (``hub.tasks.dispatcher``): called with
#: the job's id once its row is committed.
Dispatch = Callable[[int], None]


def start_job(
    session: Session,
    *,
    clock: Clock,
    registry: RegistrySource,
    dispatch: Dispatch,
    kind: str,
    record: PolicyVersionRecord,
    user: User | None,
    as_of: dt.date | None = None,
) -> StudioJob:
    """Record a job (committed in ``session``) and send it to the task queue.

    The web process runs nothing: a worker (``hub worker``) takes the job from the
    queue (``hub.studio.attempts.run_job``). An impact analysis is planned here
    (``plan_impact``: ``as_of`` or the draft's effective date by ``clock``, and the
    version otherwise in force then, from one read of ``registry``) and both are
    recorded on the row, which the worker follows. Raises ``Invalid`` when the draft
    does not compile, or (field ``as_of``) when no version is in force on the date.
    A queue that cannot be reached fails the job at once, saying so.
    """
    policy = compiled_policy(record)
    if kind == "specs":
        check_features_text(record.features_text)  # stored before the limits: refused here
    plan = None
    if kind == "impact":
        plan = plan_impact(registry(), policy, today=clock.today(), as_of=as_of)
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
        heartbeat_at=utcnow(),
    )
    session.add(job)
    session.commit()
    assert job.id is not None
    try:
        dispatch(job.id)
    except Exception as exc:  # the broker is down or refuses: say so on the job's page
        log.exception("studio job %s could not be queued", job.id)
        job.state, job.finished_at = "failed", utcnow()
        job.error = (
            f"The task queue could not be reached ({type(exc).__name__}: {exc}). Start it again."
        )
        session.add(job)
        session.commit()
    return job


# At most two runs at a time per process: the engine's C calls hold the GIL, so more
# threads would only slow the process down, not finish sooner.
_SLOTS = threading.BoundedSemaphore(2)


class Heartbeat:
    """Writes a job's ``heartbeat_at`` now and every ``every`` seconds until the block ends.

    A context manager around the whole of a job's work, queued or running, in whatever
    runs it (a thread of the web process, a worker process): the beats come from a
    timer thread of their own, so a long call that never returns to Python between
    beats still beats. A beat that cannot be written (the database busy) is logged and
    retried at the next one.
    """

    def __init__(self, engine: Engine, job_id: int, every: float = HEARTBEAT_SECONDS) -> None:
        self.engine = engine
        self.job_id = job_id
        self.every = every
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def beat(self) -> bool:
        """Write one heartbeat; False when the job is no longer queued or running."""
        try:
            with self.engine.begin() as conn:
                result = conn.execute(
                    sa.update(StudioJob)
                    .where(col(StudioJob.id) == self.job_id, col(StudioJob.state).in_(ACTIVE))
                    .values(heartbeat_at=utcnow())
                )
            return bool(result.rowcount)
        except sa.exc.SQLAlchemyError as exc:
            log.warning("studio job %s: heartbeat not written: %s", self.job_id, exc)
            return True

    def _beating(self) -> None:
        while not self._stop.wait(self.every):
            self.beat()

    def __enter__(self) -> Heartbeat:
        self.beat()
        self._thread = threading.Thread(
            target=self._beating, name=f"studio-heartbeat-{self.job_id}", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


def fail_stopped_jobs(
    session: Session,
    *,
    now: dt.datetime,
    heartbeat_seconds: float = HEARTBEAT_SECONDS,
    grace: dt.timedelta = dt.timedelta(0),
) -> list[int]:
    """Mark failed every running job whose heartbeat stopped more than ``STALE_BEATS``
    beats and ``grace`` ago (the process running it died, and the task queue did not
    give it to another worker in that time); returns their ids.

    A queued job is left to wait for a worker. Each row is changed only if its
    heartbeat is still the one read (a compare-and-set), so a job that beats meanwhile
    (taken over) is left running. The caller commits.
    """
    cutoff = now - stale_after(heartbeat_seconds) - grace
    last = sa.func.coalesce(col(StudioJob.heartbeat_at), col(StudioJob.updated_at))
    stopped = session.exec(
        select(StudioJob).where(col(StudioJob.state) == "running", last < cutoff)
    ).all()
    failed = []
    for job in stopped:
        seen = job.heartbeat_at or job.updated_at
        result = session.execute(
            sa.update(StudioJob)
            .where(
                col(StudioJob.id) == job.id,
                col(StudioJob.state) == "running",
                sa.func.coalesce(col(StudioJob.heartbeat_at), col(StudioJob.updated_at)) == seen,
            )
            .values(
                state="failed",
                error=(
                    f"The process running this job stopped at {seen:%Y-%m-%d %H:%M:%S} UTC "
                    "(its last heartbeat): the run did not finish. Run it again."
                ),
                finished_at=now,
                updated_at=now,
            )
        )
        if result.rowcount:  # type: ignore[attr-defined]  # an UPDATE gives a CursorResult
            failed.append(job.id)
            log.warning("studio job %s: its process stopped at %s; marked failed", job.id, seen)
    return [i for i in failed if i is not None]


class StoppedJobSweeper:
    """Runs :func:`fail_stopped_jobs` on ``engine`` when asked, at most every ``every``
    seconds (``maybe_sweep``), so pages can call it on each request; ``grace`` is the
    time the task queue may take to give a lost worker's job to another one."""

    def __init__(
        self,
        engine: Engine,
        *,
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
        grace: dt.timedelta = dt.timedelta(0),
        every: float = 60.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.heartbeat_seconds = heartbeat_seconds
        self.grace = grace
        self.every = every
        self.monotonic = monotonic
        self._lock = threading.Lock()
        self._last: float | None = None

    def sweep(self) -> list[int]:
        """Fail the stopped jobs now; [] (logged) when the database cannot be read yet."""
        try:
            with Session(self.engine) as session:
                failed = fail_stopped_jobs(
                    session,
                    now=utcnow(),
                    heartbeat_seconds=self.heartbeat_seconds,
                    grace=self.grace,
                )
                session.commit()
                return failed
        except sa.exc.SQLAlchemyError as exc:
            if not _has_job_table(self.engine):  # a new database before `hub db upgrade`
                log.debug("stopped studio jobs not checked: the schema is not there yet")
                return []
            log.warning("stopped studio jobs not checked: %s", exc)
            return []

    def maybe_sweep(self) -> list[int]:
        """Sweep if the last sweep is ``every`` seconds old (or there was none)."""
        now = self.monotonic()
        with self._lock:
            if self._last is not None and now - self._last < self.every:
                return []
            self._last = now
        return self.sweep()


def is_current(job: StudioJob, record: PolicyVersionRecord | None) -> bool:
    """Whether the job ran the record's current text (and scenarios, for a spec run)."""
    return bool(
        record
        and record.digest == job.digest
        and (job.kind != "specs" or job.features_digest == features_digest(record.features_text))
    )


def rerun_job(
    session: Session,
    *,
    job: StudioJob,
    record: PolicyVersionRecord | None,
    clock: Clock,
    registry: RegistrySource,
    dispatch: Dispatch,
    user: User | None,
) -> StudioJob:
    """Start a failed job again, as a new job of the same kind on the same text.

    Raises ``Conflict`` when the job did not fail or the text changed since (run the
    current text from its page instead), ``Invalid`` as :func:`start_job` does.
    """
    if job.state != "failed":
        raise Conflict(f"Run {job.id} is {job.state}: only a failed run can be run again.")
    if record is None or not is_current(job, record):
        raise Conflict(
            f"Run {job.id} was made on an earlier text of {job.version}: run the current "
            "text from the version's page instead."
        )
    return start_job(
        session,
        clock=clock,
        registry=registry,
        dispatch=dispatch,
        kind=job.kind,
        record=record,
        user=user,
        as_of=job.as_of,
    )


T = TypeVar("T")


@dataclass
class Page(Generic[T]):
    """One page of a job's results: ``items``, the page ``number`` (1-based) of ``pages``,
    out of ``total`` results."""

    items: list[T]
    number: int
    pages: int
    total: int

    def to_dict(self) -> dict[str, Any]:
        return {"page": self.number, "pages": self.pages, "per_page": PAGE_SIZE,
                "total": self.total, "items": self.items}  # fmt: skip


def page_of(items: Sequence[T], number: int, size: int = PAGE_SIZE) -> Page[T]:
    """Page ``number`` (1-based; out of range: the nearest page) of ``items``."""
    pages = max(1, -(-len(items) // size))
    number = min(max(1, number), pages)
    start = (number - 1) * size
    return Page(list(items[start : start + size]), number, pages, len(items))


def failed_first(scenarios: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """A spec run's scenario results, failed ones first (each group in run order)."""
    return [s for s in scenarios if s["status"] == "failed"] + [
        s for s in scenarios if s["status"] != "failed"
    ]


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
    #: seconds between two heartbeats of the job (``Heartbeat``)
    heartbeat: float = HEARTBEAT_SECONDS
    #: what sends an impact analysis's chunks to the task queue's workers (``hub.tasks``);
    #: without it this process analyses every chunk itself
    fan_out: impact_runs.ChunkDispatch | None = None
    #: companies per chunk of an impact analysis
    chunk_size: int = impact_runs.CHUNK_SIZE

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
        recorded in the job's row); its heartbeat beats while it waits for a slot and while
        it runs."""
        with Heartbeat(self.engine, self.job_id, self.heartbeat), _SLOTS:
            self._run(kind, policy, features_text)

    def _run(self, kind: str, policy: Policy, features_text: str | None) -> None:
        job_id = self.job_id
        try:
            registry = self.registry()
            if kind == "specs":
                self.update(state="running", total=1)
                result = run_draft_specs(policy, features_text, registry)
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
            seen = [-1]

            def progress(now: impact_runs.Progress) -> None:  # the share of chunks done
                if now.done != seen[0]:
                    seen[0] = now.done
                    self.update(state="running", done=now.done, total=now.total)

            result = impact_runs.analyse_population(
                self.engine,
                candidate=policy,
                against=plan.against,
                as_of=plan.as_of,
                chunk_size=self.chunk_size,
                job_id=job_id,
                dispatch=self.fan_out,
                progress=progress,
            )
            self.update(state="done", done=max(seen[0], 0), result=result, finished_at=utcnow())
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
    """A job as the browser polls it (a job whose process stopped is failed by
    :func:`fail_stopped_jobs`, not by its age: a long job with a heartbeat runs on)."""
    state, error = job.state, job.error
    return {
        "id": job.id,
        "kind": job.kind,
        "version": job.version,
        "state": state,
        "done": job.done,
        "total": job.total,
        "error": error,
        "heartbeat_at": job.heartbeat_at.isoformat() if job.heartbeat_at else None,
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


def _has_job_table(engine: Engine) -> bool:
    """True when the database has the ``studio_job`` table (False, too, when unreachable)."""
    try:
        return sa.inspect(engine).has_table("studio_job")
    except sa.exc.SQLAlchemyError:
        return False
