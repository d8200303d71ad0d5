"""Strict validation of a filing against the inputs a policy version declares.

The engine compares whatever it is given, and silently wrongly (a string
against a number compares as text, ``true`` counts as 1, NaN never matches),
so nothing reaches it that has not passed through here.

Text (see ``text.py``): every string is put in NFC before any check, so a choice or
a length is judged on composed text, and the clean filing holds NFC text only. A
string input is one line of text, a name: lone surrogates, control characters
(tabs and line breaks included), bidirectional overrides and isolates, and text made
only of invisible characters are refused. Messages never echo such characters raw.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
from collections.abc import Callable
from operator import mul
from typing import Any

from . import text as _text
from .codegen import make_function, name_literal
from .model import InputSpec, Policy, bound_text

# [0-9], not \d (which takes "２０２６" too); \Z, not $ (which takes a trailing "\n")
DATE_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
SHOWN = 40  # how much of a rejected value an error message echoes


class FilingInvalid(ValueError):
    """A filing that must not be assessed; ``errors`` are {"field", "message"} dicts
    (``field`` None when the error is about the whole request body)."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))
        self.errors = errors


#: the check digit's weights over the first 11 digits (a second set when the first gives
#: 10), and what the bytes' offset of 48 adds to each weighted sum
_BIN_WEIGHTS = tuple(range(1, 12))
_BIN_WEIGHTS_2 = (3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2)
_BIN_OFFSET = 48 * sum(_BIN_WEIGHTS)
_BIN_OFFSET_2 = 48 * sum(_BIN_WEIGHTS_2)


#: What a BIN is, for help texts and the published schemas.
BIN_HELP = (
    "12 digits as in the state register: the year and month of registration (YYMM), "
    "4 or 5 (resident or non-resident legal entity), the entity's type and serial "
    "number, and a check digit (weights 1 to 11 over the first 11 digits, modulo 11; "
    "if that gives 10, weights 3 to 11, 1, 2; 10 again is no valid BIN). "
    "Example: 940140000385."
)


def validate_bin(value: str) -> str | None:
    """Return why ``value`` is not a valid Kazakh BIN, or None when it is.

    Source: the policy's validation of ``bin`` (12 digits, 5th digit 4 or 5, the check
    digit) and the register's structure of the number, whose 3rd and 4th digits are the
    month of registration (``BIN_HELP``)."""
    if not isinstance(value, str):
        return "must be text of 12 digits"
    if len(value) != 12 or not value.isascii() or not value.isdigit():
        return "must be exactly 12 digits"
    if not "01" <= value[2:4] <= "12":
        return "3rd and 4th digits must be the month of registration, 01 to 12"
    if value[4] not in "45":
        return "5th digit must be 4 (resident) or 5 (non-resident legal entity)"
    digits = value.encode()  # ASCII digits: each byte is 48 + the digit
    check = (sum(map(mul, _BIN_WEIGHTS, digits)) - _BIN_OFFSET) % 11
    if check == 10:
        check = (sum(map(mul, _BIN_WEIGHTS_2, digits)) - _BIN_OFFSET_2) % 11
        if check == 10:
            return "is not a valid BIN (no check digit exists for it)"
    if check != digits[11] - 48:
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
    """A refused value as a message quotes it: cut, and nothing unprintable shown raw."""
    return "'" + _text.shown(value, SHOWN) + "'"


def field_name(key: Any) -> str:
    """A field name a client sent, safe to put in an error (cut, escaped)."""
    if isinstance(key, str) and len(key) <= SHOWN and _text.shown(key) == key:
        return key
    return _short(str(key))


def _check_number(spec: InputSpec, value: Any) -> tuple[Any, str | None]:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None, f"must be a number, not {_describe(value)}"
    if isinstance(value, float) and not math.isfinite(value):
        return None, "must be a finite number"
    if spec.type == "integer" and isinstance(value, float):
        if not value.is_integer():
            return None, "must be a whole number"
        value = int(value)
    # The declared bounds, narrowed to where the engine compares exactly (model.py).
    lowest, highest = spec.lowest, spec.highest
    if lowest is not None and value < lowest:
        return None, f"must be at least {bound_text(lowest)}"
    if highest is not None and value > highest:
        return None, f"must be at most {bound_text(highest)}"
    return value, None


def _check_value(spec: InputSpec, value: Any) -> tuple[Any, str | None]:
    if isinstance(value, str):
        if _text.has_lone_surrogate(value):
            return None, _text.text_problem(value)
        value = _text.nfc(value)
    elif isinstance(value, list) and spec.type == "set":
        if any(isinstance(v, str) and _text.has_lone_surrogate(v) for v in value):
            return None, "may hold only valid Unicode text (an item holds a lone surrogate)"
        value = _text.nfc(value)
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
    text, problem = _text.clean_text(value)
    if problem is not None:
        return None, problem
    if spec.min_length is not None and len(text) < spec.min_length:
        return None, "must not be empty" if spec.min_length == 1 else (
            f"must be at least {spec.min_length} characters"
        )
    if spec.max_length is not None and len(text) > spec.max_length:
        return None, f"must be at most {spec.max_length} characters (got {len(text)})"
    return text, None


def _fast_validator(policy: Policy) -> Callable[[Any], dict[str, Any] | None]:
    """A validator for the common, valid filing, generated from the inputs (see codegen):
    it returns the clean filing, or None when anything is unusual (an error, a value to
    convert, text to trim), and then the general path below words the errors. Whatever it
    accepts, the general path accepts with the same clean result."""
    ns: dict[str, Any] = {"KNOWN": frozenset(policy.inputs_by_name), "_is_date": _is_date,
                          "_bin_ok": _bin_ok}  # fmt: skip
    body = ["if type(raw) is not dict or not raw.keys() <= KNOWN:", "    return None",
            "g = raw.get", "clean = {}"]  # fmt: skip
    for k, spec in enumerate(policy.inputs):
        name = name_literal(spec.name)
        t = spec.type
        if t in ("number", "integer"):
            ns[f"LO{k}"], ns[f"HI{k}"] = spec.lowest, spec.highest
            # NaN fails both comparisons and infinity a bound; bool is not int by type.
            kind = "type(v) is int" if t == "integer" else "(type(v) is float or type(v) is int)"
            test = f"{kind} and LO{k} <= v <= HI{k}"
        elif t == "bool":
            test = "(v is True or v is False)"
        elif t == "enum":
            ns[f"CH{k}"] = frozenset(spec.choices)
            test = f"type(v) is str and v in CH{k}"
        elif t == "date":  # the length first: only a date-sized text may enter the cache
            test = "type(v) is str and len(v) == 10 and _is_date(v)"
        elif t == "set":
            ns[f"SET{k}"] = _set_checker(spec)
            test = f"(v := SET{k}(v)) is not None"  # the canonical order, or None
        elif spec.format == "bin":
            test = "type(v) is str and len(v) == 12 and _bin_ok(v)"
        else:
            ns[f"TXT{k}"] = _text_checker(spec)
            test = f"type(v) is str and TXT{k}(v)"
        body.append(f"v = g({name})")
        if spec.required:
            body += ["if v is None:", "    return None", f"if not ({test}):", "    return None",
                     f"clean[{name}] = v"]  # fmt: skip
        else:
            body += ["if v is not None:", f"    if not ({test}):", "        return None",
                     f"    clean[{name}] = v"]  # fmt: skip
    body.append("return clean")
    return make_function("validate_common", "raw", body, ns)


def _set_checker(spec: InputSpec) -> Callable[[Any], list[str] | None]:
    order = {c: n for n, c in enumerate(spec.choices)}
    choices = frozenset(order)

    @functools.lru_cache(maxsize=1024)
    def canonical(items: tuple[Any, ...]) -> tuple[str, ...] | None:
        # Few distinct selections exist (subsets of a short list): remember each answer.
        if not all(type(c) is str and c in order for c in items):
            return None
        unique = tuple(sorted(set(items), key=order.__getitem__))
        return unique if len(unique) == len(items) else None

    def chosen(v: Any) -> list[str] | None:
        if type(v) is not list:
            return None
        try:
            if not choices.issuperset(v):  # so only lists of choices enter the cache
                return None
            found = canonical(tuple(v))
        except TypeError:  # an unhashable item: the general path words the error
            return None
        return None if found is None else list(found)

    return chosen


def _text_checker(spec: InputSpec) -> Callable[[str], bool]:
    """Text the general path keeps as it is: no edge spaces to trim, printable (so no
    control characters), and within the length bounds. Other than ASCII, the general
    path's own text rule decides (NFC already, nothing to refuse)."""
    shortest = max(spec.min_length or 0, 1)
    longest = spec.max_length if spec.max_length is not None else float("inf")

    def plain(v: str) -> bool:
        if not v.isascii():  # NFC, and free of invisible and bidirectional characters
            return _text.clean_text(v) == (v, None) and shortest <= len(v) <= longest
        return (
            shortest <= len(v) <= longest
            and v.isprintable()
            and not v[0].isspace()
            and not v[-1].isspace()
        )

    return plain


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
    return validate_bin(value) is None


def fast_validator(policy: Policy) -> Callable[[Any], dict[str, Any] | None]:
    """The policy's generated validator (the common case; None sends a filing to the
    general path), built on first use and kept on the policy."""
    fast = policy._validator
    if fast is None:
        fast = policy._validator = _fast_validator(policy)
    return fast  # type: ignore[no-any-return]


def validate_filing(policy: Policy, raw: Any) -> dict[str, Any]:
    """Return the clean filing (absent and null inputs dropped) or raise FilingInvalid."""
    if not isinstance(raw, dict):
        raise FilingInvalid([{"field": "filing", "message": "must be a JSON object"}])
    fast = policy._validator or fast_validator(policy)
    clean: dict[str, Any] | None = fast(raw)
    if clean is not None:
        return clean
    clean = {}
    errors: list[dict[str, str]] = []
    for spec in policy.inputs:
        value = raw.get(spec.name)
        if value is None:
            if spec.required:
                errors.append({"field": spec.name, "message": "is required"})
            continue
        checked, problem = _check_value(spec, value)
        if problem:
            errors.append({"field": spec.name, "message": problem})
            continue
        clean[spec.name] = checked
    specs = policy.inputs_by_name
    if not raw.keys() <= specs.keys():
        unknown = [
            {"field": field_name(key), "message": f"unknown field for policy {policy.version}"}
            for key in raw
            if key not in specs
        ]
        errors = unknown + errors
    if errors:
        raise FilingInvalid(errors)
    return clean
