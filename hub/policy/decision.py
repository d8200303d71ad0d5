"""The assessment: validate a filing, run the rules, and explain the decision."""

from __future__ import annotations

import datetime as dt
from typing import Any, NamedTuple

import orjson

from .compiler import compile_policy
from .engine import engine
from .evaluate import Missing
from .explain import MEMO_SIZE, CriterionExplainer
from .filing import validate_filing
from .model import Policy

STATUSES = ("met", "not_met", "not_applicable", "missing")


class CriterionResult(NamedTuple):
    id: str
    status: str
    values: dict[str, Any]
    explanation: str
    fix: str | None
    threshold: Any
    requirement: str | None


class BenefitResult(NamedTuple):
    id: str
    title: str
    standard_rate: str
    saving: float | None


class Decision:
    """One decision: enough to show, store and replay it (the policy key names the rules).

    A plain class with slots, not a frozen dataclass: one is built per assessment, and a
    frozen dataclass's ``__init__`` costs several times more."""

    __slots__ = ("as_of", "benefit_ids", "filing", "policy", "savings", "statuses", "tier")

    def __init__(
        self,
        policy: Policy,
        as_of: dt.date,
        filing: dict[str, Any],
        statuses: tuple[str, ...],
        tier: str | None,
        benefit_ids: tuple[str, ...],
        savings: tuple[float | None, ...],
    ) -> None:
        self.policy = policy
        self.as_of = as_of
        self.filing = filing
        self.statuses = statuses
        self.tier = tier
        self.benefit_ids = benefit_ids
        self.savings = savings

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

    @property
    def total_saving(self) -> float:
        return round(sum(s for s in self.savings if s is not None), 2)

    def to_json(self) -> bytes:
        """``to_dict()`` as JSON with sorted keys, the same bytes for the same decision.

        Serving decisions is what the service does most, so each criterion's JSON is
        memoised on what it depends on (its status, the values it read with their
        types, the date) and the decision is spliced together from those fragments.
        """
        head = self._head()
        head["criteria"] = []
        text = orjson.dumps(head, option=orjson.OPT_SORT_KEYS)
        fragments = b",".join(self._criterion_fragments())
        return text.replace(b'"criteria":[]', b'"criteria":[' + fragments + b"]", 1)

    def _criterion_fragments(self) -> list[bytes]:
        filing = self.filing
        get = filing.get
        as_of = self.as_of.isoformat()
        out = []
        append = out.append
        env = None
        explainers = _explainers(self.policy, filing[self.policy.applicability_input])
        for i, status in enumerate(self.statuses):
            explainer = explainers[i]
            single = explainer.single
            if single is not None:  # most criteria read one input: a cheaper key
                value = get(single)
                if type(value) is list:
                    value = tuple(value)
                key = (status, value, type(value), as_of)
            else:
                values = tuple(
                    tuple(v) if type(v) is list else v for v in map(get, explainer.inputs)
                )
                key = (status, values, tuple(map(type, values)), as_of)
            fragments = explainer.fragments
            fragment = fragments.get(key)
            if fragment is None:
                if env is None:
                    env = self._env_factory()
                row = _criterion_dict(self._row(i, explainer, env))
                fragment = orjson.dumps(row, option=orjson.OPT_SORT_KEYS)
                if len(fragments) >= MEMO_SIZE:
                    fragments.clear()
                fragments[key] = fragment
            append(fragment)
        return out

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


def decide(policy: Policy, clean: dict[str, Any], as_of: dt.date) -> Decision:
    """Run the rules on a filing that already passed validate_filing."""
    compiled = compile_policy(policy)
    activity = clean[policy.applicability_input]
    plan = compiled.plan(activity)
    found: list[list[str]] = []

    def summarise(fired: list[str]) -> str:
        statuses, summary = plan.summarise(clean, fired)
        found.append(statuses)
        return summary

    fired = engine().fire(compiled, compiled.fact(clean, activity, as_of.isoformat()), summarise)
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
    benefit_ids = []
    savings: list[float | None] = []
    benefits = policy.benefits
    for j in sorted(granted):
        benefit_ids.append(benefits[j].id)
        saving = None
        estimate = compiled.savings[j]
        if estimate is not None:
            try:  # the parameters are folded into the formula: it reads only the filing
                saving = round(float(estimate(clean)), 2)
            except Missing:
                saving = None
        savings.append(saving)
    return Decision(
        policy,
        as_of,
        clean,
        tuple(found[0]),
        policy.tiers[tier_rank].id if tier_rank >= 0 else None,
        tuple(benefit_ids),
        tuple(savings),
    )


def assess(policy: Policy, filing: Any, as_of: dt.date | None = None) -> Decision:
    """Validate and decide; raises FilingInvalid before anything is evaluated."""
    clean = validate_filing(policy, filing)
    return decide(policy, clean, as_of or dt.date.today())
