"""The filing form, generated from the inputs a policy version declares.

Nothing here knows the hub's inputs by name: groups become fieldsets, each input
a control chosen by its type (number, integer, bool, enum, set, date, string),
with its label, unit, help text and bounds. A new input in a policy file appears
in the form without template changes.

Parsing turns the posted strings into a typed filing (empty means absent,
"95" becomes 95.0, "1,000,000" becomes 1000000.0), keeping what the person
typed so the form can be shown again with an error beside each field. Range and
choice checks are left to the core's ``validate_filing`` (one set of rules for
the form, the API and the CLI); this module only refuses what cannot be read.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hub.policy import Policy
from hub.policy.ahead import AheadInput
from hub.policy.jsondoc import round_trips
from hub.policy.model import InputSpec

NONE_OF_THESE = "__none__"  # the "none of these" box of a set: an answer, unlike no box
MAX_NUMBER_TEXT = 40

# [0-9], not \d: \d takes "٩٥" (Arabic-Indic) and "９５" (fullwidth), which float() and int()
# then read as 95; \Z, not $ (which takes a trailing newline).
_NUMBER = re.compile(r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]{1,4})?\Z")
_GROUPED = re.compile(r"^[+-]?[0-9]{1,3}(,[0-9]{3})+(\.[0-9]+)?\Z")
_INTEGER = re.compile(r"^[+-]?[0-9]+(\.0*)?\Z")
_SPACES = re.compile(r"[\s\u00a0\u202f_']")


@dataclass
class FieldView:
    """One input as the template renders it."""

    spec: InputSpec
    raw: Any  # a string, or a list of strings for a set
    error: str | None = None
    needed_for: tuple[str, ...] | None = None  # None: every activity needs it
    fixed: bool = False  # shown but not editable (the company's own BIN)
    ahead_of: Policy | None = None  # asked by this upcoming version, not the form's own

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def widget(self) -> str:
        return {"number": "number", "integer": "number"}.get(self.spec.type, self.spec.type)

    @property
    def step(self) -> str:
        return "1" if self.spec.type == "integer" else "any"

    @property
    def choices(self) -> list[tuple[str, str]]:
        return [(c, self.spec.choice_labels.get(c, c)) for c in self.spec.choices]

    @property
    def bounds_text(self) -> str:
        return self.spec.bounds_text

    @property
    def min_attr(self) -> str | None:
        """The control's ``min``: the lowest value the core accepts (None: no number)."""
        return None if self.spec.lowest is None else repr(self.spec.lowest)

    @property
    def max_attr(self) -> str | None:
        """The control's ``max``: the highest value the core accepts."""
        return None if self.spec.highest is None else repr(self.spec.highest)

    def not_needed_for(self, activity: str | None) -> bool:
        return bool(activity) and self.needed_for is not None and activity not in self.needed_for


@dataclass
class GroupView:
    id: str
    title: str
    fields: list[FieldView]
    saving: bool = False


@dataclass
class PolicyForm:
    """A policy's form with the values and errors of one submission."""

    policy: Policy
    fields: dict[str, FieldView]
    values: dict[str, Any] = field(default_factory=dict)
    fixed: dict[str, Any] = field(default_factory=dict)

    # --- building -------------------------------------------------------------------

    @classmethod
    def blank(cls, policy: Policy, *, fixed: Mapping[str, Any] | None = None) -> PolicyForm:
        return cls.from_inputs(policy, {}, fixed=fixed)

    @classmethod
    def from_inputs(
        cls,
        policy: Policy,
        inputs: Mapping[str, Any],
        *,
        fixed: Mapping[str, Any] | None = None,
        ahead: Mapping[str, AheadInput] | None = None,
    ) -> PolicyForm:
        """The form filled with a stored filing's inputs (a draft being edited); ``ahead``
        adds the inputs upcoming versions ask (``hub.policy.ahead``), in their own groups."""
        fixed = dict(fixed or {})
        needed = needed_for(policy)
        fields: dict[str, FieldView] = {}
        values: dict[str, Any] = {}
        for spec, later in _specs(policy, ahead):
            value = fixed.get(spec.name, inputs.get(spec.name))
            if value is not None:
                values[spec.name] = value
            fields[spec.name] = FieldView(
                spec,
                _to_text(spec, value),
                needed_for=needed.get(spec.name),
                fixed=spec.name in fixed,
                ahead_of=later,
            )
        return cls(policy, fields, values, fixed)

    @classmethod
    def from_post(
        cls,
        policy: Policy,
        form: Any,
        *,
        fixed: Mapping[str, Any] | None = None,
        ahead: Mapping[str, AheadInput] | None = None,
    ) -> PolicyForm:
        """Parse a posted form (a werkzeug MultiDict): typed values plus unreadable ones.

        Only the policy's inputs (and ``ahead``'s, as for ``from_inputs``) are read; other
        form fields (the CSRF token, buttons) are not filing inputs. ``fixed`` values
        replace whatever was posted for them.
        """
        fixed = dict(fixed or {})
        needed = needed_for(policy)
        fields: dict[str, FieldView] = {}
        values: dict[str, Any] = {}
        for spec, later in _specs(policy, ahead):
            if spec.name in fixed:
                raw: Any = _to_text(spec, fixed[spec.name])
                value, error = fixed[spec.name], None
            elif spec.type == "set":
                raw = [v for v in form.getlist(spec.name) if isinstance(v, str)]
                value, error = _parse_set(raw)
            else:
                raw = form.get(spec.name, "")
                if not isinstance(raw, str):
                    raw = ""
                value, error = parse_value(spec, raw)
            if value is not None:
                values[spec.name] = value
            fields[spec.name] = FieldView(
                spec,
                raw,
                error,
                needed_for=needed.get(spec.name),
                fixed=spec.name in fixed,
                ahead_of=later,
            )
        return cls(policy, fields, values, fixed)

    # --- errors ---------------------------------------------------------------------

    @property
    def parse_errors(self) -> list[dict[str, str]]:
        return [{"field": f.name, "message": f.error} for f in self.fields.values() if f.error]

    @property
    def errors(self) -> list[dict[str, str]]:
        return self.parse_errors

    @property
    def has_errors(self) -> bool:
        return any(f.error for f in self.fields.values())

    def add_errors(self, errors: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Attach the core's field errors; returns those that name no field of the form.

        A field that could not be read keeps its own message, and the core's
        "is required" for it (it was left out of the values) is dropped.
        """
        others = []
        for error in errors:
            name = error.get("field")
            target = self.fields.get(name) if isinstance(name, str) else None
            if target is None:
                others.append(dict(error))
            elif target.error is None:
                target.error = _sentence(str(error.get("message", "")))
        return others

    # --- rendering ------------------------------------------------------------------

    @property
    def activity(self) -> str | None:
        value = self.values.get(self.policy.applicability_input)
        return value if isinstance(value, str) and value in self.policy.activities else None

    @property
    def activity_labels(self) -> dict[str, str]:
        spec = self.policy.inputs_by_name[self.policy.applicability_input]
        return {c: spec.choice_labels.get(c, c) for c in spec.choices}

    def groups(self) -> list[GroupView]:
        """Fieldsets in the policy's group order; inputs of no known group come last."""
        titles = {g.id: g.title for g in self.policy.groups}
        grouped: dict[str, list[FieldView]] = {g.id: [] for g in self.policy.groups}
        for f in self.fields.values():
            if f.ahead_of is not None:
                gid = f"ahead-{f.ahead_of.version}"
                titles[gid] = (
                    f"Asked from version {f.ahead_of.version}, in force from "
                    f"{f.ahead_of.effective_from.isoformat()}: answer now to keep your "
                    "tier on that day"
                )
            else:
                gid = f.spec.group if f.spec.group in titles else ""
            grouped.setdefault(gid, []).append(f)
        out = []
        for gid, fields in grouped.items():
            if fields:
                saving = all(f.spec.saving for f in fields)
                out.append(GroupView(gid, titles.get(gid, "Other information"), fields, saving))
        # Saving inputs never affect eligibility: their group goes last.
        return sorted(out, key=lambda g: g.saving)


def _specs(
    policy: Policy, ahead: Mapping[str, AheadInput] | None
) -> Iterable[tuple[InputSpec, Policy | None]]:
    """The form's inputs: the policy's own, then those upcoming versions ask."""
    for spec in policy.inputs:
        yield spec, None
    for found in (ahead or {}).values():
        yield found.spec, found.version


def needed_for(policy: Policy) -> dict[str, tuple[str, ...] | None]:
    """For each input, the activities whose criteria read it (None: needed by every one).

    Inputs no criterion reads (identity, the activity itself, saving figures) are
    needed by every activity; so are inputs some criterion for every activity reads.
    """
    activities = set(policy.activities)
    found: dict[str, set[str]] = {}
    for criterion in policy.criteria:
        for name in criterion.inputs:
            found.setdefault(name, set()).update(criterion.applies_to)
    out: dict[str, tuple[str, ...] | None] = {}
    for spec in policy.inputs:
        acts = found.get(spec.name)
        if spec.required or acts is None or activities <= acts:
            out[spec.name] = None
        else:
            out[spec.name] = tuple(a for a in policy.activities if a in acts)
    return out


# --- parsing one value --------------------------------------------------------------------


def parse_value(spec: InputSpec, raw: str) -> tuple[Any, str | None]:
    """A posted string as the typed value the core expects; ``(None, None)`` when empty."""
    text = raw.strip()
    if text == "":
        return None, None
    t = spec.type
    if t in ("number", "integer"):
        return _parse_number(text, integer=t == "integer")
    if t == "bool":
        if text in ("yes", "true"):
            return True, None
        if text in ("no", "false"):
            return False, None
        return None, "Choose yes, no or not answered."
    if t == "set":
        return _parse_set([text])
    # enum, date and string values are checked by the core (choices, format, length).
    return (raw if t == "string" else text), None


def _parse_number(text: str, *, integer: bool) -> tuple[Any, str | None]:
    kind = "a whole number, such as 12" if integer else "a number, such as 95 or 97.5"
    if len(text) > MAX_NUMBER_TEXT:
        return None, f"Enter {kind}; this is too long to be one."
    compact = _SPACES.sub("", text)
    if _GROUPED.match(compact):
        compact = compact.replace(",", "")
    if not _NUMBER.match(compact):
        hint = " Use a point for decimals." if re.fullmatch(r"[+-]?[0-9]+,[0-9]+", compact) else ""
        return None, f"Enter {kind}.{hint}"
    value = float(compact)
    if not math.isfinite(value):
        return None, "This number is too large."
    if integer:
        if not _INTEGER.match(compact) or not value.is_integer():
            return None, "Enter a whole number (no decimals)."
        # The digits as typed (float would round 799999999999999999 up to 8 * 10^17);
        # the core refuses what is beyond its bound, naming the bound.
        return int(compact.split(".")[0]), None
    if not round_trips(compact, value):
        return None, (
            f"This number has more significant digits than can be compared exactly "
            f"(it would be read as {value!r}); write at most 15 significant digits."
        )
    return value, None


def _parse_set(raw: list[str]) -> tuple[Any, str | None]:
    chosen = [v for v in raw if v]
    if not chosen:
        return None, None
    if NONE_OF_THESE in chosen:
        if len(chosen) > 1:
            return None, "Tick 'none of these' or some of the options, not both."
        return [], None
    # Duplicates and unknown choices are left to the core's message.
    return chosen, None


def _to_text(spec: InputSpec, value: Any) -> Any:
    """A stored value as the control shows it."""
    if value is None:
        return [] if spec.type == "set" else ""
    if spec.type == "set":
        if isinstance(value, list):
            return [str(v) for v in value] or [NONE_OF_THESE]
        return []
    if spec.type == "bool":
        return "yes" if value is True else "no" if value is False else ""
    if spec.type in ("number", "integer") and isinstance(value, int | float):
        if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value) if isinstance(value, float) else str(value)
    return str(value)


def _sentence(message: str) -> str:
    """The core's messages ("must be at most 100") as sentences beside a field."""
    if message == "is required":
        return "This is required."
    if not message:
        return message
    text = message[0].upper() + message[1:]
    return text if text.endswith((".", "?", "!")) else text + "."
