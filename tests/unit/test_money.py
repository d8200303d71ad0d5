"""Savings are computed in decimal and rounded as the policy says (half up to the tiyn).

The rule (hub/policy/money.py, the policy field ``rounding``): every number of a saving
formula is the decimal it was written as, the product is exact, it is rounded once to
the tiyn with halves away from zero, and the total is the sum of the rounded savings.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.policy import PolicyError, assess, load_policy_text
from hub.policy.impact import ImpactReport, Outcome
from hub.policy.money import DEFAULT_ROUNDING, Rounding, format_money, plain_text, saving_function
from hub.services.review.decision import outcome

from .core_support import AS_OF, P2026, P2027, exchange, miner

TIYN = Decimal("0.01")
SAVING_INPUTS = {
    "property_land_tax": "property_value_kzt",
    "social_tax_foreign_staff": "foreign_payroll_kzt",
    "cit_exemption": "qualifying_profit_kzt",
    "vat_exemption": "vatable_turnover_kzt",
    "pit_foreign_staff": "foreign_payroll_kzt",
}
RATES = {
    "property_land_tax": "0.015",
    "social_tax_foreign_staff": "0.06",
    "cit_exemption": "0.20",
    "vat_exemption": "0.16",
    "pit_foreign_staff": "0.10",
}


def expected(amount: Any, rate: str, mode: str = ROUND_HALF_UP) -> Decimal:
    """The reference reading: the amount as written times the rate, rounded once."""
    return (Decimal(repr(amount)) * Decimal(rate)).quantize(TIYN, rounding=mode)


def savings_of(d: Any) -> dict[str, float | None]:
    return dict(zip(d.benefit_ids, d.savings, strict=True))


def test_half_a_tiyn_is_rounded_up() -> None:
    # 0.015 x 1,235,501 = 18,532.515: the double is 18,532.514999..., which round() took down
    d = assess(P2026, exchange(property_value_kzt=1_235_501), AS_OF)
    assert savings_of(d)["property_land_tax"] == 18_532.52
    assert b'"estimated_annual_saving_kzt":18532.52,' in d.to_json()
    assert d.to_dict()["benefits"][0]["estimated_annual_saving_kzt"] == 18_532.52
    assert orjson.dumps(d.to_dict(), option=orjson.OPT_SORT_KEYS) == d.to_json()


def test_the_total_is_the_sum_of_the_rounded_savings() -> None:
    # three savings of x.xx5: each rounds up; rounding their unrounded sum would not
    filing = exchange(
        property_value_kzt=1_235_501,  # 18,532.515
        foreign_payroll_kzt=1_000_000.25,  # 60,000.015 and 100,000.025
        qualifying_profit_kzt=0,
        vatable_turnover_kzt=0,
    )
    d = assess(P2026, filing, AS_OF)
    s = savings_of(d)
    assert (s["property_land_tax"], s["social_tax_foreign_staff"], s["pit_foreign_staff"]) == (
        18_532.52,
        60_000.02,
        100_000.03,
    )
    assert d.total_saving == 178_532.57  # not round(178,532.555, 2)
    assert b'"estimated_total_saving_kzt":178532.57,' in d.to_json()


def test_a_mining_fee_difference_is_folded_in_decimal() -> None:
    d = assess(P2026, miner(mining_kwh=1_000_000.005), AS_OF)
    assert savings_of(d)["mining_fee_reduction"] == 9_000_000.05  # 9 x 1,000,000.005 = ...045


amounts = st.one_of(
    st.integers(min_value=0, max_value=10**12),
    st.decimals(min_value=0, max_value=10**12, places=3).map(float),
    st.floats(min_value=0, max_value=1e12, allow_nan=False, allow_infinity=False),
)


@settings(max_examples=300, deadline=None)
@given(
    property_value=amounts,
    payroll=amounts,
    profit=amounts,
    turnover=amounts,
    policy=st.sampled_from([P2026, P2027]),
)
def test_every_saving_is_the_exact_product_rounded_half_up_and_the_total_their_sum(
    property_value: float, payroll: float, profit: float, turnover: float, policy: Any
) -> None:
    filing = exchange(
        policy.version,
        property_value_kzt=property_value,
        foreign_payroll_kzt=payroll,
        qualifying_profit_kzt=profit,
        vatable_turnover_kzt=turnover,
    )
    d = assess(policy, filing, AS_OF)
    assert d.tier == "T3"
    got = savings_of(d)
    total = Decimal(0)
    for benefit, name in SAVING_INPUTS.items():
        want = expected(d.filing[name], RATES[benefit])
        assert Decimal(repr(got[benefit])) == want, (benefit, d.filing[name])
        total += want
    assert Decimal(repr(d.total_saving)) == total
    body = orjson.loads(d.to_json())
    assert body["estimated_total_saving_kzt"] == d.total_saving
    assert [b["estimated_annual_saving_kzt"] for b in body["benefits"]] == list(d.savings)


@settings(max_examples=300, deadline=None)
@given(
    rate=st.decimals(min_value=0, max_value=1, places=6),
    amount=amounts,
    unit=st.sampled_from(["0.01", "1", "0.05", "100"]),
    mode=st.sampled_from(["half_up", "half_even"]),
)
def test_any_rate_and_rounding_rule(rate: Decimal, amount: float, unit: str, mode: str) -> None:
    from hub.policy import expr

    formula = expr.parse("rate * amount")
    rounding = Rounding(Decimal(unit), mode)
    saving = saving_function(formula, {"rate": float(rate)}, rounding)
    exact = Decimal(repr(float(rate))) * Decimal(repr(amount))
    steps = (exact / Decimal(unit)).quantize(
        Decimal(1), rounding=ROUND_HALF_UP if mode == "half_up" else ROUND_HALF_EVEN
    )
    got = rounding.amount(saving({"amount": amount}))
    assert got == float(steps * Decimal(unit))
    assert Decimal(repr(got)) == steps * Decimal(unit) or abs(got) >= 1e13


def _variant(rounding: str) -> str:
    text = P2026.text.replace("rounding: {unit: 0.01, mode: half_up}", rounding)
    assert text != P2026.text
    return text


def test_the_policy_names_its_rounding_rule() -> None:
    assert P2026.rounding == P2027.rounding == DEFAULT_ROUNDING
    assert P2026.to_dict()["rounding"] == {
        "unit": 0.01,
        "mode": "half_up",
        "text": "rounded to 0.01 KZT, half up (halves away from zero)",
    }
    whole = load_policy_text(_variant("rounding: {unit: 1, mode: half_even}"))
    d = assess(whole, exchange(property_value_kzt=1_235_501, foreign_payroll_kzt=25), AS_OF)
    s = savings_of(d)
    assert s["property_land_tax"] == 18_533  # 18,532.515 to whole tenge
    assert s["social_tax_foreign_staff"] == 2  # 1.5 -> 2 (to even)
    assert s["pit_foreign_staff"] == 2  # 2.5 -> 2 (to even)
    absent = load_policy_text(_variant(""))  # the field is optional: the tax office's rule
    assert absent.rounding == DEFAULT_ROUNDING


@pytest.mark.parametrize(
    ("rounding", "message"),
    [
        ("rounding: {unit: 0, mode: half_up}", "rounding: unit must be a positive amount"),
        ("rounding: {unit: '0.01'}", "rounding: unit must be a positive amount"),
        ("rounding: {mode: bankers}", "rounding: mode must be one of half_up, half_even"),
        ("rounding: {unit: 0.01, places: 2}", "rounding: unknown field 'places'"),
        ("rounding: half_up", "rounding must be a mapping"),
    ],
)
def test_a_wrong_rounding_rule_is_refused_with_its_line(rounding: str, message: str) -> None:
    text = _variant(rounding)
    line = text.splitlines().index(rounding) + 1
    with pytest.raises(PolicyError) as exc:
        load_policy_text(text, "draft.yaml")
    assert any(e.startswith(f"draft.yaml:{line}: ") and message in e for e in exc.value.errors), (
        exc.value.errors
    )


def test_review_recomputation_rounds_as_the_engine_does() -> None:
    d = assess(P2026, exchange(property_value_kzt=1_235_501), AS_OF)
    statuses = {c.id: s for c, s in zip(P2026.criteria, d.statuses, strict=True)}
    recomputed = outcome(P2026, d.filing, statuses)
    engine = d.to_dict()
    assert savings_of(d)["property_land_tax"] == 18_532.52
    assert recomputed["benefits"] == engine["benefits"]
    assert recomputed["estimated_total_saving_kzt"] == engine["estimated_total_saving_kzt"]


def test_impact_sums_rounded_savings_exactly() -> None:
    before = Outcome("2026.1", "T1", ("a", "b", "c"), {"a": 0.1, "b": 0.2, "c": None}, {})
    after = Outcome("2027.1", "T1", ("a",), {"a": 18_532.52}, {})
    assert before.saving == 0.3  # 0.1 + 0.2 is 0.30000000000000004 in binary
    from hub.policy.impact import ImpactRow, rows_to_csv

    row = ImpactRow("k", "label", before, after, ())
    assert row.saving_change == 18_532.22
    report = ImpactReport(P2027, dt.date(2027, 1, 1), [row, row, row])
    assert report.totals()["saving_after"] == 55_597.56
    assert report.totals()["saving_change"] == 55_596.66
    csv = rows_to_csv([row.to_dict()])
    assert ",0.3,18532.52,18532.22," in csv


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (18_532.52, "18,532.52"),
        (12_000_000.0, "12,000,000"),
        (0.5, "0.50"),
        (-20_000_000.0, "-20,000,000"),
        (1e16, "10,000,000,000,000,000"),
    ],
)
def test_amounts_are_shown_as_rounded(value: float, text: str) -> None:
    assert format_money(value) == text
    assert plain_text(1e16) == "10000000000000000"
    assert format_money(1_000.5, signed=True) == "+1,000.50"


@settings(max_examples=2000, deadline=None)
@given(
    st.one_of(
        st.floats(allow_nan=False, allow_infinity=False),
        st.decimals(min_value=-(10**14), max_value=10**14, places=2).map(float),
        st.integers(min_value=-(10**18), max_value=10**18),
    )
)
def test_a_number_is_read_as_the_decimal_it_was_written_as(value: float) -> None:
    from fractions import Fraction

    from hub.policy.money import to_ratio

    n, d = to_ratio(value)
    assert d > 0 and Fraction(n, d) == Fraction(Decimal(repr(value)))
