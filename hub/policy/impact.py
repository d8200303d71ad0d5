"""Impact analysis: who would be decided differently under a new policy version.

Pure like the rest of the core: it takes a population of filings and
re-assesses every one twice on the same date, under the baseline ("before") and
under the candidate ("after"), so the only thing that differs between the two
decisions is the rules. The date is the candidate's effective date (not earlier
than today) unless another is chosen, and the baseline is the version that
would otherwise be in force on that date (``baseline_of``): what the candidate
would replace, not the version it was drafted from. The studio runs it as a
background job and the CLI prints it; both read the same report.

Tiers are cumulative, so "gaining T2" counts a company that reaches T2 *or
higher* after the change and did not before; a company moving from T1 to T3
gains both T2 and T3.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import Any

from . import money
from .decision import Decision, assess
from .filing import FilingInvalid
from .model import Policy
from .outcome import tier_ranks
from .registry import PolicyRegistry

ABSENT = "absent"  # the criterion does not exist in that version
ZERO = Decimal(0)


def default_as_of(candidate: Policy, today: dt.date) -> dt.date:
    """The day an impact analysis assesses on unless another is chosen: the candidate's
    effective date, or ``today`` when that date is already past."""
    return max(today, candidate.effective_from)


def baseline_of(registry: PolicyRegistry, candidate: Policy, as_of: dt.date) -> Policy:
    """The version that would otherwise be in force on ``as_of``: the one ``registry``
    selects for the candidate's policy on that day (retirements included) with the
    candidate's own version number left out (a published candidate is compared with
    what it replaced, not with itself).

    Raises ``NoVersionInForce`` (field ``as_of``) when no other version applies on that
    day: there is nothing to compare with, and the analysis is refused rather than
    shown as every company newly assessed.
    """
    others = PolicyRegistry(
        (p for p in registry.versions(candidate.id) if p.version != candidate.version),
        registry.retirements(),
    )
    return others.select(as_of, policy_id=candidate.id)


@dataclass(frozen=True)
class Subject:
    """One company's latest filing and the version it is compared under ("before")."""

    key: str
    label: str
    inputs: dict[str, Any]
    policy: Policy


@dataclass(frozen=True)
class Outcome:
    """One side of the comparison: a decision, or why the filing was refused."""

    version: str
    tier: str | None
    benefits: tuple[str, ...]
    savings: dict[str, float | None]
    statuses: dict[str, str]
    error: str | None = None

    @cached_property
    def saving(self) -> float:
        """The sum of the rounded savings, exact (money.total); computed once."""
        return money.total(self.savings.values())

    @classmethod
    def of(cls, decision: Decision) -> Outcome:
        return cls(
            version=decision.policy.version,
            tier=decision.tier,
            benefits=decision.benefit_ids,
            savings=dict(zip(decision.benefit_ids, decision.savings, strict=True)),
            # criterion_by_id's keys are the criteria's ids in order (built once per policy)
            statuses=dict(zip(decision.policy.criterion_by_id, decision.statuses, strict=True)),
        )

    @classmethod
    def refused(cls, policy: Policy, exc: FilingInvalid) -> Outcome:
        message = "; ".join(f"{e['field'] or 'filing'}: {e['message']}" for e in exc.errors)
        return cls(policy.version, None, (), {}, {}, error=f"filing refused: {message}")


@dataclass(frozen=True)
class ImpactRow:
    """One company: before and after, and what flipped."""

    key: str
    label: str
    before: Outcome
    after: Outcome
    flipped: tuple[tuple[str, str, str], ...]  # (criterion, status before, status after)

    @property
    def changed(self) -> bool:
        return (
            self.before.tier != self.after.tier
            or self.before.benefits != self.after.benefits
            or bool(self.flipped)
            or self.before.error != self.after.error
            or self.before.saving != self.after.saving
        )

    @property
    def gained_benefits(self) -> list[str]:
        return [b for b in self.after.benefits if b not in self.before.benefits]

    @property
    def lost_benefits(self) -> list[str]:
        return [b for b in self.before.benefits if b not in self.after.benefits]

    @property
    def saving_change(self) -> float:
        return money.difference(self.after.saving, self.before.saving)

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "label": self.label,
            "before": _outcome_dict(self.before),
            "after": _outcome_dict(self.after),
            "gained_benefits": self.gained_benefits,
            "lost_benefits": self.lost_benefits,
            "flipped": [{"criterion": c, "before": b, "after": a} for c, b, a in self.flipped],
            "saving_change": self.saving_change,
            "changed": self.changed,
        }


def _outcome_dict(o: Outcome) -> dict[str, Any]:
    return {
        "version": o.version,
        "tier": o.tier,
        "benefits": list(o.benefits),
        "saving": o.saving,
        "error": o.error,
    }


@dataclass
class ImpactReport:
    """Every company's row plus the totals reviewers look at first.

    ``against`` names the baseline version when every company was compared under
    one (the studio's and the CLI's analyses always are).
    """

    candidate: Policy
    as_of: dt.date
    rows: list[ImpactRow] = field(default_factory=list)
    against: str | None = None

    @property
    def changed_rows(self) -> list[ImpactRow]:
        return [r for r in self.rows if r.changed]

    def totals(self) -> dict[str, Any]:
        """Companies gaining/losing each tier and benefit, criteria flips, savings change."""
        tiers = [t.id for t in self.candidate.tiers]
        rank = tier_ranks(self.candidate)

        def reaches(tier: str | None, target: str) -> bool:
            return tier is not None and rank.get(tier, -1) >= rank[target]

        tier_totals = {
            t: {
                "gaining": sum(
                    reaches(r.after.tier, t) and not reaches(r.before.tier, t) for r in self.rows
                ),
                "losing": sum(
                    reaches(r.before.tier, t) and not reaches(r.after.tier, t) for r in self.rows
                ),
                "before": sum(reaches(r.before.tier, t) for r in self.rows),
                "after": sum(reaches(r.after.tier, t) for r in self.rows),
            }
            for t in tiers
        }
        benefit_ids: list[str] = [b.id for b in self.candidate.benefits]
        for r in self.rows:
            for b in r.before.benefits:
                if b not in benefit_ids:
                    benefit_ids.append(b)
        benefit_totals = {
            b: {
                "gaining": sum(b in r.gained_benefits for r in self.rows),
                "losing": sum(b in r.lost_benefits for r in self.rows),
                "before": sum(b in r.before.benefits for r in self.rows),
                "after": sum(b in r.after.benefits for r in self.rows),
            }
            for b in benefit_ids
        }
        flips: dict[str, dict[str, int]] = {}
        for r in self.rows:
            for crit, before, after in r.flipped:
                key = f"{before} -> {after}"
                flips.setdefault(crit, {})[key] = flips.setdefault(crit, {}).get(key, 0) + 1
        before_saving = money.total(r.before.saving for r in self.rows)
        after_saving = money.total(r.after.saving for r in self.rows)
        return {
            "companies": len(self.rows),
            "changed": len(self.changed_rows),
            "tier_changes": sum(r.before.tier != r.after.tier for r in self.rows),
            "refused_after": sum(r.after.error is not None for r in self.rows),
            "tiers": tier_totals,
            "benefits": benefit_totals,
            "criteria_flips": flips,
            "saving_before": before_saving,
            "saving_after": after_saving,
            "saving_change": money.difference(after_saving, before_saving),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "candidate": {
                "id": self.candidate.id,
                "version": self.candidate.version,
                "digest": self.candidate.digest,
            },
            "as_of": self.as_of.isoformat(),
            "against": self.against,
            "totals": self.totals(),
            "rows": [r.to_dict() for r in self.rows],
        }


CSV_HEADER = [
    "company",
    "name",
    "version_before",
    "tier_before",
    "tier_after",
    "benefits_before",
    "benefits_after",
    "benefits_gained",
    "benefits_lost",
    "criteria_flipped",
    "saving_before_kzt",
    "saving_after_kzt",
    "saving_change_kzt",
    "error_after",
]


def _cell(value: Any) -> str:
    """Spreadsheet-safe text: a leading = + - @ would be run as a formula."""
    text = "" if value is None else str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


def rows_to_csv(rows: Iterable[dict[str, Any]]) -> str:
    """The rows of ``ImpactReport.to_dict()`` as CSV (one line per company)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    for r in rows:
        flipped = "; ".join(
            f"{f['criterion']}: {f['before']} -> {f['after']}" for f in r["flipped"]
        )
        writer.writerow(
            [
                _cell(r["key"]),
                _cell(r["label"]),
                _cell(r["before"]["version"]),
                _cell(r["before"]["tier"] or "none"),
                _cell(r["after"]["tier"] or "none"),
                _cell(" ".join(r["before"]["benefits"])),
                _cell(" ".join(r["after"]["benefits"])),
                _cell(" ".join(r["gained_benefits"])),
                _cell(" ".join(r["lost_benefits"])),
                _cell(flipped),
                money.plain_text(r["before"]["saving"]),
                money.plain_text(r["after"]["saving"]),
                money.plain_text(r["saving_change"]),
                _cell(r["after"]["error"]),
            ]
        )
    return out.getvalue()


def _outcome(policy: Policy, inputs: dict[str, Any], as_of: dt.date) -> Outcome:
    try:
        return Outcome.of(assess(policy, inputs, as_of))
    except FilingInvalid as exc:
        return Outcome.refused(policy, exc)


def compare(subject: Subject, candidate: Policy, as_of: dt.date) -> ImpactRow:
    """One company under its own version and under the candidate, on the same date."""
    before = _outcome(subject.policy, subject.inputs, as_of)
    after = _outcome(candidate, subject.inputs, as_of)
    flipped: list[tuple[str, str, str]] = []
    if before.error is None and after.error is None:
        ids = list(after.statuses) + [c for c in before.statuses if c not in after.statuses]
        for cid in ids:
            b = before.statuses.get(cid, ABSENT)
            a = after.statuses.get(cid, ABSENT)
            if a != b and {a, b} != {ABSENT, "not_applicable"}:  # "does not apply" both ways
                flipped.append((cid, b, a))
    return ImpactRow(subject.key, subject.label, before, after, tuple(flipped))


def analyse(
    subjects: Iterable[Subject],
    candidate: Policy,
    as_of: dt.date,
    *,
    progress: Callable[[int], None] | None = None,
    every: int = 50,
    against: str | None = None,
) -> ImpactReport:
    """Re-assess every subject; ``progress(done)`` is called every ``every`` subjects.

    ``against`` is recorded in the report: the baseline version every subject carries.
    """
    report = ImpactReport(candidate, as_of, against=against)
    done = 0
    for subject in subjects:
        report.rows.append(compare(subject, candidate, as_of))
        done += 1
        if progress is not None and done % every == 0:
            progress(done)
    if progress is not None:
        progress(done)
    return report


# --- analysing a population in chunks ---------------------------------------------------
#
# A population too large for one process (a million companies) is analysed a chunk of
# companies at a time, possibly by several workers at once: each chunk gives a partial
# result (``ImpactPartial``: counts and exact savings, no rows), the partials are merged
# (``combine``) and the merged totals are exactly ``ImpactReport.totals()`` of a single
# pass over the same subjects, whatever the split and the order of the chunks.


def _zero_counts() -> dict[str, int]:
    return {"gaining": 0, "losing": 0, "before": 0, "after": 0}


@dataclass
class ImpactPartial:
    """The totals of some of the companies of an analysis, mergeable with others.

    ``tiers`` and ``benefits`` map an id to its ``gaining``/``losing``/``before``/
    ``after`` counts (tiers cumulative, as in ``ImpactReport.totals``); ``benefits``
    lists the candidate's benefits first, then any benefit only the baseline grants
    in the order first met. ``criteria_flips`` maps a criterion to
    ``{"<before> -> <after>": count}``. Savings are exact decimal sums of each
    company's rounded saving in KZT (converted to floats only by ``totals``).
    """

    companies: int = 0
    changed: int = 0
    tier_changes: int = 0
    refused_after: int = 0
    tiers: dict[str, dict[str, int]] = field(default_factory=dict)
    benefits: dict[str, dict[str, int]] = field(default_factory=dict)
    criteria_flips: dict[str, dict[str, int]] = field(default_factory=dict)
    saving_before: Decimal = ZERO
    saving_after: Decimal = ZERO

    @classmethod
    def empty(cls, candidate: Policy) -> ImpactPartial:
        """No company yet: every tier and benefit of ``candidate`` at zero."""
        return cls(
            tiers={t.id: _zero_counts() for t in candidate.tiers},
            benefits={b.id: _zero_counts() for b in candidate.benefits},
        )

    def add(self, row: ImpactRow, rank: dict[str, int]) -> None:
        """Count one company's row (``rank``: ``tier_ranks`` of the candidate)."""
        self.companies += 1
        self.changed += row.changed
        self.tier_changes += row.before.tier != row.after.tier
        self.refused_after += row.after.error is not None
        before_rank = rank.get(row.before.tier, -1) if row.before.tier is not None else -1
        after_rank = rank.get(row.after.tier, -1) if row.after.tier is not None else -1
        for tier, counts in self.tiers.items():
            target = rank[tier]
            was, now = before_rank >= target, after_rank >= target
            counts["gaining"] += now and not was
            counts["losing"] += was and not now
            counts["before"] += was
            counts["after"] += now
        for b in row.before.benefits:
            if b not in self.benefits:
                self.benefits[b] = _zero_counts()
        before, after = set(row.before.benefits), set(row.after.benefits)
        for b in before | after:
            found = self.benefits.get(b)
            if found is None:  # a benefit the candidate grants but does not define: never
                continue  # counted by the single pass either
            found["gaining"] += b in after and b not in before
            found["losing"] += b in before and b not in after
            found["before"] += b in before
            found["after"] += b in after
        for crit, b_status, a_status in row.flipped:
            flips = self.criteria_flips.setdefault(crit, {})
            key = f"{b_status} -> {a_status}"
            flips[key] = flips.get(key, 0) + 1
        self.saving_before = money.CONTEXT.add(self.saving_before, _exact(row.before.saving))
        self.saving_after = money.CONTEXT.add(self.saving_after, _exact(row.after.saving))

    def merge(self, other: ImpactPartial) -> ImpactPartial:
        """A new partial counting the companies of both (``self``'s first)."""
        out = ImpactPartial.from_dict(self.to_dict())
        out.companies += other.companies
        out.changed += other.changed
        out.tier_changes += other.tier_changes
        out.refused_after += other.refused_after
        for name in ("tiers", "benefits"):
            mine: dict[str, dict[str, int]] = getattr(out, name)
            for key, counts in getattr(other, name).items():
                into = mine.setdefault(key, _zero_counts())
                for k, n in counts.items():
                    into[k] += n
        for crit, flips in other.criteria_flips.items():
            into = out.criteria_flips.setdefault(crit, {})
            for key, n in flips.items():
                into[key] = into.get(key, 0) + n
        out.saving_before = money.CONTEXT.add(out.saving_before, other.saving_before)
        out.saving_after = money.CONTEXT.add(out.saving_after, other.saving_after)
        return out

    def totals(self) -> dict[str, Any]:
        """The totals as ``ImpactReport.totals()`` gives them for the same companies."""
        before, after = float(self.saving_before), float(self.saving_after)
        return {
            "companies": self.companies,
            "changed": self.changed,
            "tier_changes": self.tier_changes,
            "refused_after": self.refused_after,
            "tiers": {t: dict(c) for t, c in self.tiers.items()},
            "benefits": {b: dict(c) for b, c in self.benefits.items()},
            "criteria_flips": {c: dict(f) for c, f in self.criteria_flips.items()},
            "saving_before": before,
            "saving_after": after,
            "saving_change": money.difference(after, before),
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (savings as exact decimal strings); ``from_dict`` reads it back."""
        return {
            "companies": self.companies,
            "changed": self.changed,
            "tier_changes": self.tier_changes,
            "refused_after": self.refused_after,
            "tiers": {t: dict(c) for t, c in self.tiers.items()},
            "benefits": {b: dict(c) for b, c in self.benefits.items()},
            "criteria_flips": {c: dict(f) for c, f in self.criteria_flips.items()},
            "saving_before": str(self.saving_before),
            "saving_after": str(self.saving_after),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ImpactPartial:
        """The partial ``to_dict`` wrote."""
        return cls(
            companies=int(data["companies"]),
            changed=int(data["changed"]),
            tier_changes=int(data["tier_changes"]),
            refused_after=int(data["refused_after"]),
            tiers={t: dict(c) for t, c in data["tiers"].items()},
            benefits={b: dict(c) for b, c in data["benefits"].items()},
            criteria_flips={c: dict(f) for c, f in data["criteria_flips"].items()},
            saving_before=Decimal(data["saving_before"]),
            saving_after=Decimal(data["saving_after"]),
        )


def _exact(amount: float) -> Decimal:
    return money.to_decimal(amount)


def analyse_chunk(
    subjects: Iterable[Subject],
    candidate: Policy,
    as_of: dt.date,
    *,
    keep: Callable[[ImpactRow], bool] = lambda row: row.changed,
    progress: Callable[[int], None] | None = None,
    every: int = 100,
) -> tuple[ImpactPartial, list[ImpactRow]]:
    """Analyse some of the companies: their partial totals, and the rows ``keep`` picks
    (by default the companies that change), in the order of ``subjects``.

    Holds only the kept rows of this chunk; ``progress(done)`` every ``every`` subjects.
    """
    partial = ImpactPartial.empty(candidate)
    rank = tier_ranks(candidate)
    kept: list[ImpactRow] = []
    for done, subject in enumerate(subjects, start=1):
        row = compare(subject, candidate, as_of)
        partial.add(row, rank)
        if keep(row):
            kept.append(row)
        if progress is not None and done % every == 0:
            progress(done)
    return partial, kept


def combine(candidate: Policy, partials: Iterable[ImpactPartial]) -> ImpactPartial:
    """The partials of an analysis merged into one (in the order given)."""
    out = ImpactPartial.empty(candidate)
    for partial in partials:
        out = out.merge(partial)
    return out
