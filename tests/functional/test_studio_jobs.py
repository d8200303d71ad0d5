"""Studio jobs: a heartbeat while queued or running, jobs whose process died marked failed
(at start-up and once a minute) and run again, and results a page at a time."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import signal
import time
from typing import Any

import pytest
from flask import Flask
from sqlmodel import Session

from hub.models import ImpactRowRecord, ImpactRun, StudioJob
from hub.storage import utcnow
from hub.studio.jobs import PAGE_SIZE, STALE_BEATS, StoppedJobSweeper
from tests.functional import test_studio as studio
from tests.functional.test_queue_workers import many_scenarios
from tests.functional.test_studio import (
    html,
    job_id_of,
    new_draft,
    record,
    run_impact,
    run_specs,
    wait_job,
)

# The studio tests' fixtures, shared.
author = studio.author
author_client = studio.author_client
population = studio.population

BEAT = 0.2  # seconds between heartbeats in these tests (stale after 12 beats: 2.4 s)


def job_row(db: Session, job_id: int) -> StudioJob:
    db.expire_all()
    job = db.get(StudioJob, job_id)
    assert job is not None
    return job


def wait_for(check: Any, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_job_whose_worker_was_killed_is_failed_after_a_restart_and_runs_again(
    make_app, author, login, db_session, start_worker_process, start_queue_worker, system_clock
):
    # system_clock: the worker process beats with the system clock, the sweeps compare.
    app = make_app(JOB_HEARTBEAT_SECONDS=BEAT)
    client = app.test_client()
    login(client, author)
    assert new_draft(client).status_code == 302
    rec = record(db_session, "2026.2")
    rec.features_text = many_scenarios(rec)  # a run of seconds
    db_session.add(rec)
    db_session.commit()
    # A worker process on the embedded broker, which gives nothing back when a worker is
    # killed: the job is lost with it.
    worker = start_worker_process(
        HUB_INSTANCE_PATH=app.instance_path, HUB_JOB_HEARTBEAT_SECONDS=str(BEAT)
    )
    job_id = job_id_of(client.post("/policies/2026.2/specs"))
    wait_for(lambda: job_row(db_session, job_id).state == "running")
    first = job_row(db_session, job_id).heartbeat_at
    assert first is not None
    wait_for(lambda: job_row(db_session, job_id).heartbeat_at > first)
    # Alive: however old the job, a sweep leaves it (its heartbeat is live).
    live = StoppedJobSweeper(_engine(app), heartbeat_seconds=BEAT)
    assert live.sweep() == []
    assert job_row(db_session, job_id).state == "running"
    os.kill(worker.pid, signal.SIGKILL)
    worker.process.wait(10)
    killed_at = job_row(db_session, job_id).heartbeat_at
    # Stale for STALE_BEATS beats, then as long again for another worker to take it over.
    time.sleep(2 * STALE_BEATS * BEAT + 0.5)
    # The page of the old server still shows it running: nothing swept in the last minute.
    assert wait_job_state(client, job_id) == "running"
    # A restart fails it, saying when its process stopped.
    restarted = make_app(JOB_HEARTBEAT_SECONDS=BEAT)
    job = job_row(db_session, job_id)
    assert job.state == "failed" and job.finished_at is not None
    assert f"stopped at {killed_at:%Y-%m-%d %H:%M:%S} UTC" in (job.error or "")
    client = restarted.test_client()
    login(client, author)
    page = html(client.get(f"/policies/jobs/{job_id}"))
    assert "The process running this job stopped at" in page and 'id="rerun"' in page
    again = job_id_of(client.post(f"/policies/jobs/{job_id}/rerun"))
    assert again != job_id
    with start_queue_worker(restarted):
        view = wait_job(client, again)
    assert view["state"] == "done", view
    rerun = job_row(db_session, again)
    assert (rerun.kind, rerun.digest, rerun.features_digest) == (
        job.kind,
        job.digest,
        job.features_digest,
    )
    # Only a failed run of the current text runs again.
    response = client.post(f"/policies/jobs/{again}/rerun", follow_redirects=True)
    assert "only a failed run can be run again" in html(response)


def _engine(app: Flask) -> Any:
    from hub.db import get_engine

    return get_engine(app)


def wait_job_state(client: Any, job_id: int) -> str:
    return client.get(f"/policies/jobs/{job_id}.json").get_json()["state"]


def test_the_studio_fails_stopped_jobs_once_a_minute_and_a_live_long_job_runs_on(
    app, author_client, db_session
):
    new_draft(author_client)
    rec = record(db_session, "2026.2")
    long_ago = utcnow() - dt.timedelta(hours=3)
    common = {
        "kind": "specs",
        "policy_id": rec.policy_id,
        "version": rec.version,
        "digest": rec.digest,
        "state": "running",
        "created_at": long_ago,
        "updated_at": long_ago,
    }
    stopped = StudioJob(**common, heartbeat_at=long_ago)
    alive = StudioJob(**common, heartbeat_at=utcnow() + dt.timedelta(hours=1))
    db_session.add_all([stopped, alive])
    db_session.commit()
    sweeper = app.extensions["hub.job_sweeper"]
    sweeper._last = None  # the start-up sweep was a minute ago
    author_client.get("/policies")
    assert job_row(db_session, stopped.id).state == "failed"
    # Three hours old, still beating: never shown failed (no 10-minute rule).
    view = author_client.get(f"/policies/jobs/{alive.id}.json").get_json()
    assert view["state"] == "running" and not view["finished"]
    # The text changed since the failed run: it is not run again.
    page = html(author_client.get(f"/policies/jobs/{stopped.id}"))
    assert "The run failed" in page


def test_job_pages_show_results_a_page_at_a_time(author_client, db_session):
    new_draft(author_client)
    rec = record(db_session, "2026.2")
    job = run_specs(author_client, db_session, "2026.2", text=studio.raise_kyc(rec.text))
    scenarios = job.result["scenarios"]
    assert len(scenarios) > PAGE_SIZE
    view = author_client.get(f"/policies/jobs/{job.id}.json").get_json()
    results = view["results"]
    assert results["page"] == 1 and results["total"] == len(scenarios)
    assert len(results["items"]) == PAGE_SIZE
    assert [s["status"] for s in results["items"][:3]] == ["failed"] * 3  # failed first
    last = author_client.get(f"/policies/jobs/{job.id}.json?page={results['pages']}").get_json()
    assert len(last["results"]["items"]) == len(scenarios) - PAGE_SIZE * (results["pages"] - 1)
    page = html(author_client.get(f"/policies/jobs/{job.id}"))
    assert page.count('<li class="passed">') + page.count('<li class="failed">') == PAGE_SIZE
    assert f"Page 1 of {results['pages']}" in page and 'rel="next"' in page
    assert "3 of " in page and "expected met, got not_met" in page


def test_impact_rows_come_a_page_at_a_time_and_the_csv_holds_every_one(
    author_client, db_session, population
):
    new_draft(author_client)
    done = run_impact(author_client, db_session, "2026.2")
    row = studio.stored_rows(db_session, done)[0]
    run = db_session.get(ImpactRun, done.result["run"])
    assert run is not None
    big_run = ImpactRun(**{**run.model_dump(), "id": None, "job_id": None})
    db_session.add(big_run)
    db_session.commit()
    db_session.add_all(
        ImpactRowRecord(
            run_id=big_run.id,
            chunk=0,
            company_id=i,
            label=f"Company {i:03d}",
            changed=True,
            row={**row, "key": f"{i:012d}", "label": f"Company {i:03d}", "changed": True},
        )
        for i in range(250)
    )
    big = StudioJob(
        kind="impact",
        policy_id=done.policy_id,
        version=done.version,
        digest=done.digest,
        state="done",
        result={**done.result, "run": big_run.id},
    )
    db_session.add(big)
    db_session.commit()
    page = html(author_client.get(f"/policies/jobs/{big.id}?page=3"))
    assert page.count("Company ") == 50 and "Company 249" in page and "Company 199" not in page
    assert "Page 3 of 3" in page
    view = author_client.get(f"/policies/jobs/{big.id}.json?page=2").get_json()
    assert [r["label"] for r in view["results"]["items"]][:1] == ["Company 100"]
    # Rows are read in the order of the companies' names, a page of them at a time.
    response = author_client.get(f"/policies/jobs/{big.id}.csv")
    assert response.is_streamed
    lines = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert len(lines) == 251 and lines[-1][0] == f"{249:012d}"


@pytest.mark.parametrize("value", ["0", "-1", "soon", "nan", "3601"])
def test_a_heartbeat_setting_that_is_no_number_of_seconds_refuses_start_up(tmp_path, value):
    from hub.config import ConfigError, load_settings

    with pytest.raises(ConfigError, match="HUB_JOB_HEARTBEAT_SECONDS must be a number"):
        load_settings(tmp_path, {"HUB_JOB_HEARTBEAT_SECONDS": value})


def test_a_new_database_before_its_schema_is_not_a_warning(tmp_path, caplog):
    """`hub demo` builds its app before it migrates a new database: the start-up sweep of
    stopped jobs finds no table, which is expected, not a warning with an SQL error."""
    import logging

    from hub import create_app

    url = f"sqlite:///{tmp_path / 'new.sqlite'}"
    with caplog.at_level(logging.WARNING, logger="hub.studio.jobs"):
        app = create_app({"DATABASE_URL": url, "TESTING": True})
    assert app is not None
    assert not [r for r in caplog.records if "not checked" in r.getMessage()]
