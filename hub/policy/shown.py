"""Numbers shown to people: without float noise, and beside a threshold never so that
they land on or across it.

``format_value`` shows any value (numbers to 6 decimals with thousands separators,
lists comma-joined); ``format_number`` shows a number exactly as written (thresholds
and policy literals); ``shown_value``, ``shown_pair``, ``shown_together`` and
``gap_text`` add decimals only where rounding would change how a comparison reads.
Pure: no parsing, no engine; the expression printer (``expr.to_text``) uses it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from decimal import ROUND_HALF_EVEN, Context, Decimal
from typing import Any

_WIDE = Context(prec=1000, Emax=999_999, Emin=-999_999)  # exact roundings of any double


def format_value(value: Any) -> str:
    """Numbers without float noise and with thousands separators; lists comma-joined."""
    t = type(value)
    if t is str:
        return str(value)
    if t is int:
        return f"{value:,}"
    if t is float:
        if value.is_integer() and abs(value) < 1e15:
            return f"{int(value):,}"
        text = f"{value:,.6f}".rstrip("0").rstrip(".")
        return text if text not in ("0", "-0") else repr(value)
    if t is bool:
        return "true" if value else "false"
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(format_value(v) for v in value)
    return str(value)


#: below this magnitude a double's shortest repr with at most 6 decimals is its value
#: rounded to 6 decimals (the spacing of doubles under 2^33 is finer than 1e-6)
_FAST_LIMIT = 2.0**33


#: JSON of a float that ``format_value`` shows as it is: under 1,000 in magnitude, 1 to
#: 6 decimals, the last not 0 (no exponent, no thousands separator, nothing to strip).
#: A match means ``format_number_json(value, json) == json``: the writer's fast test,
#: one C call (tests hold it to format_value)
plain_number_json = re.compile(rb"-?[0-9]{1,3}\.[0-9]{0,5}[1-9]").fullmatch


def format_number_json(value: Any, json: bytes) -> bytes | None:
    """``format_value(value)`` as UTF-8 bytes, read off ``json`` (``orjson.dumps(value)``,
    which the caller writes anyway), for an int or a float; None when the float needs
    the long road: more than 6 decimals (it may have to be shown against a threshold,
    see ``shown_value``), exponent form, or a magnitude of 2^33 or more.

    Measured: a fifth of ``format_value``'s cost (which formats with ``,.6f`` and checks
    ``round(value, 6)``). A result that is not None also means ``value == round(value,
    6)``. Tests hold both against ``format_value`` on any number (Hypothesis)."""
    t = type(value)
    if t is int:
        return json if -1000 < value < 1000 else f"{value:,}".encode()
    if t is not float or not -_FAST_LIMIT < value < _FAST_LIMIT:
        return None
    whole, dot, decimals = json.partition(b".")
    if not dot or len(decimals) > 6 or b"e" in decimals:
        return None
    if decimals == b"0":  # a whole number
        if -1000.0 < value < 1000.0:
            return whole if value else b"0"  # -0.0 is shown as 0
        return f"{int(whole):,}".encode()
    if -1000.0 < value < 1000.0:
        return json
    return f"{int(whole):,}".encode() + b"." + decimals


# --- numbers shown beside a threshold ----------------------------------------------
#
# A value is shown rounded to 6 decimals (format_value), but never so that it lands on
# or across a threshold it is compared with: 94.9999999 against 95 is shown as
# "94.9999999", not "95". Thresholds written in a policy are shown exactly; computed
# ones (0.8 × fte_declared) as format_value rounds them, unless the rounding decides.

SHOWN_DECIMALS = 6  # format_value's


def _exact(value: int | float) -> Decimal:
    """The decimal of a number's shortest repr (what was written, for a float)."""
    return Decimal(value) if type(value) is int else Decimal(repr(value))


def _is_number(value: Any) -> bool:
    t = type(value)
    return (t is int or t is float) and (t is int or math.isfinite(value))


def _decimal_text(d: Decimal) -> str:
    """A decimal with thousands separators, without trailing zeros or exponent form."""
    if d == d.to_integral_value():
        return f"{int(d):,}"
    return f"{d.normalize():,f}"


def format_number(value: Any) -> str:
    """A number exactly as written, for thresholds and policy literals (``95.00000001``,
    ``0.0000001``, ``10,000,000,000,000,000``: the shortest repr's decimals, thousands
    separators, no exponent); anything else as ``format_value``."""
    if not _is_number(value) or type(value) is bool:
        return format_value(value)
    return _decimal_text(_exact(value))


def _side(a: Decimal, b: Decimal) -> int:
    return (a > b) - (a < b)


def _rounded(d: Decimal, places: int) -> Decimal:
    return d.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN, context=_WIDE)


def _places_text(value: Any, shown: Decimal, places: int) -> str:
    """A number rounded to ``places`` decimals (``shown``), written out in full."""
    return _decimal_text(shown)


def shown_value(value: Any, bounds: Iterable[Any] = ()) -> str:
    """``value`` rounded to 6 decimals as ``format_value`` shows it, with as many more
    decimals as it takes to stay on its own side of every bound (a threshold it is
    compared with, shown exactly by ``format_number``): never onto nor across one.
    94.9999999 against 95 is "94.9999999"; against 90 it is "95"."""
    if not _is_number(value) or type(value) is bool:
        return format_value(value)
    limits = [_exact(b) for b in bounds if _is_number(b) and type(b) is not bool]
    if not limits:
        return format_value(value)
    exact = _exact(value)
    sides = [_side(exact, b) for b in limits]
    places = SHOWN_DECIMALS
    while True:
        shown = _rounded(exact, places)
        if shown == exact or all(_side(shown, b) == s for b, s in zip(limits, sides, strict=True)):
            return _places_text(value, shown, places)
        places += 1


def shown_together(
    values: dict[str, Any], pairs: Iterable[tuple[str, Any]], others: Iterable[tuple[str, str]]
) -> dict[str, str]:
    """Texts for several values shown side by side: ``pairs`` (name, bound) compare a value
    with a bound shown exactly, ``others`` (name, name) two values with each other. The
    fewest decimals (6 or more) at which every comparison reads as it is: values that
    need no care are shown as ``format_value`` shows them."""
    exact = {n: _exact(v) for n, v in values.items() if _is_number(v) and type(v) is not bool}
    # (value name, what it is compared with): a bound (Decimal) or another value's name.
    checks: list[tuple[str, Decimal | str]] = [
        (n, _exact(b)) for n, b in pairs if n in exact and _is_number(b)
    ]
    checks += [(a, b) for a, b in others if a in exact and b in exact]
    involved = {n for n, _ in checks} | {o for _, o in checks if isinstance(o, str)}
    truth = [_side(exact[a], exact[o] if isinstance(o, str) else o) for a, o in checks]
    places = SHOWN_DECIMALS
    while True:
        shown = {n: _rounded(exact[n], places) for n in involved}
        if all(
            _side(shown[a], shown[o] if isinstance(o, str) else o) == t
            for (a, o), t in zip(checks, truth, strict=True)
        ):
            break
        places += 1
    return {
        n: _decimal_text(shown[n]) if n in involved else format_value(v) for n, v in values.items()
    }


def shown_pair(value: Any, bound: Any, exact_bound: bool = True) -> tuple[str, str]:
    """(value text, bound text) that differ whenever the numbers do, in the same order.

    The value as ``shown_value`` against the bound; the bound exactly (``format_number``),
    or for a computed bound (``exact_bound`` false) as ``format_value`` rounds it, with
    more decimals only where its float noise decides: 2 against 0.8 × 3 is ("2", "2.4"),
    but 2.4 against it is ("2.4", "2.4000000000000004")."""
    bound_text = format_number(bound) if exact_bound else format_value(bound)
    if not (_is_number(value) and _is_number(bound)) or bool in (type(value), type(bound)):
        return shown_value(value), bound_text
    if "e" in bound_text:  # format_value's exponent form of a tiny number: written out
        bound_text = format_number(bound)
    exact, limit = _exact(value), _exact(bound)
    side = _side(exact, limit)
    written = Decimal(bound_text.replace(",", ""))
    at = written  # the bound as its text says
    places = SHOWN_DECIMALS
    while True:
        shown = _rounded(exact, places)
        if _side(shown, at) == side:
            break
        places += 1
        if at != limit:
            at = _rounded(limit, places)
    if at != written:
        bound_text = _places_text(bound, at, places)
    return _places_text(value, shown, places), bound_text


def gap_text(value: Any, bound: Any) -> str:
    """``|bound - value|`` exactly (the decimals as written), rounded to 6 decimals unless
    that would show a gap as 0: 95 - 94.9999999 is "0.0000001"."""
    gap = abs(_exact(bound) - _exact(value))
    places = SHOWN_DECIMALS
    while gap and not _rounded(gap, places):
        places += 1
    return _decimal_text(_rounded(gap, places))
