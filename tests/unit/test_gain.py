"""What the next tier is worth (hub/policy/gain.py), held to the engine: fixing what the
next tier needs and deciding again adds exactly the benefits and savings it announced."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.policy import Decision, assess
from hub.policy.gain import next_tier_gain
from hub.policy.outcome import tier_ranks
from tests.unit.core_support import P2026, P2027, exchange, miner

AS_OF = dt.date(2026, 11, 1)


def _gain(decision: Decision) -> Any:
    statuses = {c.id: c.status for c in decision.criteria()}
    return next_tier_gain(decision.policy, statuses, decision.filing, decision.as_of)


@pytest.mark.parametrize(
    ("filing", "fixed", "needs"),
    [
        # T1 exchange short of local_opex: raising it reaches T3 (T3's criteria are met)
        (exchange(opex_in_zone_kzt=10_000_000), exchange(), ("local_opex",)),
        # no tier: KYC under the T1 baseline (and T2's 100 %): meeting T1's alone gives T1
        (
            exchange(kyc_verified_clients_pct=90),
            exchange(kyc_verified_clients_pct=95),
            ("kyc_baseline",),
        ),
        # a miner short of T1's registration
        (miner(registered_in_hub=False), miner(), ("hub_registration",)),
    ],
)
def test_the_gain_is_what_deciding_the_fixed_filing_adds(filing, fixed, needs):
    before = assess(P2026, filing, AS_OF)
    after = assess(P2026, fixed, AS_OF)
    gain = _gain(before)
    assert gain is not None and gain.criteria == needs
    assert gain.tier == after.tier
    added = [b for b in after.benefit_ids if b not in before.benefit_ids]
    assert [b.id for b in gain.benefits] == added
    saving = dict(zip(after.benefit_ids, after.savings, strict=True))
    assert [b.saving for b in gain.benefits] == [saving[b] for b in added]
    assert gain.total == pytest.approx(after.total_saving - before.total_saving, abs=0)


def test_nothing_above_the_top_tier():
    decision = assess(P2026, exchange(), AS_OF)
    assert decision.tier == P2026.tiers[-1].id and _gain(decision) is None


percent = st.sampled_from([0, 50, 89.5, 94.99, 95, 99.5, 100])


@given(
    kyc=percent,
    sof=percent,
    opex=st.sampled_from([0, 9_999_999.5, 50_000_000, 80_000_000]),
    version=st.sampled_from([P2026, P2027]),
)
@settings(max_examples=60, deadline=None)
def test_the_gain_names_a_higher_tier_and_only_new_benefits(kyc, sof, opex, version):
    filing = exchange(
        version.version,
        kyc_verified_clients_pct=kyc,
        source_of_funds_documented_pct=sof,
        opex_in_zone_kzt=opex,
    )
    decision = assess(version, filing, AS_OF if version is P2026 else version.effective_from)
    gain = _gain(decision)
    ranks = tier_ranks(version)
    if decision.tier == version.tiers[-1].id:
        assert gain is None
        return
    assert gain is not None
    assert ranks[gain.tier] > ranks.get(decision.tier or "", -1)
    assert not {b.id for b in gain.benefits} & set(decision.benefit_ids)
    assert gain.total == sum(b.saving for b in gain.benefits if b.saving is not None)
    assert all(
        decision.policy.criterion_by_id[c].id in {r.id for r in decision.criteria()}
        and next(r.status for r in decision.criteria() if r.id == c) in ("not_met", "missing")
        for c in gain.criteria
    )
