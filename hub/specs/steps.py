"""The hub's Gherkin vocabulary, written once.

Each step is a plain function of a :class:`SpecContext`. Given steps speak
the hub's language ("its clients are 94.9% identity-verified") and write the
filing field it means; Then steps read the decision and, when it differs,
fail with the values involved. A policy author adding an input that has no
phrase yet can use the generic steps (``the filing field "x" is 42``).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

from hub.policy import NoVersionInForce, jsondoc
from hub.policy.money import to_decimal

from .context import SpecContext, SpecFailure, describe_error, fmt_values
from .registry import StepRegistry

REGISTRY = StepRegistry()
step = REGISTRY.step

# [0-9], not \d: \d takes other scripts' digits ("٩٥"), which int() and float() read as 95
NUM = r"-?[0-9][0-9,]*(?:\.[0-9]+)?"
DATE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
ID = r"[a-z][a-z0-9_]*"


def number(text: str) -> int | float:
    """'50,000,000' -> 50000000, '94.9' -> 94.9: integers stay integers for integer inputs."""
    clean = text.replace(",", "").replace("_", "")
    return float(clean) if "." in clean else int(clean)


def date(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


ACTIVITIES = {
    "exchange": "exchange",
    "broker": "broker",
    "custodian": "custody",
    "payments firm": "payments",
    "miner": "mining",
    "software house": "software",
}
ACTIVITY_RE = "|".join(ACTIVITIES)
LICENCES = {
    "trading facility": "trading_facility",
    "service provider": "service_provider",
    "mining": "mining",
}
OFFICERS = ("SEO", "FO", "CO", "MLRO", "CITO")

# field -> (Given phrase with {v}, noun phrase for "its filing leaves out ...")
NUMBER_PHRASES: dict[str, tuple[str, str]] = {
    "independent_directors_pct": (
        "{v}% of its board is independent",
        "the share of independent directors",
    ),
    "fte_declared": (
        "it declared {v} full-time staff in its hub application",
        "the staff declared in its hub application",
    ),
    "fte_in_zone": (
        "it employs {v} full-time staff in the zone",
        "the staff employed in the zone",
    ),
    "opex_in_zone_kzt": (
        "it spends {v} KZT a year on operations in the zone",
        "its operating expenditure in the zone",
    ),
    "qualifying_income_pct": (
        "{v}% of its income comes from qualifying hub activities",
        "its share of qualifying income",
    ),
    "regulatory_capital_usd": (
        "it holds USD {v} of regulatory capital",
        "its regulatory capital",
    ),
    "tax_arrears_kzt": ("it owes {v} KZT of overdue tax", "its overdue tax"),
    "kyc_verified_clients_pct": (
        "its clients are {v}% identity-verified",
        "the share of identity-verified clients",
    ),
    "source_of_funds_documented_pct": (
        "the source of funds is documented for {v}% of its large depositors",
        "the share of large depositors with a documented source of funds",
    ),
    "destination_of_funds_documented_pct": (
        "the destination of funds is documented for {v}% of its large withdrawers",
        "the share of large withdrawers with a documented destination of funds",
    ),
    "travel_rule_compliant_pct": (
        "{v}% of its transfers carry complete originator and beneficiary data",
        "the share of transfers with complete travel-rule data",
    ),
    "travel_rule_threshold_usd": (
        "it applies the travel rule from USD {v}",
        "the amount from which it applies the travel rule",
    ),
    "record_retention_years": (
        "it keeps client and transaction records for {v} years",
        "how long it keeps records",
    ),
    "str_median_hours": (
        "it reports suspicious transactions in a median of {v} hours",
        "its median time to report suspicious transactions",
    ),
    "flagged_flow_pct": (
        "{v}% of its volume is flagged as linked to scams, gambling, sanctions or mixers",
        "its share of flagged volume",
    ),
    "cold_storage_pct": (
        "it keeps {v}% of client assets in cold storage",
        "its share of client assets in cold storage",
    ),
    "proof_of_reserves_interval_days": (
        "it publishes a proof of reserves every {v} days",
        "how often it publishes a proof of reserves",
    ),
    "mined_sold_on_licensed_exchange_pct": (
        "it sells {v}% of its mined assets through hub-licensed exchanges",
        "the share of mined assets sold through hub-licensed exchanges",
    ),
    "renewable_energy_pct": (
        "{v}% of its mining power comes from renewable sources",
        "its share of renewable mining power",
    ),
    "unhosted_wallet_verified_pct": (
        "it verified the owner in {v}% of its transfers with self-hosted wallets",
        "the share of self-hosted wallet transfers with a verified owner",
    ),
    "qualifying_profit_kzt": (
        "its qualifying profit is {v} KZT a year",
        "its qualifying profit",
    ),
    "vatable_turnover_kzt": (
        "its VAT-able turnover is {v} KZT a year",
        "its VAT-able turnover",
    ),
    "foreign_payroll_kzt": (
        "its payroll of foreign staff is {v} KZT a year",
        "its payroll of foreign staff",
    ),
    "property_value_kzt": (
        "its in-zone property is worth {v} KZT",
        "the value of its in-zone property",
    ),
    "mining_kwh": (
        "it uses {v} kWh of power a year for mining",
        "its mining power consumption",
    ),
}

# field -> (phrase when true, phrase when false, noun phrase)
BOOL_PHRASES: dict[str, tuple[str, str, str]] = {
    "registered_in_hub": (
        "it is entered in the hub's register",
        "it is not entered in the hub's register",
        "whether it is entered in the hub's register",
    ),
    "separate_accounting": (
        "it keeps separate accounts for qualifying income",
        "it does not keep separate accounts for qualifying income",
        "whether it keeps separate accounts",
    ),
    "sanctions_screening_hit": (
        "it or an owner matches a sanctions list",
        "neither it nor any owner matches a sanctions list",
        "the result of its sanctions screening",
    ),
    "cross_border_outflows_reported": (
        "it reports cross-border outflows to the National Bank",
        "it does not report cross-border outflows to the National Bank",
        "whether it reports cross-border outflows",
    ),
    "power_metered": (
        "its mining power is metered",
        "its mining power is not metered",
        "whether its mining power is metered",
    ),
    "peak_curtailment_agreement": (
        "it has signed the winter peak curtailment agreement",
        "it has not signed the winter peak curtailment agreement",
        "whether it signed the winter peak curtailment agreement",
    ),
}

OTHER_NOUNS = {
    "its licence type": "licence_type",
    "its licence expiry date": "licence_expires_on",
    "its key officers": "officers_appointed",
    "its activity": "activity",
    "its legal name": "legal_name",
    "its BIN": "bin",
}

NOUNS: dict[str, str] = {
    **{noun: f for f, (_, noun) in NUMBER_PHRASES.items()},
    **{noun: f for f, (_, _, noun) in BOOL_PHRASES.items()},
    **OTHER_NOUNS,
}

STATUSES = {
    "met": "met",
    "not met": "not_met",
    "not applicable": "not_applicable",
    "missing": "missing",
}


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


# --- outcomes ------------------------------------------------------------------


@step(rf"criterion (?P<criterion>{ID}) is (?P<status>met|not met|not applicable|missing)")
def criterion_status(ctx: SpecContext, criterion: str, status: str) -> None:
    c = ctx.criterion(criterion)
    want = STATUSES[status]
    if c["status"] != want:
        raise SpecFailure(
            f"criterion {criterion}: expected {want}, got {c['status']}; "
            f"values read {fmt_values(c.get('values'))}; explanation: {c.get('explanation')}"
        )


@step(r"(?:the company|it) reaches tier (?P<tier>T[0-9]+)")
def reaches_tier(ctx: SpecContext, tier: str) -> None:
    got = ctx.require_decision()["tier"]
    if got != tier:
        raise SpecFailure(
            f"expected tier {tier}, got {got or 'no tier'}; "
            f"criteria not satisfied: {ctx.unsatisfied()}"
        )


@step(r"(?:the company|it) reaches no tier")
def reaches_no_tier(ctx: SpecContext) -> None:
    got = ctx.require_decision()["tier"]
    if got is not None:
        raise SpecFailure(
            f"expected no tier, got {got}; criteria not satisfied: {ctx.unsatisfied()}"
        )


@step(rf"benefit (?P<benefit>{ID}) is (?P<outcome>granted|refused)")
def benefit_outcome(ctx: SpecContext, benefit: str, outcome: str) -> None:
    known = {b.id for b in (ctx.decision_policy or ctx.policy).benefits}
    if benefit not in known:
        raise SpecFailure(f"the policy has no benefit {benefit!r} (it has: {sorted(known)})")
    got = ctx.benefit(benefit) is not None
    if got != (outcome == "granted"):
        decision = ctx.require_decision()
        granted = [b["id"] for b in decision["benefits"]]
        raise SpecFailure(
            f"benefit {benefit}: expected {outcome}, got {'granted' if got else 'refused'}; "
            f"tier {decision['tier']}, activity {ctx.filing.get('activity')}, "
            f"granted {granted}; criteria not satisfied: {ctx.unsatisfied()}"
        )


def _granted(ctx: SpecContext, benefit: str) -> dict[str, Any]:
    b = ctx.benefit(benefit)
    if b is None:
        raise SpecFailure(f"benefit {benefit} is not granted, so it has no saving")
    return b


@step(
    rf"the estimated annual saving from (?P<benefit>{ID}) is (?P<amount>{NUM}) KZT", amount=number
)
def saving_amount(ctx: SpecContext, benefit: str, amount: float) -> None:
    """Exactly that amount, to the tiyn: the saving is rounded by the policy's rule."""
    got = _granted(ctx, benefit).get("estimated_annual_saving_kzt")
    if got is None or to_decimal(got) != to_decimal(amount):
        raise SpecFailure(
            f"saving from {benefit}: expected {amount:,} KZT, got "
            f"{'unknown' if got is None else f'{got:,} KZT'}; "
            f"saving inputs {fmt_values(_saving_inputs(ctx))}"
        )


@step(rf"the estimated annual saving from (?P<benefit>{ID}) is unknown")
def saving_unknown(ctx: SpecContext, benefit: str) -> None:
    got = _granted(ctx, benefit).get("estimated_annual_saving_kzt")
    if got is not None:
        raise SpecFailure(f"saving from {benefit}: expected unknown, got {got:,} KZT")


@step(rf"the estimated total annual saving is (?P<amount>{NUM}) KZT", amount=number)
def total_saving(ctx: SpecContext, amount: float) -> None:
    """The decision's total, exactly: the sum of the rounded savings of the granted benefits."""
    decision = ctx.require_decision()
    got = decision.get("estimated_total_saving_kzt")
    if got is None or to_decimal(got) != to_decimal(amount):
        parts = {b["id"]: b.get("estimated_annual_saving_kzt") for b in decision["benefits"]}
        raise SpecFailure(
            f"total saving: expected {amount:,} KZT, got {got:,} KZT; savings {fmt_values(parts)}"
        )


def _saving_inputs(ctx: SpecContext) -> dict[str, Any]:
    policy = ctx.decision_policy or ctx.policy
    names = {i.name for i in policy.inputs if getattr(i, "saving", False)}
    return {k: v for k, v in ctx.filing.items() if k in names}


@step(rf"benefit (?P<benefit>{ID}) waives a standard rate of (?P<rate>.+)")
def standard_rate(ctx: SpecContext, benefit: str, rate: str) -> None:
    """The rate the company no longer pays, as the decision shows it ("20%", "10 KZT/kWh")."""
    got = str(_granted(ctx, benefit).get("standard_rate", ""))
    if " ".join(got.split()) != " ".join(rate.split()):
        raise SpecFailure(f"benefit {benefit}: expected a standard rate of {rate}, got {got!r}")


FIX_RE = re.compile(
    rf"(?P<verb>raise|lower) (?P<field>\w+) from (?P<value>{NUM}) to (?P<bound>at least|at most)"
    rf" (?P<threshold>{NUM})"
)


@step(
    rf"the fix for (?P<criterion>{ID}) asks to (?P<verb>raise|lower) (?P<field>\w+)"
    rf" from (?P<value>{NUM}) to (?P<bound>at least|at most) (?P<threshold>{NUM})",
    value=number,
    threshold=number,
)
def fix_numbers(
    ctx: SpecContext,
    criterion: str,
    verb: str,
    field: str,
    value: float,
    bound: str,
    threshold: float,
) -> None:
    """The fix must name the input, the company's figure and the figure to reach."""
    c = ctx.criterion(criterion)
    fix = c.get("fix") or ""
    for m in FIX_RE.finditer(fix):
        if (
            (m["verb"], m["field"], m["bound"]) == (verb, field, bound)
            and math.isclose(number(m["value"]), value)
            and math.isclose(number(m["threshold"]), threshold)
        ):
            return
    raise SpecFailure(
        f"fix for {criterion}: expected '{verb} {field} from {value:,} to {bound} {threshold:,}', "
        f"got {fix!r} (status {c['status']}, values {fmt_values(c.get('values'))})"
    )


@step(rf"a fix is shown for (?P<criterion>{ID})")
def fix_shown(ctx: SpecContext, criterion: str) -> None:
    c = ctx.criterion(criterion)
    if not c.get("fix"):
        raise SpecFailure(f"criterion {criterion} is {c['status']} but shows no fix")


@step(rf"no fix is shown for (?P<criterion>{ID})")
def no_fix(ctx: SpecContext, criterion: str) -> None:
    c = ctx.criterion(criterion)
    if c.get("fix"):
        raise SpecFailure(f"criterion {criterion} is {c['status']} but shows fix {c['fix']!r}")


@step(rf"criterion (?P<criterion>{ID}) cites its rule")
def cites(ctx: SpecContext, criterion: str) -> None:
    c = ctx.criterion(criterion)
    if not (c.get("citation") or "").strip():
        raise SpecFailure(f"criterion {criterion} carries no citation")


@step(r"the decision is made under version (?P<version>\S+)")
def made_under(ctx: SpecContext, version: str) -> None:
    got = ctx.require_decision()["policy"]["version"]
    if got != version:
        raise SpecFailure(f"expected the decision under version {version}, got {got}")


@step(r"the decision names the policy and its digest")
def names_digest(ctx: SpecContext) -> None:
    p = ctx.require_decision()["policy"]
    used = ctx.decision_policy or ctx.policy
    if (p.get("id"), p.get("version"), p.get("digest")) != (used.id, used.version, used.digest):
        raise SpecFailure(f"the decision names {p}, the policy used is {used.id} {used.version}")


@step(r"every criterion of the version is listed exactly once")
def all_listed(ctx: SpecContext) -> None:
    used = ctx.decision_policy or ctx.policy
    got = [c["id"] for c in ctx.require_decision()["criteria"]]
    want = [c.id for c in used.criteria]
    if sorted(got) != sorted(want):
        raise SpecFailure(f"criteria listed {got}, the version has {want}")


@step(rf"the assessment is refused: no policy version is in force on (?P<day>{DATE})")
def no_version(ctx: SpecContext, day: str) -> None:
    if not isinstance(ctx.error, NoVersionInForce):
        got = describe_error(ctx.error) if ctx.error else f"a decision under {_version(ctx)}"
        raise SpecFailure(f"expected no version in force on {day}, got {got}")


@step(r"the filing is rejected with an error on (?P<field>\w+)")
def rejected(ctx: SpecContext, field: str) -> None:
    errors = getattr(ctx.error, "errors", None)
    if ctx.error is None or errors is None:
        raise SpecFailure(f"expected the filing to be rejected on {field}, but it was assessed")
    fields = [e.get("field") if isinstance(e, dict) else None for e in errors]
    if field not in fields:
        raise SpecFailure(f"expected an error on {field}, got {describe_error(ctx.error)}")


@step(r"the filing is accepted")
def accepted(ctx: SpecContext) -> None:
    if ctx.error is not None:
        raise SpecFailure(f"expected the filing to be assessed, got {describe_error(ctx.error)}")
    ctx.require_decision()


def _version(ctx: SpecContext) -> str:
    return ctx.decision["policy"]["version"] if ctx.decision else "?"
