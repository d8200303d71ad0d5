"""Several policy versions side by side, and the choice of the one in force on a date."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path

from .loader import load_policy
from .model import Policy, PolicyError


class NoVersionInForce(LookupError):
    """No version is in force on the date asked (or the named version does not exist)."""

    def __init__(self, message: str, field: str = "as_of") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class PolicyRegistry:
    """An immutable set of versions of one or more policies."""

    def __init__(self, policies: Iterable[Policy]) -> None:
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
                f"no policy version {version!r} (known: {known})", field="policy_version"
            )
        return matches[-1]

    def select(
        self, as_of: dt.date, version: str | None = None, policy_id: str | None = None
    ) -> Policy:
        """The named version, or the one with the latest effective_from on or before as_of."""
        if version is not None:
            return self.get(version, policy_id)
        in_force = [p for p in self._of(policy_id) if p.effective_from <= as_of]
        if not in_force:
            first = min((p.effective_from for p in self._of(policy_id)), default=None)
            since = f"; the first takes effect on {first.isoformat()}" if first else ""
            raise NoVersionInForce(f"no policy version is in force on {as_of.isoformat()}{since}")
        return max(in_force, key=lambda p: (p.effective_from, p.version))
