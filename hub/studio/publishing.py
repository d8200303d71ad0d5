"""Publishing a draft: the checks, the effective date, the published version."""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from hub import audit
from hub.models import (
    Assessment,
    PolicyState,
    PolicyVersionRecord,
    User,
)
from hub.policy import Policy, load_policy_text
from hub.services.errors import Conflict, Invalid
from hub.storage import utcnow
from hub.studio.drafts import compiled_policy, require_draft, set_line
from hub.studio.jobs import run_draft_specs

log = logging.getLogger(__name__)

EFFECTIVE_RE = re.compile(r"^effective_from:[ \t]*(?P<value>[^\n#]*?)[ \t]*(?:#.*)?$", re.M)


# --- publishing ----------------------------------------------------------------------------


@dataclass
class PublishCheck:
    """What the confirmation page shows: the final text and its spec results."""

    policy: Policy
    text: str
    specs: dict[str, Any]
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def check_publication(
    session: Session,
    *,
    record: PolicyVersionRecord,
    effective_from: dt.date,
    today: dt.date,
    catalogue: Sequence[Policy],
) -> PublishCheck:
    """Everything that must hold before ``record`` is published on ``effective_from``."""
    require_draft(record)
    compiled_policy(record)
    if effective_from < today:
        raise Invalid(
            f"The effective date {effective_from.isoformat()} is in the past: decisions have "
            f"already been made on that date. Choose today ({today.isoformat()}) or later."
        )
    decided = session.exec(
        select(sa.func.max(Assessment.as_of)).where(col(Assessment.policy_id) == record.policy_id)
    ).one()
    if decided is not None and decided >= effective_from:
        raise Invalid(
            f"Decisions have already been made for {decided.isoformat()}, on or after "
            f"{effective_from.isoformat()}; a new version may only take effect after them. "
            f"Choose {(decided + dt.timedelta(days=1)).isoformat()} or later."
        )
    for p in catalogue:
        if p.id == record.policy_id and p.effective_from == effective_from:
            raise Invalid(
                f"Version {p.version} already takes effect on {effective_from.isoformat()}; "
                "two versions cannot start on the same day. Choose another date."
            )
    text = set_line(EFFECTIVE_RE, record.text, "effective_from", effective_from.isoformat())
    policy = load_policy_text(text, source=f"{record.version}.yaml")
    specs = run_draft_specs(policy, record.features_text, catalogue)
    problems = []
    summary = specs["summary"]
    if specs["errors"]:
        problems.append(f"{len(specs['errors'])} feature file(s) do not parse")
    if summary["failed"]:
        problems.append(f"{summary['failed']} scenario(s) fail")
    if not summary["passed"]:
        problems.append("no scenario ran: a version without passing scenarios proves nothing")
    return PublishCheck(policy, text, specs, problems)


def publish(
    session: Session,
    *,
    record: PolicyVersionRecord,
    effective_from: dt.date,
    today: dt.date,
    catalogue: Sequence[Policy],
    actor: User,
    lock_version: int | None = None,
) -> Policy:
    """Publish a draft from ``effective_from``: refused while any scenario fails."""
    if lock_version is not None and lock_version != record.lock_version:
        raise Conflict(
            f"Version {record.version} was saved again after you reviewed it; review the "
            "new text and its results before publishing."
        )
    check = check_publication(
        session, record=record, effective_from=effective_from, today=today, catalogue=catalogue
    )
    if not check.ok:
        raise Invalid(
            f"Version {record.version} cannot be published: " + "; ".join(check.problems) + ". "
            "Fix the rules or the scenarios until every scenario passes."
        )
    result = session.execute(
        sa.update(PolicyVersionRecord)
        .where(
            col(PolicyVersionRecord.id) == record.id,
            col(PolicyVersionRecord.lock_version) == record.lock_version,
            col(PolicyVersionRecord.state) == PolicyState.DRAFT.value,
        )
        .values(lock_version=record.lock_version + 1)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]  # an UPDATE gives a CursorResult
        session.rollback()
        raise Conflict(f"Version {record.version} changed while it was being published.")
    session.refresh(record)
    record.text = check.text
    record.digest = check.policy.digest
    record.effective_from = effective_from
    record.state = PolicyState.PUBLISHED.value
    record.published_at = utcnow()
    record.updated_at = record.published_at
    session.add(record)
    session.flush()
    audit.append(
        session,
        action="policy.published",
        entity_type="policy_version",
        entity_id=record.id,
        actor_id=actor.id,
        after={
            "policy_id": record.policy_id,
            "version": record.version,
            "effective_from": effective_from.isoformat(),
            "digest": record.digest,
            "base_version": record.base_version,
            "specs": check.specs["summary"],
        },
        policy_version=record.version,
        policy_digest=record.digest,
    )
    return check.policy
