"""Loading a policy: text -> YAML 1.2 with the line of every key -> the pydantic document
(:mod:`.document`, errors worded by :mod:`.validation`) -> the builder, which checks what
the structure cannot say (names that refer to each other, unique ids, expressions that
type-check, by :mod:`.checker`) -> a :class:`~hub.policy.model.Policy`, compiled once.

Every error names the source, the line when YAML tells it, and the field, so an
author can fix a draft without reading Python ("2026.1.yaml:88: criterion
kyc_baseline: unknown input 'kyc_pct'"). Loads are memoised on the text.
"""

from __future__ import annotations

import hashlib
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from . import document, expr, validation, yaml12
from . import text as _text
from .checker import TypeEnv
from .compiler import compile_policy
from .expr import ExprError, Node
from .model import (
    DEFAULT_CLOSE_MARGIN,
    Benefit,
    Criterion,
    Group,
    InputSpec,
    Parameter,
    Policy,
    PolicyError,
    Tier,
)
from .money import DEFAULT_ROUNDING

#: The longest policy text accepted, in UTF-8 bytes: a shipped version is about 20 KB.
MAX_TEXT_BYTES = 256 * 1024
#: At most this many problems are listed; the rest are counted in a last line.
MAX_ERRORS = 100
#: The most criteria and benefits a policy may hold: each is a rule of the engine, and
#: durable-rules refuses (error 108), or hangs holding the GIL (every thread of the
#: server stops), from about 330 rules in one ruleset. The shipped versions have 29 and 7.
MAX_CRITERIA = 200
MAX_BENEFITS = 100


def load_policy(path: str | Path) -> Policy:
    """Load, validate and compile the UTF-8 policy file at ``path``.

    Raises PolicyError when the file cannot be read, is not UTF-8, is longer than
    ``MAX_TEXT_BYTES`` (refused without reading it all), or is not a valid policy
    (every problem listed, each with its file name and line).
    """
    p = Path(path)
    try:
        with p.open("rb") as handle:
            head = handle.read(MAX_TEXT_BYTES + 1)
        if len(head) > MAX_TEXT_BYTES:
            raise PolicyError([_too_long(p.name, head, p.stat().st_size)])
        # Universal newlines, as reading in text mode gives.
        text = head.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
    except OSError as exc:
        raise PolicyError([f"{p}: cannot read the file: {exc.strerror or exc}"]) from exc
    except UnicodeDecodeError as exc:
        raise PolicyError([f"{p}: the file is not UTF-8 text"]) from exc
    return load_policy_text(text, source=str(p))


def digest_of(text: str) -> str:
    """The content digest of a policy text: ``"sha256:"`` and 64 hex digits of its UTF-8."""
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
    if len(text) * 4 > MAX_TEXT_BYTES:  # at most 4 bytes a character: short texts skip this
        raw = text.encode("utf-8", "surrogatepass")
        if len(raw) > MAX_TEXT_BYTES:
            raise PolicyError([_too_long(name, raw, len(raw))])
    try:
        data, lines = _yaml_with_lines(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{name}:{mark.line + 1}" if mark is not None else name
        problem = getattr(exc, "problem", None) or str(exc)
        raise PolicyError([f"{where}: not valid YAML: {problem}"]) from exc
    except yaml12.AmbiguousYaml as exc:
        raise PolicyError([f"{name}:{line}: {message}" for line, message in exc.problems]) from exc
    _refuse_too_many(data, lines, name)
    builder = _Builder(name, lines)
    policy = builder.build(data, text)
    if builder.errors or policy is None:
        raise PolicyError(_capped(builder.errors, name))
    compile_policy(policy)  # compile errors belong to loading, not to the first assessment
    return policy


def _too_long(name: str, raw: bytes, size: int) -> str:
    """The refusal of a text of ``size`` bytes, at the line where it passes the limit."""
    line = raw[:MAX_TEXT_BYTES].count(b"\n") + 1
    return (
        f"{name}:{line}: the policy text is {size:,} bytes long, more than the "
        f"{MAX_TEXT_BYTES:,} bytes ({MAX_TEXT_BYTES // 1024} KB) a policy may hold (it passes "
        "the limit on this line): a policy is a few dozen KB; split it or shorten it"
    )


def _refuse_too_many(data: Any, lines: dict[tuple[Any, ...], int], name: str) -> None:
    """Refuse, before anything is built, more than ``MAX_CRITERIA`` criteria or
    ``MAX_BENEFITS`` benefits (PolicyError at the section's line)."""
    if not isinstance(data, dict):
        return
    problems = []
    for section, limit in (("criteria", MAX_CRITERIA), ("benefits", MAX_BENEFITS)):
        items = data.get(section)
        if isinstance(items, list) and len(items) > limit:
            line = lines.get((section,))
            where = f"{name}:{line}" if line else name
            problems.append(
                f"{where}: {section}: {len(items):,} {section}, more than the {limit} a policy "
                f"may hold (each is a rule of the decision engine, which stops working "
                "reliably beyond a few hundred): merge or remove some"
            )
    if problems:
        raise PolicyError(problems)


def _capped(errors: list[str], name: str) -> list[str]:
    """The first ``MAX_ERRORS`` problems, and a last line counting the rest."""
    if len(errors) <= MAX_ERRORS:
        return errors
    return [*errors[:MAX_ERRORS], f"{name}: ... and {len(errors) - MAX_ERRORS:,} more problems"]


def _yaml_with_lines(text: str) -> tuple[Any, dict[tuple[Any, ...], int]]:
    """Load YAML safely, by YAML 1.2, and remember the line of every key (1-based)."""
    return yaml12.load_with_lines(text)


def _decomposed(value: str) -> str:
    """The first run of a letter and the marks that NFC would compose with it, named:
    "'и' + U+0306 is 'й'"."""
    start = 0
    for i, c in enumerate(value):
        if not unicodedata.combining(c):
            start = i
        elif not unicodedata.is_normalized("NFC", value[start : i + 1]):
            end = i + 1
            while end < len(value) and unicodedata.combining(value[end]):
                end += 1
            run = value[start:end]
            marks = " + ".join(f"U+{ord(m):04X}" for m in run[1:])
            return f"{run[0]!r} + {marks} is {unicodedata.normalize('NFC', run)!r}"
    return "characters NFC writes otherwise"


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

    def text_forms(self, value: Any, path: tuple[Any, ...]) -> None:
        """Every key and text of the file in NFC (composed) form, none a lone surrogate.

        Filings are compared in NFC (see text.py), and the engine compares bytes, so an
        id, choice or activity written decomposed ("и" + U+0306 for "й") could never
        match. Such text is refused, with its line, rather than silently rewritten: the
        file is the normative text, and what it says is what is stored and shown."""
        items: Any = ()
        if isinstance(value, dict):
            items = value.items()
        elif isinstance(value, list):
            items = enumerate(value)
        elif isinstance(value, str):
            self._text_form(value, path, path)
        for key, item in items:
            if isinstance(key, str):
                self._text_form(key, (*path, key), path)
            self.text_forms(item, (*path, key))

    def _text_form(self, value: str, path: tuple[Any, ...], shown_at: tuple[Any, ...]) -> None:
        if value.isascii():
            return
        where = ".".join(_text.shown(unicodedata.normalize("NFC", str(p))) for p in shown_at)
        where = f"{where}: " if where else ""
        if _text.has_lone_surrogate(value):
            self.err(path, f"{where}{_text.shown(value)!r} holds a lone surrogate, not text")
        elif not unicodedata.is_normalized("NFC", value):
            self.err(
                path,
                f"{where}{unicodedata.normalize('NFC', value)!r} is written in decomposed "
                f"form ({_decomposed(value)}); write it composed (Unicode NFC), as every "
                "id, choice and text of a policy must be",
            )

    def build(self, data: Any, text: str) -> Policy | None:
        self.text_forms(data, ())
        doc, problems = validation.validate(data)
        for path, message in problems:
            self.err(path, message)
        if doc is None:
            return None
        if doc.based_on is not None and doc.based_on == doc.version:
            self.err(
                ("based_on",),
                f"policy: based_on {doc.based_on!r} is this version's own number; name the "
                "version it was drafted from",
            )
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
        env = TypeEnv(by_name, params, tiers, appl)
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
            based_on=doc.based_on,
            rounding=doc.rounding.to_rounding() if doc.rounding else DEFAULT_ROUNDING,
            close_margin=doc.watch.to_margin() if doc.watch else DEFAULT_CLOSE_MARGIN,
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
        env: TypeEnv,
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

    def benefits(self, raw: list[document.Benefit], env: TypeEnv) -> list[Benefit]:
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
        self, text: str, path: tuple[Any, ...], what: str, env: TypeEnv, want: str, context: str
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
