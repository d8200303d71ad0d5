"""The chunked impact analysis: partial results of any split, combined, are the single pass."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.population import population
from hub.policy import money
from hub.policy.decision import assess
from hub.policy.filing import FilingInvalid
from hub.policy.impact import (
    FLIPS_MEMO,
    ImpactPartial,
    KeptRow,
    Outcome,
    Subject,
    _Alignment,
    _saving,
    analyse,
    analyse_chunk,
    combine,
    compare,
)
from hub.policy.outcome import tier_ranks
from tests.unit.core_support import P2026, P2027
from tests.unit.strategies import examples, filings

AS_OF = dt.date(2027, 1, 1)
SUBJECTS = [Subject(b, n, f, P2026) for b, n, f in population(P2026, 90, seed=14)]
# A filing the candidate refuses, and one both refuse: errors count too.
SUBJECTS.append(Subject("000000000000", "Refused LLP", {"activity": "mining"}, P2026))
SUBJECTS.append(
    Subject("990140004654", "Odd LLP", {**SUBJECTS[0].inputs, "fte_in_zone": -5}, P2026)
)
SINGLE = analyse(SUBJECTS, P2027, AS_OF, against="2026.1")
SINGLE_TOTALS = SINGLE.totals()


def test_the_population_is_varied_enough_to_mean_something():
    t = SINGLE_TOTALS
    assert t["changed"] >= 10 and t["tier_changes"] >= 3 and t["refused_after"] >= 1
    assert any(n["losing"] for n in t["tiers"].values())
    assert t["saving_before"] != t["saving_after"]
    assert len({s.inputs["activity"] for s in SUBJECTS}) == len(P2026.activities)


@st.composite
def splits(draw: st.DrawFn) -> list[list[int]]:
    """Any partition of the subjects into chunks (contiguous or not), in any order."""
    n = len(SUBJECTS)
    chunks = draw(st.integers(1, 12))
    owner = draw(st.lists(st.integers(0, chunks - 1), min_size=n, max_size=n))
    parts = [[i for i in range(n) if owner[i] == c] for c in range(chunks)]
    return draw(st.permutations(parts))


@settings(max_examples=25, deadline=None)
@given(splits())
def test_any_split_combined_is_the_single_pass(parts: list[list[int]]) -> None:
    partials, rows = [], []
    for part in parts:
        partial, kept = analyse_chunk([SUBJECTS[i] for i in part], P2027, AS_OF)
        # What a worker stores and another reads back: JSON, exact savings included.
        partials.append(ImpactPartial.from_dict(json.loads(json.dumps(partial.to_dict()))))
        rows.extend(kept)
    assert combine(P2027, partials).totals() == SINGLE_TOTALS
    assert sorted(r.key for r in rows) == sorted(r.key for r in SINGLE.changed_rows)
    by_key = {r.key: r.to_dict() for r in SINGLE.rows}
    assert all(r.row == by_key[r.key] and r.changed for r in rows)


def test_contiguous_chunks_keep_the_order_of_the_subjects():
    partials: list[ImpactPartial] = []
    rows: list[KeptRow] = []
    for start in range(0, len(SUBJECTS), 7):
        partial, kept = analyse_chunk(SUBJECTS[start : start + 7], P2027, AS_OF)
        partials.append(partial)
        rows.extend(kept)
    combined = combine(P2027, partials).totals()
    assert json.dumps(combined) == json.dumps(SINGLE_TOTALS)  # same keys, same order
    assert [r.row for r in rows] == [r.to_dict() for r in SINGLE.changed_rows]


def test_no_company_is_zero_everywhere():
    assert combine(P2027, []).totals() == analyse([], P2027, AS_OF).totals()


def general(
    subjects: list[Subject], keep_unchanged: bool
) -> tuple[ImpactPartial, list[dict[str, Any]]]:
    """The general path the fast one is held to: an ``ImpactRow`` per company
    (``compare``), each added with ``ImpactPartial.add``."""
    partial = ImpactPartial.empty(P2027)
    rank = tier_ranks(P2027)
    rows = []
    for subject in subjects:
        row = compare(subject, P2027, AS_OF)
        partial.add(row, rank)
        if keep_unchanged or row.changed:
            rows.append(row.to_dict())
    return partial, rows


def same_partials(fast: ImpactPartial, slow: ImpactPartial) -> None:
    assert fast.to_dict() | {"saving_before": 0, "saving_after": 0} == slow.to_dict() | {
        "saving_before": 0,
        "saving_after": 0,
    }
    assert json.dumps(fast.totals()) == json.dumps(slow.totals())  # keys in the same order
    assert fast.saving_before == slow.saving_before and fast.saving_after == slow.saving_after


@examples(ci=60, dev=25)
@given(
    st.lists(
        st.tuples(filings(P2026, AS_OF, wild_values=True), st.sampled_from([P2026, P2027])),
        min_size=1,
        max_size=12,
    ),
    st.booleans(),
)
def test_the_fast_chunk_is_the_general_comparison(
    drawn: list[tuple[tuple[dict[str, Any], dt.date], Any]], keep_unchanged: bool
) -> None:
    """Random filings (some refused by one side or both, some compared under the candidate
    itself), kept or not: the same partial totals, rows, order and flags."""
    subjects = [
        Subject(f"{i:012d}", f"Company {i}", filing, policy)
        for i, ((filing, _), policy) in enumerate(drawn)
    ]
    partial, kept = analyse_chunk(subjects, P2027, AS_OF, keep_unchanged=keep_unchanged)
    slow_partial, slow_rows = general(subjects, keep_unchanged)
    same_partials(partial, slow_partial)
    assert [r.row for r in kept] == slow_rows
    assert [(r.key, r.label, r.changed) for r in kept] == [
        (r["key"], r["label"], r["changed"]) for r in slow_rows
    ]


def test_the_fast_chunk_on_the_varied_population_is_the_general_one():
    for keep_unchanged in (False, True):
        partial, kept = analyse_chunk(SUBJECTS, P2027, AS_OF, keep_unchanged=keep_unchanged)
        slow_partial, slow_rows = general(SUBJECTS, keep_unchanged)
        same_partials(partial, slow_partial)
        assert [r.row for r in kept] == slow_rows


@examples(ci=100, dev=40)
@given(filings(P2027, AS_OF))
def test_a_decision_s_saving_is_its_outcome_s(drawn: tuple[dict[str, Any], dt.date]) -> None:
    try:
        decision = assess(P2027, drawn[0], AS_OF)
    except FilingInvalid:
        return
    assert _saving(decision) == Outcome.of(decision).saving


def test_savings_in_other_decimal_places_are_summed_exactly():
    class Saved:  # what _saving reads of a decision
        def __init__(self, *savings: float | None) -> None:
            self.savings = savings

    for savings in [(0.1, 0.2), (1.5, 0.25, None), (1e16, 1.01), (None, None), (0.07,), ()]:
        assert _saving(Saved(*savings)) == money.total(savings)  # type: ignore[arg-type]


def test_the_flips_remembered_are_bounded():
    align = _Alignment(P2026, P2027)
    assert not align.same  # the two versions do not have the same criteria
    n = len(P2027.criteria)
    for i in range(FLIPS_MEMO + 50):
        after = tuple("met" if (i >> k) & 1 else "not_met" for k in range(n))
        before = tuple(["met"] * len(P2026.criteria))
        align.flips(before, after)
        assert len(align.memo) <= FLIPS_MEMO


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=12,
)


@examples(ci=300, dev=150)
@given(st.dictionaries(st.text(max_size=10), JSON_VALUES, max_size=8))
def test_stored_inputs_are_read_as_json_reads_them(inputs: dict[str, Any]) -> None:
    """orjson where it reads as json does; json where it does not (integers beyond 64
    bits, NaN, Infinity): the same values and types either way."""
    from hub.studio.impact_runs import read_inputs

    text = json.dumps(inputs)
    expected, found = json.loads(text), read_inputs(text)
    assert repr(found) == repr(expected)  # nan == nan, and int vs float told apart
    assert repr(read_inputs(text.encode())) == repr(expected)


def test_json_text_orjson_would_read_otherwise_is_read_by_json() -> None:
    """Wide integers anywhere (nested too), numbers orjson refuses, and what is read
    alike: as ``json.loads`` reads them, lists as well as objects."""
    from hub.studio.impact_runs import read_json

    for text in (
        "[18446744073709551616, -9223372036854775809, 1e400, NaN, -Infinity]",
        '{"a": "12345678901234567890", "b": [9223372036854775807, 1.5e-7]}',
        '{"a": {"b": [1, {"c": 18446744073709551616}]}, "d": 1e19}',
        '{"n": 1234567890123456789012345678901234567890}',
        "[0.1, 1e22, 5e-324, -0.0, 123456789012345678]",
    ):
        assert repr(read_json(text)) == repr(json.loads(text)), text
        assert repr(read_json(text.encode())) == repr(json.loads(text)), text
    with pytest.raises(ValueError):
        read_json("{not json")
