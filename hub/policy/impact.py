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
from typing import Any, NamedTuple

from . import money
from .ahead import inputs_for
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
    """The filing's outcome under ``policy``, on the inputs ``policy`` defines: answers a
    filing gives ahead of another version (``hub.policy.ahead``) are not read."""
    try:
        return Outcome.of(assess(policy, inputs_for(policy, inputs), as_of))
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


class KeptRow(NamedTuple):
    """A row ``analyse_chunk`` keeps: the company's key and label, whether it changes,
    and its row as ``ImpactRow.to_dict()`` gives it (what a run stores)."""

    key: str
    label: str
    changed: bool
    row: dict[str, Any]


#: Distinct (statuses before, statuses after) pairs whose flips one alignment remembers.
FLIPS_MEMO = 4_096


class _Alignment:
    """The criteria of a baseline and a candidate lined up as ``compare`` lines them up
    (the candidate's in order, then those only the baseline has), with the flips of
    recently met pairs of statuses remembered (at most ``FLIPS_MEMO``: memory flat)."""

    def __init__(self, before: Policy, after: Policy) -> None:
        b_ids, a_ids = list(before.criterion_by_id), list(after.criterion_by_id)
        b_at = {c: i for i, c in enumerate(b_ids)}
        a_at = {c: i for i, c in enumerate(a_ids)}
        ids = a_ids + [c for c in b_ids if c not in a_at]
        self.same = b_ids == a_ids
        self.pairs = [(c, b_at.get(c), a_at.get(c)) for c in ids]
        self.memo: dict[tuple[tuple[str, ...], tuple[str, ...]], tuple[tuple[str, str, str], ...]]
        self.memo = {}

    def flips(
        self, before: tuple[str, ...], after: tuple[str, ...]
    ) -> tuple[tuple[str, str, str], ...]:
        """(criterion, status before, status after) of each criterion that flipped."""
        if self.same and before == after:
            return ()
        key = (before, after)
        found = self.memo.get(key)
        if found is None:
            out = []
            for cid, bi, ai in self.pairs:
                b = before[bi] if bi is not None else ABSENT
                a = after[ai] if ai is not None else ABSENT
                if a != b and {a, b} != {ABSENT, "not_applicable"}:
                    out.append((cid, b, a))
            if len(self.memo) >= FLIPS_MEMO:
                self.memo.clear()
            found = self.memo[key] = tuple(out)
        return found


def _saving(decision: Decision) -> float:
    """``Outcome.of(decision).saving`` without building the outcome: the exact sum of the
    rounded savings (``money.total``). One saving is its own sum; several in the same
    decimal places are summed as integers (a correctly rounded int division, as
    ``money.total``'s float of the exact sum); others by ``money.total`` itself."""
    savings = decision.savings
    if len(savings) > 1:
        numerator, denominator = 0, 0
        for amount in savings:
            if amount is not None:
                n, d = money.to_ratio(amount)
                if denominator and d != denominator:
                    return money.total(savings)
                numerator, denominator = numerator + n, d
        return numerator / denominator if denominator else 0.0
    if savings and savings[0] is not None:
        return savings[0]
    return 0.0


def _side(decision: Decision, saving: float) -> dict[str, Any]:
    return {
        "version": decision.policy.version,
        "tier": decision.tier,
        "benefits": list(decision.benefit_ids),
        "saving": saving,
        "error": None,
    }


class _Tally:
    """What ``ImpactPartial.add`` counts, counted by kind of row: companies with the same
    tiers, benefits, refusal and change before and after are one entry with a count,
    and savings are exact integer sums by denominator (``money.to_ratio``). ``partial``
    expands it into the ``ImpactPartial`` adding the rows one by one gives (the order
    in which benefits and flips were first met included: entries keep the order of the
    rows that first made them)."""

    def __init__(self) -> None:
        self.kinds: dict[tuple[Any, ...], int] = {}
        self.flips: dict[tuple[tuple[str, str, str], ...], int] = {}
        self.before: dict[int, int] = {}
        self.after: dict[int, int] = {}

    def count(
        self,
        kind: tuple[str | None, str | None, tuple[str, ...], tuple[str, ...], bool, bool],
        flipped: tuple[tuple[str, str, str], ...],
        saving_before: float,
        saving_after: float,
    ) -> None:
        """One company: ``kind`` is (tier before, tier after, benefits before, benefits
        after, refused after, changed)."""
        kinds = self.kinds
        kinds[kind] = kinds.get(kind, 0) + 1
        if flipped:
            self.flips[flipped] = self.flips.get(flipped, 0) + 1
        n, d = money.to_ratio(saving_before)
        self.before[d] = self.before.get(d, 0) + n
        n, d = money.to_ratio(saving_after)
        self.after[d] = self.after.get(d, 0) + n

    def partial(self, candidate: Policy) -> ImpactPartial:
        """The partial totals of the companies counted (see ``ImpactPartial``)."""
        out = ImpactPartial.empty(candidate)
        rank = tier_ranks(candidate)
        for (b_tier, a_tier, b_benefits, a_benefits, refused, changed), n in self.kinds.items():
            out.companies += n
            out.changed += n * changed
            out.tier_changes += n * (b_tier != a_tier)
            out.refused_after += n * refused
            before_rank = rank.get(b_tier, -1) if b_tier is not None else -1
            after_rank = rank.get(a_tier, -1) if a_tier is not None else -1
            for tier, counts in out.tiers.items():
                target = rank[tier]
                was, now = before_rank >= target, after_rank >= target
                counts["gaining"] += n * (now and not was)
                counts["losing"] += n * (was and not now)
                counts["before"] += n * was
                counts["after"] += n * now
            for b in b_benefits:
                if b not in out.benefits:
                    out.benefits[b] = _zero_counts()
            before, after = set(b_benefits), set(a_benefits)
            for b in before | after:
                found = out.benefits.get(b)
                if found is None:  # as ImpactPartial.add: never counted
                    continue
                found["gaining"] += n * (b in after and b not in before)
                found["losing"] += n * (b in before and b not in after)
                found["before"] += n * (b in before)
                found["after"] += n * (b in after)
        for flipped, n in self.flips.items():
            for crit, b_status, a_status in flipped:
                flips = out.criteria_flips.setdefault(crit, {})
                key = f"{b_status} -> {a_status}"
                flips[key] = flips.get(key, 0) + n
        out.saving_before = _exact_sum(self.before)
        out.saving_after = _exact_sum(self.after)
        return out


def _exact_sum(by_denominator: dict[int, int]) -> Decimal:
    """The exact decimal sum of numerators over their denominators (divisors of powers
    of ten: ``money.to_ratio`` of rounded amounts)."""
    out = ZERO
    for d, n in by_denominator.items():
        out = money.CONTEXT.add(out, money.CONTEXT.divide(Decimal(n), Decimal(d)))
    return out


def analyse_chunk(
    subjects: Iterable[Subject],
    candidate: Policy,
    as_of: dt.date,
    *,
    keep_unchanged: bool = False,
    progress: Callable[[int], None] | None = None,
    every: int = 100,
) -> tuple[ImpactPartial, list[KeptRow]]:
    """Analyse some of the companies: their partial totals, and the rows of those that
    change (of every company with ``keep_unchanged``), in the order of ``subjects``.

    The same comparison as ``compare`` and the same totals as adding each row with
    ``ImpactPartial.add``, built without an ``ImpactRow`` per company: the two decisions
    are read directly, flips come from the criteria lined up once per pair of policies,
    and a filing either side refuses goes through ``compare`` itself. Holds only the
    kept rows of this chunk; ``progress(done)`` every ``every`` subjects.
    """
    tally = _Tally()
    alignments: dict[str, _Alignment] = {}
    policy_of: Policy | None = None  # the baseline of the last subject, and its alignment
    align: _Alignment | None = None
    kept: list[KeptRow] = []
    done = 0
    for subject in subjects:
        if progress is not None and done and done % every == 0:
            progress(done)
        done += 1
        policy = subject.policy
        try:
            before = assess(policy, subject.inputs, as_of)
            after = assess(candidate, subject.inputs, as_of)
        except FilingInvalid:  # one side refuses it: the general comparison, rare
            row = compare(subject, candidate, as_of)
            kind = (row.before.tier, row.after.tier, row.before.benefits, row.after.benefits,
                    row.after.error is not None, row.changed)  # fmt: skip
            tally.count(kind, row.flipped, row.before.saving, row.after.saving)
            if keep_unchanged or row.changed:
                kept.append(KeptRow(row.key, row.label, row.changed, row.to_dict()))
            continue
        if policy is not policy_of or align is None:
            align = alignments.get(policy.key)
            if align is None:
                align = alignments[policy.key] = _Alignment(policy, candidate)
            policy_of = policy
        flipped = align.flips(before.statuses, after.statuses)
        b_saving, a_saving = _saving(before), _saving(after)
        b_tier, a_tier = before.tier, after.tier
        b_benefits, a_benefits = before.benefit_ids, after.benefit_ids
        changed = (
            b_tier != a_tier or b_benefits != a_benefits or bool(flipped) or b_saving != a_saving
        )
        tally.count(
            (b_tier, a_tier, b_benefits, a_benefits, False, changed), flipped, b_saving, a_saving
        )
        if keep_unchanged or changed:
            row_dict = {
                "key": subject.key,
                "label": subject.label,
                "before": _side(before, b_saving),
                "after": _side(after, a_saving),
                "gained_benefits": [b for b in a_benefits if b not in b_benefits],
                "lost_benefits": [b for b in b_benefits if b not in a_benefits],
                "flipped": [{"criterion": c, "before": b, "after": a} for c, b, a in flipped],
                "saving_change": money.difference(a_saving, b_saving),
                "changed": changed,
            }
            kept.append(KeptRow(subject.key, subject.label, changed, row_dict))
    return tally.partial(candidate), kept


def combine(candidate: Policy, partials: Iterable[ImpactPartial]) -> ImpactPartial:
    """The partials of an analysis merged into one (in the order given)."""
    out = ImpactPartial.empty(candidate)
    for partial in partials:
        out = out.merge(partial)
    return out
