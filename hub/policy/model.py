"""The policy model: the typed, immutable data classes a loaded policy version is made of
(:class:`Policy` and its inputs, parameters, tiers, criteria, benefits and groups), and
the numeric ceilings inputs are held to. Built by :mod:`.loader`; pure data, no I/O.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import Any

from . import expr
from .exact import MAX_EXACT_INTEGER
from .expr import Node
from .money import DEFAULT_ROUNDING, Rounding
from .shown import format_number, format_value

#: MAX_EXACT_INTEGER (hub/policy/exact.py): the largest whole number a double holds with
#: every smaller one (2^53 - 1): the engine compares numbers as doubles, so integers
#: beyond it would compare wrongly (10^18 and 10^18 - 1 are the same double).
#: Units of money amounts. An amount is meant to the tiyn (cent): 15 significant
#: digits, 13 before the point and 2 after, which a double always holds and gives
#: back as written. (Not 2^53 / 100: at 9 * 10^13 doubles are 1/64 apart, and
#: 90,071,992,547,409.91 is read as ...409.9.) Ten trillion tenge is ample for any
#: company's figures.
MONEY_UNITS = frozenset({"KZT", "USD", "EUR"})
MAX_MONEY = 9_999_999_999_999.99


def bound_text(value: int | float) -> str:
    """A bound as people read it, exactly: thousands separators and the shortest
    decimals that name it (9,007,199,254,740,991; 90,071,992,547,409.91; 33.3)."""
    if isinstance(value, float) and not value.is_integer():
        return f"{Decimal(repr(value)):,}"
    return f"{int(value):,}"


class PolicyError(ValueError):
    """A policy text that cannot be used; ``errors`` lists every problem found."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class InputSpec:
    """One question of a policy's filing form (policy field ``inputs.<name>``).

    ``type`` is one of ``number`` (a real number), ``integer`` (a whole number),
    ``string`` (a line of text), ``bool`` (yes/no), ``date`` (YYYY-MM-DD), ``enum`` (one
    of ``choices``) or ``set`` (several of ``choices``, a list). ``unit`` is the unit of
    a number as the policy names it: ``KZT``, ``USD`` and ``EUR`` are money (exact to
    the tiyn, at most ``MAX_MONEY``), anything else (``%``, ``people``, "") is words
    shown beside the value. ``min``/``max`` are inclusive bounds in that unit, as
    declared (None: not declared); the bounds actually enforced are :attr:`lowest` and
    :attr:`highest`. ``min_length``/``max_length`` bound a string's length in
    characters, inclusive. ``format`` is ``"bin"`` for a Kazakh business
    identification number (12 digits with its check digit) or None. ``choice_labels``
    maps a choice to the label shown (a choice without one shows itself). ``saving``
    marks a number a benefit's saving formula may read (a figure of the savings
    estimate rather than of eligibility, e.g. payroll in KZT). ``required``: a filing
    without the value is invalid (an optional one left out makes the criteria that
    read it ``missing``).
    """

    name: str
    type: str
    label: str
    help: str = ""
    group: str = ""
    unit: str = ""
    required: bool = False
    saving: bool = False
    min: float | None = None
    max: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    choices: tuple[str, ...] = ()
    choice_labels: dict[str, str] = field(default_factory=dict)
    format: str | None = None

    @property
    def ceiling(self) -> int | float | None:
        """The largest magnitude a number of this kind may have and still be compared
        exactly (None for non-numbers): money amounts (a unit of ``MONEY_UNITS``) below
        ``MAX_MONEY``, every other number, whole or not, at most ``MAX_EXACT_INTEGER``."""
        if self.type not in ("number", "integer"):
            return None
        if self.type == "number" and self.unit in MONEY_UNITS:
            return MAX_MONEY
        return MAX_EXACT_INTEGER

    @property
    def lowest(self) -> int | float | None:
        """The smallest value accepted: the declared ``min``, never below -ceiling."""
        ceiling = self.ceiling
        if ceiling is None:
            return None
        return -ceiling if self.min is None else max(self.min, -ceiling)

    @property
    def highest(self) -> int | float | None:
        """The largest value accepted: the declared ``max``, never above the ceiling."""
        ceiling = self.ceiling
        if ceiling is None:
            return None
        return ceiling if self.max is None else min(self.max, ceiling)

    @property
    def bounds_text(self) -> str:
        """The accepted range in words ("0 to 9,007,199,254,740,991"), "" for non-numbers."""
        lo, hi = self.lowest, self.highest
        return "" if lo is None or hi is None else f"{bound_text(lo)} to {bound_text(hi)}"


@dataclass(frozen=True)
class Parameter:
    """A named constant of a policy (policy field ``parameters.<name>``), read by
    conditions and saving formulas.

    ``value`` is a number (int or float, as the YAML wrote it), a list of choice
    values, or a mapping of choice value to text; ``unit`` names what a number means
    (``rate`` is a fraction: 0.2 is shown as 20 %; ``KZT`` is money; "" or other words
    are shown beside the value); ``description`` says where it comes from.
    """

    name: str
    value: Any
    unit: str = ""
    description: str = ""


@dataclass(frozen=True)
class Tier:
    """A tier of eligibility (``T1``, ``T2``, ...); ``rank`` is its 1-based order (tiers
    are cumulative: reaching a tier needs the criteria of every tier up to it)."""

    id: str
    title: str
    rank: int
    description: str = ""


@dataclass(frozen=True)
class Criterion:
    """A condition a company must meet to reach ``tier`` (policy field ``criteria[i]``).

    ``applies_to`` holds the activities it applies to, expanded from activity groups and
    ``all``/``all_except``, in the order of the activity input's choices (for other
    activities it is ``not_applicable``). ``condition`` is the yes/no expression as
    written and ``ast`` its parsed, type-checked tree. ``citation`` names the rule of
    the normative text it comes from and ``basis`` the regime; ``fix_hint`` is the
    author's advice to a company that does not meet it. ``line`` is the 1-based line
    of the entry in the policy file (None when unknown).
    """

    id: str
    title: str
    tier: str
    applies_to: tuple[str, ...]
    condition: str
    ast: Node = field(compare=False, repr=False)
    citation: str
    basis: str = ""
    fix_hint: str = ""
    description: str = ""
    line: int | None = None

    @property
    def inputs(self) -> tuple[str, ...]:
        """The inputs the condition reads, in a stable order (used for `missing`)."""
        return tuple(sorted(self._inputs))

    _inputs: frozenset[str] = field(default=frozenset(), compare=False, repr=False)


@dataclass(frozen=True)
class Benefit:
    """A tax benefit granted when ``requires`` holds (policy field ``benefits[i]``).

    ``requires`` is a yes/no expression over ``tier`` (``tier >= T2``), ``met(id)`` of
    criteria, inputs and parameters; ``requires_ast`` its parsed tree.
    ``standard_rate`` names the parameter holding the rate (or amount) the benefit
    relieves, shown with its unit. ``saving`` is the number expression that estimates
    the benefit's value to the company: an amount in KZT per year of the filing's
    figures, the tax not paid under the benefit, computed exactly from the numbers as
    written and rounded by the policy's ``rounding`` (None: no estimate).
    ``saving_ast`` is its tree. ``line`` is the 1-based line of the entry (None when
    unknown).
    """

    id: str
    title: str
    requires: str
    requires_ast: Node = field(compare=False, repr=False)
    standard_rate: str
    saving: str | None
    saving_ast: Node | None = field(compare=False, repr=False)
    citation: str = ""
    description: str = ""
    line: int | None = None


@dataclass(frozen=True)
class Group:
    """A heading the form shows inputs under (policy field ``groups[i]``)."""

    id: str
    title: str


@dataclass(frozen=True)
class CloseMargin:
    """When the daily watch calls a met comparison "close to the line" (policy field
    ``watch``): the figure meets its bound by at most ``percent_points`` percentage
    points for an input in ``%``, or by at most ``relative`` times the bound's size for
    any other number (0.02: within 2% of it)."""

    percent_points: float = 1.0
    relative: float = 0.02

    def of(self, unit: str, bound: float) -> float:
        """The margin of a comparison of an input in ``unit`` with ``bound``."""
        return self.percent_points if unit == "%" else self.relative * abs(bound)


#: Choice (the normative text is silent on the margin): one percentage point, or 2% of
#: the bound. A version may set its own (``watch:``); the shipped files keep the default,
#: since editing a published text changes its digest, which the catalogue refuses.
DEFAULT_CLOSE_MARGIN = CloseMargin()


@dataclass(eq=False)
class Policy:
    """One version of a policy, validated; immutable by convention."""

    id: str
    version: str
    title: str
    effective_from: dt.date
    inputs: tuple[InputSpec, ...]
    parameters: dict[str, Parameter]
    tiers: tuple[Tier, ...]
    criteria: tuple[Criterion, ...]
    benefits: tuple[Benefit, ...]
    groups: tuple[Group, ...]
    activity_groups: dict[str, tuple[str, ...]]
    applicability_input: str
    text: str
    digest: str
    source: str
    description: str = ""
    citation: str = ""
    #: the version this text was drafted from (policy field ``based_on``), if any
    based_on: str | None = None
    #: how savings are rounded (policy field ``rounding``; default half up to the tiyn)
    rounding: Rounding = DEFAULT_ROUNDING
    #: when a met criterion is "close to the line" (policy field ``watch``)
    close_margin: CloseMargin = DEFAULT_CLOSE_MARGIN
    _compiled: Any = field(default=None, repr=False)
    _validator: Any = field(default=None, repr=False)

    @cached_property
    def inputs_by_name(self) -> dict[str, InputSpec]:
        return {i.name: i for i in self.inputs}

    @cached_property
    def activities(self) -> tuple[str, ...]:
        return self.inputs_by_name[self.applicability_input].choices

    @cached_property
    def tier_by_id(self) -> dict[str, Tier]:
        return {t.id: t for t in self.tiers}

    @cached_property
    def criterion_by_id(self) -> dict[str, Criterion]:
        return {c.id: c for c in self.criteria}

    @cached_property
    def benefit_by_id(self) -> dict[str, Benefit]:
        return {b.id: b for b in self.benefits}

    @property
    def key(self) -> str:
        """Unique per content: two texts of one version never share compiled rules."""
        return f"{self.id}@{self.version}@{self.digest[7:23]}"

    @cached_property
    def parameter_values(self) -> dict[str, Any]:
        """Name -> value; read-only by convention (shared by every assessment)."""
        return {name: p.value for name, p in self.parameters.items()}

    def to_dict(self) -> dict[str, Any]:
        """The version as clients need it to render a form and explain rules."""
        shown = self._show_parameter
        return {
            "id": self.id,
            "version": self.version,
            "title": self.title,
            "description": self.description,
            "effective_from": self.effective_from.isoformat(),
            "digest": self.digest,
            "rounding": self.rounding.to_dict(),
            "groups": [{"id": g.id, "title": g.title} for g in self.groups],
            "inputs": [_input_dict(i) for i in self.inputs],
            "parameters": {
                p.name: {"value": p.value, "unit": p.unit, "description": p.description}
                for p in self.parameters.values()
            },
            "activity_groups": {k: list(v) for k, v in self.activity_groups.items()},
            "tiers": [
                {"id": t.id, "title": t.title, "description": t.description} for t in self.tiers
            ],
            "criteria": [
                {
                    "id": c.id,
                    "title": c.title,
                    "tier": c.tier,
                    "applies_to": list(c.applies_to),
                    "condition": c.condition,
                    "condition_text": expr.to_text(c.ast, shown),
                    "inputs": list(c.inputs),
                    "citation": c.citation,
                    "basis": c.basis,
                    "description": c.description,
                }
                for c in self.criteria
            ],
            "benefits": [
                {
                    "id": b.id,
                    "title": b.title,
                    "requires": b.requires,
                    "requires_text": expr.to_text(b.requires_ast, shown),
                    "standard_rate": self.rate_text(b),
                    "saving": b.saving,
                    "saving_text": expr.to_text(b.saving_ast, shown) if b.saving_ast else None,
                    "citation": b.citation,
                    "description": b.description,
                }
                for b in self.benefits
            ],
        }

    def _show_parameter(self, name: str) -> str | None:
        p = self.parameters.get(name)
        if p is None or isinstance(p.value, dict):
            return None
        return format_number(p.value)  # a threshold as written: 95.00000001, not 95

    def rate_text(self, benefit: Benefit) -> str:
        """A standard rate as people read it: 0.2 with unit 'rate' is '20%'."""
        return self._rate_texts[benefit.id]

    @cached_property
    def _rate_texts(self) -> dict[str, str]:
        return {b.id: self._rate_text(b) for b in self.benefits}

    def _rate_text(self, benefit: Benefit) -> str:
        p = self.parameters.get(benefit.standard_rate)
        if p is None:
            return benefit.standard_rate
        if p.unit == "rate" and isinstance(p.value, int | float):
            return f"{format_value(round(p.value * 100, 6))}%"
        return f"{format_value(p.value)} {p.unit}".strip()


def _input_dict(i: InputSpec) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": i.name,
        "type": i.type,
        "label": i.label,
        "help": i.help,
        "group": i.group,
        "unit": i.unit,
        "required": i.required,
        "saving": i.saving,
    }
    for key in ("min_length", "max_length", "format"):
        if getattr(i, key) is not None:
            out[key] = getattr(i, key)
    if i.ceiling is not None:  # the bounds accepted: declared, or where exactness ends
        out["min"], out["max"] = i.lowest, i.highest
    if i.choices:
        out["choices"] = [{"value": c, "label": i.choice_labels.get(c, c)} for c in i.choices]
    return out
