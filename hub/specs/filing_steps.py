"""Given and When steps: build the filing in the hub's words and assess it.

Given steps speak the hub's language ("its clients are 94.9% identity-verified")
and write the filing field it means; a policy author adding an input that has no
phrase yet can use the generic steps (``the filing field "x" is 42``).
"""

from __future__ import annotations

import datetime as dt
import re

from hub.policy import NoVersionInForce, jsondoc

from .context import SpecContext, SpecFailure
from .vocabulary import (
    ACTIVITIES,
    ACTIVITY_RE,
    BOOL_PHRASES,
    DATE,
    ID,
    LICENCES,
    NOUNS,
    NUM,
    NUMBER_PHRASES,
    OFFICERS,
    REGISTRY,
    date,
    number,
    step,
)


def _phrase_regex(phrase: str) -> str:
    head, tail = phrase.split("{v}")
    return re.escape(head) + f"(?P<value>{NUM})" + re.escape(tail)


def _register_phrases() -> None:
    for fld, (phrase, _) in NUMBER_PHRASES.items():

        def set_number(ctx: SpecContext, value: int | float, _f: str = fld) -> None:
            ctx.filing[_f] = value

        REGISTRY.add(_phrase_regex(phrase), set_number, value=number)
    for fld, (yes, no, _) in BOOL_PHRASES.items():
        for phrase, flag in ((yes, True), (no, False)):

            def set_bool(ctx: SpecContext, _f: str = fld, _v: bool = flag) -> None:
                ctx.filing[_f] = _v

            REGISTRY.add(re.escape(phrase), set_bool)


_register_phrases()


# --- the company ---------------------------------------------------------------


@step(rf'an? (?P<activity>{ACTIVITY_RE}) "(?P<name>[^"]+)" with BIN (?P<bin>[0-9]+)')
def new_company(ctx: SpecContext, activity: str, name: str, bin: str) -> None:
    """Start a fresh filing: the three required fields."""
    ctx.filing = {"bin": bin, "legal_name": name, "activity": ACTIVITIES[activity]}
    ctx.licence_offset_days = None


@step(rf"the company is an? (?P<activity>{ACTIVITY_RE})")
def change_activity(ctx: SpecContext, activity: str) -> None:
    ctx.filing["activity"] = ACTIVITIES[activity]


@step(r'its legal name is "(?P<name>[^"]*)"')
def legal_name(ctx: SpecContext, name: str) -> None:
    ctx.filing["legal_name"] = name


@step(r"its legal name is (?P<length>[0-9]+) characters long", length=int)
def legal_name_length(ctx: SpecContext, length: int) -> None:
    ctx.filing["legal_name"] = ("Steppe Exchange " * 20)[:length]


@step(r"its BIN is (?P<bin>\S+)")
def set_bin(ctx: SpecContext, bin: str) -> None:
    ctx.filing["bin"] = bin


@step(
    r"it holds an? (?P<kind>trading facility|service provider|mining) licence"
    rf" valid until (?P<until>{DATE})"
)
def licence_until(ctx: SpecContext, kind: str, until: str) -> None:
    ctx.filing["licence_type"] = LICENCES[kind]
    ctx.filing["licence_expires_on"] = until
    ctx.licence_offset_days = None


@step(r"it holds an? (?P<kind>trading facility|service provider|mining) licence")
def licence_kind(ctx: SpecContext, kind: str) -> None:
    ctx.filing["licence_type"] = LICENCES[kind]


@step(r"it holds no licence")
def no_licence(ctx: SpecContext) -> None:
    ctx.filing["licence_type"] = "none"


@step(r"its licence expires (?P<when>on|the day before|the day after) the assessment date")
def licence_relative(ctx: SpecContext, when: str) -> None:
    """Expiry relative to the assessment date, so the scenario holds for any version."""
    ctx.licence_offset_days = {"on": 0, "the day before": -1, "the day after": 1}[when]


@step(r"it has appointed the key officers (?P<officers>.+)")
def officers(ctx: SpecContext, officers: str) -> None:
    names = [o.strip() for o in re.split(r",| and ", officers) if o.strip()]
    unknown = [o for o in names if o not in OFFICERS]
    if unknown:
        raise SpecFailure(f"unknown officers {unknown}; the officers are {', '.join(OFFICERS)}")
    ctx.filing["officers_appointed"] = names


@step(r"it has appointed no key officers")
def no_officers(ctx: SpecContext) -> None:
    ctx.filing["officers_appointed"] = []


@step(rf"its (?P<officer>{'|'.join(OFFICERS)}) is not in post")
def officer_missing(ctx: SpecContext, officer: str) -> None:
    current = ctx.filing.get("officers_appointed") or []
    ctx.filing["officers_appointed"] = [o for o in current if o != officer]


@step(r"its filing leaves out (?P<what>.+)")
def leave_out(ctx: SpecContext, what: str) -> None:
    """Make an input absent: the criteria reading it must become `missing`."""
    fld = NOUNS.get(what, what)
    if fld not in NOUNS.values() and not re.fullmatch(ID, fld):
        raise SpecFailure(f"unknown input {what!r}; known phrases: {', '.join(sorted(NOUNS))}")
    ctx.filing.pop(fld, None)
    if fld == "licence_expires_on":
        ctx.licence_offset_days = None


@step(r'the filing field "(?P<field>\w+)" is (?!left out$)(?P<value>.+)')
def generic_field(ctx: SpecContext, field: str, value: str) -> None:
    """Any input by name, the value written as JSON (for inputs without a phrase yet),
    read as the API reads it: a key given twice or a number with more significant digits
    than can be compared exactly is a mistake in the spec."""
    try:
        ctx.filing[field] = jsondoc.loads_strict(value)
    except jsondoc.DocumentRefused as exc:
        raise SpecFailure(f"{value!r}: {exc}") from exc
    except (ValueError, RecursionError) as exc:
        raise SpecFailure(f"{value!r} is not a JSON value: {exc}") from exc


@step(r'the filing field "(?P<field>\w+)" is left out')
def generic_absent(ctx: SpecContext, field: str) -> None:
    ctx.filing.pop(field, None)


@step(rf"the assessment date is (?P<day>{DATE})", day=date)
def assessment_date(ctx: SpecContext, day: dt.date) -> None:
    ctx.as_of = day


# --- assessing -----------------------------------------------------------------


@step(r"(?:the company|it) is assessed")
def assessed(ctx: SpecContext) -> None:
    """Assess under the version being tested."""
    ctx.assess_with(ctx.policy)


@step(rf"(?:the company|it) is assessed on (?P<day>{DATE})", day=date)
def assessed_on(ctx: SpecContext, day: dt.date) -> None:
    """Assess under whichever version is in force on that day."""
    try:
        policy = ctx.select(day)
    except NoVersionInForce as exc:
        ctx.decision, ctx.decision_policy, ctx.error = None, None, exc
        return
    ctx.assess_with(policy, day)


@step(r"(?:the company|it) is assessed under version (?P<version>\S+)")
def assessed_under(ctx: SpecContext, version: str) -> None:
    ctx.assess_with(ctx.by_version(version))
