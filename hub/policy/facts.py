"""The runtime fact encoding: a compiled policy (:class:`CompiledPolicy`, what the
compiler of :mod:`.compiler` builds), the facts each decision asserts (``fact``,
:class:`ActivityPlan`), and the one JSON writer of rules and facts (``rules_json``).

durable-rules compares the bytes of strings as written and refuses numbers in exponent
form, so rules and facts are written by the same writers: strings by orjson (raw UTF-8),
numbers positionally (``number_json``). The fact's keys are the inputs' names; the
engine's own keys start with ``#``, which no input name can.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import orjson

from .expr import Node
from .money import Saving

#: orjson writes an exponent as e+NN or e-NN; this also matches text such as "e-money",
#: which merely takes the slow path (a literal first byte keeps the scan fast: measured
#: 1 us over a whole fact, against 5 us for a pattern starting with a digit class)
_EXPONENT = re.compile(rb"e[-+]")
#: keys the engine gives a meaning of its own; an input so named gets a "#" prefix
ENGINE_KEYS = frozenset({"sid", "id"})
AS_OF = "#d"
FILING = {"#t": "f"}  # every rule names the fact it reads (a rule of only $nex loops)
SUMMARY = {"#t": "s"}
PRIMER = {"#t": "p"}  # see durable_engine.py: primes each engine state with one action


def number_json(value: int | float) -> str:
    """JSON for a number without exponent form, which durable-rules rejects."""
    if isinstance(value, bool):
        raise TypeError("a boolean is not a number here")
    if isinstance(value, int):
        return str(value)
    text = repr(value)
    if "e" in text or "E" in text:
        text = format(Decimal(text), "f")
    return text


@dataclass
class CompiledPolicy:
    """Everything needed to run one policy version; built once per content digest."""

    name: str
    #: phase one: the filing fact -> criteria not met
    rules: dict[str, Any]
    #: phase two: the summary fact -> tiers reached, benefits granted
    summary_rules: dict[str, Any]
    #: the inputs and set items the rules read: (fact key, input name, type); a set
    #: item's name is "input\x00item" and its type "item"
    fact_fields: list[tuple[str, str, str]]
    #: every input of the policy and its type
    input_types: dict[str, str]
    #: the input that decides applicability (activity)
    activity_input: str
    #: inputs that benefit requirements read, copied into the phase-two summary fact
    summary_fields: list[str] = field(default_factory=list)
    #: criterion index -> specialised condition per activity (None where not applicable)
    specialised: list[dict[str, Node | None]] = field(default_factory=list)
    applies: list[frozenset[str]] = field(default_factory=list)
    #: benefit index -> saving closure: the rounded saving, in decimal (hub/policy/money.py;
    #: None where the benefit has no estimate)
    savings: list[Saving | None] = field(default_factory=list)
    #: activity -> the explainer of each criterion, filled on first use
    explainers: dict[str, list[Any]] = field(default_factory=dict)
    #: activity -> the writer of its criteria's JSON, and the policy's fixed JSON parts,
    #: both built on first use by the decision module
    writers: dict[str, Any] = field(default_factory=dict)
    json_parts: Any = None

    #: criterion index -> the inputs it reads (all present, or the status is missing)
    input_sets: list[frozenset[str]] = field(default_factory=list)
    #: activity -> the activity-set flags it raises in the fact
    activity_flags: dict[str, str] = field(default_factory=dict)
    #: activity -> the fact keys its rules read (the rest stays out of its facts)
    read_keys: dict[str, frozenset[str]] = field(default_factory=dict)
    #: criteria that benefit requirements read through met()
    met_used: frozenset[int] = frozenset()
    #: criterion index -> the rank of its tier (0 for T1)
    tier_ranks: list[int] = field(default_factory=list)
    #: criterion index -> activity -> the name of the phase-one rule that fires when the
    #: criterion is not met (absent where it does not apply or its condition always holds)
    unmet_rules: list[dict[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        keys = {name: key for key, name, typ in self.fact_fields if typ != "item"}
        self.keys = keys
        #: inputs whose fact key is not their name (they would clash with the engine's own)
        self._renamed = {name: key for name, key in keys.items() if key != name}
        items: dict[str, list[tuple[str, str]]] = {}
        for key, name, typ in self.fact_fields:
            if typ == "item":
                base, item = name.split("\x00")
                items.setdefault(base, []).append((item, key))
        #: set input -> (its item flags' writer, the fact keys of its items)
        self._items = {
            base: (_item_flags(pairs), frozenset(key for _, key in pairs))
            for base, pairs in items.items()
        }
        flags_of = {base: flags for base, (flags, _) in self._items.items()}
        #: inputs benefit requirements read: (name, fact key, item flags for a set input)
        self._summary = [
            (name, keys.get(name, name), flags_of.get(name))
            for name in self.summary_fields
            if name != self.activity_input
        ]
        self._plans: dict[str, ActivityPlan] = {}
        #: phase-two rule name -> (0, tier rank) or (1, benefit index)
        self.outcomes = {
            name: (0 if name[0] == "t" else 1, int(name[2 : name.index(":", 2)]))
            for name in self.summary_rules
            if name[0] in "tb"
        }

    def fact(self, clean: dict[str, Any], activity: str, as_of: str) -> str:
        """Phase one: the validated filing itself (its keys are the fact's), the date, the
        activity's set flags and one flag per set item the rules read, numbers positional.

        orjson writes the common case (measured 2.8 us, against 7.6 us to build a fact with
        keys of its own); a number it writes in exponent form, which durable-rules
        refuses, takes the slow path."""
        head = '"#t":"f","#d":"' + as_of + '"' + self.activity_flags[activity]
        plan = self._plans.get(activity) or self.plan(activity)
        for base, flags in plan.item_flags:
            chosen = clean.get(base)
            if chosen is not None:
                head += flags(tuple(chosen))
        doc = clean
        drop = plan.drop
        if drop:
            doc = clean.copy()
            for name in drop:
                doc.pop(name, None)
        if not self._renamed:
            text = orjson.dumps(doc)  # validated text: never a lone surrogate
            if _EXPONENT.search(text) is None:
                return head + ("," + text[1:].decode() if len(text) > 2 else "}")
        return head + _encode(doc, self._renamed)

    def plan(self, activity: str) -> ActivityPlan:
        found = self._plans.get(activity)
        if found is None:
            found = self._plans[activity] = ActivityPlan(self, activity)
        return found


class ActivityPlan:
    """What every decision for one activity shares: the criteria that apply, the inputs
    each reads, and the fixed part of the summary fact. Turning phase one's output into
    statuses and the summary fact is then a few set and list operations."""

    __slots__ = (
        "base",
        "by_input",
        "drop",
        "head",
        "item_flags",
        "not_met_flag",
        "rank",
        "rank_flag",
        "read",
        "summary",
        "unmet",
    )

    def __init__(self, compiled: CompiledPolicy, activity: str) -> None:
        act = compiled.activity_input
        applies = [activity in a for a in compiled.applies]
        self.base = ["met" if ok else "not_applicable" for ok in applies]
        by_input: dict[str, list[int]] = {}
        for i, inputs in enumerate(compiled.input_sets):
            if applies[i]:
                for name in sorted(inputs - {act}):
                    by_input.setdefault(name, []).append(i)
        self.by_input = by_input
        self.read = frozenset(by_input)
        self.unmet = {
            name: int(name[2 : name.index(":", 2)]) for name in compiled.rules if name[0] == "u"
        }
        self.rank = compiled.tier_ranks
        self.rank_flag = [f',"#u{r}":1' for r in range(max(self.rank, default=-1) + 1)]
        self.not_met_flag = {i: f',"#n{i}":1' for i in compiled.met_used}
        self.head = (
            '"#t":"s",'
            + _str_json(compiled.keys.get(act, act))
            + ":"
            + _str_json(activity)  # a choice is free text: quotes and backslashes escaped
            + "".join(flag for i, flag in sorted(self.not_met_flag.items()) if not applies[i])
        )
        self.summary = compiled._summary
        # Inputs the rules of the activity never read stay out of its facts: free text can
        # be long, and the engine parses every field (callgrind: about 45 instructions a
        # byte) and copies the whole fact into each action message.
        read = compiled.read_keys.get(activity, frozenset())
        kept = read | {compiled.keys[act]}
        self.drop = tuple(n for n in compiled.input_types if compiled.keys.get(n) not in kept)
        self.item_flags = [
            (base, flags) for base, (flags, keys) in compiled._items.items() if keys & read
        ]

    def summarise(self, clean: dict[str, Any], fired: list[str]) -> tuple[list[str], str]:
        """Statuses from phase one (``not_applicable`` and ``missing`` follow from the
        activity and the inputs present, ``not_met`` from the rules that fired, ``met`` is
        what remains), and the summary fact for phase two."""
        statuses = self.base.copy()
        bad: list[int] = []
        if not clean.keys() >= self.read:
            for name in self.read.difference(clean):
                for i in self.by_input[name]:
                    if statuses[i] == "met":
                        statuses[i] = "missing"
                        bad.append(i)
        unmet = self.unmet
        for name in fired:
            j = unmet.get(name)
            if j is not None and statuses[j] == "met":
                statuses[j] = "not_met"
                bad.append(j)
        text = self.head
        if bad:
            rank, flag = self.rank, self.rank_flag
            text += "".join([flag[r] for r in sorted({rank[i] for i in bad})])
            if self.not_met_flag:
                text += "".join([self.not_met_flag.get(i, "") for i in sorted(bad)])
        for name, key, item_flags in self.summary:
            value = clean.get(name)
            if value is not None:
                text += "," + _str_json(key) + ":" + rules_json(value)
                if item_flags is not None:
                    text += item_flags(tuple(value))
        return statuses, text + "}"


class Num(float):
    """A number in a rule, serialised without exponent form."""

    original: int | float  # the number as the policy wrote it

    def __new__(cls, value: int | float) -> Num:
        obj = super().__new__(cls, value)
        obj.original = value
        return obj


def _item_flags(pairs: list[tuple[str, str]]) -> Callable[[tuple[str, ...]], str]:
    """The fact's flags for the items of one set input, remembered per selection (a set
    has few distinct selections)."""

    @functools.lru_cache(maxsize=1024)
    def flags(chosen: tuple[str, ...]) -> str:
        return "".join(
            [',"' + key + ('":true' if item in chosen else '":false') for item, key in pairs]
        )

    return flags


def _encode(doc: dict[str, Any], renamed: dict[str, str]) -> str:
    """The slow path of a fact's fields: any key, numbers never in exponent form."""
    return (
        "".join([f",{_str_json(renamed.get(k, k))}:{rules_json(v)}" for k, v in doc.items()]) + "}"
    )


def rules_json(value: Any) -> str:
    """JSON for the engine, rules and fact values alike, with numbers in positional form
    (durable-rules error 204 otherwise)."""
    if isinstance(value, Num):
        return number_json(value.original)
    if isinstance(value, dict):
        return "{" + ",".join(f"{_str_json(k)}:{rules_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(rules_json(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return number_json(value)
    if isinstance(value, str):
        return _str_json(value)
    if value is None:
        return "null"
    raise TypeError(f"cannot serialise {value!r}")


def _str_json(s: str) -> str:
    """A string for the engine, written exactly as orjson writes the facts' strings.

    durable-rules never decodes a JSON escape: it compares and hashes the bytes between
    the quotes (measured in tests/unit/test_engine_text.py). So rules and facts must
    spell every string alike, and the one writer is orjson: raw UTF-8, escaping only
    quotes, backslashes and control characters. (``json.dumps`` wrote ``\\u043c`` for
    ``м`` in the rules while orjson wrote ``м`` in the facts: no Cyrillic choice ever
    matched.) Text that orjson refuses, a lone surrogate, is refused by filing validation
    and by the policy loader; reaching here it is a bug, and raises ValueError."""
    try:
        return orjson.dumps(s).decode()
    except orjson.JSONEncodeError:
        shown = s.encode("utf-8", "backslashreplace")
        raise ValueError(f"text the engine cannot compare: {shown!r}") from None
