"""Account use cases: create users, register a company, authenticate, change passwords.

Functions take an explicit session and keyword-only arguments, and leave the
commit to the caller (a view or a command), so one request is one transaction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from itsdangerous import BadSignature, URLSafeSerializer
from sqlmodel import Session, col, func, select

from hub import audit
from hub.auth.passwords import hash_password, needs_rehash, verify_password
from hub.auth.tokens import revoke_all_tokens
from hub.models import Company, Role, User
from hub.policy.text import clean_text, nfc, text_problem
from hub.services.errors import Invalid

MAX_NAME = 200  # a company's legal name, as the filing's legal_name input allows

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")


class AccountError(Invalid):
    """A refused account operation, with the form field it is about (``field``, ``message``)."""

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message, field=field)


#: What a registration or staff form answers when the e-mail address is taken (checked
#: first, or found taken by the database when two requests race for it).
EMAIL_TAKEN = "An account with this e-mail address already exists."
#: What registration answers for a BIN whose company already has users.
BIN_TAKEN = "This company already has an account; ask its administrator to give you access."


def _flush_unique(session: Session, field: str, message: str) -> None:
    """Flush the pending insert; when the database refuses it for a unique value that
    another request stored meanwhile (the check before it saw nothing), roll the
    session's transaction back and raise AccountError(``field``, ``message``), the same
    refusal the check gives, instead of letting the IntegrityError become a 500."""
    try:
        session.flush()
    except sa.exc.IntegrityError:
        session.rollback()
        raise AccountError(field, message) from None


def normalise_email(email: str) -> str:
    """E-mail addresses are compared case-insensitively, in NFC and without spaces."""
    return nfc(email.strip().lower())


def validate_email(email: str) -> str | None:
    """An error message for an address that cannot be one, else None."""
    if not email or len(email) > 254 or not _EMAIL.match(email) or text_problem(email):
        return "Enter a valid e-mail address, such as name@example.kz."
    return None


def clean_name(value: str, *, field: str = "legal_name", maximum: int = MAX_NAME) -> str:
    """A name a person typed, as it is kept: NFC, trimmed, one line of visible text.

    Raises AccountError naming ``field`` for a lone surrogate, control or bidirectional
    override characters, nothing visible, or more than ``maximum`` characters (counted
    after NFC, so a name typed composed or decomposed has one length)."""
    text, problem = clean_text(value if isinstance(value, str) else "")
    if problem is not None:
        raise AccountError(field, f"The name {problem}.")
    if not text:
        raise AccountError(field, "Enter the name.")
    if len(text) > maximum:
        raise AccountError(field, f"Use at most {maximum} characters (got {len(text)}).")
    return text


def get_user_by_email(session: Session, *, email: str) -> User | None:
    return session.exec(select(User).where(User.email == normalise_email(email))).first()


def create_user(
    session: Session,
    *,
    email: str,
    password: str,
    role: Role | str,
    company: Company | None = None,
    actor_id: int | None = None,
) -> User:
    """Create a user (company users need a company; staff must not have one).

    Raises AccountError naming the field for an invalid or taken address, also when a
    concurrent request takes the address between the check and the insert (the
    session's transaction is then rolled back)."""
    role = Role(role)
    email = normalise_email(email)
    if (error := validate_email(email)) is not None:
        raise AccountError("email", error)
    if role is Role.COMPANY and company is None:
        raise AccountError("bin", "A company user must belong to a company.")
    if role is not Role.COMPANY and company is not None:
        raise AccountError("role", "Only company users belong to a company.")
    if get_user_by_email(session, email=email) is not None:
        raise AccountError("email", EMAIL_TAKEN)
    user = User(
        email=email,
        password_hash=hash_password(password),
        role=role.value,
        company_id=company.id if company else None,
    )
    session.add(user)
    _flush_unique(session, "email", EMAIL_TAKEN)
    audit.append(
        session,
        action="user.create",
        entity_type="user",
        entity_id=user.id,
        actor_id=actor_id if actor_id is not None else user.id,
        after={"email": user.email, "role": user.role, "company_id": user.company_id},
    )
    return user


def get_or_create_company(
    session: Session, *, bin: str, legal_name: str, activity: str | None
) -> Company:
    """The company with this BIN, created if the hub does not know it yet (its legal name
    checked by ``clean_name``: AccountError on ``legal_name``). A company created by a
    concurrent request between the look-up and the insert is an AccountError on ``bin``
    (``BIN_TAKEN``; that request registers its user with it), the session's transaction
    rolled back."""
    company = session.exec(select(Company).where(Company.bin == bin)).first()
    if company is None:
        company = Company(bin=bin, legal_name=clean_name(legal_name), activity=activity)
        session.add(company)
        _flush_unique(session, "bin", BIN_TAKEN)
    return company


@dataclass(frozen=True)
class Registration:
    """What a registration did, which the person registering is never shown (every case
    answers "check your mail"): ``created`` (the new, unconfirmed account to send the
    confirmation mail to), else ``email_owner`` (the address had an account: its owner
    is told) or ``company_users`` (the BIN's company has accounts: they are told)."""

    created: User | None = None
    email_owner: User | None = None
    company_users: tuple[User, ...] = ()


def register(
    session: Session,
    *,
    email: str,
    password: str,
    bin: str,
    legal_name: str,
    activity: str | None,
) -> Registration:
    """Self-registration without account enumeration: ``register_company_user``, except
    that a taken e-mail address or a BIN whose company has users is not refused but
    returned as whom to tell (``Registration``), the transaction rolled back. The
    password is hashed in those cases too, so that they take the time a new account
    takes. Other AccountErrors (an invalid address or name) are raised as before."""
    email = normalise_email(email)
    if (error := validate_email(email)) is not None:
        raise AccountError("email", error)
    owner = get_user_by_email(session, email=email)
    if owner is not None:
        hash_password(password)  # as long as a new account's hashing
        return Registration(email_owner=owner)
    try:
        user = register_company_user(
            session,
            email=email,
            password=password,
            bin=bin,
            legal_name=legal_name,
            activity=activity,
            confirmed=False,
        )
    except AccountError as exc:
        if exc.message == EMAIL_TAKEN:  # a concurrent registration took it meanwhile
            session.rollback()  # nor is the company made for it kept
            return Registration(email_owner=get_user_by_email(session, email=email))
        if exc.message != BIN_TAKEN:
            raise
        session.rollback()
        company = session.exec(select(Company).where(Company.bin == bin.strip())).first()
        members = (
            session.exec(
                select(User)
                .where(User.company_id == company.id, col(User.is_active).is_(True))
                .order_by(col(User.email))
            ).all()
            if company is not None
            else []
        )
        hash_password(password)
        return Registration(company_users=tuple(members))
    return Registration(created=user)


#: How long a confirmation link works (seconds): three days.
CONFIRM_MAX_AGE = 3 * 24 * 3600
_CONFIRM_SALT = "hub.account-confirmation"


def confirmation_token(secret_key: str, user: User, *, now: datetime) -> str:
    """A signed token that confirms ``user``'s account: its id, address and the time it
    was made (``now``, aware). It confirms that account only while it is unconfirmed
    (single use) and for ``CONFIRM_MAX_AGE`` seconds (``confirm_account``)."""
    serializer = URLSafeSerializer(secret_key, salt=_CONFIRM_SALT)
    return serializer.dumps([user.id, user.email, int(now.timestamp())])


def confirm_account(
    session: Session,
    *,
    secret_key: str,
    token: str,
    now: datetime,
    max_age: int = CONFIRM_MAX_AGE,
) -> User:
    """Confirm the account a ``confirmation_token`` names, at ``now`` (aware); audited.

    AccountError on ``token``: a token not signed with ``secret_key`` or malformed, one
    older than ``max_age`` seconds, one whose account is gone, has another address or is
    confirmed already (a link works once)."""
    invalid = AccountError("token", "This confirmation link is not valid, or was used already.")
    try:
        payload = URLSafeSerializer(secret_key, salt=_CONFIRM_SALT).loads(token[:1000])
    except BadSignature:
        raise invalid from None
    if not (
        isinstance(payload, list)
        and len(payload) == 3
        and all(isinstance(v, int) and not isinstance(v, bool) for v in payload[::2])
        and isinstance(payload[1], str)
    ):
        raise invalid
    user_id, email, issued = payload
    if now - datetime.fromtimestamp(issued, now.tzinfo) > timedelta(seconds=max_age):
        raise AccountError(
            "token", "This confirmation link has expired. Register again for a new one."
        )
    user = session.get(User, user_id)
    if user is None or user.email != email or user.email_confirmed:
        raise invalid
    user.email_confirmed = True
    session.add(user)
    audit.append(
        session,
        action="user.confirm",
        entity_type="user",
        entity_id=user.id,
        actor_id=user.id,
        after={"email_confirmed": True},
    )
    return user


def register_company_user(
    session: Session,
    *,
    email: str,
    password: str,
    bin: str,
    legal_name: str,
    activity: str | None,
    confirmed: bool = True,
) -> User:
    """Self-registration of a company's first user (``confirmed``: False for an account
    that must follow its confirmation mail's link before it can sign in).

    A BIN that already has users is refused: anyone could type a competitor's
    BIN, so joining an existing company is for its own users to arrange, not
    for the registration form. Two registrations of one BIN at once get one
    account: a new company's insert is refused by the unique BIN, and a known
    company's row is locked (an UPDATE of it, which waits for the other
    registration's transaction) before its users are counted.
    """
    bin = bin.strip()
    existing = session.exec(select(Company).where(Company.bin == bin)).first()
    if existing is None:
        # Not get_or_create_company: a company another registration stored since the
        # look-up above must be refused (BIN_TAKEN), never joined without counting its users.
        company = Company(bin=bin, legal_name=clean_name(legal_name), activity=activity)
        session.add(company)
        _flush_unique(session, "bin", BIN_TAKEN)
    else:
        # Locks the row until commit (PostgreSQL), or takes SQLite's write lock; the
        # count below then sees a user another registration committed meanwhile.
        session.execute(
            sa.update(Company).where(col(Company.id) == existing.id).values(bin=Company.bin)
        )
        members = session.exec(
            select(func.count()).select_from(User).where(User.company_id == existing.id)
        ).one()
        if members:
            raise AccountError("bin", BIN_TAKEN)
        company = existing
    user = create_user(session, email=email, password=password, role=Role.COMPANY, company=company)
    if not confirmed:
        user.email_confirmed = False
        session.add(user)
    return user


def authenticate(session: Session, *, email: str, password: str) -> User | None:
    """The active user with these credentials, or None (same answer and time for all failures)."""
    user = get_user_by_email(session, email=email)
    ok = verify_password(user.password_hash if user else None, password)
    if user is None or not ok or not user.is_active:
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
        session.add(user)
    return user


def change_password(
    session: Session, *, user: User, current: str, new: str, now: datetime
) -> list[str]:
    """Replace the password after checking the current one (AccountError on
    ``current_password`` otherwise), and revoke everything the old one let in: every
    session of the user (``session_epoch`` raised; the caller signs the current one in
    again) and every live API token, at ``now`` (aware).

    Returns the names of the tokens revoked, oldest first.
    """
    if not verify_password(user.password_hash, current):
        raise AccountError("current_password", "The current password is not correct.")
    user.password_hash = hash_password(new)
    user.session_epoch += 1
    session.add(user)
    revoked = revoke_all_tokens(session, user=user, now=now)
    audit.append(
        session,
        action="user.password_change",
        entity_type="user",
        entity_id=user.id,
        actor_id=user.id,
        after={"tokens_revoked": revoked},
    )
    return revoked


def set_active(
    session: Session, *, user: User, active: bool, actor: User | None, now: datetime
) -> list[str]:
    """Deactivate (``active=False``) or reactivate a user, by the administrator ``actor``
    (None: the command line, audited without an actor).

    Deactivating ends every session of the user (``session_epoch`` raised: a session
    signed in before stays refused after a reactivation too) and revokes every live API
    token at ``now`` (aware); returns the names of the tokens revoked (empty when
    reactivating or already inactive). An administrator cannot deactivate themselves
    (AccountError on ``user``). Audited.
    """
    if not active and actor is not None and user.id == actor.id:
        raise AccountError("user", "You cannot deactivate your own account.")
    if user.is_active == active:
        return []
    user.is_active = active
    revoked: list[str] = []
    if not active:
        user.session_epoch += 1
        revoked = revoke_all_tokens(session, user=user, now=now)
    session.add(user)
    audit.append(
        session,
        action="user.activate" if active else "user.deactivate",
        entity_type="user",
        entity_id=user.id,
        actor_id=actor.id if actor is not None else None,
        after={"is_active": active, **({} if active else {"tokens_revoked": revoked})},
    )
    return revoked
