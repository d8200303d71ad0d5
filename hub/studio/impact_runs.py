"""Impact analyses over the whole population, a chunk of companies at a time, on any
number of processes.

The population is every company's latest decided filing. It is never read whole:

- ``plan_run`` has the database cut the companies with a decided filing into
  chunks of ``chunk_size`` companies by id range (one window query; only the
  bounds come back), recorded as ``ImpactChunk`` rows of an ``ImpactRun``, which also
  holds the candidate's and the baseline's texts and the date;
- ``run_chunk`` analyses one chunk (whichever process runs it: a worker of the
  task queue, or the process that planned the run): it reads that chunk's latest
  filings only, compares them (``hub.policy.impact.analyse_chunk``) and, in one
  transaction, stores its partial totals and its rows (the companies that change;
  every company when the run keeps them all). A chunk is claimed by a conditional
  UPDATE with a token of its own, beats while it runs, and is taken over when its
  heartbeat stops; only the holder of the current claim may store it, so a chunk
  run twice is stored once;
- ``work`` drives a run to its end: it sends the chunks to the queue when given a
  ``dispatch``, runs chunks itself when ``help`` is set, puts back (and sends again)
  chunks whose process stopped, and reports the share of chunks done;
- ``finish`` merges the stored partials (``combine``) into the report's totals:
  exactly what the single pass (``analyse``) gives for the same companies.

A process holds at most one chunk's filings and rows: memory does not grow with the
population. No Flask here: the caller passes an engine (and, for the queue, what sends
a chunk to it).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, CursorResult, Engine

from hub.models import Company, Filing, ImpactChunk, ImpactRowRecord, ImpactRun, StudioJob
from hub.policy import Policy
from hub.policy.impact import ImpactPartial, Subject, analyse_chunk, combine
from hub.policy.loader import load_policy_text
from hub.storage import utcnow

log = logging.getLogger(__name__)

#: Companies per chunk (HUB_IMPACT_CHUNK_SIZE): what one process holds at a time.
CHUNK_SIZE = 1_000
#: A run of at most this many companies keeps the rows of those that do not change too.
KEEP_ALL_UP_TO = 10_000
#: Seconds between two heartbeats of a running chunk.
CHUNK_HEARTBEAT = 2.0
#: A running chunk silent for this long lost its process and is taken over.
CHUNK_STALE_AFTER = dt.timedelta(seconds=20)
#: Seconds with chunks queued but none running or finishing before ``work`` sends the
#: queued ones again (their messages were lost); the wait doubles after each resend.
CHUNK_RESEND_AFTER = 30.0
#: The longest wait between two resends.
CHUNK_RESEND_MAX = 600.0
#: Companies left out (decided under another policy) named in a result; the rest counted.
SKIPPED_SHOWN = 100

_RUN = cast(sa.Table, ImpactRun.__table__)  # type: ignore[attr-defined]
_CHUNK = cast(sa.Table, ImpactChunk.__table__)  # type: ignore[attr-defined]
_ROW = cast(sa.Table, ImpactRowRecord.__table__)  # type: ignore[attr-defined]
_FILING = cast(sa.Table, Filing.__table__)  # type: ignore[attr-defined]
_COMPANY = cast(sa.Table, Company.__table__)  # type: ignore[attr-defined]
_JOB = cast(sa.Table, StudioJob.__table__)  # type: ignore[attr-defined]

#: What sends chunk ``number`` of run ``run_id`` to the task queue.
ChunkDispatch = Callable[[int, int], None]


def _decided() -> sa.ColumnElement[bool]:
    """The filings an impact analysis counts (as ``hub.studio.jobs.latest_filings``)."""
    return sa.and_(_FILING.c.policy_version.is_not(None), _FILING.c.decision.is_not(None))


def chunk_bounds(conn: Connection, chunk_size: int) -> Iterator[tuple[int, int, int]]:
    """(first company id, last company id, companies) of each chunk of ``chunk_size``
    companies with a decided filing, in id order. The database numbers the companies and
    groups them (one window query): only the bounds come back, whatever the population."""
    companies = (
        sa.select(
            _FILING.c.company_id.label("company_id"),
            (sa.func.row_number().over(order_by=_FILING.c.company_id) - 1).label("n"),
        )
        .where(_decided())
        .group_by(_FILING.c.company_id)
        .subquery()
    )
    chunk = (companies.c.n // chunk_size).label("chunk")
    query = (
        sa.select(
            sa.func.min(companies.c.company_id),
            sa.func.max(companies.c.company_id),
            sa.func.count(),
        )
        .group_by(chunk)
        .order_by(chunk)
    )
    for first, last, count in conn.execute(query):
        yield int(first), int(last), int(count)


def plan_run(
    engine: Engine,
    *,
    candidate: Policy,
    against: Policy,
    as_of: dt.date,
    chunk_size: int = CHUNK_SIZE,
    job_id: int | None = None,
    keep_unchanged: bool | None = None,
) -> int:
    """Record a run and its chunks; returns the run's id.

    ``keep_unchanged`` (default: when the population has at most ``KEEP_ALL_UP_TO``
    companies) stores the rows of the companies that do not change too. A studio job
    has at most one run: planning it again (its task delivered twice) returns the
    run already recorded, whose finished chunks count.
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, not {chunk_size}")
    if job_id is not None:
        with engine.connect() as conn:
            found = conn.execute(sa.select(_RUN.c.id).where(_RUN.c.job_id == job_id)).scalar()
        if found is not None:
            return int(found)
    with engine.begin() as conn:
        bounds = list(chunk_bounds(conn, chunk_size))  # three ints per chunk
        companies = sum(n for _, _, n in bounds)
        keep = keep_unchanged if keep_unchanged is not None else companies <= KEEP_ALL_UP_TO
        now = utcnow()
        run_id = conn.execute(
            sa.insert(_RUN).returning(_RUN.c.id),
            {
                "job_id": job_id,
                "policy_id": candidate.id,
                "version": candidate.version,
                "digest": candidate.digest,
                "candidate_text": candidate.text,
                "against": against.version,
                "against_text": against.text,
                "as_of": as_of,
                "chunk_size": chunk_size,
                "chunks": len(bounds),
                "companies": companies,
                "keep_unchanged": keep,
                "state": "running",
                "created_at": now,
            },
        ).scalar_one()
        if bounds:
            conn.execute(
                sa.insert(_CHUNK),
                [
                    {"run_id": run_id, "number": n, "first_company_id": lo,
                     "last_company_id": hi, "state": "queued", "attempts": 0, "updated_at": now}
                    for n, (lo, hi, _) in enumerate(bounds)
                ],
            )  # fmt: skip
    return int(run_id)


@lru_cache(maxsize=8)
def _compiled(text: str) -> Policy:
    """A policy text compiled once per process (a worker runs many chunks of one run)."""
    return load_policy_text(text, source="<impact run>")


@dataclass(frozen=True)
class RunInput:
    """What a chunk is analysed with: both policies and the date."""

    run_id: int
    candidate: Policy
    against: Policy
    as_of: dt.date
    keep_unchanged: bool


def run_input(conn: Connection, run_id: int) -> RunInput:
    """The run's policies (compiled from its texts) and date. Raises LookupError for no run."""
    run = conn.execute(sa.select(_RUN).where(_RUN.c.id == run_id)).first()
    if run is None:
        raise LookupError(f"no impact run {run_id}")
    return RunInput(
        run_id,
        _compiled(run.candidate_text),
        _compiled(run.against_text),
        run.as_of,
        bool(run.keep_unchanged),
    )


def chunk_subjects(
    conn: Connection, first: int, last: int, against: Policy
) -> tuple[list[tuple[int, Subject]], list[str]]:
    """The latest decided filing of each company with an id from ``first`` to ``last``, as
    (company id, subject) in id order, and the companies left out (decided under another
    policy). Reads the inputs only, never the stored decisions."""
    latest = (
        sa.select(_FILING.c.company_id, sa.func.max(_FILING.c.id).label("id"))
        .where(_decided(), _FILING.c.company_id.between(first, last))
        .group_by(_FILING.c.company_id)
        .subquery()
    )
    query = (
        sa.select(
            _COMPANY.c.id,
            _COMPANY.c.bin,
            _COMPANY.c.legal_name,
            _FILING.c.policy_id,
            sa.cast(_FILING.c.inputs, sa.Text),  # parsed here (read_inputs), faster
        )
        .select_from(latest)
        .join(_FILING, _FILING.c.id == latest.c.id)
        .join(_COMPANY, _COMPANY.c.id == _FILING.c.company_id)
        .order_by(_COMPANY.c.id)
    )
    subjects: list[tuple[int, Subject]] = []
    skipped: list[str] = []
    for company_id, bin_, name, policy_id, inputs in conn.execute(query):
        if policy_id is not None and policy_id != against.id:
            skipped.append(f"{bin_}: decided under another policy ({policy_id})")
            continue
        subjects.append((company_id, Subject(bin_, name, read_inputs(inputs), against)))
    return subjects, skipped


#: orjson reads an integer beyond 64 bits as a float; none at or above this came from a
#: number json would read as a float too (it reads such an integer whole).
_WIDE = float(2**63)


def _wide_float(value: Any) -> bool:
    """A float at least 2^63 in size anywhere in ``value`` (lists and objects descended;
    one loop per container, the values checked in it: a stored filing is a flat object)."""
    kind = type(value)
    if kind is float:
        return not -_WIDE < value < _WIDE
    if kind is dict:
        values = value.values()
    elif kind is list:
        values = value
    else:
        return False
    for v in values:
        kind = type(v)
        if kind is float:
            if not -_WIDE < v < _WIDE:
                return True
        elif (kind is dict or kind is list) and _wide_float(v):
            return True
    return False


def read_json(text: str | bytes) -> Any:
    """A JSON text as ``json.loads`` reads it, with orjson (a fifth of the time). Where
    orjson reads otherwise, ``json`` reads it: a number of 2^63 or more (orjson makes an
    integer beyond 64 bits a float), NaN or Infinity (orjson refuses them). Raises
    ValueError when the text is not JSON."""
    try:
        found = orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)
    return json.loads(text) if _wide_float(found) else found


def read_inputs(text: str | bytes | dict[str, Any]) -> dict[str, Any]:
    """A filing's stored inputs (JSON text) as ``json.loads`` reads them (``read_json``).
    A driver that hands over the parsed object: a copy of it. Raises ValueError when the
    text is not a JSON object."""
    if isinstance(text, dict):
        return dict(text)
    found = read_json(text)
    if not isinstance(found, dict):
        raise ValueError(f"stored inputs are not a JSON object: {str(text)[:60]!r}")
    return cast(dict[str, Any], found)


def _claim(engine: Engine, run_id: int, number: int | None) -> tuple[int, int, int, str] | None:
    """Take a chunk of the run (``number``, or the first one free): queued, or running
    with a stopped heartbeat. Returns (number, first id, last id, claim) or None."""
    now = utcnow()
    free = sa.or_(
        _CHUNK.c.state == "queued",
        sa.and_(_CHUNK.c.state == "running", _CHUNK.c.heartbeat_at < now - CHUNK_STALE_AFTER),
    )
    with engine.connect() as conn:
        query = sa.select(_CHUNK.c.id, _CHUNK.c.number).where(_CHUNK.c.run_id == run_id, free)
        if number is not None:
            query = query.where(_CHUNK.c.number == number)
        candidates = conn.execute(query.order_by(_CHUNK.c.number).limit(4)).all()
    for chunk_id, chunk_number in candidates:
        token = claim_token()
        with engine.begin() as conn:
            taken: Any = cast(
                CursorResult[Any],
                conn.execute(
                    sa.update(_CHUNK)
                    .where(_CHUNK.c.id == chunk_id, free)
                    .values(
                        state="running",
                        claim=token,
                        attempts=_CHUNK.c.attempts + 1,
                        heartbeat_at=now,
                        updated_at=now,
                    )
                    .returning(_CHUNK.c.first_company_id, _CHUNK.c.last_company_id)
                ),
            ).first()
        if taken is not None:
            return int(chunk_number), int(taken[0]), int(taken[1]), token
    return None


def claim_token() -> str:
    """A claim of its own for one attempt at a chunk, naming the process that holds it
    (``pid@host:random``): operators see which worker runs which chunk."""
    return f"{os.getpid()}@{socket.gethostname()[:30]}:{uuid.uuid4().hex[:16]}"


_ROW_COLUMNS = ("run_id", "chunk", "company_id", "label", "changed", "row")


def _store_rows(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Insert a chunk's rows: PostgreSQL's COPY (a tenth of the time of an INSERT per
    row), one executemany elsewhere."""
    if not rows:
        return
    if conn.dialect.name != "postgresql":
        conn.execute(sa.insert(_ROW), rows)
        return
    driver: Any = conn.connection.driver_connection
    with (
        driver.cursor() as cursor,
        cursor.copy(f"COPY impact_row ({', '.join(_ROW_COLUMNS)}) FROM STDIN") as copy,
    ):
        for r in rows:
            copy.write_row(
                (r["run_id"], r["chunk"], r["company_id"], r["label"], r["changed"],
                 orjson.dumps(r["row"]).decode())
            )  # fmt: skip


class ChunkLost(Exception):
    """Another process took the chunk over (this one was thought stopped): its result
    is thrown away."""


def run_chunk(engine: Engine, run_id: int, number: int | None = None) -> int | None:
    """Claim and analyse chunk ``number`` of the run (or the first free one) and store its
    partial totals and rows; returns the chunk's number, or None when there was nothing
    to take (done, or running elsewhere with a live heartbeat).

    Idempotent: a chunk already done is left alone, and a chunk taken over from this
    process meanwhile is not stored by it (``ChunkLost`` is logged, None returned).
    """
    claimed = _claim(engine, run_id, number)
    if claimed is None:
        return None
    number, first, last, token = claimed
    with engine.connect() as conn:
        given = run_input(conn, run_id)
        subjects, skipped = chunk_subjects(conn, first, last, given.against)
    ids = {s.key: cid for cid, s in subjects}
    last_beat = [time.monotonic()]

    def beat(_: int) -> None:
        if time.monotonic() - last_beat[0] >= CHUNK_HEARTBEAT:
            last_beat[0] = time.monotonic()
            with engine.begin() as conn:
                conn.execute(
                    sa.update(_CHUNK)
                    .where(
                        _CHUNK.c.run_id == run_id,
                        _CHUNK.c.number == number,
                        _CHUNK.c.claim == token,
                    )
                    .values(heartbeat_at=utcnow())
                )

    partial, kept = analyse_chunk(
        (s for _, s in subjects),
        given.candidate,
        given.as_of,
        keep_unchanged=given.keep_unchanged,
        progress=beat,
        every=50,
    )
    del subjects
    stored = {**partial.to_dict(), "skipped": skipped[:SKIPPED_SHOWN],
              "skipped_count": len(skipped)}  # fmt: skip
    try:
        with engine.begin() as conn:
            done = cast(
                CursorResult[Any],
                conn.execute(
                    sa.update(_CHUNK)
                    .where(
                        _CHUNK.c.run_id == run_id,
                        _CHUNK.c.number == number,
                        _CHUNK.c.state == "running",
                        _CHUNK.c.claim == token,
                    )
                    .values(state="done", partial=stored, updated_at=utcnow())
                ),
            )
            if done.rowcount != 1:
                raise ChunkLost(f"chunk {number} of impact run {run_id} was taken over")
            # No rows of this chunk to replace: rows are only ever stored here, in the
            # transaction that makes the chunk done, and a done chunk is never run again.
            # (A DELETE of them read every row the run had stored so far: 190 CPU-s of
            # PostgreSQL over a million companies.)
            _store_rows(
                conn,
                [
                    {"run_id": run_id, "chunk": number, "company_id": ids[r.key],
                     "label": r.label[:200], "changed": r.changed, "row": r.row}
                    for r in kept
                ],
            )  # fmt: skip
    except ChunkLost as lost:
        log.warning("%s; its result is thrown away", lost)
        return None
    return number


@dataclass(frozen=True)
class Progress:
    """Chunks of a run: ``done`` of ``total``, how many are ``running``, how many were put
    back in the queue after their process stopped (``requeued``) and how many messages
    were sent again because none was taken (``resent``), both by ``work``."""

    done: int
    running: int
    total: int
    requeued: int = 0
    resent: int = 0

    @property
    def queued(self) -> int:
        """Chunks no process holds yet."""
        return self.total - self.done - self.running


def progress_of(engine: Engine, run_id: int) -> Progress:
    """How far the run is (one query)."""
    with engine.connect() as conn:
        counts: dict[str, int] = dict(
            conn.execute(
                sa.select(_CHUNK.c.state, sa.func.count())
                .where(_CHUNK.c.run_id == run_id)
                .group_by(_CHUNK.c.state)
            ).all()
        )
    total = sum(counts.values())
    return Progress(int(counts.get("done", 0)), int(counts.get("running", 0)), total)


def requeue_stopped(engine: Engine, run_id: int) -> list[int]:
    """Put back in the queue the running chunks whose heartbeat stopped; their numbers."""
    now = utcnow()
    with engine.begin() as conn:
        result = conn.execute(
            sa.update(_CHUNK)
            .where(
                _CHUNK.c.run_id == run_id,
                _CHUNK.c.state == "running",
                _CHUNK.c.heartbeat_at < now - CHUNK_STALE_AFTER,
            )
            .values(state="queued", claim=None, updated_at=now)
            .returning(_CHUNK.c.number)
        )
        numbers = [int(n) for (n,) in result]
    for n in numbers:
        log.warning("impact run %s: chunk %s lost its process; queued again", run_id, n)
    return numbers


def queued_chunks(engine: Engine, run_id: int) -> list[int]:
    """The numbers of the run's chunks that no process holds, in order."""
    with engine.connect() as conn:
        return [
            int(n)
            for (n,) in conn.execute(
                sa.select(_CHUNK.c.number)
                .where(_CHUNK.c.run_id == run_id, _CHUNK.c.state == "queued")
                .order_by(_CHUNK.c.number)
            )
        ]


def work(
    engine: Engine,
    run_id: int,
    *,
    dispatch: ChunkDispatch | None = None,
    help: bool = True,
    progress: Callable[[Progress], None] | None = None,
    poll: float = 0.5,
    timeout: float | None = None,
    resend_after: float = CHUNK_RESEND_AFTER,
) -> Progress:
    """Drive the run until every chunk is done; returns the final ``Progress``.

    With ``dispatch``, every queued chunk is sent to the task queue first (a worker runs
    it with ``run_chunk``); chunks put back after their process stopped (no heartbeat
    for ``CHUNK_STALE_AFTER``) are sent again, and so are the queued ones when for
    ``resend_after`` seconds none was running or finished (their messages were lost:
    sent again, after twice as long each time, at most ``CHUNK_RESEND_MAX``; a message
    delivered twice is harmless, its chunk is claimed once). With ``help`` this process
    runs free chunks too (without ``dispatch``: all of them, in order). ``progress``
    is told after each chunk and every ``poll`` seconds while waiting. Raises
    TimeoutError after ``timeout`` seconds without a chunk finishing.
    """
    if progress is not None:  # the number of chunks, at once
        progress(progress_of(engine, run_id))
    if dispatch is not None:
        for n in queued_chunks(engine, run_id):
            dispatch(run_id, n)
    last_done, since = -1, time.monotonic()
    requeued = resent = 0
    idle_since, wait = time.monotonic(), resend_after
    while True:
        if help and run_chunk(engine, run_id) is not None:
            now = progress_of(engine, run_id)
            if progress is not None:
                progress(now)
            continue
        now = progress_of(engine, run_id)
        if progress is not None:
            progress(now)
        if now.done == now.total:
            return Progress(now.done, now.running, now.total, requeued, resent)
        if now.done != last_done:
            last_done, since = now.done, time.monotonic()
            idle_since = since
        elif timeout is not None and time.monotonic() - since > timeout:
            raise TimeoutError(
                f"impact run {run_id}: no chunk finished for {timeout:.0f} s "
                f"({now.done} of {now.total} done); are the workers running?"
            )
        if now.running:
            idle_since = time.monotonic()
        for n in requeue_stopped(engine, run_id):
            requeued += 1
            if dispatch is not None:
                dispatch(run_id, n)
        if dispatch is not None and time.monotonic() - idle_since >= wait:
            lost = queued_chunks(engine, run_id)
            log.warning(
                "impact run %s: %s chunk(s) queued, none taken for %.0f s; sent again",
                run_id, len(lost), wait,
            )  # fmt: skip
            for n in lost:
                dispatch(run_id, n)
            resent += len(lost)
            idle_since, wait = time.monotonic(), min(wait * 2, CHUNK_RESEND_MAX)
        time.sleep(poll)


def finish(engine: Engine, run_id: int) -> dict[str, Any]:
    """Merge the run's partial totals (every chunk done) and record the result:
    ``{"candidate", "as_of", "against", "totals", "skipped", "skipped_count", "run",
    "rows_stored", "keeps_unchanged", "chunks", "chunks_taken_over"}`` (the chunks run
    more than once: their process stopped). Returns it. Raises RuntimeError when a chunk
    is not done."""
    with engine.connect() as conn:
        given = run_input(conn, run_id)
        chunks = conn.execute(
            sa.select(_CHUNK.c.number, _CHUNK.c.state, _CHUNK.c.partial, _CHUNK.c.attempts)
            .where(_CHUNK.c.run_id == run_id)
            .order_by(_CHUNK.c.number)
        ).all()
        rows_stored = conn.execute(
            sa.select(sa.func.count()).select_from(_ROW).where(_ROW.c.run_id == run_id)
        ).scalar_one()
    missing = [n for n, state, _, _ in chunks if state != "done"]
    if missing:
        raise RuntimeError(f"impact run {run_id}: chunks {missing[:10]} are not done")
    partials = [ImpactPartial.from_dict(p) for _, _, p, _ in chunks]
    skipped: list[str] = []
    for _, _, p, _ in chunks:
        skipped.extend(p["skipped"][: SKIPPED_SHOWN - len(skipped)])
    candidate = given.candidate
    result = {
        "candidate": {
            "id": candidate.id,
            "version": candidate.version,
            "digest": candidate.digest,
        },
        "as_of": given.as_of.isoformat(),
        "against": given.against.version,
        "totals": combine(candidate, partials).totals(),
        "skipped": skipped,
        "skipped_count": sum(int(p["skipped_count"]) for _, _, p, _ in chunks),
        "run": run_id,
        "rows_stored": int(rows_stored),
        "keeps_unchanged": given.keep_unchanged,
        "chunks": len(chunks),
        "chunks_taken_over": sum(attempts > 1 for _, _, _, attempts in chunks),
    }
    with engine.begin() as conn:
        conn.execute(
            sa.update(_RUN)
            .where(_RUN.c.id == run_id)
            .values(state="done", result=result, finished_at=utcnow())
        )
    return result


def rows(
    conn: Connection,
    run_id: int,
    *,
    changed_only: bool = True,
    offset: int = 0,
    limit: int | None = None,
    batch: int = 500,
) -> Iterator[dict[str, Any]]:
    """The run's stored rows (``ImpactRow.to_dict``) by company name (``offset`` of them
    left out, at most ``limit``), streamed ``batch`` at a time by one query: a million
    rows are never in memory at once, and each is read once whatever plan the database
    picks (pages of a query each, on PostgreSQL statistics that did not know the run's
    rows yet, read every row after the page for each page). Each row is read from its
    text by ``read_json`` (orjson: a fifth of the time of the driver's ``json``)."""
    query = sa.select(sa.cast(_ROW.c.row, sa.Text)).where(_ROW.c.run_id == run_id)
    if changed_only:
        query = query.where(_ROW.c.changed.is_(True))
    query = query.order_by(_ROW.c.label, _ROW.c.company_id)
    if offset:
        query = query.offset(offset)
    if limit is not None:
        query = query.limit(limit)
    result = conn.execute(query.execution_options(stream_results=True, yield_per=batch))
    try:
        for (row,) in result:
            yield read_json(row)
    finally:
        result.close()


def count_rows(conn: Connection, run_id: int, *, changed_only: bool = True) -> int:
    """How many rows the run stored (those of companies that change, by default)."""
    query = sa.select(sa.func.count()).select_from(_ROW).where(_ROW.c.run_id == run_id)
    if changed_only:
        query = query.where(_ROW.c.changed.is_(True))
    return int(conn.execute(query).scalar_one())


def rows_page(
    conn: Connection, run_id: int, *, changed_only: bool, number: int, size: int
) -> tuple[list[dict[str, Any]], int, int, int]:
    """Page ``number`` (1-based; out of range: the nearest page) of ``size`` stored rows:
    (rows, page number, pages, rows in all)."""
    total = count_rows(conn, run_id, changed_only=changed_only)
    pages = max(1, -(-total // size))
    number = min(max(1, number), pages)
    items = list(
        rows(conn, run_id, changed_only=changed_only, offset=(number - 1) * size, limit=size)
    )
    return items, number, pages, total


def run_of_job(conn: Connection, job_id: int) -> int | None:
    """The impact run of a studio job, if it has one."""
    found = conn.execute(sa.select(_RUN.c.id).where(_RUN.c.job_id == job_id)).scalar()
    return int(found) if found is not None else None


def delete_run(engine: Engine, run_id: int) -> None:
    """Remove a run, its chunks and its rows (``hub policy impact`` when it has printed)."""
    with engine.begin() as conn:
        conn.execute(sa.delete(_ROW).where(_ROW.c.run_id == run_id))
        conn.execute(sa.delete(_CHUNK).where(_CHUNK.c.run_id == run_id))
        conn.execute(sa.delete(_RUN).where(_RUN.c.id == run_id))


#: Studio analyses whose rows are kept (HUB_IMPACT_KEEP_RUNS): the newest finished ones.
KEEP_RUNS = 20


def prune_rows(
    engine: Engine,
    *,
    keep_runs: int = KEEP_RUNS,
    max_age: dt.timedelta | None = None,
    now: dt.datetime | None = None,
) -> list[int]:
    """Delete the stored rows and chunks of finished analyses that are not among the
    ``keep_runs`` newest finished ones, or (``max_age``) finished longer ago than that;
    returns the ids of the runs pruned, oldest first.

    A run pruned keeps its combined result (totals, companies left out) and so does its
    studio job: only the company rows go, and both results then say when
    (``rows_pruned_at``). Raises ValueError for ``keep_runs`` below 1.
    """
    if keep_runs < 1:
        raise ValueError(f"keep_runs must be at least 1, not {keep_runs}")
    now = now or utcnow()
    finished = sa.select(_RUN.c.id).where(_RUN.c.state == "done")
    with engine.connect() as conn:
        kept = set(
            conn.execute(finished.order_by(_RUN.c.finished_at.desc(), _RUN.c.id.desc())
                         .limit(keep_runs)).scalars()
        )  # fmt: skip
        query = finished.order_by(_RUN.c.id)
        if kept:
            query = query.where(_RUN.c.id.not_in(kept))
        old = set(conn.execute(query).scalars())
        if max_age is not None:
            old |= set(conn.execute(finished.where(_RUN.c.finished_at < now - max_age)).scalars())
    pruned: list[int] = []
    for run_id in sorted(old):
        with engine.begin() as conn:
            run = conn.execute(
                sa.select(_RUN.c.job_id, _RUN.c.result)
                .where(_RUN.c.id == run_id, _RUN.c.state == "done")
                .with_for_update()
            ).first()
            if run is None:  # pruned meanwhile by another process
                continue
            conn.execute(sa.delete(_ROW).where(_ROW.c.run_id == run_id))
            conn.execute(sa.delete(_CHUNK).where(_CHUNK.c.run_id == run_id))
            stamp = {"rows_pruned_at": now.isoformat(timespec="seconds")}
            conn.execute(
                sa.update(_RUN)
                .where(_RUN.c.id == run_id)
                .values(state="pruned", result={**(run.result or {}), **stamp})
            )
            if run.job_id is not None:
                job = conn.execute(sa.select(_JOB.c.result).where(_JOB.c.id == run.job_id)).scalar()
                if job is not None:
                    conn.execute(
                        sa.update(_JOB).where(_JOB.c.id == run.job_id)
                        .values(result={**job, **stamp})
                    )  # fmt: skip
        pruned.append(run_id)
    if pruned:
        log.info("impact rows of %s finished analyses deleted (runs %s)", len(pruned), pruned)
    return pruned


def analyse_population(
    engine: Engine,
    *,
    candidate: Policy,
    against: Policy,
    as_of: dt.date,
    chunk_size: int = CHUNK_SIZE,
    job_id: int | None = None,
    keep_unchanged: bool | None = None,
    dispatch: ChunkDispatch | None = None,
    help: bool = True,
    progress: Callable[[Progress], None] | None = None,
    timeout: float | None = None,
) -> dict[str, Any]:
    """Plan (or resume) a run, drive it to its end and return its combined result (see
    ``finish``); the rows stay stored under ``result["run"]``."""
    run_id = plan_run(
        engine,
        candidate=candidate,
        against=against,
        as_of=as_of,
        chunk_size=chunk_size,
        job_id=job_id,
        keep_unchanged=keep_unchanged,
    )
    work(engine, run_id, dispatch=dispatch, help=help, progress=progress, timeout=timeout)
    return finish(engine, run_id)
