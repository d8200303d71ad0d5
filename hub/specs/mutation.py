"""Threshold mutants of a policy text: do the specs notice when a number moves?

A spec suite that passes whatever the thresholds are proves nothing. Each
mutant nudges one numeric parameter, once towards easier and once towards
harder, by the smallest meaningful step and by a few percent, editing only
that number in the text (comments and layout stay, so the mutant is what an
author's slip would look like). Rule mutants change the rules instead: a
criterion moved to another tier or losing an activity, a benefit requiring
another tier, and one operator of a condition or requirement changed
(``>=`` to ``>``, ``>`` to ``>=``, ``<=`` to ``<``, ``<`` to ``<=``, ``==`` to
``!=`` and back, ``and`` to ``or`` and back). Every mutant names its
:attr:`Mutant.kind`, so a run can say how many of each kind the specs kill.
"""

from __future__ import annotations

import math
import os
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import yaml

from hub.policy import Policy, PolicyError, expr, load_policy_text, yaml12

from .runner import SpecSuite, default_policies_dir, load_catalogue


@dataclass(frozen=True)
class Mutant:
    """One edit of a policy text: ``text`` is the whole mutated file.

    ``parameter``: the parameter, or "criterion.field" / "benefit.field" for a rule
    mutant; ``kind``: "threshold", "tier", "applies_to", "required tier" or an
    operator change such as ">= to >" (see :data:`OPERATOR_MUTATIONS`).
    """

    parameter: str
    old: object
    new: object
    text: str
    kind: str = "threshold"
    detail: str = ""  # an operator mutant's expression as mutated

    @property
    def label(self) -> str:
        where = f" in `{self.detail}`" if self.detail else ""
        return f"{self.parameter}: {self.old} -> {self.new}{where}"


def nudges(value: int | float) -> list[int | float]:
    """Values near ``value`` on both sides: the smallest step in its own precision and ~2-5%.

    Integers move by 1 and, when large, by 2% (50,000,000 -> 49,000,000); decimals
    move by one unit of their last digit (0.8 -> 0.7, 33.3 -> 33.2) and by 5%
    (0.8 -> 0.76, 0.2 -> 0.21). Integral values stay integral, since a threshold
    of 2.85 staff means the same as 3 to an integer input.
    """
    out: list[int | float] = []
    if isinstance(value, bool):
        return out
    if isinstance(value, int) or float(value).is_integer():
        v = int(value)
        steps = {1}
        if abs(v) >= 1000:
            steps.add(max(1, round(abs(v) * 0.02)))
        for s in sorted(steps):
            out += [v - s, v + s]
        return out
    exponent = Decimal(repr(float(value))).normalize().as_tuple().exponent
    unit = 10.0 ** int(exponent) if isinstance(exponent, int) else 0.0
    digits = max(0, -int(exponent)) + 2 if isinstance(exponent, int) else 6
    for cand in (value - unit, value + unit, value * 0.95, value * 1.05):
        c = round(cand, digits)
        if math.isfinite(c) and c != value and c not in out:
            out.append(c)
    return out


def numeric_parameters(text: str) -> list[tuple[str, int | float, int, int]]:
    """(name, value, start, end) of every numeric parameter value in a policy text.

    Parameters are ``name: {value: 95, ...}`` or ``name: 95`` entries of the
    top-level ``parameters:`` mapping, numbers as the loader reads them (YAML 1.2,
    ``hub.policy.yaml12``); start/end are character offsets of the number in the
    text, so it can be replaced without re-dumping the YAML.
    """
    root = yaml12.compose(text)
    if not isinstance(root, yaml.MappingNode):
        return []
    params = next((v for k, v in root.value if k.value == "parameters"), None)
    if not isinstance(params, yaml.MappingNode):
        return []
    out = []
    for key, node in params.value:
        scalar = node
        if isinstance(node, yaml.MappingNode):
            scalar = next((v for k, v in node.value if k.value == "value"), None)
        if not isinstance(scalar, yaml.ScalarNode) or scalar.tag != yaml12.PLAIN_TAG:
            continue  # quoted: text, which the loader refuses where a number is expected
        # Read as the loader reads it (YAML 1.2): 5e1 and 0o62 are 50, which YAML 1.1 reads
        # as text (and would leave unmutated).
        value = yaml12.core_value(scalar.value)
        if isinstance(value, int | float) and not isinstance(value, bool):
            if isinstance(value, float) and not math.isfinite(value):
                continue  # refused by the loader ("must be a finite number")
            out.append((key.value, value, scalar.start_mark.index, scalar.end_mark.index))
    return out


def threshold_mutants(text: str) -> Iterator[Mutant]:
    """Every one-number mutant of the policy's numeric parameters, both directions."""
    for name, value, start, end in numeric_parameters(text):
        for new in nudges(value):
            yield Mutant(name, value, new, text[:start] + _fmt(new) + text[end:], "threshold")


def _fmt(value: int | float) -> str:
    if isinstance(value, int):
        return str(value)
    text = repr(float(value))
    return text if "e" not in text else f"{value:.12f}".rstrip("0")


#: operator -> the operator its mutant uses (comparisons in criteria and in requirements,
#: tier comparisons included; the loader refuses "tier <= T2", so tiers never get < or <=)
OPERATOR_MUTATIONS = {
    ">=": ">",
    ">": ">=",
    "<=": "<",
    "<": "<=",
    "==": "!=",
    "!=": "==",
    "and": "or",
    "or": "and",
}


def operator_mutants(text: str, node: yaml.Node, label: str) -> Iterator[Mutant]:
    """One mutant per operator of the expression held in a YAML scalar ``node``.

    The expression is tokenised where it stands in the file (a folded block scalar
    starts after its indicator line; a quoted one inside its quotes), so strings
    and names are never touched and the rest of the file stays byte for byte.
    """
    if not isinstance(node, yaml.ScalarNode):
        return
    start, end = node.start_mark.index, node.end_mark.index
    raw = text[start:end]
    if node.style in (">", "|"):
        skip = raw.find("\n") + 1 if "\n" in raw else len(raw)
    elif node.style in ("'", '"'):
        skip, raw = 1, raw[:-1]
    else:
        skip = 0
    try:
        found = expr.tokens(raw[skip:])
    except expr.ExprError:
        return  # the loader reports it; nothing to mutate
    for kind, tok, offset in found:
        new = OPERATOR_MUTATIONS.get(tok) if kind in ("op", "name") else None
        if new is None:
            continue
        at = start + skip + offset
        body = raw[skip:]
        mutated = " ".join((body[:offset] + new + body[offset + len(tok) :]).split())
        edited = text[:at] + new + text[at + len(tok) :]
        yield Mutant(label, tok, new, edited, f"{tok} to {new}", mutated)


def structural_mutants(text: str) -> Iterator[Mutant]:
    """One-edit mutants of the rules themselves, not their numbers.

    For every criterion: its tier moved to each other tier (kind "tier"); each
    operator of its condition changed (:func:`operator_mutants`); its
    ``applies_to`` narrowed by one activity (or widened from "all but" to all)
    (kind "applies_to"). For every benefit: each tier it requires moved to each
    other tier (kind "required tier") and each operator of its requirement
    changed. Specs that pin the policy down fail on every one of them, but for
    equivalent mutants (which no filing can tell apart from the original).
    """
    root = yaml12.compose(text)
    if not isinstance(root, yaml.MappingNode):
        return
    top = {k.value: v for k, v in root.value}
    tiers = [_get(t, "id") for t in getattr(top.get("tiers"), "value", [])]
    tier_ids = [t.value for t in tiers if isinstance(t, yaml.ScalarNode)]
    for node in getattr(top.get("criteria"), "value", []):
        cid = _scalar(_get(node, "id"))
        tier = _get(node, "tier")
        if isinstance(tier, yaml.ScalarNode):
            for other in tier_ids:
                if other != tier.value:
                    yield _replace(text, tier, other, f"{cid}.tier", tier.value, "tier")
        cond = _get(node, "condition")
        if cond is not None:
            yield from operator_mutants(text, cond, f"{cid}.condition")
        applies = _get(node, "applies_to")
        if isinstance(applies, yaml.SequenceNode) and len(applies.value) > 1:
            names = [v.value for v in applies.value]
            for drop in names:
                kept = "[" + ", ".join(n for n in names if n != drop) + "]"
                yield _replace(
                    text, applies, kept, f"{cid}.applies_to", f"without {drop}", "applies_to"
                )
        elif isinstance(applies, yaml.MappingNode):
            yield _replace(text, applies, "all", f"{cid}.applies_to", "all", "applies_to")
    for node in getattr(top.get("benefits"), "value", []):
        bid = _scalar(_get(node, "id"))
        req = _get(node, "requires")
        if not isinstance(req, yaml.ScalarNode):
            continue
        raw = text[req.start_mark.index : req.end_mark.index]
        for m in re.finditer(r"\bT\d+\b", raw):
            for other in tier_ids:
                if other != m.group(0):
                    edited = raw[: m.start()] + other + raw[m.end() :]
                    yield Mutant(
                        f"{bid}.requires",
                        m.group(0),
                        other,
                        text[: req.start_mark.index] + edited + text[req.end_mark.index :],
                        "required tier",
                    )
        yield from operator_mutants(text, req, f"{bid}.requires")


def tally(results: Iterable[tuple[Mutant, bool]]) -> dict[str, tuple[int, int]]:
    """Per kind of mutant, (killed, total), from (mutant, killed) pairs; kinds sorted."""
    total: Counter[str] = Counter()
    killed: Counter[str] = Counter()
    for mutant, dead in results:
        total[mutant.kind] += 1
        killed[mutant.kind] += dead
    return {k: (killed[k], total[k]) for k in sorted(total)}


def _get(node: object, key: str) -> yaml.Node | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    return next((v for k, v in node.value if k.value == key), None)


def _scalar(node: yaml.Node | None) -> str:
    return str(node.value) if isinstance(node, yaml.ScalarNode) else "?"


def _replace(text: str, node: yaml.Node, new: str, label: str, old: object, kind: str) -> Mutant:
    return Mutant(
        label,
        old,
        new,
        text[: node.start_mark.index] + new + text[node.end_mark.index :],
        kind,
    )


# --- running mutants -----------------------------------------------------------------------


@dataclass(frozen=True)
class MutantResult:
    """What the specs made of one mutant: ``killed`` is None when the loader refused it
    (then ``detail`` is the loader's first error), else ``detail`` names the scenario
    that failed (empty for a survivor)."""

    mutant: Mutant
    killed: bool | None
    detail: str = ""


def subjects(original: Policy, mutant: Mutant) -> set[str]:
    """The criteria and benefits a mutant touches: their scenarios run first.

    A rule mutant names its criterion or benefit; a threshold mutant touches every
    criterion and benefit whose condition, requirement, saving or rate names the
    parameter."""
    if mutant.kind != "threshold":
        return {mutant.parameter.split(".")[0]}
    word = re.compile(rf"\b{re.escape(mutant.parameter)}\b")
    ids = {c.id for c in original.criteria if word.search(c.condition)}
    ids |= {
        b.id
        for b in original.benefits
        if word.search(f"{b.requires} {b.saving or ''} {b.standard_rate}")
    }
    return ids


def judge(
    original: Policy, mutant: Mutant, suite: SpecSuite, catalogue: Sequence[Policy]
) -> MutantResult:
    """Run the specs of the mutant's version against it, stopping at the first failure."""
    try:
        policy = load_policy_text(mutant.text, source=original.source)
    except PolicyError as exc:
        return MutantResult(mutant, None, str(exc.errors[0]) if exc.errors else str(exc))
    report = suite.run(
        policy, catalogue=catalogue, fail_fast=True, prefer=subjects(original, mutant)
    )
    if report.ok:
        return MutantResult(mutant, False)
    failed = next((r for r in report.scenarios if r.status == "failed"), None)
    return MutantResult(mutant, True, f"{failed.uri}:{failed.line} {failed.name}" if failed else "")


def run_mutants(
    text: str,
    mutants: Iterable[Mutant],
    *,
    features: str | os.PathLike[str],
    policies: str | os.PathLike[str] | None = None,
    source: str = "<policy>",
) -> list[MutantResult]:
    """Judge every mutant of the policy ``text`` against the features under ``features``,
    in order. ``policies``: the folder of versions date-selection scenarios choose among
    (default: the repository's).

    One process: both shipped files' 409 mutants take about 8 CPU-seconds, and spreading
    them over fresh processes (the engine is safe within one process only) measured
    slower on the 2-core CI machine (26 s against 17 s wall, under load)."""
    original = load_policy_text(text, source=source)
    suite = SpecSuite.from_path(features)
    catalogue = load_catalogue(Path(policies) if policies is not None else default_policies_dir())
    return [judge(original, m, suite, catalogue) for m in mutants]
