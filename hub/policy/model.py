"""Policy documents: load a YAML text, validate it, and give back a typed model.

Every error names the source, the line when YAML tells it, and the field, so an
author can fix a draft without reading Python ("2026.1.yaml:88: criterion
kyc_baseline: unknown input 'kyc_pct'").
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import yaml

from . import document, expr, validation, yaml12
from .document import ID_RE as ID_RE
from .document import VERSION_RE as VERSION_RE
from .expr import ExprError, Node
from .money import DEFAULT_ROUNDING, Rounding

#: The largest whole number a double holds with every smaller one (2^53 - 1): the
#: engine compares numbers as doubles, so integers beyond it would compare wrongly
#: (10^18 and 10^18 - 1 are the same double).
MAX_EXACT_INTEGER = 2**53 - 1
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
    name: str
    value: Any
    unit: str = ""
    description: str = ""


@dataclass(frozen=True)
class Tier:
    id: str
    title: str
    rank: int
    description: str = ""


@dataclass(frozen=True)
class Criterion:
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
    id: str
    title: str


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
    #: how savings are rounded (policy field ``rounding``; default half up to the tiyn)
    rounding: Rounding = DEFAULT_ROUNDING
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
        return expr.format_number(p.value)  # a threshold as written: 95.00000001, not 95

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
            return f"{expr.format_value(round(p.value * 100, 6))}%"
        return f"{expr.format_value(p.value)} {p.unit}".strip()


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


# --- loading ---------------------------------------------------------------


def load_policy(path: str | Path) -> Policy:
    """Load and validate a policy file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError([f"{p}: cannot read the file: {exc.strerror or exc}"]) from exc
    except UnicodeDecodeError as exc:
        raise PolicyError([f"{p}: the file is not UTF-8 text"]) from exc
    return load_policy_text(text, source=str(p))


def digest_of(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


@lru_cache(maxsize=64)
def load_policy_text(text: str, source: str = "<policy>") -> Policy:
    """Parse, validate and type-check a policy text; raise PolicyError listing every problem.

    Memoised on (text, source), 64 of them: a policy is immutable, and every app
    made in a process (each app server, each test) loads the same files and
    stored versions several times (measured: 6 loads and compiles per app, 0.3-2 s).
    Errors are not memoised.
    """
    name = Path(source).name if source and not source.startswith("<") else source
    try:
        data, lines = _yaml_with_lines(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{name}:{mark.line + 1}" if mark is not None else name
        problem = getattr(exc, "problem", None) or str(exc)
        raise PolicyError([f"{where}: not valid YAML: {problem}"]) from exc
    except yaml12.AmbiguousYaml as exc:
        raise PolicyError([f"{name}:{line}: {message}" for line, message in exc.problems]) from exc
    builder = _Builder(name, lines)
    policy = builder.build(data, text)
    if builder.errors or policy is None:
        raise PolicyError(builder.errors)
    from .compiler import compile_policy

    compile_policy(policy)  # compile errors belong to loading, not to the first assessment
    return policy


def _yaml_with_lines(text: str) -> tuple[Any, dict[tuple[Any, ...], int]]:
    """Load YAML safely, by YAML 1.2, and remember the line of every key (1-based)."""
    return yaml12.load_with_lines(text)


class _Builder:
    """Builds a :class:`Policy` from a document whose structure :mod:`.document` checked:
    what the structure cannot say (names that refer to each other, unique ids, expressions
    that type-check) is checked here; every error has its line."""

    def __init__(self, source: str, lines: dict[tuple[Any, ...], int]) -> None:
        self.source = source
        self.lines = lines
        self.errors: list[str] = []

    def err(self, path: tuple[Any, ...], message: str) -> None:
        line = None
        p = path
        while p and line is None:
            line = self.lines.get(p)
            p = p[:-1]
        where = f"{self.source}:{line}" if line else self.source
        self.errors.append(f"{where}: {message}")

    def build(self, data: Any, text: str) -> Policy | None:
        doc, problems = validation.validate(data)
        for path, message in problems:
            self.err(path, message)
        if doc is None:
            return None
        groups = [Group(g.id, g.title) for g in doc.groups]
        inputs = self.inputs(doc.inputs, {g.id for g in groups})
        by_name = {i.name: i for i in inputs}
        appl = doc.applicability_input
        if appl not in by_name or by_name[appl].type != "enum" or not by_name[appl].required:
            self.err(
                ("applicability_input",),
                f"policy: applicability_input {appl!r} must name a required enum input",
            )
            activities: tuple[str, ...] = ()
        else:
            activities = by_name[appl].choices
        agroups = self.activity_groups(doc.activity_groups, activities)
        params = self.parameters(doc.parameters, set(by_name))
        tiers = [Tier(t.id, t.title, i + 1, t.description or "") for i, t in enumerate(doc.tiers)]
        env = _TypeEnv(by_name, params, tiers, appl)
        criteria = self.criteria(doc.criteria, env, activities, agroups, tiers)
        env.criteria = {c.id for c in criteria}
        benefits = self.benefits(doc.benefits, env)
        if self.errors:
            return None
        return Policy(
            id=doc.id,
            version=doc.version,
            title=doc.title,
            effective_from=doc.effective_from,
            inputs=tuple(inputs),
            parameters=params,
            tiers=tuple(tiers),
            criteria=tuple(criteria),
            benefits=tuple(benefits),
            groups=tuple(groups),
            activity_groups=agroups,
            applicability_input=appl,
            text=text,
            digest=digest_of(text),
            source=self.source,
            description=doc.description or "",
            citation=doc.citation or "",
            rounding=doc.rounding.to_rounding() if doc.rounding else DEFAULT_ROUNDING,
        )

    def inputs(self, raw: dict[str, document.InputDoc], groups: set[str]) -> list[InputSpec]:
        out: list[InputSpec] = []
        for name, spec in raw.items():
            if spec.group and groups and spec.group not in groups:
                self.err(("inputs", name, "group"), f"input {name}: unknown group {spec.group!r}")
            choices: tuple[str, ...] = ()
            labels: dict[str, str] = {}
            bounds: dict[str, Any] = {}
            if isinstance(spec, document.ChoiceInput):
                labels = dict(spec.choices) if isinstance(spec.choices, dict) else {}
                choices = tuple(spec.choices)
            elif isinstance(spec, document.NumberInput):
                bounds = {"min": spec.min, "max": spec.max, "saving": spec.saving}
            elif isinstance(spec, document.TextInput):
                bounds = {"min_length": spec.min_length, "max_length": spec.max_length}
                bounds["format"] = spec.format
            out.append(
                InputSpec(
                    name=name,
                    type=spec.type,
                    label=spec.label or name,
                    help=spec.help or "",
                    group=spec.group or "",
                    unit=spec.unit or "",
                    required=spec.required,
                    choices=choices,
                    choice_labels=labels,
                    **bounds,
                )
            )
        return out

    def activity_groups(
        self, raw: dict[str, list[str]], activities: tuple[str, ...]
    ) -> dict[str, tuple[str, ...]]:
        out: dict[str, tuple[str, ...]] = {}
        for name, members in raw.items():
            path = ("activity_groups", name)
            for m in members:
                if m not in activities:
                    self.err(path, f"activity group {name}: {m!r} is not an activity")
            if name in activities or name == "all":
                self.err(path, f"activity group {name}: the name is taken by an activity")
            out[name] = tuple(members)
        return out

    def parameters(
        self, raw: dict[str, document.Parameter | Any], input_names: set[str]
    ) -> dict[str, Parameter]:
        out: dict[str, Parameter] = {}
        for name, spec in raw.items():
            if name in input_names:
                self.err(("parameters", name), f"parameter {name}: an input has the same name")
                continue
            if isinstance(spec, document.Parameter):
                out[name] = Parameter(name, spec.value, spec.unit or "", spec.description or "")
            else:  # written as the bare value
                out[name] = Parameter(name, spec)
        return out

    def item(self, section: str, i: int, ident: str, seen: set[str]) -> tuple[tuple[Any, ...], str]:
        """The path and the name in messages of an entry of criteria or benefits; an id
        used twice is an error."""
        path = (section, i)
        what = f"{'criterion' if section == 'criteria' else 'benefit'} {ident}"
        if ident in seen:
            self.err((*path, "id"), f"{what}: the id is used twice")
        seen.add(ident)
        return path, what

    def criteria(
        self,
        raw: list[document.Criterion],
        env: _TypeEnv,
        activities: tuple[str, ...],
        agroups: dict[str, tuple[str, ...]],
        tiers: list[Tier],
    ) -> list[Criterion]:
        out: list[Criterion] = []
        seen: set[str] = set()
        tier_ids = {t.id for t in tiers}
        for i, c in enumerate(raw):
            path, what = self.item("criteria", i, c.id, seen)
            if c.tier not in tier_ids:
                self.err((*path, "tier"), f"{what}: unknown tier {c.tier!r}")
            applies = self.applies_to(c.applies_to, (*path, "applies_to"), what,
                                      activities, agroups)  # fmt: skip
            ast = self.expression(c.condition, (*path, "condition"), what, env, "bool", "criterion")
            out.append(
                Criterion(
                    id=c.id,
                    title=c.title,
                    tier=c.tier,
                    applies_to=applies,
                    condition=c.condition,
                    ast=ast or expr.Lit(False),
                    citation=c.citation,
                    basis=c.basis or "",
                    fix_hint=c.fix or "",
                    description=c.description or "",
                    line=self.lines.get(path),
                    _inputs=frozenset(n for n in expr.names(ast) if n in env.inputs)
                    if ast
                    else frozenset(),
                )
            )
        return out

    def applies_to(
        self,
        raw: str | list[str] | document.AllExcept,
        path: tuple[Any, ...],
        what: str,
        activities: tuple[str, ...],
        agroups: dict[str, tuple[str, ...]],
    ) -> tuple[str, ...]:
        def expand(items: str | list[str]) -> set[str]:
            out: set[str] = set()
            for item in [items] if isinstance(items, str) else items:
                if item == "all":
                    out |= set(activities)
                elif item in agroups:
                    out |= set(agroups[item])
                elif item in activities:
                    out.add(item)
                else:
                    self.err(path, f"{what}: {item!r} is neither an activity nor an activity group")
            return out

        if isinstance(raw, document.AllExcept):
            chosen = set(activities) - expand(raw.all_except)
        else:
            chosen = expand(raw)
        return tuple(a for a in activities if a in chosen)

    def benefits(self, raw: list[document.Benefit], env: _TypeEnv) -> list[Benefit]:
        out: list[Benefit] = []
        seen: set[str] = set()
        for i, b in enumerate(raw):
            path, what = self.item("benefits", i, b.id, seen)
            req_ast = self.expression(b.requires, (*path, "requires"), what, env, "bool", "benefit")
            if b.standard_rate not in env.params:
                self.err((*path, "standard_rate"),
                         f"{what}: unknown parameter {b.standard_rate!r}")  # fmt: skip
            saving_ast = None
            if b.saving is not None:
                saving_ast = self.expression(
                    b.saving, (*path, "saving"), what, env, "number", "saving"
                )
            out.append(
                Benefit(
                    id=b.id,
                    title=b.title,
                    requires=b.requires,
                    requires_ast=req_ast or expr.Lit(False),
                    standard_rate=b.standard_rate,
                    saving=b.saving,
                    saving_ast=saving_ast,
                    citation=b.citation or "",
                    description=b.description or "",
                    line=self.lines.get(path),
                )
            )
        return out

    def expression(
        self, text: str, path: tuple[Any, ...], what: str, env: _TypeEnv, want: str, context: str
    ) -> Node | None:
        if not text:
            return None
        field_name = path[-1]
        try:
            node = expr.parse(text)
            got = env.check(node, context)
        except ExprError as exc:
            self.err(path, f"{what}: {field_name}: {exc}")
            return None
        if got != want:
            self.err(path, f"{what}: {field_name} must be a {want} expression, not a {got}")
            return None
        return node


# --- type checking ------------------------------------------------------------

_NUMERIC = {"number", "integer"}


class _TypeEnv:
    """Type-checks expressions so that mistakes are caught at load, not at assessment."""

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
        if isinstance(n, expr.Lit):
            v = n.value
            if isinstance(v, bool):
                return "bool"
            if isinstance(v, int | float):
                return "number"
            return "string"
        if isinstance(n, expr.Name):
            return self._name(n, context)
        if isinstance(n, expr.ListLit):
            for item in n.items:
                if self._t(item, context) != "string":
                    raise ExprError("a list may hold only 'text' choices")
            return "list"
        if isinstance(n, expr.Index):
            if self._t(n.base, context) != "mapping":
                raise ExprError(f"{n.base.id!r} is not a mapping parameter and cannot be indexed")
            key_t = self._t(n.key, context)
            if key_t not in ("enum", "string"):
                raise ExprError(f"{n.base.id}[...] must be indexed by a choice input")
            # A choice missing from the mapping makes the comparison false for it.
            return "string"
        if isinstance(n, expr.Call):
            if n.func == "met":
                if context != "benefit":
                    raise ExprError("met(...) can only be used in a benefit's requirement")
                arg = n.args[0]
                if not isinstance(arg, expr.Name) or arg.id not in self.criteria:
                    shown = arg.id if isinstance(arg, expr.Name) else expr.to_text(arg)
                    raise ExprError(f"met() needs a criterion id, {shown!r} is not one")
                return "bool"
            for a in n.args:
                if self._t(a, context) != "number":
                    raise ExprError(f"{n.func}() takes numbers")
            return "number"
        if isinstance(n, expr.Neg):
            if self._t(n.operand, context) != "number":
                raise ExprError("'-' applies to numbers only")
            return "number"
        if isinstance(n, expr.Not):
            if self._t(n.operand, context) != "bool":
                raise ExprError("'not' applies to a condition")
            if context == "benefit" and (
                expr.met_targets(n.operand) or "tier" in expr.names(n.operand)
            ):
                raise ExprError("a benefit cannot require a tier or a criterion to fail")
            return "bool"
        if isinstance(n, expr.Arith):
            if self._t(n.left, context) != "number" or self._t(n.right, context) != "number":
                raise ExprError(f"'{n.op}' applies to numbers only")
            return "number"
        if isinstance(n, expr.BoolOp):
            for v in n.values:
                if self._t(v, context) != "bool":
                    raise ExprError(f"'{n.op}' joins conditions, not values")
            return "bool"
        if isinstance(n, expr.Compare):
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
        if isinstance(value, expr.Lit) and isinstance(value.value, str):
            values = [value.value]
        elif isinstance(value, expr.ListLit):
            values = [i.value for i in value.items if isinstance(i, expr.Lit)]
        elif isinstance(value, expr.Name) and value.id in self.params:
            pv = self.params[value.id].value
            values = list(pv) if isinstance(pv, list) else []
        elif isinstance(value, expr.Index):
            values = list(self.params[value.base.id].value.values())
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
        return "bool"
