"""`hub policy import | export | impact`: the policy studio's database-backed commands.

Registered onto the `hub policy` group at the end of hub/commands/policy.py.
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from hub.cli import with_app, with_app_not_importing
from hub.commands import policy_file
from hub.policy import Policy
from hub.policy.impact import rows_to_csv

if TYPE_CHECKING:
    from flask import Flask
    from sqlalchemy.engine import Engine

    from hub.studio.jobs import ImpactPlan


@click.command("import")
@click.option(
    "--dir",
    "directory",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder of policy files (default: HUB_POLICY_DIR or the shipped policies/).",
)
@with_app_not_importing
def import_(directory: Path | None, app: Flask) -> None:
    """Store the policy folder's files as published versions (safe to run again).

    The app and every command reading the catalogue also do this at start-up. A
    file whose version number is stored with another text (published, retired, or
    a draft of that number) is refused, with what to do: exit 1, and nothing of
    the folder is stored.
    """
    from hub.db import session_scope
    from hub.studio.versions import import_files

    with session_scope(app) as session:
        report = import_files(session, directory or app.config["POLICY_DIR"])
        if report.refused:
            session.rollback()
    for line in report.refused:
        click.echo(f"error: {line}", err=True)
    if report.refused:
        click.echo(
            f"nothing imported: {len(report.refused)} file(s) refused"
            + (f" ({len(report.added)} new version(s) held back)" if report.added else "")
        )
        sys.exit(1)
    for name in report.added:
        click.echo(f"imported  {name}")
    for name in report.unchanged:
        click.echo(f"unchanged {name}")
    click.echo(f"{len(report.added)} imported, {len(report.unchanged)} already stored, 0 refused")


@click.command("export")
@click.argument("version")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write DIR/policies/<id>/VERSION.yaml and DIR/features/<id>/vVERSION/*.feature "
    "(default: the policy folder and the features/ folder themselves).",
)
@with_app_not_importing
def export(version: str, out: Path | None, app: Flask) -> None:
    """Write a stored VERSION back to a policy file, and its scenarios beside the others."""
    from hub.db import session_scope
    from hub.services.errors import DomainError
    from hub.studio.drafts import get_record
    from hub.studio.versions import export_version

    with session_scope(app) as session:
        try:
            record = get_record(session, version)
        except DomainError as exc:
            raise click.ClickException(exc.message) from None
        if out is None and record.state == "draft":
            raise click.ClickException(
                f"{version} is a draft: a file in the policy folder would be served as a "
                "version. Export it elsewhere with --out DIR, or publish it first."
            )
        if out is None:
            written = export_version(record, app.config["POLICY_DIR"], app.config["FEATURES_DIR"])
        else:
            written = export_version(record, out / "policies", out / "features")
    for path in written:
        click.echo(f"wrote {path}")


def _candidate(ref: str, app: Flask) -> Policy:
    from hub.app_catalogue import catalogue
    from hub.db import session_scope
    from hub.services.errors import DomainError, NotFound
    from hub.studio.drafts import compiled_policy, get_record

    found = policy_file(ref)
    if found is not None:
        return found
    with session_scope(app) as session:
        try:
            return compiled_policy(get_record(session, ref))
        except DomainError as exc:
            if not isinstance(exc, NotFound):
                raise click.ClickException(exc.message) from None
    try:
        return catalogue().registry().get(ref)
    except LookupError as exc:
        raise click.ClickException(str(exc.args[0])) from None


@click.command("impact")
@click.argument("candidate")
@click.option(
    "--against",
    help="Compare with this version (a draft, a version or a policy file) instead of the "
    "version otherwise in force on the as-of date.",
)
@click.option(
    "--as-of",
    "as_of",
    help="Assess both sides as of this date, YYYY-MM-DD (default: the candidate's effective "
    "date, or today when that is past); the baseline is the version in force on it.",
)
@click.option("--csv", "csv_out", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write one CSV line per company here.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the whole report as JSON.")
@click.option("--all", "show_all", is_flag=True, help="List every company, not only changes.")
@click.option(
    "--limit",
    type=click.IntRange(0, None),
    default=1_000,
    show_default=True,
    help="Companies listed at most, by name (0: all of them); --csv and --json always "
    "hold every company.",
)
@click.option(
    "--chunk-size",
    type=click.IntRange(1, 100_000),
    default=1_000,
    show_default=True,
    help="Companies analysed at a time (by one worker, or by this process).",
)
@with_app
def impact(
    candidate: str,
    against: str | None,
    as_of: str | None,
    csv_out: Path | None,
    as_json: bool,
    show_all: bool,
    limit: int,
    chunk_size: int,
    app: Flask,
) -> None:
    """Who changes if CANDIDATE (a draft, a version or a policy file) is applied.

    Re-assesses the latest decided filing of every company under the version that
    would otherwise be in force on the as-of date (or --against) and under
    CANDIDATE, both as of that date, a chunk of companies at a time: on the task
    queue's workers when HUB_BROKER_URL is set, in this process otherwise. Exit 1
    when no version is in force on it.
    """
    from hub.app_catalogue import catalogue
    from hub.app_clock import app_clock
    from hub.db import get_engine
    from hub.policy.filing import DATE_RE
    from hub.services.errors import Invalid
    from hub.studio import impact_runs
    from hub.studio.jobs import plan_impact
    from hub.tasks import chunk_dispatcher

    day: dt.date | None = None
    if as_of is not None:
        try:
            if not DATE_RE.match(as_of):
                raise ValueError(as_of)
            day = dt.date.fromisoformat(as_of)
        except ValueError:
            raise click.BadParameter(
                f"{as_of[:40]!r} is not a date: write it as YYYY-MM-DD", param_hint="--as-of"
            ) from None
    policy = _candidate(candidate, app)
    base = _candidate(against, app) if against else None
    try:
        plan = plan_impact(
            catalogue().registry(), policy, today=app_clock(app).today(), as_of=day, against=base
        )
    except Invalid as exc:
        hint = " (or name a version with --against)" if as_of else " (--as-of D or --against V)"
        raise click.ClickException(exc.message + hint) from None
    engine = get_engine(app)
    queued = bool(app.config.get("BROKER_URL"))
    run_id = impact_runs.plan_run(
        engine,
        candidate=policy,
        against=plan.against,
        as_of=plan.as_of,
        chunk_size=chunk_size,
        keep_unchanged=bool(show_all or csv_out or as_json),
    )
    # The run is this command's own: however the command ends (printed, Ctrl+C, SIGTERM,
    # no worker answering), it is deleted with its chunks and rows, so nothing is left
    # "running" and the workers skip the chunks still queued (nothing left to claim).
    try:
        stopped: BaseException | None = None
        try:
            with _stop_on_signals() as check:
                impact_runs.work(
                    engine,
                    run_id,
                    # With a broker the workers analyse the chunks; this process waits.
                    dispatch=chunk_dispatcher(app) if queued else None,
                    help=not queued,
                    progress=lambda _: check(),
                    timeout=float(app.config["BROKER_VISIBILITY_TIMEOUT"]) if queued else None,
                )
                result = impact_runs.finish(engine, run_id)
                _print_impact(
                    result, engine, policy, plan, csv_out, as_json, show_all, limit, check
                )
        except (KeyboardInterrupt, SystemExit) as stop:
            # Stopped in the middle of a statement (a second Ctrl+C), the connection
            # running it is left alone by the pool (closing it could block) and its
            # transaction, on SQLite its lock, lives as long as the frames of the
            # interrupted call: they are dropped (the exception goes on without them)
            # and collected, so the run below can be deleted.
            stopped = stop.with_traceback(None)
            stopped.__context__ = None
        if stopped is not None:
            gc.collect()
            raise stopped
    finally:
        engine.dispose()
        impact_runs.delete_run(engine, run_id)


@contextmanager
def _stop_on_signals() -> Iterator[Callable[[], None]]:
    """SIGTERM and Ctrl+C (SIGINT) ask the command to stop; it stops at the next safe
    point, where the check this yields is called (after a chunk, at each poll, every
    thousand rows printed), with ``SystemExit`` 128 + the signal's number (143, 130):
    never in the middle of a database statement, whose connection would be left busy
    (psycopg: "another command is already in progress"). A second signal stops it at
    once. In the main thread only; elsewhere (tests calling the command) the signals
    stay as they are and the check never stops anything."""
    asked: list[int] = []

    def check() -> None:
        if asked:
            raise SystemExit(128 + asked[0])

    if threading.current_thread() is not threading.main_thread():
        yield check
        return

    def ask(signum: int, _frame: object) -> None:
        if asked:  # asked twice: at once
            raise SystemExit(128 + signum)
        asked.append(signum)

    previous = {n: signal.signal(n, ask) for n in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield check
    finally:
        for n, handler in previous.items():
            signal.signal(n, handler)


def _print_impact(
    data: dict[str, Any],
    engine: Engine,
    policy: Policy,
    plan: ImpactPlan,
    csv_out: Path | None,
    as_json: bool,
    show_all: bool,
    limit: int = 0,
    check: Callable[[], None] = lambda: None,
) -> None:
    """What ``impact`` prints: the rows are read from the run a batch at a time; the
    text lists at most ``limit`` companies (0: all), the CSV and the JSON every one.
    ``check`` is called every thousand rows (where the command may stop)."""
    from hub.studio import impact_runs

    run_id = data["run"]
    skipped: list[str] = data["skipped"]
    with engine.connect() as conn:
        if csv_out:
            with csv_out.open("w", encoding="utf-8", newline="") as out:
                out.write(rows_to_csv([]))
                batch: list[dict[str, Any]] = []
                for row in impact_runs.rows(conn, run_id, changed_only=False):
                    batch.append(row)
                    if len(batch) == 500:
                        out.write(rows_to_csv(batch).partition("\r\n")[2])
                        batch = []
                        check()
                out.write(rows_to_csv(batch).partition("\r\n")[2])
        if as_json:
            head = {k: v for k, v in data.items() if k not in ("run", "rows_stored")}
            text = json.dumps({**head, "rows": []}, ensure_ascii=False, indent=2)
            click.echo(text[: text.rindex("[]")] + "[", nl=False)
            for n, row in enumerate(impact_runs.rows(conn, run_id, changed_only=False)):
                if n % 1_000 == 999:
                    check()
                click.echo(("," if n else "") + "\n    " + json.dumps(row, ensure_ascii=False),
                           nl=False)  # fmt: skip
            click.echo("\n  ]\n}")
            return
        t = data["totals"]
        click.echo(
            f"Impact of {policy.id} {policy.version} on {t['companies']} companies: "
            f"{policy.version} against {plan.against.version}, both as of "
            f"{plan.as_of.isoformat()}"
        )
        why = (
            "named with --against"
            if plan.named
            else f"the version otherwise in force on {plan.as_of.isoformat()}"
        )
        click.echo(f"  {plan.against.version}: {why}")
        click.echo(f"  {t['changed']} change, {t['tier_changes']} change tier")
        click.echo(
            f"  estimated annual savings: {t['saving_before']:,.2f} -> "
            f"{t['saving_after']:,.2f} KZT ({t['saving_change']:+,.2f})"
        )
        click.echo(f"{'Tiers (cumulative)':<28}gaining  losing")
        for tier, n in t["tiers"].items():
            click.echo(f"  {tier:<26}{n['gaining']:>7}{n['losing']:>8}")
        click.echo(f"{'Benefits':<28}gaining  losing")
        for benefit, n in t["benefits"].items():
            click.echo(f"  {benefit:<26}{n['gaining']:>7}{n['losing']:>8}")
        listed = impact_runs.rows(conn, run_id, changed_only=not show_all, limit=limit or None)
        shown = 0
        first = True
        lines: list[str] = []  # echoed a thousand at a time, not one by one
        for r in listed:
            if first:
                lines.append("Companies:" if show_all else "Companies that change:")
                first = False
            flips = ", ".join(f"{f['criterion']} {f['before']}->{f['after']}" for f in r["flipped"])
            gained = " ".join("+" + b for b in r["gained_benefits"])
            lost = " ".join("-" + b for b in r["lost_benefits"])
            lines.append(
                f"  {r['key']} {r['label']}: {r['before']['tier'] or 'none'} -> "
                f"{r['after']['tier'] or 'none'} {gained} {lost}".rstrip()
            )
            if flips:
                lines.append(f"      flipped: {flips}")
            if r["after"]["error"]:
                lines.append(f"      {r['after']['error']}")
            shown += 1
            if len(lines) >= 1_000:
                check()
                click.echo("\n".join(lines))
                lines = []
        listable = data["rows_stored"] if show_all else t["changed"]
        if limit and listable > shown:
            lines.append(
                f"  ... and {listable - shown:,} more (--limit 0 lists them all; --csv FILE "
                "writes every company)"
            )
        if lines:
            click.echo("\n".join(lines))
    for line in skipped:
        click.echo(f"  left out: {line}", err=True)
    if data["chunks_taken_over"]:
        click.echo(
            f"  {data['chunks_taken_over']} chunk(s) of companies were analysed again: the "
            "worker running them stopped",
            err=True,
        )
    more = data["skipped_count"] - len(skipped)
    if more > 0:
        click.echo(f"  left out: {more} more companies decided under another policy", err=True)


def _register() -> None:
    from hub.commands.policy import policy

    for command in (import_, export, impact):
        policy.add_command(command)


_register()
