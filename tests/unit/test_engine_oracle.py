"""The compiled rules agree with a plain reading of the policy on thousands of filings.

The filings are Hypothesis's (``tests/unit/strategies.py``: every activity, values at,
near and far from the thresholds, inputs left out, decision dates across the versions'
effective dates), so a disagreement is reported as the smallest filing showing it.

The reference below interprets each policy's expressions directly (no engine, no
specialisation, no negation tricks), following the policy page's definitions of
statuses; cumulative tiers and benefits are read by ``hub.policy.outcome``, the
plain reading a reviewer's overrides use too (it never calls the compiler). Any
disagreement is a compiler bug.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Context, Decimal, localcontext
from typing import Any

import pytest
from hypothesis import given

from hub.policy import Policy, assess
from hub.policy.evaluate import Missing, to_callable
from hub.policy.outcome import reach

from .core_support import P2026, P2027
from .strategies import examples, filings


def reference(policy: Policy, filing: dict[str, Any], as_of: dt.date) -> tuple:
    env = {**policy.parameter_values, **filing, "as_of": as_of.isoformat()}
    activity = filing["activity"]
    statuses = []
    for c in policy.criteria:
        if activity not in c.applies_to:
            statuses.append("not_applicable")
        elif any(filing.get(n) is None for n in c.inputs):
            statuses.append("missing")
        else:
            statuses.append("met" if to_callable(c.ast)(env) else "not_met")
    # tiers and benefits: the policy's plain reading of statuses (hub.policy.outcome)
    by_id = {c.id: s for c, s in zip(policy.criteria, statuses, strict=True)}
    reached = reach(policy, by_id, filing, as_of)
    granted = tuple(policy.benefits[j].id for j in reached.benefits)
    return tuple(statuses), reached.tier, granted


def reference_savings(policy: Policy, filing: dict[str, Any], granted: tuple[str, ...]) -> tuple:
    """Each granted benefit's saving as the policy page and the rounding rule read it: the
    numbers as written (decimal), the formula evaluated exactly, rounded half up to the
    tiyn; unknown (None) when a figure is absent. And the total: the rounded savings' sum."""
    numbers = {**policy.parameter_values, **filing}
    env = {
        k: Decimal(repr(v))
        for k, v in numbers.items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }
    savings: list[float | None] = []
    total = Decimal(0)
    for bid in granted:
        b = policy.benefit_by_id[bid]
        if b.saving_ast is None:
            savings.append(None)
            continue
        try:
            with localcontext(Context(prec=80)):
                exact = to_callable(b.saving_ast)(env)
        except Missing:
            savings.append(None)
            continue
        rounded = exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        total += rounded
        savings.append(float(rounded))
    return tuple(savings), float(total)


@pytest.mark.parametrize("policy", [P2026, P2027], ids=lambda p: p.version)
def test_engine_agrees_with_the_reference(policy: Policy) -> None:
    tiers_seen = set()

    @examples(ci=4000, dev=300)
    @given(filings(policy))
    def agrees(case: tuple[dict[str, Any], dt.date]) -> None:
        filing, as_of = case
        d = assess(policy, filing, as_of)
        expected = reference(policy, d.filing, as_of)
        assert (d.statuses, d.tier, d.benefit_ids) == expected, filing
        assert (d.savings, d.total_saving) == reference_savings(policy, d.filing, expected[2])
        tiers_seen.add(d.tier)

    agrees()
    assert tiers_seen == {None, "T1", "T2", "T3"}  # the sample reaches every outcome
