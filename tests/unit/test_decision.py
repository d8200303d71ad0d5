"""Decisions as the policy page defines them: boundaries, statuses, tiers, benefits, fixes."""

from __future__ import annotations

import datetime as dt
import json
import threading
from typing import Any

import pytest

from hub.policy import NoVersionInForce, PolicyError, assess, engine, load_policy_text

from .core_support import AS_OF, P2026, P2027, REGISTRY, exchange, miner

# The page's criteria table, written out independently of the policy files:
# id -> (input, operator, threshold under 2026.1, a filing that it applies to).
NUMERIC = {
    "no_tax_arrears": ("tax_arrears_kzt", "<=", 0, "exchange"),
    "local_staff": ("fte_in_zone", ">=", 3, "exchange"),
    "kyc_baseline": ("kyc_verified_clients_pct", ">=", 95, "exchange"),
    "record_retention": ("record_retention_years", ">=", 5, "exchange"),
    "local_opex": ("opex_in_zone_kzt", ">=", 50_000_000, "exchange"),
    "qualifying_income": ("qualifying_income_pct", ">=", 90, "exchange"),
    "regulatory_capital": ("regulatory_capital_usd", ">=", 250_000, "exchange"),
    "kyc_complete": ("kyc_verified_clients_pct", ">=", 100, "exchange"),
    "source_of_funds": ("source_of_funds_documented_pct", ">=", 95, "exchange"),
    "destination_of_funds": ("destination_of_funds_documented_pct", ">=", 95, "exchange"),
    "suspicious_reporting": ("str_median_hours", "<=", 24, "exchange"),
    "illicit_exposure_low": ("flagged_flow_pct", "<=", 5, "exchange"),
    "exchange_sales": ("mined_sold_on_licensed_exchange_pct", ">=", 75, "mining"),
    "independent_board": ("independent_directors_pct", ">=", 33.3, "exchange"),
    "illicit_exposure_minimal": ("flagged_flow_pct", "<=", 2, "exchange"),
    "cold_storage": ("cold_storage_pct", ">=", 90, "exchange"),
    "proof_of_reserves": ("proof_of_reserves_interval_days", "<=", 90, "exchange"),
    "renewable_energy": ("renewable_energy_pct", ">=", 50, "mining"),
}
INTEGER = {"fte_in_zone", "record_retention_years", "proof_of_reserves_interval_days"}
BOOLEAN = {
    "no_sanctions": ("sanctions_screening_hit", False, "exchange"),
    "hub_registration": ("registered_in_hub", True, "exchange"),
    "metered_power": ("power_metered", True, "mining"),
    "separate_accounting": ("separate_accounting", True, "exchange"),
    "outflow_reporting": ("cross_border_outflows_reported", True, "exchange"),
    "peak_curtailment": ("peak_curtailment_agreement", True, "mining"),
}
APPLIES = {  # the page's "applies to" column
    "exchange": {"no_sanctions", "no_tax_arrears", "hub_registration", "valid_licence",
                 "key_officers", "local_staff", "kyc_baseline", "record_retention",
                 "staff_as_declared", "local_opex", "qualifying_income", "separate_accounting",
                 "regulatory_capital", "kyc_complete", "source_of_funds", "destination_of_funds",
                 "travel_rule", "suspicious_reporting", "illicit_exposure_low",
                 "outflow_reporting", "independent_board", "illicit_exposure_minimal",
                 "cold_storage", "proof_of_reserves"},
}  # fmt: skip


def statuses(decision: Any) -> dict[str, str]:
    return dict(zip([c.id for c in decision.policy.criteria], decision.statuses, strict=True))


def base(activity: str, **changes: Any) -> dict[str, Any]:
    return miner(**changes) if activity == "mining" else exchange(**changes)


def test_typical_companies() -> None:
    d = assess(P2026, exchange(), AS_OF)
    assert d.tier == "T3" and d.tier_title == "Full disclosure"
    assert set(statuses(d).values()) == {"met", "not_applicable"}
    assert {c for c, s in statuses(d).items() if s == "met"} == APPLIES["exchange"]
    m = assess(P2026, miner(), AS_OF)
    assert m.tier == "T3"
    assert "mining_fee_reduction" in m.benefit_ids and "vat_exemption" not in m.benefit_ids


def _values(threshold: float, integer: bool) -> list[float]:
    step = 1 if integer else (0.1 if threshold < 1000 else 1)
    return [threshold - step, threshold, threshold + step]


@pytest.mark.parametrize("criterion", sorted(NUMERIC))
def test_numeric_boundaries(criterion: str) -> None:
    field, op, threshold, activity = NUMERIC[criterion]
    for value in _values(threshold, field in INTEGER):
        if value < 0 or (field.endswith("_pct") and value > 100):
            continue
        if field == "fte_in_zone":  # keep staff_as_declared out of the way
            filing = base(activity, fte_in_zone=value, fte_declared=0)
        else:
            filing = base(activity, **{field: value})
        expected = value >= threshold if op == ">=" else value <= threshold
        got = statuses(assess(P2026, filing, AS_OF))[criterion]
        assert got == ("met" if expected else "not_met"), (criterion, value)


@pytest.mark.parametrize("criterion", sorted(BOOLEAN))
def test_yes_no_criteria(criterion: str) -> None:
    field, wanted, activity = BOOLEAN[criterion]
    assert statuses(assess(P2026, base(activity, **{field: wanted}), AS_OF))[criterion] == "met"
    got = statuses(assess(P2026, base(activity, **{field: not wanted}), AS_OF))[criterion]
    assert got == "not_met"


@pytest.mark.parametrize(
    ("fte_in_zone", "fte_declared", "status"),
    [
        (8, 10, "met"),
        (7, 10, "not_met"),
        (9, 10, "met"),
        (0, 0, "met"),
        (4, 5, "met"),
        (3, 4, "not_met"),
    ],
)
def test_staff_as_declared_is_80_percent_of_declared(fte_in_zone: int, fte_declared: int,
                                                     status: str) -> None:  # fmt: skip
    filing = exchange(fte_in_zone=fte_in_zone, fte_declared=fte_declared)
    assert statuses(assess(P2026, filing, AS_OF))["staff_as_declared"] == status


@pytest.mark.parametrize(
    ("changes", "status"),
    [
        ({}, "met"),
        ({"licence_type": "service_provider"}, "not_met"),
        ({"licence_type": "none"}, "not_met"),
        ({"licence_expires_on": "2026-09-01"}, "met"),  # the last valid day is as_of
        ({"licence_expires_on": "2026-08-31"}, "not_met"),
        ({"licence_type": None}, "missing"),
    ],
)
def test_valid_licence_for_an_exchange(changes: dict[str, Any], status: str) -> None:
    assert statuses(assess(P2026, exchange(**changes), AS_OF))["valid_licence"] == status


@pytest.mark.parametrize(
    ("activity", "licence", "status"),
    [("broker", "service_provider", "met"), ("custody", "service_provider", "met"),
     ("payments", "trading_facility", "not_met"), ("mining", "mining", "met"),
     ("mining", "service_provider", "not_met"), ("software", "none", "not_applicable")],
)  # fmt: skip
def test_the_licence_each_activity_needs(activity: str, licence: str, status: str) -> None:
    filing = exchange(activity=activity, licence_type=licence)
    assert statuses(assess(P2026, filing, AS_OF))["valid_licence"] == status


def test_key_officers_needs_all_five() -> None:
    short = exchange(officers_appointed=["SEO", "FO", "CO", "MLRO"])
    d = assess(P2026, short, AS_OF)
    assert statuses(d)["key_officers"] == "not_met"
    fix = next(c.fix for c in d.criteria() if c.id == "key_officers")
    assert fix.startswith("add CITO to officers_appointed")
    assert statuses(assess(P2026, exchange(officers_appointed=[]), AS_OF))["key_officers"] == (
        "not_met"
    )


@pytest.mark.parametrize(
    ("pct", "threshold_usd", "status"),
    [(99, 1000, "met"), (98.9, 1000, "not_met"), (99, 1000.01, "not_met"), (100, 0, "met")],
)
def test_travel_rule_has_two_conditions(pct: float, threshold_usd: float, status: str) -> None:
    filing = exchange(travel_rule_compliant_pct=pct, travel_rule_threshold_usd=threshold_usd)
    assert statuses(assess(P2026, filing, AS_OF))["travel_rule"] == status


def test_not_applicable_and_missing() -> None:
    software = {"bin": "940140000385", "legal_name": "Code LLP", "activity": "software"}
    d = statuses(assess(P2026, software, AS_OF))
    assert d["valid_licence"] == d["kyc_baseline"] == d["cold_storage"] == "not_applicable"
    assert d["no_sanctions"] == d["local_staff"] == d["staff_as_declared"] == "missing"
    assert statuses(assess(P2026, exchange(cold_storage_pct=None), AS_OF))["cold_storage"] == (
        "missing"
    )
    broker = statuses(assess(P2026, exchange(activity="broker"), AS_OF))
    assert broker["cold_storage"] == "not_applicable" and broker["regulatory_capital"] == "met"
    payments = statuses(assess(P2026, exchange(activity="payments"), AS_OF))
    assert payments["regulatory_capital"] == "not_applicable"


@pytest.mark.parametrize(
    ("changes", "tier"),
    [
        ({}, "T3"),
        ({"cold_storage_pct": 89}, "T2"),  # one T3 criterion
        ({"independent_directors_pct": None}, "T2"),  # missing counts as unsatisfied
        ({"str_median_hours": 25}, "T1"),  # one T2 criterion
        ({"kyc_verified_clients_pct": 99}, "T1"),
        ({"kyc_verified_clients_pct": 94}, None),  # one T1 criterion
        ({"registered_in_hub": False, "cold_storage_pct": 10}, None),
    ],
)
def test_tiers_are_cumulative(changes: dict[str, Any], tier: str | None) -> None:
    assert assess(P2026, exchange(**changes), AS_OF).tier == tier


def test_a_t3_criterion_met_does_not_lift_a_company_without_t2() -> None:
    d = assess(P2026, exchange(opex_in_zone_kzt=1), AS_OF)
    assert d.tier == "T1" and statuses(d)["cold_storage"] == "met"


def test_benefits_and_savings() -> None:
    d = assess(P2026, exchange(), AS_OF)
    savings = dict(zip(d.benefit_ids, d.savings, strict=True))
    assert savings == {
        "property_land_tax": 3_000_000.0,  # 1.5% of 200,000,000
        "social_tax_foreign_staff": 1_800_000.0,  # 6% of 30,000,000
        "cit_exemption": 12_000_000.0,  # 20% of 60,000,000
        "vat_exemption": 1_600_000.0,  # 16% of 10,000,000
        "pit_foreign_staff": 3_000_000.0,  # 10% of 30,000,000
        "dividend_exemption": None,  # a shareholder's saving
    }
    assert d.total_saving == 21_400_000.0
    t1 = assess(P2026, exchange(str_median_hours=48, property_value_kzt=None), AS_OF)
    assert dict(zip(t1.benefit_ids, t1.savings, strict=True)) == {
        "property_land_tax": None,  # unknown saving never affects eligibility
        "social_tax_foreign_staff": 1_800_000.0,
    }
    assert assess(P2026, exchange(kyc_verified_clients_pct=10), AS_OF).benefit_ids == ()


@pytest.mark.parametrize(
    ("changes", "granted"),
    [
        ({}, True),
        ({"renewable_energy_pct": 49.9}, False),  # renewable_energy not met
        ({"peak_curtailment_agreement": False}, False),  # below T2
    ],
)
def test_mining_fee_reduction(changes: dict[str, Any], granted: bool) -> None:
    d = assess(P2026, miner(**changes), AS_OF)
    assert ("mining_fee_reduction" in d.benefit_ids) is granted
    if granted:
        assert dict(zip(d.benefit_ids, d.savings, strict=True))["mining_fee_reduction"] == 9_000_000
    assert "vat_exemption" not in d.benefit_ids


def test_fixes_name_concrete_numbers() -> None:
    d = assess(P2026, exchange(kyc_verified_clients_pct=92.5, str_median_hours=30,
                               fte_in_zone=7, fte_declared=10), AS_OF)  # fmt: skip
    fixes = {c.id: c.fix for c in d.criteria()}
    assert fixes["kyc_baseline"] == "raise kyc_verified_clients_pct from 92.5 to at least 95"
    assert fixes["kyc_complete"] == "raise kyc_verified_clients_pct from 92.5 to at least 100"
    assert fixes["suspicious_reporting"] == "lower str_median_hours from 30 to at most 24"
    assert fixes["staff_as_declared"].startswith("raise fte_in_zone from 7 to at least 8")
    assert fixes["no_sanctions"] is None
    missing = assess(P2026, exchange(cold_storage_pct=None), AS_OF)
    fix = next(c.fix for c in missing.criteria() if c.id == "cold_storage")
    assert fix == "provide cold_storage_pct (required: cold_storage_pct ≥ 90)"
    lic = assess(P2026, exchange(licence_expires_on="2026-05-01"), AS_OF)
    fix = next(c.fix for c in lic.criteria() if c.id == "valid_licence")
    assert "change licence_expires_on from 2026-05-01 to a date on or after 2026-09-01" in fix


def test_every_unmet_or_missing_criterion_has_a_fix_and_a_citation() -> None:
    d = assess(P2026, {"bin": "940140000385", "legal_name": "A", "activity": "exchange",
                       "kyc_verified_clients_pct": 50, "fte_in_zone": 1}, AS_OF)  # fmt: skip
    for c in d.to_dict()["criteria"]:
        assert c["citation"]
        assert (c["fix"] is None) == (c["status"] in ("met", "not_applicable")), c


def test_the_2027_changes() -> None:
    as_of = dt.date(2027, 3, 1)
    t2_in_2026 = exchange(cold_storage_pct=50, kyc_verified_clients_pct=100)
    assert assess(P2026, t2_in_2026, AS_OF).tier == "T2"
    d = assess(P2027, t2_in_2026, as_of)
    assert statuses(d)["unhosted_wallet_checks"] == "missing" and d.tier == "T1"
    assert assess(P2027, exchange("2027.1", cold_storage_pct=50), as_of).tier == "T2"
    kyc96 = statuses(assess(P2027, exchange("2027.1", kyc_verified_clients_pct=96), as_of))
    assert kyc96["kyc_baseline"] == "not_met"
    opex = statuses(assess(P2027, exchange("2027.1", opex_in_zone_kzt=55_000_000), as_of))
    assert opex["local_opex"] == "not_met"
    assert statuses(assess(P2026, exchange(opex_in_zone_kzt=55_000_000), AS_OF))["local_opex"] == (
        "met"
    )
    miner_2027 = statuses(assess(P2027, miner(), as_of))
    assert miner_2027["unhosted_wallet_checks"] == "not_applicable"


@pytest.mark.parametrize(
    ("as_of", "version"),
    [("2026-06-30", None), ("2026-07-01", "2026.1"), ("2026-12-31", "2026.1"),
     ("2027-01-01", "2027.1"), ("2030-01-01", "2027.1")],
)  # fmt: skip
def test_version_in_force(as_of: str, version: str | None) -> None:
    day = dt.date.fromisoformat(as_of)
    if version is None:
        with pytest.raises(NoVersionInForce, match="no policy version is in force on 2026-06-30"):
            REGISTRY.select(day)
    else:
        assert REGISTRY.select(day).version == version


def test_a_version_can_be_named() -> None:
    assert REGISTRY.select(dt.date(2026, 8, 1), "2027.1").version == "2027.1"
    with pytest.raises(NoVersionInForce) as err:
        REGISTRY.select(dt.date(2026, 8, 1), "2025.9")
    assert err.value.field == "policy_version"


def test_decisions_are_deterministic_byte_for_byte() -> None:
    a = json.dumps(assess(P2026, exchange(cold_storage_pct=10), AS_OF).to_dict(), sort_keys=True)
    for _ in range(3):
        again = assess(P2026, exchange(cold_storage_pct=10), AS_OF).to_dict()
        assert json.dumps(again, sort_keys=True) == a
    d = json.loads(a)
    assert d["policy"] == {"id": "astana-crypto-hub", "version": "2026.1", "digest": P2026.digest}
    assert [c["id"] for c in d["criteria"]] == [c.id for c in P2026.criteria]


def test_json_is_the_dict_and_memoised_fragments_never_mix_up_decisions() -> None:
    import orjson

    filings = [exchange(fte_in_zone=v, fte_declared=10) for v in (7, 7.0, 8, 9, 7)]
    filings += [exchange(officers_appointed=["SEO"]), exchange(), exchange(tax_arrears_kzt=1.0),
                exchange(tax_arrears_kzt=1)]  # fmt: skip
    for f in filings * 2:
        d = assess(P2026, f, AS_OF)
        assert orjson.loads(d.to_json()) == d.to_dict()
        assert (
            d.to_json()
            == json.dumps(
                d.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False
            ).encode()
        )
    a = assess(P2026, exchange(tax_arrears_kzt=1.0), AS_OF).to_json()
    b = assess(P2026, exchange(tax_arrears_kzt=1), AS_OF).to_json()
    assert b'"tax_arrears_kzt":1.0' in a and b'"tax_arrears_kzt":1}' in b


def test_many_more_evaluations_than_the_engine_keeps_states() -> None:
    # durable-rules fails with MemoryError after 1024 live states per ruleset.
    for i in range(3000):
        assess(P2026, exchange(fte_in_zone=3 + i % 5), AS_OF)


def test_threads_get_the_answers_they_would_get_alone() -> None:
    cases = [exchange(kyc_verified_clients_pct=v) for v in (90, 95, 99, 100)] + [miner()]
    expected = [assess(P2026, f, AS_OF).statuses for f in cases]
    wrong: list[int] = []

    def work() -> None:
        for i in range(400):
            if assess(P2026, cases[i % 5], AS_OF).statuses != expected[i % 5]:
                wrong.append(i)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wrong == []


def test_an_edited_draft_gets_its_own_rules_beside_the_published_ones() -> None:
    draft = load_policy_text(
        P2026.text.replace("kyc_baseline_min_pct: {value: 95", "kyc_baseline_min_pct: {value: 96"),
        source="draft.yaml",
    )
    filing = exchange(kyc_verified_clients_pct=95.5)
    assert statuses(assess(draft, filing, AS_OF))["kyc_baseline"] == "not_met"
    assert statuses(assess(P2026, filing, AS_OF))["kyc_baseline"] == "met"
    assert draft.key in engine().loaded() and P2026.key in engine().loaded()
    engine().forget(draft.key)
    assert draft.key not in engine().loaded()
    assert statuses(assess(draft, filing, AS_OF))["kyc_baseline"] == "not_met"  # recompiled


def test_thresholds_in_exponent_form_compile_and_decide() -> None:
    # json.dumps writes 1e-05 and 1e+16, which durable-rules refuses (error 204).
    from hub.policy.compiler import compile_policy
    from hub.policy.facts import rules_json

    draft = load_policy_text(
        P2026.text.replace(
            "max_flagged_flow_pct_t3: {value: 2,", "max_flagged_flow_pct_t3: {value: 1e-05,"
        ),
        source="draft.yaml",
    )
    text = rules_json(compile_policy(draft).rules)
    assert "e-05" not in text and "0.00001" in text
    top = 9_999_999_999_999.99
    at = statuses(assess(draft, exchange(flagged_flow_pct=0.00001, opex_in_zone_kzt=top), AS_OF))
    assert at["illicit_exposure_minimal"] == "met"
    above = statuses(
        assess(draft, exchange(flagged_flow_pct=0.000011, opex_in_zone_kzt=top), AS_OF)
    )
    assert above["illicit_exposure_minimal"] == "not_met"
    # An amount of 10^16 KZT is above the money ceiling (9,999,999,999,999.99): no accepted
    # amount could reach a 1e+16 threshold, and the checker says so at its line.
    with pytest.raises(PolicyError, match="above the highest value opex_in_zone_kzt accepts"):
        load_policy_text(
            P2026.text.replace(
                "min_opex_in_zone_kzt: {value: 50000000", "min_opex_in_zone_kzt: {value: 1.0e+16"
            ),
            source="draft.yaml",
        )
