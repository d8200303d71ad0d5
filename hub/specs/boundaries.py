"""Boundary coverage: does some scenario sit below, on and above every comparison?

Every comparison in a criterion's condition (as specialised for each activity:
parameters and the activity folded in, exactly what the compiler turns into
rules) and in a benefit's requirement (``tier >= T2`` included) has a
boundary. The specs pin that boundary down only if, for each comparison, some
scenario decides a company just below it, some exactly on it and some above
it, and the outcome of that scenario depends on that comparison.

:class:`BoundaryCoverage` watches the decisions a spec run makes (pass
``observe=coverage.observe`` to :meth:`hub.specs.SpecSuite.run`). For each
decision made under its policy it evaluates every comparison with the values
read, and records on which side of its boundary the company was, counting an
observation only when

- the scenario carries the tag of the criterion or benefit (``@kyc_baseline``),
  so it asserts something about it, and
- the comparison decides the outcome: flipping its truth value alone would
  flip the criterion's (or the requirement's) result. A company at exactly 95%
  whose tier is held back by another conjunct proves nothing about ``>= 95``.

Sides:

- ordered comparisons (``< <= > >=``) and ``== !=`` between numbers, dates or
  tiers: ``below``, ``on``, ``above`` the boundary (the input's value against
  the other side's), where the input's domain allows it: ``>= 100`` on a
  percentage (at most 100) has no ``above``; ``tier >= T3`` with T3 the highest
  tier has none either; an integer input never sits on 2.5;
- ``==`` and ``!=`` between yes/no answers or choices: ``equal``, ``different``;
- ``in`` and ``not in``: ``in``, ``out``; ``contains``: ``all``, ``not all``.

A requirement's side no company can be decided on (tiers and ``met(...)``
constrain each other) is not asked for either: :meth:`BoundaryCoverage.reachable`
derives it and :attr:`Comparison.unreachable` names it.

:meth:`BoundaryCoverage.gaps` lists the sides no scenario reached.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from hub.policy import Policy
from hub.policy import expr as ex
from hub.policy.compiler import compile_policy
from hub.policy.decision import Decision
from hub.policy.evaluate import FLIP, Missing, specialise, to_callable
from hub.policy.outcome import NO_TIER, requirement_env, tier_ranks

from .runner import CompiledScenario

ORDERED = ("<", "<=", ">", ">=")
THREE_WAY = ("below", "on", "above")
TYPES_WITH_ORDER = {"number", "integer", "date", "tier"}


@dataclass(frozen=True)
class Comparison:
    """One comparison of a criterion or benefit, as the engine sees it.

    ``subject``: the criterion or benefit id; ``text``: the comparison in words,
    input first (``kyc_verified_clients_pct ≥ 95``); ``sides``: the sides a
    scenario must reach, in order.
    """

    subject: str
    rule: str  # the whole specialised condition or requirement the comparison is part of
    text: str
    kind: str  # "order", "equality", "membership" or "containment"
    sides: tuple[str, ...]
    #: sides the input's domain has but where no company can be decided by the comparison
    #: (a benefit's tier and met() constrain each other; see BoundaryCoverage.reachable)
    unreachable: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        if self.rule == self.text:
            return f"{self.subject}: {self.text}"
        return f"{self.subject}: {self.text} (in {self.rule})"


@dataclass
class BoundaryCoverage:
    """The sides of every comparison of ``policy`` that deciding scenarios reached."""

    policy: Policy
    comparisons: dict[tuple[str, str, str], Comparison] = field(default_factory=dict)
    #: comparison key -> side -> the scenarios ("file:line name") that reached it
    reached: dict[tuple[str, str, str], dict[str, list[str]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        p = self.policy
        compiled = compile_policy(p)
        self._ranks = tier_ranks(p)
        self._types = {i.name: i.type for i in p.inputs}
        self._specs = p.inputs_by_name
        #: benefit index -> its requirement with the parameters folded in
        self._requires = [specialise(b.requires_ast, p.parameter_values) for b in p.benefits]
        self._criteria = compiled.specialised
        for i, c in enumerate(p.criteria):
            for node in self._criteria[i].values():
                if node is None:  # not applicable to that activity
                    continue
                for cmp in _comparisons(node):
                    self._declare(c.id, node, cmp)
        for b, node in zip(p.benefits, self._requires, strict=True):
            for cmp in _comparisons(node):
                self._declare(b.id, node, cmp, requirement=True)

    # --- what there is to reach ---------------------------------------------------
    def _declare(
        self, subject: str, rule: ex.Node, node: ex.Compare, requirement: bool = False
    ) -> None:
        """A comparison is one per subject, specialised rule and text: activities whose
        conditions specialise alike share one compiled rule, the others do not (a miner's
        licence expiry is checked by another rule than an exchange's)."""
        key = self._key(subject, rule, node)
        if key not in self.comparisons:
            op, var, const = self._orient(node)
            kind = self._kind(op, var)
            sides = {
                "membership": ("in", "out"),
                "containment": ("all", "not all"),
                "equality": ("equal", "different"),
            }.get(kind) or tuple(s for s in THREE_WAY if self._possible(s, var, const))
            gone: tuple[str, ...] = ()
            if requirement:
                gone = tuple(s for s in sides if not self.reachable(rule, node, s))
            kept = tuple(s for s in sides if s not in gone)
            self.comparisons[key] = Comparison(subject, key[1], key[2], kind, kept, gone)
            self.reached[key] = {}

    def _key(self, subject: str, rule: ex.Node, node: ex.Compare) -> tuple[str, str, str]:
        return subject, ex.to_text(rule), ex.to_text(ex.Compare(*self._orient(node)))

    def _kind(self, op: str, var: ex.Node) -> str:
        if op in ("in", "notin"):
            return "membership"
        if op == "contains":
            return "containment"
        if op in ORDERED or self._type(var) in TYPES_WITH_ORDER:
            return "order"
        return "equality"

    def _orient(self, node: ex.Compare) -> tuple[str, ex.Node, ex.Node]:
        """(operator, the side that varies, the other): the input goes first."""
        if node.op in FLIP and self._constant(node.left) and not self._constant(node.right):
            return FLIP[node.op], node.right, node.left
        return node.op, node.left, node.right

    def _constant(self, node: ex.Node) -> bool:
        return isinstance(node, ex.Lit) or (isinstance(node, ex.Name) and node.id in self._ranks)

    def _type(self, node: ex.Node) -> str:
        if isinstance(node, ex.Name):
            if node.id == "tier" or node.id in self._ranks:
                return "tier"
            if node.id == "as_of":
                return "date"
            return self._types.get(node.id, "?")
        if isinstance(node, ex.Arith | ex.Neg):
            return "number"
        if isinstance(node, ex.Lit) and type(node.value) in (int, float):
            return "number"
        return "?"

    def _possible(self, side: str, var: ex.Node, const: ex.Node) -> bool:
        """Whether the input's domain has a value on that side of a constant boundary."""
        if not isinstance(var, ex.Name):
            return True
        lo: float | None  # the input's domain (None: unbounded on that side)
        hi: float | None
        if var.id == "tier" and isinstance(const, ex.Name) and const.id in self._ranks:
            lo, hi, bound, integral = -1, len(self._ranks) - 1, self._ranks[const.id], True
        elif isinstance(const, ex.Lit) and var.id in self._specs:
            spec = self._specs[var.id]
            if spec.type not in ("number", "integer"):
                return True
            lo, hi, bound = spec.min, spec.max, const.value
            integral = spec.type == "integer"
        else:
            return True
        if side == "below":
            return lo is None or lo < bound
        if side == "above":
            return hi is None or hi > bound
        inside = (lo is None or lo <= bound) and (hi is None or bound <= hi)
        return inside and not (integral and not float(bound).is_integer())

    def reachable(self, rule: ex.Node, node: ex.Compare, side: str) -> bool:
        """Whether some company sits on ``side`` of a requirement's comparison with the
        requirement's outcome decided by it.

        The requirement's world is the activity, the tier reached and the criteria met
        that it names (``met(...)``): every combination the policy allows is tried, each
        applicable criterion taken as free to be met or not (so the answer errs towards
        "reachable": a side it rules out is truly out of reach). A tier k is reached
        when every applicable criterion of tiers up to k is met and one of tier k+1 is
        not; a criterion is met only where it applies. Comparisons of other inputs take
        either value; the side of such a comparison itself is taken as reachable."""
        p = self.policy
        act = p.applicability_input
        comps = list(_comparisons(rule))
        targets = sorted(ex.met_targets(rule))
        rank_of = {c.id: self._ranks[c.tier] for c in p.criteria}
        applies = {c.id: set(c.applies_to) for c in p.criteria}
        top = len(self._ranks) - 1

        def world_bound(c: ex.Compare) -> bool:
            names = ex.names(c)
            return names <= {"tier", act, *self._ranks} and bool(names & {"tier", act})

        if not world_bound(node):
            return True
        free = [c for c in comps if not world_bound(c)]
        for a in p.activities:
            here = [c.id for c in p.criteria if a in applies[c.id]]
            for k in range(-1, top + 1):
                if k < top and not any(rank_of[c] == k + 1 for c in here):
                    continue  # nothing of tier k+1 applies: reaching k reaches k+1
                for flags in itertools.product((True, False), repeat=len(targets)):
                    met = {t for t, f in zip(targets, flags, strict=True) if f}
                    if not self._consistent(a, k, met, targets, here, rank_of, top):
                        continue
                    env = requirement_env(p, {act: a}, k, met)
                    op, var, const = self._orient(node)
                    holds = bool(to_callable(node)(env))
                    if _side(self._kind(op, var), op, to_callable(var)(env),
                             to_callable(const)(env), holds) != side:  # fmt: skip
                        continue
                    fixed = {id(c): bool(to_callable(c)(env)) for c in comps if world_bound(c)}
                    for values in itertools.product((True, False), repeat=len(free)):
                        truths = {**fixed, **{id(c): v for c, v in zip(free, values, strict=True)}}
                        try:
                            outcome = _truth(rule, env, truths)
                            flipped = _truth(rule, env, {**truths, id(node): not holds})
                        except Missing:
                            return True  # a leaf this reasoning cannot value: assume reachable
                        if outcome != flipped:
                            return True
        return False

    @staticmethod
    def _consistent(
        activity: str,
        k: int,
        met: set[str],
        targets: list[str],
        here: list[str],
        rank_of: dict[str, int],
        top: int,
    ) -> bool:
        """Whether tier ``k`` can be reached with exactly ``met`` among ``targets`` met."""
        for t in targets:
            if t in met and t not in here:
                return False  # a criterion that does not apply is never met
            if t not in met and t in here and rank_of[t] <= k:
                return False  # tier k needs every criterion up to k met
        if k < top:  # some criterion of tier k+1 must fail: one not forced met
            return any(rank_of[c] == k + 1 and c not in met for c in here)
        return True

    # --- watching a run -------------------------------------------------------------
    def observe(self, scenario: CompiledScenario, decision: Decision) -> None:
        """Record the sides one decision of one scenario reached (a spec-run observer)."""
        p = self.policy
        if decision.policy.digest != p.digest:
            return  # a date-selection scenario decided under another version
        tags = set(scenario.tags)
        filing = decision.filing
        activity = filing[p.applicability_input]
        env: dict[str, Any] = {**p.parameter_values, **filing, "as_of": decision.as_of.isoformat()}
        where = f"{scenario.uri}:{scenario.line} {scenario.name}"
        for i, c in enumerate(p.criteria):
            if f"@{c.id}" in tags and decision.statuses[i] in ("met", "not_met"):
                node = self._criteria[i][activity]
                if node is not None:
                    self._record(c.id, node, env, where)
        benefit_env = requirement_env(
            p,
            filing,
            self._ranks[decision.tier] if decision.tier else NO_TIER,
            (c.id for c, s in zip(p.criteria, decision.statuses, strict=True) if s == "met"),
            decision.as_of,
        )
        for b, node in zip(p.benefits, self._requires, strict=True):
            if f"@{b.id}" in tags:
                self._record(b.id, node, benefit_env, where)

    def _record(self, subject: str, node: ex.Node, env: dict[str, Any], where: str) -> None:
        cmps = list(_comparisons(node))
        try:
            truths = {id(c): bool(to_callable(c)(env)) for c in cmps}
        except Missing:
            return  # an input the requirement reads is absent: it does not hold, nothing sits
        outcome = _truth(node, env, truths)
        for c in cmps:
            flipped = {**truths, id(c): not truths[id(c)]}
            if _truth(node, env, flipped) == outcome:
                continue  # this comparison did not decide the outcome
            key = self._key(subject, node, c)
            op, var, const = self._orient(c)
            holds = truths[id(c)]
            side = _side(self.comparisons[key].kind, op, to_callable(var)(env),
                         to_callable(const)(env), holds)  # fmt: skip
            self.reached[key].setdefault(side, []).append(where)

    # --- the verdict ------------------------------------------------------------------
    def gaps(self) -> list[tuple[Comparison, tuple[str, ...]]]:
        """Each comparison with a side no deciding scenario reached, and those sides."""
        out = []
        for key, cmp in self.comparisons.items():
            missing = tuple(s for s in cmp.sides if s not in self.reached[key])
            if missing:
                out.append((cmp, missing))
        return out


def _comparisons(node: ex.Node | None) -> Iterator[ex.Compare]:
    """The comparisons of a (specialised) condition, in reading order."""
    if node is None:
        return
    if isinstance(node, ex.Compare):
        yield node
        return
    for child in ex.children(node):
        yield from _comparisons(child)


def _truth(node: ex.Node, env: dict[str, Any], truths: dict[int, bool]) -> bool:
    """The condition's value with each comparison's value taken from ``truths``."""
    if isinstance(node, ex.Compare):
        return truths[id(node)]
    if isinstance(node, ex.BoolOp):
        parts = [_truth(v, env, truths) for v in node.values]
        return all(parts) if node.op == "and" else any(parts)
    if isinstance(node, ex.Not):
        return not _truth(node.operand, env, truths)
    return bool(to_callable(node)(env))


def _side(kind: str, op: str, value: Any, bound: Any, holds: bool) -> str:
    if kind == "membership":
        return "in" if holds == (op == "in") else "out"
    if kind == "containment":
        return "all" if holds else "not all"
    if kind == "equality":
        return "equal" if value == bound else "different"
    if value < bound:
        return "below"
    return "on" if value == bound else "above"
