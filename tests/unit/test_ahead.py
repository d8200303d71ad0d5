"""Answers ahead of a version (hub/policy/ahead.py): which inputs an upcoming version adds,
how they are checked, and that each version decides on its own inputs alone."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from hub.policy import assess
from hub.policy.ahead import ahead_inputs, check_ahead, inputs_for
from hub.policy.impact import Subject, compare
from tests.unit.core_support import P2026, P2027, REGISTRY, exchange

NEW = "unhosted_wallet_verified_pct"


def test_2027_1_adds_exactly_the_inputs_2026_1_does_not_ask():
    ahead = ahead_inputs(P2026, [P2027])
    assert set(ahead) == set(P2027.inputs_by_name) - set(P2026.inputs_by_name)
    assert NEW in ahead and ahead[NEW].version is P2027
    assert ahead_inputs(P2026, []) == {} and ahead_inputs(P2027, [P2027]) == {}


def test_registry_upcoming_is_what_takes_effect_after_the_date_and_applies_on_its_day():
    assert REGISTRY.upcoming(dt.date(2026, 11, 30)) == [P2027]
    assert REGISTRY.upcoming(dt.date(2026, 11, 30), within_days=31) == []
    assert REGISTRY.upcoming(dt.date(2026, 11, 30), within_days=32) == [P2027]
    assert REGISTRY.upcoming(dt.date(2027, 1, 1)) == []
    # retired from its first day: nothing to prepare for
    retired = REGISTRY.with_versions([], {(P2027.id, P2027.version): P2027.effective_from})
    assert retired.upcoming(dt.date(2026, 11, 30)) == []


names = st.sampled_from(sorted(set(P2026.inputs_by_name) | set(P2027.inputs_by_name) | {"x"}))


@given(st.dictionaries(names, st.integers(0, 200) | st.text(max_size=3) | st.none()))
@settings(max_examples=200, deadline=None)
def test_inputs_for_keeps_the_versions_own_inputs_unchanged(inputs: dict[str, Any]):
    for policy in (P2026, P2027):
        kept = inputs_for(policy, inputs)
        assert kept == {k: v for k, v in inputs.items() if k in policy.inputs_by_name}


@given(st.integers(-50, 250) | st.floats(allow_nan=False) | st.text(max_size=4) | st.booleans())
@settings(max_examples=200, deadline=None)
def test_a_value_ahead_is_checked_as_the_upcoming_version_would(value: Any):
    ahead = ahead_inputs(P2026, [P2027])
    checked, errors = check_ahead(P2026, {NEW: value}, ahead)
    try:
        clean = assess(P2027, exchange("2027.1", **{NEW: value}), P2027.effective_from).filing
        assert checked == {NEW: clean[NEW]} and errors == []
    except ValueError as refused:  # FilingInvalid: the same field refused
        assert checked == {} and [e["field"] for e in errors] == [NEW]
        assert errors[0]["message"] in str(refused)


def test_the_version_in_force_ignores_the_answer_ahead_and_the_upcoming_one_reads_it():
    filing = exchange("2026.1")
    with_answer = {**filing, NEW: 100}
    assert (
        assess(P2026, inputs_for(P2026, with_answer), dt.date(2026, 11, 30)).to_json()
        == assess(P2026, filing, dt.date(2026, 11, 30)).to_json()
    )
    # the impact analysis (and the watch on it) decides each version on its own inputs
    without = compare(Subject("k", "l", filing, P2026), P2027, P2027.effective_from)
    answered = compare(Subject("k", "l", with_answer, P2026), P2027, P2027.effective_from)
    assert without.before.error is None and answered.before.error is None
    assert ("unhosted_wallet_checks", "absent", "missing") in without.flipped
    assert ("unhosted_wallet_checks", "absent", "met") in answered.flipped
    assert answered.after.tier == answered.before.tier == "T3" != without.after.tier
