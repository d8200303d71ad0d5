"""The fast paths give exactly what the general paths give.

Validation, the fact sent to the engine and a decision's JSON each have a fast
path for the common case (see hub/policy/codegen.py and the benchmark). Each is
checked here against the general path on the same inputs, including the
unusual ones that must fall back to it; the many varied inputs are Hypothesis's
(``tests/unit/strategies.py``), so a difference is shown on the smallest filing.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import math
import operator
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.policy import FilingInvalid, Policy, assess, engine, validate_filing
from hub.policy.codegen import make_function, name_literal
from hub.policy.compiler import compile_policy

from .core_support import AS_OF, P2026, P2027, exchange, miner
from .strategies import as_of_dates, examples, filings

# The module, not the function hub.policy re-exports under the same name.
engine_module = importlib.import_module("hub.policy.durable_engine")


def general_validation(policy: Policy, raw: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """validate_filing with its generated fast path switched off."""
    with monkeypatch.context() as m:
        m.setattr(policy, "_validator", lambda raw: None)
        try:
            return validate_filing(policy, raw)
        except FilingInvalid as exc:
            return exc.errors


def both_ways(policy: Policy, raw: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    try:
        fast: Any = validate_filing(policy, raw)
    except FilingInvalid as exc:
        fast = exc.errors
    slow = general_validation(policy, raw, monkeypatch)
    assert fast == slow and type(fast) is type(slow), raw
    if isinstance(fast, dict):  # the same types too: 7 and 7.0 write differently
        assert [type(v) for v in fast.values()] == [type(v) for v in slow.values()], raw
    return fast


UNUSUAL: list[dict[str, Any]] = [
    {"fte_declared": 20.0},  # a whole number written as a float: converted to 20
    {"legal_name": "  Steppe Exchange LLP "},  # trimmed
    {"legal_name": "Steppe\tExchange"},  # a tab is refused in a name
    {"legal_name": "Steppe\x00Exchange"},  # a control character is refused
    {"legal_name": "Steppe \ud800 LLP"},  # a lone surrogate is refused
    {"legal_name": "Caf\u00e9 LLP"},  # composed: kept
    {"legal_name": "Cafe\u0301 LLP"},  # decomposed: composed, then kept
    {"legal_name": "\u0421\u0442\u0435\u043f\u044c \u049a\u0430\u0437\u0430\u049b"},
    {"legal_name": "Steppe \u202eLLP"},  # a bidirectional override
    {"legal_name": "\u200b"},  # invisible only
    {"legal_name": "\u3164\u3000"},  # a blank letter and an ideographic space
    {"legal_name": " \u00a0Steppe\u00a0"},  # no-break spaces at the edges: trimmed
    {"legal_name": "Steppe\x85LLP"},  # a C1 control
    {"licence_type": "trading\ud800"},  # a lone surrogate where a choice is expected
    {"officers_appointed": ["SEO", "\udfff"]},
    {"\ud800": 1},  # an unknown field named with a lone surrogate
    {"legal_name": ""},
    {"officers_appointed": ["MLRO", "SEO", "FO", "CO", "CITO"]},  # put in policy order
    {"officers_appointed": ["SEO", "SEO"]},
    {"officers_appointed": ["SEO", {"x": 1}]},  # unhashable item
    {"officers_appointed": "SEO"},
    {"kyc_verified_clients_pct": math.nan},
    {"kyc_verified_clients_pct": math.inf},
    {"kyc_verified_clients_pct": True},
    {"kyc_verified_clients_pct": "95"},
    {"kyc_verified_clients_pct": 1e-05},
    {"opex_in_zone_kzt": 1e16},
    {"opex_in_zone_kzt": 1e19},
    {"opex_in_zone_kzt": 9_999_999_999_999.99},  # the money ceiling, accepted
    {"opex_in_zone_kzt": 10_000_000_000_000},  # above it
    {"opex_in_zone_kzt": -0.01},
    {"fte_declared": 2**53 - 1},  # the largest whole number a double holds exactly
    {"fte_declared": 2**53},
    {"fte_declared": 10**18, "fte_in_zone": 799_999_999_999_999_999},
    {"fte_declared": 9_007_199_254_740_992.0},  # a float beyond the bound
    {"mining_kwh": 2.0**53},
    {"kyc_verified_clients_pct": 101},
    {"licence_expires_on": "2027-02-30"},
    {"licence_expires_on": "2027-2-3"},
    {"activity": "casino"},
    {"activity": ["exchange"]},
    {"registered_in_hub": 1},
    {"bin": "940140000386"},
    {"bin": 940140000385},
    {"unknown_field": 1},
    {"kyc_verified_clients_pct": None},
]


@pytest.mark.parametrize("change", UNUSUAL, ids=lambda c: repr(c)[:40])
def test_unusual_filings_validate_as_the_general_path_says(
    change: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    for policy in (P2026, P2027):
        both_ways(policy, exchange(policy.version, **change), monkeypatch)


@pytest.mark.parametrize("policy", [P2026, P2027], ids=lambda p: p.version)
def test_random_filings_validate_as_the_general_path_says(
    policy: Policy, monkeypatch: pytest.MonkeyPatch
) -> None:
    @examples(ci=1500, dev=200)
    @given(filings(policy, AS_OF, wild_values=True))
    def agree(case: tuple[dict[str, Any], dt.date]) -> None:
        both_ways(policy, case[0], monkeypatch)

    agree()
    both_ways(policy, [exchange(policy.version)], monkeypatch)  # not an object
    both_ways(policy, dict, monkeypatch)


def test_a_dict_subclass_is_validated_too(monkeypatch: pytest.MonkeyPatch) -> None:
    class Filing(dict):  # type: ignore[type-arg]
        pass

    assert both_ways(P2026, Filing(exchange()), monkeypatch) == validate_filing(P2026, exchange())


def test_the_fact_is_the_filing_with_positional_numbers() -> None:
    compiled = compile_policy(P2026)
    clean = validate_filing(P2026, exchange(kyc_verified_clients_pct=1.5e-07))
    fact = compiled.fact(clean, "exchange", "2026-09-01")
    doc = json.loads("{" + fact)
    assert "e-07" not in fact and doc["kyc_verified_clients_pct"] == 1.5e-07
    assert doc["#t"] == "f" and doc["#d"] == "2026-09-01" and doc["activity"] == "exchange"
    assert "legal_name" not in doc and "bin" not in doc  # the rules never read them
    plain = compiled.fact(validate_filing(P2026, exchange()), "exchange", "2026-09-01")
    assert json.loads("{" + plain)["kyc_verified_clients_pct"] == 100


@pytest.mark.parametrize("policy", [P2026, P2027], ids=lambda p: p.version)
def test_decision_json_is_the_dict_on_varied_filings(policy: Policy) -> None:
    @examples(ci=1500, dev=200)
    @given(
        st.one_of(
            # the compliant exchange on many dates: a requirement that reads as_of names it
            st.tuples(st.just(exchange(policy.version)), as_of_dates()),
            filings(policy),
        )
    )
    def agree(case: tuple[dict[str, Any], dt.date]) -> None:
        filing, as_of = case
        try:
            clean = validate_filing(policy, filing)
        except FilingInvalid:
            return
        d = assess(policy, clean, as_of)
        text = d.to_json()
        assert text == orjson.dumps(d.to_dict(), option=orjson.OPT_SORT_KEYS), filing
        assert json.loads(text) == d.to_dict()

    agree()


@pytest.mark.parametrize("policy", [P2026, P2027], ids=lambda p: p.version)
def test_decision_json_is_the_dict_on_realistic_filings(policy: Policy) -> None:
    """The benchmark's companies (amounts with tiyn, random licence dates, about a third
    short somewhere, some inputs left out) on days across both versions: nearly every
    criterion's JSON is written on a memo miss, by the short roads of ``_Fragments``."""
    from benchmarks.population import bin_number, filing

    @examples(ci=1500, dev=300)
    @given(st.randoms(use_true_random=False), as_of_dates())
    def agree(rnd: Any, as_of: dt.date) -> None:
        f = filing(policy, rnd, bin_number(rnd), "Realistic LLP")
        d = assess(policy, f, as_of)
        assert d.to_json() == orjson.dumps(d.to_dict(), option=orjson.OPT_SORT_KEYS), f

    agree()


def test_the_dated_requirement_is_memoised_per_date() -> None:
    early = assess(P2026, exchange(), dt.date(2026, 9, 1)).to_json()
    late = assess(P2026, exchange(), dt.date(2026, 10, 1)).to_json()
    assert b"as_of (2026-09-01)" in early and b"as_of (2026-10-01)" in late
    assert b"as_of (2026-09-01)" not in late


def test_the_engine_recovers_from_an_error_while_draining(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cases = [exchange(kyc_verified_clients_pct=v) for v in (90, 95, 100)] + [miner()]
    expected = [assess(P2026, f, AS_OF).to_json() for f in cases]
    real = engine_module._complete_and_start
    calls = {"n": 0}

    def failing_once(handle: int, state: int) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("injected")
        return real(handle, state)

    monkeypatch.setattr(engine_module, "_complete_and_start", failing_once)
    with pytest.raises(RuntimeError, match="injected"):
        assess(P2026, exchange(kyc_verified_clients_pct=90), AS_OF)
    monkeypatch.setattr(engine_module, "_complete_and_start", real)
    # The state was dropped and a new one primed: the same answers as before.
    assert [assess(P2026, f, AS_OF).to_json() for f in cases] == expected
    assert P2026.key in engine().loaded()


def test_generated_code_takes_identifiers_only() -> None:
    assert name_literal("kyc_verified_clients_pct") == "'kyc_verified_clients_pct'"
    for hostile in ("a'); import os; ('", "kyc\n", "Kyc", "", "__class__", 7):
        with pytest.raises(ValueError):
            name_literal(hostile)  # type: ignore[arg-type]
    twice = make_function("twice", "x", ["return x * TIMES"], {"TIMES": 2}, label="e-money")
    assert twice(21) == 42 and "TIMES" in twice.__source__ and "e-money" not in twice.__source__
    with pytest.raises(ValueError):
        make_function("e-money", "x", ["return x"], {})


def test_policy_values_stay_out_of_generated_source() -> None:
    validate_filing(P2026, exchange())
    source = P2026._validator.__source__
    assert "trading_facility" not in source  # choices are passed as names
    assert "100" not in source  # so are bounds
    assert orjson.loads(assess(P2026, exchange(), AS_OF).to_json())["tier"] == "T3"


def test_benefits_that_read_inputs_and_set_items_agree_with_the_reference() -> None:
    from hub.policy import load_policy_text

    from .test_engine_oracle import reference

    draft = load_policy_text(
        P2026.text.replace(
            "requires: tier >= T3",
            "requires: tier >= T1 and officers_appointed contains 'CITO' and fte_in_zone >= 15",
        ),
        source="draft.yaml",
    )
    granted = set()

    @examples(ci=600, dev=150)
    @given(
        st.one_of(st.just(exchange()), filings(draft, AS_OF).map(operator.itemgetter(0))),
        st.one_of(st.none(), st.sampled_from([["SEO", "CITO"], ["SEO"], []])),
    )
    def agree(filing: dict[str, Any], officers: list[str] | None) -> None:
        if officers is not None:
            filing = {**filing, "officers_appointed": officers}
        try:
            d = assess(draft, filing, AS_OF)
        except FilingInvalid:
            return
        assert (d.statuses, d.tier, d.benefit_ids) == reference(draft, d.filing, AS_OF)
        granted.add("dividend_exemption" in d.benefit_ids)

    agree()
    assert granted == {True, False}  # the changed benefit is both granted and refused


def test_a_criterion_on_the_activity_alone_is_written_too() -> None:
    from hub.policy import load_policy_text

    draft = load_policy_text(
        P2026.text.replace(
            "condition: registered_in_hub == true", "condition: activity != 'software'"
        ),
        source="draft.yaml",
    )
    for activity in ("exchange", "software"):
        d = assess(draft, exchange(activity=activity, licence_type="none"), AS_OF)
        assert d.to_json() == orjson.dumps(d.to_dict(), option=orjson.OPT_SORT_KEYS)


def test_an_activity_named_with_quotes_and_dashes_reaches_the_engine_intact() -> None:
    from hub.policy import load_policy_text

    from .test_engine_oracle import reference

    odd = 'soft "ware"-x\\y'
    draft = load_policy_text(
        P2026.text.replace(
            "      software: Blockchain software", f"      '{odd}': Blockchain"
        ).replace("all_except: [software]", f"all_except: ['{odd}']"),
        source="draft.yaml",
    )
    assert odd in draft.activities
    for activity in (odd, "exchange"):
        filing = exchange(activity=activity, licence_type="none", kyc_verified_clients_pct=90)
        d = assess(draft, filing, AS_OF)
        assert (d.statuses, d.tier, d.benefit_ids) == reference(draft, d.filing, AS_OF)
        assert d.to_json() == orjson.dumps(d.to_dict(), option=orjson.OPT_SORT_KEYS)


def test_the_json_memo_stays_within_its_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    from hub.policy import decision, load_policy_text

    monkeypatch.setattr(decision, "WRITER_MEMO", 50)
    monkeypatch.setattr(decision, "CRITERION_MEMO", 8)
    fresh = load_policy_text(P2026.text, source="fresh.yaml")  # memos of its own

    @examples(ci=300, dev=150)
    @given(filings(fresh, AS_OF))
    def agree(case: tuple[dict[str, Any], dt.date]) -> None:
        try:
            d = assess(fresh, case[0], AS_OF)
        except FilingInvalid:
            return
        assert d.to_json() == orjson.dumps(d.to_dict(), option=orjson.OPT_SORT_KEYS)

    agree()
    for writer in compile_policy(fresh).writers.values():
        memos = [v for k, v in writer.__globals__.items() if k.startswith("M") and k[1:].isdigit()]
        assert sum(len(by_key) for memo in memos for by_key in memo.values()) <= 50
        assert all(len(by_key) <= 8 for memo in memos for by_key in memo.values())


def test_long_hostile_text_never_enters_the_validation_caches() -> None:
    from hub.policy import filing

    validate_filing(P2026, exchange())  # the fast validator exists
    before = (filing._is_date.cache_info().currsize, filing._bin_ok.cache_info().currsize)
    for change in ({"licence_expires_on": "2" * 70_000}, {"bin": "9" * 70_000},
                   {"officers_appointed": ["SEO", "x" * 70_000]}):  # fmt: skip
        with pytest.raises(FilingInvalid):
            validate_filing(P2026, exchange(**change))
    after = (filing._is_date.cache_info().currsize, filing._bin_ok.cache_info().currsize)
    assert after == before


def test_text_the_rules_read_is_compared_composed_and_never_a_lone_surrogate() -> None:
    from hub.policy import load_policy_text

    from .test_engine_oracle import reference

    draft = load_policy_text(
        P2026.text.replace(
            "condition: registered_in_hub == true", "condition: legal_name != 'Blocked Café LLP'"
        ),
        source="draft.yaml",
    )
    # The same name composed and decomposed is the same text, and fails the criterion.
    for name in ("Blocked Café LLP", "Blocked Cafe\u0301 LLP", "Open LLP", "Открытое ТОО"):
        filing = exchange(legal_name=name, kyc_verified_clients_pct=90)
        d = assess(draft, filing, AS_OF)
        assert (d.statuses, d.tier, d.benefit_ids) == reference(draft, d.filing, AS_OF)
        (i,) = [n for n, c in enumerate(draft.criteria) if "legal_name" in c.condition]
        assert d.statuses[i] == ("not_met" if "Blocked" in name else "met")
    # orjson refuses a lone surrogate, and so does validation: it never reaches the engine.
    with pytest.raises(FilingInvalid) as caught:
        assess(draft, exchange(legal_name="Steppe \ud800 LLP"), AS_OF)
    assert caught.value.errors[0]["field"] == "legal_name"


@pytest.mark.parametrize("policy", [P2026, P2027], ids=lambda p: p.version)
@pytest.mark.parametrize(
    "change",
    [
        {},  # every number whole: the short road everywhere
        {"travel_rule_compliant_pct": 99.9999999},  # met, 7 decimals: the long road
        {"travel_rule_compliant_pct": 99.25, "travel_rule_threshold_usd": 999.5},
        {"opex_in_zone_kzt": 8_589_934_592.25},  # past 2^33: format_value's own road
        {"opex_in_zone_kzt": 1_234_567_890.12, "tax_arrears_kzt": -0.0},
        {"kyc_verified_clients_pct": 100.0, "fte_in_zone": 1000},
    ],
    ids=repr,
)
def test_met_texts_spliced_from_parts_are_the_general_ones(
    policy: Policy, change: dict[str, Any]
) -> None:
    """A met criterion's JSON is spliced from its parts and the values' JSON (numbers
    shown by ``format_number_json``, a dated requirement's tail kept per day); on each
    side of every edge of that road it is what ``to_dict`` says, on several days."""
    for day in (AS_OF, dt.date(2027, 3, 1), dt.date(2027, 12, 31)):
        try:
            clean = validate_filing(policy, exchange(policy.version, **change))
        except FilingInvalid:
            continue
        d = assess(policy, clean, day)
        assert "met" in d.statuses
        assert d.to_json() == orjson.dumps(d.to_dict(), option=orjson.OPT_SORT_KEYS), change


def _one_number_criteria() -> list[tuple[Policy, str, int]]:
    from hub.policy.decision import _explainers

    found = []
    for policy in (P2026, P2027):
        for activity in policy.activities:
            for i, ex in enumerate(_explainers(policy, activity)):
                if ex.not_met_parts is not None:
                    found.append((policy, activity, i))
    return found


@pytest.mark.parametrize(
    "where", _one_number_criteria(), ids=lambda w: f"{w[0].version}-{w[1]}-{w[2]}"
)
def test_not_met_texts_from_parts_are_explain_s(where: tuple[Policy, str, int]) -> None:
    """A one-number criterion's not-met explanation and fix, from parts made once around
    the value's text, are what ``explain`` writes, for any value of at most 6 decimals
    that fails the condition (whole, with tiyn, huge, negative, -0.0)."""
    from hub.policy.decision import _explainers
    from hub.policy.evaluate import to_callable
    from hub.policy.explain import build_fixer
    from hub.policy.shown import format_number_json

    policy, activity, i = where
    ex = _explainers(policy, activity)[i]
    holds = to_callable(compile_policy(policy).specialised[i][activity])
    name = ex.inputs[0]

    @examples(ci=400, dev=100)
    @given(
        st.one_of(
            st.integers(-(10**12), 10**12),
            st.builds(round, st.floats(-1e10, 1e10), st.integers(0, 7)),
            st.builds(round, st.floats(-200, 200), st.integers(0, 7)),
            st.sampled_from([-0.0, 0.0, 94.999999, 95.000001, 2.0**33, 1e-06]),
        )
    )
    def agree(value: int | float) -> None:
        filing = {name: value}
        env = {**policy.parameter_values, **filing, "as_of": AS_OF.isoformat()}
        if holds(env):
            return
        shown = format_number_json(value, orjson.dumps(value))
        if shown is None:
            return  # the long road
        text, fix, _, _ = ex.explain("not_met", filing, lambda: env, AS_OF.isoformat())
        assert ex.not_met_texts(shown.decode()) == (text, fix), value
        # and explain's own fix is the long road's (shown_pair), not the same parts
        long_road = build_fixer(compile_policy(policy).specialised[i][activity],
                                policy.inputs_by_name, short=False)(env)  # fmt: skip
        assert fix == "; ".join(long_road) + (f". {ex.hint}" if ex.hint else ""), value

    agree()


@pytest.mark.parametrize("policy", [P2026, P2027], ids=lambda p: p.version)
def test_a_fix_from_parts_is_the_long_road_s(policy: Policy) -> None:
    """A number compared with a bound written in the policy is fixed from parts made once
    ("raise x from " + the value's text + " to at least 95"): for every criterion of
    every activity, on varied filings and days, the fixes are the long road's (the value
    shown by ``shown_pair``), in criteria of one comparison or several."""
    from hub.policy.decision import _explainers
    from hub.policy.explain import build_fixer

    compiled = compile_policy(policy)
    long_roads = {
        (activity, i): build_fixer(node, policy.inputs_by_name, short=False)
        for i, by_activity in enumerate(compiled.specialised)
        for activity, node in by_activity.items()
        if node is not None
    }

    @examples(ci=600, dev=150)
    @given(filings(policy))
    def agree(case: tuple[dict[str, Any], dt.date]) -> None:
        filing, day = case
        try:
            clean = validate_filing(policy, filing)
        except FilingInvalid:
            return
        activity = clean[policy.applicability_input]
        env = {**policy.parameter_values, **clean, "as_of": day.isoformat()}
        for i, ex in enumerate(_explainers(policy, activity)):
            if (activity, i) in long_roads:
                assert ex.fixer(env) == long_roads[activity, i](env), (i, filing)

    agree()


@pytest.mark.parametrize("policy", [P2026, P2027], ids=lambda p: p.version)
def test_a_criterion_s_own_environment_explains_as_the_whole_one(policy: Policy) -> None:
    """``explain`` with the environment of what the criterion's condition reads
    (``env_factory``, what the JSON writer passes) gives the texts, threshold and
    requirement it gives with the whole one (every parameter and input, as ``to_dict``'s
    rows pass), for every status of every criterion, on varied filings and days."""
    from hub.policy.decision import _explainers

    @examples(ci=600, dev=150)
    @given(filings(policy))
    def agree(case: tuple[dict[str, Any], dt.date]) -> None:
        filing, day = case
        try:
            d = assess(policy, filing, day)
        except FilingInvalid:
            return
        as_of = day.isoformat()
        whole = {**policy.parameter_values, **d.filing, "as_of": as_of}
        explainers = _explainers(policy, d.filing[policy.applicability_input])
        for ex, status in zip(explainers, d.statuses, strict=True):
            if status == "not_applicable":
                continue
            own = ex.explain(status, d.filing, ex.env_factory(d.filing, as_of), as_of)
            assert own == ex.explain(status, d.filing, lambda: whole, as_of), filing

    agree()


def test_a_date_read_from_the_memo_is_the_date_read_afresh(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``parse_date`` remembers the dates it read by their text: the second reading of any
    text (a date, a date in other digits, a trailing line break, no date) is the first's,
    only real dates are kept, and no more than DATES_MEMO of them."""
    from hub.policy import requests
    from hub.policy.requests import RequestInvalid

    def read(text: str) -> Any:
        try:
            return requests.parse_date(text, "as_of")
        except RequestInvalid as exc:
            return exc.errors

    @examples(ci=400, dev=100)
    @given(
        st.one_of(
            st.dates().map(dt.date.isoformat),
            st.from_regex(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\n?", fullmatch=True),
            st.text(max_size=12),
        )
    )
    def agree(text: str) -> None:
        requests._DATES.clear()
        afresh = read(text)
        assert read(text) == afresh, text
        assert list(requests._DATES) == ([text] if isinstance(afresh, dt.date) else [])

    agree()
    monkeypatch.setattr(requests, "DATES_MEMO", 3)
    for day in range(1, 11):
        assert read(f"2027-01-{day:02}") == dt.date(2027, 1, day)
        assert len(requests._DATES) <= 3
