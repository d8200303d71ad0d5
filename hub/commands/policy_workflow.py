"""`hub policy draft | approve | publish | retire`: the studio's workflow from the command line.

For authors who keep policies in files (and review them in git): the same checks and
the same audit trail as the studio (``hub.studio.publishing``), acting as the user
named by ``--by``. Exit codes: 0 done, 1 refused (the reason printed), 2 usage.

Registered onto the `hub policy` group at the end of hub/commands/policy.py.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from hub.cli import with_app

if TYPE_CHECKING:
    from flask import Flask
    from sqlmodel import Session

    from hub.models import User
    from hub.policy.registry import Period
    from hub.services.errors import DomainError

by_option = click.option(
    "--by",
    "email",
    required=True,
    metavar="EMAIL",
    help="The author or administrator doing it (their e-mail address): the audit trail names them.",
)


def _date(value: str, option: str) -> dt.date:
    """``value`` written YYYY-MM-DD in ASCII digits (``fromisoformat`` alone also reads
    ``20261215`` and the week date ``2026-W50-1``, 2026-12-07), else a usage error."""
    from hub.policy.filing import DATE_RE

    try:
        if not DATE_RE.match(value):
            raise ValueError(value)
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a date: write it as YYYY-MM-DD", param_hint=option
        ) from None


def _user(session: Session, email: str) -> User:
    """The author or administrator ``--by`` names (a usage error otherwise)."""
    from sqlmodel import func, select

    from hub.models import Role, User

    user = session.exec(select(User).where(func.lower(User.email) == email.strip().lower())).first()
    if user is None:
        raise click.BadParameter(f"there is no user {email!r}", param_hint="--by")
    if user.role not in (Role.AUTHOR.value, Role.ADMIN.value):
        raise click.BadParameter(
            f"{email} is a {user.role} user, not an author or administrator", param_hint="--by"
        )
    return user


def _refused(exc: DomainError | str, lines: Sequence[str] = ()) -> NoReturn:
    """Print the reason (every error of it) and end with exit code 1."""
    for line in lines:
        click.echo(line)
    messages = [exc] if isinstance(exc, str) else [e["message"] for e in exc.errors]
    for message in messages:
        click.echo(f"refused: {message}", err=True)
    sys.exit(1)


def _timeline(periods: list[Period]) -> list[str]:
    lines = ["Timeline:"]
    for p in periods:
        end = p.end.isoformat() if p.end else "on"
        shown = p.policy.version if p.policy else "no version (assessments refused)"
        lines.append(f"  {p.start.isoformat()} .. {end:<10}  {shown}")
    return lines


def _failures(result: dict[str, Any], limit: int = 20) -> None:
    """Print the failed scenarios of a spec run (the first ``limit``) and unreadable files."""
    failed = [r for r in result.get("scenarios", []) if r.get("status") == "failed"]
    for r in failed[:limit]:
        where = f"{r['uri']}:{r.get('failing_line') or r['line']}"
        click.echo(f"  failed: {r['name']} ({where}): {r.get('message') or ''}".rstrip(": "))
    if len(failed) > limit:
        click.echo(f"  ... and {len(failed) - limit} more")
    for error in result.get("errors", [])[:limit]:
        click.echo(f"  does not parse: {error.splitlines()[0] if error else error}")


@click.command("draft")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@by_option
@click.option(
    "--features",
    "features",
    type=click.Path(exists=True, path_type=Path),
    help="Folder (or file) of the draft's scenarios (default: features/<id>/v<VERSION>/ "
    "when it exists; else a new draft starts with its base's scenarios and an existing "
    "one keeps its own).",
)
@with_app
def draft(file: Path, email: str, features: Path | None, app: Flask) -> None:
    """Store FILE as a draft: its version and base (based_on) are read from the file.

    An existing draft of that number is saved over (a save by --by, which voids an
    approval); a published or retired number is refused (exit 1).
    """
    from hub.commands import policy_file
    from hub.db import session_scope
    from hub.services.errors import DomainError
    from hub.specs import read_features
    from hub.studio.drafts import store_file_draft
    from hub.studio.features import join_features

    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        _refused(f"{file}: cannot read it: {exc}")
    policy = policy_file(str(file))  # errors at their lines end the command (exit 1)
    assert policy is not None
    folder = features
    if folder is None:
        default = Path(app.config["FEATURES_DIR"]) / policy.id / f"v{policy.version}"
        folder = default if default.is_dir() else None
    features_text = join_features(read_features(folder)) if folder is not None else None
    with session_scope(app) as session:
        user = _user(session, email)
        try:
            record, created = store_file_draft(
                session,
                text=text,
                features_text=features_text,
                author=user,
                features_dir=app.config["FEATURES_DIR"],
            )
        except DomainError as exc:
            session.rollback()
            _refused(exc)
        scenarios = f"scenarios from {folder}" if folder else "scenarios kept from its base"
        if not created and folder is None:
            scenarios = "its scenarios kept"
        base = record.base_version or "none"
        click.echo(
            f"{'stored' if created else 'saved'} draft {record.policy_id} {record.version} "
            f"(based on {base}, revision {record.lock_version}; {scenarios})"
        )
    if not created:
        click.echo("A save voids an earlier approval: a second person approves it again.")


@click.command("approve")
@click.argument("version")
@by_option
@with_app
def approve(version: str, email: str, app: Flask) -> None:
    """Approve draft VERSION as the second person (an author or administrator who did not
    edit it): its current revision, as stored."""
    from hub.db import session_scope
    from hub.services.errors import DomainError
    from hub.studio import publishing
    from hub.studio.drafts import get_record

    with session_scope(app) as session:
        user = _user(session, email)
        try:
            record = get_record(session, version)
            publishing.approve(session, record=record, actor=user, lock_version=record.lock_version)
        except DomainError as exc:
            session.rollback()
            _refused(exc)
        job = publishing.latest_spec_result(session, record)
        specs = "no finished scenario run of this text yet"
        if job is not None and job.result:
            s = job.result["summary"]
            specs = f"latest scenario run: {s['passed']} passed, {s['failed']} failed"
        click.echo(
            f"approved {record.version} revision {record.lock_version} (digest {record.digest}) "
            f"by {user.email}; {specs}"
        )


def _impact(
    session: Session, app: Flask, record: Any, registry: Any, user: User, day: dt.date
) -> None:
    """Run and record the impact analysis of draft ``record`` as of ``day`` (the studio's
    runner, in this process) and print its summary; nothing when no other version is in
    force on ``day`` (there is nothing to compare with)."""
    from hub.app_clock import app_clock
    from hub.db import get_engine
    from hub.studio import publishing

    if publishing.replaced_on(registry, record, day) is None:
        click.echo(f"Impact of {record.version}: no other version is in force on "
                   f"{day.isoformat()}, nothing to compare with.")  # fmt: skip
        return
    job = publishing.record_impact_run(
        session,
        engine=get_engine(app),
        clock=app_clock(app),
        record=record,
        registry=registry,
        actor=user,
        as_of=day,
    )
    if job.state != "done" or not job.result:
        click.echo(f"Impact of {record.version} as of {day.isoformat()}: the analysis failed: "
                   f"{job.error}")  # fmt: skip
        return
    t = job.result["totals"]
    click.echo(
        f"Impact of {record.version} as of {day.isoformat()} against {job.against}: "
        f"{t['changed']} of {t['companies']} companies change, {t['tier_changes']} change "
        f"tier; estimated annual savings {t['saving_before']:,.2f} -> "
        f"{t['saving_after']:,.2f} KZT ({t['saving_change']:+,.2f})"
    )


@click.command("publish")
@click.argument("version")
@click.option("--effective-from", "effective_from", required=True, metavar="DATE",
              help="The first day the version applies (YYYY-MM-DD).")  # fmt: skip
@by_option
@click.option(
    "--confirm-changes",
    is_flag=True,
    help="Confirm the changes printed when the draft would replace a version other than "
    "its base (a later one) on that date.",
)
@with_app
def publish(
    version: str, effective_from: str, email: str, confirm_changes: bool, app: Flask
) -> None:
    """Run draft VERSION's scenarios and its impact analysis as of --effective-from (against
    the version otherwise in force then), then publish it from that date.

    Both runs are recorded as the studio's are, and their summaries printed.
    Refused (exit 1, every reason printed) while scenarios fail, without a second
    person's approval of the current text, for a date in the past, on or before
    decisions already made or on another version's first day, and when it would
    replace a version other than its base without --confirm-changes.
    """
    from hub.app_catalogue import catalogue
    from hub.app_clock import app_clock
    from hub.db import session_scope
    from hub.services.errors import DomainError
    from hub.studio import publishing
    from hub.studio.drafts import get_record

    day = _date(effective_from, "--effective-from")
    today = app_clock(app).today()
    with session_scope(app) as session:
        user = _user(session, email)
        try:
            record = get_record(session, version)
            registry = catalogue().registry()
            if record.state == "draft":
                job = publishing.record_spec_run(
                    session, record=record, registry=registry, actor=user
                )
                session.commit()  # the run is recorded, whatever follows
                if job.result:
                    s = job.result["summary"]
                    unreadable = len(job.result["errors"])
                    parse = f", {unreadable} file(s) do not parse" if unreadable else ""
                    click.echo(
                        f"Scenarios of {version}: {s['passed']} passed, {s['failed']} failed"
                        + parse
                    )
                    _failures(job.result)
                else:
                    click.echo(f"Scenarios of {version}: the run failed: {job.error}")
                _impact(session, app, record, registry, user, day)
            plan = publishing.plan_publication(
                session, record=record, effective_from=day, today=today, registry=registry
            )
        except DomainError as exc:
            session.rollback()
            _refused(exc)
        lines = []
        if plan.replaced is not None:
            until = ""
            if plan.until is not None and plan.until_from is not None:
                until = f", until {plan.until.version} takes over on {plan.until_from}"
            lines.append(
                f"From {day.isoformat()} it replaces {plan.replaced.version} (its base: "
                f"{record.base_version or 'none'}){until}"
            )
        if plan.changes:
            lines.append(f"Against {plan.replaced.version if plan.replaced else '-'} it:")
            lines.extend(f"  {change}" for change in plan.changes)
        lines.extend(_timeline(plan.timeline))
        if plan.problems:
            _refused(
                f"version {version} cannot be published: " + "; ".join(plan.problems) + ".",
                lines,
            )
        if plan.needs_confirmation and not confirm_changes:
            _refused(
                plan.shadow_message() + " Check every change above, then run the command "
                "again with --confirm-changes (or draft from the version it replaces).",
                lines,
            )
        try:
            publishing.publish(
                session,
                record=record,
                effective_from=day,
                today=today,
                registry=registry,
                actor=user,
                lock_version=record.lock_version,
                confirmed=plan.confirmation if confirm_changes else None,
            )
        except DomainError as exc:
            session.rollback()
            _refused(exc, lines)
        for line in lines:
            click.echo(line)
    catalogue().refresh()
    click.echo(
        f"published {version} from {day.isoformat()} by {email}: assessments on or after it "
        "use it; decisions already made keep their version."
    )


@click.command("retire")
@click.argument("version")
@click.option("--from", "retired_from", required=True, metavar="DATE",
              help="The first day VERSION no longer applies (YYYY-MM-DD).")  # fmt: skip
@by_option
@with_app
def retire(version: str, retired_from: str, email: str, app: Flask) -> None:
    """Retire published VERSION from --from: it no longer applies from that day (the
    latest other version in effect applies again); decisions made under it keep it.

    Prints what applies from that date. Refused (exit 1) in the past, before its
    effective date, on or before decisions already made under it, and twice.
    """
    from hub.app_catalogue import catalogue
    from hub.app_clock import app_clock
    from hub.db import session_scope
    from hub.services.errors import DomainError
    from hub.studio import publishing
    from hub.studio.drafts import get_record

    day = _date(retired_from, "--from")
    today = app_clock(app).today()
    with session_scope(app) as session:
        user = _user(session, email)
        try:
            record = get_record(session, version)
            registry = catalogue().registry()
            plan = publishing.plan_retirement(
                session, record=record, retired_from=day, today=today, registry=registry
            )
            if record.state != "published":
                publishing.retire(  # refused with the reason (a draft, or retired already)
                    session, record=record, retired_from=day, today=today, registry=registry,
                    actor=user,
                )  # fmt: skip
            if plan.after is None:
                lines = [f"From {day.isoformat()} no version applies: assessments are refused."]
            else:
                lines = [f"From {day.isoformat()} version {plan.after.version} applies."]
                if plan.changes:
                    lines.append(f"Against {version} it:")
                    lines.extend(f"  {change}" for change in plan.changes)
            lines.extend(_timeline(plan.timeline))
            if plan.problems:
                _refused(
                    f"version {version} cannot be retired from {day.isoformat()}: "
                    + "; ".join(plan.problems)
                    + ".",
                    lines,
                )
            publishing.retire(
                session,
                record=record,
                retired_from=day,
                today=today,
                registry=registry,
                actor=user,
            )
        except DomainError as exc:
            session.rollback()
            _refused(exc)
        for line in lines:
            click.echo(line)
    catalogue().refresh()
    click.echo(f"retired {version} from {day.isoformat()} by {email}.")


def _register() -> None:
    from hub.commands.policy import policy

    for command in (draft, approve, publish, retire):
        policy.add_command(command)


_register()
