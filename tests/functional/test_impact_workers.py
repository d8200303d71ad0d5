"""An impact analysis shared by two `hub worker` processes on PostgreSQL and Redis, one of
them killed by its process id in the middle: the analysis ends with the in-process totals.

The analysis is started by `hub policy impact` here; the studio's, started and followed
through two app servers, is in ``test_deployment``. Runs only against PostgreSQL
(HUB_DATABASE_URL) with Redis on 127.0.0.1:6379, as CI has.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import redis
import sqlalchemy as sa
from flask import Flask

from benchmarks.population import seed
from hub.db import get_engine
from hub.studio import impact_runs
from tests.conftest import postgres_url, stop_processes
from tests.unit.core_support import P2026, P2027

REDIS = "redis://127.0.0.1:6379/5"
HUB = Path(sys.executable).parent / "hub"
FILINGS = 8_000

pytestmark = [
    pytest.mark.skipif(
        postgres_url() is None, reason="needs PostgreSQL (HUB_DATABASE_URL) and Redis"
    ),
    # With the other tests of processes, one at a time (their timings stay meaningful).
    pytest.mark.xdist_group("processes"),
]


def redis_up() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS, socket_timeout=2).ping())
    except redis.RedisError:
        return False


def env_of(database_url: str, tmp_path: Path, queue: str) -> dict[str, str]:
    return {
        **os.environ,
        "HUB_DATABASE_URL": database_url,
        "HUB_INSTANCE_PATH": str(tmp_path / "instance"),
        "HUB_SECRET_KEY": "workers-test",
        "HUB_ENV": "development",
        "HUB_BROKER_URL": REDIS,
        "HUB_QUEUE": queue,
        "HUB_BROKER_VISIBILITY_TIMEOUT": "30",
    }


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:  # the worker writes to its own copy of the file
        worker = subprocess.Popen(
            [str(HUB), "worker", "--concurrency", "1", "--loglevel", "INFO"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while b"ready." not in log.read_bytes():
        assert worker.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.2)
    return worker


def chunk_states(app: Flask) -> dict[str, int]:
    with get_engine(app).connect() as conn:
        return dict(
            conn.execute(sa.text("SELECT state, count(*) FROM impact_chunk GROUP BY state")).all()  # type: ignore[arg-type]
        )


def holds_a_chunk(app: Flask, claim_prefix: str) -> bool:
    """Whether the process whose claims start so is analysing a chunk now."""
    with get_engine(app).connect() as conn:
        return bool(
            conn.execute(
                sa.text(
                    "SELECT count(*) FROM impact_chunk WHERE state = 'running' "
                    "AND claim LIKE :prefix"
                ),
                {"prefix": claim_prefix + "%"},
            ).scalar_one()
        )


@pytest.mark.skipif(not redis_up(), reason="needs Redis on 127.0.0.1:6379")
def test_two_workers_share_an_analysis_and_losing_one_loses_nothing(
    app: Flask, database_url: str, tmp_path: Path
) -> None:
    engine = get_engine(app)
    seed(engine, P2026, FILINGS, as_of=dt.date(2026, 9, 1), seed=14, batch=5_000)
    queue = f"impact-test-{uuid.uuid4().hex[:8]}"
    env = env_of(database_url, tmp_path, queue)
    workers = [start_worker(env, tmp_path / f"worker{i}.log") for i in range(2)]
    try:
        command = subprocess.Popen(
            [str(HUB), "policy", "impact", "2027.1", "--against", "2026.1",
             "--as-of", "2027-01-01", "--json", "--chunk-size", "200"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        # Both workers take chunks; once a few are done, one worker is killed outright in
        # the middle of a chunk (its claim names its process).
        deadline = time.monotonic() + 300
        victim = f"{workers[0].pid}@"
        while not (chunk_states(app).get("done", 0) >= 5 and holds_a_chunk(app, victim)):
            assert command.poll() is None, command.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        os.kill(workers[0].pid, signal.SIGKILL)
        workers[0].wait()
        logs = [(tmp_path / f"worker{i}.log").read_text() for i in range(2)]
        assert all("hub.studio.impact_chunk" in log for log in logs), "a worker took no chunk"
        out, err = command.communicate(timeout=600)
        assert command.returncode == 0, err.decode()[-3000:]
    finally:
        stop_processes(workers)
    distributed: dict[str, Any] = json.loads(out)
    local = impact_runs.analyse_population(
        engine, candidate=P2027, against=P2026, as_of=dt.date(2027, 1, 1), chunk_size=5_000
    )
    assert distributed["totals"]["companies"] == FILINGS
    # The chunk the killed worker held was put back in the queue and done by the other.
    assert distributed["chunks_taken_over"] >= 1
    assert distributed["totals"] == local["totals"]
