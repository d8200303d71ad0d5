"""Money: savings computed in decimal and rounded as the policy says (half up to the tiyn).

A binary float cannot hold most amounts in tiyn: 0.015 × 1,235,501 KZT is 18,532.515
exactly, but 18,532.514999... as a double, which ``round(x, 2)`` takes to 18,532.51.
Here every number of a saving formula is read as the decimal it was written as (a
policy literal or parameter, a filed amount: the shortest text that gives back the
same double, i.e. ``repr``), the arithmetic is done in ``decimal`` with enough digits
to be exact for any amount a filing may hold, and the result is rounded once, with
the policy's rule (``rounding: {unit: 0.01, mode: half_up}`` by default). A total is
the sum of the rounded savings, never a rounding of unrounded ones.

Savings leave the core as floats (the API's numbers): the float nearest to an amount
with at most 15 significant digits (any saving under 10^13 KZT, to the tiyn) prints
back as exactly that amount, so the JSON reads ``18532.52``.
"""

from __future__ import annotations

import decimal
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from . import expr
from .evaluate import Missing
from .expr import Node

#: Enough digits for exact sums and products of amounts up to 10^18 with 17-digit rates;
#: division (the only inexact operation) is correctly rounded to this many digits.
CONTEXT = decimal.Context(prec=80, rounding=decimal.ROUND_HALF_EVEN, Emax=999, Emin=-999)

#: rounding modes a policy may name -> decimal's; "half_up" rounds halves away from zero,
#: as tax offices do (0.005 -> 0.01, -0.005 -> -0.01).
MODES: dict[str, str] = {
    "half_up": decimal.ROUND_HALF_UP,
    "half_even": decimal.ROUND_HALF_EVEN,
    "half_down": decimal.ROUND_HALF_DOWN,
    "up": decimal.ROUND_UP,
    "down": decimal.ROUND_DOWN,
}
MODE_WORDS = {
    "half_up": "half up (halves away from zero)",
    "half_even": "half to even (halves to the even neighbour)",
    "half_down": "half down (halves towards zero)",
    "up": "up (away from zero)",
    "down": "down (towards zero)",
}

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
        return value  # type: ignore[no-any-return]
    raise TypeError(f"not a number: {value!r}")


@dataclass(frozen=True)
class Rounding:
    """How a policy rounds money: to a multiple of ``unit`` (KZT) with ``mode``.

    ``unit`` is a positive decimal (0.01 is the tiyn, 1 the whole tenge); ``mode`` one
    of ``MODES``. The default is the tax office's: half up to the tiyn."""

    unit: Decimal = Decimal("0.01")
    mode: str = "half_up"

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"unknown rounding mode {self.mode!r}")
        if not self.unit.is_finite() or self.unit <= 0:
            raise ValueError("the rounding unit must be a positive number")

    def apply(self, amount: Decimal) -> Decimal:
        """``amount`` rounded to a multiple of the unit (exact: decimal in, decimal out)."""
        unit, mode = self.unit, MODES[self.mode]
        if unit.as_tuple().digits == (1,):  # a power of ten: one quantize
            return amount.quantize(unit, rounding=mode, context=CONTEXT)
        steps = CONTEXT.divide(amount, unit).to_integral_value(rounding=mode, context=CONTEXT)
        return CONTEXT.multiply(steps, unit)

    def to_dict(self) -> dict[str, Any]:
        """``{"unit": 0.01, "mode": "half_up", "text": "rounded to 0.01 KZT, ..."}``."""
        whole = self.unit == self.unit.to_integral_value()
        unit = int(self.unit) if whole else float(self.unit)
        return {"unit": unit, "mode": self.mode, "text": self.describe()}

    def describe(self) -> str:
        """In words: "rounded to 0.01 KZT, half up (halves away from zero)"."""
        return f"rounded to {format_money(self.unit)} KZT, {MODE_WORDS[self.mode]}"


DEFAULT_ROUNDING = Rounding()

Saving = Callable[[dict[str, Any]], Decimal]


def saving_function(formula: Node, params: dict[str, Any], rounding: Rounding) -> Saving:
    """A closure computing a benefit's saving from a validated filing, in decimal, rounded.

    Parameters and literals are read as decimals and what is constant is folded first (so
    ``10 - 0.1`` is 9.9, not 9.9000000000000004); the closure then reads only the filing.
    Raises ``Missing`` when an input the formula reads is absent, or on a division by zero
    (the saving is then unknown)."""
    numbers = {k: to_decimal(v) for k, v in params.items() if type(v) in (int, float)}
    built = _build(formula, numbers)
    compute: Callable[[dict[str, Any]], Decimal] = (
        (lambda env: built) if isinstance(built, Decimal) else built
    )
    unit, mode = rounding.unit, MODES[rounding.mode]
    if unit.as_tuple().digits == (1,):  # a power of ten (the tiyn): one quantize
        return lambda env: compute(env).quantize(unit, rounding=mode, context=CONTEXT)
    apply = rounding.apply
    return lambda env: apply(compute(env))


Built = Decimal | Callable[[dict[str, Any]], Decimal]


def _value(built: Built) -> Callable[[dict[str, Any]], Decimal]:
    return (lambda env: built) if isinstance(built, Decimal) else built


def _read(name: str) -> Callable[[dict[str, Any]], Decimal]:
    def read(env: dict[str, Any]) -> Decimal:
        v = env.get(name)
        if v is None:
            raise Missing(name)
        return _D(v) if type(v) is int else _D(repr(v))

    return read


def _divide(a: Decimal, b: Decimal) -> Decimal:
    if not b:
        raise Missing("division by zero")
    return CONTEXT.divide(a, b)


_ARITH: dict[str, Callable[[Decimal, Decimal], Decimal]] = {
    "+": CONTEXT.add,
    "-": CONTEXT.subtract,
    "*": CONTEXT.multiply,
    "/": _divide,
}


def _build(node: Node, params: dict[str, Decimal]) -> Built:
    """A number expression as a constant (all its names are parameters) or a closure over
    the filing; like ``evaluate.to_callable``, but in decimal with ``CONTEXT``."""
    if isinstance(node, expr.Lit):
        return to_decimal(node.value)
    if isinstance(node, expr.Name):
        if node.id in params:
            return params[node.id]
        return _read(node.id)
    if isinstance(node, expr.Neg):
        inner = _build(node.operand, params)
        if isinstance(inner, Decimal):
            return CONTEXT.minus(inner)
        return lambda env: CONTEXT.minus(inner(env))
    if isinstance(node, expr.Arith):
        op = _ARITH[node.op]
        left, right = _build(node.left, params), _build(node.right, params)
        if isinstance(left, Decimal) and isinstance(right, Decimal):
            try:
                return op(left, right)
            except Missing:
                pass  # a constant division by zero: unknown for every filing
        if node.op == "*" and isinstance(left, Decimal) and isinstance(node.right, expr.Name):
            # "rate * amount", the shape of most savings: one closure
            rate, name, mul = left, node.right.id, CONTEXT.multiply

            def rate_times(env: dict[str, Any]) -> Decimal:
                v = env.get(name)
                if v is None:
                    raise Missing(name)
                return mul(rate, _D(v) if type(v) is int else _D(repr(v)))

            return rate_times
        lf, rf = _value(left), _value(right)
        return lambda env: op(lf(env), rf(env))
    if isinstance(node, expr.Call) and node.func in ("min", "max"):
        fn = min if node.func == "min" else max
        args = [_build(a, params) for a in node.args]
        if all(isinstance(a, Decimal) for a in args):
            return fn(args)  # type: ignore[type-var]
        fns = [_value(a) for a in args]
        return lambda env: fn(f(env) for f in fns)
    raise TypeError(f"not a number expression: {expr.to_text(node)}")


def total(amounts: Iterable[Any]) -> float:
    """The exact sum of rounded amounts (floats or decimals; None skipped), as a float."""
    return float(sum((to_decimal(a) for a in amounts if a is not None), Decimal(0)))


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
    places = max(2, -d.normalize().as_tuple().exponent)  # type: ignore[operator]
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
