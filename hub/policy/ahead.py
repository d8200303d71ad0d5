"""Answers ahead of a version: a filing prepared for a version published but not yet in force.

A published version can ask something the version in force does not (2027.1 adds
``unhosted_wallet_verified_pct``). The daily watch tells a company to file it before
that version takes effect; the company can, because a stored filing may carry, beside
the inputs of the version in force, answers to the inputs that an upcoming version
defines. Each version decides on the inputs it defines (``inputs_for``): the version in
force ignores the answers ahead of it, the upcoming one reads them from its first day.

Pure: no Flask, no database.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .filing import _check_value, field_name
from .model import InputSpec, Policy


@dataclass(frozen=True)
class AheadInput:
    """An input the version in force does not define but an upcoming version does.

    ``spec`` is that version's definition (label, type, bounds); ``version`` the first
    upcoming version that asks it.
    """

    spec: InputSpec
    version: Policy


def ahead_inputs(policy: Policy, upcoming: Sequence[Policy]) -> dict[str, AheadInput]:
    """The inputs ``upcoming`` versions (earliest first) ask that ``policy`` does not.

    Shape: ``{input name: AheadInput}`` in the upcoming versions' order, each input once
    (the earliest version that asks it). Empty when nothing new is asked.
    """
    out: dict[str, AheadInput] = {}
    for version in upcoming:
        for spec in version.inputs:
            if spec.name not in policy.inputs_by_name and spec.name not in out:
                out[spec.name] = AheadInput(spec, version)
    return out


def inputs_for(policy: Policy, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """The inputs of a stored filing that ``policy`` defines: what it decides on.

    A filing's answers ahead of a version (inputs ``policy`` does not define) are left
    out; every other value is passed through unchanged (validation stays the caller's).
    """
    known = policy.inputs_by_name
    return {k: v for k, v in inputs.items() if k in known}


def check_ahead(
    policy: Policy, values: Mapping[str, Any], ahead: Mapping[str, AheadInput]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Check the values ``policy`` does not define against the upcoming versions' inputs.

    ``values`` is a draft's inputs (absent ones already dropped). Returns ``(checked,
    errors)``: the typed values of inputs an upcoming version asks, and one error per
    other value, ``{"field", "message"}`` (an unknown name, or a value the upcoming
    version would refuse, worded as ``validate_filing`` words it).
    """
    checked: dict[str, Any] = {}
    errors: list[dict[str, Any]] = []
    for key, value in values.items():
        if key in policy.inputs_by_name:
            continue
        found = ahead.get(key) if isinstance(key, str) else None
        if found is None:
            names = [policy.version, *dict.fromkeys(a.version.version for a in ahead.values())]
            errors.append(
                {
                    "field": field_name(key),
                    "message": f"unknown field for policy {' or '.join(names)}",
                }
            )
            continue
        typed, problem = _check_value(found.spec, value)
        if problem:
            errors.append({"field": key, "message": problem})
        else:
            checked[key] = typed
    return checked, errors
