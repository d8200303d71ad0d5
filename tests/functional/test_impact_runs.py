"""Impact analyses in chunks against a real database: same answer as the single pass,
memory bounded by a chunk, chunks lost with their process taken over and stored once."""

from __future__ import annotations

import datetime as dt
import json
import tracemalloc
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.engine import Engine
from sqlmodel import Session

from benchmarks.population import seed
from hub.db import get_engine
from hub.models import Company, Filing, ImpactChunk, ImpactRowRecord
from hub.policy.impact import analyse
from hub.storage import utcnow
from hub.studio import impact_runs
from hub.studio.jobs import latest_filings, subjects_of
from tests.functional.test_studio_cli import cli_env, run  # noqa: F401 - a fixture
from tests.unit.core_support import P2026, P2027

AS_OF = dt.date(2027, 1, 1)


@pytest.fixture
def engine(app: Flask) -> Engine:
    return get_engine(app)


def seeded(engine: Engine, n: int) -> dict[str, Any]:
    return seed(engine, P2026, n, as_of=dt.date(2026, 9, 1), seed=n, batch=500)


def single_pass(engine: Engine) -> dict[str, Any]:
    """Today's analysis (before chunks): the whole population read at once."""
    with Session(engine) as session:
        subjects, skipped = subjects_of(latest_filings(session), P2026)
    data = analyse(subjects, P2027, AS_OF, against="2026.1").to_dict()
    data["skipped"] = skipped
    return data


def test_the_command_gives_the_single_pass_totals_and_rows(cli_env, engine):  # noqa: F811
    seeded(engine, 600)
    # A company decided under another policy is left out, as before.
    with Session(engine) as session:
        other = Company(bin="990140004654", legal_name="Other Policy LLP", activity="mining")
        session.add(other)
        session.commit()
        session.add(
            Filing(company_id=other.id, inputs={"activity": "mining"}, status="submitted",
                   policy_id="another-policy", policy_version="1", decision={"x": 1})
        )  # fmt: skip
        session.commit()
    expected = single_pass(engine)
    result = run(
        "policy", "impact", "2027.1", "--against", "2026.1", "--as-of", "2027-01-01",
        "--json", "--chunk-size", "37",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["totals"] == expected["totals"]
    assert data["totals"]["companies"] == 600 and data["totals"]["changed"] > 100
    assert data["rows"] == expected["rows"]  # every company, in the same order
    assert (
        data["skipped"]
        == expected["skipped"]
        == ["990140004654: decided under another policy (another-policy)"]
    )
    # The run is removed once printed; the text output says the same totals.
    assert run_tables_empty(engine)
    result = run("policy", "impact", "2027.1", "--against", "2026.1", "--as-of", "2027-01-01")
    t = expected["totals"]
    assert f"on {t['companies']} companies" in result.output
    assert f"{t['changed']} change, {t['tier_changes']} change tier" in result.output


def run_tables_empty(engine: Engine) -> bool:
    with engine.connect() as conn:
        return not any(
            conn.execute(sa.select(sa.func.count()).select_from(sa.table(table))).scalar_one()
            for table in ("impact_run", "impact_chunk", "impact_row")
        )


def test_memory_is_bounded_by_a_chunk_not_by_the_population(engine, monkeypatch):
    seeded(engine, 2_000)
    largest = [0]
    read = impact_runs.chunk_subjects

    def counting(*args: Any, **kwargs: Any) -> Any:
        subjects, skipped = read(*args, **kwargs)
        largest[0] = max(largest[0], len(subjects))
        return subjects, skipped

    monkeypatch.setattr(impact_runs, "chunk_subjects", counting)
    impact_runs._compiled(P2026.text), impact_runs._compiled(P2027.text)  # compiled once
    tracemalloc.start()
    try:
        result = impact_runs.analyse_population(
            engine, candidate=P2027, against=P2026, as_of=AS_OF, chunk_size=50
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result["totals"]["companies"] == 2_000
    assert largest[0] == 50  # never more than a chunk's filings read at once
    # The whole population read at once (the single pass) takes ~60 MB here.
    assert peak < 12_000_000, f"peak {peak / 1e6:.1f} MB"
    assert result["totals"] == single_pass(engine)["totals"]


def test_a_chunk_whose_process_stopped_is_taken_over_and_stored_once(engine):
    seeded(engine, 120)
    run_id = impact_runs.plan_run(
        engine, candidate=P2027, against=P2026, as_of=AS_OF, chunk_size=40
    )
    # A worker took chunk 1 and was killed: its heartbeat stopped a minute ago.
    lost = impact_runs._claim(engine, run_id, 1)
    assert lost is not None
    with engine.begin() as conn:
        conn.execute(
            sa.update(ImpactChunk)
            .where(ImpactChunk.run_id == run_id, ImpactChunk.number == 1)
            .values(heartbeat_at=utcnow() - dt.timedelta(minutes=1))
        )
    sent: list[int] = []

    def worker(run: int, number: int) -> None:  # the queue, and a worker that takes it
        sent.append(number)
        impact_runs.run_chunk(engine, run, number)

    impact_runs.work(engine, run_id, dispatch=worker, help=False, poll=0.01)
    assert sent == [0, 2, 1]  # the lost chunk was queued again and sent again
    result = impact_runs.finish(engine, run_id)
    assert result["totals"] == single_pass(engine)["totals"]
    with Session(engine) as session:
        chunk = session.exec(
            sa.select(ImpactChunk).where(ImpactChunk.run_id == run_id, ImpactChunk.number == 1)
        ).scalar_one()
        assert chunk.state == "done" and chunk.attempts == 2
    # The killed worker's message, delivered again: nothing to do, nothing stored twice.
    rows_before = count(engine, run_id)
    assert impact_runs.run_chunk(engine, run_id, 1) is None
    assert count(engine, run_id) == rows_before == result["rows_stored"]


def test_a_result_computed_by_a_process_thought_stopped_is_thrown_away(engine, monkeypatch):
    seeded(engine, 30)
    run_id = impact_runs.plan_run(
        engine, candidate=P2027, against=P2026, as_of=AS_OF, chunk_size=30
    )
    real = impact_runs.analyse_chunk

    def slow_then_overtaken(*args: Any, **kwargs: Any) -> Any:
        # While this process analyses, another takes the chunk over and stores it.
        with engine.begin() as conn:
            conn.execute(
                sa.update(ImpactChunk)
                .where(ImpactChunk.run_id == run_id)
                .values(heartbeat_at=utcnow() - dt.timedelta(minutes=1))
            )
        monkeypatch.setattr(impact_runs, "analyse_chunk", real)
        assert impact_runs.run_chunk(engine, run_id, 0) == 0
        return real(*args, **kwargs)

    monkeypatch.setattr(impact_runs, "analyse_chunk", slow_then_overtaken)
    assert impact_runs.run_chunk(engine, run_id, 0) is None  # its claim was taken
    assert count(engine, run_id) == impact_runs.finish(engine, run_id)["rows_stored"] == 30


def count(engine: Engine, run_id: int) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                sa.select(sa.func.count())
                .select_from(ImpactRowRecord)
                .where(ImpactRowRecord.run_id == run_id)
            ).scalar_one()
        )


def test_a_large_population_keeps_only_the_rows_that_change(engine, monkeypatch):
    seeded(engine, 300)
    monkeypatch.setattr(impact_runs, "KEEP_ALL_UP_TO", 100)
    result = impact_runs.analyse_population(
        engine, candidate=P2027, against=P2026, as_of=AS_OF, chunk_size=64
    )
    expected = single_pass(engine)
    changed = [r for r in expected["rows"] if r["changed"]]
    assert not result["keeps_unchanged"] and result["rows_stored"] == len(changed)
    with engine.connect() as conn:
        assert list(impact_runs.rows(conn, result["run"], batch=7)) == changed
        page, number, pages, total = impact_runs.rows_page(
            conn, result["run"], changed_only=True, number=3, size=10
        )
    assert (number, total) == (3, len(changed)) and page == changed[20:30]
    assert pages == -(-len(changed) // 10)


def test_a_chunk_whose_message_was_lost_is_sent_again(engine):
    """A queue that loses the first message of chunk 2 (never started: no claim, no
    heartbeat to go stale): once no chunk runs or finishes for ``resend_after`` seconds,
    the queued chunks are sent again and the run finishes with the single-pass totals."""
    import queue
    import threading

    seeded(engine, 120)
    run_id = impact_runs.plan_run(
        engine, candidate=P2027, against=P2026, as_of=AS_OF, chunk_size=30
    )
    delivered: queue.Queue[int | None] = queue.Queue()
    sent: list[int] = []

    def dispatch(run: int, number: int) -> None:
        assert run == run_id
        sent.append(number)
        if number == 2 and sent.count(2) == 1:
            return  # lost on the way
        delivered.put(number)

    def worker() -> None:
        while (number := delivered.get()) is not None:
            impact_runs.run_chunk(engine, run_id, number)

    thread = threading.Thread(target=worker)
    thread.start()
    try:
        done = impact_runs.work(
            engine, run_id, dispatch=dispatch, help=False, poll=0.05, timeout=30,
            resend_after=0.5,
        )  # fmt: skip
    finally:
        delivered.put(None)
        thread.join()
    assert done.done == done.total == 4 and done.resent >= 1 and done.requeued == 0
    assert sent[:4] == [0, 1, 2, 3] and sent.count(2) >= 2
    assert impact_runs.finish(engine, run_id)["totals"] == single_pass(engine)["totals"]
    assert count(engine, run_id) == impact_runs.finish(engine, run_id)["rows_stored"]


def test_queued_chunks_are_not_sent_again_while_another_runs(engine, monkeypatch):
    """A chunk waiting behind a running one is not lost: nothing is sent twice while a
    chunk of the run holds a live heartbeat, however long it runs."""
    seeded(engine, 60)
    run_id = impact_runs.plan_run(
        engine, candidate=P2027, against=P2026, as_of=AS_OF, chunk_size=30
    )
    with engine.begin() as conn:  # another process holds chunk 0, beating
        conn.execute(
            sa.update(ImpactChunk)
            .where(ImpactChunk.run_id == run_id, ImpactChunk.number == 0)
            .values(state="running", claim="elsewhere", heartbeat_at=utcnow())
        )
    calls = {"n": 0}
    real_progress = impact_runs.progress_of

    def progress_of(engine_: Engine, run: int) -> impact_runs.Progress:
        calls["n"] += 1
        if calls["n"] == 20:  # a second or so later: the holder and a worker finish
            with engine.begin() as conn:
                conn.execute(
                    sa.update(ImpactChunk)
                    .where(ImpactChunk.run_id == run_id)
                    .values(state="queued", claim=None)
                )
            assert impact_runs.run_chunk(engine, run_id, 0) == 0
            assert impact_runs.run_chunk(engine, run_id, 1) == 1
        return real_progress(engine_, run)

    monkeypatch.setattr(impact_runs, "progress_of", progress_of)
    sent: list[int] = []
    done = impact_runs.work(
        engine, run_id, dispatch=lambda run, n: sent.append(n), help=False, poll=0.05,
        timeout=30, resend_after=0.1,
    )  # fmt: skip
    assert done.done == 2 and done.resent == 0 and sent == [1]


def finished_run(engine: Engine, job_id: int | None = None) -> int:
    result = impact_runs.analyse_population(
        engine, candidate=P2027, against=P2026, as_of=AS_OF, chunk_size=25, job_id=job_id
    )
    return int(result["run"])


def test_old_analyses_lose_their_rows_and_keep_their_totals(engine):
    from hub.models import ImpactRun, StudioJob

    seeded(engine, 40)
    with Session(engine) as session:  # a studio job whose run is the oldest
        job = StudioJob(kind="impact", policy_id=P2027.id, version=P2027.version,
                        digest=P2027.digest, state="done", result={"run": None})  # fmt: skip
        session.add(job)
        session.commit()
        job_id = job.id
    runs = [finished_run(engine, job_id), finished_run(engine), finished_run(engine)]
    with engine.begin() as conn:
        first = conn.execute(sa.select(ImpactRun.result).where(ImpactRun.id == runs[0])).scalar()
        conn.execute(sa.update(StudioJob).where(StudioJob.id == job_id).values(result=first))
    assert all(count(engine, r) == 40 for r in runs)  # 40 companies: every row kept

    assert impact_runs.prune_rows(engine, keep_runs=2) == [runs[0]]
    assert [count(engine, r) for r in runs] == [0, 40, 40]
    with Session(engine) as session:
        pruned = session.get(ImpactRun, runs[0])
        job = session.get(StudioJob, job_id)
        assert pruned is not None and job is not None
        assert pruned.state == "pruned" and pruned.result is not None
        assert pruned.result["totals"] == single_pass(engine)["totals"]  # the totals stay
        assert job.result is not None and job.result["rows_pruned_at"]
        assert job.result["totals"] == pruned.result["totals"]
        chunks = session.exec(sa.select(ImpactChunk).where(ImpactChunk.run_id == runs[0])).all()
        assert chunks == []
    assert impact_runs.prune_rows(engine, keep_runs=2) == []  # nothing more to do

    # By age: the newest runs too, once finished longer ago than the limit.
    later = utcnow() + dt.timedelta(days=31)
    assert impact_runs.prune_rows(engine, keep_runs=5, max_age=dt.timedelta(days=30)) == []
    assert (
        impact_runs.prune_rows(engine, keep_runs=5, max_age=dt.timedelta(days=30), now=later)
        == runs[1:]
    )
    assert [count(engine, r) for r in runs] == [0, 0, 0]
    with pytest.raises(ValueError, match="keep_runs"):
        impact_runs.prune_rows(engine, keep_runs=0)


def statements_on(engine: Engine, table: str) -> tuple[list[str], Any]:
    """The SQL statements run on ``engine`` that name ``table`` (appended as they run),
    and the listener to remove."""
    seen: list[str] = []

    def listen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if table in statement:
            seen.append(" ".join(statement.split()))

    sa.event.listen(engine, "before_cursor_execute", listen)
    return seen, listen


def test_storing_a_chunk_reads_none_of_the_rows_stored_before(engine):
    """A chunk's rows are inserted, nothing else: the rows other chunks stored grow with
    the population (a DELETE of the chunk's rows "in case" read all of them for every
    chunk: on PostgreSQL, 190 CPU-s over a million companies)."""
    seeded(engine, 90)
    run_id = impact_runs.plan_run(
        engine, candidate=P2027, against=P2026, as_of=AS_OF, chunk_size=30
    )
    assert impact_runs.run_chunk(engine, run_id, 0) == 0
    seen, listen = statements_on(engine, "impact_row")
    try:
        assert impact_runs.run_chunk(engine, run_id, 1) == 1
        assert impact_runs.run_chunk(engine, run_id, 1) is None  # delivered twice
    finally:
        sa.event.remove(engine, "before_cursor_execute", listen)
    assert all(s.startswith("INSERT INTO impact_row") for s in seen), seen
    assert count(engine, run_id) == 60  # 90 companies: every row kept, none twice


def test_the_rows_are_read_by_one_query_whatever_the_batch(engine):
    """Rows are streamed by one query: pages of a query each read, on PostgreSQL whose
    statistics did not know the run's rows yet, every row after the page for each page
    (quadratic: most of the printing's time over a million companies)."""
    seeded(engine, 40)
    result = impact_runs.analyse_population(
        engine, candidate=P2027, against=P2026, as_of=AS_OF, chunk_size=16
    )
    expected = single_pass(engine)["rows"]
    seen, listen = statements_on(engine, "impact_row")
    try:
        with engine.connect() as conn:
            assert list(impact_runs.rows(conn, result["run"], changed_only=False, batch=3)) == (
                expected
            )
            assert list(
                impact_runs.rows(conn, result["run"], changed_only=False, offset=5, limit=7,
                                 batch=2)
            ) == expected[5:12]  # fmt: skip
            assert list(impact_runs.rows(conn, result["run"], limit=0)) == []
    finally:
        sa.event.remove(engine, "before_cursor_execute", listen)
    assert len(seen) == 3, seen
