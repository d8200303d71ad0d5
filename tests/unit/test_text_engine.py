"""Text is compared as text, whatever its script: rules and facts reach the engine alike.

durable-rules compares the bytes between a string's quotes and never decodes an
escape, so a rule written ``"\\u043c..."`` never matches a fact written ``"м..."``.
The first test measures that on the engine itself; the others hold the compiler to
one spelling of every text (orjson's raw UTF-8, of NFC text) on drafts whose
activities, choices and set items are Cyrillic, Kazakh, combining marks and mixed
scripts, against the reference reading of the policy.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import random
import re
import unicodedata
from typing import Any

import durable_rules_engine as dre
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.policy import FilingInvalid, Policy, PolicyError, assess, engine, load_policy_text
from hub.policy.compiler import compile_policy
from hub.policy.facts import rules_json

from .core_support import AS_OF, P2026, exchange, miner
from .test_engine_oracle import reference


def random_filing(policy: Policy, rnd: random.Random) -> dict[str, Any]:
    """Values clustered at the policy's own thresholds, where mistakes hide."""
    params = [v for v in policy.parameter_values.values() if isinstance(v, int | float)]
    filing: dict[str, Any] = {"bin": "940140000385", "legal_name": "Random LLP"}
    for spec in policy.inputs:
        if spec.name in filing or (not spec.required and rnd.random() < 0.08):
            continue
        if spec.type in ("number", "integer"):
            value: Any = rnd.choice([*params, 0, 1, 10, 100]) + rnd.choice([-1, -0.1, 0, 0.1, 1])
            lo = spec.min if spec.min is not None else 0
            hi = spec.max if spec.max is not None else 1e12
            value = min(max(value, lo), hi)
            filing[spec.name] = int(value) if spec.type == "integer" else value
        elif spec.type == "bool":
            filing[spec.name] = rnd.random() < 0.8
        elif spec.type == "enum":
            filing[spec.name] = rnd.choice(spec.choices)
        elif spec.type == "set":
            filing[spec.name] = [c for c in spec.choices if rnd.random() < 0.85]
        elif spec.type == "date":
            filing[spec.name] = (AS_OF + dt.timedelta(rnd.randint(-3, 3))).isoformat()
    return filing


ACTIVITIES = ("exchange", "broker", "custody", "payments", "mining", "software")
LICENCES = ("none", "trading_facility", "service_provider", "mining")
OFFICERS = ("SEO", "FO", "CO", "MLRO", "CITO")
_names = itertools.count()


def _fires(condition: str, fact: str) -> bool:
    """Whether rule ``r`` with ``condition`` fires for the fact (JSON without braces)."""
    handle = dre.create_ruleset(
        f"text-probe-{next(_names)}",
        '{"r":{"all":[{"m":' + condition + '}]},"z":{"all":[{"m":{"#t":"p"}}],"pri":1000}}',
    )
    try:
        fired = []
        for ident, body in (("p", '"#t":"p"'), ("x", fact)):
            state = dre.assert_fact(handle, '{"sid":"0","id":"' + ident + '",' + body + "}")[1]
            started = dre.start_action_for_state(handle, state)
            message = started[1] if started else None
            while message:
                fired.append(message[2 : message.index('"', 2)])
                message = dre.complete_and_start_action(handle, state)
        return "r" in fired
    finally:
        dre.delete_ruleset(handle)


def _eq(key: str, value: str) -> str:
    return '{"$and":[{"#t":"f"},{' + key + ":" + value + "}]}"


def test_the_engine_compares_the_bytes_between_the_quotes() -> None:
    raw, escaped = '"майнинг"', json.dumps("майнинг")
    assert escaped != raw and escaped.startswith('"\\u043c')
    # The same spelling on both sides matches, whichever it is...
    assert _fires(_eq('"a"', raw), '"#t":"f","a":' + raw)
    assert _fires(_eq('"a"', escaped), '"#t":"f","a":' + escaped)
    # ...but an escape is never decoded: the two spellings of one text differ,
    assert not _fires(_eq('"a"', escaped), '"#t":"f","a":' + raw)
    assert not _fires(_eq('"a"', raw), '"#t":"f","a":' + escaped)
    assert not _fires(_eq('"a"', '"\\u00e9"'), '"#t":"f","a":"\\u00E9"')
    # as do the composed and decomposed forms of one letter,
    assert not _fires(_eq('"a"', '"\u00e9"'), '"#t":"f","a":"e\u0301"')
    # and a "not equal" rule fires for the same text spelt the other way.
    neq = '{"$and":[{"#t":"f"},{"$neq":{"a":' + json.dumps("қәү") + "}}]}"
    assert _fires(neq, '"#t":"f","a":"қәү"')
    # Keys too: a field name is matched on its bytes.
    assert _fires(_eq('"ключ"', "1"), '"#t":"f","ключ":1')
    assert not _fires(_eq(json.dumps("ключ"), "1"), '"#t":"f","ключ":1')


# --- drafts with non-ASCII ids ------------------------------------------------------------


def renamed_draft(
    activities: dict[str, str], licences: dict[str, str], officers: dict[str, str]
) -> Policy:
    """The 2026.1 policy with its activities, licence types and officers renamed."""
    names = {**licences, **activities, **officers}  # "mining" is both: one name for both
    pattern = re.compile(r"(?<![\w'-])(" + "|".join(map(re.escape, names)) + r")(?![\w-])")
    lines = []
    for line in P2026.text.splitlines():
        if "group:" in line or "{id:" in line:  # group ids keep their names
            lines.append(line)
        else:
            lines.append(pattern.sub(lambda m: names[m.group(1)], line))
    text = "\n".join(lines) + "\n"
    text = text.replace("'mining'", "'" + names["mining"] + "'")
    return load_policy_text(text, source="renamed.yaml")


def renamed_filing(filing: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    out = dict(filing)
    for key in ("activity", "licence_type"):
        if isinstance(out.get(key), str):
            out[key] = names.get(out[key], out[key])
    if isinstance(out.get("officers_appointed"), list):
        out["officers_appointed"] = [names.get(o, o) for o in out["officers_appointed"]]
    return out


def status(d: Any, criterion: str) -> str:
    return d.statuses[[c.id for c in d.policy.criteria].index(criterion)]


CYRILLIC = {"mining": "майнинг", "exchange": "биржа"}
CYRILLIC_LICENCES = {"trading_facility": "биржевая_лицензия", "mining": "майнинг"}


def test_a_cyrillic_draft_decides_as_the_policy_reads() -> None:
    draft = renamed_draft(CYRILLIC, CYRILLIC_LICENCES, {})
    names = {**CYRILLIC_LICENCES, **CYRILLIC}
    try:
        # A licence held exactly as the policy names it is valid.
        d = assess(draft, renamed_filing(exchange(), names), AS_OF)
        assert status(d, "valid_licence") == "met" and d.tier == "T3"
        # A miner whose power is not metered does not meet metered_power, so no tier...
        unmetered = renamed_filing(miner(power_metered=False), names)
        d = assess(draft, unmetered, AS_OF)
        assert status(d, "metered_power") == "not_met" and d.tier is None
        assert d.benefit_ids == ()
        # ...and a number written in exponent form elsewhere changes nothing (orjson
        # writes 1e-07 so, which sends the fact down the encoder's other path).
        low = assess(draft, {**unmetered, "renewable_energy_pct": 0}, AS_OF)
        for pct in (1e-07, 2.5e-06):
            e = assess(draft, {**unmetered, "renewable_energy_pct": pct}, AS_OF)
            assert (e.statuses, e.tier, e.benefit_ids) == (low.statuses, low.tier, ())
        assert status(low, "metered_power") == "not_met"
        metered = assess(draft, renamed_filing(miner(), names), AS_OF)
        assert status(metered, "metered_power") == "met" and metered.tier == "T3"
    finally:
        engine().forget(compile_policy(draft).name)


def test_rules_and_facts_spell_non_ascii_text_alike() -> None:
    draft = renamed_draft(CYRILLIC, CYRILLIC_LICENCES, {"CITO": "ІТ_директор"})
    compiled = compile_policy(draft)
    rules = rules_json(compiled.rules) + rules_json(compiled.summary_rules)
    assert "майнинг" in rules and "биржевая_лицензия" in rules and "\\u" not in rules
    filing = renamed_filing(miner(renewable_energy_pct=1e-07), {**CYRILLIC_LICENCES, **CYRILLIC})
    clean = assess(draft, filing, AS_OF).filing
    fact = compiled.fact(clean, "майнинг", AS_OF.isoformat())  # the exponent's slow path
    assert '"activity":"майнинг"' in fact and "\\u" not in fact
    fast = compiled.fact({**clean, "renewable_energy_pct": 60}, "майнинг", AS_OF.isoformat())
    assert '"activity":"майнинг"' in fast
    _, summary = compiled.plan("майнинг").summarise(clean, [])
    assert '"activity":"майнинг"' in summary


# Letters of several scripts, Kazakh's own among them, and combining marks.
LETTERS = "абвгдежзийклмнопрстуфхцчшщыэюяёқәүөңғіһұaegkmxyzαβγωλ中文"
MARKS = "\u0301\u0308\u0306\u0300\u0327"


def _id() -> st.SearchStrategy[str]:
    tail = st.text(st.sampled_from(LETTERS + MARKS + "_0123456789"), max_size=10)
    return st.builds(
        lambda first, rest: unicodedata.normalize("NFC", first + rest),
        st.sampled_from(LETTERS.replace("a", "").replace("e", "")),
        tail,
    ).filter(lambda s: not s.isascii() and not s.endswith("_"))


def _ids(originals: tuple[str, ...]) -> st.SearchStrategy[dict[str, str]]:
    return st.lists(_id(), min_size=len(originals), max_size=len(originals), unique=True).map(
        lambda new: dict(zip(originals, new, strict=True))
    )


def nfd(value: Any) -> Any:
    if isinstance(value, list):
        return [unicodedata.normalize("NFD", v) for v in value]
    return value


EXPONENT_NUMBERS = {  # values orjson writes in exponent form, within the inputs' bounds
    "renewable_energy_pct": 1e-07,
    "kyc_verified_clients_pct": 1e-07,
    "flagged_flow_pct": 2.5e-08,
    "independent_directors_pct": 5e-06,
    "cold_storage_pct": 1e-06,
}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(names=_ids(ACTIVITIES + LICENCES[:3] + OFFICERS), seed=st.integers(0, 2**32 - 1))
def test_random_non_ascii_ids_decide_as_the_reference(names: dict[str, str], seed: int) -> None:
    draft = renamed_draft(
        {k: names[k] for k in ACTIVITIES},
        {k: names[k] for k in LICENCES[:3]},
        {k: names[k] for k in OFFICERS},
    )
    rnd = random.Random(seed)
    try:
        for _ in range(40):
            base = random_filing(P2026, rnd) if rnd.random() < 0.5 else miner()
            if base.get("activity") != "mining" and rnd.random() < 0.5:
                base = exchange(activity=base["activity"], licence_type=base.get("licence_type"))
            if rnd.random() < 0.3:  # a number in exponent form
                name = rnd.choice(sorted(EXPONENT_NUMBERS))
                base[name] = EXPONENT_NUMBERS[name]
            filing = renamed_filing(base, names)
            try:
                d = assess(draft, filing, AS_OF)
            except FilingInvalid:
                continue
            expected = reference(draft, d.filing, AS_OF)
            assert (d.statuses, d.tier, d.benefit_ids) == expected, filing
            # The same text sent decomposed is compared, and kept, composed.
            decomposed = {
                k: unicodedata.normalize("NFD", v) if isinstance(v, str) else v
                for k, v in filing.items()
            }
            decomposed["officers_appointed"] = nfd(filing.get("officers_appointed"))
            n = assess(draft, decomposed, AS_OF)
            assert n.filing == d.filing and n.filing["activity"] == filing["activity"]
            assert (n.statuses, n.tier, n.benefit_ids) == expected
            # The same decision as the ASCII policy gives the same filing in ASCII.
            plain = assess(P2026, base, AS_OF)
            assert (d.statuses, d.tier) == (plain.statuses, plain.tier)
    finally:
        engine().forget(compile_policy(draft).name)


def test_policy_text_that_is_not_composed_is_refused_with_its_line() -> None:
    composed = renamed_draft(CYRILLIC, {}, {}).text
    line = "      майнинг: Mining\n"
    assert line in composed and unicodedata.normalize("NFD", line) != line  # й decomposes
    number = composed[: composed.index(line)].count("\n") + 1
    text = composed.replace(line, unicodedata.normalize("NFD", line))
    with pytest.raises(PolicyError) as caught:
        load_policy_text(text, source="nfd.yaml")
    assert caught.value.errors[0].startswith(
        f"nfd.yaml:{number}: inputs.activity.choices: 'майнинг' is written in "
        "decomposed form ('и' + U+0306 is 'й'); write it composed (Unicode NFC)"
    )


def test_a_lone_surrogate_in_a_policy_is_refused() -> None:
    for escape in ("\\ud800", "\\udfff"):
        text = P2026.text.replace("      mining: Mining\n", f'      "min{escape}ing": Mining\n')
        with pytest.raises(PolicyError):
            load_policy_text(text, source="bad.yaml")


def test_exponent_numbers_are_written_in_exponent_form_by_orjson() -> None:
    # The property above relies on these taking the fact's slow path.
    import orjson

    for value in EXPONENT_NUMBERS.values():
        assert re.search(rb"e[-+]", orjson.dumps(value)), value


def test_renaming_covers_every_id() -> None:
    # The helper renames every id, or the property above would test little.
    names = {a: f"а{n}" for n, a in enumerate(ACTIVITIES)}
    draft = renamed_draft(names, {}, {})
    assert set(draft.activities) == set(names.values())
    for criterion in draft.criteria:
        assert set(criterion.applies_to) <= set(names.values())
