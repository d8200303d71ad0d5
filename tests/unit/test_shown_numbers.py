"""A fix never hides the gap: a value is never shown onto or across what it is compared with.

Values are shown rounded to 6 decimals, except where that would put a value on or across
its threshold (94.9999999 is not "95" beside "at least 95"); thresholds written in a
policy are shown as written. Checked for every comparison operator, in the explanation,
the fix and what the result pages show (hub/web/present.py), against the truth.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from hub.policy import assess, load_policy_text
from hub.policy.shown import format_number, gap_text, shown_pair, shown_value
from hub.web.present import decision_view, value_texts

from .core_support import AS_OF, P2026, P2027, exchange

OPS = {">=": "≥", ">": ">", "<=": "≤", "<": "<", "==": "=", "!=": "≠"}
#: thresholds written in the policy: whole, short, long, tiny, huge, negative, and float
#: noise written out (2.4000000000000004 is what 0.8 * 3 gives)
THRESHOLDS = [
    95,
    33.3,
    0.1,
    0.0000001,
    95.00000001,
    2.4000000000000004,
    1234567.891,
    -5,
    10**15,
]
SYMBOL_TEXT = {">=": "at least", ">": "more than", "<=": "at most", "<": "less than"}


def _criterion(i: int, j: int, op: str, condition: str) -> str:
    return f"""  - id: c{i}_{j}
    title: Criterion {i} {op}
    tier: T1
    condition: {condition}
    citation: Rule {i}.{j}
"""


def _policy_text() -> str:
    criteria = []
    params = []
    for i, t in enumerate(THRESHOLDS):
        params.append(f"  t{i}: {{value: {t!r}}}")
        for j, op in enumerate(OPS):
            criteria.append(_criterion(i, j, op, f"z{i} {op} t{i}"))
    for j, op in enumerate(OPS):  # an input against another input, and a computed bound
        criteria.append(_criterion(90, j, op, f"x {op} yy"))
        criteria.append(_criterion(91, j, op, f"x {op} 0.8 * w"))
    inputs = "\n".join(f"  z{i}: {{type: number, label: Z{i}}}" for i in range(len(THRESHOLDS)))
    return f"""\
id: shown
version: "2030.1"
title: Values beside thresholds
effective_from: 2030-01-01
inputs:
  activity: {{type: enum, required: true, label: Activity, choices: [exchange]}}
{inputs}
  x: {{type: number, label: X}}
  yy: {{type: number, label: Other}}
  w: {{type: integer, min: 0, label: W}}
parameters:
{chr(10).join(params)}
tiers:
  - {{id: T1, title: One}}
criteria:
{"".join(criteria)}benefits: []
"""


POLICY = load_policy_text(_policy_text())
NUMBER = r"-?[\d,]*\.?\d+(?:e[-+]?\d+)?"


def number(text: str) -> Decimal:
    return Decimal(text.replace(",", ""))


def side(a: Any, b: Any) -> int:
    a, b = Decimal(repr(a)), Decimal(repr(b))
    return (a > b) - (a < b)


def check_row(row: dict[str, Any], name: str, value: Any, bound: Any, op: str) -> None:
    """Every text of one criterion shows ``value`` on its own side of ``bound``."""
    truth = side(value, bound)
    where = f"{row['id']}: {name}={value!r} {op} {bound!r}"
    # the explanation: "Not met: z0 is 94.9999999 (required: z0 ≥ 95)."
    shown = re.search(rf"\b{name} is ({NUMBER})", row["explanation"])
    assert shown, (where, row["explanation"])
    required = re.fullmatch(rf"{name} {OPS[op]} ({NUMBER})", row["requirement"])
    if required:  # a constant threshold, shown as written
        assert number(required.group(1)) == Decimal(repr(bound)), where
        got = (number(shown.group(1)) > number(required.group(1))) - (
            number(shown.group(1)) < number(required.group(1))
        )
        assert got == truth, (where, row["explanation"])
    # the fix: "raise z0 from 94.9999999 to at least 95", "change z0 from 1 to 2"
    if row["fix"] and op not in ("!=",):
        words = SYMBOL_TEXT.get(op, "")
        fix = re.search(rf"{name} from ({NUMBER}) to {words}\s*({NUMBER})", row["fix"])
        assert fix, (where, row["fix"])
        v, t = number(fix.group(1)), number(fix.group(2))
        assert (v > t) - (v < t) == truth, (where, row["fix"])
        assert (fix.group(1) != fix.group(2)) == (truth != 0), (where, row["fix"])
    # the result pages: the value column beside the requirement, and the distance bar
    texts = value_texts(row)
    shown_there = number(texts[name])
    if isinstance(row["threshold"], int | float):
        t = Decimal(repr(row["threshold"]))
        assert (shown_there > t) - (shown_there < t) == truth, (where, texts)
    bar = next(r["bar"] for r in decision_view({"criteria": [row]})["rows"])
    if bar is not None and bar.gap_text not in ("meets the threshold", "no value given"):
        assert number(bar.gap_text.split()[0].rstrip("%")) != 0, (where, bar.gap_text)


def decide(**values: Any) -> dict[str, dict[str, Any]]:
    d = assess(POLICY, {"activity": "exchange", **values}, AS_OF)
    return {c["id"]: c for c in d.to_dict()["criteria"]}


def test_the_kyc_fix_keeps_the_gap() -> None:
    d = assess(P2026, exchange(kyc_verified_clients_pct=94.9999999), AS_OF)
    row = next(c for c in d.to_dict()["criteria"] if c["id"] == "kyc_baseline")
    assert row["status"] == "not_met"
    assert row["fix"].startswith("raise kyc_verified_clients_pct from 94.9999999 to at least 95")
    assert "kyc_verified_clients_pct is 94.9999999 " in row["explanation"]
    assert value_texts(row) == {"kyc_verified_clients_pct": "94.9999999"}
    bar = next(r["bar"] for r in decision_view(d.to_dict(), P2026)["rows"] if r["id"] == row["id"])
    assert bar.gap_text == "0.0000001% short"
    # a value that rounds far from every threshold is shown as before
    d = assess(P2027, exchange("2027.1", kyc_verified_clients_pct=92.50000001), AS_OF)
    row = next(c for c in d.to_dict()["criteria"] if c["id"] == "kyc_baseline")
    assert "from 92.5 to at least 97" in row["fix"]


def near(bound: Any) -> st.SearchStrategy[Any]:
    """Values arbitrarily close to a bound, on either side, and on it."""
    b = float(bound)
    return st.one_of(
        st.integers(min_value=1, max_value=40).flatmap(
            lambda k: st.sampled_from([_steps(b, k), _steps(b, -k)])
        ),
        st.sampled_from([1e-12, 1e-9, 1e-7, 4e-7, 5e-7, 6e-7, 1e-6, 0.5, 1]).flatmap(
            lambda d: st.sampled_from([b + d, b - d, b + d * abs(b), b - d * abs(b)])
        ),
        st.just(bound),
    )


def _steps(x: float, k: int) -> float:
    for _ in range(abs(k)):
        x = math.nextafter(x, math.inf if k > 0 else -math.inf)
    return x


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_a_value_is_never_shown_onto_or_across_a_written_threshold(data: Any) -> None:
    i = data.draw(st.integers(min_value=0, max_value=len(THRESHOLDS) - 1))
    bound = THRESHOLDS[i]
    value = data.draw(near(bound))
    rows = decide(**{f"z{i}": value})
    for j, op in enumerate(OPS):
        check_row(rows[f"c{i}_{j}"], f"z{i}", value, bound, op)


finite = st.floats(min_value=-1e12, max_value=1e12, allow_nan=False, allow_infinity=False)


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_a_value_is_never_shown_onto_or_across_another_input_or_a_computed_bound(
    data: Any,
) -> None:
    y = data.draw(st.one_of(finite, st.integers(-(10**9), 10**9)))
    x = data.draw(near(y))
    w = data.draw(st.integers(min_value=0, max_value=10**6))
    rows = decide(x=x, yy=y, w=w)
    for j, op in enumerate(OPS):
        row = rows[f"c90_{j}"]
        check_row(row, "x", x, y, op)
        # the other input is shown on its own side of x too
        shown_y = re.search(rf"\byy is ({NUMBER})", row["explanation"])
        shown_x = re.search(rf"\bx is ({NUMBER})", row["explanation"])
        assert shown_y and shown_x
        a, b = number(shown_x.group(1)), number(shown_y.group(1))
        assert (a > b) - (a < b) == side(x, y), row["explanation"]
    bound = 0.8 * w
    x = data.draw(near(bound))
    rows = decide(x=x, yy=0, w=w)
    for j, op in enumerate(OPS):
        check_row(rows[f"c91_{j}"], "x", x, bound, op)


@settings(max_examples=500, deadline=None)
@given(st.data())
def test_the_pair_texts_keep_the_order_of_the_numbers(data: Any) -> None:
    bound = data.draw(
        st.one_of(finite, st.integers(-(10**15), 10**15), st.sampled_from(THRESHOLDS))
    )
    value = data.draw(near(bound))
    exact_bound = data.draw(st.booleans())
    value_text, bound_text = shown_pair(value, bound, exact_bound)
    v, t = number(value_text), number(bound_text)
    assert (v > t) - (v < t) == side(value, bound), (value, bound, value_text, bound_text)
    alone = number(shown_value(value, [bound]))
    exact = Decimal(repr(bound))
    assert (alone > exact) - (alone < exact) == side(value, bound)
    if value != bound:
        assert number(gap_text(value, bound)) != 0


def test_texts_stay_as_they_were_where_nothing_is_hidden() -> None:
    assert shown_value(92.5, [95]) == "92.5"
    assert shown_value(94.99999999, [90]) == "95"  # far from 90: rounded as always
    assert shown_value(1_234_567.5, [95]) == "1,234,567.5"
    assert format_number(95) == "95" and format_number(33.3) == "33.3"
    assert format_number(0.0000001) == "0.0000001"
    assert format_number(0.1 + 0.2) == "0.30000000000000004"  # written: shown as written
    # a computed bound's float noise stays hidden, unless it decides
    assert shown_pair(2, 0.8 * 3, exact_bound=False) == ("2", "2.4")
    assert shown_pair(2.4, 0.8 * 3, exact_bound=False) == ("2.4", "2.4000000000000004")


#: numbers as filings hold them: amounts with tiyn, percentages, whole numbers written
#: as floats, the edges of the short road (1,000 and 2^33), and any double at all
FILED_NUMBERS = st.one_of(
    st.builds(round, st.floats(-1e10, 1e10), st.integers(0, 8)),
    st.builds(round, st.floats(-2_000, 2_000), st.integers(0, 8)),
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(-(2**63), 2**63),
    st.sampled_from(
        [
            0.0,
            -0.0,
            1e-05,
            1e-06,
            1e-07,
            999.9999995,
            999.0,
            1000.0,
            -1000.0,
            8_589_934_591.5,
            8_589_934_592.5,
            2.0**33,
            1e15,
            1e16,
            12.0,
            -7.25,
        ]
    ),
)


@settings(max_examples=3_000, deadline=None)
@given(FILED_NUMBERS)
def test_a_number_read_off_its_json_is_shown_as_format_value_shows_it(value: Any) -> None:
    """The met texts of a decision's JSON show numbers from their JSON bytes
    (``format_number_json``); where it answers it says what ``format_value`` says, and
    the number needs no more than 6 decimals (else the long road must show it)."""
    import orjson

    from hub.policy.shown import format_number_json, format_value, plain_number_json

    json = orjson.dumps(value)
    text = format_number_json(value, json)
    if plain_number_json(json):  # the writer's fast test: shown as its JSON
        assert text == json, value
    if text is not None:
        assert text == format_value(value).encode(), value
        assert type(value) is int or value == round(value, 6), value
    if type(value) is float and abs(value) < 1_000 and value == round(value, 2):
        assert text is not None, value  # percentages take the short road


def test_the_short_road_of_numbers_declines_what_it_cannot_show() -> None:
    import orjson

    from hub.policy.shown import format_number_json

    for value in (1e-07, 94.9999999, 1e16, 2.0**33, 1.5e300, True, None, "95"):
        assert format_number_json(value, orjson.dumps(value)) is None, value
