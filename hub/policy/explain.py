"""Plain-language explanations and concrete fixes for each criterion.

Built per (criterion, activity) from the specialised condition, so the text
names real numbers ("raise kyc_verified_clients_pct from 92.5 to at least 95")
and never thresholds the company cannot act on.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import orjson

from . import expr
from .evaluate import FLIP, Missing, to_callable
from .expr import Node
from .model import Criterion, InputSpec, Policy
from .shown import format_number, format_number_json, format_value, shown_pair, shown_together

Env = dict[str, Any]
_NUMBERS = ("number", "integer")
MEMO_SIZE = 256  # texts kept per criterion and activity (bounded memory)
Fixer = Callable[[Env], list[str]]


def _side(node: expr.Compare, inputs: dict[str, InputSpec]) -> tuple[str, str, Node] | None:
    """Normalise a comparison to (input, op, other side), input on the left."""
    if isinstance(node.left, expr.Name) and node.left.id in inputs:
        return node.left.id, node.op, node.right
    if isinstance(node.right, expr.Name) and node.right.id in inputs and node.op in FLIP:
        return node.right.id, FLIP[node.op], node.left
    return None


def _bound_text(other: Node, shown: str, env: Env) -> str:
    """The bound's value as shown (``shown``), and how it was computed when it is not a
    constant."""
    if isinstance(other, expr.Lit):
        return shown
    if isinstance(other, expr.Name):  # another input: its value is the bound itself
        return f"{shown} = {other.id}"
    with_values = expr.to_text(other, lambda n: format_value(env[n]) if n in env else None)
    return f"{shown} = {expr.to_text(other)} = {with_values}"


def _atom_fixer(node: expr.Compare, inputs: dict[str, InputSpec], short: bool = True) -> Fixer:
    """The fix of one comparison that fails; ``short`` lets a number compared with a bound
    written in the policy take the short road (tests turn it off to hold it to the long
    one)."""
    norm = _side(node, inputs)
    text = expr.to_text(node)
    if norm is None:
        return lambda env: [f"make {text} hold"]
    name, op, other = norm
    spec = inputs[name]
    bound = to_callable(other)

    if op in ("in", "notin", "contains"):
        choices = other.value if isinstance(other, expr.Lit) else ()
        if op == "contains":
            needed = (choices,) if isinstance(choices, str) else tuple(choices)
            return lambda env: [
                f"add {', '.join(c for c in needed if c not in (env.get(name) or ()))} to {name}"
            ]
        if op == "in":
            options = format_value(choices)
            return lambda env: [
                f"change {name} from {format_value(env.get(name))} to one of {options}"
            ]
        return lambda env: [f"change {name} to something other than {format_value(choices)}"]

    if spec.type == "bool":
        if op == "==":
            return lambda env: [f"set {name} to {format_value(bound(env))}"]
        return lambda env: [f"set {name} to {format_value(not bound(env))}"]

    if spec.type == "enum" or (spec.type == "string"):
        if op == "==":
            return lambda env: [
                f"change {name} from {format_value(env.get(name))} to {format_value(bound(env))}"
            ]
        return lambda env: [f"change {name} to something other than {format_value(bound(env))}"]

    if spec.type == "date":
        words = {">=": "on or after", ">": "after", "<=": "on or before", "<": "before"}

        def date_fix(env: Env) -> list[str]:
            target = bound(env)
            if op in words:
                return [f"change {name} from {env.get(name)} to a date {words[op]} {target}"]
            if op == "==":
                return [f"change {name} from {env.get(name)} to {target}"]
            return [f"change {name} to a date other than {target}"]

        return date_fix

    integer = spec.type == "integer"
    # A bound written in the policy and a value of at most 6 decimals (the common case):
    # the text from parts made once, the value as format_value shows it, which is how
    # shown_pair shows it beside an exact bound (no decimal arithmetic). Tests hold it
    # to the long road below (Hypothesis).
    parts = _number_fix_parts(name, op, other, integer) if short else None

    def number_fix(env: Env) -> list[str]:
        if parts is not None:
            v = env.get(name)
            if type(v) is int or type(v) is float:
                value_text = format_number_json(v, orjson.dumps(v))
                if value_text is not None:
                    return [parts[0] + value_text.decode() + parts[1]]
        try:
            target = bound(env)
        except Missing:
            return [f"make {text} hold"]
        # never "from 95 to at least 95": the value keeps the decimals that tell it apart
        exact_bound = isinstance(other, expr.Lit | expr.Name)  # written, or filed: as is
        current, target_text = shown_pair(env.get(name), target, exact_bound)
        shown = _bound_text(other, target_text, env)
        if op in TOWARDS:
            verb, words, whole, limit = TOWARDS[op]
            if whole is not None and integer and not float(target).is_integer():
                return [f"{verb} {name} from {current} to {words} "
                        f"{whole(target)} (the {limit} is {shown})"]  # fmt: skip
            return [f"{verb} {name} from {current} to {words} {shown}"]
        if op == "==":
            return [f"change {name} from {current} to {shown}"]
        return [f"change {name} to something other than {shown}"]

    return number_fix


def _number_fix_parts(name: str, op: str, other: Node, integer: bool) -> tuple[str, str] | None:
    """The fix of ``name <op> <number written in the policy>`` around the value's text
    (``format_value``'s, for a value of at most 6 decimals), as ``number_fix`` words it;
    None for another bound (computed, another input) or operator."""
    if not isinstance(other, expr.Lit) or type(other.value) not in (int, float):
        return None
    target = other.value
    if type(target) is float and not math.isfinite(target):
        return None
    shown = format_number(target)
    if op in TOWARDS:
        verb, words, whole, limit = TOWARDS[op]
        if whole is not None and integer and not float(target).is_integer():
            return f"{verb} {name} from ", f" to {words} {whole(target)} (the {limit} is {shown})"
        return f"{verb} {name} from ", f" to {words} {shown}"
    if op == "==":
        return f"change {name} from ", f" to {shown}"
    return None


#: an order comparison's fix in words: operator -> (verb, how far, the whole number an
#: integer input must reach when the bound is not whole, what that bound is)
TOWARDS: dict[str, tuple[str, str, Callable[[Any], int] | None, str]] = {
    ">=": ("raise", "at least", math.ceil, "minimum"),
    ">": ("raise", "more than", None, ""),
    "<=": ("lower", "at most", math.floor, "maximum"),
    "<": ("lower", "less than", None, ""),
}


def _number_bounds(
    node: Node, inputs: dict[str, InputSpec]
) -> tuple[list[tuple[str, Callable[[Env], Any]]], list[tuple[str, str]]]:
    """What each number input of a condition is compared with: (input, bound) for a
    constant or computed bound, (input, input) for two inputs compared with each other."""
    bounds: list[tuple[str, Callable[[Env], Any]]] = []
    pairs: list[tuple[str, str]] = []

    def number_input(n: Node) -> str | None:
        if isinstance(n, expr.Name) and n.id in inputs and inputs[n.id].type in _NUMBERS:
            return n.id
        return None

    def walk(n: Node) -> None:
        if isinstance(n, expr.Compare) and n.op in FLIP:
            left, right = number_input(n.left), number_input(n.right)
            if left and right:
                pairs.append((left, right))
            elif left:
                bounds.append((left, to_callable(n.right)))
            elif right:
                bounds.append((right, to_callable(n.left)))
        elif isinstance(n, expr.BoolOp):
            for v in n.values:
                walk(v)
        elif isinstance(n, expr.Not):
            walk(n.operand)

    walk(node)
    return bounds, pairs


def _evaluate(
    bounds: list[tuple[str, Callable[[Env], Any]]], env: Callable[[], Env] | None
) -> list[tuple[str, Any]]:
    """The bounds' values; one that cannot be computed (an input missing) is left out."""
    out = []
    for name, bound in bounds:
        try:
            out.append((name, bound(env() if env is not None else {})))
        except (Missing, KeyError, TypeError):
            continue
    return out


def build_fixer(node: Node, inputs: dict[str, InputSpec], short: bool = True) -> Fixer:
    """A function listing what to change so that ``node`` holds, for the atoms that fail
    (``short``: see ``_atom_fixer``)."""
    if isinstance(node, expr.Compare):
        check = to_callable(node)
        fix = _atom_fixer(node, inputs, short)

        def atom(env: Env) -> list[str]:
            try:
                if check(env):
                    return []
            except Missing:
                pass
            return fix(env)

        return atom
    if isinstance(node, expr.BoolOp):
        parts = [build_fixer(v, inputs, short) for v in node.values]
        if node.op == "and":
            return lambda env: [f for p in parts for f in p(env)]

        def either(env: Env) -> list[str]:
            options = ["; ".join(p(env)) for p in parts]
            if any(not o for o in options):
                return []
            return ["either " + " or ".join(options)]

        return either
    if isinstance(node, expr.Lit):
        if node.value:
            return lambda env: []
        return lambda env: ["this criterion cannot be met for your activity"]
    text = expr.to_text(node)
    check = to_callable(node)

    def generic(env: Env) -> list[str]:
        try:
            if check(env):
                return []
        except Missing:
            pass
        return [f"make {text} hold"]

    return generic


class CriterionExplainer:
    """Precomputed texts for one criterion at one activity (explanations are built for
    every criterion of every decision served, so the fixed parts are made once)."""

    __slots__ = (
        "bounds",
        "compared",
        "constant_threshold",
        "dated",
        "env_inputs",
        "env_params",
        "fixer",
        "fragments",
        "hint",
        "inputs",
        "memo",
        "met_suffix",
        "not_applicable",
        "not_met_parts",
        "pairs",
        "requirement",
        "threshold",
    )

    def __init__(
        self, policy: Policy, criterion: Criterion, activity: str, specialised: Node | None
    ) -> None:
        inputs = policy.inputs_by_name
        self.inputs = tuple(n for n in criterion.inputs if n != policy.applicability_input)
        self.hint = criterion.fix_hint
        self.threshold: Callable[[Env], Any] | None = None
        self.constant_threshold: Any = None
        self.memo: dict[tuple[Any, ...], tuple[str, str | None, Any, str]] = {}
        #: whether the texts depend on the assessment date (the requirement reads as_of)
        self.dated = False
        #: what number inputs are compared with: values are shown on their own side
        self.bounds: list[tuple[str, Callable[[Env], Any]]] = []
        self.pairs: list[tuple[str, str]] = []
        self.compared: frozenset[str] = frozenset()
        #: see :meth:`not_met_texts`
        self.not_met_parts: tuple[str, str, str, str] | None = None
        #: what the condition reads, for :meth:`env_factory`: its parameters' values, and
        #: its inputs
        self.env_params: dict[str, Any] = {}
        self.env_inputs: tuple[str, ...] = ()
        if specialised is None:
            label = inputs[policy.applicability_input].choice_labels.get(activity, activity)
            self.not_applicable = (
                f"Does not apply to activity {activity} ({label}); "
                f"applies to: {', '.join(criterion.applies_to)}."
            )
            self.requirement = ""
            self.met_suffix = ""
            self.fixer: Fixer = lambda env: []
            return
        self.not_applicable = ""
        self.requirement = expr.to_text(specialised)
        if "as_of" in expr.names(specialised):
            self.dated = True
            self.requirement = self.requirement.replace("as_of", "as_of ({as_of})")
        self.met_suffix = f" (required: {self.requirement})."
        read = sorted(expr.names(specialised) - {"as_of"})
        params = policy.parameter_values
        self.env_params = {n: params[n] for n in read if n in params}
        self.env_inputs = tuple(read)
        self.fixer = build_fixer(specialised, inputs)
        self.bounds, self.pairs = _number_bounds(specialised, inputs)
        self.compared = frozenset(
            [n for n, _ in self.bounds] + [n for pair in self.pairs for n in pair]
        )
        if isinstance(specialised, expr.Compare) and (norm := _side(specialised, inputs)):
            other = norm[2]
            if isinstance(other, expr.Lit):
                self.constant_threshold = other.value
            elif not isinstance(other, expr.ListLit):
                self.threshold = to_callable(other)
            self.not_met_parts = self._not_met_parts(specialised, inputs)

    def _not_met_parts(
        self, specialised: expr.Compare, inputs: dict[str, InputSpec]
    ) -> tuple[str, str, str, str] | None:
        """The texts of ``explain("not_met")`` around the value's text, for a criterion
        that compares its one number input with a number written in the policy
        (``kyc_verified_clients_pct >= 95``): what ``number_fix`` and ``values_text``
        write when the value is shown as ``format_value`` shows it, which is how
        ``shown_pair`` shows a value of at most 6 decimals beside an exact bound."""
        norm = _side(specialised, inputs)
        if norm is None or self.dated or len(self.inputs) != 1:
            return None
        name, op, other = norm
        if name != self.inputs[0] or inputs[name].type not in _NUMBERS:
            return None
        parts = _number_fix_parts(name, op, other, inputs[name].type == "integer")
        if parts is None:
            return None
        fix_head, fix_tail = parts
        if self.hint:
            fix_tail = f"{fix_tail}. {self.hint}"
        return f"Not met: {name} is ", self.met_suffix, fix_head, fix_tail

    def env_factory(self, filing: Env, as_of: str) -> Callable[[], Env]:
        """The evaluation environment of this criterion's condition, built on first call:
        what the whole one (parameters, then the filing, then ``as_of``) holds for every
        name the condition reads, and nothing else (the fixers, computed thresholds and
        bounds read no other name). A fraction of the whole one's cost."""
        cache: list[Env] = []

        def env() -> Env:
            if not cache:
                built = self.env_params.copy()
                for n in self.env_inputs:
                    if n in filing:
                        built[n] = filing[n]
                built["as_of"] = as_of
                cache.append(built)
            return cache[0]

        return env

    def not_met_texts(self, value_text: str) -> tuple[str, str] | None:
        """(explanation, fix) of ``explain("not_met")`` for a value shown as
        ``value_text`` (``format_value``'s text of a number of at most 6 decimals), from
        parts made once; None when the criterion is not of that kind. Tests hold it to
        ``explain`` (Hypothesis)."""
        parts = self.not_met_parts
        if parts is None:
            return None
        return parts[0] + value_text + parts[1], parts[2] + value_text + parts[3]

    def cached(
        self, status: str, filing: Env, as_of: str, env: Callable[[], Env]
    ) -> tuple[str, str | None, Any, str]:
        """``explain`` memoised on what the texts depend on: the status, the values read and
        the date (the parameters are fixed per policy). Filings repeat values a lot (yes/no
        answers, 100%, 0 arrears), and the texts are the costliest part of a decision."""
        values = tuple(tuple(v) if type(v) is list else v for v in map(filing.get, self.inputs))
        key = (status, values, as_of)
        hit = self.memo.get(key)
        if hit is None:
            if len(self.memo) >= MEMO_SIZE:
                self.memo.clear()
            hit = self.memo[key] = self.explain(status, filing, env, as_of)
        return hit

    def values_text(self, filing: Env, env: Callable[[], Env] | None = None) -> str:
        """ "name is value; ...": a number never shown onto or across what it is compared
        with (94.9999999 against 95 keeps its decimals; ``env`` evaluates computed bounds)."""
        values = {n: filing.get(n) for n in self.inputs}
        if any(
            type(v) is float and v != round(v, 6) for n, v in values.items() if n in self.compared
        ):
            texts = shown_together(values, _evaluate(self.bounds, env), self.pairs)
        else:  # at most 6 decimals: format_value shows every compared value exactly
            texts = {n: format_value(v) for n, v in values.items()}
        return "; ".join([f"{n} is {texts[n]}" for n in self.inputs])

    def explain(
        self, status: str, filing: Env, env: Callable[[], Env], as_of: str
    ) -> tuple[str, str | None, Any, str]:
        """(explanation, fix, threshold, requirement) for a met, not_met or missing criterion.

        ``env`` builds the evaluation environment (filing, parameters, as_of) only when a
        computed threshold or a fix needs it; a requirement that reads as_of shows the date.
        """
        threshold = self.constant_threshold
        if self.threshold is not None:
            try:
                threshold = self.threshold(env())
            except Missing:
                threshold = None
        requirement = self.requirement
        suffix = self.met_suffix
        if "{as_of}" in requirement:
            requirement = requirement.replace("{as_of}", as_of)
            suffix = suffix.replace("{as_of}", as_of)
        if status == "met":
            return "Met: " + self.values_text(filing, env) + suffix, None, threshold, requirement
        if status == "missing":
            listed = ", ".join([n for n in self.inputs if filing.get(n) is None])
            return (
                f"Missing: {listed} not provided (required: {requirement}).",
                f"provide {listed} (required: {requirement})",
                threshold,
                requirement,
            )
        fix = "; ".join(self.fixer(env()) or [f"make {requirement} hold"])
        if self.hint:
            fix = f"{fix}. {self.hint}"
        return "Not met: " + self.values_text(filing, env) + suffix, fix, threshold, requirement
