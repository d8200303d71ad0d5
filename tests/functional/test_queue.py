"""The task queue: studio jobs as Celery tasks, acknowledged late, idempotent, given up with
a reason after their attempts.

A real Celery worker (Celery's own test worker, in a thread) runs on the embedded
broker (kombu's filesystem transport in the test's instance folder) and the test's
database; the kill tests (tests/functional/test_queue_workers.py) use real worker
processes on Redis.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlmodel import Session, select

from hub.app_catalogue import EXTENSION as CATALOGUE
from hub.app_clock import app_clock
from hub.config import DEFAULT_FEATURES_DIR, ConfigError, load_settings
from hub.db import get_engine
from hub.models import PolicyVersionRecord, Role, StudioJob, User
from hub.storage import upgrade_database, utcnow
from hub.studio import attempts
from hub.studio.drafts import base_features, compiled_policy
from hub.studio.features import features_digest
from hub.studio.jobs import HEARTBEAT_SECONDS, stale_after
from hub.tasks import (
    RUN_STUDIO_JOB,
    EmbeddedTransport,
    celery_of,
    celery_settings,
    dispatcher,
)
from tests.functional.test_studio import job_id_of, new_draft


@pytest.fixture
def author(make_user: Callable[..., User]) -> User:
    return make_user(Role.AUTHOR, email="author@example.kz")


#: How long a running job's heartbeat may be silent before another worker takes it over.
STALE = stale_after(HEARTBEAT_SECONDS)


def stored(db: Session, version: str) -> PolicyVersionRecord:
    db.expire_all()
    found = db.exec(select(PolicyVersionRecord).where(PolicyVersionRecord.version == version))
    rec = found.first()
    assert rec is not None, f"no stored version {version}"
    return rec


@pytest.fixture
def record_job(db_session: Session) -> Callable[..., StudioJob]:
    """Record a queued job of a stored version, as ``start_job`` does: ``record_job(kind,
    version="2027.1", **columns)``."""

    def record(kind: str, version: str = "2027.1", **columns: Any) -> StudioJob:
        rec = stored(db_session, version)
        if kind == "specs" and not rec.features_text:
            # The version's own scenarios, as a draft of it starts with.
            rec.features_text, _ = base_features(rec, version, DEFAULT_FEATURES_DIR)
            db_session.add(rec)
            db_session.commit()
        job = StudioJob(
            kind=kind,
            policy_id=rec.policy_id,
            version=rec.version,
            digest=compiled_policy(rec).digest,
            features_digest=features_digest(rec.features_text) if kind == "specs" else None,
            **{"state": "queued", **columns},
        )
        db_session.add(job)
        db_session.commit()
        return job

    return record


def job_of(db: Session, job_id: int | None) -> StudioJob:
    db.expire_all()
    job = db.get(StudioJob, job_id)
    assert job is not None
    return job


def wait_finished(db: Session, job_id: int | None, timeout: float = 60) -> StudioJob:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = job_of(db, job_id)
        if job.state in ("done", "failed"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish in {timeout}s: {job_of(db, job_id)}")


def run_once(app: Flask, job_id: int | None, **kwargs: Any) -> str:
    """One delivery of the job's task, as a worker makes it (without the queue)."""
    assert job_id is not None
    return attempts.run_job(
        get_engine(app),
        clock=app_clock(app),
        registry=app.extensions[CATALOGUE].registry,
        job_id=job_id,
        max_attempts=kwargs.pop("max_attempts", 3),
        **kwargs,
    )


@pytest.fixture
def renamed_filings(app: Flask) -> Iterator[None]:
    """The filing table out of the way (impact analyses fail on the database), then back."""
    engine = get_engine(app)
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE filing RENAME TO filing_away"))
    try:
        yield
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text("ALTER TABLE filing_away RENAME TO filing"))


# --- through the queue -----------------------------------------------------------------------


def test_a_job_runs_through_the_queue_on_the_embedded_broker(
    app, queue_worker, record_job, db_session
):
    settings = celery_of(app).conf
    assert settings.broker_url == "filesystem://localhost/"
    assert settings.broker_transport is EmbeddedTransport
    assert settings.task_acks_late and settings.task_reject_on_worker_lost
    assert settings.worker_prefetch_multiplier == 1
    assert settings.accept_content == ["json"] and settings.task_serializer == "json"
    specs = record_job("specs")
    # The plan recorded when the job was started: the version compared with, and the date.
    impact = record_job("impact", against="2026.1", as_of=dt.date(2027, 2, 1))
    send = dispatcher(app)
    started = time.monotonic()
    send(specs.id)
    send(impact.id)
    done = wait_finished(db_session, specs.id)
    assert done.state == "done", done.error
    summary = done.result["summary"] if done.result else {}
    assert summary["ok"] and summary["total"] > 100 and done.attempts == 1
    done = wait_finished(db_session, impact.id)
    assert done.state == "done" and done.result is not None and done.attempts == 1
    assert done.result["as_of"] == "2027-02-01" and done.result["against"] == "2026.1"
    assert time.monotonic() - started < 30


def test_a_worker_runs_its_own_apps_tasks_when_another_app_is_made_in_its_process(
    app, make_app, queue_worker, record_job, db_session, tmp_path
):
    # An in-process `hub` command, or a second test app, builds an app of its own while a
    # worker runs. Celery's worker looks its tasks up in the default Celery app, which
    # every new app used to claim: the worker's tasks then ran in the newer app, on its
    # database (here an empty one of its own, where the job is "gone" and never runs).
    other_database = f"sqlite:///{tmp_path / 'other.sqlite'}"
    upgrade_database(other_database)
    other = make_app(DATABASE_URL=other_database, INSTANCE_PATH=str(tmp_path / "other"))
    job = record_job("impact", against="2026.1", as_of=dt.date(2027, 2, 1))
    dispatcher(app)(job.id)
    done = wait_finished(db_session, job.id, timeout=30)
    assert done.state == "done" and done.attempts == 1, done.error
    with Session(get_engine(other)) as session:
        assert session.exec(select(StudioJob)).all() == []


def test_a_task_that_keeps_failing_ends_the_job_failed_with_the_reason(
    make_app, record_job, db_session, start_queue_worker, renamed_filings
):
    app = make_app(JOB_RETRY_DELAY=0.05, JOB_ATTEMPTS=3)
    job = record_job("impact")
    with start_queue_worker(app):
        dispatcher(app)(job.id)
        failed = wait_finished(db_session, job.id)
    assert failed.state == "failed" and failed.attempts == 3
    assert failed.error and "filing" in failed.error and "(attempt 3 of 3)" in failed.error
    assert failed.finished_at is not None


def test_the_embedded_broker_never_hands_out_a_message_being_written(app):
    """A message file is written under another name, then renamed: a worker polling in
    between finds nothing rather than an empty file (which kombu's own loses)."""
    from kombu.transport.virtual import Empty

    celery = celery_of(app)
    with celery.connection_for_write() as conn:
        channel = conn.default_channel
        folder = Path(app.instance_path) / "queue" / "messages"
        (folder / "1_half-written.hub.msg.partial").write_text("")
        with pytest.raises(Empty):
            channel._get("hub")
        channel._put("hub", {"body": "x"})
        assert sorted(p.suffix for p in folder.iterdir()) == [".msg", ".partial"]
        assert channel._get("hub") == {"body": "x"}


# --- the web server queues, workers run ----------------------------------------------------------


def test_the_web_server_queues_a_job_and_runs_none(
    app, author, login, db_session, start_queue_worker
):
    client = app.test_client()
    login(client, author)
    new_draft(client)
    job_id = job_id_of(client.post("/policies/2026.2/specs"))
    time.sleep(0.5)
    # No thread of the web process runs it: it waits on the broker for a worker.
    assert not [t.name for t in threading.enumerate() if t.name.startswith("studio-")]
    waiting = job_of(db_session, job_id)
    assert waiting.state == "queued" and waiting.attempts == 0
    assert list((Path(app.instance_path) / "queue" / "messages").iterdir())
    with start_queue_worker(app):
        done = wait_finished(db_session, job_id)
    assert done.state == "done" and done.attempts == 1, done.error


def test_a_queue_that_cannot_be_reached_fails_the_job_saying_so(
    make_app, author, login, db_session
):
    app = make_app(BROKER_URL="redis://127.0.0.1:9/0")  # nothing listens on port 9
    client = app.test_client()
    login(client, author)
    new_draft(client)
    started = time.monotonic()
    job_id = job_id_of(client.post("/policies/2026.2/specs"))
    assert time.monotonic() - started < 10
    failed = job_of(db_session, job_id)
    assert failed.state == "failed" and failed.finished_at is not None
    assert (failed.error or "").startswith("The task queue could not be reached (")
    page = client.get(f"/policies/jobs/{job_id}").get_data(as_text=True)
    assert "The task queue could not be reached" in page


# --- one delivery at a time (the service the task calls) -----------------------------------


def test_a_second_delivery_of_a_finished_job_does_nothing(app, record_job, db_session):
    job = record_job("specs")
    assert run_once(app, job.id) == "done"
    finished = job_of(db_session, job.id)
    assert run_once(app, job.id) == "finished"
    again = job_of(db_session, job.id)
    assert again.attempts == 1 and again.updated_at == finished.updated_at
    assert run_once(app, 10_000) == "gone"


def test_a_job_running_elsewhere_is_not_run_twice_until_its_heartbeat_stops(
    app, record_job, db_session
):
    job = record_job("specs", state="running", attempts=1, heartbeat_at=utcnow())
    with pytest.raises(attempts.JobBusy) as busy:
        run_once(app, job.id)
    assert 1 <= busy.value.retry_in <= STALE.total_seconds()
    assert job_of(db_session, job.id).attempts == 1
    # Its process stopped: the heartbeat is older than STALE_AFTER, so this delivery takes it.
    stopped = utcnow() - STALE - dt.timedelta(seconds=1)
    job.heartbeat_at = stopped
    db_session.add(job)
    db_session.commit()
    assert run_once(app, job.id) == "done"
    done = job_of(db_session, job.id)
    assert done.attempts == 2 and done.result and done.result["summary"]["ok"]


def test_a_job_whose_workers_keep_dying_is_failed_with_the_reason(app, record_job, db_session):
    stopped = utcnow() - STALE - dt.timedelta(seconds=1)
    job = record_job("impact", state="running", attempts=3, heartbeat_at=stopped)
    assert run_once(app, job.id, max_attempts=3) == "failed"
    failed = job_of(db_session, job.id)
    assert failed.state == "failed" and failed.attempts == 3
    assert failed.error == (
        "the worker running this job stopped 3 times (at most 3 attempts, HUB_JOB_ATTEMPTS); "
        "start it again"
    )


def test_a_failure_that_may_pass_queues_the_job_again(app, record_job, db_session, renamed_filings):
    job = record_job("impact")
    with pytest.raises(attempts.AttemptFailed, match="attempt 1 of 2"):
        run_once(app, job.id, max_attempts=2)
    again = job_of(db_session, job.id)
    assert again.state == "queued" and again.attempts == 1 and again.error is None
    assert run_once(app, job.id, max_attempts=2) == "failed"
    assert "(attempt 2 of 2)" in (job_of(db_session, job.id).error or "")


def test_a_failure_of_the_draft_is_not_tried_again(app, record_job, db_session):
    job = record_job("specs")
    rec = stored(db_session, "2027.1")
    rec.features_text = (rec.features_text or "") + "\n# changed after the job started\n"
    db_session.add(rec)
    db_session.commit()
    assert run_once(app, job.id) == "failed"
    failed = job_of(db_session, job.id)
    assert failed.attempts == 1
    assert failed.error == (
        "version 2027.1 was changed after the job was started; start it again for the text "
        "as it is now"
    )


# --- settings ------------------------------------------------------------------------------------


def test_queue_settings_and_their_refusals(tmp_path):
    settings = load_settings(tmp_path, environ={})
    assert settings["BROKER_URL"] == "" and settings["QUEUE_NAME"] == "hub"
    assert settings["JOB_ATTEMPTS"] == 3 and settings["BROKER_VISIBILITY_TIMEOUT"] == 600
    embedded = celery_settings(settings, tmp_path)
    assert embedded["broker_url"] == "filesystem://localhost/"
    assert (tmp_path / "queue" / "messages").is_dir()
    redis = celery_settings(
        load_settings(
            tmp_path,
            environ={
                "HUB_BROKER_URL": "redis://127.0.0.1:6379/3",
                "HUB_BROKER_VISIBILITY_TIMEOUT": "30",
                "HUB_QUEUE": "hub-staging",
            },
        ),
        tmp_path,
    )
    assert redis["broker_url"] == "redis://127.0.0.1:6379/3"
    assert redis["task_default_queue"] == "hub-staging"
    options = redis["broker_transport_options"]
    assert options["visibility_timeout"] == 30 and options["unacked_key"] == "hub-staging.unacked"
    for name, value, words in [
        ("HUB_JOB_ATTEMPTS", "0", "HUB_JOB_ATTEMPTS='0' is not a whole number of at least 1"),
        ("HUB_JOB_ATTEMPTS", "2.5", "HUB_JOB_ATTEMPTS='2.5' is not a whole number of at least 1"),
        (
            "HUB_BROKER_VISIBILITY_TIMEOUT",
            "soon",
            "HUB_BROKER_VISIBILITY_TIMEOUT='soon' is not a number of at least 1",
        ),
        ("HUB_JOB_RETRY_DELAY", "-1", "HUB_JOB_RETRY_DELAY='-1' is not a number of at least 0"),
        ("HUB_QUEUE", "a queue", "HUB_QUEUE='a queue' is not a queue name"),
    ]:
        with pytest.raises(ConfigError) as refused:
            load_settings(tmp_path, environ={name: value})
        assert words in str(refused.value)


def test_the_task_is_registered_under_its_name(app):
    assert RUN_STUDIO_JOB in celery_of(app).tasks


def test_a_worker_leaves_what_it_holds_at_start_out_of_the_full_collections(app, monkeypatch):
    """`hub worker` freezes its start-up objects (gc.freeze) before it takes tasks: the
    cycle collector's full passes walked them all again and again during an impact
    analysis (a tenth of the workers' CPU)."""
    import gc

    from hub.tasks import run_worker

    frozen: list[int] = []
    monkeypatch.setattr(
        celery_of(app), "worker_main", lambda argv: frozen.append(gc.get_freeze_count())
    )
    try:
        run_worker(app, concurrency=1)
    finally:
        gc.unfreeze()
    assert len(frozen) == 1 and frozen[0] > 10_000
