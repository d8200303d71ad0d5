"""Threshold mutants of a policy text: do the specs notice when a number moves?

A spec suite that passes whatever the thresholds are proves nothing. Each
mutant nudges one numeric parameter, once towards easier and once towards
harder, by the smallest meaningful step and by a few percent, editing only
that number in the text (comments and layout stay, so the mutant is what an
author's slip would look like). The mutation test and the studio use it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

import yaml


@dataclass(frozen=True)
class Mutant:
    parameter: str
    old: int | float
    new: int | float
    text: str

    @property
    def label(self) -> str:
        return f"{self.parameter}: {self.old} -> {self.new}"


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
    top-level ``parameters:`` mapping; start/end are character offsets of the
    number in the text, so it can be replaced without re-dumping the YAML.
    """
    root = yaml.compose(text, Loader=yaml.SafeLoader)
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
        if not isinstance(scalar, yaml.ScalarNode) or scalar.tag not in (
            "tag:yaml.org,2002:int",
            "tag:yaml.org,2002:float",
        ):
            continue
        value = yaml.safe_load(scalar.value)
        if isinstance(value, int | float) and not isinstance(value, bool):
            out.append((key.value, value, scalar.start_mark.index, scalar.end_mark.index))
    return out


def threshold_mutants(text: str) -> Iterator[Mutant]:
    """Every one-number mutant of the policy's numeric parameters, both directions."""
    for name, value, start, end in numeric_parameters(text):
        for new in nudges(value):
            yield Mutant(name, value, new, text[:start] + _fmt(new) + text[end:])


def _fmt(value: int | float) -> str:
    if isinstance(value, int):
        return str(value)
    text = repr(float(value))
    return text if "e" not in text else f"{value:.12f}".rstrip("0")
