"""The append-only, hash-chained audit trail.

Each record's ``hash`` is the SHA-256 of its canonical content and of the
previous record's hash, so editing or deleting a record breaks the chain,
which ``verify`` detects. The database refuses UPDATE and DELETE on the table
(triggers in the initial migration) and ``prev_hash`` is unique, so two
concurrent writers cannot fork the chain: the loser gets an IntegrityError
and its transaction rolls back.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from hub.models import AuditRecord
from hub.storage import utcnow

GENESIS_HASH = "0" * 64
# Any constant works: it only names the PostgreSQL advisory lock that
# serialises appends, so concurrent writers wait instead of failing.
_ADVISORY_LOCK_KEY = 0x4855_4241_5544  # "HUBAUD"


def _canonical(record: AuditRecord) -> bytes:
    content = {
        "at": record.at.isoformat(),
        "actor_id": record.actor_id,
        "action": record.action,
        "entity_type": record.entity_type,
        "entity_id": record.entity_id,
        "before": record.before,
        "after": record.after,
        "policy_version": record.policy_version,
        "policy_digest": record.policy_digest,
        "prev_hash": record.prev_hash,
    }
    return json.dumps(content, sort_keys=True, separators=(",", ":"), default=str).encode()


def compute_hash(record: AuditRecord) -> str:
    """The hash a record must carry given its content and ``prev_hash``."""
    return hashlib.sha256(_canonical(record)).hexdigest()


def append(
    session: Session,
    *,
    action: str,
    entity_type: str,
    entity_id: str | int | None = None,
    actor_id: int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    policy_version: str | None = None,
    policy_digest: str | None = None,
) -> AuditRecord:
    """Add a record to the chain inside the caller's transaction (not committed here)."""
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        session.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ADVISORY_LOCK_KEY})
    last = session.exec(select(AuditRecord).order_by(col(AuditRecord.id).desc()).limit(1)).first()
    record = AuditRecord(
        at=utcnow(),
        actor_id=actor_id,
        action=action,
        entity_type=entity_type,
        entity_id=None if entity_id is None else str(entity_id),
        before=before,
        after=after,
        policy_version=policy_version,
        policy_digest=policy_digest,
        prev_hash=last.hash if last else GENESIS_HASH,
        hash="",
    )
    record.hash = compute_hash(record)
    session.add(record)
    session.flush()
    return record


@dataclass(frozen=True)
class ChainProblem:
    """One place where the stored chain does not add up."""

    record_id: int | None
    message: str


def verify(session: Session) -> list[ChainProblem]:
    """Recompute the whole chain; an empty list means it is intact."""
    problems: list[ChainProblem] = []
    expected_prev = GENESIS_HASH
    # populate_existing: compare what is stored, not objects cached in this session.
    query = (
        select(AuditRecord).order_by(col(AuditRecord.id)).execution_options(populate_existing=True)
    )
    for record in session.exec(query):
        if record.prev_hash != expected_prev:
            problems.append(
                ChainProblem(record.id, "prev_hash does not match the previous record's hash")
            )
        if compute_hash(record) != record.hash:
            problems.append(ChainProblem(record.id, "content does not match its hash"))
        expected_prev = record.hash
    return problems
