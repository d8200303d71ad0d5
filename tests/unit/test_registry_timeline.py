"""Which version is in force on a date, with retirements, and the timeline that spells it out."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.policy import NoVersionInForce, Period, Policy, PolicyRegistry, load_policy

BASE = load_policy(Path(__file__).parents[2] / "policies" / "astana-crypto-hub" / "2026.1.yaml")
DAY0 = dt.date(2026, 1, 1)


def version(n: int, start: dt.date) -> Policy:
    """A copy of the shipped 2026.1 renumbered 2026.<n>, effective ``start``."""
    return dataclasses.replace(
        BASE, version=f"2026.{n}", effective_from=start, digest=f"sha256:{n:064x}"
    )


def test_retired_version_stops_applying_and_the_previous_applies_again() -> None:
    v1, v2 = version(1, DAY0), version(2, dt.date(2026, 6, 1))
    registry = PolicyRegistry([v1, v2], retired={(v2.id, v2.version): dt.date(2026, 9, 1)})
    assert registry.select(dt.date(2026, 8, 31)) is v2
    assert registry.select(dt.date(2026, 9, 1)) is v1
    assert registry.retired_from(v2) == dt.date(2026, 9, 1)
    assert registry.retired_from(v1) is None
    assert registry.timeline() == [
        Period(DAY0, dt.date(2026, 6, 1), v1),
        Period(dt.date(2026, 6, 1), dt.date(2026, 9, 1), v2),
        Period(dt.date(2026, 9, 1), None, v1),
    ]


def test_nothing_in_force_after_the_only_version_is_retired() -> None:
    v1 = version(1, DAY0)
    registry = PolicyRegistry([v1], retired={(v1.id, v1.version): dt.date(2027, 1, 1)})
    with pytest.raises(NoVersionInForce, match=r"2026\.1 was retired from 2027-01-01"):
        registry.select(dt.date(2027, 1, 1))
    assert registry.timeline() == [
        Period(DAY0, dt.date(2027, 1, 1), v1),
        Period(dt.date(2027, 1, 1), None, None),
    ]
    # a version named explicitly is still found: decisions made under it keep it
    assert registry.get("2026.1") is v1


def test_a_retired_version_named_explicitly_decides_only_before_its_retirement() -> None:
    v1, v2 = version(1, DAY0), version(2, dt.date(2026, 6, 1))
    registry = PolicyRegistry([v1, v2], retired={(v2.id, v2.version): dt.date(2026, 9, 1)})
    assert registry.select(dt.date(2026, 8, 31), "2026.2") is v2  # a decision made under it
    for day in (dt.date(2026, 9, 1), dt.date(2027, 5, 1)):
        with pytest.raises(NoVersionInForce) as refused:
            registry.select(day, "2026.2")
        assert refused.value.field == "policy_version"
        assert refused.value.message.startswith(
            f"version 2026.2 was retired from 2026-09-01 and does not decide as of {day}"
        )
    assert registry.select(dt.date(2027, 5, 1), "2026.1") is v1  # not retired: named, it decides
    assert registry.get("2026.2") is v2


def test_with_versions_answers_what_if_without_changing_the_registry() -> None:
    v1, v2 = version(1, DAY0), version(2, dt.date(2027, 1, 1))
    registry = PolicyRegistry([v1, v2])
    draft = version(3, dt.date(2027, 3, 1))
    what_if = registry.with_versions([draft])
    assert what_if.select(dt.date(2027, 3, 1)) is draft
    assert registry.select(dt.date(2027, 3, 1)) is v2
    assert [p.policy for p in what_if.timeline()] == [v1, v2, draft]


days = st.integers(min_value=0, max_value=60).map(lambda n: DAY0 + dt.timedelta(days=n))


@given(
    starts=st.lists(days, min_size=1, max_size=6),
    retire=st.lists(st.one_of(st.none(), days), min_size=6, max_size=6),
    probe=st.lists(st.integers(min_value=-5, max_value=70), min_size=1, max_size=20),
)
def test_timeline_agrees_with_select_on_every_day(
    starts: list[dt.date], retire: list[dt.date | None], probe: list[int]
) -> None:
    versions = [version(i + 1, day) for i, day in enumerate(starts)]
    retired = {(p.id, p.version): r for p, r in zip(versions, retire, strict=False) if r}
    registry = PolicyRegistry(versions, retired=retired)
    timeline = registry.timeline()
    assert timeline[0].start == min(starts)
    assert timeline[-1].end is None
    for before, after in itertools.pairwise(timeline):
        assert before.end == after.start
        assert before.policy is not after.policy
    for offset in probe:
        day = DAY0 + dt.timedelta(days=offset)
        try:
            expected: Policy | None = registry.select(day)
        except NoVersionInForce:
            expected = None
        covering = [p for p in timeline if p.covers(day)]
        if day < timeline[0].start:
            assert covering == [] and expected is None
        else:
            assert len(covering) == 1 and covering[0].policy is expected


def test_select_remembers_the_version_in_force_per_day_and_policy() -> None:
    """select keeps its answers per (day, policy id): asked again, on any day, for any
    policy, it answers what the versions say, and never another policy's version; its
    memory is bounded (cleared past IN_FORCE_MEMO days)."""
    import hub.policy.registry as registry_module

    ours = [version(1, DAY0), version(2, DAY0 + dt.timedelta(days=30))]
    other = dataclasses.replace(ours[0], id="other-hub")
    registry = PolicyRegistry([*ours, other])
    for _ in range(2):  # the second time from the memory
        for offset in range(-2, 60):
            day = DAY0 + dt.timedelta(days=offset)
            for policy_id, expected in (
                (BASE.id, ours[1] if offset >= 30 else ours[0]),
                ("other-hub", other),
            ):
                if offset < 0:
                    with pytest.raises(NoVersionInForce):
                        registry.select(day, policy_id=policy_id)
                else:
                    assert registry.select(day, policy_id=policy_id) is expected
    assert len(registry._in_force) <= registry_module.IN_FORCE_MEMO
