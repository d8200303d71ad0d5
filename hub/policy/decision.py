"""The assessment: validate a filing, run the rules, and explain the decision."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from .compiler import compile_policy
from .engine import engine
from .evaluate import Missing
from .explain import CriterionExplainer
from .filing import validate_filing
from .model import Policy

STATUSES = ("met", "not_met", "not_applicable", "missing")


@dataclass(frozen=True)
class CriterionResult:
    id: str
    status: str
    values: dict[str, Any]
    explanation: str
    fix: str | None
    threshold: Any
    requirement: str | None


@dataclass(frozen=True)
class BenefitResult:
    id: str
    title: str
    standard_rate: str
    saving: float | None


@dataclass(frozen=True)
class Decision:
    """One decision: enough to show, store and replay it (the policy key names the rules)."""

    policy: Policy
    as_of: dt.date
    filing: dict[str, Any]
    statuses: tuple[str, ...]
    tier: str | None
    benefit_ids: tuple[str, ...]
    savings: tuple[float | None, ...]

    @property
    def tier_title(self) -> str | None:
        return self.policy.tier_by_id[self.tier].title if self.tier else None

    def criteria(self) -> list[CriterionResult]:
        """Each criterion with its explanation and fix (computed on demand: the texts cost
        more than the decision itself)."""
        p = self.policy
        compiled = compile_policy(p)
        filing = self.filing
        activity = filing[p.applicability_input]
        env = {**p.parameter_values, **filing, "as_of": self.as_of.isoformat()}
        out = []
        for i, status in enumerate(self.statuses):
            explainer = _explainer(p, compiled, i, activity)
            values = {n: filing.get(n) for n in explainer.inputs}
            if status == "not_applicable":
                text = explainer.not_applicable
                out.append(
                    CriterionResult(p.criteria[i].id, status, values, text, None, None, None)
                )
                continue
            explanation, fix, threshold = explainer.explain(status, env)
            out.append(
                CriterionResult(
                    p.criteria[i].id,
                    status,
                    values,
                    explanation,
                    fix,
                    threshold,
                    explainer.requirement,
                )
            )
        return out

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

    def to_dict(self) -> dict[str, Any]:
        """The API contract's decision (ARCHITECTURE.md); deterministic key and list order."""
        p = self.policy
        crits = p.criteria
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
            "criteria": [
                {
                    "id": r.id,
                    "title": c.title,
                    "tier": c.tier,
                    "status": r.status,
                    "values": r.values,
                    "requirement": r.requirement,
                    "threshold": r.threshold,
                    "explanation": r.explanation,
                    "fix": r.fix,
                    "citation": c.citation,
                }
                for c, r in zip(crits, self.criteria(), strict=True)
            ],
        }


def _explainer(p: Policy, compiled: Any, i: int, activity: str) -> CriterionExplainer:
    cache = compiled.explainers
    key = (i, activity)
    ex = cache.get(key)
    if ex is None:
        ex = cache[key] = CriterionExplainer(
            p, p.criteria[i], activity, compiled.specialised[i][activity]
        )
    return ex


def decide(policy: Policy, clean: dict[str, Any], as_of: dt.date) -> Decision:
    """Run the rules on a filing that already passed validate_filing."""
    compiled = compile_policy(policy)
    activity = clean[policy.applicability_input]
    present = clean.keys()
    statuses: list[str] = []

    def summarise(fired: list[str]) -> str:
        # Phase one named the criteria not met; not_applicable and missing follow from
        # the activity and the inputs present; met is what remains.
        unmet = {int(name[2 : name.index(":", 2)]) for name in fired if name[0] == "u"}
        flags = []
        for i, inputs in enumerate(compiled.input_sets):
            if activity not in compiled.applies[i]:
                statuses.append("not_applicable")
                flags.append(compiled.flag_not_met[i])
            elif not inputs <= present:
                statuses.append("missing")
                flags.append(compiled.flag_unsatisfied[i])
                flags.append(compiled.flag_not_met[i])
            elif i in unmet:
                statuses.append("not_met")
                flags.append(compiled.flag_unsatisfied[i])
                flags.append(compiled.flag_not_met[i])
            else:
                statuses.append("met")
        return compiled.summary(clean, activity, flags)

    fired = engine().fire(compiled, compiled.fact(clean, activity, as_of.isoformat()), summarise)
    tier_rank = -1
    granted: set[int] = set()
    for name in fired:
        if name[0] == "t":
            tier_rank = max(tier_rank, int(name[2 : name.index(":", 2)]))
        elif name[0] == "b":
            granted.add(int(name[2 : name.index(":", 2)]))
    env = None
    benefit_ids = []
    savings: list[float | None] = []
    for j, b in enumerate(policy.benefits):
        if j not in granted:
            continue
        benefit_ids.append(b.id)
        saving = None
        if b.saving_ast is not None:
            if env is None:
                env = {**policy.parameter_values, **clean}
            try:
                saving = round(float(compiled.saving(j)(env)), 2)
            except Missing:
                saving = None
        savings.append(saving)
    return Decision(
        policy=policy,
        as_of=as_of,
        filing=clean,
        statuses=tuple(statuses),
        tier=policy.tiers[tier_rank].id if tier_rank >= 0 else None,
        benefit_ids=tuple(benefit_ids),
        savings=tuple(savings),
    )


def assess(policy: Policy, filing: Any, as_of: dt.date | None = None) -> Decision:
    """Validate and decide; raises FilingInvalid before anything is evaluated."""
    clean = validate_filing(policy, filing)
    return decide(policy, clean, as_of or dt.date.today())
