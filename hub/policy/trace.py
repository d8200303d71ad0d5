"""The trace of a decision: how each criterion, the tier and each benefit was decided.

What an auditor of a tax decision asks for, in the spirit of OpenFisca's tracer
(every variable with the parameters and inputs it used) and zen-engine's ``trace``
(every node with what it read and what it gave): per criterion, the condition as
written and as specialised for the filing's activity, the parameter values it used,
the values it read (or that were absent), the engine rule compiled for it and the
rules that fired; for the decision, the tier rules and benefit rules that fired in
phase two, and per benefit its requirement and saving formula with the values used.

A trace is built beside a decision, never inside it: ``decide`` hands out the rules
that fired only when asked, so a decision without a trace costs exactly what it did.
The decision's JSON with a trace is the same bytes with one more key, ``trace``
(which sorts last), so a client that ignores it sees the same answer.

Shape (JSON; ``hub/api/docs.py`` documents it in the OpenAPI document)::

    {"policy": {"key", "id", "version", "digest"}, "as_of": "YYYY-MM-DD",
     "activity": "...", "rules_fired": ["u:3:0", "t:0:", "b:0:", ...],
     "criteria": [{"id", "tier", "status", "reason", "condition", "specialised",
                   "parameters": {name: value}, "read": {name: value},
                   "absent": [name], "rule": "u:3:0" | null, "fired": [rule]}],
     "tier": {"reached", "rules": {tier: rule}, "fired": [rule],
              "unsatisfied": {tier: [criterion]}},
     "benefits": [{"id", "granted", "requirement", "specialised", "parameters",
                   "read", "absent", "rule", "fired": [rule],
                   "saving": null | {"formula", "specialised", "parameters", "read",
                                     "absent", "computation", "value"}}]}

``read`` names the inputs the expression names (with their validated values), and
also ``as_of`` when a condition reads the date; in a benefit's requirement ``tier``
(the tier reached) and ``met(criterion)`` (true or false). Inputs not in the filing
are listed in ``absent`` instead. A mapping parameter indexed by the activity
(``required_licence[activity]``) shows only the entry used.

Engine rules (see compiler.py): ``u:<i>:<n>`` fires when criterion i is not met for
a group of activities; ``t:<k>:`` when tier k is the highest reached; ``b:<j>:``
when benefit j is granted. Statuses follow the policy page: ``not_applicable`` from
the activity, ``missing`` from the inputs present (decided before the engine's
answer is read: a ``u`` rule may fire for a missing criterion through a part of its
condition whose inputs are present, and the trace shows it), ``not_met`` when the
criterion's ``u`` rule fired, ``met`` otherwise.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, TypedDict

import orjson

from . import expr
from .compiler import compile_policy
from .decision import Decision, decide
from .evaluate import specialise
from .expr import Node
from .filing import validate_filing
from .model import Policy
from .outcome import SATISFIED
from .shown import format_number


class CriterionTrace(TypedDict):
    """How one criterion was decided (see the module docstring for each field)."""

    id: str
    tier: str
    status: str
    reason: str
    condition: str
    specialised: str | None
    parameters: dict[str, Any]
    read: dict[str, Any]
    absent: list[str]
    rule: str | None
    fired: list[str]


class SavingTrace(TypedDict):
    """A benefit's saving formula, as written, as specialised and with the values used."""

    formula: str
    specialised: str
    parameters: dict[str, Any]
    read: dict[str, Any]
    absent: list[str]
    computation: str | None
    value: Any


class BenefitTrace(TypedDict):
    """How one benefit was granted or not."""

    id: str
    granted: bool
    requirement: str
    specialised: str
    parameters: dict[str, Any]
    read: dict[str, Any]
    absent: list[str]
    rule: str | None
    fired: list[str]
    saving: SavingTrace | None


class TierTrace(TypedDict):
    """Phase two's tier rules: the tier reached, the rule of each tier, the rules that
    fired, and per tier the criteria of that tier left unsatisfied (not met or missing)."""

    reached: str | None
    rules: dict[str, str]
    fired: list[str]
    unsatisfied: dict[str, list[str]]


class Trace(TypedDict):
    """The whole trace of one decision."""

    policy: dict[str, str]
    as_of: str
    activity: str
    rules_fired: list[str]
    criteria: list[CriterionTrace]
    tier: TierTrace
    benefits: list[BenefitTrace]


def assess_traced(policy: Policy, filing: Any, as_of: dt.date) -> tuple[Decision, Trace]:
    """Validate and decide, as ``assess``, and trace the decision.

    Raises ``FilingInvalid`` before anything is evaluated, as ``assess`` does."""
    return decide_traced(policy, validate_filing(policy, filing), as_of)


def decide_traced(policy: Policy, clean: dict[str, Any], as_of: dt.date) -> tuple[Decision, Trace]:
    """``decide`` on a validated filing, and the trace of that very evaluation."""
    fired: list[str] = []
    decision = decide(policy, clean, as_of, fired)
    return decision, build_trace(decision, fired)


def build_trace(decision: Decision, fired: list[str]) -> Trace:
    """The trace of ``decision``, given the engine rules that fired while deciding it."""
    p = decision.policy
    compiled = compile_policy(p)
    clean = decision.filing
    act = p.applicability_input
    activity = clean[act]
    as_of = decision.as_of.isoformat()
    statuses = decision.statuses

    criteria: list[CriterionTrace] = []
    for i, c in enumerate(p.criteria):
        spec = compiled.specialised[i][activity]
        status = statuses[i]
        read, absent = _reads(p, c.ast, clean, as_of)
        prefix = f"u:{i}:"
        mine = [name for name in fired if name.startswith(prefix)]
        rule = compiled.unmet_rules[i].get(activity)
        criteria.append(
            {
                "id": c.id,
                "tier": c.tier,
                "status": status,
                "reason": _reason(status, activity, c.applies_to, rule, absent),
                "condition": c.condition,
                "specialised": None if spec is None else expr.to_text(spec),
                "parameters": _parameters(p, c.ast, activity),
                "read": read,
                "absent": absent,
                "rule": rule,
                "fired": mine,
            }
        )

    tier_rules = {t.id: f"t:{k}:" for k, t in enumerate(p.tiers)}
    unsatisfied: dict[str, list[str]] = {t.id: [] for t in p.tiers}
    for c, status in zip(p.criteria, statuses, strict=True):
        if status not in SATISFIED:
            unsatisfied[c.tier].append(c.id)
    tier: TierTrace = {
        "reached": decision.tier,
        "rules": tier_rules,
        "fired": [name for name in fired if name.startswith("t:")],
        "unsatisfied": unsatisfied,
    }

    granted = dict(zip(decision.benefit_ids, decision.savings, strict=True))
    met = {c.id: s == "met" for c, s in zip(p.criteria, statuses, strict=True)}
    benefits: list[BenefitTrace] = []
    for j, b in enumerate(p.benefits):
        rule = f"b:{j}:"
        requirement = specialise(b.requires_ast, {**p.parameter_values, act: activity})
        read, absent = _reads(p, b.requires_ast, clean, as_of)
        if "tier" in expr.names(b.requires_ast):
            read["tier"] = decision.tier
        for target in sorted(expr.met_targets(b.requires_ast)):
            read[f"met({target})"] = met.get(target, False)
        benefits.append(
            {
                "id": b.id,
                "granted": b.id in granted,
                "requirement": b.requires,
                "specialised": expr.to_text(requirement),
                "parameters": _parameters(p, b.requires_ast, activity),
                "read": read,
                "absent": absent,
                "rule": rule if rule in compiled.summary_rules else None,
                "fired": [name for name in fired if name == rule],
                "saving": _saving(p, b.saving, b.saving_ast, clean, activity, granted.get(b.id)),
            }
        )

    return {
        "policy": {"key": p.key, "id": p.id, "version": p.version, "digest": p.digest},
        "as_of": as_of,
        "activity": activity,
        "rules_fired": list(fired),
        "criteria": criteria,
        "tier": tier,
        "benefits": benefits,
    }


def _reason(status: str, activity: str, applies_to: tuple[str, ...], rule: str | None,
            absent: list[str]) -> str:  # fmt: skip
    """Why the status is what it is, in words (the rules are in ``rule`` and ``fired``)."""
    if status == "not_applicable":
        return f"does not apply to activity {activity} (applies to: {', '.join(applies_to)})"
    if status == "missing":
        return f"not provided: {', '.join(absent)}"
    if status == "not_met":
        return "the condition does not hold"
    if rule is None:
        return "the condition always holds for this activity (no engine rule tests it)"
    return "the condition holds"


def _reads(
    p: Policy, node: Node, clean: dict[str, Any], as_of: str
) -> tuple[dict[str, Any], list[str]]:
    """The inputs the expression names, present (name -> value) and absent, and the
    assessment date when it reads ``as_of``."""
    named = expr.names(node)
    inputs = p.inputs_by_name
    read: dict[str, Any] = {}
    absent: list[str] = []
    for name in sorted(n for n in named if n in inputs):
        if clean.get(name) is None:
            absent.append(name)
        else:
            read[name] = clean[name]
    if "as_of" in named and "as_of" not in inputs:
        read["as_of"] = as_of
    return read, absent


def _parameters(p: Policy, node: Node, activity: str) -> dict[str, Any]:
    """The parameters an expression names, with their values; a mapping indexed by an
    expression that is constant for the activity shows only the entry used (an entry
    the mapping lacks shows as null)."""
    params = p.parameter_values
    known = {p.applicability_input: activity}
    out: dict[str, Any] = {}

    def walk(n: Node) -> None:
        if isinstance(n, expr.Index) and n.base.id in params:
            mapping = params[n.base.id]
            key = specialise(n.key, {**params, **known})
            if isinstance(mapping, dict) and isinstance(key, expr.Lit):
                used = out.setdefault(n.base.id, {})
                if isinstance(used, dict) and used is not mapping:
                    used[key.value] = mapping.get(key.value)
            else:
                out[n.base.id] = mapping
            walk(n.key)
            return
        if isinstance(n, expr.Name) and n.id in params:
            out[n.id] = params[n.id]
            return
        for child in expr.children(n):
            walk(child)

    walk(node)
    return dict(sorted(out.items()))


def _saving(
    p: Policy,
    formula: str | None,
    node: Node | None,
    clean: dict[str, Any],
    activity: str,
    value: Any,
) -> SavingTrace | None:
    """The saving formula with the values used; ``value`` is the decision's own estimate
    (None when the benefit is not granted or an input it needs is absent)."""
    if node is None or formula is None:
        return None
    spec = specialise(node, p.parameter_values)
    read, absent = _reads(p, node, clean, "")
    read.pop("as_of", None)
    computation = None
    if not absent:
        computation = expr.to_text(
            spec, lambda n: format_number(clean[n]) if clean.get(n) is not None else None
        )
    return {
        "formula": formula,
        "specialised": expr.to_text(spec),
        "parameters": _parameters(p, node, activity),
        "read": read,
        "absent": absent,
        "computation": computation,
        "value": value,
    }


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def trace_json(trace: Trace) -> bytes:
    """The trace as JSON with sorted keys (the same bytes for the same decision)."""
    return orjson.dumps(trace, option=orjson.OPT_SORT_KEYS, default=_default)


def with_trace(decision_json: bytes, trace: Trace) -> bytes:
    """A decision's JSON (``Decision.to_json``) with the trace as its last key.

    The decision's keys are sorted and ``trace`` sorts after all of them, so the
    result is still sorted, and everything before the trace is byte for byte the
    answer without it."""
    if not decision_json.endswith(b"}"):
        raise ValueError("not a decision's JSON object")
    return decision_json[:-1] + b',"trace":' + trace_json(trace) + b"}"


def _value_text(value: Any) -> str:
    """A value exactly as read (never rounded: 94.9999999 is not 95 beside a 95)."""
    if value is None:
        return "none"
    return "true" if value is True else "false" if value is False else format_number(value)


def value_texts(values: dict[str, Any]) -> list[str]:
    """``name = value`` for each value a trace read, as people read them."""
    return [f"{k} = {_value_text(v)}" for k, v in values.items()]


def parameter_texts(values: dict[str, Any]) -> list[str]:
    """``name = value`` for each parameter a trace used; a mapping's entries used as
    ``name[key] = value``."""
    shown = []
    for name, value in values.items():
        if isinstance(value, dict):
            shown += [f"{name}[{k}] = {_value_text(v)}" for k, v in value.items()]
        else:
            shown.append(f"{name} = {_value_text(value)}")
    return shown


def _pairs(values: dict[str, Any]) -> str:
    return "; ".join(value_texts(values))


def _parameter_pairs(values: dict[str, Any]) -> str:
    return "; ".join(parameter_texts(values))


def criterion_lines(c: CriterionTrace) -> list[str]:
    """A criterion's trace as lines of text (``hub assess --trace``)."""
    lines = [f"condition:    {c['condition']}"]
    if c["specialised"] is not None:
        lines.append(f"specialised:  {c['specialised']}")
    if c["parameters"]:
        lines.append(f"parameters:   {_parameter_pairs(c['parameters'])}")
    if c["read"]:
        lines.append(f"read:         {_pairs(c['read'])}")
    if c["absent"]:
        lines.append(f"absent:       {', '.join(c['absent'])}")
    rule = c["rule"] or "none"
    fired = ", ".join(c["fired"]) or "none"
    lines.append(f"engine:       rule {rule}, fired: {fired}: {c['reason']}")
    return lines


def decision_lines(trace: Trace) -> list[str]:
    """The tier's and the benefits' trace as lines of text (``hub assess --trace``)."""
    t = trace["tier"]
    rules = ", ".join(f"{k} {v}" for k, v in t["rules"].items())
    lines = [
        f"policy {trace['policy']['key']}, as of {trace['as_of']}, activity {trace['activity']}",
        f"tier: {t['reached'] or 'none'}; fired: {', '.join(t['fired']) or 'none'} "
        f"(tier rules: {rules})",
    ]
    for tier_id, blocked in t["unsatisfied"].items():
        if blocked:
            lines.append(f"  {tier_id} unsatisfied: {', '.join(blocked)}")
    for b in trace["benefits"]:
        state = "granted" if b["granted"] else "not granted"
        fired = ", ".join(b["fired"]) or "none"
        lines.append(f"benefit {b['id']}: {state}; rule {b['rule'] or 'none'}, fired: {fired}")
        lines.append(f"  requirement:  {b['requirement']}")
        lines.append(f"  specialised:  {b['specialised']}")
        if b["parameters"]:
            lines.append(f"  parameters:   {_parameter_pairs(b['parameters'])}")
        if b["read"]:
            lines.append(f"  read:         {_pairs(b['read'])}")
        s = b["saving"]
        if s is not None:
            lines.append(f"  saving:       {s['formula']} = {s['specialised']}")
            if s["computation"] is not None:
                shown = "not granted" if not b["granted"] else "not estimated"
                if s["value"] is not None:
                    shown = _value_text(s["value"])
                lines.append(f"                = {s['computation']} → {shown}")
            elif s["absent"]:
                lines.append(f"                absent: {', '.join(s['absent'])}")
    return lines
