"""Plain evaluation of expressions: partial evaluation for the compiler, and
closures for savings and explanations.

The engine (durable-rules) decides statuses, tiers and benefits; this module
only folds constants before compilation and computes the numbers people read
(thresholds such as 0.8 × fte_declared, estimated savings).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from . import expr
from .expr import Node

CMP: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
FLIP = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
NEGATE = {"==": "!=", "!=": "==", "<": ">=", "<=": ">", ">": "<=", ">=": "<"}


class Missing(Exception):
    """An input the expression needs is absent."""


def divide(a: Any, b: Any) -> Any:
    """``a / b``; a division by zero makes the figure unknown (``Missing``), as an
    absent input does: the policy's reading for thresholds and savings alike."""
    if b == 0:
        raise Missing("division by zero")
    return a / b


def _arith(op: str, a: Any, b: Any) -> Any:
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    return divide(a, b)


_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
}
#: the four operations of the expression language, as functions of two numbers
ARITH: dict[str, Callable[[Any, Any], Any]] = {**_OPS, "/": divide}


def _constant_and_input(
    op: Callable[[Any, Any], Any], constant: Any, name: str
) -> Callable[[dict[str, Any]], Any]:
    def apply(env: dict[str, Any]) -> Any:
        v = env.get(name)
        if v is None:
            raise Missing(name)
        return op(constant, v)

    return apply


def specialise(node: Node, consts: dict[str, Any]) -> Node:
    """Substitute known names (parameters, the activity) and fold what becomes constant."""
    match node:
        case expr.Name(id=name):
            if name in consts:
                v = consts[name]
                return expr.Lit(tuple(v) if isinstance(v, list) else v)
            return node
        case expr.Lit():
            return node
        case expr.ListLit(items=raw_items):
            items = [specialise(i, consts) for i in raw_items]
            lits = [i for i in items if isinstance(i, expr.Lit)]
            if len(lits) == len(items):
                return expr.Lit(tuple(i.value for i in lits))
            return expr.ListLit(tuple(items))
        case expr.Index(base=base_name, key=raw_key):
            base = consts.get(base_name.id)
            key = specialise(raw_key, consts)
            if isinstance(base, dict) and isinstance(key, expr.Lit):
                # A choice absent from the mapping matches nothing.
                return expr.Lit(base.get(key.value, "\x00none"))
            return expr.Index(base_name, key)
        case expr.Neg(operand=operand):
            inner = specialise(operand, consts)
            return expr.Lit(-inner.value) if isinstance(inner, expr.Lit) else expr.Neg(inner)
        case expr.Arith(op=op, left=raw_left, right=raw_right):
            left, right = specialise(raw_left, consts), specialise(raw_right, consts)
            if isinstance(left, expr.Lit) and isinstance(right, expr.Lit):
                try:
                    return expr.Lit(_arith(op, left.value, right.value))
                except Missing:
                    pass
            return expr.Arith(op, left, right)
        case expr.Not(operand=operand):
            inner = specialise(operand, consts)
            if isinstance(inner, expr.Lit):
                return expr.Lit(not inner.value)
            return expr.Not(inner)
        case expr.Compare(op=op, left=raw_left, right=raw_right):
            left, right = specialise(raw_left, consts), specialise(raw_right, consts)
            if isinstance(left, expr.Lit) and isinstance(right, expr.Lit):
                return expr.Lit(compare(op, left.value, right.value))
            return expr.Compare(op, left, right)
        case expr.BoolOp(op=op, values=raw_values):
            values: list[Node] = []
            for v in raw_values:
                s = specialise(v, consts)
                if isinstance(s, expr.Lit):
                    if op == "and" and not s.value:
                        return expr.Lit(False)
                    if op == "or" and s.value:
                        return expr.Lit(True)
                    continue
                values.append(s)
            if not values:
                return expr.Lit(op == "and")
            return values[0] if len(values) == 1 else expr.BoolOp(op, tuple(values))
        case expr.Call(func=func, args=raw_args):
            args = tuple(specialise(a, consts) for a in raw_args)
            lits = [a for a in args if isinstance(a, expr.Lit)]
            if func in ("min", "max") and len(lits) == len(args):
                fn = min if func == "min" else max
                return expr.Lit(fn(*(a.value for a in lits)))
            return expr.Call(func, args)
    return node


def compare(op: str, a: Any, b: Any) -> bool:
    """``a op b`` for a comparison operator of :class:`~hub.policy.expr.Compare` (values
    already read; ``contains`` takes one choice or a list, all of which must be held)."""
    if op == "in":
        return a in b
    if op == "notin":
        return a not in b
    if op == "contains":
        needed = (b,) if isinstance(b, str) else b
        return all(x in a for x in needed)
    return CMP[op](a, b)


def to_callable(node: Node) -> Callable[[dict[str, Any]], Any]:
    """A closure computing a (specialised) value expression; raises Missing on absent input."""
    match node:
        case expr.Lit(value=value):
            return lambda env: value
        case expr.Name(id=name):

            def read(env: dict[str, Any]) -> Any:
                v = env.get(name)
                if v is None:
                    raise Missing(name)
                return v

            return read
        case expr.Neg(operand=operand):
            inner = to_callable(operand)
            return lambda env: -inner(env)
        case expr.Arith(op=op, left=expr.Lit(value=constant), right=expr.Name(id=name)) if (
            op in _OPS
        ):
            # "rate * amount", the shape of most savings: one closure instead of four calls
            return _constant_and_input(_OPS[op], constant, name)
        case expr.Arith(op=op, left=raw_left, right=raw_right):
            left, right = to_callable(raw_left), to_callable(raw_right)
            return lambda env: _arith(op, left(env), right(env))
        case expr.Index(base=raw_base, key=raw_key):
            base, key = to_callable(raw_base), to_callable(raw_key)
            return lambda env: base(env).get(key(env))
        case expr.Call(func="met", args=(expr.Name(id=target),)):
            # Benefit requirements: env["met"] holds the ids of the criteria met.
            return lambda env: target in env["met"]
        case expr.Call(func="met"):
            raise TypeError(f"met() takes one criterion id: {expr.to_text(node)}")
        case expr.Call(func="min" | "max" as func, args=raw_args):
            fn = min if func == "min" else max
            args = [to_callable(a) for a in raw_args]
            return lambda env: fn(a(env) for a in args)
        case expr.ListLit(items=raw_items):
            items = [to_callable(i) for i in raw_items]
            return lambda env: tuple(i(env) for i in items)
        case expr.Compare(op=op, left=raw_left, right=raw_right):
            left, right = to_callable(raw_left), to_callable(raw_right)
            return lambda env: compare(op, left(env), right(env))
        case expr.Not(operand=operand):
            inner = to_callable(operand)
            return lambda env: not inner(env)
        case expr.BoolOp(op="and", values=values):
            parts = [to_callable(v) for v in values]
            return lambda env: all(p(env) for p in parts)
        case expr.BoolOp(values=values):
            parts = [to_callable(v) for v in values]
            return lambda env: any(p(env) for p in parts)
    raise TypeError(f"cannot evaluate {node!r}")
