"""Strict validation of a filing against the inputs a policy version declares.

The engine compares whatever it is given, and silently wrongly (a string
against a number compares as text, ``true`` counts as 1, NaN never matches),
so nothing reaches it that has not passed through here.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
from typing import Any

from .model import InputSpec, Policy

DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
MAX_ABS_NUMBER = 1e18  # larger figures are typos, and lose precision in the engine
SHOWN = 40  # how much of a rejected value an error message echoes


class FilingInvalid(ValueError):
    """A filing that must not be assessed; ``errors`` are {"field", "message"} dicts."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))
        self.errors = errors


def validate_bin(value: str) -> str | None:
    """Return why ``value`` is not a valid Kazakh BIN, or None when it is."""
    if not isinstance(value, str):
        return "must be text of 12 digits"
    if len(value) != 12 or not value.isascii() or not value.isdigit():
        return "must be exactly 12 digits"
    if value[4] not in "45":
        return "5th digit must be 4 (resident) or 5 (non-resident legal entity)"
    digits = [int(c) for c in value]
    check = sum(w * d for w, d in zip(range(1, 12), digits, strict=False)) % 11
    if check == 10:
        weights = (3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2)
        check = sum(w * d for w, d in zip(weights, digits, strict=False)) % 11
        if check == 10:
            return "is not a valid BIN (no check digit exists for it)"
    if check != digits[11]:
        return "has a wrong check digit"
    return None


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, str):
        return "text"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _short(value: str) -> str:
    return repr(value if len(value) <= SHOWN else value[:SHOWN] + "…")


def _check_number(spec: InputSpec, value: Any) -> tuple[Any, str | None]:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None, f"must be a number, not {_describe(value)}"
    if isinstance(value, float) and not math.isfinite(value):
        return None, "must be a finite number"
    if spec.type == "integer" and isinstance(value, float):
        if not value.is_integer():
            return None, "must be a whole number"
        value = int(value)
    if spec.min is not None and value < spec.min:
        return None, f"must be at least {spec.min:g}"
    if spec.max is not None and value > spec.max:
        return None, f"must be at most {spec.max:g}"
    if abs(value) > MAX_ABS_NUMBER:
        return None, "is implausibly large (more than 10^18)"
    return value, None


def _check_value(spec: InputSpec, value: Any) -> tuple[Any, str | None]:
    t = spec.type
    if t in ("number", "integer"):
        return _check_number(spec, value)
    if t == "bool":
        if not isinstance(value, bool):
            return None, f"must be true or false, not {_describe(value)}"
        return value, None
    if t == "date":
        if not isinstance(value, str) or not DATE_RE.match(value):
            return None, "must be a date written YYYY-MM-DD"
        try:
            dt.date.fromisoformat(value)
        except ValueError:
            return None, f"is not a real date: {_short(value)}"
        return value, None
    if t == "enum":
        if not isinstance(value, str):
            return None, f"must be one of {', '.join(spec.choices)}, not {_describe(value)}"
        if value not in spec.choices:
            return None, f"must be one of {', '.join(spec.choices)}; got {_short(value)}"
        return value, None
    if t == "set":
        if not isinstance(value, list):
            return None, f"must be a list of {', '.join(spec.choices)}"
        seen: list[str] = []
        for item in value:
            if not isinstance(item, str) or item not in spec.choices:
                shown = _short(item) if isinstance(item, str) else _describe(item)
                return None, f"may hold only {', '.join(spec.choices)}; got {shown}"
            if item in seen:
                return None, f"lists {item} twice"
            seen.append(item)
        return [c for c in spec.choices if c in seen], None
    # string
    if not isinstance(value, str):
        return None, f"must be text, not {_describe(value)}"
    if spec.format == "bin":
        problem = validate_bin(value)
        return (value, None) if problem is None else (None, problem)
    text = value.strip()
    if CONTROL_RE.search(text):
        return None, "must not contain control characters"
    if spec.min_length is not None and len(text) < spec.min_length:
        return None, "must not be empty" if spec.min_length == 1 else (
            f"must be at least {spec.min_length} characters"
        )
    if spec.max_length is not None and len(text) > spec.max_length:
        return None, f"must be at most {spec.max_length} characters (got {len(text)})"
    return text, None


_SLOW = object()


def _fast_checker(spec: InputSpec) -> Any:
    """A check for the common, valid case; anything unusual takes the slow path, which
    knows how to word the error (validation runs on every assessment, so it must be cheap)."""
    t = spec.type
    if t in ("number", "integer"):
        lo = -MAX_ABS_NUMBER if spec.min is None else max(spec.min, -MAX_ABS_NUMBER)
        hi = MAX_ABS_NUMBER if spec.max is None else min(spec.max, MAX_ABS_NUMBER)
        accepted = (int,) if t == "integer" else (int, float)

        def number(v: Any) -> Any:
            # NaN fails both comparisons, infinity the bound: both go the slow way.
            return v if type(v) in accepted and lo <= v <= hi else _SLOW

        return number
    if t == "bool":
        return lambda v: v if v is True or v is False else _SLOW
    if t == "enum":
        choices = frozenset(spec.choices)
        return lambda v: v if type(v) is str and v in choices else _SLOW
    if t == "set":
        order = {c: n for n, c in enumerate(spec.choices)}

        def chosen(v: Any) -> Any:
            if type(v) is not list or not all(type(c) is str and c in order for c in v):
                return _SLOW
            unique = sorted(set(v), key=order.__getitem__)
            return unique if len(unique) == len(v) else _SLOW

        return chosen
    if t == "date":
        return lambda v: v if type(v) is str and _is_date(v) else _SLOW
    if t == "string" and spec.format == "bin":
        return lambda v: v if type(v) is str and _bin_ok(v) else _SLOW
    return lambda v: _SLOW


@functools.lru_cache(maxsize=4096)
def _is_date(value: str) -> bool:
    """Dates repeat (expiry dates, the assessment date): remember the answer."""
    if not DATE_RE.match(value):
        return False
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


@functools.lru_cache(maxsize=4096)
def _bin_ok(value: str) -> bool:
    """A company files many times under one BIN: remember the answer."""
    return len(value) == 12 and validate_bin(value) is None


def validate_filing(policy: Policy, raw: Any) -> dict[str, Any]:
    """Return the clean filing (absent and null inputs dropped) or raise FilingInvalid."""
    if not isinstance(raw, dict):
        raise FilingInvalid([{"field": "filing", "message": "must be a JSON object"}])
    checks = policy._validator
    if checks is None:
        checks = policy._validator = [
            (i.name, i.required, _fast_checker(i), i) for i in policy.inputs
        ]
    clean: dict[str, Any] = {}
    errors: list[dict[str, str]] = []
    for name, required, fast, spec in checks:
        value = raw.get(name)
        if value is None:
            if required:
                errors.append({"field": name, "message": "is required"})
            continue
        checked = fast(value)
        if checked is _SLOW:
            checked, problem = _check_value(spec, value)
            if problem:
                errors.append({"field": name, "message": problem})
                continue
        clean[name] = checked
    specs = policy.inputs_by_name
    if not raw.keys() <= specs.keys():
        unknown = [
            {
                "field": key if isinstance(key, str) and len(key) <= SHOWN else _short(str(key)),
                "message": f"unknown field for policy {policy.version}",
            }
            for key in raw
            if key not in specs
        ]
        errors = unknown + errors
    if errors:
        raise FilingInvalid(errors)
    return clean
