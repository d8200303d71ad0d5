"""`hub notifications digest|send`: the administrators' daily digest and the pending
e-mails, by hand (beat and the workers do both on their own)."""

from __future__ import annotations

import datetime as dt

import click


@click.group("notifications")
def notifications() -> None:
    """Messages to users: the daily digest, e-mails waiting to be sent."""


@notifications.command("digest")
@click.option(
    "--as-of",
    "as_of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="The digest's day (YYYY-MM-DD; default: the hub's today).",
)
def digest(as_of: dt.datetime | None) -> None:
    """Send the administrators' daily digest: submissions waiting for review (those new
    since the previous digest listed) and companies at risk (the warnings opened on the
    day listed). Once per administrator and day; nothing when nothing waits and no
    company is at risk."""
    from hub import app_mail
    from hub.app_clock import app_clock
    from hub.cli import app_context
    from hub.db import session_scope
    from hub.services.notifications import send_digest

    with app_context() as app:
        day = as_of.date() if as_of is not None else app_clock(app).today()
        made = app_mail.notifier(app)
        with session_scope(app) as session:
            result = send_digest(session, made, as_of=day)
        app_mail.send_queued(made, app)
    click.echo(
        f"Digest of {day.isoformat()}: {result.waiting} submissions waiting ({result.new} new), "
        f"{result.at_risk} companies at risk ({result.opened} warnings opened that day)."
    )
    if result.recipients:
        click.echo(f"Sent to {len(result.recipients)}: {', '.join(result.recipients)}.")
    else:
        click.echo("Sent to nobody: nothing to say, or every administrator has it already.")


@notifications.command("send")
def send() -> None:
    """Send every pending e-mail that is due, in this process, through HUB_SMTP_URL (the
    workers do it on their own; this is for a deployment without them). Prints how many
    were sent and failed (a failed one stays pending and is tried again later)."""
    from hub import app_mail
    from hub.app_clock import app_clock
    from hub.cli import app_context
    from hub.db import get_engine, session_scope
    from hub.services.outbox import deliver, due_messages

    with app_context() as app:
        if not app_mail.smtp_configured(app):
            raise click.ClickException(
                "HUB_SMTP_URL is not set: mail is kept in the outbox (/outbox), nothing to send"
            )
        clock = app_clock(app)
        with session_scope(app) as session:
            ids = due_messages(session, now=clock.now())
        outcomes: dict[str, int] = {}
        mailer = app_mail.MailmanMailer()
        for message_id in ids:
            outcome = deliver(get_engine(app), message_id, mailer=mailer, clock=clock)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
    click.echo(
        f"{len(ids)} due: {outcomes.get('sent', 0)} sent, {outcomes.get('failed', 0)} failed."
    )
