"""Money: savings computed in decimal and rounded as the policy says (half up to the tiyn).

A binary float cannot hold most amounts in tiyn: 0.015 × 1,235,501 KZT is 18,532.515
exactly, but 18,532.514999... as a double, which ``round(x, 2)`` takes to 18,532.51.
Here every number of a saving formula is read as the decimal it was written as (a
policy literal or parameter, a filed amount: the shortest text that gives back the
same double, i.e. ``repr``), the arithmetic is exact (integers, or fractions where a
formula divides), and the result is rounded once, with the policy's rule
(``rounding: {unit: 0.01, mode: half_up}`` by default) to a whole number of units
(tiyn). A total is the sum of the rounded savings, never a rounding of unrounded ones.

Savings leave the core as floats (the API's numbers): the float nearest to an amount
with at most 15 significant digits (any saving under 10^13 KZT, to the tiyn) prints
back as exactly that amount, so the JSON reads ``18532.52``.
"""

from __future__ import annotations

import decimal
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any, Literal

from . import expr
from .evaluate import ARITH, Missing
from .expr import Node

#: enough digits for exact sums and differences of any amounts a filing may hold
CONTEXT = decimal.Context(prec=80, rounding=decimal.ROUND_HALF_EVEN, Emax=999, Emin=-999)

#: rounding modes a policy may name, in words; "half_up" rounds halves away from zero, as
#: tax offices do (0.005 -> 0.01, -0.005 -> -0.01)
RoundingMode = Literal["half_up", "half_even", "half_down", "up", "down"]
MODE_WORDS: dict[RoundingMode, str] = {
    "half_up": "half up (halves away from zero)",
    "half_even": "half to even (halves to the even neighbour)",
    "half_down": "half down (halves towards zero)",
    "up": "up (away from zero)",
    "down": "down (towards zero)",
}
MODES: tuple[RoundingMode, ...] = tuple(MODE_WORDS)

_D = Decimal
ZERO = Decimal(0)


def to_decimal(value: Any) -> Decimal:
    """The decimal a number was written as: ints exactly, floats by their shortest repr
    (``0.015`` is 0.015, not the double's 0.01499999999999999944...).

    Raises TypeError for anything else (bool included): a saving formula reads numbers only.
    """
    t = type(value)
    if t is int:
        return _D(value)
    if t is float:
        return _D(repr(value))
    if t is Decimal:
        exact: Decimal = value
        return exact
    raise TypeError(f"not a number: {value!r}")


def to_ratio(value: Any) -> tuple[int, int]:
    """``to_decimal(value)`` as an exact fraction (numerator, positive denominator), fast:
    1,235,501.37 -> (123550137, 100). Raises TypeError for what is not a number and
    ValueError for a float that is not finite."""
    t = type(value)
    if t is int:
        return value, 1
    if t is float:
        if -1e13 < value < 1e13:  # an amount in tiyn (the usual case), without repr: the
            cents = round(value * 100)  # doubles 0.01 apart are distinct below 10^13, so
            if cents / 100 == value:  # the one with <= 2 decimals is the shortest repr's
                return cents, 100
        text = repr(value)
        dot = text.find(".")
        if dot < 0 or "e" in text:  # exponent form (1e-05, 1e+16), or inf / nan
            return Decimal(text).as_integer_ratio()
        return int(text[:dot] + text[dot + 1 :]), 10 ** (len(text) - dot - 1)
    if t is Decimal:
        ratio: tuple[int, int] = value.as_integer_ratio()
        return ratio
    raise TypeError(f"not a number: {value!r}")


def _half_up(n: int, d: int) -> int:
    q, r = divmod(-n if n < 0 else n, d)
    if r + r >= d:
        q += 1
    return -q if n < 0 else q


def _half_even(n: int, d: int) -> int:
    q, r = divmod(-n if n < 0 else n, d)
    if r + r > d or (r + r == d and q & 1):
        q += 1
    return -q if n < 0 else q


def _half_down(n: int, d: int) -> int:
    q, r = divmod(-n if n < 0 else n, d)
    if r + r > d:
        q += 1
    return -q if n < 0 else q


def _up(n: int, d: int) -> int:
    q, r = divmod(-n if n < 0 else n, d)
    if r:
        q += 1
    return -q if n < 0 else q


def _down(n: int, d: int) -> int:
    q = (-n if n < 0 else n) // d
    return -q if n < 0 else q


#: mode -> rounding of a fraction n/d (d > 0) to an integer
ROUNDERS: dict[str, Callable[[int, int], int]] = {
    "half_up": _half_up,
    "half_even": _half_even,
    "half_down": _half_down,
    "up": _up,
    "down": _down,
}


@dataclass(frozen=True)
class Rounding:
    """How a policy rounds money: to a multiple of ``unit`` (KZT) with ``mode``.

    ``unit`` is a positive decimal (0.01 is the tiyn, 1 the whole tenge); ``mode`` one
    of ``MODES``. The default is the tax office's: half up to the tiyn. A rounded amount
    is held as a whole number of units ("steps": tiyn by default), so sums are exact."""

    unit: Decimal = Decimal("0.01")
    mode: RoundingMode = "half_up"
    _ratio: tuple[int, int] = field(init=False, repr=False, compare=False, default=(1, 100))

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"unknown rounding mode {self.mode!r}")
        if not self.unit.is_finite() or self.unit <= 0:
            raise ValueError("the rounding unit must be a positive number")
        object.__setattr__(self, "_ratio", self.unit.as_integer_ratio())

    def steps(self, numerator: int, denominator: int) -> int:
        """The exact amount numerator/denominator KZT, rounded: a whole number of units."""
        un, ud = self._ratio
        return ROUNDERS[self.mode](numerator * ud, denominator * un)

    def amount(self, steps: int) -> float:
        """A rounded amount in KZT from its number of units: the float nearest to the exact
        amount (int division is correctly rounded), which prints as that amount."""
        un, ud = self._ratio
        return steps * un / ud

    def to_dict(self) -> dict[str, Any]:
        """``{"unit": 0.01, "mode": "half_up", "text": "rounded to 0.01 KZT, ..."}``."""
        whole = self.unit == self.unit.to_integral_value()
        unit = int(self.unit) if whole else float(self.unit)
        return {"unit": unit, "mode": self.mode, "text": self.describe()}

    def describe(self) -> str:
        """In words: "rounded to 0.01 KZT, half up (halves away from zero)"."""
        return f"rounded to {format_money(self.unit)} KZT, {MODE_WORDS[self.mode]}"


DEFAULT_ROUNDING = Rounding()

#: a compiled saving: validated filing -> the rounded saving as a number of rounding units
#: (``Rounding.amount`` makes it KZT); raises ``Missing`` when it cannot be estimated
Saving = Callable[[dict[str, Any]], int]


def saving_function(formula: Node, params: dict[str, Any], rounding: Rounding) -> Saving:
    """A benefit's saving, computed exactly from the numbers as written and rounded once.

    Parameters and literals are exact fractions of the decimals they were written as, what
    is constant is folded first (``10 - 0.1`` is 9.9, never 9.9000000000000004), and the
    closure reads only the filing. ``rate * amount`` (the shape of most savings) is integer
    arithmetic; other formulas use ``Fraction`` (exact, division included). Raises
    ``Missing`` when an input the formula reads is absent, or on a division by zero."""
    numbers = {k: Fraction(*to_ratio(v)) for k, v in params.items() if type(v) in (int, float)}
    built = _build(formula, numbers)
    un, ud = rounding.unit.as_integer_ratio()
    rnd = ROUNDERS[rounding.mode]
    scaled = _scaled(formula, built, numbers)
    if scaled is not None:  # constant × input: one multiplication and one division
        name, rate = scaled
        top, bottom = rate.numerator * ud, rate.denominator * un

        def rate_times(env: dict[str, Any]) -> int:
            v = env.get(name)
            if v is None:
                raise Missing(name)
            if type(v) is int:
                return rnd(v * top, bottom)
            n, d = to_ratio(v)
            return rnd(n * top, d * bottom)

        return rate_times
    compute = _value(built)

    def general(env: dict[str, Any]) -> int:
        exact = compute(env)
        return rnd(exact.numerator * ud, exact.denominator * un)

    return general


Built = Fraction | Callable[[dict[str, Any]], Fraction]


def _value(built: Built) -> Callable[[dict[str, Any]], Fraction]:
    if isinstance(built, Fraction):
        return lambda env: built
    return built


def _scaled(
    formula: Node, built: Built, params: dict[str, Fraction]
) -> tuple[str, Fraction] | None:
    """(input, constant) when the formula is a constant times one input, either way round."""
    if not isinstance(formula, expr.Arith) or formula.op != "*" or isinstance(built, Fraction):
        return None
    left, right = _build(formula.left, params), _build(formula.right, params)
    if isinstance(left, Fraction) and isinstance(formula.right, expr.Name):
        return formula.right.id, left
    if isinstance(right, Fraction) and isinstance(formula.left, expr.Name):
        return formula.left.id, right
    return None


def _read(name: str) -> Callable[[dict[str, Any]], Fraction]:
    def read(env: dict[str, Any]) -> Fraction:
        v = env.get(name)
        if v is None:
            raise Missing(name)
        return Fraction(*to_ratio(v))

    return read


#: exact arithmetic over fractions: the evaluator's operations (a division by zero is
#: an unknown figure there and here)
_ARITH: dict[str, Callable[[Fraction, Fraction], Fraction]] = ARITH


def _build(node: Node, params: dict[str, Fraction]) -> Built:
    """A number expression as a constant (all its names are parameters) or a closure over
    the filing; like ``evaluate.to_callable``, but exact (fractions)."""
    if isinstance(node, expr.Lit):
        return Fraction(*to_ratio(node.value))
    if isinstance(node, expr.Name):
        if node.id in params:
            return params[node.id]
        return _read(node.id)
    if isinstance(node, expr.Neg):
        inner = _build(node.operand, params)
        if isinstance(inner, Fraction):
            return -inner
        return lambda env: -inner(env)
    if isinstance(node, expr.Arith):
        op = _ARITH[node.op]
        left, right = _build(node.left, params), _build(node.right, params)
        if isinstance(left, Fraction) and isinstance(right, Fraction):
            try:
                return op(left, right)
            except Missing:
                pass  # a constant division by zero: unknown for every filing
        lf, rf = _value(left), _value(right)
        return lambda env: op(lf(env), rf(env))
    if isinstance(node, expr.Call) and node.func in ("min", "max"):
        fn = min if node.func == "min" else max
        args = [_build(a, params) for a in node.args]
        constants = [a for a in args if isinstance(a, Fraction)]
        if len(constants) == len(args):
            return fn(constants)
        fns = [_value(a) for a in args]
        return lambda env: fn(f(env) for f in fns)
    raise TypeError(f"not a number expression: {expr.to_text(node)}")


def total(amounts: Iterable[Any]) -> float:
    """The exact sum of rounded amounts (floats or decimals; None skipped), as a float."""
    out = ZERO
    for a in amounts:
        if a is not None:
            out = CONTEXT.add(out, to_decimal(a))
    return float(out)


def difference(after: Any, before: Any) -> float:
    """``after - before`` of two rounded amounts, exactly, as a float."""
    return float(CONTEXT.subtract(to_decimal(after), to_decimal(before)))


def plain_text(value: Any) -> str:
    """An amount for a file (CSV): its exact decimal, no separators, never exponent form."""
    return format(to_decimal(value), "f")


def format_money(value: Any, signed: bool = False) -> str:
    """An amount as people read it: thousands separators, whole amounts without decimals,
    others with their tiyn (``18,532.52``, ``0.50``, ``12,000,000``); ``signed`` adds
    "+" to positive amounts (changes). Exact: the amount's own decimal, never re-rounded."""
    d = to_decimal(value) if not isinstance(value, Decimal) else value
    sign = "+" if signed and d > 0 else ""
    if d == d.to_integral_value():
        return f"{sign}{int(d):,}"
    exponent = d.normalize().as_tuple().exponent  # an int: d is finite here
    places = max(2, -exponent) if isinstance(exponent, int) else 2
    return f"{sign}{d:,.{places}f}"


__all__ = [
    "CONTEXT",
    "DEFAULT_ROUNDING",
    "MODES",
    "ZERO",
    "Rounding",
    "difference",
    "format_money",
    "plain_text",
    "saving_function",
    "to_decimal",
    "total",
]
