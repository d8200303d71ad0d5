"""An impact analysis shared by two `hub worker` processes on PostgreSQL and Redis, one of
them killed by its process id in the middle: the analysis ends with the in-process totals.

Runs only against PostgreSQL (HUB_DATABASE_URL) with Redis on 127.0.0.1:6379, as CI has.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
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
from tests.conftest import postgres_url
from tests.unit.core_support import P2026, P2027

REDIS = "redis://127.0.0.1:6379/5"
HUB = Path(sys.executable).parent / "hub"
FILINGS = 20_000

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
             "--as-of", "2027-01-01", "--json", "--chunk-size", "400"],
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
        for worker in workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
        for worker in workers:
            try:
                worker.wait(60)
            except subprocess.TimeoutExpired:
                worker.kill()
    distributed: dict[str, Any] = json.loads(out)
    local = impact_runs.analyse_population(
        engine, candidate=P2027, against=P2026, as_of=dt.date(2027, 1, 1), chunk_size=5_000
    )
    assert distributed["totals"]["companies"] == FILINGS
    # The chunk the killed worker held was put back in the queue and done by the other.
    assert distributed["chunks_taken_over"] >= 1
    assert distributed["totals"] == local["totals"]


def start_server(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        server = subprocess.Popen(
            [str(HUB), "serve", "--port", str(port)], env=env, stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    deadline = time.monotonic() + 60
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return server
        except OSError:
            assert server.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)


@pytest.mark.skipif(not redis_up(), reason="needs Redis on 127.0.0.1:6379")
def test_a_studio_analysis_through_two_servers_and_two_workers_survives_a_killed_worker(
    app: Flask, database_url: str, tmp_path: Path, make_user: Any
) -> None:
    from hub.models import Role
    from tests.conftest import DEFAULT_PASSWORD
    from tests.functional.test_queue_workers import Browser, free_port

    engine = get_engine(app)
    seed(engine, P2026, FILINGS, as_of=dt.date(2026, 9, 1), seed=15, batch=5_000)
    author = make_user(Role.AUTHOR)
    env = {
        **env_of(database_url, tmp_path, f"impact-test-{uuid.uuid4().hex[:8]}"),
        "HUB_RATELIMIT_STORAGE_URI": REDIS,
    }
    ports = [free_port(), free_port()]
    processes = [start_worker(env, tmp_path / f"worker{i}.log") for i in range(2)]
    workers = list(processes)
    try:
        processes += [start_server(env, p, tmp_path / f"server{p}.log") for p in ports]
        # Started through one server...
        one = Browser(f"http://127.0.0.1:{ports[0]}")
        status, _, _ = one.post("/login", "/login", email=author.email, password=DEFAULT_PASSWORD)
        assert status == 302
        status, page, headers = one.post("/policies/2027.1/impact", "/policies/2027.1/impact")
        assert status == 302, page[:500]
        job = headers["Location"]
        # ...followed through the other (the session cookie is good on any server).
        other = Browser(f"http://127.0.0.1:{ports[1]}")
        other.opener = one.opener
        other.base = f"http://127.0.0.1:{ports[1]}"
        deadline = time.monotonic() + 300
        victim: subprocess.Popen[bytes] | None = None
        while victim is None or not holds_a_chunk(app, f"{victim.pid}@"):
            view = json.loads(other.get(job + ".json")[1])
            assert not view["finished"], view
            assert time.monotonic() < deadline
            logs = [(tmp_path / f"worker{i}.log").read_text() for i in range(2)]
            runs = [i for i, log in enumerate(logs) if "hub.studio.run_job[" in log]
            if runs:  # the job's own task went to this worker; the other is killed
                victim = workers[1 - runs[0]]
            time.sleep(0.05)
        # Progress counts chunks of companies (the total known before any chunk is sent).
        view = json.loads(other.get(job + ".json")[1])
        assert view["total"] == FILINGS // 1_000, view
        # The worker that is not running the job itself is killed in the middle of a chunk.
        assert victim is not None
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait()
        while not view["finished"]:
            assert time.monotonic() < deadline
            time.sleep(0.2)
            view = json.loads(other.get(job + ".json")[1])
        assert view["state"] == "done", view
        page = other.get(job)[1]
        assert "companies change" in page
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
    with engine.connect() as conn:
        result = conn.execute(
            sa.text("SELECT result FROM studio_job WHERE id = :id"),
            {"id": int(job.rsplit("/", 1)[1])},
        ).scalar_one()
    local = impact_runs.analyse_population(
        engine, candidate=P2027, against=P2026, as_of=dt.date(2027, 1, 1), chunk_size=5_000
    )
    assert result["as_of"] == "2027-01-01" and result["against"] == "2026.1"
    assert result["totals"] == local["totals"]
    assert result["totals"]["companies"] == FILINGS
    assert result["chunks_taken_over"] >= 1  # the killed worker's chunk, done again
