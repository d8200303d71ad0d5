"""Personal API tokens: shown once at creation, stored only as a SHA-256 hash."""

from __future__ import annotations

import hashlib
import secrets

from sqlmodel import Session, select

from hub.models import ApiToken, User, stored_id
from hub.storage import utcnow

TOKEN_PREFIX = "hub_"


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


def user_for_token(session: Session, token: str) -> User | None:
    """The active user a live token belongs to, recording its use; None otherwise."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    row = session.exec(select(ApiToken).where(ApiToken.token_hash == hash_token(token))).first()
    if row is None or row.revoked_at is not None:
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.is_active:
        return None
    row.last_used_at = utcnow()
    session.add(row)
    return user


def revoke_token(session: Session, *, token_id: int, user: User) -> bool:
    """Revoke one of the user's own tokens; False when it is not theirs or not found."""
    row = session.get(ApiToken, token_id)
    if row is None or row.user_id != user.id:
        return False
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.add(row)
    return True
