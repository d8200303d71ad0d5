"""The expression type checker: every condition and saving formula of a policy is typed
at load, so a mistake is an author's error at its line, never a failed assessment.

Types are words: ``bool``, ``number`` (inputs of type number or integer, numeric
parameters, arithmetic), ``string`` (a text literal, a mapping looked up), ``enum`` and
``set`` (choice inputs), ``text``/``date`` (inputs of those types), ``list`` and
``mapping`` (parameters), ``tier``/``tierid`` (only in a benefit's requirement).
Each check raises :class:`~hub.policy.expr.ExprError` with the reason in words.
"""

from __future__ import annotations

from . import expr
from .expr import ExprError, Node
from .model import InputSpec, Parameter, Tier, bound_text
from .shown import format_value

_NUMERIC = {"number", "integer"}

#: The contexts an expression is checked in: a criterion's condition, a benefit's
#: requirement (which may read ``tier`` and ``met(...)``), a benefit's saving formula.
CONTEXTS = ("criterion", "benefit", "saving")


class TypeEnv:
    """The names an expression of one policy may read, and their types.

    ``criteria`` is filled in once the criteria are built, so that ``met(id)`` in a
    benefit's requirement can be checked against the ids that exist.
    """

    def __init__(
        self,
        inputs: dict[str, InputSpec],
        params: dict[str, Parameter],
        tiers: list[Tier],
        applicability: str,
    ) -> None:
        self.inputs = inputs
        self.params = params
        self.tiers = {t.id for t in tiers}
        self.applicability = applicability
        self.criteria: set[str] = set()

    def check(self, node: Node, context: str) -> str:
        """The type of ``node`` read in ``context`` (one of :data:`CONTEXTS`).

        Raises ExprError naming what is wrong (an unknown name, an operator applied to
        the wrong kind, a choice that the input does not offer).
        """
        return self._t(node, context)

    def _name(self, n: expr.Name, context: str) -> str:
        if n.id in self.inputs:
            spec = self.inputs[n.id]
            if context == "saving" and not (spec.saving or spec.type in _NUMERIC):
                raise ExprError(f"a saving formula cannot read {n.id!r}")
            return "number" if spec.type in _NUMERIC else spec.type
        if n.id in self.params:
            v = self.params[n.id].value
            if isinstance(v, list):
                return "list"
            if isinstance(v, dict):
                return "mapping"
            return "number"
        if n.id == "as_of":
            return "date"
        if n.id == "tier" and context == "benefit":
            return "tier"
        if n.id in self.tiers and context == "benefit":
            return "tierid"
        if context != "benefit" and (n.id == "tier" or n.id in self.tiers):
            raise ExprError(f"{n.id!r} can only be used in a benefit's requirement")
        raise ExprError(f"unknown input or parameter {n.id!r}")

    def _t(self, n: Node, context: str) -> str:
        match n:
            case expr.Lit(value=bool()):
                return "bool"
            case expr.Lit(value=int() | float()):
                return "number"
            case expr.Lit():
                return "string"
            case expr.Name():
                return self._name(n, context)
            case expr.ListLit(items=items):
                for item in items:
                    if self._t(item, context) != "string":
                        raise ExprError("a list may hold only 'text' choices")
                return "list"
            case expr.Index(base=base, key=key):
                if self._t(base, context) != "mapping":
                    raise ExprError(f"{base.id!r} is not a mapping parameter and cannot be indexed")
                if self._t(key, context) not in ("enum", "string"):
                    raise ExprError(f"{base.id}[...] must be indexed by a choice input")
                # A choice missing from the mapping makes the comparison false for it.
                return "string"
            case expr.Call(func="met", args=args):
                if context != "benefit":
                    raise ExprError("met(...) can only be used in a benefit's requirement")
                match args[0]:
                    case expr.Name(id=ident) if ident in self.criteria:
                        return "bool"
                    case expr.Name(id=ident):
                        shown = ident
                    case arg:
                        shown = expr.to_text(arg)
                raise ExprError(f"met() needs a criterion id, {shown!r} is not one")
            case expr.Call(func=func, args=args):
                for a in args:
                    if self._t(a, context) != "number":
                        raise ExprError(f"{func}() takes numbers")
                return "number"
            case expr.Neg(operand=operand):
                if self._t(operand, context) != "number":
                    raise ExprError("'-' applies to numbers only")
                return "number"
            case expr.Not(operand=operand):
                if self._t(operand, context) != "bool":
                    raise ExprError("'not' applies to a condition")
                if context == "benefit" and (
                    expr.met_targets(operand) or "tier" in expr.names(operand)
                ):
                    raise ExprError("a benefit cannot require a tier or a criterion to fail")
                return "bool"
            case expr.Arith(op=op, left=left, right=right):
                if self._t(left, context) != "number" or self._t(right, context) != "number":
                    raise ExprError(f"'{op}' applies to numbers only")
                return "number"
            case expr.BoolOp(op=op, values=values):
                for v in values:
                    if self._t(v, context) != "bool":
                        raise ExprError(f"'{op}' joins conditions, not values")
                return "bool"
            case expr.Compare():
                return self._compare(n, context)
        raise ExprError("unsupported expression")

    def _choices_of(self, node: Node) -> tuple[str, ...] | None:
        if isinstance(node, expr.Name) and node.id in self.inputs:
            return self.inputs[node.id].choices or None
        return None

    def _check_choice(self, node: Node, value: Node) -> None:
        choices = self._choices_of(node)
        if choices is None:
            return
        values: list[str] = []
        match value:
            case expr.Lit(value=str() as text):
                values = [text]
            case expr.ListLit(items=items):
                values = [i.value for i in items if isinstance(i, expr.Lit)]
            case expr.Name(id=ident) if ident in self.params:
                pv = self.params[ident].value
                values = list(pv) if isinstance(pv, list) else []
            case expr.Index(base=base):
                values = list(self.params[base.id].value.values())
        for v in values:
            if v not in choices:
                assert isinstance(node, expr.Name)
                raise ExprError(f"{v!r} is not a choice of {node.id} ({', '.join(choices)})")

    def _compare(self, n: expr.Compare, context: str) -> str:
        lt, rt = self._t(n.left, context), self._t(n.right, context)
        if n.op in ("in", "notin"):
            if lt not in ("enum", "string") or rt != "list":
                raise ExprError(f"'{'not in' if n.op == 'notin' else 'in'}' needs a choice "
                                "on the left and a list on the right")  # fmt: skip
            self._check_choice(n.left, n.right)
            return "bool"
        if n.op == "contains":
            if lt != "set" or rt not in ("list", "string"):
                raise ExprError("'contains' needs a set input on the left and a list on the right")
            self._check_choice(n.left, n.right)
            return "bool"
        if lt == "tier" or rt == "tier":
            op = n.op if lt == "tier" else {">=": "<=", ">": "<", "<=": ">=", "<": ">"}.get(n.op)
            if {lt, rt} != {"tier", "tierid"} or op not in (">=", ">"):
                raise ExprError("a benefit can require only 'tier >= Tn' or 'tier > Tn'")
            return "bool"
        kinds = {lt, rt}
        if kinds <= {"enum", "string"}:
            if n.op not in ("==", "!="):
                raise ExprError(f"choices can only be compared with == or !=, not {n.op}")
            self._check_choice(n.left, n.right)
            self._check_choice(n.right, n.left)
            return "bool"
        if lt != rt:
            raise ExprError(f"cannot compare a {lt} with a {rt}")
        if lt == "bool" and n.op not in ("==", "!="):
            raise ExprError(f"true/false can only be compared with == or !=, not {n.op}")
        if lt in ("set", "list", "mapping"):
            raise ExprError(f"a {lt} cannot be compared with {n.op}")
        if lt == "number":
            self._check_bounds(n.left, n.right)
            self._check_bounds(n.right, n.left)
        return "bool"

    def _thresholds(self, node: Node) -> list[tuple[str, int | float]]:
        """The numbers ``node`` stands for, each with how it is written (a literal, a
        parameter, a parameter's mapping's values); [] for anything computed."""
        match node:
            case expr.Lit(value=int() | float() as v) if not isinstance(v, bool):
                return [(format_value(v), v)]
            case expr.Neg(operand=expr.Lit(value=int() | float() as v)):
                return [(format_value(-v), -v)]
            case expr.Name(id=ident) if ident in self.params:
                pv = self.params[ident].value
                if isinstance(pv, int | float) and not isinstance(pv, bool):
                    return [(f"{ident} ({format_value(pv)})", pv)]
            case expr.Index(base=expr.Name(id=ident)) if ident in self.params:
                pv = self.params[ident].value
                if isinstance(pv, dict):
                    return [
                        (f"{ident}[{key}] ({format_value(v)})", v)
                        for key, v in pv.items()
                        if isinstance(v, int | float) and not isinstance(v, bool)
                    ]
        return []

    def _check_bounds(self, node: Node, other: Node) -> None:
        """Refuse a threshold no accepted value of the input it is compared with can reach
        (a money threshold above the money ceiling): the comparison would be constant."""
        if not (isinstance(node, expr.Name) and node.id in self.inputs):
            return
        spec = self.inputs[node.id]
        lo, hi = spec.lowest, spec.highest
        for written, v in self._thresholds(other):
            if hi is not None and v > hi:
                raise ExprError(
                    f"the threshold {written} is above the highest value {node.id} accepts "
                    f"({bound_text(hi)}): the comparison could never change"
                )
            if lo is not None and v < lo:
                raise ExprError(
                    f"the threshold {written} is below the lowest value {node.id} accepts "
                    f"({bound_text(lo)}): the comparison could never change"
                )
