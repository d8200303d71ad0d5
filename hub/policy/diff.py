"""What changed between two policy versions, in the terms authors and reviewers use.

A criterion counts as changed when its *effective* condition changes, so a new
parameter value (95 -> 97) shows up on every criterion that reads it, with the
condition in words before and after.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .model import Policy


@dataclass(frozen=True)
class Change:
    """One difference between two versions: in ``section``, the entry ``id`` was ``added``,
    ``removed`` or ``changed`` (``kind``); for a change, ``field`` and its ``old`` and
    ``new`` values."""

    section: str  # meta | inputs | parameters | tiers | criteria | benefits
    id: str
    kind: str  # added | removed | changed
    field: str | None = None
    old: Any = None
    new: Any = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "section": self.section,
            "id": self.id,
            "kind": self.kind,
            "field": self.field,
            "old": self.old,
            "new": self.new,
        }


@dataclass
class PolicyDiff:
    """What changed from ``old`` to ``new``, as a list of :class:`Change` in policy order."""

    old: Policy
    new: Policy
    changes: list[Change] = field(default_factory=list)

    def section(self, name: str) -> list[Change]:
        return [c for c in self.changes if c.section == name]

    @property
    def empty(self) -> bool:
        return not self.changes

    def to_dict(self) -> dict[str, Any]:
        return {
            "old": {"version": self.old.version, "digest": self.old.digest},
            "new": {"version": self.new.version, "digest": self.new.digest},
            "changes": [c.to_dict() for c in self.changes],
        }

    def to_text(self) -> str:
        """A readable report, one line per change, grouped by section."""
        if self.empty:
            return f"{self.old.version} and {self.new.version}: no differences in the rules."
        lines = [f"Changes from {self.old.version} to {self.new.version}:"]
        for section in ("meta", "inputs", "parameters", "tiers", "criteria", "benefits"):
            changes = self.section(section)
            if not changes:
                continue
            lines.append(f"\n{section.capitalize()}:")
            for c in changes:
                if c.kind == "added":
                    lines.append(f"  + {c.id}" + (f": {_short(c.new)}" if c.new else ""))
                elif c.kind == "removed":
                    lines.append(f"  - {c.id}" + (f": {_short(c.old)}" if c.old else ""))
                else:
                    lines.append(f"  ~ {c.id} {c.field}: {_short(c.old)} -> {_short(c.new)}")
        return "\n".join(lines)


def _short(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


def _compare_items(
    section: str,
    old: dict[str, dict[str, Any]],
    new: dict[str, dict[str, Any]],
    summary: str | None,
    out: list[Change],
) -> None:
    for key in old:
        if key not in new:
            out.append(
                Change(section, key, "removed", old=old[key].get(summary) if summary else None)
            )
    for key, item in new.items():
        if key not in old:
            out.append(Change(section, key, "added", new=item.get(summary) if summary else None))
            continue
        before = old[key]
        for name in item:
            if before.get(name) != item[name]:
                out.append(Change(section, key, "changed", name, before.get(name), item[name]))


def diff_policies(old: Policy, new: Policy) -> PolicyDiff:
    """Compare two versions (any order; ``old`` is the base)."""
    a, b = old.to_dict(), new.to_dict()
    changes: list[Change] = []
    for key in ("id", "title", "effective_from"):
        if a[key] != b[key]:
            changes.append(Change("meta", key, "changed", key, a[key], b[key]))
    if old.rounding != new.rounding:  # how savings are rounded
        changes.append(
            Change("meta", "rounding", "changed", "rounding",
                   old.rounding.describe(), new.rounding.describe())
        )  # fmt: skip

    def index(items: list[dict[str, Any]], key: str, drop: tuple[str, ...] = ()) -> dict[Any, Any]:
        return {i[key]: {k: v for k, v in i.items() if k not in (key, *drop)} for i in items}

    _compare_items(
        "inputs", index(a["inputs"], "name"), index(b["inputs"], "name"), "type", changes
    )
    params_a = {k: {"value": v["value"], "unit": v["unit"]} for k, v in a["parameters"].items()}
    params_b = {k: {"value": v["value"], "unit": v["unit"]} for k, v in b["parameters"].items()}
    _compare_items("parameters", params_a, params_b, "value", changes)
    _compare_items("tiers", index(a["tiers"], "id"), index(b["tiers"], "id"), "title", changes)
    # "condition" (the source text) is shown through condition_text, which has the
    # parameter values in it; compare the effective condition, not the spelling.
    _compare_items(
        "criteria",
        index(a["criteria"], "id", ("condition", "description")),
        index(b["criteria"], "id", ("condition", "description")),
        "condition_text",
        changes,
    )
    _compare_items(
        "benefits",
        index(a["benefits"], "id", ("requires", "saving", "description")),
        index(b["benefits"], "id", ("requires", "saving", "description")),
        "requires_text",
        changes,
    )
    return PolicyDiff(old, new, changes)
