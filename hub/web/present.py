"""How a decision is shown: the API's decision document turned into what a page needs.

Works from the stored document (``Decision.to_dict()``), not from a live
``Decision``, so a submitted filing is shown exactly as it was decided even after
the policy files changed. The policy, when known, only adds labels and units.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from hub.policy import Policy, PolicyRegistry
from hub.policy.ahead import inputs_for
from hub.policy.gain import next_tier_gain
from hub.policy.model import InputSpec
from hub.policy.money import format_money
from hub.policy.shown import format_number, gap_text, shown_value

STATUS_ORDER = {"not_met": 0, "missing": 1, "met": 2, "not_applicable": 3}
STATUS_TEXT = {
    "met": "Met",
    "not_met": "Not met",
    "missing": "Missing",
    "not_applicable": "Does not apply",
}


def money_text(value: Any, signed: bool = False) -> str:
    """An amount as the policy rounded it, never rounded again: 12,000,000 or 18,532.52
    (``signed``: +1,000 for changes); "—" for anything that is not a finite number."""
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        return "—"
    return format_money(value, signed=signed)


def kzt(value: Any) -> str:
    """An amount in tenge with thousands separators and its tiyn when it has any:
    12,000,000 KZT, 18,532.52 KZT."""
    text = money_text(value)
    return text if text == "—" else f"{text} KZT"


def show(value: Any, bounds: Iterable[Any] = ()) -> str:
    """An input value as people read it; a number never shown onto or across one of
    ``bounds`` (what it is compared with): 94.9999999 against 95 is "94.9999999"."""
    if value is None:
        return "not given"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) if value else "none"
    if isinstance(value, int | float):
        return shown_value(value, bounds)
    return str(value)


# A number as format_number writes it in a requirement ("kyc_verified_clients_pct ≥ 95",
# "opex_in_zone_kzt ≥ 50,000,000"), not part of a name.
_NUMBER = re.compile(r"(?<![\w.])-?\d[\d,]*(?:\.\d+)?(?![\w.])")


def bounds_of(row: dict[str, Any]) -> list[Any]:
    """What a criterion's values are compared with, from its stored decision: the threshold
    and every number its requirement shows."""
    found: list[Any] = []
    threshold = row.get("threshold")
    if isinstance(threshold, int | float) and not isinstance(threshold, bool):
        found.append(threshold)
    for m in _NUMBER.finditer(row.get("requirement") or ""):
        text = m.group().replace(",", "")
        found.append(float(text) if "." in text else int(text))
    return found


def value_texts(row: dict[str, Any]) -> dict[str, str]:
    """Each value of a criterion's row as shown beside its requirement (``show``)."""
    bounds = bounds_of(row)
    return {name: show(v, bounds) for name, v in (row.get("values") or {}).items()}


@dataclass
class Bar:
    """Value against threshold on one scale, as percentages of the bar's width."""

    label: str
    value: float | None
    threshold: float
    at_least: bool  # the value must reach the threshold (else stay at or under it)
    value_pct: float
    threshold_pct: float
    unit: str

    @property
    def gap_text(self) -> str:
        if self.value is None:
            return "no value given"
        gap = self.threshold - self.value if self.at_least else self.value - self.threshold
        if gap <= 0:
            return "meets the threshold"
        unit = f" {self.unit}" if self.unit and self.unit != "%" else self.unit
        shown = gap_text(self.value, self.threshold)  # exact: never "0 short"
        return f"{shown}{unit} short" if self.at_least else f"{shown}{unit} over"


def _pct(x: float, scale: float) -> float:
    return round(max(0.0, min(100.0, x / scale * 100)), 2)


def _bar(row: dict[str, Any], policy: Policy | None) -> Bar | None:
    threshold = row.get("threshold")
    requirement = row.get("requirement") or ""
    if isinstance(threshold, bool) or not isinstance(threshold, int | float):
        return None
    for name, value in (row.get("values") or {}).items():
        if requirement.startswith(f"{name} ≥") or requirement.startswith(f"{name} >"):
            at_least = True
        elif requirement.startswith(f"{name} ≤") or requirement.startswith(f"{name} <"):
            at_least = False
        else:
            continue
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            return None
        spec = policy.inputs_by_name.get(name) if policy else None
        unit = spec.unit if spec else ("%" if name.endswith("_pct") else "")
        top = max(float(threshold), float(value or 0)) * 1.25 or 1.0
        scale = 100.0 if unit == "%" else top
        v = None if value is None else float(value)
        return Bar(
            label=spec.label if spec else name,
            value=v,
            threshold=float(threshold),
            at_least=at_least,
            value_pct=0.0 if v is None else _pct(v, scale),
            threshold_pct=_pct(float(threshold), scale),
            unit=unit,
        )
    return None


def _saving_text(saving: float | None) -> str | None:
    return None if saving is None else kzt(saving)


def decision_view(
    doc: dict[str, Any],
    policy: Policy | None = None,
    inputs: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Everything a result page shows, derived from a decision document; with the policy
    and the filing's ``inputs``, also what the next tier is worth (``next_tier.gain``,
    ``hub.policy.gain``)."""
    specs = policy.inputs_by_name if policy else {}
    tiers = (
        [t.id for t in policy.tiers]
        if policy
        else sorted({c["tier"] for c in doc.get("criteria", [])})
    )
    tier_titles = {t.id: t.title for t in policy.tiers} if policy else {}
    rows = []
    for c in doc.get("criteria", []):
        texts = value_texts(c)
        values = [
            {
                "name": name,
                "label": specs[name].label if name in specs else name,
                "text": texts[name],
                "unit": specs[name].unit if name in specs else "",
            }
            for name in (c.get("values") or {})
        ]
        rows.append(
            {
                **c,
                "status_text": STATUS_TEXT.get(c["status"], c["status"]),
                "shown_values": values,
                "bar": _bar(c, policy) if c["status"] != "not_applicable" else None,
                "threshold_text": format_number(c.get("threshold"))
                if c.get("threshold") is not None
                else "",
            }
        )
    rows.sort(
        key=lambda r: (
            STATUS_ORDER.get(r["status"], 9),
            tiers.index(r["tier"]) if r["tier"] in tiers else 9,
        )
    )
    reached = doc.get("tier")
    rank = tiers.index(reached) if reached in tiers else -1
    next_tier = None
    if rank + 1 < len(tiers):
        target = tiers[rank + 1]
        needs = [
            r
            for r in rows
            if r["status"] in ("not_met", "missing") and r["tier"] in tiers[: rank + 2]
        ]
        next_tier = {"id": target, "title": tier_titles.get(target, target), "needs": needs}
        if policy is not None and inputs is not None:
            statuses = {c["id"]: c["status"] for c in doc.get("criteria", [])}
            gain = next_tier_gain(policy, statuses, inputs_for(policy, inputs), doc.get("as_of"))
            if gain is not None and gain.benefits:
                next_tier["gain"] = {
                    "tier": gain.tier,
                    "title": gain.title,
                    "benefits": [
                        {"title": b.title, "saving_text": _saving_text(b.saving)}
                        for b in gain.benefits
                    ],
                    "total_text": kzt(gain.total) if gain.total else None,
                }
    benefits = [
        {**b, "saving_text": kzt(b.get("estimated_annual_saving_kzt"))}
        for b in doc.get("benefits", [])
    ]
    unknown = [b for b in benefits if b.get("estimated_annual_saving_kzt") is None]
    return {
        "doc": doc,
        "tier": reached,
        "tier_title": doc.get("tier_title"),
        "next_tier": next_tier,
        "benefits": benefits,
        "unknown_savings": unknown,
        "total_text": kzt(doc.get("estimated_total_saving_kzt", 0)),
        "rows": rows,
        "counts": {s: sum(1 for r in rows if r["status"] == s) for s in STATUS_ORDER},
        "policy": doc.get("policy") or {},
        "as_of": doc.get("as_of"),
    }


def input_specs(registry: PolicyRegistry, policy: Policy | None) -> dict[str, InputSpec]:
    """Each input's definition, for labels and units: ``policy``'s own, and for a filing's
    answers ahead of it (``hub.policy.ahead``) that of the latest version asking them."""
    specs = {i.name: i for p in registry.versions() for i in p.inputs}
    if policy is not None:
        specs.update(policy.inputs_by_name)
    return specs


def input_labels(registry: PolicyRegistry, policy: Policy | None) -> dict[str, str]:
    """``{input name: label}`` as ``input_specs`` finds them."""
    return {name: spec.label for name, spec in input_specs(registry, policy).items()}
