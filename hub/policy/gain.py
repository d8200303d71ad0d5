"""What the next tier is worth: the benefits a company would add by reaching it, with the
engine's estimate of their annual saving.

Read from the policy as the engine reads it: the criteria of the next tier (and of the
tiers below it) that are not met or missing are taken as met, the tier and benefits that
grants come from ``hub.policy.outcome.reach`` (the cumulative tier rule and the benefits'
requirements), and the savings from the compiled formulas (``estimate_savings``) on the
filing's own figures. Pure: no Flask, no database.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .decision import estimate_savings
from .model import Policy
from .outcome import NO_TIER, reach, tier_ranks

UNSATISFIED = ("not_met", "missing")


@dataclass(frozen=True)
class AddedBenefit:
    """A benefit reaching the next tier would add: its id, title and estimated annual
    saving in KZT (None when a figure its formula reads is not given)."""

    id: str
    title: str
    saving: float | None


@dataclass(frozen=True)
class TierGain:
    """What meeting the criteria the next tier needs would bring: the ``criteria`` (ids)
    to meet, the ``tier`` (id) and ``title`` they reach (the next tier, or a higher one
    when the higher tiers' criteria are already met), the ``benefits`` that adds, and
    ``total``, the exact sum in KZT of their known savings (rounded by the policy's rule,
    as decisions are)."""

    tier: str
    title: str
    criteria: tuple[str, ...]
    benefits: tuple[AddedBenefit, ...]
    total: float


def next_tier_gain(
    policy: Policy,
    statuses: Mapping[str, str],
    inputs: Mapping[str, Any],
    as_of: dt.date | str | None = None,
) -> TierGain | None:
    """What meeting the criteria of the tier above the one ``statuses`` reach would add,
    or None at the top tier.

    ``statuses``: criterion id -> status, as decided; ``inputs``: the filing's validated
    inputs (the savings read them); ``as_of``: the decision's date (requirements may read
    it). Source: the policy's tiers (cumulative) and each benefit's requirement.
    """
    ranks = tier_ranks(policy)
    now = reach(policy, statuses, inputs, as_of)
    target = now.tier_rank + 1 if now.tier_rank != NO_TIER else 0
    if target >= len(policy.tiers):
        return None
    needs = tuple(
        c.id
        for c in policy.criteria
        if ranks[c.tier] <= target and statuses.get(c.id, "missing") in UNSATISFIED
    )
    then = reach(policy, {**statuses, **dict.fromkeys(needs, "met")}, inputs, as_of)
    added = [j for j in then.benefits if j not in now.benefits]
    savings, total = estimate_savings(policy, added, dict(inputs))
    reached = policy.tiers[then.tier_rank]  # the target, or higher when only its needs failed
    return TierGain(
        reached.id,
        reached.title,
        needs,
        tuple(
            AddedBenefit(policy.benefits[j].id, policy.benefits[j].title, saving)
            for j, saving in zip(added, savings, strict=True)
        ),
        total,
    )
