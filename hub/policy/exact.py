"""Which written numbers the engine holds exactly (pure; no imports from the rest).

The engine compares numbers as doubles. A number written in a policy (a parameter, an
input's ``min``/``max``, a literal in a formula) means what its author wrote only if the
double it is read as is that very number: a whole number within ±(2^53 − 1), or a
decimal whose shortest double form (``repr``) gives back the same value. Anything else
would be decided on another number than the one written (``94.99999999999999999`` is
95.0, ``1e-400`` is 0.0, ``1e400`` is infinity, 10^30 + 1 is 10^30).
"""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation

#: The largest whole number a double holds with every smaller one (2^53 - 1).
MAX_EXACT_INTEGER = 2**53 - 1


def inexact(text: str, value: int | float) -> str | None:
    """Why the number written ``text`` (read as ``value``) is not held exactly, or None.

    ``text`` is the number as written (``_`` separators allowed, as in ``int()``);
    integers beyond ±``MAX_EXACT_INTEGER``, decimals that overflow to infinity, underflow
    to zero or lose digits are refused with the reason and what to write instead.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        if abs(value) <= MAX_EXACT_INTEGER:
            return None
        return (
            f"{text} is beyond ±{MAX_EXACT_INTEGER:,} (2^53 - 1), the largest whole number "
            "the engine compares exactly"
        )
    try:
        written = Decimal(text.replace("_", ""))
    except InvalidOperation:
        return None  # not a written number (e.g. .inf): the field's own check names it
    if not written.is_finite():
        return None
    if math.isinf(value):
        return f"{text} is too large for the engine (it would be read as infinity)"
    if value == 0 and written != 0:
        return f"{text} is too small for the engine (it would be read as 0)"
    if written != Decimal(repr(value)):
        return (
            f"{text} has more significant digits than the engine holds (it would be read "
            f"as {value!r}); write at most 15 significant digits"
        )
    return None
