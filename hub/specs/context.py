"""The state one scenario builds up: a filing, a date, and the decision made on it.

Steps are plain functions of this object, so pytest-bdd and the in-process
runner share them unchanged.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hub.policy import FilingInvalid, NoVersionInForce, Policy, PolicyRegistry, assess
from hub.policy.decision import Decision


class SpecFailure(AssertionError):
    """A Then step found the decision different from what the scenario says."""


@dataclass
class SpecContext:
    """One scenario's world.

    ``policy`` is the version under test (a draft, a mutant, a published file);
    ``catalogue`` is every version the date-selection steps may choose from,
    with ``policy`` taking the place of any published file of its version;
    ``retired`` holds the catalogue's retirements (``(policy id, version) -> first
    day no longer applied``), which date selection honours as the service does.
    ``observer``, when set, sees every decision the scenario makes (boundary
    coverage watches the specs this way).
    """

    policy: Policy
    catalogue: Sequence[Policy] = ()
    retired: Mapping[tuple[str, str], dt.date] = field(default_factory=dict)
    filing: dict[str, Any] = field(default_factory=dict)
    as_of: dt.date | None = None
    licence_offset_days: int | None = None
    decision: dict[str, Any] | None = None
    decision_policy: Policy | None = None
    error: Exception | None = None
    observer: Callable[[Decision], None] | None = None

    def __post_init__(self) -> None:
        others = [p for p in self.catalogue if p.version != self.policy.version]
        self.catalogue = sorted([*others, self.policy], key=lambda p: p.effective_from)

    # --- assessing ---------------------------------------------------------
    def assess_with(self, policy: Policy, as_of: dt.date | None = None) -> None:
        """Assess the filing, keeping either the decision or the refusal for Then steps."""
        day = as_of or self.as_of or policy.effective_from
        filing = dict(self.filing)
        if self.licence_offset_days is not None:
            expiry = day + dt.timedelta(days=self.licence_offset_days)
            filing["licence_expires_on"] = expiry.isoformat()
        self.decision, self.decision_policy, self.error = None, policy, None
        try:
            decision = assess(policy, filing, as_of=day)
        except FilingInvalid as exc:
            self.error = exc
            return
        self.decision = decision.to_dict()
        if self.observer is not None:
            self.observer(decision)

    @property
    def registry(self) -> PolicyRegistry:
        """The core's own version selection, over the catalogue (raises NoVersionInForce)."""
        return PolicyRegistry(
            [p for p in self.catalogue if p.id == self.policy.id], retired=self.retired
        )

    def select(self, as_of: dt.date) -> Policy:
        return self.registry.select(as_of=as_of, policy_id=self.policy.id)

    def by_version(self, version: str) -> Policy:
        try:
            return self.registry.get(version, policy_id=self.policy.id)
        except NoVersionInForce as exc:
            raise SpecFailure(str(exc)) from exc

    # --- reading the decision ----------------------------------------------
    def require_decision(self) -> dict[str, Any]:
        if self.decision is not None:
            return self.decision
        if self.error is not None:
            raise SpecFailure(f"there is no decision: {describe_error(self.error)}")
        raise SpecFailure("there is no decision yet: a When step must assess the company first")

    def criterion(self, criterion_id: str) -> dict[str, Any]:
        for c in self.require_decision()["criteria"]:
            if c["id"] == criterion_id:
                return c
        known = ", ".join(c["id"] for c in self.require_decision()["criteria"])
        raise SpecFailure(f"the decision has no criterion {criterion_id!r} (it has: {known})")

    def benefit(self, benefit_id: str) -> dict[str, Any] | None:
        for b in self.require_decision()["benefits"]:
            if b["id"] == benefit_id:
                return b
        return None

    def unsatisfied(self) -> str:
        """The criteria holding the company back, with the values they read."""
        parts = [
            f"{c['id']} ({c['tier']}) {c['status']} {fmt_values(c.get('values'))}"
            for c in self.require_decision()["criteria"]
            if c["status"] in ("not_met", "missing")
        ]
        return "; ".join(parts) or "none"


def fmt_values(values: Any) -> str:
    if not values:
        return "{}"
    return "{" + ", ".join(f"{k}={v!r}" for k, v in dict(values).items()) + "}"


def describe_error(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if errors:
        parts = [
            f"{e.get('field')}: {e.get('message')}" if isinstance(e, dict) else str(e)
            for e in errors
        ]
        return f"{type(exc).__name__}: " + "; ".join(parts)
    return f"{type(exc).__name__}: {exc}"
