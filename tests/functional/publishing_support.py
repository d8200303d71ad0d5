"""Shared steps of the tests that publish: a second person's approval of a draft.

Publishing needs an approval of the draft's current revision by an author or
administrator who did not edit it, and a finished scenario run of its current
text (``green_draft`` and ``run_specs`` in ``test_studio`` make one through the
studio; ``hub policy publish`` records its own).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlmodel import Session, select

from hub.models import PolicyVersionRecord, Role, User
from hub.studio import publishing

APPROVER = "approver@example.kz"


def approver(db: Session, make_user: Callable[..., User], email: str = APPROVER) -> User:
    """The second person (an author), created on first use."""
    found = db.exec(select(User).where(User.email == email)).first()
    return found or make_user(Role.AUTHOR, email=email)


def approve_draft(
    db: Session, make_user: Callable[..., User], version: str, email: str = APPROVER
) -> User:
    """Approve the current revision of draft ``version`` as a second person; committed."""
    db.expire_all()
    record = db.exec(select(PolicyVersionRecord).where(PolicyVersionRecord.version == version))
    rec = record.one()
    who = approver(db, make_user, email)
    publishing.approve(db, record=rec, actor=who, lock_version=rec.lock_version)
    db.commit()
    return who
