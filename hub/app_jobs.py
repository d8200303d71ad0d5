"""The app's studio jobs: the Flask glue of ``hub.studio.jobs``' heartbeat and sweeper.

``init_app`` fails, at start-up, every running job whose process stopped (its heartbeat
is older than ``STALE_BEATS`` beats of ``JOB_HEARTBEAT_SECONDS``, from
``HUB_JOB_HEARTBEAT_SECONDS``, and than the time the task queue may take to give the
job to another worker: ``hub.tasks.takeover_time``) and keeps a sweeper on the app
that studio pages run at most once a minute (:func:`sweep`). Services never import
this module.
"""

from __future__ import annotations

from flask import Flask, current_app

from hub.db import get_engine
from hub.studio.jobs import HEARTBEAT_SECONDS, StoppedJobSweeper
from hub.tasks import takeover_time

EXTENSION_KEY = "hub.job_sweeper"


def init_app(app: Flask) -> None:
    """Hold a :class:`StoppedJobSweeper` on the app and sweep once (start-up)."""
    sweeper = StoppedJobSweeper(
        get_engine(app),
        heartbeat_seconds=heartbeat_seconds(app),
        grace=takeover_time(app.config, heartbeat_seconds(app)),
    )
    app.extensions[EXTENSION_KEY] = sweeper
    sweeper.maybe_sweep()


def heartbeat_seconds(app: Flask | None = None) -> float:
    """Seconds between two heartbeats of a job run by this app."""
    app = app or current_app
    return float(app.config.get("JOB_HEARTBEAT_SECONDS") or HEARTBEAT_SECONDS)


def sweep() -> list[int]:
    """Fail the current app's stopped jobs, at most once a minute; their ids."""
    sweeper: StoppedJobSweeper = current_app.extensions[EXTENSION_KEY]
    return sweeper.maybe_sweep()
