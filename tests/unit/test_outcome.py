"""The plain reading of tiers and benefits (hub.policy.outcome) follows the policy's words.

"A criterion is satisfied when it is met or not_applicable. Tiers are cumulative: T1
requires every T1 criterion satisfied; T2 requires T1 plus every T2 criterion; T3
requires T2 plus every T3 criterion. The result is the highest tier reached, or none.
A benefit is granted when its requirement holds." The engine is held to the same
reading on thousands of filings (test_engine_oracle.py); these are its corner cases.
"""

from __future__ import annotations

from typing import Any

import pytest

from hub.policy import assess
from hub.policy.outcome import NO_TIER, reach, requirement_env, tier_ranks, tier_reached

from .core_support import AS_OF, P2026, exchange, miner


def everything(status: str = "met", **changes: str) -> dict[str, str]:
    """Every criterion of 2026.1 with ``status``, some changed."""
    return {c.id: changes.get(c.id, status) for c in P2026.criteria}


def granted(statuses: dict[str, str], values: dict[str, Any]) -> list[str]:
    return [P2026.benefits[j].id for j in reach(P2026, statuses, values).benefits]


def test_tier_ids_are_ranks_in_the_policys_order() -> None:
    assert tier_ranks(P2026) == {"T1": 0, "T2": 1, "T3": 2}


@pytest.mark.parametrize(
    ("unsatisfied", "tier"),
    [
        (None, "T3"),
        ("independent_board", "T2"),
        ("kyc_complete", "T1"),
        ("no_sanctions", None),
    ],
)
@pytest.mark.parametrize("how", ["not_met", "missing"])
def test_tiers_are_cumulative(unsatisfied: str | None, tier: str | None, how: str) -> None:
    statuses = everything(**({unsatisfied: how} if unsatisfied else {}))
    result = reach(P2026, statuses, exchange())
    assert result.tier == tier
    assert result.tier_rank == (tier_ranks(P2026)[tier] if tier else NO_TIER)


def test_the_highest_tier_reached_stops_at_the_first_gap() -> None:
    # T3 all met does not lift a company whose T2 falls short: tiers are cumulative.
    statuses = everything(kyc_complete="not_met")
    assert tier_reached(P2026, statuses) == 0
    assert granted(statuses, exchange()) == ["property_land_tax", "social_tax_foreign_staff"]


def test_not_applicable_satisfies_a_tier_but_is_never_met() -> None:
    # A miner whose renewable_energy (T3, its condition for the mining fee) is set aside
    # as not applicable reaches T3, yet met(renewable_energy) does not hold.
    statuses = everything(renewable_energy="not_applicable")
    assert reach(P2026, statuses, miner()).tier == "T3"
    assert "mining_fee_reduction" not in granted(statuses, miner())
    assert "mining_fee_reduction" in granted(everything(), miner())


def test_a_criterion_without_a_status_is_unsatisfied() -> None:
    statuses = everything()
    del statuses["no_tax_arrears"]
    assert reach(P2026, statuses, exchange()).tier is None


def test_a_requirement_reading_an_absent_input_is_not_granted() -> None:
    # vat_exemption requires "tier >= T2 and activity != 'mining'"
    assert "vat_exemption" in granted(everything(), exchange())
    assert "vat_exemption" not in granted(everything(), exchange(activity=None))
    assert "vat_exemption" not in granted(everything(), miner())


def test_requirement_env_names_what_requirements_read() -> None:
    env = requirement_env(P2026, {"activity": "mining"}, 1, ["renewable_energy"], AS_OF)
    assert env["tier"] == 1 and env["T2"] == 1 and env["met"] == {"renewable_energy"}
    assert env["as_of"] == "2026-09-01" and env["activity"] == "mining"
    assert all(env[k] == v for k, v in P2026.parameter_values.items())


@pytest.mark.parametrize("filing", [exchange(), miner(), exchange(kyc_verified_clients_pct=90)])
def test_the_engines_statuses_read_plainly_give_the_engines_decision(
    filing: dict[str, Any],
) -> None:
    d = assess(P2026, filing, AS_OF)
    statuses = {c.id: s for c, s in zip(P2026.criteria, d.statuses, strict=True)}
    result = reach(P2026, statuses, d.filing, AS_OF)
    assert result.tier == d.tier
    assert tuple(P2026.benefits[j].id for j in result.benefits) == d.benefit_ids
