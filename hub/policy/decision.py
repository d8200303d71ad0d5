"""The assessment: validate a filing, run the rules, and explain the decision."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, NamedTuple

import orjson

from .codegen import make_function, name_literal
from .compiler import compile_policy
from .engine import engine
from .evaluate import Missing
from .explain import CriterionExplainer
from .filing import fast_validator, validate_filing
from .model import Policy
from .money import Saving
from .shown import format_number_json, format_value, plain_number_json

STATUSES = ("met", "not_met", "not_applicable", "missing")
#: criterion JSON texts kept per criterion and status, for each policy version and
#: activity. Values repeat a lot (yes/no answers, 100%, 0 arrears), amounts hardly ever:
#: a criterion whose memo fills starts it afresh, the others keep theirs.
CRITERION_MEMO = 256
#: ...and in all, per policy version and activity: past it, the fullest memo starts
#: afresh. Measured on 100,000 realistic filings (amounts never repeat;
#: ``benchmarks/decisions.py``): a serving process grows 0.9 MB over the second 50,000
#: (flat), where the one bound of 4,096 texts shared by every criterion, cleared whole
#: when reached (yes/no texts with the amounts), grew 9 MB, at the same CPU per decision.
WRITER_MEMO = 4_096

#: met texts of dated requirements kept per criterion and activity, one per day
DATED_MEMO = 1_024
#: input types whose value a met text shows as format_value does, read off its JSON
_SPLICED = frozenset({"number", "integer", "bool", "date", "enum", "string"})

#: The value a criterion's input is compared with: a number (in the input's unit), a
#: choice or date text, true/false, or a list of choices; None when the condition is not
#: one comparison with an input (or the criterion does not apply).
Threshold = int | float | bool | str | list[str] | None


class CriterionResult(NamedTuple):
    """One criterion of a decision, as the API's ``criteria[i]`` shows it.

    ``status`` is one of ``met``, ``not_met``, ``missing`` (an input it reads was not
    given) or ``not_applicable`` (not for the filing's activity). ``values`` maps each
    input the condition reads to the filing's value (None when not given).
    ``explanation`` says why, in words with the values; ``fix`` is a concrete change
    that would meet it (None when met, not applicable, or none can be said).
    ``threshold`` is the value the input is compared with (see :data:`Threshold`),
    ``requirement`` the condition with parameters filled in ("fte_in_zone >= 10"), None
    when not applicable.
    """

    id: str
    status: str
    values: dict[str, Any]
    explanation: str
    fix: str | None
    threshold: Threshold
    requirement: str | None


class BenefitResult(NamedTuple):
    """A benefit granted by a decision: its id and title, its standard rate in words
    (``20%``, ``0 KZT``), and ``saving``, the estimated saving in KZT (the policy's
    saving formula over the filing, rounded by its ``rounding``; None when the benefit
    has no formula, an input it reads was not given, or it divides by zero)."""

    id: str
    title: str
    standard_rate: str
    saving: float | None


class Decision:
    """One decision: enough to show, store and replay it (the policy key names the rules).

    A plain class with slots, not a frozen dataclass: one is built per assessment, and a
    frozen dataclass's ``__init__`` costs several times more."""

    __slots__ = (
        "as_of",
        "benefit_ids",
        "filing",
        "policy",
        "savings",
        "statuses",
        "tier",
        "total_saving",
    )

    def __init__(
        self,
        policy: Policy,
        as_of: dt.date,
        filing: dict[str, Any],
        statuses: tuple[str, ...],
        tier: str | None,
        benefit_ids: tuple[str, ...],
        savings: tuple[float | None, ...],
        total_saving: float,
    ) -> None:
        self.policy = policy
        self.as_of = as_of
        self.filing = filing
        self.statuses = statuses
        self.tier = tier
        self.benefit_ids = benefit_ids
        self.savings = savings
        self.total_saving = total_saving  # the sum of the rounded savings (decide adds them)

    def __repr__(self) -> str:
        return (
            f"Decision({self.policy.key}, as_of={self.as_of}, tier={self.tier}, "
            f"benefits={list(self.benefit_ids)})"
        )

    @property
    def tier_title(self) -> str | None:
        return self.policy.tier_by_id[self.tier].title if self.tier else None

    def _env_factory(self) -> Any:
        """The evaluation environment, built only if a fix or a computed bound needs it."""
        cache: list[dict[str, Any]] = []
        p, filing, as_of = self.policy, self.filing, self.as_of.isoformat()

        def env() -> dict[str, Any]:
            if not cache:
                cache.append({**p.parameter_values, **filing, "as_of": as_of})
            return cache[0]

        return env

    def _row(self, i: int, explainer: CriterionExplainer, env: Any) -> tuple[Any, ...]:
        """(criterion, status, values, explanation, fix, threshold, requirement)."""
        c, status, filing = self.policy.criteria[i], self.statuses[i], self.filing
        values = {n: filing.get(n) for n in explainer.inputs}
        if status == "not_applicable":
            return (c, status, values, explainer.not_applicable, None, None, None)
        text, fix, threshold, requirement = explainer.cached(
            status, filing, self.as_of.isoformat(), env
        )
        if type(threshold) is tuple:
            threshold = list(threshold)  # never hand out the memo's own objects
        return (c, status, values, text, fix, threshold, requirement)

    def _rows(self) -> list[tuple[Any, ...]]:
        """Every criterion's row, in policy order; texts are memoised per criterion."""
        env = self._env_factory()
        explainers = _explainers(self.policy, self.filing[self.policy.applicability_input])
        return [self._row(i, ex, env) for i, ex in enumerate(explainers)]

    def criteria(self) -> list[CriterionResult]:
        """Each criterion with its explanation and fix (computed on demand: the texts cost
        more than the decision itself)."""
        return [CriterionResult(r[0].id, *r[1:]) for r in self._rows()]

    @property
    def benefits(self) -> list[BenefitResult]:
        by_id = self.policy.benefit_by_id
        return [
            BenefitResult(bid, by_id[bid].title, self.policy.rate_text(by_id[bid]), saving)
            for bid, saving in zip(self.benefit_ids, self.savings, strict=True)
        ]

    def to_json(self) -> bytes:
        """``to_dict()`` as JSON with sorted keys, the same bytes for the same decision.

        Serving decisions is what the service does most, so the JSON is spliced from
        parts made once: the policy's fixed texts, each benefit's, and each criterion's
        JSON memoised on what it depends on (status, the values read, the date when the
        requirement reads it). Tests hold it equal to ``orjson.dumps(to_dict())``.
        """
        compiled = compile_policy(self.policy)
        parts = compiled.json_parts
        if parts is None:
            parts = compiled.json_parts = _JsonParts(self.policy)
        activity = self.filing[self.policy.applicability_input]
        writer = compiled.writers.get(activity)
        if writer is None:
            writer = compiled.writers[activity] = _criteria_writer(self.policy, activity)
        rest = parts.benefit  # each benefit's JSON after its saving
        # one list of parts, joined once (the criteria are most of the bytes)
        out = [
            b'{"as_of":"',
            self.as_of.isoformat().encode(),
            b'","benefits":[',
            b",".join(
                [
                    b'{"estimated_annual_saving_kzt":' + orjson.dumps(saving) + rest[bid]
                    for bid, saving in zip(self.benefit_ids, self.savings, strict=True)
                ]
            ),
            b'],"criteria":[',
        ]
        writer(self, out)
        out += (
            b'],"estimated_total_saving_kzt":',
            orjson.dumps(self.total_saving),
            parts.policy,
            parts.tier[self.tier],
        )
        return b"".join(out)

    def _head(self) -> dict[str, Any]:
        p = self.policy
        return {
            "policy": {"id": p.id, "version": p.version, "digest": p.digest},
            "as_of": self.as_of.isoformat(),
            "tier": self.tier,
            "tier_title": self.tier_title,
            "benefits": [
                {
                    "id": b.id,
                    "title": b.title,
                    "standard_rate": b.standard_rate,
                    "estimated_annual_saving_kzt": b.saving,
                }
                for b in self.benefits
            ],
            "estimated_total_saving_kzt": self.total_saving,
        }

    def to_dict(self) -> dict[str, Any]:
        """The API contract's decision (ARCHITECTURE.md); deterministic key and list order."""
        head = self._head()
        head["criteria"] = [_criterion_dict(row) for row in self._rows()]
        return head


class _JsonParts:
    """The fixed JSON texts of a policy's decisions, in sorted-key order."""

    def __init__(self, p: Policy) -> None:
        def inner(obj: dict[str, Any]) -> bytes:  # '"a":1,"b":2': sorted, no braces
            return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)[1:-1]

        self.policy = (
            b',"policy":{' + inner({"id": p.id, "version": p.version, "digest": p.digest}) + b"}"
        )
        self.tier = {
            t: b"," + inner({"tier": t, "tier_title": p.tier_by_id[t].title if t else None}) + b"}"
            for t in [None, *p.tier_by_id]
        }
        self.benefit = {
            b.id: b","
            + inner({"id": b.id, "title": b.title, "standard_rate": p.rate_text(b)})
            + b"}"
            for b in p.benefits
        }


def _criteria_writer(p: Policy, activity: str) -> Callable[[Decision, list[bytes]], None]:
    """The criteria of one activity's decisions as JSON, appended as parts to ``out`` (the
    list the whole decision's JSON is joined from once, comma-separated, so no
    criterion's bytes are copied twice), generated (see codegen): for each
    criterion, look up its memoised JSON by status and the values it reads, and build it
    on a miss from the criterion's fragment templates (:class:`_Fragments`). A number's
    key tells 95 from 95.0 (their JSON differs); a set's is a tuple."""
    explainers = _explainers(p, activity)
    types = {i.name: i.type for i in p.inputs}
    memos: list[dict[str, dict[Any, bytes]]] = [{s: {} for s in STATUSES} for _ in explainers]
    held = [0]  # texts kept by this writer, in all its memos
    fragments = [_Fragments(c, ex) for c, ex in zip(p.criteria, explainers, strict=True)]

    def miss(d: Decision, i: int, key: Any) -> bytes:
        fragment = fragments[i].write(d, d.statuses[i])
        memo = memos[i][d.statuses[i]]
        if len(memo) >= CRITERION_MEMO:  # bounded memory: this criterion's starts afresh
            held[0] -= len(memo)
            memo.clear()
        elif held[0] >= WRITER_MEMO:  # and in all: the fullest one does
            fullest = max((m for by_status in memos for m in by_status.values()), key=len)
            held[0] -= len(fullest)
            fullest.clear()
        memo[key] = fragment
        held[0] += 1
        return fragment

    ns: dict[str, Any] = {
        "MISS": miss,
        "DUMPS": orjson.dumps,
        "B_ENDS": b"}}",  # the values' and the criterion's
        "NJ": format_number_json,
        "PLAIN": plain_number_json,
        "COMMA": b",",
        "POINT_0": b".0",
    }
    body = ["g = d.filing.get", "st = d.statuses", "day = d.as_of"]

    def shown(name: str, v: str, j: str) -> str:
        """A number's text as format_value shows it (None: the long road), read off its
        JSON ``j``: an int under 1,000 in magnitude is its JSON (no regular expression),
        a float its JSON when PLAIN matches, and a whole float under 1,000 other than 0
        (100.0, the commonest percentage) its JSON without the ".0" (as NJ reads it);
        anything else as NJ says."""
        if types[name] == "integer":
            return f"{j} if type({v}) is int and -1000 < {v} < 1000 else NJ({v}, {j})"
        plain = f"type({v}) is int and -1000 < {v} < 1000"
        whole = f"{j}[:-2] if {j}[-2:] == POINT_0 and -1000.0 < {v} < 1000.0 and {v} else "
        return (
            f"({j} if PLAIN({j}) else {whole}NJ({v}, {j})) if type({v}) is float "
            f"else {j} if {plain} else NJ({v}, {j})"
        )

    for i, explainer in enumerate(explainers):
        ns[f"M{i}"] = memos[i]
        # every criterion after the first starts with the comma between them: its first
        # fixed part carries it (see lead), a memoised fragment gets it as a part
        lead = b"," if i else b""
        key_parts = []
        for n, name in enumerate(explainer.inputs):
            v = f"v{i}_{n}"
            body.append(f"{v} = g({name_literal(name)})")
            if types[name] == "number":
                key_parts.append(f"(({v},) if type({v}) is float else {v})")
            elif types[name] == "set":
                key_parts.append(f"(None if {v} is None else tuple({v}))")
            else:
                key_parts.append(v)
        if explainer.dated:
            key_parts.append("day")
        # one input: its value; none (a condition on the activity alone): (); else a tuple
        key = key_parts[0] if len(key_parts) == 1 else "(" + ", ".join(key_parts) + ")"
        put = "out += (COMMA, r)" if i else "out.append(r)"
        lookup = [f"k = {key}", f"r = M{i}[st[{i}]].get(k)", "if r is None:",
                  f"    r = MISS(d, {i}, k)", put]  # fmt: skip
        if explainer.not_applicable:
            # Not for this activity: its fixed JSON and the values, never memoised (the
            # values of inputs other activities' criteria read vary as much as any).
            frag = fragments[i]
            ns.update({f"K{i}_{n}": part for n, part in enumerate(frag.value_keys)})
            # the fixed text joined with the first key, the last key with the end
            ns[f"NA{i}"] = (
                lead + frag.not_applicable + frag.value_keys[0] + (b"" if frag.met else b"}")
            )
            parts = [f"NA{i}"]
            for n, at in enumerate(frag.met):
                parts += [f"K{i}_{n}"] if n else []
                parts += [f"DUMPS(v{i}_{at})"]
            parts += ["B_ENDS"] if frag.met else []
            body += [f"if st[{i}] == 'not_applicable':",
                     f"    out += ({', '.join(parts)},)",
                     "else:", *("    " + line for line in lookup)]  # fmt: skip
        elif (met := fragments[i].met_road(types)) is not None:
            # Met, every value shown as format_value shows it: "Met: a is <value>; b is
            # <value> (required: ...)." spliced from parts made once (values hardly
            # repeat, so a memo would only churn). A number with more than 6 decimals
            # (shown against its threshold), or any value of an unexpected type, takes
            # the memo and its long road.
            frag = fragments[i]
            ns[f"MO{i}"] = lead + frag.met_open + frag.met_labels[0]  # the first label joined
            ns.update({f"ML{i}_{n}": label for n, label in enumerate(frag.met_labels)})
            ns.update({f"K{i}_{n}": part for n, part in enumerate(frag.value_keys)})
            body += ["w = True", f"if st[{i}] == 'met':"]
            texts, checks = [], []
            for n, name in enumerate(explainer.inputs):
                v, j, t = f"v{i}_{n}", f"j{i}_{n}", f"t{i}_{n}"
                body.append(f"    {j} = DUMPS({v})")
                if types[name] in ("number", "integer"):
                    body.append(f"    {t} = {shown(name, v, j)}")
                elif types[name] == "bool":
                    body.append(f"    {t} = {j} if type({v}) is bool else None")
                else:
                    body.append(f"    {t} = {j}[1:-1] if type({v}) is str else None")
                checks.append(f"{t} is not None")
                texts += [f"ML{i}_{n}", t] if n else [t]
            if met == "dated":
                ns[f"MD{i}"] = frag.dated_tail
                tail = f"MD{i}(day)"
            else:
                ns[f"MT{i}"] = frag.met_tail
                tail = f"MT{i}"
            values = []  # the tail ends with the first key
            for n, at in enumerate(frag.met):
                values += [f"K{i}_{n}", f"j{i}_{at}"] if n else [f"j{i}_{at}"]
            parts = ["MO" + str(i), *texts, tail, *values, "B_ENDS"]
            body += [f"    if {' and '.join(checks)}:",
                     f"        out += ({', '.join(parts)},)",
                     "        w = False"]  # fmt: skip
            if frag.not_met_parts is not None:
                # Not met, one number against a written bound: "Not met: name is <value>
                # (required: ...)." and "raise name from <value> to at least ...".
                nm = list(frag.not_met_parts)
                nm[0] = lead + nm[0]
                ns.update({f"NM{i}_{n}": part for n, part in enumerate(nm)})
                name = explainer.inputs[0]
                v, j, t = f"v{i}_0", f"j{i}_0", f"t{i}_0"
                body += [f"elif st[{i}] == 'not_met':",
                         f"    {j} = DUMPS({v})",
                         f"    {t} = {shown(name, v, j)}",
                         f"    if {t} is not None:",
                         f"        out += (NM{i}_0, {t}, NM{i}_1, {t}, NM{i}_2, {j}, B_ENDS)",
                         "        w = False"]  # fmt: skip
            body += ["if w:", *("    " + line for line in lookup)]
        else:
            body += lookup
    return make_function("criteria_json", "d, out", body, ns, label=activity)


class _Fragments:
    """One criterion's JSON (``_criterion_dict`` with sorted keys) at one activity, from
    parts made once: everything but the texts, the values and, where they vary, the
    requirement (a dated one names the day) and the threshold (a computed one).

    The commonest statuses take a short road: ``not_applicable`` is its fixed text and
    the values; ``met`` with a threshold that is not computed and values that
    ``format_value`` shows as they are (no compared number with more than 6 decimals)
    is "Met: " + the values + the requirement. Everything else goes through
    ``CriterionExplainer.explain``, as ``to_dict`` does. Tests hold every fragment
    byte-equal to ``orjson.dumps(_criterion_dict(row), option=OPT_SORT_KEYS)``."""

    __slots__ = (
        "dated",
        "dated_tails",
        "explainer",
        "head",
        "met",
        "met_labels",
        "met_open",
        "met_requirement",
        "met_tail",
        "not_applicable",
        "not_met_parts",
        "requirement",
        "status",
        "tail",
        "threshold",
        "value_keys",
    )

    def __init__(self, c: Any, explainer: CriterionExplainer) -> None:
        dumps = orjson.dumps
        self.explainer = explainer
        # keys in order: citation explanation fix id requirement status threshold tier
        # title values
        self.head = b'{"citation":' + dumps(c.citation) + b',"explanation":'
        #: after the fix: the id, up to the requirement's value
        self.requirement = b',"id":' + dumps(c.id) + b',"requirement":'
        self.status = {s: b',"status":"' + s.encode() + b'","threshold":' for s in STATUSES}
        self.tail = b',"tier":' + dumps(c.tier) + b',"title":' + dumps(c.title) + b',"values":'
        #: the values' JSON around each value, keys sorted: '{"a":', ',"b":', ...
        names = sorted(explainer.inputs)
        self.value_keys = [
            (b"{" if k == 0 else b",") + dumps(n) + b":" for k, n in enumerate(names)
        ]
        self.value_keys.append(b"}" if names else b"{}")
        #: the inputs in that order, as positions in explainer.inputs
        self.met: tuple[int, ...] = tuple(explainer.inputs.index(n) for n in names)
        #: the threshold's JSON when it never varies (a constant, or none computed)
        self.threshold: bytes | None = None
        if explainer.threshold is None:
            constant = explainer.constant_threshold
            self.threshold = dumps(list(constant) if type(constant) is tuple else constant)
        #: whether the requirement names the day (explain fills "{as_of}" in)
        self.dated = "{as_of}" in explainer.requirement
        #: a met fragment from after its explanation up to its values (None: it varies,
        #: with the day or with a computed threshold)
        self.met_requirement: bytes | None = None
        if self.threshold is not None and not self.dated:
            self.met_requirement = self._met_middle(explainer.requirement, self.threshold)
        #: a met fragment's parts: up to the first value's text, each value's label
        #: ("name is ", "; name is "), and after the last text up to the first value's
        #: JSON (the suffix, the requirement, the threshold: fixed, or per day when dated)
        self.met_open = self.head + b'"Met: '
        self.met_labels = [
            (b"" if k == 0 else b"; ") + dumps(n)[1:-1] + b" is "
            for k, n in enumerate(explainer.inputs)
        ]
        self.met_tail: bytes | None = None
        if self.met_requirement is not None:
            self.met_tail = (
                dumps(explainer.met_suffix)[1:] + self.met_requirement + self.value_keys[0]
            )
        self.dated_tails: dict[dt.date, bytes] = {}
        #: a not-met fragment of a one-number comparison with a written bound, around the
        #: value's text (twice: explanation, fix) and its JSON; None for other criteria
        self.not_met_parts: tuple[bytes, bytes, bytes] | None = None
        texts = explainer.not_met_parts
        if texts is not None and self.threshold is not None:
            text_head, text_tail, fix_head, fix_tail = (dumps(t)[1:-1] for t in texts)
            self.not_met_parts = (
                self.head + b'"' + text_head,
                text_tail + b'","fix":"' + fix_head,
                fix_tail
                + b'"'
                + self.requirement
                + dumps(explainer.requirement)
                + self.status["not_met"]
                + self.threshold
                + self.tail
                + self.value_keys[0],
            )
        self.not_applicable = (
            self.head
            + dumps(explainer.not_applicable)
            + b',"fix":null'
            + self.requirement
            + b"null"
            + self.status["not_applicable"]
            + b"null"
            + self.tail
        )

    def met_road(self, types: dict[str, str]) -> str | None:
        """Whether a met fragment can be spliced from its parts (``met_open``,
        ``met_labels``, the values' texts, a tail): ``"fixed"`` when the tail is
        ``met_tail``, ``"dated"`` when it is ``dated_tail(day)``, None when not (no input
        read, a set input, a computed threshold, or only yes/no and choice inputs, whose
        few values the memo keeps)."""
        ex = self.explainer
        if ex.not_applicable or not ex.inputs or self.threshold is None:
            return None
        if any(types[n] not in _SPLICED for n in ex.inputs):
            return None
        if not self.dated and all(types[n] in ("bool", "enum") for n in ex.inputs):
            return None  # few values: the memo hits
        if self.met_tail is not None:
            return "fixed"
        return "dated" if self.dated else None

    def dated_tail(self, day: dt.date) -> bytes:
        """``met_tail`` of a dated requirement on ``day`` (memoised per day, bounded):
        after the last value's text up to the first value's JSON."""
        tail = self.dated_tails.get(day)
        if tail is None:
            ex, text = self.explainer, day.isoformat()
            assert self.threshold is not None  # see met_road
            tail = (
                orjson.dumps(ex.met_suffix.replace("{as_of}", text))[1:]
                + self._met_middle(ex.requirement.replace("{as_of}", text), self.threshold)
                + self.value_keys[0]
            )
            if len(self.dated_tails) >= DATED_MEMO:
                self.dated_tails.clear()
            self.dated_tails[day] = tail
        return tail

    def _met_middle(self, requirement: str, threshold: bytes) -> bytes:
        """A met fragment from after its explanation up to its values."""
        return (
            b',"fix":null'
            + self.requirement
            + orjson.dumps(requirement)
            + self.status["met"]
            + threshold
            + self.tail
        )

    def _values(self, values: list[Any]) -> bytes:
        keys, dumps = self.value_keys, orjson.dumps
        parts = []
        for k, at in enumerate(self.met):
            parts.append(keys[k])
            parts.append(dumps(values[at]))
        parts.append(keys[-1])
        return b"".join(parts)

    def write(self, d: Decision, status: str) -> bytes:
        """The fragment of ``d``'s criterion in ``status``."""
        ex, filing = self.explainer, d.filing
        values = list(map(filing.get, ex.inputs))
        if status == "not_applicable":
            return self.not_applicable + self._values(values) + b"}"
        if status == "met":
            for v in values:
                if type(v) is float and v != round(v, 6):
                    break  # shown with more decimals where it is compared: the long road
            else:
                text = "; ".join(
                    [f"{n} is {format_value(v)}" for n, v in zip(ex.inputs, values, strict=True)]
                )
                middle = self.met_requirement
                suffix = ex.met_suffix
                if middle is None:
                    requirement = ex.requirement
                    if self.dated:
                        day = d.as_of.isoformat()
                        requirement = requirement.replace("{as_of}", day)
                        suffix = suffix.replace("{as_of}", day)
                    threshold = self.threshold
                    computed = ex.threshold
                    if threshold is None and computed is not None:
                        try:
                            threshold = orjson.dumps(computed(d._env_factory()()))
                        except Missing:
                            threshold = b"null"
                    assert threshold is not None  # constant, or computed
                    middle = self._met_middle(requirement, threshold)
                return b"".join(
                    (
                        self.head,
                        orjson.dumps("Met: " + text + suffix),
                        middle,
                        self._values(values),
                        b"}",
                    )
                )
        dumps = orjson.dumps
        day = d.as_of.isoformat()
        # the criterion's own environment: what its condition reads (to_dict's rows use
        # the whole one; tests hold the two to the same bytes)
        text, fix, threshold, requirement = ex.explain(
            status, filing, ex.env_factory(filing, day), day
        )
        return b"".join(
            (
                self.head,
                dumps(text),
                b',"fix":',
                dumps(fix),
                self.requirement,
                dumps(requirement),
                self.status[status],
                self.threshold if self.threshold is not None else dumps(threshold),
                self.tail,
                self._values(values),
                b"}",
            )
        )


def _criterion_dict(row: tuple[Any, ...]) -> dict[str, Any]:
    c, status, values, text, fix, threshold, requirement = row
    return {
        "id": c.id,
        "title": c.title,
        "tier": c.tier,
        "status": status,
        "values": values,
        "requirement": requirement,
        "threshold": threshold,
        "explanation": text,
        "fix": fix,
        "citation": c.citation,
    }


def _explainers(p: Policy, activity: str) -> list[CriterionExplainer]:
    """The explainers of every criterion for one activity, built on first use."""
    compiled = compile_policy(p)
    found = compiled.explainers.get(activity)
    if found is None:
        found = compiled.explainers[activity] = [
            CriterionExplainer(p, c, activity, compiled.specialised[i][activity])
            for i, c in enumerate(p.criteria)
        ]
    return found


def estimate_savings(
    policy: Policy,
    granted: list[int],
    values: dict[str, Any],
    estimates: list[Saving | None] | None = None,
) -> tuple[tuple[float | None, ...], float]:
    """The estimated annual savings (KZT) of the granted benefits, and their total.

    ``granted``: indices into ``policy.benefits``, in the order wanted; ``values``: the
    filing's inputs (validated). Each saving is the compiled formula's (exact, parameters
    folded in, rounded by the policy's rule: ``hub.policy.money``); None where the benefit
    has no estimate or an input it reads is absent (a saving never affects eligibility).
    The total is the exact sum of the rounded savings, the unknown ones left out.
    ``estimates`` (``compile_policy(policy).savings``) saves a look-up on the hot path.
    """
    if estimates is None:
        estimates = compile_policy(policy).savings
    amount = policy.rounding.amount
    savings: list[float | None] = []
    total = 0  # in rounding units (tiyn): exact
    for j in granted:
        saving = None
        estimate = estimates[j]
        if estimate is not None:
            try:
                steps = estimate(values)
                total += steps
                saving = amount(steps)
            except Missing:
                saving = None
        savings.append(saving)
    return tuple(savings), amount(total)


def decide(
    policy: Policy, clean: dict[str, Any], as_of: dt.date, fired_out: list[str] | None = None
) -> Decision:
    """Run the rules on a filing that already passed validate_filing.

    ``fired_out``, when given, receives the names of every engine rule that fired, in
    order (phase one's ``u:<i>:<n>``, then phase two's ``t:<k>:`` and ``b:<j>:``): what
    ``hub.policy.trace`` reports. The decision itself does not depend on it."""
    compiled = compile_policy(policy)
    activity = clean[policy.applicability_input]
    plan = compiled.plan(activity)
    found: list[list[str]] = []

    def summarise(fired: list[str]) -> str:
        statuses, summary = plan.summarise(clean, fired)
        found.append(statuses)
        return summary

    fired = engine().fire(compiled, compiled.fact(clean, activity, as_of.isoformat()), summarise)
    if fired_out is not None:
        fired_out.extend(fired)
    tier_rank = -1
    granted: list[int] = []
    outcomes = compiled.outcomes
    for name in fired:
        outcome = outcomes.get(name)
        if outcome is not None:
            if outcome[0]:
                granted.append(outcome[1])
            elif outcome[1] > tier_rank:
                tier_rank = outcome[1]
    granted.sort()
    benefits = policy.benefits
    savings, total = estimate_savings(policy, granted, clean, compiled.savings)
    return Decision(
        policy,
        as_of,
        clean,
        tuple(found[0]),
        policy.tiers[tier_rank].id if tier_rank >= 0 else None,
        tuple([benefits[j].id for j in granted]),
        savings,
        total,
    )


def assess(policy: Policy, filing: Any, as_of: dt.date) -> Decision:
    """Validate and decide on ``as_of``; raises FilingInvalid before anything is evaluated.

    The core reads no clock: the caller passes the day (the hub's "today" comes from
    ``hub.clock``, outside the core).
    """
    clean = validate_filing(policy, filing)
    return decide(policy, clean, as_of)


def prepare(policy: Policy) -> None:
    """Build now what deciding under ``policy`` builds on first use: the compiled rules
    loaded in the engine, the filing validator, and for every activity its plan, its
    criteria's explainers and JSON writer, and the policy's fixed JSON parts. A process
    that forks workers calls it first, so they share all of it (copy-on-write) instead
    of each building its own."""
    compiled = compile_policy(policy)
    engine().ruleset(compiled)
    fast_validator(policy)
    if compiled.json_parts is None:
        compiled.json_parts = _JsonParts(policy)
    for activity in policy.activities:
        compiled.plan(activity)
        if activity not in compiled.writers:
            compiled.writers[activity] = _criteria_writer(policy, activity)
