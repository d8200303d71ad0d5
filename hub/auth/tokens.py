"""Personal API tokens: shown once at creation, stored only as a SHA-256 hash."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

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


def issue_token(session: Session, *, user: User, name: str) -> tuple[ApiToken, str]:
    """Create a token for ``user``; returns the row and the plaintext (show it once)."""
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        user_id=stored_id(user),
        name=name.strip()[:100] or "token",
        token_hash=hash_token(plaintext),
        prefix=plaintext[: len(TOKEN_PREFIX) + 6],
    )
    session.add(row)
    session.flush()
    return row, plaintext


def user_for_token(session: Session, token: str, *, now: datetime) -> tuple[User | None, bool]:
    """The active user a live token belongs to (None otherwise), and whether its use was
    recorded in ``session`` (commit it then).

    ``now`` is the current instant (aware, from the app's clock). The use is recorded
    (``last_used_at = now``) only when the stored one is empty or at least
    ``USE_RECORDED_EVERY`` old, by a conditional UPDATE, so several requests, processes
    or servers using the token in the same minute write it once, not once per read.
    """
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None, False
    row = session.exec(select(ApiToken).where(ApiToken.token_hash == hash_token(token))).first()
    if row is None or row.revoked_at is not None:
        return None, False
    user = session.get(User, row.user_id)
    if user is None or not user.is_active:
        return None, False
    return user, _record_use(session, row, now)


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
