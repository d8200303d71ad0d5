"""The chunked impact analysis: partial results of any split, combined, are the single pass."""

from __future__ import annotations

import datetime as dt
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.population import population
from hub.policy.impact import (
    ImpactPartial,
    ImpactRow,
    Subject,
    analyse,
    analyse_chunk,
    combine,
)
from tests.unit.core_support import P2026, P2027

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
    assert all(r.to_dict() == by_key[r.key] for r in rows)


def test_contiguous_chunks_keep_the_order_of_the_subjects():
    partials: list[ImpactPartial] = []
    rows: list[ImpactRow] = []
    for start in range(0, len(SUBJECTS), 7):
        partial, kept = analyse_chunk(SUBJECTS[start : start + 7], P2027, AS_OF)
        partials.append(partial)
        rows.extend(kept)
    combined = combine(P2027, partials).totals()
    assert json.dumps(combined) == json.dumps(SINGLE_TOTALS)  # same keys, same order
    assert [r.to_dict() for r in rows] == [r.to_dict() for r in SINGLE.changed_rows]


def test_no_company_is_zero_everywhere():
    assert combine(P2027, []).totals() == analyse([], P2027, AS_OF).totals()
