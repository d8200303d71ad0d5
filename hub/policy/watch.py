"""Early warnings: what a company stands to lose soon, found from its filing alone.

Pure like the rest of the core: given one company's filing (its inputs, its policy and
its certificate), the catalogue of versions and a date ``as_of``, :func:`watch_filing`
lists the warnings the daily watch stores (``hub.services.watch``), each named by its
``kind`` and ``subject`` (one stored warning per company, kind and subject):

``licence_expiry`` (subject: the licence's last day)
    the filing's ``licence_expires_on`` is at most ``LICENCE_DAYS`` (60) days after
    ``as_of``, or before it (expired), and a criterion of the version in force reads it
    for the company's activity. Days are counted from ``as_of`` to the last valid day:
    60 days warns, 61 does not. The loss is on the day after the last valid day.
``certificate_expiry`` (subject: the certificate's code)
    the approved filing's certificate (valid 12 months, ``valid_until`` its last day) ends
    at most ``CERTIFICATE_DAYS`` (30) days after ``as_of`` (or has ended); renewal needs a
    new filing, so the warning goes once one is submitted. Loss: the day after.
``policy_change`` (subject: ``<policy id>@<version>``)
    a version of the filing's policy takes effect at most ``POLICY_DAYS`` (90) days after
    ``as_of`` (``as_of`` itself excluded: a version in force already decides), and the
    same filing, assessed on that day under it and under the version it replaces
    (``hub.policy.impact.compare``), reaches a lower tier or loses a benefit. The
    criteria that flip to ``not_met``/``missing`` are named with the engine's fix for
    each. Loss: the version's effective date.
``close_to_line`` (subject: ``<criterion>:<input>``)
    under the version in force on ``as_of``, a met criterion of a tier the company
    reaches holds a number comparison whose figure clears its bound by no more than the
    version's margin (``Policy.close_margin``: 1 percentage point for ``%`` inputs, 2%
    of the bound otherwise, both inclusive), and the figure could move further from the
    line (a 100% that must be at least 100 is not "close"). A softer notice: no loss
    date, no saving at stake.

Every warning carries the date of the loss (``loss_on``), the saving at stake in KZT (the
engine's estimate of what would be lost; None when it cannot be said) and JSON-ready
``details`` with ``todo``: what to do, in words. ``details`` holds dates, never "days
left", so the same cause found again on a later day gives the same details.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from . import expr, money
from .ahead import inputs_for
from .decision import Decision, assess
from .evaluate import FLIP, Missing, to_callable
from .filing import FilingInvalid
from .impact import Subject, baseline_of, compare
from .model import Criterion, Policy
from .outcome import tier_ranks
from .registry import NoVersionInForce, PolicyRegistry
from .shown import format_value

#: Days ahead the watch looks, inclusive: a licence ending within 60 days, a certificate
#: within 30, a version taking effect within 90 (counted from ``as_of``).
LICENCE_DAYS = 60
CERTIFICATE_DAYS = 30
POLICY_DAYS = 90

LICENCE_EXPIRY = "licence_expiry"
CERTIFICATE_EXPIRY = "certificate_expiry"
POLICY_CHANGE = "policy_change"
CLOSE_TO_LINE = "close_to_line"
#: Every kind of warning, the most urgent first.
KINDS = (LICENCE_EXPIRY, CERTIFICATE_EXPIRY, POLICY_CHANGE, CLOSE_TO_LINE)

#: The input holding the licence's last valid day (policy 2026.1 onwards).
LICENCE_INPUT = "licence_expires_on"
#: Statuses a criterion fails with.
FAILING = ("not_met", "missing")
_ORDER = ("<", "<=", ">", ">=")
_WORDS = {">=": "at least", ">": "more than", "<=": "at most", "<": "less than"}


@dataclass(frozen=True)
class WatchedFiling:
    """One company's latest certified or submitted filing, as the watch reads it.

    ``inputs`` are the filing's inputs; ``policy_id`` the policy it was decided under
    (None: the catalogue's only policy). ``certificate_code``/``valid_until``: the
    certificate of the approved filing (None while the filing is only submitted);
    ``certified_tier`` and ``certified_saving`` (KZT a year) what it grants.
    """

    inputs: dict[str, Any]
    policy_id: str | None = None
    certificate_code: str | None = None
    valid_until: dt.date | None = None
    certified_tier: str | None = None
    certified_saving: float | None = None


@dataclass(frozen=True)
class Found:
    """One warning of one company: see the module's docstring for each ``kind``.

    ``severity`` is ``warning`` (something will be lost on ``loss_on`` unless the
    company acts) or ``notice`` (close to the line). ``saving_at_stake`` is in KZT a
    year (None: not known). ``details`` is JSON-ready; ``details["todo"]`` lists what to
    do, ``details["summary"]`` says what happens."""

    kind: str
    subject: str
    severity: str
    loss_on: dt.date | None
    saving_at_stake: float | None
    details: dict[str, Any] = field(default_factory=dict)


def days_between(start: dt.date, end: dt.date) -> int:
    """Whole days from ``start`` to ``end`` (negative when ``end`` is earlier)."""
    return (end - start).days


def watch_filing(filing: WatchedFiling, registry: PolicyRegistry, as_of: dt.date) -> list[Found]:
    """Every warning of one filing on ``as_of``, in the order of ``KINDS`` (then by
    subject). Never raises for a filing the versions refuse or a date no version
    covers: the warnings that need a decision are then left out."""
    try:
        policy: Policy | None = registry.select(as_of, policy_id=filing.policy_id)
    except NoVersionInForce:
        policy = None
    decision = _decide(policy, filing.inputs, as_of) if policy is not None else None
    found: list[Found] = []
    if policy is not None:
        found.extend(licence_warnings(filing, policy, decision, as_of))
    found.extend(certificate_warnings(filing, as_of))
    if policy is not None or filing.policy_id is not None:
        found.extend(policy_change_warnings(filing, registry, as_of))
    if decision is not None:
        found.extend(close_to_line_notices(decision))
    return found


def _decide(policy: Policy, inputs: dict[str, Any], as_of: dt.date) -> Decision | None:
    try:
        return assess(policy, inputs_for(policy, inputs), as_of)
    except FilingInvalid:
        return None


def _date(value: Any) -> dt.date | None:
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return None
    return None


# --- licence ----------------------------------------------------------------------------


def licence_warnings(
    filing: WatchedFiling, policy: Policy, decision: Decision | None, as_of: dt.date
) -> list[Found]:
    """The licence's warning (at most one): see the module's docstring."""
    expires = _date(filing.inputs.get(LICENCE_INPUT))
    if expires is None or decision is None:
        return []
    reading = [
        c
        for c, status in zip(policy.criteria, decision.statuses, strict=True)
        if LICENCE_INPUT in c.inputs and status != "not_applicable"
    ]
    if not reading:
        return []
    days = days_between(as_of, expires)
    if days > LICENCE_DAYS:
        return []
    loss_on = expires + dt.timedelta(days=1)
    last = _decide(policy, filing.inputs, expires)
    after = _decide(policy, filing.inputs, loss_on)
    stake = None
    if last is not None and after is not None:
        stake = money.difference(last.total_saving, after.total_saving)
    keep = f" to keep {last.tier}" if last is not None and last.tier else ""
    if days < 0:
        summary = f"Your licence expired on {expires.isoformat()}."
        todo = [f"renew your licence and file its new {LICENCE_INPUT}{keep}"]
    else:
        summary = f"Your licence expires on {expires.isoformat()} (last valid day)."
        todo = [
            f"renew your licence and file its new {LICENCE_INPUT} before "
            f"{loss_on.isoformat()}{keep}"
        ]
    return [
        Found(
            LICENCE_EXPIRY,
            expires.isoformat(),
            "warning",
            loss_on,
            stake,
            {
                "summary": summary,
                "todo": todo,
                "expires_on": expires.isoformat(),
                "expired": days < 0,
                "criteria": [c.id for c in reading],
                "tier_before": last.tier if last is not None else None,
                "tier_after": after.tier if after is not None else None,
                "policy_version": policy.version,
            },
        )
    ]


# --- certificate ------------------------------------------------------------------------


def certificate_warnings(filing: WatchedFiling, as_of: dt.date) -> list[Found]:
    """The certificate's warning (at most one): see the module's docstring."""
    if filing.certificate_code is None or filing.valid_until is None:
        return []
    days = days_between(as_of, filing.valid_until)
    if days > CERTIFICATE_DAYS:
        return []
    loss_on = filing.valid_until + dt.timedelta(days=1)
    tier = filing.certified_tier
    keep = f" to keep {tier}" if tier else ""
    verb = "expired" if days < 0 else "expires"
    return [
        Found(
            CERTIFICATE_EXPIRY,
            filing.certificate_code,
            "warning",
            loss_on,
            filing.certified_saving,
            {
                "summary": f"Your certificate {filing.certificate_code} {verb} on "
                f"{filing.valid_until.isoformat()} (last valid day).",
                "todo": [
                    f"submit a new filing before {loss_on.isoformat()}{keep}"
                    if days >= 0
                    else f"submit a new filing{keep}"
                ],
                "valid_until": filing.valid_until.isoformat(),
                "expired": days < 0,
                "tier": tier,
            },
        )
    ]


# --- policy change ----------------------------------------------------------------------


def upcoming_versions(
    registry: PolicyRegistry, policy_id: str | None, as_of: dt.date
) -> list[Policy]:
    """The versions of the policy that take effect after ``as_of`` and at most
    ``POLICY_DAYS`` later, and are in force on their first day (neither replaced by
    another nor retired from it), earliest first."""
    return registry.upcoming(as_of, policy_id, within_days=POLICY_DAYS)


def _tier_words(policy: Policy, tier: str | None) -> str:
    """A tier as people read it: ``T2 (Transparent)``, or ``no tier``."""
    return f"{tier} ({policy.tier_by_id[tier].title})" if tier else "no tier"


def policy_change_warnings(
    filing: WatchedFiling, registry: PolicyRegistry, as_of: dt.date
) -> list[Found]:
    """One warning per upcoming version that demotes the filing: see the module's
    docstring."""
    out = []
    for candidate in upcoming_versions(registry, filing.policy_id, as_of):
        day = candidate.effective_from
        try:
            baseline = baseline_of(registry, candidate, day)
        except NoVersionInForce:
            continue
        row = compare(Subject("", "", filing.inputs, baseline), candidate, day)
        rank = tier_ranks(candidate)
        before_rank = rank.get(row.before.tier or "", -1)
        after_rank = rank.get(row.after.tier or "", -1)
        lost = row.lost_benefits
        if row.before.error is not None or (after_rank >= before_rank and not lost):
            continue
        keep = (
            row.before.tier
            if after_rank < before_rank
            else ", ".join(baseline.benefit_by_id[b].title for b in lost)
        )
        after = _decide(candidate, filing.inputs, day)
        fixes = {c.id: c.fix for c in after.criteria()} if after is not None else {}
        flips: list[dict[str, Any]] = [
            {
                "criterion": cid,
                "title": candidate.criterion_by_id[cid].title,
                "tier": candidate.criterion_by_id[cid].tier,
                "before": before,
                "after": now,
                "fix": fixes.get(cid),
                # inputs the version in force does not know: a filing can carry them
                # only once the new version decides it
                "new_inputs": [
                    i
                    for i in candidate.criterion_by_id[cid].inputs
                    if i not in baseline.inputs_by_name
                ],
            }
            for cid, before, now in row.flipped
            if now in FAILING
        ]
        todo = [
            f"{f['fix'] or 'meet ' + str(f['criterion'])} before {day.isoformat()} to keep {keep}"
            for f in flips
        ]
        if row.after.error is not None:
            todo.append(f"correct the filing for version {candidate.version}: {row.after.error}")
        out.append(
            Found(
                POLICY_CHANGE,
                f"{candidate.id}@{candidate.version}",
                "warning",
                day,
                money.difference(row.before.saving, row.after.saving),
                {
                    "summary": f"Version {candidate.version} takes effect on {day.isoformat()}: "
                    f"your filing would reach {_tier_words(candidate, row.after.tier)} instead "
                    f"of {_tier_words(baseline, row.before.tier)}"
                    + (
                        f" and lose {', '.join(baseline.benefit_by_id[b].title for b in lost)}"
                        if lost
                        else ""
                    )
                    + ".",
                    "todo": todo,
                    "version": candidate.version,
                    "replaces": baseline.version,
                    "effective_from": day.isoformat(),
                    "tier_before": row.before.tier,
                    "tier_after": row.after.tier,
                    "benefits_lost": lost,
                    "criteria": flips,
                    "error": row.after.error,
                },
            )
        )
    return out


# --- close to the line --------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    """One number comparison of a condition as it stands for a filing: ``input`` ``op``
    ``bound`` (input on the left), the filing's ``value``, and whether it holds."""

    input: str
    op: str
    bound: float
    value: float
    holds: bool


def comparisons(criterion: Criterion, env: dict[str, Any]) -> list[Comparison]:
    """The order comparisons (<, <=, >, >=) of a number input with a bound in a
    criterion's condition, evaluated over ``env`` (parameters and the filing), in the
    order written; a comparison whose input or bound is absent is left out."""
    out: list[Comparison] = []

    def visit(node: expr.Node) -> None:
        if isinstance(node, expr.Compare) and node.op in _ORDER:
            side = _number_side(node, env)
            if side is not None:
                out.append(side)
            return
        for child in expr.children(node):
            visit(child)

    visit(criterion.ast)
    return out


def _number_side(node: expr.Compare, env: dict[str, Any]) -> Comparison | None:
    if isinstance(node.left, expr.Name) and isinstance(env.get(node.left.id), int | float):
        name, op, other = node.left.id, node.op, node.right
    elif isinstance(node.right, expr.Name) and isinstance(env.get(node.right.id), int | float):
        name, op, other = node.right.id, FLIP[node.op], node.left
    else:
        return None
    value = env[name]
    if isinstance(value, bool):
        return None
    try:
        bound = to_callable(other)(env)
        holds = bool(to_callable(node)(env))
    except (Missing, TypeError, ZeroDivisionError):
        return None
    if isinstance(bound, bool) or not isinstance(bound, int | float):
        return None
    return Comparison(name, op, bound, value, holds)


def close_to_line_notices(decision: Decision) -> list[Found]:
    """The "close to the line" notices of a decision: see the module's docstring."""
    policy = decision.policy
    if decision.tier is None:
        return []
    ranks = tier_ranks(policy)
    reached = ranks.get(decision.tier, -1)
    env = {**policy.parameter_values, **decision.filing, "as_of": decision.as_of.isoformat()}
    out = []
    for criterion, status in zip(policy.criteria, decision.statuses, strict=True):
        if status != "met" or ranks.get(criterion.tier, -1) > reached:
            continue
        for c in comparisons(criterion, env):
            spec = policy.inputs_by_name.get(c.input)
            if spec is None or spec.saving or not c.holds:
                continue
            room = spec.highest if c.op in (">", ">=") else spec.lowest
            if room is not None and c.value == room:
                continue  # the figure cannot move further from the line
            gap = abs(c.value - c.bound)
            margin = policy.close_margin.of(spec.unit, c.bound)
            if gap > margin:
                continue
            unit = f" {spec.unit}" if spec.unit and spec.unit != "%" else spec.unit
            shown, bound = format_value(c.value), format_value(c.bound)
            direction = "raise" if c.op in (">", ">=") else "lower"
            out.append(
                Found(
                    CLOSE_TO_LINE,
                    f"{criterion.id}:{c.input}",
                    "notice",
                    None,
                    None,
                    {
                        "summary": f"{c.input} is {shown}{unit} against {_WORDS[c.op]} "
                        f"{bound}{unit} ({criterion.id}, {criterion.tier}): a small change "
                        f"would lose {criterion.tier}.",
                        "todo": [
                            f"{direction} {c.input} further from {bound}{unit} "
                            f"to keep {criterion.tier} safely"
                        ],
                        "criterion": criterion.id,
                        "title": criterion.title,
                        "tier": criterion.tier,
                        "input": c.input,
                        "value": c.value,
                        "op": c.op,
                        "bound": c.bound,
                        "margin": margin,
                        "policy_version": policy.version,
                    },
                )
            )
    return out
