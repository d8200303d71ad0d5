"""Mail and notifications of the app (Flask glue): Flask-Mailman over SMTP, the app's
``Notifier``, and handing stored mails to the workers.

``init_app`` reads ``SMTP_URL`` (``HUB_SMTP_URL``; ``hub.config.smtp_settings`` turns it
into Flask-Mailman's ``MAIL_*`` settings), ``MAIL_FROM`` and ``BASE_URL``. Without an
SMTP URL nothing is sent: messages are kept in the outbox (``/outbox``).

Views and commands make messages through ``notifier()`` in their transaction, commit,
then call ``send_queued(notifier)``: each pending mail becomes a task of the queue
(``hub.tasks.DELIVER_MAIL``), which a worker sends through ``MailmanMailer``. A task lost
on the way (the broker down at that moment) loses nothing: the mail is stored, and the
sweep that beat sends every minute (``hub.tasks.SEND_DUE_MAIL``) hands it out again.
"""

from __future__ import annotations

import logging

from flask import Flask, current_app
from flask_mailman import EmailMultiAlternatives, Mail

from hub.app_clock import app_clock
from hub.config import DEFAULT_BASE_URL, DEFAULT_MAIL_FROM, smtp_settings
from hub.services.notifications import Notifier, mail_templates
from hub.services.outbox import OutgoingMail

log = logging.getLogger(__name__)

EXTENSION = "hub.mail"

mail = Mail()


def init_app(app: Flask) -> None:
    """Configure Flask-Mailman from ``SMTP_URL`` (ConfigError naming HUB_SMTP_URL when it
    is not an SMTP URL) and keep the mail templates' environment."""
    settings = smtp_settings(str(app.config.get("SMTP_URL") or ""))
    if settings["MAIL_BACKEND"] is None:
        settings["MAIL_BACKEND"] = "dummy"  # never used: nothing is sent without SMTP
    app.config.update(settings)
    app.config.setdefault("MAIL_FROM", DEFAULT_MAIL_FROM)
    app.config.setdefault("BASE_URL", DEFAULT_BASE_URL)
    app.config["MAIL_DEFAULT_SENDER"] = app.config["MAIL_FROM"]
    mail.init_app(app)
    app.extensions[EXTENSION] = mail_templates()


def smtp_configured(app: Flask | None = None) -> bool:
    """Whether mail is sent through SMTP (else kept in the outbox)."""
    return bool((app or current_app).config.get("SMTP_URL"))


def notifier(app: Flask | None = None) -> Notifier:
    """A new ``Notifier`` of the app (its templates, base URL, sender, clock)."""
    app = app or current_app
    return Notifier(
        templates=app.extensions[EXTENSION],
        base_url=str(app.config["BASE_URL"]).rstrip("/"),
        mail_from=str(app.config["MAIL_FROM"]),
        smtp=smtp_configured(app),
        clock=app_clock(app),
    )


def send_queued(made: Notifier, app: Flask | None = None) -> int:
    """Hand the pending mails ``made`` made to the workers (after the commit). A broker
    that cannot be reached is logged, not raised: the mails are stored, and the sweep sends
    them later. Returns how many tasks were sent."""
    from hub.tasks import deliver_dispatcher

    ids, made.queued[:] = list(made.queued), []
    if not ids:
        return 0
    dispatch = deliver_dispatcher(app or current_app)
    try:
        for message_id in ids:
            dispatch(message_id)
    except Exception:  # the broker is down: the sweep sends them
        log.exception("could not queue %d mails; the next sweep sends them", len(ids))
        return 0
    return len(ids)


class MailmanMailer:
    """Sends a stored mail through Flask-Mailman's SMTP backend (``MAIL_*`` settings), a
    text part with an HTML alternative. Needs the app's context (workers run in it)."""

    def send(self, message: OutgoingMail) -> None:
        """Send ``message`` or raise (SMTP refused, unreachable, timed out)."""
        with mail.get_connection(fail_silently=False) as connection:
            email = EmailMultiAlternatives(
                subject=message.subject,
                body=message.text,
                from_email=message.sender,
                to=[message.to],
                connection=connection,
            )
            email.attach_alternative(message.html, "text/html")
            email.send(fail_silently=False)
