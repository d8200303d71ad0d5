"""Input the engine could only decide wrongly is refused: keys given twice, numbers it
cannot compare exactly (issue 11, items 3 and 4). The bounds come from the core
(``InputSpec.lowest``/``highest``); the decisions within them are checked against
Python's exact arithmetic."""

from __future__ import annotations

import json
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.policy import FilingInvalid, assess, jsondoc, load_policy_text, validate_filing
from hub.policy.model import MAX_EXACT_INTEGER, MAX_MONEY

from .core_support import AS_OF, P2026, ROOT, exchange

BOUND = "9,007,199,254,740,991"


def refused(text: bytes | str) -> list[dict[str, str]]:
    with pytest.raises(jsondoc.DocumentRefused) as err:
        jsondoc.loads(text)
    strict = pytest.raises(jsondoc.DocumentRefused)
    with strict as err2:
        jsondoc.loads_strict(text)
    assert err.value.errors == err2.value.errors
    return err.value.errors


# --- item 3: a key given twice ----------------------------------------------------------


def test_a_key_given_twice_is_refused_with_its_path() -> None:
    body = b'{"filing": {"kyc_verified_clients_pct": 50, "x": 1, "kyc_verified_clients_pct": 100}}'
    assert refused(body) == [
        {"field": "filing.kyc_verified_clients_pct", "message": "is given more than once"}
    ]


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('{"as_of": "2026-09-01", "as_of": "2027-01-01", "filing": {}}', "as_of"),
        ('{"filing": {"officers": [{"a": 1, "a": 1}]}}', "filing.officers[0].a"),
        ('{"filing": {"a": {"b": {"c": 1, "c": 2}}}}', "filing.a.b.c"),
        ('[{"k": 1, "k": 1}]', "[0].k"),
        ('{"filing": {"legal_name": "a:b{", "x": 1, "x": 2}}', "filing.x"),
        ('{"filing": {"x": 1, "x": 1}}', "filing.x"),  # even with the same value
    ],
)
def test_a_key_given_twice_is_refused_at_any_depth(text: str, field: str) -> None:
    assert refused(text) == [{"field": field, "message": "is given more than once"}]


keys = st.sampled_from(["a", "b", "c", "filing", "x:y", "{", "é"])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**20), 10**20) | st.text(max_size=5)
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=3)
    | st.lists(st.tuples(keys, inner), max_size=4),  # an object, possibly with repeats
    max_leaves=12,
)  # fmt: skip


def _write(value: Any) -> str:
    if isinstance(value, list) and value and all(isinstance(v, tuple) for v in value):
        return "{" + ",".join(f"{json.dumps(k)}: {_write(v)}" for k, v in value) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_write(v) for v in value) + "]"
    return json.dumps(value)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_the_fast_reading_answers_as_the_exact_one(value: Any) -> None:
    """orjson plus the cheap check never lets a repeated key through, and never refuses
    what the standard library's exact reading accepts."""
    text = _write(value)
    try:
        exact: Any = jsondoc.loads_strict(text)
    except jsondoc.DocumentRefused as exc:
        exact = exc.errors
    try:
        fast: Any = jsondoc.loads(text.encode())
    except jsondoc.DocumentRefused as exc:
        fast = exc.errors
    assert fast == exact


# --- item 4: numbers a double cannot hold -----------------------------------------------


@pytest.mark.parametrize(
    "number", ["94.99999999999999999", "95.000000000000000001", "1234567890.1234567891"]
)
def test_a_number_with_more_digits_than_a_double_holds_is_refused(number: str) -> None:
    errors = refused('{"filing": {"kyc_verified_clients_pct": ' + number + "}}")
    assert [e["field"] for e in errors] == ["filing.kyc_verified_clients_pct"]
    assert number in errors[0]["message"] and "significant digits" in errors[0]["message"]


@pytest.mark.parametrize("number", ["0.30000000000000004", "94.9999999", "1e2", "12345.67"])
def test_a_number_that_round_trips_is_accepted(number: str) -> None:
    assert jsondoc.loads('{"x": ' + number + "}") == {"x": float(number)}


def test_every_amount_to_the_tiyn_below_the_money_ceiling_round_trips() -> None:
    assert MAX_MONEY == 9_999_999_999_999.99
    for text in ["9999999999999.99", "0.01", "1234567890123.45", "9999999999999.01"]:
        assert jsondoc.round_trips(text, float(text))


def fte_status(policy: Any, in_zone: int, declared: int) -> str:
    decision = assess(policy, exchange(fte_in_zone=in_zone, fte_declared=declared), AS_OF)
    return next(c.status for c in decision.criteria() if c.id == "staff_as_declared")


def test_the_issue_s_fte_case_is_refused_naming_the_bound() -> None:
    with pytest.raises(FilingInvalid) as err:
        validate_filing(P2026, exchange(fte_declared=10**18, fte_in_zone=799_999_999_999_999_999))
    assert err.value.errors == [
        {"field": "fte_declared", "message": f"must be at most {BOUND}"},
        {"field": "fte_in_zone", "message": f"must be at most {BOUND}"},
    ]


@settings(max_examples=150, deadline=None)
@given(st.integers(MAX_EXACT_INTEGER + 1, 10**30) | st.integers(-(10**30), -1))
def test_any_integer_beyond_the_bound_is_refused(value: int) -> None:
    with pytest.raises(FilingInvalid) as err:
        validate_filing(P2026, exchange(fte_declared=value))
    message = "must be at least 0" if value < 0 else f"must be at most {BOUND}"
    assert err.value.errors == [{"field": "fte_declared", "message": message}]


def _with_ratio(ratio: str) -> Any:
    text = (ROOT / "policies/astana-crypto-hub/2026.1.yaml").read_text(encoding="utf-8")
    old = "staff_as_declared_min_ratio:\n    value: 0.8\n"
    assert old in text
    new = f"staff_as_declared_min_ratio:\n    value: {ratio}\n"
    return load_policy_text(text.replace(old, new))


RATIOS = {r: (P2026 if r == "0.8" else _with_ratio(r)) for r in ("0.8", "0.7", "0.33", "1.1")}
counts = st.integers(0, MAX_EXACT_INTEGER)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(RATIOS)), counts, st.integers(-3, 3), st.booleans())
def test_within_the_bound_staff_as_declared_is_decided_exactly(
    ratio: str, declared: int, offset: int, near: bool
) -> None:
    """``fte_in_zone >= ratio * fte_declared`` as Python's exact arithmetic reads it, with
    fte_in_zone drawn next to the threshold, where doubles go wrong (0.8 * 6394092583090594
    is ...475.2, which a double rounds to ...475; 0.7 * 90 is 63.00000000000001)."""
    exact = Fraction(ratio) * declared
    in_zone = int(exact) + offset if near else declared // 2 + offset
    if not 0 <= in_zone <= MAX_EXACT_INTEGER:
        return
    expected = "met" if in_zone >= exact else "not_met"
    assert fte_status(RATIOS[ratio], in_zone, declared) == expected


@pytest.mark.parametrize(
    ("ratio", "in_zone", "declared", "status"),
    [
        ("0.8", 5_115_274_066_472_475, 6_394_092_583_090_594, "not_met"),  # ...475.2 needed
        ("0.8", 5_115_274_066_472_476, 6_394_092_583_090_594, "met"),
        ("0.7", 63, 90, "met"),  # exactly 63
        ("0.7", 62, 90, "not_met"),
        ("1.1", 11, 10, "met"),
        ("0.33", 33, 100, "met"),
    ],
)
def test_staff_as_declared_at_its_boundary(
    ratio: str, in_zone: int, declared: int, status: str
) -> None:
    assert fte_status(RATIOS[ratio], in_zone, declared) == status


def test_money_and_other_numbers_have_their_ceilings() -> None:
    ok = validate_filing(P2026, exchange(opex_in_zone_kzt=MAX_MONEY, str_median_hours=12.5))
    assert ok["opex_in_zone_kzt"] == MAX_MONEY
    with pytest.raises(FilingInvalid) as err:
        validate_filing(P2026, exchange(opex_in_zone_kzt=10**13, mining_kwh=2.0**53))
    assert err.value.errors == [
        {"field": "opex_in_zone_kzt", "message": "must be at most 9,999,999,999,999.99"},
        {"field": "mining_kwh", "message": f"must be at most {BOUND}"},
    ]


def test_the_bounds_are_the_core_s() -> None:
    specs = P2026.inputs_by_name
    assert (specs["fte_declared"].lowest, specs["fte_declared"].highest) == (0, MAX_EXACT_INTEGER)
    assert specs["opex_in_zone_kzt"].highest == MAX_MONEY
    assert specs["kyc_verified_clients_pct"].bounds_text == "0 to 100"
    assert specs["fte_declared"].bounds_text == f"0 to {BOUND}"
    assert specs["legal_name"].bounds_text == "" and specs["legal_name"].highest is None
    shown = {i["name"]: i for i in P2026.to_dict()["inputs"]}
    assert shown["fte_declared"]["max"] == MAX_EXACT_INTEGER
    assert shown["opex_in_zone_kzt"]["max"] == MAX_MONEY
