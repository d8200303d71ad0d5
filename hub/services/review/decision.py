"""The certified decision: the outcome recomputed with overrides, reassessment, trace."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from hub.models import CriterionOverride, Filing
from hub.policy import FilingInvalid, NoVersionInForce, Policy, PolicyRegistry, assess
from hub.policy.ahead import inputs_for
from hub.policy.decision import estimate_savings
from hub.policy.outcome import reach
from hub.policy.trace import CriterionTrace, Trace, assess_traced
from hub.services.review.common import ReviewInvalid
from hub.services.review.queue import effective_overrides


class _StoredCriterion(BaseModel):
    """What the pages read of one stored criterion (the decision's other keys are kept)."""

    model_config = ConfigDict(extra="allow", strict=True)
    id: str
    title: str
    status: str
    tier: str | None = None
    values: dict[str, Any] | None = None


class _StoredBenefit(BaseModel):
    """What the pages read of one stored benefit."""

    model_config = ConfigDict(extra="allow", strict=True)
    id: str
    title: str


class _StoredDecision(BaseModel):
    """The shape of ``Filing.decision`` / ``final_decision`` as ``Decision.to_dict`` writes
    it, as far as review reads it; anything else there is left alone."""

    model_config = ConfigDict(extra="allow", strict=True)
    criteria: list[_StoredCriterion]
    benefits: list[_StoredBenefit] = []
    tier: str | None = None
    as_of: str | None = None


_STORED = TypeAdapter(_StoredDecision)


def unreadable(filing: Filing) -> str | None:
    """Why the filing's stored decision cannot be read (None when it can, or there is none).

    A decision of another shape (a JSON list, criteria without ids, ...) can only come from
    outside the hub (an edit in the database, an old release); the pages that show it say
    so and show the inputs rather than failing.
    """
    for name in ("decision", "final_decision"):
        document = getattr(filing, name)
        if document is None:
            continue
        try:
            _STORED.validate_python(document)
        except ValidationError as exc:
            first = exc.errors()[0]
            place = ".".join(str(p) for p in first["loc"]) or "the whole document"
            what = name.replace("_", " ")
            return f"the stored {what} is not in the hub's shape ({place}: {first['msg']})"
    return None


def require_readable(filing: Filing) -> None:
    """Raise ReviewInvalid (field ``decision``) when the stored decision is unreadable."""
    problem = unreadable(filing)
    if problem is not None:
        raise ReviewInvalid("decision", f"Stored decision unreadable: {problem}.")


def policy_of(registry: PolicyRegistry, filing: Filing) -> Policy | None:
    """The policy version the filing was decided under, if the catalogue still has it."""
    if not filing.policy_version:
        return None
    try:
        return registry.get(filing.policy_version)
    except (NoVersionInForce, KeyError, LookupError):
        return None


def outcome(
    policy: Policy,
    inputs: Mapping[str, Any],
    statuses: Mapping[str, str],
    as_of: dt.date | str | None = None,
) -> dict[str, Any]:
    """Tier and benefits for given criterion statuses under the cumulative tier rule.

    The tier and the benefits granted are the policy's plain reading
    (``hub.policy.outcome.reach``: the same rules the engine applies), so a reviewer's
    override changes the certified tier and benefits consistently; ``as_of`` (the
    decision's date) is there for requirements that read it. Returns the decision's
    ``tier``, ``tier_title``, ``benefits`` (id, title, standard rate, estimated saving)
    and ``estimated_total_saving_kzt``.
    """
    reached = reach(policy, statuses, inputs, as_of)
    savings, total = estimate_savings(policy, list(reached.benefits), dict(inputs))
    benefits = [
        {
            "id": policy.benefits[j].id,
            "title": policy.benefits[j].title,
            "standard_rate": policy.rate_text(policy.benefits[j]),
            "estimated_annual_saving_kzt": saving,
        }
        for j, saving in zip(reached.benefits, savings, strict=True)
    ]
    return {
        "tier": reached.tier,
        "tier_title": policy.tier_by_id[reached.tier].title if reached.tier else None,
        "benefits": benefits,
        "estimated_total_saving_kzt": total,
    }


def final_decision(
    policy: Policy | None, filing: Filing, rows: Iterable[CriterionOverride]
) -> dict[str, Any]:
    """The decision as the hub certifies it: the engine's, with overrides applied.

    Each criterion keeps ``engine_status`` beside its effective ``status`` (and the
    ``override`` with its reason where one applies); ``engine`` keeps the engine's
    tier and benefits. Without overrides it is the frozen decision itself.
    """
    require_readable(filing)
    stored = dict(filing.decision or {})
    active = effective_overrides(rows)
    criteria = []
    for c in stored.get("criteria", []):
        row = dict(c, engine_status=c["status"])
        if (o := active.get(c["id"])) is not None:
            row["status"] = o.status
            row["override"] = {
                "status": o.status,
                "reason": o.reason,
                "actor_id": o.actor_id,
                "at": o.created_at.isoformat(),
            }
        criteria.append(row)
    document = {
        **stored,
        "criteria": criteria,
        "engine": {
            "tier": stored.get("tier"),
            "benefits": [b["id"] for b in stored.get("benefits", [])],
        },
        "overrides": [
            {
                "criterion_id": o.criterion_id,
                "engine_status": o.engine_status,
                "status": o.status,
                "reason": o.reason,
                "actor_id": o.actor_id,
                "at": o.created_at.isoformat(),
            }
            for o in active.values()
        ],
    }
    if active:
        if policy is None:
            raise ReviewInvalid(
                "policy_version",
                f"policy version {filing.policy_version} is no longer in the catalogue, so "
                "the overridden outcome cannot be computed",
            )
        document.update(
            outcome(
                policy,
                filing.inputs or {},
                {c["id"]: c["status"] for c in criteria},
                stored.get("as_of"),
            )
        )
    return document


@dataclass
class Reassessment:
    """The filing's inputs assessed under the version in force today, against the stored one."""

    policy_version: str | None
    decision: dict[str, Any] | None
    errors: list[dict[str, Any]] = field(default_factory=list)
    changed: list[dict[str, Any]] = field(default_factory=list)
    tier_changed: bool = False

    @property
    def differs(self) -> bool:
        return bool(self.errors or self.changed or self.tier_changed)


def reassess(filing: Filing, *, registry: PolicyRegistry, today: dt.date) -> Reassessment:
    """Assess the submitted inputs again under today's policy (nothing stored)."""
    try:
        policy = registry.select(today)
    except NoVersionInForce as exc:
        return Reassessment(None, None, errors=[{"field": exc.field, "message": exc.message}])
    try:
        now = assess(policy, inputs_for(policy, filing.inputs or {}), today).to_dict()
    except FilingInvalid as exc:
        return Reassessment(policy.version, None, errors=exc.errors)
    before = {c["id"]: c for c in (filing.decision or {}).get("criteria", [])}
    changed = []
    for c in now["criteria"]:
        old = before.get(c["id"])
        if old is None or old["status"] != c["status"]:
            changed.append(
                {
                    "id": c["id"],
                    "title": c["title"],
                    "before": old["status"] if old else "not in that version",
                    "after": c["status"],
                    "explanation": c["explanation"],
                }
            )
    for cid, old in before.items():
        if cid not in {c["id"] for c in now["criteria"]}:
            changed.append(
                {
                    "id": cid,
                    "title": old["title"],
                    "before": old["status"],
                    "after": "not in this version",
                    "explanation": "",
                }
            )
    return Reassessment(
        policy.version,
        now,
        changed=changed,
        tier_changed=now["tier"] != (filing.decision or {}).get("tier"),
    )


@dataclass
class FilingTrace:
    """The trace of a stored decision, from re-running the filing's frozen inputs under
    its frozen policy version and ``as_of`` (``hub.policy.trace``)."""

    trace: Trace | None
    errors: list[dict[str, Any]] = field(default_factory=list)
    #: criteria whose status in the re-run differs from the stored decision's
    differs: list[str] = field(default_factory=list)

    @property
    def by_criterion(self) -> dict[str, CriterionTrace]:
        return {c["id"]: c for c in self.trace["criteria"]} if self.trace else {}


def trace_filing(filing: Filing, *, registry: PolicyRegistry) -> FilingTrace | None:
    """Re-run a decided filing exactly as it was decided and trace it (nothing stored).

    None for a filing never decided. The version must still be in the catalogue with
    the digest the filing froze; otherwise (or if the frozen inputs no longer pass
    validation) the answer carries errors instead of a trace. ``differs`` names the
    criteria whose status the re-run does not reproduce (never expected: decisions
    are deterministic)."""
    stored = filing.decision
    if not stored:
        return None
    policy = policy_of(registry, filing)
    if policy is None:
        message = f"version {filing.policy_version} is not in the catalogue"
        return FilingTrace(None, [{"field": "policy_version", "message": message}])
    if filing.policy_digest and policy.digest != filing.policy_digest:
        message = (
            f"version {policy.version} in the catalogue has digest {policy.digest}, "
            f"not the {filing.policy_digest} the decision was made with"
        )
        return FilingTrace(None, [{"field": "policy_digest", "message": message}])
    try:
        as_of = dt.date.fromisoformat(str(stored.get("as_of")))
    except ValueError:
        return FilingTrace(None, [{"field": "as_of", "message": "the stored date is unreadable"}])
    try:
        _, trace = assess_traced(policy, inputs_for(policy, filing.inputs or {}), as_of)
    except FilingInvalid as exc:
        return FilingTrace(None, exc.errors)
    before = {c["id"]: c["status"] for c in stored.get("criteria", [])}
    differs = [c["id"] for c in trace["criteria"] if before.get(c["id"]) != c["status"]]
    return FilingTrace(trace, differs=differs)
