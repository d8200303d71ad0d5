"""Several policy versions side by side, and the choice of the one in force on a date.

A version is in force from its ``effective_from`` (inclusive) until the next
version's ``effective_from`` or, when it is retired, its retirement date
(exclusive), whichever comes first. On a date after a retirement, the latest
other version already in effect applies again; ``PolicyRegistry.timeline``
spells the result out period by period.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from .loader import load_policy
from .model import Policy, PolicyError
from .text import shown

#: days whose version in force a registry remembers (a day is about 100 bytes)
IN_FORCE_MEMO = 4_096


class NoVersionInForce(LookupError):
    """No version is in force on the date asked (or the named version does not exist)."""

    def __init__(self, message: str, field: str = "as_of") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True)
class Period:
    """A stretch of days on which one version (or none) is in force.

    ``start`` is inclusive, ``end`` exclusive (None: open-ended); ``policy`` is
    None for a gap in which no version applies (before the first version, or
    after a retirement that nothing replaces).
    """

    start: dt.date
    end: dt.date | None
    policy: Policy | None

    def covers(self, day: dt.date) -> bool:
        """True when ``day`` falls in this period."""
        return self.start <= day and (self.end is None or day < self.end)


class PolicyRegistry:
    """An immutable set of versions of one or more policies.

    ``retired`` maps ``(policy id, version)`` to the first day that version no
    longer applies (its retirement date); versions not in it never stop
    applying except where a later version takes over.

    Raises ``PolicyError`` when two different texts claim the same version.
    """

    def __init__(
        self,
        policies: Iterable[Policy],
        retired: Mapping[tuple[str, str], dt.date] | None = None,
    ) -> None:
        self._retired: dict[tuple[str, str], dt.date] = dict(retired or {})
        self._by_version: dict[tuple[str, str], Policy] = {}
        for p in policies:
            key = (p.id, p.version)
            if key in self._by_version and self._by_version[key].digest != p.digest:
                raise PolicyError([f"{p.source}: version {p.version} of {p.id} is defined twice"])
            self._by_version[key] = p
        #: every version, oldest first, and the same per policy id (a registry never
        #: changes once built: picking the version is on every assessment's path)
        self._sorted = sorted(
            self._by_version.values(), key=lambda p: (p.id, p.effective_from, p.version)
        )
        self._by_id: dict[str, list[Policy]] = {}
        for p in self._sorted:
            self._by_id.setdefault(p.id, []).append(p)
        #: (as_of, policy id) -> the version in force: ``select`` remembers its answers
        #: (days repeat across requests; bounded by IN_FORCE_MEMO)
        self._in_force: dict[tuple[dt.date, str | None], Policy] = {}

    @classmethod
    def from_directory(cls, directory: str | Path) -> PolicyRegistry:
        """Every *.yaml below ``directory``; all errors of all files are reported together."""
        files = sorted(Path(directory).rglob("*.yaml"))
        policies, errors = [], []
        for f in files:
            try:
                policies.append(load_policy(f))
            except PolicyError as exc:
                errors.extend(exc.errors)
        if errors:
            raise PolicyError(errors)
        return cls(policies)

    def retired_from(self, policy: Policy) -> dt.date | None:
        """The first day ``policy`` no longer applies because it was retired, or None."""
        return self._retired.get((policy.id, policy.version))

    def retirements(self) -> dict[tuple[str, str], dt.date]:
        """Every retirement, ``(policy id, version) -> first day no longer applied`` (a copy)."""
        return dict(self._retired)

    def with_versions(
        self,
        policies: Iterable[Policy],
        retired: Mapping[tuple[str, str], dt.date] | None = None,
    ) -> PolicyRegistry:
        """A new registry: these versions and retirements added to (or replacing) ours.

        What-if questions use it: the timeline with a draft published on a date,
        or with a version retired from a date. Raises ``PolicyError`` like the
        constructor.
        """
        merged = {(p.id, p.version): p for p in self._sorted}
        for p in policies:
            merged[(p.id, p.version)] = p
        return PolicyRegistry(merged.values(), {**self._retired, **(retired or {})})

    def applies_on(self, policy: Policy, as_of: dt.date) -> bool:
        """True when ``policy`` has taken effect by ``as_of`` and is not retired on it."""
        if policy.effective_from > as_of:
            return False
        retired = self._retired.get((policy.id, policy.version))
        return retired is None or as_of < retired

    def upcoming(
        self, as_of: dt.date, policy_id: str | None = None, *, within_days: int | None = None
    ) -> list[Policy]:
        """The versions that take effect after ``as_of`` (at most ``within_days`` later, when
        given) and are in force on their first day (neither replaced on it by another nor
        retired from it), earliest first: the versions a company can prepare for.

        Shape: ``[Policy, ...]``, empty when none is published ahead of ``as_of``.
        """
        horizon = None if within_days is None else as_of + dt.timedelta(days=within_days)
        out = []
        for candidate in sorted(self._of(policy_id), key=lambda p: p.effective_from):
            day = candidate.effective_from
            if day <= as_of or (horizon is not None and day > horizon):
                continue
            try:
                if self.select(day, policy_id=candidate.id) is candidate:
                    out.append(candidate)
            except NoVersionInForce:
                continue
        return out

    def versions(self, policy_id: str | None = None) -> list[Policy]:
        """Oldest first."""
        return list(self._of(policy_id))

    def _of(self, policy_id: str | None) -> list[Policy]:
        """The versions of one policy (or all), oldest first: the registry's own list."""
        return self._sorted if policy_id is None else self._by_id.get(policy_id, [])

    def get(self, version: str, policy_id: str | None = None) -> Policy:
        matches = [p for p in self._of(policy_id) if p.version == version]
        if not matches:
            known = ", ".join(p.version for p in self._of(policy_id)) or "none"
            raise NoVersionInForce(
                f"no policy version {shown(version)!r} (known: {known})", field="policy_version"
            )
        return matches[-1]

    def select(
        self, as_of: dt.date, version: str | None = None, policy_id: str | None = None
    ) -> Policy:
        """The named version, or the one in force on ``as_of``: of the versions in effect
        by then and not retired on it, the one with the latest effective_from.

        Raises ``NoVersionInForce`` (field ``policy_version`` for an unknown name, or a
        name of a version retired on or before ``as_of``; ``as_of`` when nothing applies
        on the date). A retired version still decides dates before its retirement (the
        decisions made under it: retiring it is refused on or before any of them), never
        a date from which it no longer applies.
        """
        if version is not None:
            policy = self.get(version, policy_id)
            retired = self.retired_from(policy)
            if retired is not None and as_of >= retired:
                raise NoVersionInForce(
                    f"version {policy.version} was retired from {retired.isoformat()} and does "
                    f"not decide as of {as_of.isoformat()}: name a version in force on that "
                    "date, or leave policy_version out for the one in force",
                    field="policy_version",
                )
            return policy
        key = (as_of, policy_id)
        chosen = self._in_force.get(key)
        if chosen is not None:
            return chosen
        in_force = [p for p in self._of(policy_id) if self.applies_on(p, as_of)]
        if not in_force:
            raise NoVersionInForce(self._nothing_in_force(as_of, policy_id))
        chosen = max(in_force, key=lambda p: (p.effective_from, p.version))
        if len(self._in_force) >= IN_FORCE_MEMO:
            self._in_force.clear()
        self._in_force[key] = chosen
        return chosen

    def _nothing_in_force(self, as_of: dt.date, policy_id: str | None) -> str:
        versions = self._of(policy_id)
        message = f"no policy version is in force on {as_of.isoformat()}"
        started = [p for p in versions if p.effective_from <= as_of]
        if started:
            last = max(started, key=lambda p: (p.effective_from, p.version))
            retired = self._retired.get((last.id, last.version))
            if retired is not None:
                return f"{message}: version {last.version} was retired from {retired.isoformat()}"
        first = min((p.effective_from for p in versions), default=None)
        return message + (f"; the first takes effect on {first.isoformat()}" if first else "")

    def timeline(self, policy_id: str | None = None) -> list[Period]:
        """The days of one policy cut into periods, oldest first, each with the version in
        force (None for a gap), consecutive periods always differing in version.

        The first period starts on the earliest effective date; the last is
        open-ended. A version that never applies (replaced before it starts, or
        retired on its first day) appears in no period. Empty without versions.
        """
        versions = self._of(policy_id)
        if not versions:
            return []
        first = min(p.effective_from for p in versions)
        days = {p.effective_from for p in versions}
        days |= {d for p in versions if (d := self.retired_from(p)) is not None and d > first}
        periods: list[Period] = []
        for day in sorted(days):
            try:
                policy: Policy | None = self.select(day, policy_id=policy_id)
            except NoVersionInForce:
                policy = None
            if periods and periods[-1].policy is policy:
                continue
            if periods:
                periods[-1] = Period(periods[-1].start, day, periods[-1].policy)
            periods.append(Period(day, None, policy))
        return periods
