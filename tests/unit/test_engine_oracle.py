"""The compiled rules agree with a plain reading of the policy on thousands of filings.

The reference below interprets each policy's expressions directly (no engine, no
specialisation, no negation tricks), following the policy page's definitions of
statuses; cumulative tiers and benefits are read by ``hub.policy.outcome``, the
plain reading a reviewer's overrides use too (it never calls the compiler). Any
disagreement is a compiler bug.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import ROUND_HALF_UP, Context, Decimal, localcontext
from typing import Any

import pytest

from hub.policy import Policy, assess
from hub.policy.evaluate import Missing, to_callable
from hub.policy.outcome import reach

from .core_support import P2026, P2027, exchange, miner

LICENCE = {"exchange": "trading_facility", "mining": "mining", "software": "none"}


def compliant(policy: Policy, activity: str) -> dict[str, Any]:
    if activity == "mining":
        return miner()
    return exchange(policy.version, activity=activity,
                    licence_type=LICENCE.get(activity, "service_provider"))  # fmt: skip


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


def random_filing(policy: Policy, rnd: random.Random) -> dict[str, Any]:
    """Values clustered at the policy's own thresholds, where mistakes hide."""
    params = [v for v in policy.parameter_values.values() if isinstance(v, int | float)]
    filing: dict[str, Any] = {"bin": "940140000385", "legal_name": "Random LLP"}
    for spec in policy.inputs:
        if spec.name in filing:
            continue
        if spec.name == "activity":
            filing["activity"] = rnd.choice(spec.choices)
            continue
        if rnd.random() < 0.08:
            continue  # absent
        if spec.type in ("number", "integer"):
            centre = rnd.choice([*params, 0, 1, 10, 100])
            value: Any = centre + rnd.choice([-1, -0.1, -1e-9, 0, 0, 1e-9, 0.1, 1, 7.5])
            if spec.type == "integer":
                value = round(value)
            lo = spec.min if spec.min is not None else 0
            hi = spec.max if spec.max is not None else 1e15
            value = min(max(value, lo), hi)
            if spec.type == "integer":
                value = int(value)
            filing[spec.name] = value
        elif spec.type == "bool":
            filing[spec.name] = rnd.random() < 0.8
        elif spec.type == "enum":
            filing[spec.name] = rnd.choice(spec.choices)
        elif spec.type == "set":
            filing[spec.name] = [c for c in spec.choices if rnd.random() < 0.85]
        elif spec.type == "date":
            filing[spec.name] = (dt.date(2026, 9, 1) + dt.timedelta(rnd.randint(-3, 3))).isoformat()
    return filing


@pytest.mark.parametrize("policy", [P2026, P2027], ids=lambda p: p.version)
def test_engine_agrees_with_the_reference(policy: Policy) -> None:
    rnd = random.Random(20261124)
    as_of = dt.date(2026, 9, 1)
    tiers_seen = set()
    for i in range(4000):
        filing = random_filing(policy, rnd)
        if i % 2:  # a compliant company with a few values changed
            noisy = filing
            filing = compliant(policy, noisy["activity"])
            for name in rnd.sample(sorted(noisy), rnd.randint(0, 3)):
                filing[name] = noisy[name]
        d = assess(policy, filing, as_of)
        expected = reference(policy, d.filing, as_of)
        assert (d.statuses, d.tier, d.benefit_ids) == expected, filing
        assert (d.savings, d.total_saving) == reference_savings(policy, d.filing, expected[2])
        tiers_seen.add(d.tier)
    assert tiers_seen == {None, "T1", "T2", "T3"}  # the sample reaches every outcome
