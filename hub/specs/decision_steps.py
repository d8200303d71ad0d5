"""Then steps: read the decision and, when it differs, fail with the values involved."""

from __future__ import annotations

import math
import re
from typing import Any

from hub.policy import NoVersionInForce
from hub.policy.money import to_decimal

from .context import SpecContext, SpecFailure, describe_error, fmt_values
from .vocabulary import DATE, ID, NUM, STATUSES, number, step

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
