"""The ``hub`` command line: database, users, demo data, serving.

Every command that touches the database builds the app with ``create_app()``
(so it reads the same ``HUB_*`` settings as the server) and runs inside its
app context.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click

if TYPE_CHECKING:  # Flask is imported when an app is made: `hub assess` starts faster
    from flask import Flask

F = TypeVar("F", bound=Callable[..., Any])


@contextmanager
def app_context(config: dict[str, Any] | None = None) -> Iterator[Flask]:
    """The app built from the environment (``config`` overrides settings), with its
    context pushed. A setting or a policy folder it cannot start with ends the command
    with the reason (exit 1)."""
    from hub import create_app
    from hub.config import ConfigError
    from hub.policy import PolicyError

    try:
        app = create_app(config)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    except PolicyError as exc:
        problems = "\n  ".join(exc.errors)
        raise click.ClickException(f"the policy folder does not load:\n  {problems}") from exc
    try:
        with app.app_context():
            yield app
    finally:
        from hub.db import get_engine

        # Close pooled connections now rather than at garbage collection.
        get_engine(app).dispose()


def with_app(command: F) -> F:
    """Run the command inside an app context; the app is passed as ``app``."""

    @wraps(command)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        with app_context() as app:
            return command(*args, app=app, **kwargs)

    return cast(F, wrapped)


def with_app_not_importing(command: F) -> F:
    """``with_app`` for commands that must work while the policy folder is refused (a
    shipped file edited in place): the app is built without importing the folder, its
    catalogue is the database's alone."""

    @wraps(command)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        with app_context({"POLICY_IMPORT_AT_START": False}) as app:
            return command(*args, app=app, **kwargs)

    return cast(F, wrapped)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="astana-crypto-hub")
def main() -> None:
    """Astana Crypto Hub eligibility engine.

    Configuration comes from HUB_* environment variables (HUB_DATABASE_URL,
    HUB_SECRET_KEY, HUB_ENV, ...); see the README.
    """
    from hub.config import ConfigError, check_environment

    try:
        check_environment()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


# --- database ----------------------------------------------------------------------------


@main.group()
def db() -> None:
    """Create and migrate the database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target revision.")
@with_app
def db_upgrade(revision: str, app: Flask) -> None:
    """Apply the schema migrations (creates the schema on an empty database)."""
    from hub.db import get_engine
    from hub.storage import current_revision, upgrade_database

    upgrade_database(app.config["DATABASE_URL"], revision=revision)
    click.echo(f"Database at revision {current_revision(get_engine(app))}.")


@db.command("current")
@with_app
def db_current(app: Flask) -> None:
    """Print the schema revision the database is at."""
    from hub.db import get_engine
    from hub.storage import current_revision

    click.echo(current_revision(get_engine(app)) or "empty (no migrations applied)")


# --- users ---------------------------------------------------------------------------------


@main.group()
def users() -> None:
    """Manage accounts."""


@users.command("create")
@click.option(
    "--role", type=click.Choice(["admin", "author", "company"]), required=True, help="Role."
)
@click.option("--email", required=True, help="Sign-in e-mail address.")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="Password (prompted for when omitted).",
)
@click.option(
    "--bin",
    "bin_",
    help="Company BIN (company users only); the user joins the company if the hub knows it.",
)
@click.option("--legal-name", help="Company legal name, when the BIN is new (company users).")
@click.option(
    "--activity",
    type=click.Choice(["exchange", "broker", "custody", "payments", "mining", "software"]),
    help="Company activity, when the BIN is new (company users).",
)
@with_app
def users_create(
    role: str,
    email: str,
    password: str,
    bin_: str | None,
    legal_name: str | None,
    activity: str | None,
    app: Flask,
) -> None:
    """Create an administrator, a policy author or a company user."""
    from sqlmodel import select

    from hub.auth.passwords import MIN_PASSWORD_LENGTH
    from hub.auth.service import AccountError, create_user, get_or_create_company
    from hub.db import session_scope
    from hub.models import Company

    if len(password) < MIN_PASSWORD_LENGTH:
        raise click.BadParameter(
            f"use at least {MIN_PASSWORD_LENGTH} characters", param_hint="--password"
        )
    if role == "company" and not bin_:
        raise click.UsageError("a company user needs --bin (and --legal-name for a new company)")
    if role != "company" and (bin_ or legal_name or activity):
        raise click.UsageError("--bin, --legal-name and --activity are for company users only")
    try:
        with session_scope(app) as session:
            company = None
            if bin_:
                bin_ = bin_.strip()
                _check_bin(bin_)
                company = session.exec(select(Company).where(Company.bin == bin_)).first()
                if company is None:
                    if not legal_name:
                        raise click.UsageError(f"no company with BIN {bin_}: give --legal-name")
                    company = get_or_create_company(
                        session, bin=bin_, legal_name=legal_name, activity=activity
                    )
            user = create_user(session, email=email, password=password, role=role, company=company)
            click.echo(f"Created {user.role} user {user.email} (id {user.id}).")
    except AccountError as exc:
        raise click.ClickException(exc.message) from exc


@users.command("deactivate")
@click.option("--email", required=True, help="Sign-in e-mail address of the account.")
@with_app
def users_deactivate(email: str, app: Flask) -> None:
    """Deactivate an account: it cannot sign in, every session of it ends at once (on
    every server) and its API tokens are revoked (their names are printed). Audited."""
    _set_active(app, email, active=False)


@users.command("activate")
@click.option("--email", required=True, help="Sign-in e-mail address of the account.")
@with_app
def users_activate(email: str, app: Flask) -> None:
    """Reactivate a deactivated account: it can sign in again (its old sessions and
    tokens stay revoked). Audited."""
    _set_active(app, email, active=True)


def _set_active(app: Flask, email: str, *, active: bool) -> None:
    from hub.app_clock import app_clock
    from hub.auth.service import get_user_by_email, set_active
    from hub.db import session_scope

    with session_scope(app) as session:
        user = get_user_by_email(session, email=email)
        if user is None:
            raise click.ClickException(f"there is no account {email.strip()}")
        revoked = set_active(
            session, user=user, active=active, actor=None, now=app_clock(app).now()
        )
        shown = user.email
    # Said once the change is committed.
    if active:
        click.echo(f"{shown} can sign in again.")
        return
    click.echo(f"{shown} is deactivated and signed out of every session.")
    if revoked:
        click.echo(f"API tokens revoked: {', '.join(revoked)}.")


def _check_bin(value: str) -> None:
    from hub.policy.filing import validate_bin

    if (error := validate_bin(value)) is not None:
        raise click.BadParameter(f"this BIN {error}", param_hint="--bin")


# --- demo data and serving ---------------------------------------------------------------


@main.command("seed")
@click.option(
    "--dir",
    "seed_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder of seed files (default: the project's seeds/).",
)
@with_app
def seed(seed_dir: Path | None, app: Flask) -> None:
    """Load the demo companies and filings from seeds/ (safe to run twice)."""
    from hub.app_clock import app_clock
    from hub.db import session_scope
    from hub.seeding import SeedFileError, load_seeds

    try:
        with session_scope(app) as session:
            report = load_seeds(session, seed_dir, clock=app_clock(app))
    except SeedFileError as exc:  # nothing is stored: the session is rolled back
        raise click.ClickException(str(exc)) from None
    click.echo(f"Seeded {report.companies} companies and {report.filings} filings.")


def _safe_url(url: str) -> str:
    """The database URL without its password, fit to print."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _serve(app: Flask, host: str, port: int, server: str, workers: int, threads: int) -> None:
    from hub.serving import serve

    def ready(url: str) -> None:
        # Printed only once the port is bound: a client that reads it and connects at once
        # is never refused.
        click.echo(f"Serving on {url} with {_server_text(server, workers, threads)} "
                   "(press Ctrl+C to stop)")  # fmt: skip
        sys.stdout.flush()

    try:
        serve(app, host=host, port=port, server=server, workers=workers, threads=threads,
              ready=ready)  # fmt: skip
    except OSError as exc:  # the port is taken, or the address is not this machine's
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc}") from None
    except ValueError as exc:  # gunicorn where it cannot run
        raise click.ClickException(str(exc)) from None


def _server_text(server: str, workers: int, threads: int) -> str:
    if server == "gunicorn":
        return f"gunicorn, {workers} worker process{'es' if workers != 1 else ''}"
    return f"waitress, {threads} thread{'s' if threads != 1 else ''}"


def _default_server() -> str:
    from hub.serving import default_server

    return default_server()


def _default_workers() -> int:
    from hub.serving import default_workers

    return default_workers()


def _server_options(command: F) -> F:
    """``--server``, ``--workers`` and ``--threads``, shared by ``serve`` and ``demo``.
    hub.serving (gunicorn, gevent) is imported only when one of them runs."""
    command = click.option(
        "--threads",
        default=8,
        show_default=True,
        type=click.IntRange(min=1, max=1000),
        help="waitress: threads running requests (gunicorn's gevent workers need none).",
    )(command)
    command = click.option(
        "--workers",
        type=click.IntRange(min=1, max=256),
        default=_default_workers,
        show_default="the number of CPUs",
        help="gunicorn: worker processes, each with its own app.",
    )(command)
    return click.option(
        "--server",
        type=click.Choice(["gunicorn", "waitress"]),
        default=_default_server,
        show_default="gunicorn, or waitress where gunicorn cannot run",
        help="The WSGI server.",
    )(command)


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=5000, show_default=True, type=int, help="TCP port.")
@_server_options
@with_app
def serve(host: str, port: int, server: str, workers: int, threads: int, app: Flask) -> None:
    """Serve the app with gunicorn (one worker process per CPU) or waitress.

    Connections, idle time and request head size are bounded by the HUB_SERVE_*
    settings, whichever server runs. SIGTERM or Ctrl+C stops it (and its workers).
    """
    from hub.db import get_engine
    from hub.storage import current_revision

    if current_revision(get_engine(app)) is None:
        click.echo("Warning: the database is empty; run `hub db upgrade` first.", err=True)
    _serve(app, host, port, server, workers, threads)


@main.command("worker")
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    default=None,
    help="Jobs run at once: 1 runs them in this process, more in as many child processes "
    "(default: the number of CPUs).",
)
@click.option(
    "--loglevel",
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
    default="INFO",
    show_default=True,
    help="What the worker logs.",
)
@with_app
def worker(concurrency: int | None, loglevel: str, app: Flask) -> None:
    """Run studio jobs from the task queue (HUB_BROKER_URL) until stopped.

    Start any number, on any machine that reaches the broker and the database.
    SIGTERM or Ctrl+C lets the job in hand finish; a worker killed outright leaves
    its job to another worker.
    """
    import os

    from hub.tasks import run_worker

    run_worker(app, concurrency=concurrency or os.cpu_count() or 1, loglevel=loglevel.upper())


@main.command("beat")
@click.option(
    "--loglevel",
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
    default="INFO",
    show_default=True,
    help="What beat logs.",
)
@with_app
def beat(loglevel: str, app: Flask) -> None:
    """Send the periodic tasks to the task queue on schedule until stopped (Celery beat).

    The daily watch is sent every day at 06:00 hub time (HUB_TIMEZONE), the
    administrators' digest at 07:00, and every minute the sweep that hands pending
    e-mails to the workers; a `hub worker` runs them. Run exactly one beat per
    deployment; its state is kept in the instance folder (celerybeat-schedule), so one
    started again sends nothing twice.
    """
    from hub.tasks import run_beat

    run_beat(app, loglevel=loglevel.upper())


@main.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=5000, show_default=True, type=int, help="TCP port.")
@click.option("--no-serve", is_flag=True, help="Prepare the database and accounts, then exit.")
@_server_options
@with_app
def demo(
    host: str, port: int, no_serve: bool, server: str, workers: int, threads: int, app: Flask
) -> None:
    """Create the database, load the demo data and accounts, and serve the app.

    The demo accounts' password is HUB_DEMO_PASSWORD when set, else a random
    one printed below (and not stored anywhere else).
    """
    from hub.app_clock import app_clock
    from hub.db import session_scope
    from hub.seeding import (
        CONTACT_EMAIL,
        DEMO_USERS,
        demo_password,
        ensure_company_contacts,
        ensure_demo_users,
        load_seeds,
    )
    from hub.storage import upgrade_database

    upgrade_database(app.config["DATABASE_URL"])
    # The app was built before the schema existed: store the shipped policy versions now,
    # so the studio lists them from the first page on.
    from hub.catalogue import CatalogueRefused, import_shipped
    from hub.db import get_engine

    imported = import_shipped(get_engine(app), app.config["POLICY_DIR"])
    if imported is not None and imported.refused:
        raise click.ClickException(str(CatalogueRefused(imported.refused)))
    password, generated = demo_password(app.config.get("DEMO_PASSWORD"))
    with session_scope(app) as session:
        report = load_seeds(session, clock=app_clock(app))
        ensure_demo_users(session, password)
        ensure_company_contacts(session, password)
    click.echo(f"Database ready: {_safe_url(app.config['DATABASE_URL'])}")
    click.echo(f"Demo data: {report.companies} companies and {report.filings} filings added.")
    click.echo("")
    click.echo(f"Sign in at http://{host}:{port}/login with:")
    for email, role in DEMO_USERS:
        click.echo(f"  {role.value:<8} {email:<20} password: {password}")
    click.echo(
        f"  and every other demo company's {CONTACT_EMAIL.format(bin='<BIN>')} (the same "
        "password), who read what the hub tells their company"
    )
    if generated:
        click.echo("(a random password: set HUB_DEMO_PASSWORD to choose it)")
    if not app.config.get("SMTP_URL"):
        click.echo(
            f"A company that registers at http://{host}:{port}/register confirms its account "
            "from the link of its mail, kept (no HUB_SMTP_URL) on the admin's /outbox page."
        )
    click.echo("")
    sys.stdout.flush()
    if not no_serve:
        with _demo_worker(app):
            _serve(app, host, port, server, workers, threads)


#: Seconds between two looks at the demo's worker process.
DEMO_WORKER_CHECK_SECONDS = 0.5
#: Longest wait before the demo starts a worker again that keeps dying at start-up.
DEMO_WORKER_MAX_BACKOFF_SECONDS = 30.0


@contextmanager
def _demo_worker(app: Flask) -> Iterator[None]:
    """One `hub worker` process beside the demo's web server (studio jobs and the daily
    watch run there) and one `hub beat` process (which sends the daily watch), on the
    app's broker (the embedded one unless HUB_BROKER_URL is set), stopped with it.

    A process that dies (killed, out of memory) is started again within a second, so
    the jobs a worker left (acknowledged late) and the queued ones run; one that keeps
    dying within 10 s of its start is started again after 1, 2, 4... (at most 30)
    seconds."""
    run = [sys.executable, "-m", "hub.cli"]
    worker = [*run, "worker", "--concurrency", "1", "--loglevel", "WARNING"]
    beat = [*run, "beat", "--loglevel", "WARNING"]
    with (
        _supervised(app, worker, "worker", "Studio jobs and the daily watch run in"),
        _supervised(app, beat, "beat", "Celery beat sends the daily watch (06:00 hub time) from"),
    ):
        yield


@contextmanager
def _supervised(app: Flask, command: list[str], name: str, role: str) -> Iterator[None]:
    """Run ``command`` as a child process of the demo, started again when it dies (see
    ``_demo_worker``), stopped (SIGTERM, then SIGKILL after 30 s) when the block ends.
    Prints "<role> a <name> process (pid N)." at start."""
    import os
    import subprocess
    import threading
    import time

    env = {**os.environ, "HUB_INSTANCE_PATH": app.instance_path}
    lock = threading.Lock()
    stopping = threading.Event()
    process = subprocess.Popen(command, env=env)
    click.echo(f"{role} a {name} process (pid {process.pid}).")

    def watch() -> None:
        nonlocal process
        started, backoff = time.monotonic(), 0.5
        while not stopping.wait(DEMO_WORKER_CHECK_SECONDS):
            with lock:
                # gunicorn's master reaps every child: poll() then says 0 (ECHILD).
                if process.poll() is None:
                    continue
                code = process.returncode
            lived = time.monotonic() - started
            backoff = 0.5 if lived >= 10 else min(backoff * 2, DEMO_WORKER_MAX_BACKOFF_SECONDS)
            if lived < 10 and stopping.wait(backoff):
                return
            with lock:
                if stopping.is_set():
                    return
                process = subprocess.Popen(command, env=env)
                started = time.monotonic()
            click.echo(
                f"The {name} process stopped (exit status {code}); started another "
                f"(pid {process.pid}).",
                err=True,
            )

    watcher = threading.Thread(target=watch, name=f"demo-{name}-watch", daemon=True)
    watcher.start()
    # The server stops on SIGTERM by SystemExit (waitress: hub.serving's handler;
    # gunicorn: its own), so the process is stopped too.
    try:
        yield
    finally:
        stopping.set()
        watcher.join()
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- commands of the domain core ----------------------------------------------------------

from hub.commands.assess import assess  # noqa: E402
from hub.commands.audit import audit  # noqa: E402
from hub.commands.notifications import notifications  # noqa: E402
from hub.commands.policy import policy  # noqa: E402
from hub.commands.watch import watch  # noqa: E402

main.add_command(assess)
main.add_command(audit)
main.add_command(notifications)
main.add_command(policy)
main.add_command(watch)


if __name__ == "__main__":  # python -m hub.cli
    main()
