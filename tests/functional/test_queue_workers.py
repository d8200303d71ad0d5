"""Workers as real processes: `hub demo` (web server and worker), and `hub worker`
processes on Redis, one of them killed (SIGKILL, by its pid) in the middle of a job.

These start real processes (a worker takes 1-3 s to come up), so there are few of
them. Redis is the machine's (127.0.0.1:6379, as in CI); each test has a queue name
of its own, so parallel runs do not meet.
"""

from __future__ import annotations

import datetime as dt
import http.cookiejar
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlmodel import Session, select

from hub.app_catalogue import catalogue
from hub.app_clock import app_clock
from hub.config import DEFAULT_FEATURES_DIR
from hub.models import Company, Filing, PolicyVersionRecord
from hub.policy import assess
from hub.studio.drafts import base_features
from hub.studio.jobs import start_job
from hub.tasks import dispatcher
from tests.conftest import WorkerProcess
from tests.functional.test_queue import job_of, run_once, wait_finished
from tests.functional.test_studio import POPULATION, stored_rows

#: Tests that start server and worker processes run one at a time (one pytest-xdist worker
#: takes them all): the latency tests measure answers in seconds, which other process
#: tests running beside them on a 2-core machine would slow down.
pytestmark = pytest.mark.xdist_group("processes")


ROOT = Path(__file__).resolve().parents[2]
MARKER = r"^(# =+ )([A-Za-z0-9_./-]+)(\.feature =+)"
BEAT = 0.2  # seconds between two heartbeats of a job in these tests
REDIS = os.environ.get("HUB_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def redis_answers() -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(REDIS, socket_connect_timeout=1).ping())
    except Exception:
        return False


class Browser:
    """Just enough of a browser for the demo: cookies, forms with their CSRF token."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), NoRedirect()
        )

    def get(self, path: str) -> tuple[int, str, dict[str, str]]:
        return self._send(urllib.request.Request(self.base + path))

    def post(self, path: str, form_page: str, **data: str) -> tuple[int, str, dict[str, str]]:
        _, page, _ = self.get(form_page)
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
        assert token, f"no CSRF token at {form_page}"
        body = urllib.parse.urlencode({"csrf_token": token.group(1), **data}).encode()
        return self._send(urllib.request.Request(self.base + path, data=body, method="POST"))

    def _send(self, request: urllib.request.Request) -> tuple[int, str, dict[str, str]]:
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, response.read().decode(), dict(response.headers)
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(), dict(exc.headers)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def children_of(pid: int) -> list[int]:
    """The pids of a process's children (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"


def test_the_demo_brings_up_a_web_server_and_a_worker_and_a_studio_job_finishes(tmp_path):
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("HUB_") or key == "HUB_PASSWORD_HASH"
    }
    env.update(HUB_INSTANCE_PATH=str(tmp_path / "instance"), HUB_DEMO_PASSWORD="demo-password")
    output = tmp_path / "demo.log"
    began = time.monotonic()
    with output.open("w") as log:
        demo = subprocess.Popen(
            [sys.executable, "-m", "hub.cli", "demo", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
    try:
        printed = wait_for(
            lambda: "Serving on" in output.read_text() and output.read_text(),
            timeout=120,
            what="the demo to serve",
        )
        assert "Studio jobs and the daily watch run in a worker process" in printed, printed
        worker_pid = int(re.findall(r"worker process \(pid (\d+)\)", printed)[0])
        assert worker_pid in children_of(demo.pid)
        # Celery beat (it sends the daily watch) runs beside it, a process of its own.
        beat_pid = int(re.findall(r"beat process \(pid (\d+)\)", printed)[0])
        assert beat_pid in children_of(demo.pid) and alive(beat_pid)
        wait_for(
            lambda: list(Path(env["HUB_INSTANCE_PATH"]).glob("celerybeat-schedule*")),
            timeout=60,
            what="beat's schedule in the instance folder",
        )
        web = Browser(f"http://127.0.0.1:{port}")
        status, _, _ = web.post(
            "/login", "/login", email="author@demo.hub", password="demo-password"
        )
        assert status == 302
        status, page, _ = web.post("/policies/2026.1/drafts", "/policies/2026.1", version="2026.2")
        assert status == 302, page[:500]
        started = time.monotonic()
        status, page, headers = web.post("/policies/2026.2/specs", "/policies/2026.2/edit")
        assert status == 302, page[:500]
        job = headers["Location"]
        while time.monotonic() - started < 120:
            view = json.loads(web.get(job + ".json")[1])
            if view["finished"]:
                break
            time.sleep(0.1)
        assert view["state"] == "done" and view["total"] > 100, view
        print(f"demo serving after {started - began:.1f} s; a spec run of "
              f"{view['total']} scenarios done {time.monotonic() - started:.1f} s after it was "
              "asked for")  # fmt: skip
    finally:
        stopping = time.monotonic()
        demo.send_signal(signal.SIGTERM)
        demo.wait(60)
        print(f"demo stopped in {time.monotonic() - stopping:.1f} s")
    # The worker stopped with the server.
    deadline = time.monotonic() + 30
    while (alive(worker_pid) or alive(beat_pid)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(worker_pid)
    assert not alive(beat_pid), "beat outlived the demo"


# --- workers on Redis, one killed ------------------------------------------------------------


@pytest.fixture
def redis_queue() -> Iterator[str]:
    """A queue of this test's own on the machine's Redis, emptied afterwards."""
    if not redis_answers():
        pytest.skip(f"no Redis at {REDIS}")
    name = f"hub-test-{uuid.uuid4().hex[:12]}"
    yield name
    import redis

    client = redis.Redis.from_url(REDIS)
    for key in client.scan_iter(f"{name}*"):
        client.delete(key)


@pytest.fixture
def redis_workers(
    start_worker_process: Callable[..., WorkerProcess], tmp_path: Path, redis_queue: str
) -> Callable[[], WorkerProcess]:
    """Start `hub worker` processes on the test's database and Redis queue, with a short
    visibility timeout (2 s) and heartbeat (0.2 s: stale after 2.4 s), so a killed
    worker's job moves on in seconds."""

    def start() -> WorkerProcess:
        return start_worker_process(
            HUB_INSTANCE_PATH=str(tmp_path / "worker-instance"),
            HUB_BROKER_URL=REDIS,
            HUB_QUEUE=redis_queue,
            HUB_BROKER_VISIBILITY_TIMEOUT="2",
            HUB_JOB_RETRY_DELAY="0.2",
            HUB_JOB_HEARTBEAT_SECONDS=str(BEAT),
        )

    return start


def wait_for(check: Callable[[], Any], timeout: float = 60, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what or check}")


@pytest.fixture
def redis_app(make_app: Callable[..., Flask], redis_queue: str) -> Flask:
    """The test's app sending to the Redis queue the worker processes take from."""
    return make_app(
        BROKER_URL=REDIS,
        QUEUE_NAME=redis_queue,
        BROKER_VISIBILITY_TIMEOUT=2,
        JOB_RETRY_DELAY=0.2,
        JOB_HEARTBEAT_SECONDS=BEAT,
    )


def many_companies(app: Flask, db: Session, count: int) -> None:
    """``count`` companies with a decided filing each under 2026.1 (the studio tests'
    population over and over): an impact analysis of seconds."""
    with app.app_context():
        policy = catalogue().registry().get("2026.1")
    decided = []
    for bin_, name, inputs in POPULATION:
        filing = {**inputs, "bin": bin_, "legal_name": name}
        decided.append((name, filing, assess(policy, filing, dt.date(2026, 9, 1)).to_dict()))
    companies = [
        Company(bin=f"{n:012d}", legal_name=f"{decided[n % len(decided)][0]} {n}")
        for n in range(count)
    ]
    db.add_all(companies)
    db.flush()
    db.add_all(
        Filing(
            company_id=company.id,
            inputs=decided[n % len(decided)][1],
            status="submitted",
            policy_id=policy.id,
            policy_version=policy.version,
            policy_digest=policy.digest,
            decision=decided[n % len(decided)][2],
        )
        for n, company in enumerate(companies)
        if company.id is not None
    )
    db.commit()


def many_scenarios(rec: PolicyVersionRecord) -> str:
    """The version's scenarios five times over (about 2,300 scenarios: a run of seconds
    on a worker that no longer walks its start-up objects in every full collection; twice
    over could be done before the kill)."""
    text, _ = base_features(rec, rec.version, DEFAULT_FEATURES_DIR)
    copies = [re.sub(MARKER, rf"\g<1>copy{n}-\g<2>\g<3>", text, flags=re.M) for n in range(5)]
    return "\n".join(copies)


def result_without_times(result: dict[str, Any] | None) -> dict[str, Any]:
    """A job's result without what depends on the run (durations, the id of the stored
    impact run, how many of its chunks were taken over)."""
    assert result is not None
    out = dict(result)
    out.pop("seconds", None)
    out.pop("run", None)
    out.pop("chunks_taken_over", None)
    if "summary" in out:
        out["summary"] = {k: v for k, v in out["summary"].items() if k != "seconds"}
    if "scenarios" in out:
        out["scenarios"] = [
            {k: v for k, v in s.items() if k != "seconds"} for s in out["scenarios"]
        ]
    return out


@pytest.mark.parametrize("kind", ["specs", "impact"])
def test_a_worker_killed_in_the_middle_of_a_job_leaves_it_to_another_worker(
    kind, redis_app, redis_workers, db_session
):
    rec = db_session.exec(
        select(PolicyVersionRecord).where(PolicyVersionRecord.version == "2027.1")
    ).one()
    if kind == "specs":
        rec.features_text = many_scenarios(rec)
        db_session.add(rec)
        db_session.commit()
    else:
        # Enough for the job to run a while on a fast, idle worker (5,000 companies were
        # done half a second after the job started on the CI machine).
        many_companies(redis_app, db_session, 9000)
    workers = [redis_workers(), redis_workers()]
    for worker in workers:
        worker.wait_ready()
    with redis_app.app_context():
        job = start_job(
            db_session,
            clock=app_clock(),
            registry=catalogue().registry,
            dispatch=dispatcher(redis_app),
            kind=kind,
            record=rec,
            user=None,
        )
    # One worker takes it, and is killed (SIGKILL, by its pid) in the middle of the run.
    wait_for(lambda: job_of(db_session, job.id).state == "running", what="the job to start")
    # The worker that received it says so in its log.
    holder = wait_for(
        lambda: next((w for w in workers if "hub.studio.run_job[" in w.log.read_text()), None),
        what="the worker holding the job to log it",
    )
    running = job_of(db_session, job.id)
    assert running.state == "running" and running.attempts == 1
    os.kill(holder.pid, signal.SIGKILL)
    holder.process.wait(10)
    killed_at = time.monotonic()
    # The other takes the task over once the broker gives it back (the visibility timeout)
    # and the job's heartbeat has stopped.
    done = wait_finished(db_session, job.id, timeout=120)
    assert done.state == "done", done.error
    assert done.attempts == 2
    print(f"taken over and finished {time.monotonic() - killed_at:.1f} s after the kill")
    # The right result: the same as one uninterrupted run of the same job.
    again = start_job(
        db_session,
        clock=app_clock(redis_app),
        registry=redis_app.extensions["hub.catalogue"].registry,
        dispatch=lambda _: None,
        kind=kind,
        record=rec,
        user=None,
    )
    assert run_once(redis_app, again.id) == "done"
    expected = job_of(db_session, again.id)
    assert result_without_times(done.result) == result_without_times(expected.result)
    if kind == "impact":  # and the same rows stored, company by company
        assert stored_rows(db_session, done) == stored_rows(db_session, expected)
        assert len(stored_rows(db_session, done)) == 9000
