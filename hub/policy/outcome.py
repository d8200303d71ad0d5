"""The plain reading of tiers and benefits: which tier criterion statuses reach, and
which benefits that grants. One definition, no engine.

The policy ("How an assessment works") says:

* A criterion is **satisfied** when it is ``met`` or ``not_applicable``.
* **Tiers** are cumulative: T1 requires every T1 criterion satisfied; T2 requires T1
  plus every T2 criterion; T3 requires T2 plus every T3 criterion. The result is the
  highest tier reached, or none.
* A **benefit** is granted when its requirement holds.

A requirement reads the tier reached (``tier >= T2``: tier ids are their ranks, 0 for
the first tier, -1 for none), ``met(criterion)`` (true only for status ``met``: a
criterion that does not apply is satisfied but not met), the filing's inputs, the
policy's parameters and ``as_of``. An input it reads that is absent makes the
requirement false (``Missing``), never an error.

The engine decides every decision from rules the compiler writes
(``hub.policy.compiler``: one rule per tier and per benefit over a summary fact);
this module reads the same rules directly from the policy with the plain evaluator
(``hub.policy.evaluate``), for what is not the engine's to decide: a reviewer's
overrides (``hub.services.review``) and the reference the engine is tested against
(``tests/unit/test_engine_oracle.py``, 8,000 filings).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .evaluate import Missing, to_callable
from .model import Benefit, Policy

#: statuses that satisfy a criterion for its tier
SATISFIED = frozenset({"met", "not_applicable"})
#: the rank of "no tier reached"
NO_TIER = -1


def tier_ranks(policy: Policy) -> dict[str, int]:
    """Tier id -> rank, in the policy's order: ``{"T1": 0, "T2": 1, "T3": 2}``."""
    return {t.id: n for n, t in enumerate(policy.tiers)}


def tier_reached(policy: Policy, statuses: Mapping[str, str]) -> int:
    """The rank of the highest tier the statuses reach (cumulative), or ``NO_TIER``.

    ``statuses``: criterion id -> ``met``, ``not_met``, ``not_applicable`` or
    ``missing``; a criterion absent from it is unsatisfied. Tier k is reached when
    every criterion of a tier of rank <= k is satisfied.
    """
    ranks = tier_ranks(policy)
    reached = NO_TIER
    for k in range(len(policy.tiers)):
        if all(statuses.get(c.id) in SATISFIED for c in policy.criteria if ranks[c.tier] <= k):
            reached = k
        else:
            break
    return reached


def requirement_env(
    policy: Policy,
    values: Mapping[str, Any],
    tier_rank: int,
    met: Iterable[str],
    as_of: dt.date | str | None = None,
) -> dict[str, Any]:
    """What a benefit's requirement is evaluated in: the parameters, the filing's
    ``values`` (input name -> value), the tier ids as ranks, ``tier`` (the rank
    reached, ``NO_TIER`` for none), ``met`` (the ids of the criteria whose status is
    ``met``) and ``as_of`` (ISO date text) when given."""
    env: dict[str, Any] = {**policy.parameter_values, **values}
    if as_of is not None:
        env["as_of"] = as_of if isinstance(as_of, str) else as_of.isoformat()
    env.update(tier_ranks(policy))
    env["tier"] = tier_rank
    env["met"] = set(met)
    return env


def requirement_holds(benefit: Benefit, env: dict[str, Any]) -> bool:
    """Whether the benefit's requirement holds in ``env`` (see ``requirement_env``);
    false when an input it reads is absent."""
    try:
        return bool(to_callable(benefit.requires_ast)(env))
    except Missing:
        return False


@dataclass(frozen=True)
class Outcome:
    """Tier and benefits as the policy's rules give them for some criterion statuses.

    ``tier_rank``: the rank of the tier reached (``NO_TIER``: none); ``tier``: its id
    (None: none); ``benefits``: the indices into ``policy.benefits`` of the benefits
    granted, in the policy's order.
    """

    tier_rank: int
    tier: str | None
    benefits: tuple[int, ...]


def reach(
    policy: Policy,
    statuses: Mapping[str, str],
    values: Mapping[str, Any],
    as_of: dt.date | str | None = None,
) -> Outcome:
    """The tier ``statuses`` reach and the benefits that grants, read from the policy.

    ``statuses``: criterion id -> status (effective ones, overrides applied, for a
    review); ``values``: the filing's inputs, which requirements may read
    (``activity is not mining``). Savings are not estimated here: a granted benefit's
    saving is the engine's (``compile_policy(policy).savings``).
    """
    rank = tier_reached(policy, statuses)
    env = requirement_env(
        policy, values, rank, (cid for cid, s in statuses.items() if s == "met"), as_of
    )
    granted = tuple(j for j, b in enumerate(policy.benefits) if requirement_holds(b, env))
    return Outcome(rank, policy.tiers[rank].id if rank != NO_TIER else None, granted)


__all__ = [
    "NO_TIER",
    "SATISFIED",
    "Outcome",
    "reach",
    "requirement_env",
    "requirement_holds",
    "tier_ranks",
    "tier_reached",
]
