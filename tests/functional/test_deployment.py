"""Several app servers: sessions and rate limits shared, a version published through one
server used by the others, the work shared by the workers (issue 14 part 3).

The first tests run in-process on the file store (no server needed); the deployment test
starts two `hub serve` and two `hub worker` processes against PostgreSQL and Redis (as CI
has) and is skipped without them.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from hub.config import ConfigError, load_settings
from hub.models import Role, User
from hub.sessions import FILE_STORE_LIMIT, PruningFileCache
from tests.conftest import DEFAULT_PASSWORD, postgres_url, stop_processes

REDIS = "redis://127.0.0.1:6379/5"


def redis_up() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS, socket_timeout=2).ping())
    except redis.RedisError:
        return False


def session_cookie(client: FlaskClient) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None, "no session cookie"
    return cookie.value


# --- sessions on the server ----------------------------------------------------------------


def test_sign_out_deletes_the_session_on_the_server(
    app: Flask, make_user: Callable[..., User], login: Callable[..., Any]
) -> None:
    user = make_user(Role.COMPANY)
    client = app.test_client()
    assert login(client, user).status_code == 302
    assert client.get("/filings").status_code == 200
    stolen = session_cookie(client)
    # The cookie is an identifier, not the session: it holds no user and no signature.
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", stolen), stolen
    assert client.post("/logout").status_code == 302
    thief = app.test_client()
    thief.set_cookie("session", stolen)
    response = thief.get("/filings")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_signing_in_gives_the_session_a_new_identifier(
    app: Flask, make_user: Callable[..., User], login: Callable[..., Any]
) -> None:
    """An identifier planted before sign-in (session fixation) signs nobody in after it."""
    user = make_user(Role.COMPANY)
    client = app.test_client()
    with client.session_transaction() as session:
        session["planted"] = "yes"  # a visitor's session: a signed cookie
    planted = session_cookie(client)
    assert login(client, user).status_code == 302
    assert session_cookie(client) != planted
    other = app.test_client()
    other.set_cookie("session", planted)
    assert other.get("/filings").status_code == 302


def test_two_processes_on_one_instance_folder_share_the_sessions(
    make_app: Callable[..., Flask],
    make_user: Callable[..., User],
    login: Callable[..., Any],
    tmp_path: Path,
) -> None:
    one, two = make_app(), make_app()
    user = make_user(Role.COMPANY)
    client = one.test_client()
    assert login(client, user).status_code == 302
    elsewhere = two.test_client()
    elsewhere.set_cookie("session", session_cookie(client))
    assert elsewhere.get("/filings").status_code == 200
    files = [p for p in (tmp_path / "instance" / "sessions").iterdir() if p.is_file()]
    assert files and all(p.stat().st_mode & 0o077 == 0 for p in files)
    # Signing out through the second signs the cookie out of the first as well.
    assert elsewhere.post("/logout").status_code == 302
    assert client.get("/filings").status_code == 302


def test_the_file_store_stays_bounded_and_drops_the_soonest_to_expire(tmp_path: Path) -> None:
    cache = PruningFileCache(str(tmp_path), threshold=50, default_timeout=0)
    cache.set("latest", {"_user_id": "1"}, timeout=3600)
    for i in range(200):
        cache.set(f"older{i}", {"_user_id": str(i)}, timeout=60)
    # cachelib prunes before it writes (threshold + 1 records) and keeps a count file.
    assert len([p for p in tmp_path.iterdir() if p.is_file()]) <= 50 + 2
    assert cache.get("latest") == {"_user_id": "1"}  # expires last: kept
    assert FILE_STORE_LIMIT >= 1_000


def test_shared_state_settings(tmp_path: Path) -> None:
    base = {"HUB_PASSWORD_HASH": "fast"}
    alone = load_settings(tmp_path, base)
    assert alone["REDIS_URL"] == "" and alone["RATELIMIT_STORAGE_URI"] == "memory://"
    shared = load_settings(tmp_path, {**base, "HUB_REDIS_URL": "redis://cache:6379/2"})
    assert shared["RATELIMIT_STORAGE_URI"] == "redis://cache:6379/2"
    assert shared["RATELIMIT_KEY_PREFIX"] == "hub:limits"
    chosen = load_settings(
        tmp_path,
        {
            **base,
            "HUB_REDIS_URL": "redis://cache:6379/2",
            "HUB_RATELIMIT_STORAGE_URI": "memcached://limits:11211",
            "HUB_REDIS_KEY_PREFIX": "hub-blue",
            "HUB_SESSION_IDLE_TIMEOUT": "600",
            "HUB_SESSION_MAX_AGE": "3600",
        },
    )
    assert chosen["RATELIMIT_STORAGE_URI"] == "memcached://limits:11211"
    assert chosen["RATELIMIT_KEY_PREFIX"] == "hub-blue:limits"
    assert (chosen["SESSION_IDLE_TIMEOUT"], chosen["SESSION_MAX_AGE"]) == (600, 3600)
    assert (alone["SESSION_IDLE_TIMEOUT"], alone["SESSION_MAX_AGE"]) == (1800, 43200)
    for name, value in (
        ("HUB_REDIS_URL", "cache:6379"),
        ("HUB_REDIS_KEY_PREFIX", "two words"),
        ("HUB_SESSION_IDLE_TIMEOUT", "10"),
        ("HUB_SESSION_IDLE_TIMEOUT", "half an hour"),
        ("HUB_SESSION_IDLE_TIMEOUT", "７２００"),  # digits, but not ASCII ones
        ("HUB_SESSION_MAX_AGE", "59"),
        ("HUB_SESSION_MAX_AGE", "3600.5"),
    ):
        with pytest.raises(ConfigError, match=name):
            load_settings(tmp_path, {**base, name: value})
    # The old setting names the one that replaced it.
    with pytest.raises(
        ConfigError, match="HUB_SESSION_LIFETIME is not a setting: use HUB_SESSION_MAX_AGE"
    ):
        load_settings(tmp_path, {**base, "HUB_SESSION_LIFETIME": "3600"})
    # An idle timeout longer than the lifetime could never apply: refused, naming both.
    with pytest.raises(
        ConfigError, match="HUB_SESSION_IDLE_TIMEOUT=7200 is longer than HUB_SESSION_MAX_AGE=3600"
    ):
        load_settings(
            tmp_path,
            {**base, "HUB_SESSION_IDLE_TIMEOUT": "7200", "HUB_SESSION_MAX_AGE": "3600"},
        )


def test_visitors_leave_nothing_on_the_server(
    make_app: Callable[..., Flask], tmp_path: Path
) -> None:
    """A visitor's session (its CSRF token) stays in Flask's signed cookie: anonymous
    traffic writes nothing in the store and cannot fill it."""
    app = make_app(WTF_CSRF_ENABLED=True)
    folder = tmp_path / "instance" / "sessions"
    before = sorted(p.name for p in folder.iterdir())
    for _ in range(20):
        client = app.test_client()
        assert client.get("/assess").status_code == 200
        assert "." in session_cookie(client)  # signed, not a store identifier
    assert sorted(p.name for p in folder.iterdir()) == before


@pytest.mark.skipif(not redis_up(), reason="needs Redis on 127.0.0.1:6379")
def test_in_redis_a_signed_in_session_lasts_its_lifetime_and_ends_at_sign_out(
    make_app: Callable[..., Flask],
    make_user: Callable[..., User],
    login: Callable[..., Any],
    csrf_token: Callable[[FlaskClient, str], str],
) -> None:
    prefix = f"hubtest-{uuid.uuid4().hex[:8]}"
    app = make_app(
        REDIS_URL=REDIS,
        REDIS_KEY_PREFIX=prefix,
        SESSION_IDLE_TIMEOUT=7140,
        WTF_CSRF_ENABLED=True,
    )
    store = redis.Redis.from_url(REDIS)
    try:
        client = app.test_client()
        assert client.get("/login").status_code == 200
        assert not list(store.scan_iter(f"{prefix}:*"))  # a visitor: nothing stored
        assert login(client, make_user(Role.COMPANY)).status_code == 302
        signed_in = f"{prefix}:session:{session_cookie(client)}"
        assert list(store.scan_iter(f"{prefix}:*")) == [signed_in.encode()]
        # Kept for the idle timeout plus the step at which its last use is written.
        assert 7000 < store.ttl(signed_in) <= 7140 + 60
        token = csrf_token(client, "/filings")
        assert client.post("/logout", data={"csrf_token": token}).status_code == 302
        assert not list(store.scan_iter(f"{prefix}:*"))
        assert client.get("/filings").status_code == 302
    finally:
        for key in store.scan_iter(f"{prefix}:*"):
            store.delete(key)


def cookie_of(browser: Any) -> str:
    """The value of the ``session`` cookie a ``Browser`` holds."""
    for handler in browser.opener.handlers:
        if isinstance(handler, urllib.request.HTTPCookieProcessor):
            for cookie in handler.cookiejar:
                if cookie.name == "session" and cookie.value:
                    return cookie.value
    raise AssertionError("no session cookie")


# --- the deployment: two servers, two workers, one PostgreSQL, one Redis -------------------


HUB = Path(sys.executable).parent / "hub"


def launch(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """``hub ARGS`` started in the background, its output in ``log``."""
    with log.open("wb") as out:  # the process writes to its own copy of the file
        return subprocess.Popen([str(HUB), *args], env=env, stdout=out, stderr=subprocess.STDOUT)


def ready(process: subprocess.Popen[bytes], log: Path, check: Callable[[Path], bool]) -> None:
    """Wait (60 s at most) until ``check(log)``; fail with the log if the process ends."""
    deadline = time.monotonic() + 60
    while not check(log):
        assert process.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.1)


def answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


class Site:
    """A browser's cookies (``Browser``) pointed at one server or another."""

    def __init__(self, browser: Any, base: str) -> None:
        self.browser = browser
        self.browser.base = base

    def at(self, base: str) -> Any:
        self.browser.base = base
        return self.browser


@pytest.mark.skipif(
    postgres_url() is None or not redis_up(),
    reason="needs PostgreSQL (HUB_DATABASE_URL) and Redis on 127.0.0.1:6379",
)
@pytest.mark.xdist_group("processes")
def test_two_servers_and_two_workers_share_sessions_limits_versions_and_work(
    app: Flask,
    database_url: str,
    tmp_path: Path,
    make_user: Callable[..., User],
    db_session: Any,
    system_clock: None,
) -> None:
    from benchmarks.population import seed
    from hub.db import get_engine
    from hub.models import PolicyVersionRecord
    from hub.studio import drafts, impact_runs
    from tests.functional.test_impact_workers import holds_a_chunk
    from tests.functional.test_queue_workers import Browser, free_port
    from tests.unit.core_support import P2027, exchange

    engine = get_engine(app)
    filings = 20_000
    author = make_user(Role.AUTHOR, email="author@example.kz")
    approver = make_user(Role.AUTHOR, email="approver@example.kz")
    prefix = f"hubtest-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "HUB_DATABASE_URL": database_url,
        "HUB_INSTANCE_PATH": str(tmp_path / "instance"),
        "HUB_SECRET_KEY": "deployment-test",
        "HUB_ENV": "development",
        "HUB_BROKER_URL": REDIS,
        "HUB_QUEUE": f"deploy-{uuid.uuid4().hex[:8]}",
        "HUB_BROKER_VISIBILITY_TIMEOUT": "30",
        "HUB_REDIS_URL": REDIS,
        "HUB_REDIS_KEY_PREFIX": prefix,
    }
    env.pop("HUB_RATELIMIT_STORAGE_URI", None)
    env.pop("HUB_RATELIMIT_ENABLED", None)
    store = redis.Redis.from_url(REDIS)
    ports = [free_port(), free_port()]
    a, b = (f"http://127.0.0.1:{p}" for p in ports)
    # Every process starts at once; the filings are stored meanwhile.
    workers = [
        launch(["worker", "--concurrency", "1"], env, tmp_path / f"worker{i}.log") for i in range(2)
    ]
    servers = [launch(["serve", "--port", str(p)], env, tmp_path / f"server{p}.log") for p in ports]
    processes = [*workers, *servers]
    today = dt.date.today()
    day = max(today + dt.timedelta(days=1), dt.date(2027, 1, 2))

    def record(version: str) -> PolicyVersionRecord:
        db_session.expire_all()
        from sqlmodel import select

        return db_session.exec(
            select(PolicyVersionRecord).where(PolicyVersionRecord.version == version)
        ).one()

    def wait(site: Any, job: str, until: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        deadline = time.monotonic() + 120
        while True:
            view: dict[str, Any] = json.loads(site.get(job + ".json")[1])
            if until(view):
                return view
            assert not view["finished"], view
            assert time.monotonic() < deadline, view
            time.sleep(0.05)

    try:
        seed(engine, P2027, filings, as_of=dt.date(2027, 1, 1), seed=17, batch=5_000)
        for i, worker in enumerate(workers):
            ready(worker, tmp_path / f"worker{i}.log", lambda log: b"ready." in log.read_bytes())
        for port, server in zip(ports, servers, strict=True):
            ready(server, tmp_path / f"server{port}.log", lambda _, port=port: answers(port))
        # Signed in on A; the same cookie works on B: the session is in Redis, not the cookie.
        writer = Site(Browser(a), a)
        status, _, _ = writer.at(a).post(
            "/login", "/login", email=author.email, password=DEFAULT_PASSWORD
        )
        assert status == 302
        assert any(store.scan_iter(f"{prefix}:session:*"))
        assert writer.at(b).get("/policies")[0] == 200

        # A draft made on A, its scenarios run through B (a worker runs them).
        status, page, _ = writer.at(a).post(
            "/policies/2027.1/drafts", "/policies/2027.1", version="2027.2"
        )
        assert status == 302, page[:500]
        draft = record("2027.2")
        text = draft.text.replace(
            "title: Astana Crypto Hub tax incentives\n",
            "title: Astana Crypto Hub tax incentives (2027.2)\n",
        )
        assert text != draft.text
        status, page, headers = writer.at(b).post(
            "/policies/2027.2/edit",
            "/policies/2027.2/edit",
            text=text,
            features_text=draft.features_text or "",
            lock_version=str(draft.lock_version),
            action="run",
        )
        assert status == 302, page[:2000]
        specs = wait(writer.at(b), headers["Location"], lambda v: v["finished"])
        assert specs["state"] == "done", specs

        # Approved by a second author on B.
        second = Site(Browser(b), b)
        status, _, _ = second.at(b).post(
            "/login", "/login", email=approver.email, password=DEFAULT_PASSWORD
        )
        assert status == 302
        status, page, _ = second.at(b).post(
            "/policies/2027.2/approve",
            "/policies/2027.2",
            lock_version=str(record("2027.2").lock_version),
        )
        assert status == 302, page[:2000]

        # The impact analysis as of the effective date, started on A, followed on B; the
        # worker not running the job itself is killed in the middle of a chunk.
        logs = [tmp_path / f"worker{i}.log" for i in range(2)]
        seen = [len(log.read_text()) for log in logs]  # what the workers logged before
        status, page, headers = writer.at(a).post(
            "/policies/2027.2/impact", "/policies/2027.2/impact", as_of=day.isoformat()
        )
        assert status == 302, page[:2000]
        job = headers["Location"]
        victim: subprocess.Popen[bytes] | None = None
        deadline = time.monotonic() + 120
        while victim is None or not holds_a_chunk(app, f"{victim.pid}@"):
            view = json.loads(writer.at(b).get(job + ".json")[1])
            assert not view["finished"], view
            assert time.monotonic() < deadline
            # The worker that took the job's own task keeps running; the other is killed
            # while it holds a chunk.
            runs = [
                i
                for i, log in enumerate(logs)
                if "hub.studio.run_job[" in log.read_text()[seen[i] :]
            ]
            if runs:
                victim = workers[1 - runs[0]]
            time.sleep(0.02)
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait()
        # The in-process analysis of the same population, on the core the victim freed.
        pool = ThreadPoolExecutor(1)
        local = pool.submit(
            impact_runs.analyse_population,
            engine,
            candidate=drafts.compiled_policy(record("2027.2")),
            against=P2027,
            as_of=day,
            chunk_size=5_000,
        )
        impact = wait(writer.at(b), job, lambda v: v["finished"])
        assert impact["state"] == "done", impact
        assert "companies change" in writer.at(b).get(job)[1]

        # Published on A, effective on ``day``.
        status, page, _ = writer.at(a).post(
            "/policies/2027.2/publish",
            "/policies/2027.2/publish?effective_from=" + day.isoformat(),
            effective_from=day.isoformat(),
            lock_version=str(record("2027.2").lock_version),
        )
        assert status == 302, page[:3000]

        # B (which published nothing) assesses under the new version from its date on.
        body = json.dumps({"filing": exchange(), "as_of": day.isoformat()}).encode()
        request = urllib.request.Request(
            b + "/api/v1/assessments",
            data=body,
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            decided = json.loads(response.read())
        assert decided["policy"]["version"] == "2027.2", decided
        before = (day - dt.timedelta(days=1)).isoformat()
        visitor = Browser(b)
        status, page, _ = visitor.get(f"/assess?as_of={day.isoformat()}")
        assert status == 200 and f"version 2027.2 (in force from {day})" in page
        assert "version 2027.1 (in force from" in visitor.get(f"/assess?as_of={before}")[1]

        # Checks through the form on A and B count against one limit (30 a minute per
        # address; each server alone would count half of them).
        statuses = []
        for i in range(31):
            visitor.base = (a, b)[i % 2]
            statuses.append(visitor.post("/assess", "/assess", as_of=day.isoformat())[0])
        assert statuses[:30] == [422] * 30 and statuses[30] == 429, statuses

        # Signed out through B: the cookie of before, replayed on A, signs nobody in.
        stolen = cookie_of(writer.browser)
        assert writer.at(b).post("/logout", "/policies")[0] == 302
        assert cookie_of(writer.browser) != stolen
        replay = urllib.request.Request(a + "/policies", headers={"Cookie": f"session={stolen}"})
        thief = Browser(a)
        status, _, headers = thief._send(replay)
        assert status == 302 and "/login" in headers["Location"]
    finally:
        stop_processes(processes)
        for key in store.scan_iter(f"{prefix}:*"):
            store.delete(key)

    # The distributed analysis has the in-process totals, the lost chunk done again.
    from sqlalchemy import text as sql

    with engine.connect() as conn:
        result = conn.execute(
            sql("SELECT result FROM studio_job WHERE id = :id"),
            {"id": int(job.rsplit("/", 1)[1])},
        ).scalar_one()
    assert result["against"] == "2027.1" and result["as_of"] == day.isoformat()
    assert result["totals"] == local.result(timeout=300)["totals"]
    pool.shutdown()
    assert result["totals"]["companies"] == filings
    assert result["chunks_taken_over"] >= 1
