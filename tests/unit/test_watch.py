"""The watch's pure part (``hub.policy.watch``): windows, the policy change against the
engine deciding both versions, "close to the line" against its margin."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from hub.policy import PolicyRegistry, assess, load_policy_text
from hub.policy.document import json_schema
from hub.policy.outcome import tier_ranks
from hub.policy.watch import (
    CERTIFICATE_EXPIRY,
    CLOSE_TO_LINE,
    LICENCE_EXPIRY,
    POLICY_CHANGE,
    WatchedFiling,
    close_to_line_notices,
    watch_filing,
)
from tests.unit.core_support import P2026, P2027, REGISTRY, ROOT
from tests.unit.strategies import compliant, examples, filings

NEW_YEAR = dt.date(2027, 1, 1)
AS_OF = dt.date(2026, 11, 29)


def _kinds(found: list[Any], kind: str) -> list[Any]:
    return [f for f in found if f.kind == kind]


def exchange(**changes: Any) -> dict[str, Any]:
    return {**compliant(P2026, "exchange"), "licence_expires_on": "2030-12-31", **changes}


@given(st.integers(min_value=-400, max_value=400))
def test_licence_warns_from_60_days_ahead_inclusive(days: int) -> None:
    expires = AS_OF + dt.timedelta(days=days)
    found = watch_filing(
        WatchedFiling(exchange(licence_expires_on=expires.isoformat()), P2026.id),
        REGISTRY,
        AS_OF,
    )
    licence = _kinds(found, LICENCE_EXPIRY)
    assert bool(licence) is (days <= 60)
    if licence:
        (w,) = licence
        assert w.subject == expires.isoformat()
        assert w.loss_on == expires + dt.timedelta(days=1)
        assert w.details["expired"] is (days < 0)


def test_licence_is_not_watched_where_no_criterion_reads_it() -> None:
    software = {**compliant(P2026, "software"), "licence_expires_on": AS_OF.isoformat()}
    found = watch_filing(WatchedFiling(software, P2026.id), REGISTRY, AS_OF)
    assert _kinds(found, LICENCE_EXPIRY) == []


@given(st.integers(min_value=-60, max_value=400))
def test_certificate_warns_from_30_days_ahead_inclusive(days: int) -> None:
    until = AS_OF + dt.timedelta(days=days)
    filing = WatchedFiling(exchange(), P2026.id, "ABCD-EFGH-JKMN-PQRS", until, "T3", 1.0)
    found = _kinds(watch_filing(filing, REGISTRY, AS_OF), CERTIFICATE_EXPIRY)
    assert bool(found) is (days <= 30)
    if found:
        assert found[0].loss_on == until + dt.timedelta(days=1)
        assert found[0].saving_at_stake == 1.0


@given(st.integers(min_value=-30, max_value=200))
def test_a_version_is_watched_from_90_days_before_it_takes_effect(days: int) -> None:
    as_of = NEW_YEAR - dt.timedelta(days=days)
    if as_of < P2026.effective_from:
        return
    found = _kinds(
        watch_filing(WatchedFiling(exchange(), P2026.id), REGISTRY, as_of), POLICY_CHANGE
    )
    assert bool(found) is (0 < days <= 90)


def _demoted(inputs: dict[str, Any]) -> bool:
    before, after = assess(P2026, inputs, NEW_YEAR), assess(P2027, inputs, NEW_YEAR)
    rank = tier_ranks(P2027)
    lower = rank.get(after.tier or "", -1) < rank.get(before.tier or "", -1)
    return lower or bool(set(before.benefit_ids) - set(after.benefit_ids))


@examples(ci=2_000, dev=200)
@given(st.data())
def test_policy_change_warns_exactly_when_the_engine_demotes(data: st.DataObject) -> None:
    inputs, _ = data.draw(filings(P2026, NEW_YEAR))
    found = _kinds(watch_filing(WatchedFiling(inputs, P2026.id), REGISTRY, AS_OF), POLICY_CHANGE)
    assert bool(found) is _demoted(inputs)
    for w in found:
        after = {c.id: c for c in assess(P2027, inputs, NEW_YEAR).criteria()}
        for flip in w.details["criteria"]:
            assert after[flip["criterion"]].status in ("not_met", "missing")
            assert flip["fix"] == after[flip["criterion"]].fix


def test_the_new_criterion_is_named_with_its_fix_and_the_date() -> None:
    found = watch_filing(WatchedFiling(exchange(), P2026.id), REGISTRY, AS_OF)
    (w,) = _kinds(found, POLICY_CHANGE)
    assert (w.details["tier_before"], w.details["tier_after"]) == ("T3", "T1")
    assert [c["criterion"] for c in w.details["criteria"]] == ["unhosted_wallet_checks"]
    assert w.details["criteria"][0]["new_inputs"] == ["unhosted_wallet_verified_pct"]
    assert w.details["todo"] == [
        "provide unhosted_wallet_verified_pct (required: unhosted_wallet_verified_pct ≥ 100) "
        "before 2027-01-01 to keep T3"
    ]


@given(st.integers(min_value=9500, max_value=9999))
def test_kyc_close_to_the_line_within_one_point(kyc: Any) -> None:
    value = kyc / 100
    decision = assess(P2026, exchange(kyc_verified_clients_pct=value), AS_OF)
    subjects = {f.subject for f in close_to_line_notices(decision)}
    assert ("kyc_baseline:kyc_verified_clients_pct" in subjects) is (value <= 96)


def test_the_margin_is_a_policy_field() -> None:
    text = (ROOT / "policies" / "astana-crypto-hub" / "2026.1.yaml").read_text(encoding="utf-8")
    narrow = load_policy_text(text + "\nwatch: {percent_points: 0.1, relative: 0}\n")
    assert (narrow.close_margin.percent_points, narrow.close_margin.relative) == (0.1, 0)
    assert "watch" in json_schema()["properties"]
    decision = assess(narrow, exchange(kyc_verified_clients_pct=95.2), AS_OF)
    assert close_to_line_notices(decision) == []  # 0.2 points is not within 0.1
    decision = assess(P2026, exchange(kyc_verified_clients_pct=95.2), AS_OF)
    (kyc,) = [
        n for n in close_to_line_notices(decision) if n.details["criterion"] == "kyc_baseline"
    ]
    assert kyc.severity == "notice" and kyc.loss_on is None and kyc.details["bound"] == 95


def test_a_figure_at_its_limit_is_not_close() -> None:
    decision = assess(P2026, exchange(kyc_verified_clients_pct=100.0, tax_arrears_kzt=0), AS_OF)
    subjects = {f.subject for f in close_to_line_notices(decision)}
    assert "kyc_complete:kyc_verified_clients_pct" not in subjects
    assert "no_tax_arrears:tax_arrears_kzt" not in subjects


def test_criteria_above_the_tier_reached_are_not_watched() -> None:
    # local_opex fails: T1 only; a T3 figure on its line is no notice
    decision = assess(P2026, exchange(opex_in_zone_kzt=1.0, cold_storage_pct=90.0), AS_OF)
    assert decision.tier == "T1"
    assert not any(f.details["tier"] != "T1" for f in close_to_line_notices(decision))


def test_no_version_in_force_gives_only_what_needs_none() -> None:
    registry = PolicyRegistry([P2026])
    filing = WatchedFiling(exchange(), P2026.id, "ABCD-EFGH-JKMN-PQRS", dt.date(2026, 6, 1))
    found = watch_filing(filing, registry, dt.date(2026, 6, 1))
    assert [f.kind for f in found] == [CERTIFICATE_EXPIRY]
    assert CLOSE_TO_LINE not in {f.kind for f in found}
