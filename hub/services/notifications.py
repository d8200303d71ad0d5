"""Notifications: a message to a user in the app (``Notification``) and by e-mail
(``MailMessage``), made in the transaction of the event it tells of.

Every message is rendered from two Jinja2 templates of ``hub/templates/mail/``:
``<kind>.txt`` (the text part; its top-level ``subject`` and ``summary`` variables are
the e-mail's subject and the in-app title and body) and ``<kind>.html`` (the HTML part),
with an absolute link (``Notifier.base_url`` + the path) to the page that acts on it.

The e-mail is stored first: ``pending`` when an SMTP server is configured (a worker sends
it, ``hub.services.outbox.deliver``, and marks it sent), else kept in the ``outbox`` that
administrators read in the app. So an event committed is never without its mail, and a
mail is never sent for an event rolled back.

Kinds (``KINDS``): a user turns off any kind that is not ``required`` (the decisions on a
company's filing, which the hub must tell it); a turned-off kind makes neither the in-app
message nor the mail.

What makes which:

- ``warnings_opened``: each warning the daily watch opens (not one it finds again), to the
  company's users (``warning``, or ``notice`` for a figure close to the line);
- ``filing_event``: a filing submitted, approved, rejected or sent back with changes
  requested, to the company's users;
- ``send_digest``: the daily digest of submissions waiting and companies at risk, to the
  administrators, once a day (``dedup_key``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jinja2
import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from hub.clock import Clock
from hub.models import (
    Company,
    CompanyWarning,
    Filing,
    FilingStatus,
    MailMessage,
    MailStatus,
    Notification,
    NotificationMute,
    Role,
    User,
    WarningState,
    stored_id,
)
from hub.services.at_risk import KIND_TITLES, at_risk_counts
from hub.services.errors import NotFound

WARNING = "warning"
NOTICE = "notice"
FILING_SUBMITTED = "filing_submitted"
FILING_APPROVED = "filing_approved"
FILING_REJECTED = "filing_rejected"
FILING_CHANGES_REQUESTED = "filing_changes_requested"
DIGEST = "digest"
#: Account mails (``account_mail``): never turned off, no in-app message.
ACCOUNT_CONFIRM = "account_confirm"
ACCOUNT_EMAIL_TAKEN = "account_email_taken"
ACCOUNT_BIN_TAKEN = "account_bin_taken"
ACCOUNT_KINDS = (ACCOUNT_CONFIRM, ACCOUNT_EMAIL_TAKEN, ACCOUNT_BIN_TAKEN)


@dataclass(frozen=True)
class Kind:
    """A kind of message: what the preferences page calls it, who gets it (``role``) and
    whether it may be turned off (``required``: no)."""

    id: str
    title: str
    role: str
    required: bool = False


KINDS: dict[str, Kind] = {
    k.id: k
    for k in (
        Kind(WARNING, "A warning of the daily watch: what to file, and by when", "company"),
        Kind(NOTICE, "A figure close to the line (a notice of the daily watch)", "company"),
        Kind(FILING_SUBMITTED, "Your filing was submitted for review", "company"),
        Kind(FILING_APPROVED, "Your filing was approved (with the certificate)", "company", True),
        Kind(FILING_REJECTED, "Your filing was rejected (with the reason)", "company", True),
        Kind(
            FILING_CHANGES_REQUESTED,
            "Your filing was sent back with changes requested (with the message)",
            "company",
            True,
        ),
        Kind(DIGEST, "The daily digest: submissions waiting and companies at risk", "admin"),
    )
}

#: The filing events ``filing_event`` tells of: the kind each makes.
FILING_EVENTS = {
    FilingStatus.SUBMITTED.value: FILING_SUBMITTED,
    FilingStatus.APPROVED.value: FILING_APPROVED,
    FilingStatus.REJECTED.value: FILING_REJECTED,
    FilingStatus.CHANGES_REQUESTED.value: FILING_CHANGES_REQUESTED,
}

#: Rows a digest lists of each part (the counts are whole).
DIGEST_ROWS = 20
#: Notifications per page of the in-app list, and the most a page may hold.
PER_PAGE = 25
MAX_PER_PAGE = 100


def mail_templates() -> jinja2.Environment:
    """The Jinja2 environment of the messages (``hub/templates/mail/``): HTML parts
    escaped, text parts not; an undefined name is an error, not an empty string."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("hub", "templates/mail"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["kzt"] = lambda v: f"{float(v):,.0f} KZT" if v is not None else "unknown"
    return env


@dataclass
class Notifier:
    """What makes messages: the templates, the public address links start with
    (``base_url``, no trailing slash), the sender, whether mail is sent through SMTP
    (``smtp``: stored ``pending`` for the workers; else kept in the ``outbox``) and the
    clock. ``queued`` collects the ids of the pending mails made, which the caller sends
    to the workers once its transaction is committed (``hub.app_notify``)."""

    templates: jinja2.Environment
    base_url: str
    mail_from: str
    smtp: bool
    clock: Clock
    queued: list[int] = field(default_factory=list)

    def url(self, path: str) -> str:
        """The absolute address of a path of the app."""
        return f"{self.base_url}{path}"


@dataclass(frozen=True)
class Rendered:
    """A message rendered: subject (the in-app title), summary (the in-app body), the
    text and HTML parts of the e-mail."""

    subject: str
    summary: str
    text: str
    html: str


def render(notifier: Notifier, kind: str, context: Mapping[str, Any]) -> Rendered:
    """Render ``mail/<kind>.txt`` and ``mail/<kind>.html`` with ``context`` (plus
    ``base_url``). The text template sets ``subject`` and ``summary``."""
    ctx = {"base_url": notifier.base_url, **context}
    module = notifier.templates.get_template(f"{kind}.txt").make_module(ctx)
    subject = " ".join(str(getattr(module, "subject", "")).split())
    summary = str(getattr(module, "summary", "")).strip()
    html = notifier.templates.get_template(f"{kind}.html").render(ctx)
    return Rendered(subject=subject[:300], summary=summary, text=str(module), html=html)


def muted_kinds(session: Session, user_ids: Iterable[int]) -> set[tuple[int, str]]:
    """(user id, kind) of every kind these users turned off."""
    ids = sorted(set(user_ids))
    if not ids:
        return set()
    rows = session.exec(
        select(NotificationMute.user_id, NotificationMute.kind).where(
            col(NotificationMute.user_id).in_(ids)
        )
    ).all()
    return {(int(u), str(k)) for u, k in rows}


def company_users(session: Session, company_ids: Iterable[int]) -> dict[int, list[User]]:
    """Company id -> its active users (by e-mail)."""
    ids = sorted(set(company_ids))
    out: dict[int, list[User]] = {i: [] for i in ids}
    if not ids:
        return out
    for user in session.exec(
        select(User)
        .where(col(User.company_id).in_(ids), col(User.is_active).is_(True))
        .order_by(col(User.email))
    ).all():
        if user.company_id is not None:
            out[user.company_id].append(user)
    return out


def _notify(
    session: Session,
    notifier: Notifier,
    *,
    users: Sequence[User],
    kind: str,
    context: Mapping[str, Any],
    link: str,
    muted: set[tuple[int, str]],
    company_id: int | None = None,
    filing_id: int | None = None,
    warning_id: int | None = None,
    dedup_key: str | None = None,
) -> list[Notification]:
    """One in-app message and one e-mail per user of ``users`` who did not turn ``kind``
    off (a required kind goes to all)."""
    required = KINDS[kind].required
    now = notifier.clock.now()
    made: list[Notification] = []
    for user in users:
        uid = stored_id(user)
        if not required and (uid, kind) in muted:
            continue
        text = render(notifier, kind, {**context, "user": user, "link": notifier.url(link)})
        note = Notification(
            user_id=uid,
            kind=kind,
            title=text.subject,
            body=text.summary,
            link=link,
            company_id=company_id,
            filing_id=filing_id,
            warning_id=warning_id,
            dedup_key=dedup_key,
            created_at=now,
        )
        session.add(note)
        session.flush()
        _store_mail(
            session, notifier, user=user, kind=kind, text=text, now=now, notification_id=note.id
        )
        made.append(note)
    return made


def _store_mail(
    session: Session,
    notifier: Notifier,
    *,
    user: User,
    kind: str,
    text: Rendered,
    now: dt.datetime,
    notification_id: int | None = None,
) -> MailMessage:
    """Store one e-mail made at ``now`` (flushed): ``pending`` and queued for the workers
    when SMTP is configured, else kept in the ``outbox``."""
    mail = MailMessage(
        notification_id=notification_id,
        user_id=stored_id(user),
        kind=kind,
        to_address=user.email,
        from_address=notifier.mail_from,
        subject=text.subject,
        text_body=text.text,
        html_body=text.html,
        status=(MailStatus.PENDING if notifier.smtp else MailStatus.OUTBOX).value,
        next_attempt_at=now if notifier.smtp else None,
        created_at=now,
    )
    session.add(mail)
    session.flush()
    if notifier.smtp:
        notifier.queued.append(stored_id(mail))
    return mail


def account_mail(
    session: Session,
    notifier: Notifier,
    *,
    users: Sequence[User],
    kind: str,
    context: Mapping[str, Any],
) -> list[MailMessage]:
    """One e-mail of an account kind (``ACCOUNT_KINDS``) to each of ``users``, without an
    in-app message (the person may not be able to sign in yet, and a confirmation link
    belongs in the mailbox only): stored like every mail (pending for the workers, or in
    the outbox without SMTP). ``context`` is given to the templates with ``user``.
    ValueError for another kind."""
    if kind not in ACCOUNT_KINDS:
        raise ValueError(f"not an account mail: {kind}")
    now = notifier.clock.now()
    return [
        _store_mail(
            session,
            notifier,
            user=user,
            kind=kind,
            text=render(notifier, kind, {**context, "user": user}),
            now=now,
        )
        for user in users
    ]


# --- what makes messages --------------------------------------------------------------------


def warnings_opened(
    session: Session, notifier: Notifier, rows: Sequence[CompanyWarning]
) -> list[Notification]:
    """Tell each company's users of the warnings just opened (``rows``, flushed): what is
    at stake, what to file and by when, linked to the warning on the company's home page
    (whose button starts the filing that fixes it). Called by the watch in the
    transaction that opens them, never for a warning found again: one message per
    opening."""
    if not rows:
        return []
    company_ids = {w.company_id for w in rows}
    companies = {
        stored_id(c): c
        for c in session.exec(select(Company).where(col(Company.id).in_(sorted(company_ids))))
    }
    users = company_users(session, company_ids)
    muted = muted_kinds(session, (stored_id(u) for us in users.values() for u in us))
    made: list[Notification] = []
    for w in rows:
        kind = WARNING if w.severity == "warning" else NOTICE
        wid = stored_id(w)
        made += _notify(
            session,
            notifier,
            users=users.get(w.company_id, []),
            kind=kind,
            context={
                "company": companies[w.company_id],
                "warning": w,
                "kind_title": KIND_TITLES.get(w.kind, w.kind),
                "summary_text": str(w.details.get("summary") or KIND_TITLES.get(w.kind, w.kind)),
                "todo": [str(t) for t in w.details.get("todo", [])],
            },
            link=f"/company#warning-{wid}",
            muted=muted,
            company_id=w.company_id,
            filing_id=w.filing_id,
            warning_id=wid,
            dedup_key=f"warning:{wid}:{w.first_seen.isoformat()}",
        )
    return made


def filing_event(session: Session, notifier: Notifier, filing: Filing) -> list[Notification]:
    """Tell the company's users of what just happened to ``filing``, by its status:
    submitted, approved (with its certificate), rejected (with the reason) or sent back
    with changes requested (with the message). Called by the view (or API handler) in
    the transaction of the change. ValueError for another status."""
    kind = FILING_EVENTS.get(filing.status)
    if kind is None:
        raise ValueError(f"no message tells of a filing {filing.status}")
    fid = stored_id(filing)
    company = session.get(Company, filing.company_id)
    users = company_users(session, [filing.company_id])[filing.company_id]
    link = f"/certificates/{fid}" if kind == FILING_APPROVED else f"/filings/{fid}"
    return _notify(
        session,
        notifier,
        users=users,
        kind=kind,
        context={
            "company": company,
            "filing": filing,
            "filing_url": notifier.url(f"/filings/{fid}"),
            "message": filing.reviewer_message or "",
        },
        link=link,
        muted=muted_kinds(session, (stored_id(u) for u in users)),
        company_id=filing.company_id,
        filing_id=fid,
    )


@dataclass(frozen=True)
class Digest:
    """What one digest said: the day, the submissions waiting (``waiting``, ``new``: those
    since the previous digest), the companies at risk (``at_risk``, ``opened``: warnings
    opened on the day) and the administrators it went to (none when it had nothing to say
    or was sent already that day)."""

    as_of: dt.date
    waiting: int
    new: int
    at_risk: int
    opened: int
    recipients: list[str]


def send_digest(session: Session, notifier: Notifier, *, as_of: dt.date) -> Digest:
    """The administrators' daily digest on ``as_of``: the submissions waiting for review
    (those new since the previous digest first, each linked to its review page) and the
    companies at risk (counts by kind, the warnings opened that day, soonest loss first),
    linked to the queue and to "companies at risk". Once per administrator and day (a
    second run that day makes nothing); none when nothing waits and no company is at
    risk. The caller commits."""
    key = f"digest:{as_of.isoformat()}"
    previous = session.exec(
        select(func.max(Notification.created_at)).where(
            Notification.kind == DIGEST, col(Notification.dedup_key) != key
        )
    ).one()
    submitted = col(Filing.status) == FilingStatus.SUBMITTED.value
    waiting = int(session.exec(select(func.count()).select_from(Filing).where(submitted)).one())
    new_filter = [submitted] + ([col(Filing.submitted_at) > previous] if previous else [])
    new = int(session.exec(select(func.count()).select_from(Filing).where(*new_filter)).one())
    new_rows = session.exec(
        select(Filing, Company)
        .join(Company, col(Company.id) == col(Filing.company_id))
        .where(*new_filter)
        .order_by(col(Filing.submitted_at), col(Filing.id))
        .limit(DIGEST_ROWS)
    ).all()
    oldest = session.exec(select(func.min(Filing.submitted_at)).where(submitted)).one()
    counts = at_risk_counts(session)
    opened_filter = [
        col(CompanyWarning.state) == WarningState.OPEN.value,
        col(CompanyWarning.first_seen) == as_of,
    ]
    opened = int(
        session.exec(select(func.count()).select_from(CompanyWarning).where(*opened_filter)).one()
    )
    opened_rows = session.exec(
        select(CompanyWarning, Company)
        .join(Company, col(Company.id) == col(CompanyWarning.company_id))
        .where(*opened_filter)
        .order_by(
            sa.case((col(CompanyWarning.loss_on).is_(None), 1), else_=0),
            col(CompanyWarning.loss_on),
            col(CompanyWarning.id),
        )
        .limit(DIGEST_ROWS)
    ).all()
    admins = session.exec(
        select(User)
        .where(User.role == Role.ADMIN.value, col(User.is_active).is_(True))
        .order_by(col(User.email))
    ).all()
    done = set(
        session.exec(select(Notification.user_id).where(Notification.dedup_key == key)).all()
    )
    to = [a for a in admins if stored_id(a) not in done]
    digest = Digest(as_of, waiting, new, counts.companies, opened, [])
    if not to or (waiting == 0 and counts.companies == 0):
        return digest
    made = _notify(
        session,
        notifier,
        users=to,
        kind=DIGEST,
        context={
            "as_of": as_of,
            "waiting": waiting,
            "new": new,
            "new_rows": [
                {"filing": f, "company": c, "url": notifier.url(f"/review/filings/{f.id}")}
                for f, c in new_rows
            ],
            "oldest": notifier.clock.date_of(oldest) if oldest else None,
            "at_risk": counts.companies,
            "by_kind": [(KIND_TITLES.get(k, k), n) for k, n in counts.by_kind],
            "opened": opened,
            "opened_rows": [
                {"warning": w, "company": c, "kind_title": KIND_TITLES.get(w.kind, w.kind)}
                for w, c in opened_rows
            ],
            "queue_url": notifier.url("/review"),
            "at_risk_url": notifier.url("/review/at-risk"),
            "rows_max": DIGEST_ROWS,
        },
        link="/review",
        muted=muted_kinds(session, (stored_id(u) for u in to)),
        dedup_key=key,
    )
    by_id = {stored_id(u): u.email for u in to}
    return Digest(as_of, waiting, new, counts.companies, opened, [by_id[n.user_id] for n in made])


# --- the in-app list --------------------------------------------------------------------------


def unread_count(session: Session, *, user_id: int) -> int:
    """How many of the user's messages are unread (one indexed COUNT)."""
    return int(
        session.exec(
            select(func.count())
            .select_from(Notification)
            .where(Notification.user_id == user_id, col(Notification.read_at).is_(None))
        ).one()
    )


@dataclass(frozen=True)
class NotificationPage:
    """A page of a user's messages, newest first, with the total and the unread count."""

    rows: list[Notification]
    total: int
    unread: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        """How many pages there are (at least 1)."""
        return max(1, -(-self.total // self.per_page))


def notification_page(
    session: Session, *, user_id: int, page: int = 1, per_page: int = PER_PAGE
) -> NotificationPage:
    """Page ``page`` (clamped to the last) of the user's messages, newest first."""
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    mine = Notification.user_id == user_id
    total = int(session.exec(select(func.count()).select_from(Notification).where(mine)).one())
    pages = max(1, -(-total // per_page))
    page = max(1, min(page, pages))
    rows = session.exec(
        select(Notification)
        .where(mine)
        .order_by(col(Notification.created_at).desc(), col(Notification.id).desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    return NotificationPage(
        list(rows), total, unread_count(session, user_id=user_id), page, per_page
    )


def get_notification(session: Session, *, user_id: int, notification_id: int) -> Notification:
    """One of the user's messages; NotFound for another user's, as for a missing one."""
    note = session.get(Notification, notification_id)
    if note is None or note.user_id != user_id:
        raise NotFound(f"notification {notification_id} not found")
    return note


def mark_read(
    session: Session, *, user_id: int, clock: Clock, notification_id: int | None = None
) -> int:
    """Mark one of the user's messages read (``notification_id``; NotFound for another
    user's) or all of them (None). Returns how many were unread."""
    where: list[Any] = [col(Notification.user_id) == user_id, col(Notification.read_at).is_(None)]
    if notification_id is not None:
        get_notification(session, user_id=user_id, notification_id=notification_id)
        where.append(col(Notification.id) == notification_id)
    result = session.execute(sa.update(Notification).where(*where).values(read_at=clock.now()))
    session.expire_all()
    return int(getattr(result, "rowcount", 0) or 0)


# --- preferences ----------------------------------------------------------------------------


def kinds_for(role: str) -> list[Kind]:
    """The kinds a user of ``role`` receives, in ``KINDS`` order."""
    return [k for k in KINDS.values() if k.role == role]


def preferences(session: Session, *, user: User) -> dict[str, bool]:
    """Kind -> on, for every kind the user's role receives (required kinds always on)."""
    muted = muted_kinds(session, [stored_id(user)])
    return {k.id: k.required or (stored_id(user), k.id) not in muted for k in kinds_for(user.role)}


def set_preferences(session: Session, *, user: User, enabled: Iterable[str]) -> dict[str, bool]:
    """Turn on the kinds of ``enabled`` and off the other kinds the user's role receives;
    the required kinds stay on whatever is asked. Unknown kinds are ignored (a form sends
    only the checked boxes). Returns the preferences now. The caller commits."""
    on = set(enabled)
    uid = stored_id(user)
    muted = {k for (_, k) in muted_kinds(session, [uid])}
    for kind in kinds_for(user.role):
        want_off = not kind.required and kind.id not in on
        if want_off and kind.id not in muted:
            session.add(NotificationMute(user_id=uid, kind=kind.id))
        elif not want_off and kind.id in muted:
            session.execute(
                sa.delete(NotificationMute).where(
                    col(NotificationMute.user_id) == uid, col(NotificationMute.kind) == kind.id
                )
            )
    session.flush()
    return preferences(session, user=user)
