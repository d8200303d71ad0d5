"""Shared fixtures: a real, migrated database per test, the app, a client, factories.

The database is SQLite (a file per test, copied from one migrated template)
unless ``HUB_DATABASE_URL`` points at PostgreSQL; then the schema is rebuilt
from the migrations once per run (per pytest-xdist worker, each on a database
of its own) and every table is emptied before each test.
Nothing is mocked: tests go through the same engine, migrations and
constraints as production.
"""

from __future__ import annotations

import atexit
import datetime as dt
import itertools
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import settings
from sqlmodel import Session, SQLModel, select

import hub.app_clock
import hub.storage
from hub import create_app
from hub.app_clock import EXTENSION_KEY as CLOCK_KEY
from hub.app_clock import app_clock
from hub.auth.passwords import hash_password
from hub.clock import Clock, load_zone, system_now
from hub.db import get_engine
from hub.models import Company, Role, User
from hub.policy.filing import validate_bin
from hub.storage import make_engine, upgrade_database

# Cheap argon2 parameters for the whole run, CLI and server subprocesses included:
# production's cost 0.1-1 s of CPU per hash or check (tests/functional/test_passwords.py
# holds production to its parameters). The hasher reads it when it first hashes.
os.environ.setdefault("HUB_PASSWORD_HASH", "fast")

# No test reads a developer's instance folder: its SQLite database, when it exists, is
# the catalogue every `hub` command reads. The run gets an empty folder of its own (each
# pytest-xdist worker too); tests that need a database name it (``database_url``).
_INSTANCE = tempfile.mkdtemp(prefix="hub-test-instance-")
os.environ["HUB_INSTANCE_PATH"] = _INSTANCE
atexit.register(shutil.rmtree, _INSTANCE, ignore_errors=True)

# Hypothesis: a quick, randomised profile for local runs ("dev": each run explores new
# examples, failures are kept in .hypothesis/ and replayed first) and a reproducible one
# for CI ("ci": the same examples every run, no example database, the full counts of
# tests/unit/strategies.examples). .ci/run sets CI; HYPOTHESIS_PROFILE=ci|dev chooses.
settings.register_profile("dev", deadline=None)
settings.register_profile("ci", deadline=None, derandomize=True, database=None, print_blob=True)
_IN_CI = os.environ.get("CI", "").lower() not in ("", "0", "false", "no")
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if _IN_CI else "dev"))

DEFAULT_PASSWORD = "correct horse battery"


def stop_processes(processes: list[subprocess.Popen[bytes]], timeout: float = 60) -> None:
    """Stop the processes a test started: SIGTERM to those still running (all at once,
    so they stop side by side), then wait up to ``timeout`` seconds for each, and kill
    those that did not stop (a test never leaves a server or worker behind)."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def postgres_url() -> str | None:
    """The PostgreSQL URL the run is pointed at, if any."""
    url = os.environ.get("HUB_DATABASE_URL", "")
    return url if url.startswith("postgresql") else None


@pytest.fixture(scope="session")
def default_password() -> str:
    """The password ``make_user`` gives users unless told otherwise."""
    return DEFAULT_PASSWORD


def worker_database_url(url: str, worker: str) -> str:
    """The URL of an xdist worker's own PostgreSQL database: ``<database>_<worker>``."""
    parsed = sa.make_url(url)
    return parsed.set(database=f"{parsed.database}_{worker}").render_as_string(hide_password=False)


#: The hub's date in every test (the shipped versions: 2026.1 in force from 2026-07-01, 2027.1
#: from 2027-01-01), whatever the real date: tests that say "today + 3 days" mean a day
#: 2026.1 is in force on.
TEST_TODAY = dt.date(2026, 11, 29)


def date_shift(today: dt.date = TEST_TODAY) -> dt.timedelta:
    """Whole days from ``today`` to the hub's real date (in its default zone)."""
    return dt.timedelta(days=(Clock().today() - today).days)


def dated_clock(zone: Any, shift: dt.timedelta) -> Clock:
    """A clock that runs at the system's pace, ``shift`` earlier: times of day, durations
    and ages as the system clock gives them, the hub's date ``TEST_TODAY``."""
    return Clock(zone, lambda: system_now() - shift)


class _ShiftedDatetime:
    """What ``hub.storage.utcnow`` reads the time from in tests: the system's, shifted as
    the apps' clocks are, so stored instants and the clocks' "now" agree."""

    shift = dt.timedelta(0)

    @classmethod
    def now(cls, tz: dt.tzinfo | None = None) -> dt.datetime:
        return dt.datetime.now(tz) - cls.shift


@pytest.fixture
def system_clock() -> None:
    """Asked for by a test whose apps must read the system clock (see ``hub_date``)."""


@pytest.fixture(autouse=True)
def hub_date(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """The hub's date is ``TEST_TODAY`` in every test, whatever the real date: every app the
    test builds without a clock of its own (``make_app``, the command line's, a live
    server's) gets ``dated_clock`` in its ``TIMEZONE``, and ``hub.storage.utcnow`` (every
    stored instant) is shifted by the same whole days. A test that asks for the
    ``system_clock`` fixture keeps the system's: one whose subprocesses (``hub serve``, a
    worker), which read the system clock, share instants with the test's apps."""
    if "system_clock" in request.fixturenames:
        return
    shift = date_shift()
    original = hub.app_clock.init_app

    def init_app(app: Flask, clock: Clock | None = None) -> None:
        original(app, clock or dated_clock(load_zone(app.config.get("TIMEZONE")), shift))

    monkeypatch.setattr(hub.app_clock, "init_app", init_app)
    shifted = type("ShiftedDatetime", (_ShiftedDatetime,), {"shift": shift})
    monkeypatch.setattr(hub.storage, "datetime", shifted)


@pytest.fixture(scope="session", autouse=True)
def worker_database() -> Iterator[str | None]:
    """Under pytest-xdist on PostgreSQL, each worker gets a database of its own.

    ``<database>_gw0``, ``<database>_gw1``... are created (dropped first if a
    killed run left them) through the run's database, which must exist, and
    dropped at the end; ``HUB_DATABASE_URL`` points at the worker's for the
    session, so fixtures and tests that read it use it. A run without workers
    (``-n 0``) uses the run's database itself. Yields the URL used, or None on SQLite.
    """
    pg = postgres_url()
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not pg or not worker:
        yield pg
        return
    url = worker_database_url(pg, worker)
    name = sa.make_url(url).database
    admin = make_engine(pg, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    os.environ["HUB_DATABASE_URL"] = url
    try:
        yield url
    finally:
        os.environ["HUB_DATABASE_URL"] = pg
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def migrated_template(worker_database: str | None, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Run the migrations once (per worker): a template SQLite file, or the PostgreSQL schema."""
    pg = postgres_url()
    if pg:
        engine = make_engine(pg)
        with engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
        engine.dispose()
        upgrade_database(pg)
        return pg
    path = tmp_path_factory.mktemp("template") / "template.sqlite"
    upgrade_database(f"sqlite:///{path}")
    return str(path)


@pytest.fixture(scope="session")
def postgres_engine(migrated_template: str) -> Iterator[sa.Engine | None]:
    """One engine on the session's PostgreSQL database for emptying tables (None on SQLite)."""
    pg = postgres_url()
    if not pg:
        yield None
        return
    engine = make_engine(pg)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def no_database(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The command line without a database: HUB_DATABASE_URL unset (on a PostgreSQL run
    it names the worker's database, whatever the last test left in it) and an empty
    instance folder, so `hub assess` and `hub policy ...` read the policy folder alone.
    Modules testing the folder-only command line use it (``pytestmark``)."""
    monkeypatch.delenv("HUB_DATABASE_URL", raising=False)
    monkeypatch.setenv("HUB_INSTANCE_PATH", str(tmp_path / "no-database-instance"))


@pytest.fixture
def database_url(migrated_template: str, postgres_engine: sa.Engine | None, tmp_path: Path) -> str:
    """A fresh, migrated, empty database for this test."""
    if postgres_engine is not None:
        tables = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
        with postgres_engine.begin() as conn:
            conn.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        return migrated_template
    path = tmp_path / "hub.sqlite"
    shutil.copyfile(migrated_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def make_app(database_url: str, tmp_path: Path) -> Iterator[Callable[..., Flask]]:
    """Build apps on this test's database; keyword arguments override the config."""
    apps: list[Flask] = []

    def factory(**overrides: Any) -> Flask:
        config: dict[str, Any] = {
            "TESTING": True,
            "SECRET_KEY": "test-secret-key",
            "DATABASE_URL": database_url,
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
            "HUB_ENV": "development",
        }
        config.update(overrides)
        app = create_app(config)
        apps.append(app)
        return app

    yield factory
    for app in apps:
        get_engine(app).dispose()


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    """The app with CSRF and rate limits off (tests that need them build their own)."""
    return make_app()


@pytest.fixture
def clock(app: Flask) -> Clock:
    """The app's clock: the system clock in the hub's zone (Asia/Almaty unless configured)."""
    return app_clock(app)


@pytest.fixture
def fix_clock(app: Flask) -> Callable[..., Clock]:
    """Stop an app's clock at an instant: ``fix_clock(instant, zone=None, app=None)``.

    ``instant`` is an aware datetime; ``zone`` defaults to the app's own (``TIMEZONE``),
    ``app`` to the test's app. Returns the fixed clock now held by the app.
    """

    def fix(instant: dt.datetime, zone: str | None = None, app: Flask = app) -> Clock:
        fixed = Clock.fixed(instant, zone or app_clock(app).zone)
        app.extensions[CLOCK_KEY] = fixed
        return fixed

    return fix


@contextmanager
def _worker_of(app: Flask) -> Iterator[Any]:
    from celery.contrib.testing.worker import start_worker
    from celery.worker import state

    from hub.tasks import celery_of, dispatcher

    with start_worker(
        celery_of(app), pool="solo", perform_ping_check=False, loglevel="WARNING",
        shutdown_timeout=60,
    ) as worker:  # fmt: skip
        yield worker
        # Celery's synchronous loop looks at the stop flag between waits for a message,
        # and waits once more after seeing it (2 s each): two deliveries of a job that
        # does not exist (no-ops) end both waits at once.
        state.should_terminate = 0
        dispatch = dispatcher(app)
        dispatch(0)
        dispatch(0)


@pytest.fixture
def start_queue_worker() -> Callable[[Flask], Any]:
    """``with start_queue_worker(app):`` a real Celery worker (Celery's test worker, in a
    thread of this process) runs ``app``'s queue: its broker (the embedded one unless the
    test set ``BROKER_URL``) and its database. It stops when the block ends, after the task
    in hand."""
    return _worker_of


@pytest.fixture
def queue_worker(app: Flask, start_queue_worker: Callable[[Flask], Any]) -> Iterator[Any]:
    """A worker of the test app's queue (see ``start_queue_worker``) for the whole test."""
    with start_queue_worker(app) as worker:
        yield worker


@dataclass
class WorkerProcess:
    """A `hub worker` process of a test (``start_worker_process``)."""

    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def ready(self) -> bool:
        """Whether the worker has said it takes tasks."""
        return self.log.exists() and " ready." in self.log.read_text()

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not self.ready():
            assert self.process.poll() is None, self.log.read_text()
            assert time.monotonic() < deadline, f"worker not ready: {self.log.read_text()}"
            time.sleep(0.05)


@pytest.fixture
def start_worker_process(
    database_url: str, tmp_path: Path
) -> Iterator[Callable[..., WorkerProcess]]:
    """``start_worker_process(**env)``: a real `hub worker --concurrency 1` process on the
    test's database, with the environment's settings and ``env``'s (``HUB_*`` names), its
    output in ``tmp_path/worker-N.log``. Those still running are stopped at the end."""
    started: list[WorkerProcess] = []

    def start(**env: str) -> WorkerProcess:
        log = tmp_path / f"worker-{len(started)}.log"
        with log.open("w") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "hub.cli", "worker", "--concurrency", "1"],
                env={**os.environ, "HUB_DATABASE_URL": database_url, **env},
                cwd=Path(__file__).resolve().parents[1],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        started.append(WorkerProcess(process, log))
        return started[-1]

    yield start
    for worker in started:
        if worker.process.poll() is None:
            worker.process.terminate()
    for worker in started:
        try:
            worker.process.wait(30)
        except subprocess.TimeoutExpired:
            worker.process.kill()
            worker.process.wait()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def db_session(app: Flask) -> Iterator[Session]:
    """A session on the test's database, outside any request."""
    with Session(get_engine(app), expire_on_commit=False) as session:
        yield session


# --- factories -----------------------------------------------------------------------------

# Valid BINs (check digit per the policy) for tests that need several companies.
VALID_BINS = [
    "940140000385",
    "990140004654",
    "041048885984",
    "240242674593",
    "030847979261",
    "140846832444",
]


def more_bins() -> Iterator[str]:
    """Valid BINs after ``VALID_BINS`` (registered 2015-03, legal entity, serials 1, 2...),
    for tests that need more companies than that list: each one once."""
    serial = 0
    while True:
        serial += 1
        body = f"15034{serial:06d}"
        if validate_bin(body + "0") is None:
            yield body + "0"
            continue
        for check in "123456789":
            if validate_bin(body + check) is None:
                yield body + check
                break


@pytest.fixture
def make_company(db_session: Session) -> Callable[..., Company]:
    """Create and commit a company: ``make_company(bin=..., legal_name=..., activity=...)``;
    BINs from ``VALID_BINS`` first, then ``more_bins``."""
    counter = iter(range(10_000))
    bins = itertools.chain(VALID_BINS, more_bins())

    def factory(**fields: Any) -> Company:
        n = next(counter)
        fields.setdefault("bin", next(bins))  # the n-th BIN, given or not
        fields.setdefault("legal_name", f"Test Company {n} LLP")
        fields.setdefault("activity", "exchange")
        company = Company(**fields)
        db_session.add(company)
        db_session.commit()
        return company

    return factory


@pytest.fixture
def make_user(db_session: Session, make_company: Callable[..., Company]) -> Callable[..., User]:
    """Create and commit a user; company users get a new company unless one is given.

    The password is ``DEFAULT_PASSWORD`` unless ``password=`` is passed.
    """
    counter = iter(range(10_000))

    def factory(
        role: Role | str = Role.COMPANY,
        *,
        email: str | None = None,
        password: str = DEFAULT_PASSWORD,
        company: Company | None = None,
        **fields: Any,
    ) -> User:
        role = Role(role)
        n = next(counter)
        if role is Role.COMPANY and company is None:
            company = make_company()
        user = User(
            email=email or f"{role.value}{n}@example.kz",
            password_hash=hash_password(password),
            role=role.value,
            company_id=company.id if company else None,
            **fields,
        )
        db_session.add(user)
        db_session.commit()
        return user

    return factory


def _csrf_token(html: str) -> str | None:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    return match.group(1) if match else None


@pytest.fixture
def login() -> Callable[..., Any]:
    """Sign a client in through the real form: ``login(client, user_or_email, password)``."""

    def do_login(client: FlaskClient, user: User | str, password: str = DEFAULT_PASSWORD) -> Any:
        email = user if isinstance(user, str) else user.email
        page = client.get("/login")
        data = {"email": email, "password": password}
        if token := _csrf_token(page.get_data(as_text=True)):
            data["csrf_token"] = token
        return client.post("/login", data=data)

    return do_login


def confirmation_link(session: Session, email: str) -> str:
    """The path of the link in the newest confirmation mail stored for ``email``."""
    from hub.models import MailMessage

    session.expire_all()
    mail = session.exec(
        select(MailMessage)
        .where(MailMessage.to_address == email, MailMessage.kind == "account_confirm")
        .order_by(sa.desc(MailMessage.id))
    ).first()
    assert mail is not None, f"no confirmation mail to {email}"
    match = re.search(r"https?://[^/\s]+(/confirm/\S+)", mail.text_body)
    assert match, mail.text_body
    return match.group(1)


@pytest.fixture
def confirm_account(db_session: Session) -> Callable[[FlaskClient, str], Any]:
    """Follow the confirmation mail's link for ``email`` as its owner would: open the
    page, press its button. Returns the button's answer."""

    def confirm(client: FlaskClient, email: str) -> Any:
        path = confirmation_link(db_session, email)
        data = {}
        if token := _csrf_token(client.get(path).get_data(as_text=True)):
            data["csrf_token"] = token
        return client.post(path, data=data)

    return confirm


@pytest.fixture
def csrf_token() -> Callable[[FlaskClient, str], str]:
    """The CSRF token of the form at ``path`` (for tests with CSRF enabled)."""

    def get(client: FlaskClient, path: str) -> str:
        token = _csrf_token(client.get(path).get_data(as_text=True))
        assert token, f"no CSRF token in the form at {path}"
        return token

    return get


# --- tests that time answers run alone ---------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--latency",
        choices=("all", "skip", "only"),
        default="all",
        help="Tests marked latency measure answer times against a real server: 'skip' leaves "
        "them out, 'only' runs them alone (scripts/test runs them after the rest, on their own, "
        "so other tests' processes are not measured with them).",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    choice = config.getoption("--latency")
    if choice == "all":
        return
    keep, drop = [], []
    for item in items:
        timed = item.get_closest_marker("latency") is not None
        (keep if timed == (choice == "only") else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
