"""Sending the stored e-mails (``MailMessage``), and the outbox administrators read.

A mail is stored before it is sent (``hub.services.notifications``). ``deliver`` sends one
through a ``Mailer`` (the SMTP library, given by the caller): it claims the message for
``CLAIM_SECONDS`` (a conditional UPDATE: of two workers handed the same message one sends
it), sends it outside any transaction, then marks it ``sent``. A failed send keeps it
``pending`` with the error and the time of the next attempt (``backoff``: 30 s, doubling,
at most an hour), and ``due_messages`` finds it again then: a message is retried until it
is sent, never dropped. A worker lost between sending and marking leaves the message to
be sent again once its claim ends (at least once, never lost).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from hub.clock import Clock
from hub.models import MailMessage, MailStatus
from hub.services.errors import NotFound

#: Seconds a worker holds a message it is sending (more than the SMTP timeout).
CLAIM_SECONDS = 120
#: The first wait after a failed send (seconds), doubled each time, at most ``MAX_BACKOFF``.
FIRST_BACKOFF = 30
MAX_BACKOFF = 3600
#: Messages a sweep hands to the workers at most.
SWEEP_LIMIT = 1000
#: Rows per page of the outbox, and the most a page may hold.
PER_PAGE = 50
MAX_PER_PAGE = 200
#: The statuses the outbox filters by.
STATUSES = tuple(s.value for s in MailStatus)


@dataclass(frozen=True)
class OutgoingMail:
    """One e-mail as a mailer sends it: addresses, subject, text and HTML parts."""

    to: str
    sender: str
    subject: str
    text: str
    html: str


class Mailer(Protocol):
    """What sends an e-mail (``hub.mail.MailmanMailer`` over SMTP). ``send`` raises on any
    failure (refused, unreachable, timed out): the message is then tried again."""

    def send(self, mail: OutgoingMail) -> None:
        """Send ``mail`` or raise."""


def backoff(attempts: int) -> dt.timedelta:
    """The wait before the next attempt after ``attempts`` failed ones (at least 1)."""
    return dt.timedelta(seconds=min(MAX_BACKOFF, FIRST_BACKOFF * 2 ** max(0, attempts - 1)))


def deliver(engine: Engine, message_id: int, *, mailer: Mailer, clock: Clock) -> str:
    """Send stored message ``message_id`` if it is pending and no other worker holds it.

    Returns ``sent``, ``failed`` (the error is stored, the message stays pending until
    ``next_attempt_at``), ``busy`` (another worker holds it) or ``done`` (sent already,
    kept in the outbox, or gone). Each step is its own transaction: the claim, then the
    outcome, with the SMTP conversation in between.
    """
    now = clock.now()
    with Session(engine, expire_on_commit=False) as session:
        claimed = session.execute(
            sa.update(MailMessage)
            .where(
                col(MailMessage.id) == message_id,
                col(MailMessage.status) == MailStatus.PENDING.value,
                sa.or_(
                    col(MailMessage.claimed_until).is_(None),
                    col(MailMessage.claimed_until) < now,
                ),
            )
            .values(claimed_until=now + dt.timedelta(seconds=CLAIM_SECONDS))
        )
        session.commit()
        row = session.get(MailMessage, message_id)
        if not getattr(claimed, "rowcount", 0):
            return "busy" if row is not None and row.status == MailStatus.PENDING else "done"
        assert row is not None
        mail = OutgoingMail(
            to=row.to_address,
            sender=row.from_address,
            subject=row.subject,
            text=row.text_body,
            html=row.html_body,
        )
        attempts = row.attempts + 1
    try:
        mailer.send(mail)
    except Exception as exc:  # any failure: kept, tried again later
        error = f"{type(exc).__name__}: {exc}"[:1000]
        later = clock.now()
        _finish(engine, message_id, attempts=attempts, last_error=error,
                next_attempt_at=later + backoff(attempts))  # fmt: skip
        return "failed"
    _finish(engine, message_id, attempts=attempts, status=MailStatus.SENT.value,
            sent_at=clock.now(), last_error=None, next_attempt_at=None)  # fmt: skip
    return "sent"


def _finish(engine: Engine, message_id: int, **values: object) -> None:
    with Session(engine) as session:
        session.execute(
            sa.update(MailMessage)
            .where(col(MailMessage.id) == message_id)
            .values(claimed_until=None, **values)
        )
        session.commit()


def due_messages(session: Session, *, now: dt.datetime, limit: int = SWEEP_LIMIT) -> list[int]:
    """The pending messages to send now (their next attempt is due, no worker holds
    them), oldest first, at most ``limit``."""
    rows = session.exec(
        select(MailMessage.id)
        .where(
            MailMessage.status == MailStatus.PENDING.value,
            sa.or_(
                col(MailMessage.next_attempt_at).is_(None),
                col(MailMessage.next_attempt_at) <= now,
            ),
            sa.or_(
                col(MailMessage.claimed_until).is_(None),
                col(MailMessage.claimed_until) < now,
            ),
        )
        .order_by(col(MailMessage.id))
        .limit(limit)
    ).all()
    return [int(i) for i in rows if i is not None]


@dataclass(frozen=True)
class OutboxPage:
    """A page of stored e-mails, newest first; ``counts``: messages by status."""

    rows: list[MailMessage]
    total: int
    page: int
    per_page: int
    counts: dict[str, int]

    @property
    def pages(self) -> int:
        """How many pages there are (at least 1)."""
        return max(1, -(-self.total // self.per_page))


def outbox_page(
    session: Session, *, status: str | None = None, page: int = 1, per_page: int = PER_PAGE
) -> OutboxPage:
    """Page ``page`` (clamped to the last) of the stored e-mails, newest first, of one
    status or all. ValueError for a status not in ``STATUSES``."""
    if status is not None and status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}")
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    where = [MailMessage.status == status] if status else []
    total = int(session.exec(select(func.count()).select_from(MailMessage).where(*where)).one())
    pages = max(1, -(-total // per_page))
    page = max(1, min(page, pages))
    rows = session.exec(
        select(MailMessage)
        .where(*where)
        .order_by(col(MailMessage.id).desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    counts = dict(
        session.exec(
            select(MailMessage.status, func.count()).group_by(col(MailMessage.status))
        ).all()
    )
    return OutboxPage(
        list(rows), total, page, per_page, {s: int(counts.get(s, 0)) for s in STATUSES}
    )


def get_message(session: Session, *, message_id: int) -> MailMessage:
    """One stored e-mail; NotFound when there is none."""
    row = session.get(MailMessage, message_id)
    if row is None:
        raise NotFound(f"message {message_id} not found")
    return row
