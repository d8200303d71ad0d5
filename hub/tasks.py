"""Background work on a task queue: Celery, one Celery app per Flask app.

Flask's documented pattern ("Background Tasks with Celery"): ``init_app`` builds a
Celery app from the Flask config, whose tasks run inside the Flask app's context,
and keeps it in ``app.extensions["celery"]``. ``hub serve`` only sends tasks;
``hub worker`` (``run_worker``) runs them, on any machine that reaches the broker
and the database.

The broker is ``BROKER_URL`` (``HUB_BROKER_URL``): Redis in production
(``redis://host:6379/0``). Without one, the embedded broker is kombu's filesystem
transport in the instance folder (``instance/queue/``), which needs no server:
``hub demo`` starts one worker process beside the web server on it (the README
says why this transport and not kombu's SQLAlchemy one).

Every task is acknowledged late and rejected back to the queue when its worker is
lost, and a worker takes one message at a time: a worker killed in the middle of a
task leaves the task to another worker (on Redis, once the visibility timeout
``HUB_BROKER_VISIBILITY_TIMEOUT`` has passed). The tasks are thin shells: they
give the engine, the clock and the catalogue of their Flask app to a use case of
``hub.studio.attempts``, which makes them idempotent.
"""

from __future__ import annotations

import datetime as dt
import gc
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from celery import Celery, Task, shared_task
from celery.schedules import crontab
from flask import Flask, current_app
from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.json import dumps

from hub import app_mail
from hub.app_catalogue import catalogue
from hub.app_clock import app_clock
from hub.db import get_engine, session_scope
from hub.services import notifications, outbox
from hub.services.watch import run_watch
from hub.studio import attempts, impact_runs
from hub.studio.jobs import HEARTBEAT_SECONDS, stale_after

log = logging.getLogger(__name__)

EXTENSION = "celery"

#: The task that runs a recorded studio job (a spec run or an impact analysis).
RUN_STUDIO_JOB = "hub.studio.run_job"

#: The task that analyses one chunk of an impact analysis (``hub.studio.impact_runs``).
RUN_IMPACT_CHUNK = "hub.studio.impact_chunk"

#: The daily watch (``hub.services.watch.run_watch``), sent by Celery beat.
RUN_WATCH = "hub.watch.run"

#: When beat sends the daily watch: every day at this hour and minute of the hub's zone.
WATCH_HOUR, WATCH_MINUTE = 6, 0

#: Sends one stored e-mail through SMTP (``hub.services.outbox.deliver``).
DELIVER_MAIL = "hub.mail.deliver"

#: Hands every pending e-mail that is due to the workers; beat sends it every minute.
SEND_DUE_MAIL = "hub.mail.send_due"

#: The administrators' daily digest (``hub.services.notifications.send_digest``).
RUN_DIGEST = "hub.notifications.digest"

#: When beat sends the digest: after the watch, so it counts the warnings of the day.
DIGEST_HOUR, DIGEST_MINUTE = 7, 0

#: How often the embedded broker's worker looks for new messages (seconds).
EMBEDDED_POLLING_INTERVAL = 0.1


class EmbeddedTransport(filesystem.Transport):
    """kombu's filesystem transport, each message written whole before a worker can see it.

    kombu writes a message file in place (open, then write), so a worker polling at that
    moment can take the empty file and fail to decode it (kombu issue #1551): the
    message is lost. Here it is written under a name no worker takes, then renamed into
    place, which is atomic on one file system.
    """

    class Channel(filesystem.Channel):
        # (kombu's own stubs disagree on the name of the argument between its classes)
        def _put(self, queue: str, payload: dict[str, Any], **kwargs: Any) -> None:  # type: ignore[override]
            name = f"{round(time.monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
            final = os.path.join(self.data_folder_out, name)
            partial = final + ".partial"  # not "<queue>.msg": no worker takes it
            try:
                with open(partial, "wb") as f:
                    f.write(dumps(payload).encode())
                os.replace(partial, final)
            except OSError as exc:
                raise ChannelError(f"Cannot add file {final!r} to directory") from exc


def embedded_folders(instance_path: str | Path) -> dict[str, str]:
    """The embedded broker's folders in the instance folder (made if missing): messages
    waiting (``queue/messages``), taken (``queue/processed``, emptied as they are taken)
    and the worker's control messages (``queue/control``)."""
    base = Path(instance_path) / "queue"
    folders = {
        "data_folder_in": base / "messages",
        "data_folder_out": base / "messages",
        "processed_folder": base / "processed",
        "control_folder": base / "control",
    }
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    return {key: str(folder) for key, folder in folders.items()}


def _restore_interval(timeout: float) -> int:
    """Seconds between two looks for messages of lost workers (Redis): half the
    visibility timeout, between 1 and 10."""
    return max(1, min(10, int(timeout // 2)))


def celery_settings(config: Mapping[str, Any], instance_path: str | Path) -> dict[str, Any]:
    """Celery's settings from the Flask config (``BROKER_URL``, ``QUEUE_NAME``,
    ``BROKER_VISIBILITY_TIMEOUT``; see ``hub.config.queue_settings``).

    What makes a task survive its worker is Celery's own: late acknowledgement,
    rejection when the worker is lost, one message per worker process at a time,
    and on Redis the visibility timeout after which an unacknowledged message goes
    back to the queue. Messages are JSON only. There is no result backend: a job's
    result is its row (``StudioJob``), which every app server reads.
    """
    url = str(config.get("BROKER_URL") or "")
    queue = str(config["QUEUE_NAME"])
    timeout = float(config["BROKER_VISIBILITY_TIMEOUT"])
    options: dict[str, Any]
    if url:
        options = {
            "visibility_timeout": timeout,
            # Look for messages of lost workers every half timeout (at most every 10 s),
            # scanning each time: a short timeout then means a quick takeover.
            "unacked_restore_interval": _restore_interval(timeout),
            "unacked_restore_throttle": 1,
            # Deployments sharing one Redis keep their unacknowledged messages apart.
            "unacked_key": f"{queue}.unacked",
            "unacked_index_key": f"{queue}.unacked_index",
            "unacked_mutex_key": f"{queue}.unacked_mutex",
        }
    else:
        url = "filesystem://localhost/"
        options = {
            **embedded_folders(instance_path),
            "polling_interval": EMBEDDED_POLLING_INTERVAL,
        }
    return {
        "broker_url": url,
        "broker_transport": None if config.get("BROKER_URL") else EmbeddedTransport,
        "broker_transport_options": options,
        "broker_connection_retry_on_startup": True,
        "task_default_queue": queue,
        "control_exchange": queue,
        "event_exchange": f"{queue}.events",
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        "task_serializer": "json",
        "result_serializer": "json",
        "event_serializer": "json",
        "accept_content": ["json"],
        "task_ignore_result": True,
        "worker_hijack_root_logger": False,
        # Celery beat (``hub beat``): the daily watch at 06:00 in the hub's zone.
        "timezone": str(config.get("TIMEZONE") or "Asia/Almaty"),
        "beat_schedule": {
            "daily-watch": {
                "task": RUN_WATCH,
                "schedule": crontab(hour=WATCH_HOUR, minute=WATCH_MINUTE),
            },
            "daily-digest": {
                "task": RUN_DIGEST,
                "schedule": crontab(hour=DIGEST_HOUR, minute=DIGEST_MINUTE),
            },
            # Mails whose task was lost, or whose send failed and is due again.
            "send-due-mail": {"task": SEND_DUE_MAIL, "schedule": 60.0},
        },
    }


def takeover_time(config: Mapping[str, Any], heartbeat_seconds: float) -> dt.timedelta:
    """How long the queue may take, once a job's heartbeat is stale, to give the job of a
    lost worker to another one: on Redis the visibility timeout (and its sweep), then one
    more stale period for the task to look again. Until then no sweep fails the job."""
    wait = stale_after(heartbeat_seconds)
    if config.get("BROKER_URL"):
        timeout = float(config["BROKER_VISIBILITY_TIMEOUT"])
        wait += dt.timedelta(seconds=timeout + _restore_interval(timeout))
    return wait


def init_app(app: Flask) -> Celery:
    """Give ``app`` its Celery app (``app.extensions["celery"]``), whose tasks run inside
    ``app``'s context (Flask's documented pattern).

    Unlike Flask's example, the Celery app is not made Celery's default (or the creating
    thread's current) one. A worker looks a task up in the default app when it runs it
    (``celery.app.trace``; the worker makes its own app the default when it starts), so an
    app created later in the same process, as an in-process ``hub`` command or a second
    test app does, took over the running worker: its tasks ran in the other app's context,
    on that app's engine and database (a connection of that engine, disposed already, was
    left open to the garbage collector). Tasks are sent through ``celery_of(app)``, never
    through the default app.
    """

    class FlaskTask(Task):
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            with app.app_context():
                return self.run(*args, **kwargs)

    celery: Celery = Celery(app.name, task_cls=FlaskTask, set_as_current=False)
    celery.config_from_object(celery_settings(app.config, app.instance_path))
    app.extensions[EXTENSION] = celery
    return celery


def celery_of(app: Flask) -> Celery:
    """The Celery app of ``app``."""
    found: Celery = app.extensions[EXTENSION]
    return found


def dispatcher(app: Flask) -> Callable[[int], None]:
    """What sends a recorded studio job to the queue (``start_job``'s ``dispatch``)."""
    task = celery_of(app).tasks[RUN_STUDIO_JOB]

    def dispatch(job_id: int) -> None:
        task.apply_async(args=(job_id,))

    return dispatch


def chunk_dispatcher(app: Flask) -> impact_runs.ChunkDispatch:
    """What sends one chunk of an impact analysis to the queue (any worker analyses it)."""
    task = celery_of(app).tasks[RUN_IMPACT_CHUNK]

    def dispatch(run_id: int, number: int) -> None:
        task.apply_async(args=(run_id, number))

    return dispatch


def deliver_dispatcher(app: Flask) -> Callable[[int], None]:
    """What sends one stored e-mail to the queue (a worker sends it through SMTP)."""
    task = celery_of(app).tasks[DELIVER_MAIL]

    def dispatch(message_id: int) -> None:
        task.apply_async(args=(message_id,))

    return dispatch


@shared_task(name=DELIVER_MAIL)
def deliver_mail(message_id: int) -> str:
    """Send stored e-mail ``message_id`` through SMTP (``hub.services.outbox.deliver``):
    ``sent``, ``failed`` (kept pending with the error; the sweep tries it again once its
    wait is over), ``busy`` or ``done``. Idempotent: a message delivered twice is sent
    once (claimed by a conditional UPDATE). A worker without ``HUB_SMTP_URL`` leaves the
    message pending (``no smtp``) for one that has it."""
    if not app_mail.smtp_configured():
        log.warning("mail %s: this worker has no HUB_SMTP_URL; left pending", message_id)
        return "no smtp"
    outcome = outbox.deliver(
        get_engine(), message_id, mailer=app_mail.MailmanMailer(), clock=app_clock()
    )
    if outcome == "failed":
        log.warning("mail %s not sent; it is tried again later", message_id)
    return outcome


@shared_task(name=SEND_DUE_MAIL)
def send_due_mail() -> int:
    """Hand every pending e-mail that is due (never sent, or its wait after a failure
    over) to the workers, at most ``outbox.SWEEP_LIMIT`` a run. Returns how many."""
    if not app_mail.smtp_configured():
        return 0
    with session_scope() as session:
        ids = outbox.due_messages(session, now=app_clock().now())
    dispatch = deliver_dispatcher(current_app)
    for message_id in ids:
        dispatch(message_id)
    return len(ids)


@shared_task(name=RUN_DIGEST)
def run_digest(as_of: str | None = None) -> dict[str, Any]:
    """The administrators' daily digest on ``as_of`` (YYYY-MM-DD; default: the hub's
    today); once a day whatever the deliveries. Returns what it said."""
    clock = app_clock()
    day = dt.date.fromisoformat(as_of) if as_of else clock.today()
    made = app_mail.notifier()
    with session_scope() as session:
        digest = notifications.send_digest(session, made, as_of=day)
        session.commit()
    app_mail.send_queued(made)
    return {"as_of": day.isoformat(), "recipients": digest.recipients, "waiting": digest.waiting,
            "new": digest.new, "at_risk": digest.at_risk, "opened": digest.opened}  # fmt: skip


@shared_task(name=RUN_IMPACT_CHUNK)
def run_impact_chunk(run_id: int, number: int) -> str:
    """Analyse chunk ``number`` of impact run ``run_id`` unless it is done or another
    worker runs it (``hub.studio.impact_runs.run_chunk``: claimed by a conditional
    UPDATE, stored once). A worker killed in the middle leaves the chunk to the
    process driving the run, which puts it back once its heartbeat stops."""
    done = impact_runs.run_chunk(get_engine(), run_id, number)
    return "done" if done is not None else "nothing to do"


@shared_task(name=RUN_WATCH)
def run_daily_watch(as_of: str | None = None) -> dict[str, Any]:
    """Run the daily watch (``hub.services.watch.run_watch``) on ``as_of`` (YYYY-MM-DD;
    default: the hub's today), telling each company of the warnings opened, and return its
    summary. Idempotent: a second run on a day stores and tells nothing new, so a message
    delivered twice does no harm."""
    clock = app_clock()
    day = dt.date.fromisoformat(as_of) if as_of else clock.today()
    made = app_mail.notifier()
    summary = run_watch(
        get_engine(), registry=catalogue().registry(), as_of=day, clock=clock, notifier=made
    )
    app_mail.send_queued(made)
    log.info("daily watch as of %s: %s", day, summary.to_dict())
    return summary.to_dict()


@shared_task(bind=True, name=RUN_STUDIO_JOB)
def run_studio_job(self: Task, job_id: int) -> str:
    """Run a recorded studio job if it is still to run (see ``hub.studio.attempts.run_job``).

    A job that another worker runs with a live heartbeat is looked at again later; an
    attempt that failed for a reason that may pass is tried again after
    ``JOB_RETRY_DELAY`` seconds, until ``JOB_ATTEMPTS`` attempts have failed (then the
    job is failed with the reason). Returns what happened (``done``, ``failed``,
    ``finished``, ``gone``).
    """
    config = current_app.config
    beat = float(config.get("JOB_HEARTBEAT_SECONDS") or HEARTBEAT_SECONDS)
    try:
        outcome = attempts.run_job(
            get_engine(),
            clock=app_clock(),
            registry=catalogue().registry,
            job_id=job_id,
            max_attempts=int(config["JOB_ATTEMPTS"]),
            heartbeat_seconds=beat,
            # With a broker of its own the deployment's workers share an impact analysis.
            fan_out=chunk_dispatcher(current_app) if config.get("BROKER_URL") else None,
        )
    except attempts.JobBusy as busy:
        log.info("studio job %s: %s; looking again in %.0f s", job_id, busy, busy.retry_in)
        raise self.retry(countdown=busy.retry_in, max_retries=None) from None
    except attempts.AttemptFailed as failed:
        log.warning("studio job %s: %s; trying again", job_id, failed)
        raise self.retry(countdown=float(config["JOB_RETRY_DELAY"]), max_retries=None) from None
    prune_impact_rows(current_app)
    return outcome


def prune_impact_rows(app: Flask) -> list[int]:
    """Delete the company rows of the studio's finished impact analyses beyond what the
    settings keep (``HUB_IMPACT_KEEP_RUNS``, ``HUB_IMPACT_ROWS_MAX_AGE_DAYS``; see
    ``hub.studio.impact_runs.prune_rows``), after every studio job a worker runs: the
    table holds the rows of a bounded number of analyses. Returns the runs pruned; a
    failure is logged, never the job's."""
    days = float(app.config.get("IMPACT_ROWS_MAX_AGE_DAYS") or 0)
    try:
        return impact_runs.prune_rows(
            get_engine(app),
            keep_runs=int(app.config.get("IMPACT_KEEP_RUNS") or impact_runs.KEEP_RUNS),
            max_age=dt.timedelta(days=days) if days > 0 else None,
        )
    except Exception:  # the job is done; the rows wait for the next prune
        log.exception("pruning old impact rows failed")
        return []


def run_worker(app: Flask, *, concurrency: int, loglevel: str = "INFO") -> None:
    """Run a worker of ``app``'s queue in this process until it is stopped (SIGTERM or
    Ctrl+C finish the task in hand first). One job at a time runs in the process
    itself; more run in as many child processes (Celery's prefork pool), each with a
    connection pool of its own."""
    celery = celery_of(app)
    if concurrency > 1:
        from celery.signals import worker_process_init

        def fresh_connections(**_: Any) -> None:
            # A child must not reuse the connections its parent opened (SQLAlchemy's advice).
            get_engine(app).dispose(close=False)

        worker_process_init.connect(fresh_connections, weak=False)
    # What the worker holds from here on (modules, the app; its children inherit it) is
    # left out of the cycle collector's full passes, which walked all of it again and
    # again while a task made and dropped objects (gc.freeze: Python's advice for
    # long-lived processes). Measured on an impact analysis: 0.79 -> 0.26 CPU-s of
    # collection per 50,000 companies, of 5.5.
    gc.collect()
    gc.freeze()
    celery.worker_main(
        [
            "worker",
            f"--concurrency={concurrency}",
            f"--pool={'prefork' if concurrency > 1 else 'solo'}",
            f"--loglevel={loglevel}",
            # Unique per process, so several workers may run on one machine.
            f"--hostname={app.config['QUEUE_NAME']}.{os.getpid()}@{socket.gethostname()}",
            "--without-gossip",
            "--without-mingle",
        ]
    )


def beat_schedule_file(app: Flask) -> Path:
    """Where beat keeps the state of its schedule (the last time each task was sent)."""
    return Path(app.instance_path) / "celerybeat-schedule"


def run_beat(app: Flask, *, loglevel: str = "INFO") -> None:
    """Run Celery beat for ``app`` in this process until it is stopped (SIGTERM or
    Ctrl+C): it sends the periodic tasks on schedule (``beat_schedule``: the daily
    watch), which workers run. Its state is kept in ``beat_schedule_file``, so a beat
    started again does not send a task twice in one period. Celery's documentation:
    exactly one beat per deployment, as a process of its own (not inside a worker,
    whose beat child would outlive a worker killed outright)."""
    celery_of(app).Beat(schedule=str(beat_schedule_file(app)), loglevel=loglevel, quiet=True).run()
