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
    if isinstance(node, expr.Name):
        if node.id in consts:
            v = consts[node.id]
            return expr.Lit(tuple(v) if isinstance(v, list) else v)
        return node
    if isinstance(node, expr.Lit):
        return node
    if isinstance(node, expr.ListLit):
        items = [specialise(i, consts) for i in node.items]
        lits = [i for i in items if isinstance(i, expr.Lit)]
        if len(lits) == len(items):
            return expr.Lit(tuple(i.value for i in lits))
        return expr.ListLit(tuple(items))
    if isinstance(node, expr.Index):
        base = consts.get(node.base.id)
        key = specialise(node.key, consts)
        if isinstance(base, dict) and isinstance(key, expr.Lit):
            # A choice absent from the mapping matches nothing.
            return expr.Lit(base.get(key.value, "\x00none"))
        return expr.Index(node.base, key)
    if isinstance(node, expr.Neg):
        inner = specialise(node.operand, consts)
        return expr.Lit(-inner.value) if isinstance(inner, expr.Lit) else expr.Neg(inner)
    if isinstance(node, expr.Arith):
        left, right = specialise(node.left, consts), specialise(node.right, consts)
        if isinstance(left, expr.Lit) and isinstance(right, expr.Lit):
            try:
                return expr.Lit(_arith(node.op, left.value, right.value))
            except Missing:
                pass
        return expr.Arith(node.op, left, right)
    if isinstance(node, expr.Not):
        inner = specialise(node.operand, consts)
        if isinstance(inner, expr.Lit):
            return expr.Lit(not inner.value)
        return expr.Not(inner)
    if isinstance(node, expr.Compare):
        left, right = specialise(node.left, consts), specialise(node.right, consts)
        if isinstance(left, expr.Lit) and isinstance(right, expr.Lit):
            return expr.Lit(compare(node.op, left.value, right.value))
        return expr.Compare(node.op, left, right)
    if isinstance(node, expr.BoolOp):
        values: list[Node] = []
        for v in node.values:
            s = specialise(v, consts)
            if isinstance(s, expr.Lit):
                if node.op == "and" and not s.value:
                    return expr.Lit(False)
                if node.op == "or" and s.value:
                    return expr.Lit(True)
                continue
            values.append(s)
        if not values:
            return expr.Lit(node.op == "and")
        return values[0] if len(values) == 1 else expr.BoolOp(node.op, tuple(values))
    if isinstance(node, expr.Call):
        args = tuple(specialise(a, consts) for a in node.args)
        lits = [a for a in args if isinstance(a, expr.Lit)]
        if node.func in ("min", "max") and len(lits) == len(args):
            fn = min if node.func == "min" else max
            return expr.Lit(fn(*(a.value for a in lits)))
        return expr.Call(node.func, args)
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
    if isinstance(node, expr.Lit):
        value = node.value
        return lambda env: value
    if isinstance(node, expr.Name):
        name = node.id

        def read(env: dict[str, Any]) -> Any:
            v = env.get(name)
            if v is None:
                raise Missing(name)
            return v

        return read
    if isinstance(node, expr.Neg):
        inner = to_callable(node.operand)
        return lambda env: -inner(env)
    if isinstance(node, expr.Arith):
        if (
            node.op in _OPS
            and isinstance(node.left, expr.Lit)
            and isinstance(node.right, expr.Name)
        ):
            # "rate * amount", the shape of most savings: one closure instead of four calls
            return _constant_and_input(_OPS[node.op], node.left.value, node.right.id)
        left, right, op = to_callable(node.left), to_callable(node.right), node.op
        return lambda env: _arith(op, left(env), right(env))
    if isinstance(node, expr.Index):
        base, key = to_callable(node.base), to_callable(node.key)
        return lambda env: base(env).get(key(env))
    if isinstance(node, expr.Call) and node.func == "met":
        # Benefit requirements: env["met"] holds the ids of the criteria met.
        match node.args:
            case (expr.Name(id=target),):
                return lambda env: target in env["met"]
        raise TypeError(f"met() takes one criterion id: {expr.to_text(node)}")
    if isinstance(node, expr.Call) and node.func in ("min", "max"):
        fn = min if node.func == "min" else max
        args = [to_callable(a) for a in node.args]
        return lambda env: fn(a(env) for a in args)
    if isinstance(node, expr.ListLit):
        items = [to_callable(i) for i in node.items]
        return lambda env: tuple(i(env) for i in items)
    if isinstance(node, expr.Compare):
        left, right, op = to_callable(node.left), to_callable(node.right), node.op
        return lambda env: compare(op, left(env), right(env))
    if isinstance(node, expr.Not):
        inner = to_callable(node.operand)
        return lambda env: not inner(env)
    if isinstance(node, expr.BoolOp):
        parts = [to_callable(v) for v in node.values]
        if node.op == "and":
            return lambda env: all(p(env) for p in parts)
        return lambda env: any(p(env) for p in parts)
    raise TypeError(f"cannot evaluate {node!r}")
