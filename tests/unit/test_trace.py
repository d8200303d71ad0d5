"""The trace of a decision agrees with the decision and names exactly what it used.

Property tests (Hypothesis) over filings built from each policy's own inputs, with
values at and around its thresholds and inputs left out: the rules the trace says
fired are the statuses' reasons (a criterion is not met exactly when its ``u`` rule
fired, given its inputs), the values read are exactly the inputs its condition names,
and asking for a trace never changes the decision's bytes.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.policy import Policy, assess, decide, expr, validate_filing
from hub.policy.compiler import compile_policy
from hub.policy.evaluate import to_callable
from hub.policy.trace import (
    assess_traced,
    criterion_lines,
    decide_traced,
    decision_lines,
    trace_json,
    with_trace,
)

from .core_support import AS_OF, P2026, P2027, exchange, miner
from .strategies import filings

POLICIES = {"2026.1": P2026, "2027.1": P2027}


def _case(policy: Policy) -> st.SearchStrategy[tuple[Policy, dict[str, Any]]]:
    """A filing of ``policy`` from the shared strategy, validated, decided on AS_OF."""
    return filings(policy, AS_OF).map(lambda case: (policy, validate_filing(policy, case[0])))


#: A valid filing under one of the shipped policies: a compliant company of any activity
#: with some criteria's inputs changed to values at, near or far from the thresholds, or
#: left out, or every input drawn (tests/unit/strategies.py).
FILINGS = st.one_of(_case(P2026), _case(P2027))


def _named(node: expr.Node, policy: Policy) -> set[str]:
    names = expr.names(node)
    return {n for n in names if n in policy.inputs_by_name} | ({"as_of"} & names)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(FILINGS)
def test_the_rules_fired_are_the_statuses_reasons(case: tuple[Policy, dict[str, Any]]) -> None:
    policy, clean = case
    decision, trace = decide_traced(policy, clean, AS_OF)
    compiled = compile_policy(policy)
    activity = clean[policy.applicability_input]
    env = {**policy.parameter_values, **clean, "as_of": AS_OF.isoformat()}
    accounted: list[str] = []
    for i, (c, t) in enumerate(zip(policy.criteria, trace["criteria"], strict=True)):
        status = decision.statuses[i]
        assert (t["id"], t["status"], t["tier"]) == (c.id, status, c.tier)
        accounted += t["fired"]
        assert all(name.startswith(f"u:{i}:") for name in t["fired"])
        assert set(t["fired"]) <= ({t["rule"]} if t["rule"] else set())
        if status == "not_applicable":
            assert activity not in c.applies_to
            assert t["rule"] is None and t["specialised"] is None and t["fired"] == []
            continue
        assert t["specialised"] == expr.to_text(compiled.specialised[i][activity])
        if status == "missing":
            assert t["absent"] and all(clean.get(n) is None for n in t["absent"])
            continue
        # Applicable, every input present: not met exactly when its u rule fired, and
        # that agrees with a plain reading of the condition as written.
        assert t["absent"] == []
        holds = bool(to_callable(c.ast)(env))
        assert (status == "not_met") == bool(t["fired"]) == (not holds), (c.id, t)
    tier = trace["tier"]
    assert tier["reached"] == decision.tier
    ranks = [t.id for t in policy.tiers]
    expected_tier = [f"t:{ranks.index(decision.tier)}:"] if decision.tier else []
    assert tier["fired"] == expected_tier
    for tier_id, blocked in tier["unsatisfied"].items():
        assert blocked == [
            c.id
            for c, s in zip(policy.criteria, decision.statuses, strict=True)
            if c.tier == tier_id and s in ("not_met", "missing")
        ]
    accounted += tier["fired"]
    for j, (b, t) in enumerate(zip(policy.benefits, trace["benefits"], strict=True)):
        assert t["id"] == b.id
        assert t["granted"] == (b.id in decision.benefit_ids)
        assert t["fired"] == ([f"b:{j}:"] if t["granted"] else [])
        accounted += t["fired"]
    # Every rule the engine fired is accounted for by exactly one part of the trace.
    assert sorted(accounted) == sorted(trace["rules_fired"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(FILINGS)
def test_the_values_read_are_exactly_the_inputs_the_condition_names(
    case: tuple[Policy, dict[str, Any]],
) -> None:
    policy, clean = case
    decision, trace = decide_traced(policy, clean, AS_OF)
    savings = dict(zip(decision.benefit_ids, decision.savings, strict=True))
    for c, t in zip(policy.criteria, trace["criteria"], strict=True):
        named = _named(c.ast, policy)
        assert set(t["read"]) | set(t["absent"]) == named
        assert not set(t["read"]) & set(t["absent"])
        for name, value in t["read"].items():
            assert value == (AS_OF.isoformat() if name == "as_of" else clean[name])
        params = expr.names(c.ast) & set(policy.parameter_values)
        assert set(t["parameters"]) == params
    for b, t in zip(policy.benefits, trace["benefits"], strict=True):
        inputs = _named(b.requires_ast, policy)
        extra = {f"met({x})" for x in expr.met_targets(b.requires_ast)}
        extra |= {"tier"} & expr.names(b.requires_ast)
        assert set(t["read"]) | set(t["absent"]) == inputs | extra
        saving = t["saving"]
        if b.saving_ast is None:
            assert saving is None
            continue
        assert set(saving["read"]) | set(saving["absent"]) == _named(b.saving_ast, policy)
        assert saving["value"] == savings.get(b.id)
        assert (saving["computation"] is None) == bool(saving["absent"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(FILINGS)
def test_a_trace_never_changes_the_decision(case: tuple[Policy, dict[str, Any]]) -> None:
    policy, clean = case
    plain = decide(policy, clean, AS_OF).to_json()
    traced, trace = decide_traced(policy, clean, AS_OF)
    assert traced.to_json() == plain
    body = with_trace(plain, trace)
    assert body.startswith(plain[:-1] + b',"trace":') and body.endswith(b"}")
    whole = orjson.loads(body)
    assert whole.pop("trace") == orjson.loads(trace_json(trace))
    assert orjson.dumps(whole, option=orjson.OPT_SORT_KEYS) == plain
    assert list(orjson.loads(body)) == sorted(orjson.loads(body))  # still sorted keys


def test_parameters_show_the_values_used_for_the_activity() -> None:
    _, trace = assess_traced(P2026, exchange(licence_type="service_provider"), AS_OF)
    crit = {c["id"]: c for c in trace["criteria"]}
    licence = crit["valid_licence"]
    assert licence["status"] == "not_met" and licence["fired"] == [licence["rule"]]
    assert licence["parameters"] == {"required_licence": {"exchange": "trading_facility"}}
    assert (
        licence["specialised"] == "licence_type = trading_facility and licence_expires_on ≥ as_of"
    )
    assert licence["read"] == {
        "activity": "exchange",
        "licence_expires_on": "2027-06-30",
        "licence_type": "service_provider",
        "as_of": "2026-09-01",
    }
    assert crit["staff_as_declared"]["parameters"] == {"staff_as_declared_min_ratio": 0.8}
    assert crit["staff_as_declared"]["specialised"] == "fte_in_zone ≥ 0.8 × fte_declared"
    assert crit["metered_power"]["status"] == "not_applicable"
    assert crit["metered_power"]["reason"].startswith("does not apply to activity exchange")
    assert trace["policy"]["key"] == P2026.key and trace["tier"]["reached"] is None


def test_benefits_show_their_requirement_and_saving_with_the_values_used() -> None:
    decision, trace = assess_traced(P2026, miner(), AS_OF)
    ben = {b["id"]: b for b in trace["benefits"]}
    fee = ben["mining_fee_reduction"]
    assert fee["granted"] and fee["specialised"] == "tier ≥ T2 and met(renewable_energy)"
    assert fee["read"] == {"activity": "mining", "tier": "T3", "met(renewable_energy)": True}
    saving = fee["saving"]
    assert saving["specialised"] == "9 × mining_kwh"
    assert saving["computation"] == "9 × 1,000,000"
    assert saving["read"] == {"mining_kwh": 1_000_000}
    assert (
        saving["value"]
        == dict(zip(decision.benefit_ids, decision.savings, strict=True))["mining_fee_reduction"]
    )
    vat = ben["vat_exemption"]
    assert not vat["granted"] and vat["specialised"] == "false" and vat["fired"] == []
    assert ben["dividend_exemption"]["saving"] is None
    assert trace["tier"]["fired"] == ["t:2:"]


def test_a_missing_criterion_names_what_is_absent() -> None:
    _, trace = assess_traced(P2026, exchange(kyc_verified_clients_pct=None), AS_OF)
    kyc = {c["id"]: c for c in trace["criteria"]}["kyc_baseline"]
    assert kyc["status"] == "missing" and kyc["absent"] == ["kyc_verified_clients_pct"]
    assert kyc["read"] == {} and kyc["reason"] == "not provided: kyc_verified_clients_pct"
    assert trace["tier"]["unsatisfied"]["T1"] == ["kyc_baseline"]


def test_the_trace_reads_as_text() -> None:
    _, trace = assess_traced(P2026, exchange(kyc_verified_clients_pct=94.5), AS_OF)
    kyc = {c["id"]: c for c in trace["criteria"]}["kyc_baseline"]
    lines = criterion_lines(kyc)
    assert "specialised:  kyc_verified_clients_pct ≥ 95" in lines
    assert "parameters:   kyc_baseline_min_pct = 95" in lines
    assert "read:         kyc_verified_clients_pct = 94.5" in lines
    assert (
        lines[-1]
        == f"engine:       rule {kyc['rule']}, fired: {kyc['rule']}: the condition does not hold"
    )
    text = "\n".join(decision_lines(trace))
    assert "tier: none; fired: none" in text and "T1 unsatisfied: kyc_baseline" in text


@pytest.mark.parametrize("policy", [P2026, P2027], ids=lambda p: p.version)
def test_every_applicable_criterion_names_its_engine_rule(policy: Policy) -> None:
    compiled = compile_policy(policy)
    for i, c in enumerate(policy.criteria):
        for a in policy.activities:
            rule = compiled.unmet_rules[i].get(a)
            if a not in c.applies_to:
                assert rule is None
            elif rule is not None:
                assert rule in compiled.rules and rule.startswith(f"u:{i}:")
    assert assess(policy, exchange(policy.version), AS_OF).tier == "T3"
