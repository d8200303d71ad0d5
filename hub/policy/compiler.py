"""Compile a policy into two durable-rules rulesets over flat facts.

Design (measured, see benchmarks/): conditions are first specialised per
activity (parameters and the activity folded in), which keeps every rule a
conjunction: durable-rules expands ``$or`` into disjunctive normal form and
refuses a ruleset past about 2^14 branches (error 113), so "each criterion
satisfied" can never be written as a conjunction of ``(not applicable or met)``
disjunctions.

The filing fact is the validated filing itself: its keys are the input names,
so encoding it is one ``orjson.dumps`` (engine keys of our own start with ``#``,
which no input name can); the encoding, and the compiled policy that carries it, are
in :mod:`.facts`.

Two phases, two rulesets, chained by the host (no background dispatcher):
1. the filing fact; ``u:<i>:<n>`` fires when criterion i is not met (its
   condition negated by De Morgan, so no ``$not``). ``not_applicable`` and
   ``missing`` follow from the activity and the inputs present, as the policy
   page defines them; ``met`` is what remains.
2. a summary fact naming the unsatisfied criteria; ``t:<k>:`` fires when tier k
   is reached, ``b:<j>:`` when benefit j is granted.

In both, ``z`` fires for the engine wrapper's primer fact only: the engine's
state must never be deleted before an action ran on it (that can crash the C
engine: ``hub/policy/durable_engine.py``), and
priming each state once is as safe as an action on every fact but costs
nothing per decision (measured: 1.5 us less per filing fact, whose every
action message carries the whole fact).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from . import expr
from .evaluate import FLIP, NEGATE, specialise
from .expr import Node
from .facts import (
    AS_OF,
    ENGINE_KEYS,
    FILING,
    PRIMER,
    SUMMARY,
    CompiledPolicy,
    Num,
    rules_json,
)
from .model import Criterion, Policy, PolicyError
from .money import saving_function
from .outcome import tier_ranks

MAX_DNF = 4096  # branches per rule; durable-rules fails past 2^14


class _Never(Exception):
    """The specialised condition can never hold."""


class _Compiler:
    def __init__(self, policy: Policy) -> None:
        self.p = policy
        self.inputs = policy.inputs_by_name
        self.act = policy.applicability_input
        self.params = policy.parameter_values
        self.fields: dict[str, str] = {}  # input name -> short fact key
        self.set_items: dict[tuple[str, str], str] = {}
        self.summary_inputs: set[str] = set()
        self.activity_sets: dict[frozenset[str], str] = {}
        self.met_used: set[int] = set()
        # Placeholder name -> compiled flags: a tier or met() inlined into a benefit's
        # requirement (the names start with "#", so no input or parameter has one).
        self.inlined: dict[str, list[Any]] = {}

    def key(self, name: str) -> str:
        """The fact key of an input: its own name, so the validated filing is the fact."""
        if name == "as_of":
            return AS_OF
        if name not in self.fields:
            self.fields[name] = "#" + name if name in ENGINE_KEYS else name
        return self.fields[name]

    def item_key(self, name: str, item: str) -> str:
        if (name, item) not in self.set_items:
            self.set_items[(name, item)] = f"#i{len(self.set_items)}"
        return self.set_items[(name, item)]

    # --- conditions -------------------------------------------------------------
    def presence(self, names: tuple[str, ...]) -> list[dict[str, Any]]:
        return [{"$ex": {self.key(n): 1}} for n in names if n != self.act]

    def operand(self, node: Node) -> Any:
        """A right-hand side: a constant, another field, or arithmetic over them."""
        match node:
            case expr.Lit(value=bool() as v):
                return v
            case expr.Lit(value=int() | float() as v):
                return Num(v)
            case expr.Lit(value=v):
                return v
            case expr.Name(id=name):
                return {"$m": self.key(name)}
            case expr.Neg(operand=operand):
                return {"$mul": {"$l": self.operand(operand), "$r": Num(-1)}}
            case expr.Arith(op=op, left=left, right=right):
                key = {"+": "$add", "-": "$sub", "*": "$mul", "/": "$div"}[op]
                return {key: {"$l": self.operand(left), "$r": self.operand(right)}}
        raise PolicyError([f"{self.p.source}: the engine cannot compare {expr.to_text(node)}"])

    def cond(self, node: Node, negate: bool = False) -> Any:
        """Translate a specialised boolean expression into a durable-rules condition."""
        match node:
            case expr.Name(id=name) if name in self.inlined:
                # a tier or met() inlined into a benefit's requirement: its compiled flags
                if negate:
                    raise PolicyError(
                        [f"{self.p.source}: a benefit cannot require a tier or criterion to fail"]
                    )
                flags = self.inlined[name]
                return {"$and": flags} if flags else None
            case expr.Lit(value=value):
                if bool(value) != negate:
                    return None  # no constraint
                raise _Never
            case expr.Not(operand=operand):
                return self.cond(operand, not negate)
            case expr.BoolOp(op=op, values=values):
                is_and = (op == "and") != negate
                parts = []
                for v in values:
                    try:
                        c = self.cond(v, negate)
                    except _Never:
                        if is_and:
                            raise
                        continue
                    if c is None:
                        if not is_and:
                            return None
                        continue
                    parts.append(c)
                if not parts:
                    if is_and:
                        return None
                    raise _Never
                return parts[0] if len(parts) == 1 else {"$and" if is_and else "$or": parts}
            case expr.Compare():
                return self.compare(node, negate)
            case expr.Name(id=name) if name in self.inputs:
                return {self.key(name): not negate}  # a yes/no input used as a condition
        raise PolicyError([f"{self.p.source}: cannot compile {expr.to_text(node)}"])

    def compare(self, node: expr.Compare, negate: bool) -> Any:
        op, left, right = node.op, node.left, node.right
        if op in ("in", "notin"):
            if negate:
                op = "notin" if op == "in" else "in"
            if not isinstance(left, expr.Name) or not isinstance(right, expr.Lit):
                raise PolicyError([f"{self.p.source}: 'in' needs an input and a list"])
            key = self.key(left.id)
            if op == "in":
                branches = [{key: v} for v in right.value]
                if not branches:
                    raise _Never
                return branches[0] if len(branches) == 1 else {"$or": branches}
            parts: list[dict[str, Any]] = [{"$neq": {key: v}} for v in right.value]
            if not parts:
                return None
            return parts[0] if len(parts) == 1 else {"$and": parts}
        if op == "contains":
            if not isinstance(left, expr.Name) or not isinstance(right, expr.Lit):
                raise PolicyError([f"{self.p.source}: 'contains' needs a set input and a list"])
            needed = (right.value,) if isinstance(right.value, str) else right.value
            parts = [{self.item_key(left.id, v): (not negate)} for v in needed]
            if not parts:
                if negate:
                    raise _Never
                return None
            if negate:
                return parts[0] if len(parts) == 1 else {"$or": parts}
            return parts[0] if len(parts) == 1 else {"$and": parts}
        if not isinstance(left, expr.Name):
            if isinstance(right, expr.Name):
                left, right, op = right, left, FLIP[op]
            else:
                raise PolicyError(
                    [
                        f"{self.p.source}: the engine needs an input on one side of "
                        f"'{expr.to_text(node)}'"
                    ]
                )
        if negate:
            op = NEGATE[op]
        key = self.key(left.id)
        exact = self.exact_scaled(op, left, right)
        if exact is not None:
            return exact
        rhs = self.operand(right)
        if op == "==":
            if isinstance(rhs, dict):
                return {"$eq": {key: rhs}}
            return {key: rhs}
        name = {"!=": "$neq", "<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte"}[op]
        return {name: {key: rhs}}

    def exact_scaled(self, op: str, left: expr.Name, right: Node) -> Any:
        """``x OP c * y`` for whole-number inputs x and y and a decimal c = p / 10^k, in
        whole numbers the engine computes exactly, or None for any other comparison.

        The engine multiplies a decimal as a double: 0.8 * 6,394,092,583,090,594 comes out
        as 5,115,274,066,472,475 (it is ...475.2), and 0.7 * 90 as 63.00000000000001, so
        the criterion would be met, or not, against the policy's words. Whole numbers it
        computes in 64 bits, exactly (division truncates toward zero), so with D = 10^k:
        ``x >= c*y`` iff ``x >= ceil(p*y / D)``, ``x > c*y`` iff ``x > floor(p*y / D)``,
        and so on; floor and ceiling are written with truncation for the sign p*y has
        (fixed: y's bounds do not straddle 0). Inputs are at most 2^53 - 1 (model.py)
        and |p| < 1024, so p*y + D stays far inside 64 bits."""
        if op not in ("<", "<=", ">", ">=", "==", "!="):
            return None
        if not isinstance(right, expr.Arith) or right.op != "*":
            return None
        pair = (right.left, right.right)
        if isinstance(pair[0], expr.Name):
            pair = (pair[1], pair[0])
        const, other = pair
        if not isinstance(const, expr.Lit) or not isinstance(other, expr.Name):
            return None
        c = const.value
        specs = self.inputs
        x_spec, y_spec = specs.get(left.id), specs.get(other.id)
        if (
            x_spec is None
            or y_spec is None
            or x_spec.type != "integer"
            or y_spec.type != "integer"
            or type(c) not in (int, float)
        ):
            return None
        decimal = Decimal(repr(c)) if type(c) is float else Decimal(c)
        if not decimal.is_finite():
            return None
        exponent = decimal.as_tuple().exponent
        k = max(0, -int(exponent))
        scale = 10**k
        p = int(decimal * scale)
        lo, hi = y_spec.lowest, y_spec.highest
        if k > 6 or abs(p) >= 1024 or lo is None or hi is None or lo < 0 < hi:
            return None  # y's sign not fixed (or an unusual constant): left as it was
        positive = (p >= 0) == (lo >= 0)  # p * y >= 0 for every y accepted
        product: Any = {"$mul": {"$l": Num(p), "$r": {"$m": self.key(other.id)}}}
        if scale == 1:
            floor = ceil = product
        else:
            up = {"$add": {"$l": product, "$r": Num(scale - 1)}}
            down = {"$sub": {"$l": product, "$r": Num(scale - 1)}}
            floor = {"$div": {"$l": product if positive else down, "$r": Num(scale)}}
            ceil = {"$div": {"$l": up if positive else product, "$r": Num(scale)}}
        key = self.key(left.id)
        if op in (">=", "<"):
            return {"$gte" if op == ">=" else "$lt": {key: ceil}}
        if op in (">", "<="):
            return {"$gt" if op == ">" else "$lte": {key: floor}}
        if op == "==":
            return {"$and": [{"$gte": {key: ceil}}, {"$lte": {key: floor}}]}
        return {"$or": [{"$lt": {key: ceil}}, {"$gt": {key: floor}}]}

    # --- rules ------------------------------------------------------------------
    def unmet_condition(self, c: Criterion, spec: Node) -> list[Any] | None:
        """The negated condition, for a criterion whose inputs are all present.

        Rules fire for criteria that are *not* met: each fired rule costs an action
        carrying the whole fact, and most filings meet most criteria (measured 2-3x
        faster than firing on success). Presence is decided in Python (status
        ``missing``), but a comparison whose right side reads an absent field through
        ``$m`` matches (measured), so those fields keep an explicit ``$ex``.
        Returns None when the condition always holds (no rule needed).
        """
        try:
            cond = self.cond(spec, negate=True)
        except _Never:
            return None
        _, referenced = _fields_used(cond)
        needed = [n for n in c.inputs if n != self.act and self.key(n) in referenced]
        parts = self.presence(tuple(needed))
        if cond is not None:
            parts.append(cond)
        return parts

    def compile(self) -> CompiledPolicy:
        p = self.p
        rules: dict[str, Any] = {}
        read_keys: dict[str, set[str]] = {}  # activity -> fact keys its rules read
        specialised: list[dict[str, Node | None]] = []
        applies: list[frozenset[str]] = []
        unmet_rules: list[dict[str, str]] = []
        for i, c in enumerate(p.criteria):
            per_act: dict[str, Node | None] = {}
            by_cond: dict[str, tuple[list[str], list[Any]]] = {}
            for a in p.activities:
                if a not in c.applies_to:
                    per_act[a] = None
                    continue
                spec = specialise(c.ast, {**self.params, self.act: a})
                per_act[a] = spec
                parts = self.unmet_condition(c, spec)
                if parts is None:
                    continue
                # Activities whose specialised condition is the same share one rule.
                by_cond.setdefault(rules_json(parts), ([], parts))[0].append(a)
            names: dict[str, str] = {}
            for n, (acts, parts) in enumerate(by_cond.values()):
                compared, referenced = _fields_used(parts)
                for a in acts:
                    read_keys.setdefault(a, set()).update(compared, referenced)
                    names[a] = f"u:{i}:{n}"
                cond = {"$and": [FILING, self.activity_in(acts), *parts]}
                rules[f"u:{i}:{n}"] = {"all": [{"m": cond}]}
            specialised.append(per_act)
            unmet_rules.append(names)
            applies.append(frozenset(c.applies_to))
        rules["z"] = {"all": [{"m": PRIMER}], "pri": 1000}

        # Phase two, a ruleset of its own (measured: rules of the other phase cost every
        # assertion ~0.5 us each even when their discriminator rules them out), reads a
        # summary fact: u<i> when criterion i is unsatisfied (not met
        # or missing), n<i> when it is not met for any reason (for met() in benefits),
        # and the inputs benefits read. Absent flags keep the fact small.
        summary_rules: dict[str, Any] = {"z": {"all": [{"m": PRIMER}], "pri": 1000}}
        for k in range(len(p.tiers)):
            # The highest tier reached fires alone (tier k reached, k+1 not): one action.
            above = [{"$ex": {f"#u{k + 1}": 1}}] if k + 1 < len(p.tiers) else []
            summary_rules[f"t:{k}:"] = {
                "all": [{"m": {"$and": [SUMMARY, *self.tier_flags(k), *above]}}]
            }
        for j, b in enumerate(p.benefits):
            try:
                cond = self.requirement(b.requires_ast)
            except _Never:
                continue
            summary_rules[f"b:{j}:"] = {
                "all": [{"m": {"$and": [SUMMARY, cond] if cond else [SUMMARY]}}]
            }

        for name, rule in [*rules.items(), *summary_rules.items()]:
            size = _dnf_size(rule["all"][0]["m"])
            if size > MAX_DNF:
                raise PolicyError(
                    [
                        f"{p.source}: rule {name} is too complex for the engine "
                        f"({size} alternative branches); split its 'or' conditions"
                    ]
                )
        self.key(self.act)  # the activity is in every fact, whether or not a rule reads it
        fact_fields = [(key, name, self.inputs[name].type) for name, key in self.fields.items()] + [
            (key, f"{name}\x00{item}", "item") for (name, item), key in self.set_items.items()
        ]
        return CompiledPolicy(
            name=p.key,
            rules=rules,
            summary_rules=summary_rules,
            fact_fields=fact_fields,
            input_types={i.name: i.type for i in p.inputs},
            activity_input=self.act,
            summary_fields=sorted(self.summary_inputs),
            specialised=specialised,
            applies=applies,
            input_sets=[frozenset(c.inputs) for c in p.criteria],
            met_used=frozenset(self.met_used),
            tier_ranks=[tier_ranks(p)[c.tier] for c in p.criteria],
            unmet_rules=unmet_rules,
            read_keys={a: frozenset(read_keys.get(a, ())) for a in p.activities},
            activity_flags={
                a: "".join(f',"{k}":true' for acts, k in self.activity_sets.items() if a in acts)
                for a in p.activities
            },
            savings=[
                saving_function(b.saving_ast, self.params, p.rounding) if b.saving_ast else None
                for b in p.benefits
            ],
        )

    def activity_in(self, acts: list[str]) -> Any:
        """One flag per set of activities: an ``$or`` of activities would multiply the
        engine's branches (measured: 2.4x slower assertions)."""
        if len(acts) == 1:
            return {self.key(self.act): acts[0]}
        key = self.activity_sets.setdefault(frozenset(acts), f"#g{len(self.activity_sets)}")
        return {key: True}

    def tier_flags(self, k: int) -> list[Any]:
        """Tier k is reached when no criterion of tiers 1..k is unsatisfied (cumulative).

        The summary fact carries ``u<r>`` when some criterion of tier rank r is unsatisfied
        (measured: one flag per tier instead of one per criterion makes the summary phase
        about three times cheaper)."""
        return [{"$nex": {f"#u{r}": 1}} for r in range(k + 1)]

    def requirement(self, node: Node) -> Any:
        """A benefit requirement over the summary fact, tiers and met() as flags."""
        ranks = tier_ranks(self.p)
        crit_index = {c.id: i for i, c in enumerate(self.p.criteria)}

        def inline(flags: list[Any]) -> Node:
            name = f"#inlined{len(self.inlined)}"
            self.inlined[name] = flags
            return expr.Name(name)

        def tier_cond(op: str, tier_id: str) -> Node:
            # The type check allows only >= and >: a benefit never rewards falling short.
            k = ranks[tier_id] + (1 if op == ">" else 0)
            if k >= len(ranks):
                return expr.Lit(False)
            return inline(self.tier_flags(k))

        def rewrite(n: Node) -> Node:
            # The type check lets `tier` meet only a tier id, and met() only a criterion id.
            match n:
                case expr.Compare(op=op, left=expr.Name(id="tier"), right=expr.Name(id=tier_id)):
                    return tier_cond(op, tier_id)
                case expr.Compare(op=op, left=expr.Name(id=tier_id), right=expr.Name(id="tier")):
                    return tier_cond(FLIP[op], tier_id)
                case expr.Call(func="met", args=(expr.Name(id=criterion_id),)):
                    i = crit_index[criterion_id]
                    self.met_used.add(i)
                    return inline([{"$nex": {f"#n{i}": 1}}])
                case expr.Not(operand=operand):
                    return expr.Not(rewrite(operand))
                case expr.BoolOp(op=op, values=values):
                    return expr.BoolOp(op, tuple(rewrite(v) for v in values))
            return n

        node = rewrite(specialise(node, self.params))
        read = sorted(x for x in expr.names(node) if x in self.inputs)
        self.summary_inputs.update(read)
        presence = self.presence(tuple(read))
        cond = self.cond(node)
        parts = [*presence, cond] if cond is not None else presence
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else {"$and": parts}


def _fields_used(cond: Any) -> tuple[set[str], set[str]]:
    """Fact keys a condition compares directly, and keys it reads through ``$m``."""
    compared: set[str] = set()
    referenced: set[str] = set()

    def walk(node: Any, top: bool) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "$m":
                    referenced.add(v)
                elif k in ("$and", "$or"):
                    for x in v:
                        walk(x, True)
                elif k.startswith("$"):
                    walk(v, top)
                else:
                    if top:
                        compared.add(k)
                    walk(v, False)
        elif isinstance(node, list):
            for x in node:
                walk(x, top)

    walk(cond, True)
    return compared, referenced


def _dnf_size(cond: Any) -> int:
    if isinstance(cond, dict):
        if "$or" in cond:
            return sum(_dnf_size(c) for c in cond["$or"])
        if "$and" in cond:
            size = 1
            for c in cond["$and"]:
                size *= _dnf_size(c)
            return size
    return 1


def compile_policy(policy: Policy) -> CompiledPolicy:
    """Compile (once per policy object) and cache on it."""
    compiled: CompiledPolicy | None = policy._compiled
    if compiled is None:
        compiled = policy._compiled = _Compiler(policy).compile()
    return compiled
