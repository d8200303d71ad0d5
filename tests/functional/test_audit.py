"""The audit trail is a hash chain: intact chains verify, tampering is detected."""

from __future__ import annotations

import itertools

import pytest
import sqlalchemy as sa
from sqlmodel import select

from hub import audit
from hub.models import AuditRecord


def _append_three(session, actor_id):
    for n in range(3):
        audit.append(
            session,
            action="filing.submit",
            entity_type="filing",
            entity_id=n,
            actor_id=actor_id,
            before={"status": "draft"},
            after={"status": "submitted", "score": 97.5},
            policy_version="2026.1",
            policy_digest="sha256:abc",
        )
    session.commit()


def test_chain_links_each_record_to_the_previous(db_session, make_user):
    admin = make_user("admin")
    _append_three(db_session, admin.id)
    records = db_session.exec(select(AuditRecord).order_by(AuditRecord.id)).all()
    assert records[0].prev_hash == audit.GENESIS_HASH
    for earlier, later in itertools.pairwise(records):
        assert later.prev_hash == earlier.hash
    assert audit.verify(db_session) == []
    assert records[0].at.tzinfo is not None


def test_tampering_is_detected(db_session, make_user):
    admin = make_user("admin")
    _append_three(db_session, admin.id)
    target = db_session.exec(select(AuditRecord).order_by(AuditRecord.id)).all()[1]
    # Only someone who bypasses the database's guard can do this; verify still notices.
    dialect = db_session.get_bind().dialect.name
    if dialect == "postgresql":
        db_session.execute(
            sa.text("ALTER TABLE audit_record DISABLE TRIGGER audit_record_no_update")
        )
    else:
        db_session.execute(sa.text("DROP TRIGGER audit_record_no_update"))
    db_session.execute(
        sa.text("UPDATE audit_record SET action = 'filing.approve' WHERE id = :id"),
        {"id": target.id},
    )
    if dialect == "postgresql":
        db_session.execute(
            sa.text("ALTER TABLE audit_record ENABLE TRIGGER audit_record_no_update")
        )
    db_session.commit()
    problems = audit.verify(db_session)
    assert [p.record_id for p in problems] == [target.id]


def test_the_chain_cannot_fork(db_session, make_user):
    """Two records claiming the same predecessor violate the unique prev_hash."""
    admin = make_user("admin")
    _append_three(db_session, admin.id)
    last = db_session.exec(select(AuditRecord).order_by(AuditRecord.id.desc())).first()
    forged = AuditRecord(action="x", entity_type="x", prev_hash=last.prev_hash, hash="f" * 64)
    db_session.add(forged)
    with pytest.raises(sa.exc.IntegrityError):
        db_session.commit()
    db_session.rollback()
