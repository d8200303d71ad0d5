"""Storage model: SQLModel tables and their Create/Public variants.

Naming follows the ``XBase / XCreate / X(table=True) / XPublic`` family: the
base holds the fields a client may set, the table adds what the server owns
(ids, hashes, timestamps), and the public variant is what may leave the
service. Enumerations are stored as short strings (portable across SQLite
and PostgreSQL, and cheap to extend in a migration); the StrEnums below are
the allowed values.

Every datetime is timezone-aware UTC (``hub.storage.UTCDateTime``). JSON columns
use SQLAlchemy's portable ``JSON`` type.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from hub.storage import UTCDateTime, utcnow


def stored_id(row: SQLModel) -> int:
    """The primary key of a stored row (loaded, or added and flushed).

    The models type ``id`` as ``int | None``: a new row has none until it is flushed.
    Raises ValueError for such a row.
    """
    row_id = getattr(row, "id", None)
    if not isinstance(row_id, int):
        raise ValueError(f"{type(row).__name__} has no id yet (not flushed)")
    return row_id


class Role(StrEnum):
    """Who a user is to the hub."""

    COMPANY = "company"
    ADMIN = "admin"
    AUTHOR = "author"


class Activity(StrEnum):
    """Principal licensed activity of a company (the policy's ``activity`` enum)."""

    EXCHANGE = "exchange"
    BROKER = "broker"
    CUSTODY = "custody"
    PAYMENTS = "payments"
    MINING = "mining"
    SOFTWARE = "software"


class FilingStatus(StrEnum):
    """Life cycle of a filing: a draft is editable; everything after submission is frozen."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"
    CHANGES_REQUESTED = "changes_requested"
    SUPERSEDED = "superseded"
    WITHDRAWN = "withdrawn"  # taken back by the company before a decision


class PolicyState(StrEnum):
    """Life cycle of a policy version."""

    DRAFT = "draft"
    PUBLISHED = "published"
    RETIRED = "retired"


def _created_at() -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


def _optional_dt() -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=True)


def _json(nullable: bool = True) -> Any:
    return Field(default=None, sa_type=sa.JSON, nullable=nullable)


# --- companies -------------------------------------------------------------------------


class CompanyBase(SQLModel):
    bin: str = Field(min_length=12, max_length=12, unique=True, index=True)
    legal_name: str = Field(min_length=1, max_length=200)
    activity: str | None = Field(default=None, max_length=32)


class CompanyCreate(CompanyBase):
    pass


class Company(CompanyBase, table=True):
    """A legal entity in the hub, identified by its 12-digit BIN."""

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = _created_at()


class CompanyPublic(CompanyBase):
    id: int
    created_at: datetime


# --- users -----------------------------------------------------------------------------


class UserBase(SQLModel):
    email: str = Field(max_length=254, unique=True, index=True)
    role: str = Field(default=Role.COMPANY.value, max_length=16)
    company_id: int | None = Field(default=None, foreign_key="company.id", index=True)


class UserCreate(UserBase):
    password: str = Field(min_length=10, max_length=200)


class User(UserBase, table=True):
    """A person who signs in. Company users belong to exactly one company.

    Implements the small interface Flask-Login expects by hand (not via
    ``UserMixin``, whose ``is_active`` property would shadow the column).
    """

    id: int | None = Field(default=None, primary_key=True)
    password_hash: str = Field(max_length=255)
    is_active: bool = Field(default=True)
    created_at: datetime = _created_at()
    #: Raised by every event that must end the user's sessions everywhere (a password
    #: change, a deactivation): a session signed in under another value is refused on its
    #: next request, whichever server and session store it is on (see ``get_id``).
    session_epoch: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    #: False for an account made by self-registration until the link of its confirmation
    #: mail is followed (it cannot sign in before); accounts an administrator, the command
    #: line or the demo makes are confirmed from the start.
    email_confirmed: bool = Field(default=True, sa_column_kwargs={"server_default": sa.true()})

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        """Session identity ``<id>:<session_epoch>:<fragment of the password hash>``.

        Raising ``session_epoch`` (a password change, a deactivation) or changing the
        password changes it, which signs out every other session of this user on its
        next request (``hub.auth.views.load_user`` compares it with the stored user).
        """
        return f"{self.id}:{self.session_epoch}:{self.password_hash[-16:]}"


class UserPublic(UserBase):
    id: int
    is_active: bool
    created_at: datetime


# --- filings and decisions -------------------------------------------------------------


class FilingBase(SQLModel):
    inputs: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON, nullable=False)


class FilingCreate(FilingBase):
    pass


class Filing(FilingBase, table=True):
    """A company's transparency filing.

    Editable while ``draft``; at submission the inputs, the decision and the
    policy version and digest are frozen together (also copied into an
    ``Assessment`` row). Revising a submitted filing creates a new filing whose
    ``supersedes_id`` points here. ``lock_version`` is compared and bumped on
    every change so that two reviewers cannot overwrite each other.
    """

    id: int | None = Field(default=None, primary_key=True)
    company_id: int = Field(foreign_key="company.id", index=True)
    status: str = Field(default=FilingStatus.DRAFT.value, max_length=32, index=True)
    policy_id: str | None = Field(default=None, max_length=100)
    policy_version: str | None = Field(default=None, max_length=50)
    policy_digest: str | None = Field(default=None, max_length=100)
    decision: dict[str, Any] | None = _json()
    tier_claimed: str | None = Field(default=None, max_length=8)
    reviewer_message: str | None = Field(default=None, max_length=5000)
    supersedes_id: int | None = Field(default=None, foreign_key="filing.id")
    created_by_id: int | None = Field(default=None, foreign_key="user.id")
    decided_by_id: int | None = Field(default=None, foreign_key="user.id")
    lock_version: int = Field(default=1, nullable=False)
    created_at: datetime = _created_at()
    updated_at: datetime = _created_at()
    submitted_at: datetime | None = _optional_dt()
    decided_at: datetime | None = _optional_dt()
    valid_from: date | None = Field(default=None)
    valid_until: date | None = Field(default=None)
    # Set by the review (hub.services.review): the decision as certified, i.e. the
    # engine's frozen ``decision`` with the reviewers' overrides applied; the tier it
    # grants; and the code of the certificate an approval issues.
    final_decision: dict[str, Any] | None = _json()
    tier_granted: str | None = Field(default=None, max_length=8)
    certificate_code: str | None = Field(default=None, max_length=32, unique=True, index=True)


class FilingPublic(FilingBase):
    id: int
    company_id: int
    status: str
    policy_version: str | None
    policy_digest: str | None
    decision: dict[str, Any] | None
    tier_claimed: str | None
    reviewer_message: str | None
    supersedes_id: int | None
    lock_version: int
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None
    decided_at: datetime | None


class Assessment(SQLModel, table=True):
    """A decision made by the engine, frozen with everything needed to replay it.

    Written once (at submission, or when an admin re-assesses) and never
    changed: inputs, ``as_of``, the policy version and digest, and the
    decision document exactly as the API returns it.
    """

    id: int | None = Field(default=None, primary_key=True)
    filing_id: int | None = Field(default=None, foreign_key="filing.id", index=True)
    company_id: int | None = Field(default=None, foreign_key="company.id", index=True)
    inputs: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON, nullable=False)
    as_of: date
    policy_id: str = Field(max_length=100)
    policy_version: str = Field(max_length=50)
    policy_digest: str = Field(max_length=100)
    decision: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON, nullable=False)
    tier: str | None = Field(default=None, max_length=8)
    created_by_id: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = _created_at()


class CriterionOverride(SQLModel, table=True):
    """A reviewer's written override of one criterion's status on a submitted filing.

    Append-only by convention (the review never updates or deletes one): a later
    override of the same criterion supersedes an earlier one. ``engine_status`` is
    what the engine decided, kept beside the override so both stay on record.
    """

    __tablename__ = "criterion_override"

    id: int | None = Field(default=None, primary_key=True)
    filing_id: int = Field(foreign_key="filing.id", index=True)
    criterion_id: str = Field(max_length=64)
    engine_status: str = Field(max_length=16)
    previous_status: str = Field(max_length=16)
    status: str = Field(max_length=16)
    reason: str = Field(sa_type=sa.Text)
    actor_id: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = _created_at()


# --- audit trail -----------------------------------------------------------------------


class AuditRecord(SQLModel, table=True):
    """One append-only entry of the audit trail.

    ``hash`` is the SHA-256 of this record's content plus ``prev_hash``; the
    unique constraint on ``prev_hash`` keeps the chain linear even with
    concurrent writers. Database triggers (see the migration) refuse UPDATE
    and DELETE. Write through ``hub.audit.append``.
    """

    __tablename__ = "audit_record"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _created_at()
    actor_id: int | None = Field(default=None, foreign_key="user.id")
    action: str = Field(max_length=64, index=True)
    entity_type: str = Field(max_length=64)
    entity_id: str | None = Field(default=None, max_length=64)
    before: dict[str, Any] | None = _json()
    after: dict[str, Any] | None = _json()
    policy_version: str | None = Field(default=None, max_length=50)
    policy_digest: str | None = Field(default=None, max_length=100)
    prev_hash: str = Field(max_length=64, unique=True)
    hash: str = Field(max_length=64, unique=True)


# --- API tokens ------------------------------------------------------------------------


class ApiToken(SQLModel, table=True):
    """A personal bearer token for the API. Only its SHA-256 is stored."""

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    name: str = Field(max_length=100)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    prefix: str = Field(max_length=16)
    created_at: datetime = _created_at()
    revoked_at: datetime | None = _optional_dt()
    last_used_at: datetime | None = _optional_dt()
    #: The first instant the token is refused (None: until revoked). Set from the date
    #: chosen at creation: the token works through that day, in the hub's time zone.
    expires_at: datetime | None = _optional_dt()


class ApiTokenPublic(SQLModel):
    id: int
    name: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None
    expires_at: datetime | None


# --- policy versions -------------------------------------------------------------------


class PolicyVersionRecord(SQLModel, table=True):
    """A stored policy version: its text, Gherkin specs, state and digest.

    The catalogue's system of record: a ``draft`` is edited (``lock_version``
    compared on save so one author cannot silently overwrite another),
    approved by a second person (``approved_by_id`` at revision
    ``approved_revision``; any later save voids it), published from
    ``effective_from`` and, once ``retired``, stops applying from
    ``retired_from`` (decisions made under it keep it). Published and retired
    texts never change.
    """

    __tablename__ = "policy_version"
    __table_args__ = (sa.UniqueConstraint("policy_id", "version", name="uq_policy_version"),)

    id: int | None = Field(default=None, primary_key=True)
    policy_id: str = Field(max_length=100, index=True)
    version: str = Field(max_length=50)
    state: str = Field(default=PolicyState.DRAFT.value, max_length=16)
    effective_from: date | None = Field(default=None)
    text: str = Field(sa_type=sa.Text)
    digest: str | None = Field(default=None, max_length=100)
    features_text: str | None = Field(default=None, sa_type=sa.Text)
    base_version: str | None = Field(default=None, max_length=50)
    author_id: int | None = Field(default=None, foreign_key="user.id")
    lock_version: int = Field(default=1, nullable=False)
    created_at: datetime = _created_at()
    updated_at: datetime = _created_at()
    published_at: datetime | None = _optional_dt()
    published_by_id: int | None = Field(default=None, foreign_key="user.id")
    #: the second person who approved the draft, and the ``lock_version`` they approved
    approved_by_id: int | None = Field(default=None, foreign_key="user.id")
    approved_at: datetime | None = _optional_dt()
    approved_revision: int | None = Field(default=None)
    #: the first day the version no longer applies (set when it is retired)
    retired_from: date | None = Field(default=None)
    retired_at: datetime | None = _optional_dt()
    retired_by_id: int | None = Field(default=None, foreign_key="user.id")


# --- policy studio jobs ----------------------------------------------------------------


class StudioJob(SQLModel, table=True):
    """A spec run or an impact analysis of a policy version, run in the background.

    Kept in the database (not in process memory) so that any app server behind
    a load balancer can answer the browser's progress polls. ``digest`` (and
    ``features_digest`` for spec runs) name exactly what was run: a result
    only counts for a draft whose text has not changed since.
    """

    __tablename__ = "studio_job"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)  # specs | impact
    policy_id: str = Field(max_length=100)
    version: str = Field(max_length=50)
    digest: str = Field(max_length=100)
    features_digest: str | None = Field(default=None, max_length=100)
    against: str | None = Field(default=None, max_length=50)
    state: str = Field(default="queued", max_length=16)  # queued | running | done | failed
    done: int = Field(default=0)
    total: int = Field(default=0)
    result: dict[str, Any] | None = _json()
    error: str | None = Field(default=None, sa_type=sa.Text)
    created_by_id: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = _created_at()
    updated_at: datetime = _created_at()
    finished_at: datetime | None = _optional_dt()
    #: impact analyses: the day both sides are assessed on
    as_of: date | None = Field(default=None)
    #: written periodically by the process running the job; a job whose heartbeat
    #: stopped is marked failed (its process died) and can be run again
    heartbeat_at: datetime | None = _optional_dt()
    #: how many times a worker of the task queue took the job (``hub.studio.attempts``)
    attempts: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


# --- impact analyses in chunks ---------------------------------------------------------


class ImpactRun(SQLModel, table=True):
    """An impact analysis split into chunks of companies (``hub.studio.impact_runs``).

    Holds what every worker needs to analyse any chunk: the candidate's and the
    baseline's texts (a worker compiles them; a policy file named on the command line
    is not on the workers' disks), the date, and, once every chunk is done, the
    combined ``result`` (totals, companies left out). ``job_id`` is the studio job it
    belongs to (none for ``hub policy impact``). ``keep_unchanged``: the rows of
    companies that do not change are stored too (small populations, ``--all``).
    """

    __tablename__ = "impact_run"
    __table_args__ = (sa.UniqueConstraint("job_id", name="uq_impact_run_job_id"),)

    id: int | None = Field(default=None, primary_key=True)
    job_id: int | None = Field(default=None, foreign_key="studio_job.id")
    policy_id: str = Field(max_length=100)
    version: str = Field(max_length=50)
    digest: str = Field(max_length=100)
    candidate_text: str = Field(sa_type=sa.Text)
    against: str = Field(max_length=50)
    against_text: str = Field(sa_type=sa.Text)
    as_of: date
    chunk_size: int
    chunks: int = Field(default=0)
    companies: int = Field(default=0)
    keep_unchanged: bool = Field(default=False)
    state: str = Field(default="running", max_length=16)  # running | done
    result: dict[str, Any] | None = _json()
    created_at: datetime = _created_at()
    finished_at: datetime | None = _optional_dt()


class ImpactChunk(SQLModel, table=True):
    """One chunk of an impact run: the companies with ids ``first_company_id`` to
    ``last_company_id``; once ``done``, its partial totals (``ImpactPartial.to_dict``
    plus the companies left out). ``claim`` names the attempt that may finish it; a
    running chunk whose ``heartbeat_at`` stopped is taken over."""

    __tablename__ = "impact_chunk"
    __table_args__ = (sa.UniqueConstraint("run_id", "number", name="uq_impact_chunk"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="impact_run.id", index=True)
    number: int
    first_company_id: int
    last_company_id: int
    state: str = Field(default="queued", max_length=16)  # queued | running | done
    claim: str | None = Field(default=None, max_length=64)
    attempts: int = Field(default=0)
    heartbeat_at: datetime | None = _optional_dt()
    partial: dict[str, Any] | None = _json()
    updated_at: datetime = _created_at()


class ImpactRowRecord(SQLModel, table=True):
    """One company's row of an impact run (``ImpactRow.to_dict``): every company that
    changes, and the others when the run keeps them. Read in ``label`` order."""

    __tablename__ = "impact_row"
    __table_args__ = (sa.Index("ix_impact_row_order", "run_id", "label", "company_id"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="impact_run.id")
    chunk: int
    company_id: int
    label: str = Field(max_length=200)
    changed: bool
    row: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON, nullable=False)


# --- early warnings --------------------------------------------------------------------


class WarningState(StrEnum):
    """A stored warning is open while the daily watch finds its cause, then closed."""

    OPEN = "open"
    CLOSED = "closed"


class CompanyWarning(SQLModel, table=True):
    """One early warning of one company (``hub.policy.watch``), kept by the daily watch
    (``hub.services.watch``): one row per company, ``kind`` and ``subject`` (unique), so
    a cause found again is the same row.

    ``first_seen`` is the watch's date (``as_of``) of the run that opened it (or opened
    it again), ``last_seen`` that of the last run that found it, ``closed_on`` that of
    the run that no longer found it (None while open). ``loss_on`` is the first day
    without what is at stake (None for a notice), ``saving_at_stake_kzt`` the saving a
    year it would cost (None: not known). ``details``: the watch's JSON (``summary``,
    ``todo``...). ``filing_id``: the filing it was found on.
    """

    __tablename__ = "company_warning"
    __table_args__ = (
        sa.UniqueConstraint("company_id", "kind", "subject", name="uq_company_warning"),
        sa.Index("ix_company_warning_state_loss", "state", "kind", "loss_on"),
    )

    id: int | None = Field(default=None, primary_key=True)
    company_id: int = Field(foreign_key="company.id", index=True)
    filing_id: int | None = Field(default=None, foreign_key="filing.id")
    kind: str = Field(max_length=32)
    subject: str = Field(max_length=200)
    severity: str = Field(max_length=16)
    state: str = Field(default=WarningState.OPEN.value, max_length=16)
    first_seen: date
    last_seen: date
    closed_on: date | None = Field(default=None)
    loss_on: date | None = Field(default=None)
    saving_at_stake_kzt: float | None = Field(default=None)
    details: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON, nullable=False)
    created_at: datetime = _created_at()
    updated_at: datetime = _created_at()


# --- notifications ---------------------------------------------------------------------------


class MailStatus(StrEnum):
    """Where an e-mail stands: ``pending`` (stored, a worker sends it through SMTP),
    ``sent`` (the SMTP server took it), ``outbox`` (no SMTP server is configured: it is
    kept in the outbox, which administrators read in the app)."""

    PENDING = "pending"
    SENT = "sent"
    OUTBOX = "outbox"


class Notification(SQLModel, table=True):
    """One message to one user, as the in-app list shows it (``hub.services.
    notifications``): its ``kind`` (the preference that turns it off), ``title``, a short
    ``body`` and the ``link`` (a path of the app) to the page that acts on it.

    ``dedup_key`` (unique per user when set) keeps a message from being made twice: a
    warning's opening (``warning:<id>:<first_seen>``), a digest's day. ``read_at`` is
    None while unread.
    """

    __tablename__ = "notification"
    __table_args__ = (
        sa.UniqueConstraint("user_id", "dedup_key", name="uq_notification_dedup"),
        sa.Index("ix_notification_user_read", "user_id", "read_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id")
    kind: str = Field(max_length=32)
    title: str = Field(max_length=300)
    body: str = Field(sa_type=sa.Text)
    link: str = Field(max_length=500)
    company_id: int | None = Field(default=None, foreign_key="company.id")
    filing_id: int | None = Field(default=None, foreign_key="filing.id")
    warning_id: int | None = Field(default=None, foreign_key="company_warning.id")
    dedup_key: str | None = Field(default=None, max_length=200)
    created_at: datetime = _created_at()
    read_at: datetime | None = _optional_dt()


class MailMessage(SQLModel, table=True):
    """One e-mail, stored before it is sent (the outbox): rendered whole (``subject``,
    ``text_body``, ``html_body``) in the transaction that made its notification, then
    sent by a worker (``status`` ``pending`` -> ``sent``), or kept in the outbox when no
    SMTP server is configured (``outbox``).

    A failed send keeps the message ``pending`` with ``attempts``, ``last_error`` and
    ``next_attempt_at`` (the earliest time it is tried again); ``claimed_until``: a
    worker is sending it until then (another one leaves it alone).
    """

    __tablename__ = "mail_message"
    __table_args__ = (sa.Index("ix_mail_message_status_next", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    notification_id: int | None = Field(default=None, foreign_key="notification.id")
    user_id: int | None = Field(default=None, foreign_key="user.id")
    kind: str = Field(max_length=32)
    to_address: str = Field(max_length=254)
    from_address: str = Field(max_length=300)
    subject: str = Field(max_length=300)
    text_body: str = Field(sa_type=sa.Text)
    html_body: str = Field(sa_type=sa.Text)
    status: str = Field(default=MailStatus.PENDING.value, max_length=16)
    attempts: int = Field(default=0)
    last_error: str | None = Field(default=None, max_length=1000)
    next_attempt_at: datetime | None = _optional_dt()
    claimed_until: datetime | None = _optional_dt()
    created_at: datetime = _created_at()
    sent_at: datetime | None = _optional_dt()


class NotificationMute(SQLModel, table=True):
    """A kind of notification a user has turned off (no row: on)."""

    __tablename__ = "notification_mute"
    __table_args__ = (sa.UniqueConstraint("user_id", "kind", name="uq_notification_mute"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    kind: str = Field(max_length=32)
