"""`hub watch run`: the daily watch, by hand (the task queue runs it every day)."""

from __future__ import annotations

import datetime as dt

import click


@click.group("watch")
def watch() -> None:
    """Early warnings: licences, certificates, policy changes, figures close to the line."""


@watch.command("run")
@click.option(
    "--as-of",
    "as_of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="The date to watch on (YYYY-MM-DD; default: the hub's today).",
)
@click.option(
    "--chunk-size",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="Companies read and stored per transaction.",
)
def run(as_of: dt.datetime | None, chunk_size: int) -> None:
    """Find every company's warnings on a date and store them: new ones opened, those
    found again kept (never twice), those whose cause is gone closed; each warning opened
    is told to the company's users, in the app and by e-mail (through the workers with
    HUB_SMTP_URL, else kept in the outbox). Prints what changed by kind."""
    # Imported here, not at the top: hub.cli imports this module while it loads.
    from hub import app_mail
    from hub.app_catalogue import catalogue
    from hub.app_clock import app_clock
    from hub.cli import app_context
    from hub.db import get_engine
    from hub.services.watch import run_watch

    with app_context() as app:
        clock = app_clock(app)
        day = as_of.date() if as_of is not None else clock.today()
        made = app_mail.notifier(app)
        summary = run_watch(
            get_engine(app),
            registry=catalogue().registry(),
            as_of=day,
            clock=clock,
            chunk_size=chunk_size,
            notifier=made,
        )
        queued = app_mail.send_queued(made, app)
        smtp = app_mail.smtp_configured(app)
    click.echo(f"Watch as of {day.isoformat()}: {summary.companies} companies.")
    click.echo(f"  {'kind':<20} {'opened':>8} {'still open':>11} {'closed':>8}")
    for kind, counts in summary.to_dict()["kinds"].items():
        click.echo(
            f"  {kind:<20} {counts['opened']:>8} {counts['still_open']:>11} {counts['closed']:>8}"
        )
    opened = sum(summary.opened.values())
    where = (
        f"{queued} mails handed to the workers to send"
        if smtp
        else "mails kept in the outbox (no HUB_SMTP_URL)"
    )
    click.echo(f"{opened} warnings opened were told to their companies ({where}).")
