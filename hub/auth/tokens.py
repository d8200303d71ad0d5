"""Personal API tokens: shown once at creation, stored only as a SHA-256 hash.

A token works until it is revoked (by its user, or with all the user's tokens by a
password change or a deactivation: ``revoke_all_tokens``) or until its expiry
(``expires_at``, optional, chosen at creation). ``check_token`` says which, so the API
can tell a client why its token is refused.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col, select

from hub.models import ApiToken, User, stored_id
from hub.storage import utcnow

TOKEN_PREFIX = "hub_"

#: A token's ``last_used_at`` is written at most this often: "last used" on the tokens page
#: is exact to the minute, and reading with a token (most calls) writes nothing.
USE_RECORDED_EVERY = timedelta(minutes=1)


def hash_token(token: str) -> str:
    """The stored form of a token (tokens are random, so a fast hash is enough)."""
    return hashlib.sha256(token.encode()).hexdigest()


def expiry_of(last_day: date, zone: ZoneInfo) -> datetime:
    """The instant a token chosen to work through ``last_day`` (the hub's date in
    ``zone``) stops working: the next midnight there, as an aware UTC datetime."""
    from datetime import UTC

    return datetime.combine(last_day + timedelta(days=1), time(0), zone).astimezone(UTC)


def issue_token(
    session: Session, *, user: User, name: str, expires_at: datetime | None = None
) -> tuple[ApiToken, str]:
    """Create a token for ``user``, refused from ``expires_at`` (aware; None: until
    revoked); returns the row and the plaintext (show it once)."""
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        user_id=stored_id(user),
        name=name.strip()[:100] or "token",
        token_hash=hash_token(plaintext),
        prefix=plaintext[: len(TOKEN_PREFIX) + 6],
        expires_at=expires_at,
    )
    session.add(row)
    session.flush()
    return row, plaintext


@dataclass(frozen=True)
class TokenCheck:
    """What a presented token is worth: its ``user`` (None when refused), whether its use
    was recorded in the session (``recorded``: commit it then), and for a token the hub
    knows but refuses, why (``refusal``: the token's expiry or revocation, in words)."""

    user: User | None
    recorded: bool = False
    refusal: str | None = None


def check_token(session: Session, token: str, *, now: datetime, zone: ZoneInfo) -> TokenCheck:
    """Check a presented token at ``now`` (aware, from the app's clock; ``zone`` is the
    hub's, for the dates in refusals).

    A token that is not one of the hub's gives no user and no refusal; a revoked or
    expired one, or one whose user is deactivated, gives no user and says why. The use
    of a live token is recorded (``last_used_at = now``) only when the stored one is
    empty or at least ``USE_RECORDED_EVERY`` old, by a conditional UPDATE, so several
    requests, processes or servers using the token in the same minute write it once.
    """
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return TokenCheck(None)
    row = session.exec(select(ApiToken).where(ApiToken.token_hash == hash_token(token))).first()
    if row is None:
        return TokenCheck(None)
    if row.revoked_at is not None:
        return TokenCheck(
            None,
            refusal=f"This API token was revoked on {row.revoked_at.astimezone(zone).date()}: "
            "create a new one on the API tokens page.",
        )
    if row.expires_at is not None and row.expires_at <= now:
        last_day = (row.expires_at.astimezone(zone) - timedelta(microseconds=1)).date()
        return TokenCheck(
            None,
            refusal=f"This API token expired after {last_day}: create a new one on the "
            "API tokens page.",
        )
    user = session.get(User, row.user_id)
    if user is None or not user.is_active:
        return TokenCheck(None, refusal="This API token's account is deactivated.")
    return TokenCheck(user, _record_use(session, row, now))


def revoke_all_tokens(session: Session, *, user: User, now: datetime) -> list[str]:
    """Revoke every live token of ``user`` at ``now`` (a password change, a deactivation);
    returns their names, oldest first (empty when there were none). Expired tokens are
    left as they are: they open nothing already."""
    rows = session.exec(
        select(ApiToken)
        .where(
            ApiToken.user_id == stored_id(user),
            col(ApiToken.revoked_at).is_(None),
            sa.or_(col(ApiToken.expires_at).is_(None), col(ApiToken.expires_at) > now),
        )
        .order_by(col(ApiToken.created_at), col(ApiToken.id))
    ).all()
    for row in rows:
        row.revoked_at = now
        session.add(row)
    return [row.name for row in rows]


def _record_use(session: Session, row: ApiToken, now: datetime) -> bool:
    """Set ``row.last_used_at = now`` if it is empty or ``USE_RECORDED_EVERY`` old."""
    due = now - USE_RECORDED_EVERY
    if row.last_used_at is not None and row.last_used_at > due:
        return False  # recorded less than a minute ago: no statement at all
    last_used = col(ApiToken.last_used_at)
    done = session.connection().execute(
        sa.update(ApiToken)
        .where(col(ApiToken.id) == row.id, sa.or_(last_used.is_(None), last_used <= due))
        .values(last_used_at=now)
    )
    if done.rowcount == 0:
        return False  # another request or server recorded it in the meantime
    set_committed_value(row, "last_used_at", now)
    return True


def revoke_token(session: Session, *, token_id: int, user: User) -> bool:
    """Revoke one of the user's own tokens; False when it is not theirs or not found."""
    row = session.get(ApiToken, token_id)
    if row is None or row.user_id != user.id:
        return False
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.add(row)
    return True
