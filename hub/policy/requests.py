"""The assessment request of the API contract, shared by the API and ``hub assess``.

``{"filing": {...}, "as_of": "YYYY-MM-DD", "policy_version": "2026.1"}`` with
``as_of`` and ``policy_version`` optional. Every problem is reported as a
field-level error, in the same shape as filing errors.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from . import text as _text
from .decision import Decision, assess
from .filing import DATE_RE, FilingInvalid, field_name
from .model import Policy
from .registry import NoVersionInForce, PolicyRegistry
from .trace import Trace, assess_traced

REQUEST_FIELDS = ("filing", "as_of", "policy_version")
_REQUEST_KEYS = frozenset(REQUEST_FIELDS)


class RequestInvalid(FilingInvalid):
    """The request around the filing is wrong (same error shape, answered with 422)."""


def lone_surrogate_errors(body: Any, raw: bytes | None = None) -> list[dict[str, Any]]:
    """The field error for a lone surrogate anywhere in a parsed JSON body (a ``\\ud800``
    escape that pairs with nothing), or no error. Such text cannot be stored, shown or
    written back as UTF-8, so a body holding one is refused whole, before anything reads
    it. The field is named as validation names it: an input of the filing by its own
    name, any other field by its key.

    ``raw``, the body's bytes, saves the walk when it cannot hold one: a lone surrogate
    comes from an escape (``\\u``) or from the bytes ED A0-BF that Python's JSON reader
    lets through (``surrogatepass``)."""
    if raw is not None and b"\\u" not in raw and b"\xed" not in raw:
        return []
    path = _text.find_lone_surrogate(body)
    if path is None:
        return []
    if len(path) > 1 and path[0] == "filing":
        path = path[1:]
    name = path[0] if path else None
    return [
        {
            "field": None if name is None else field_name(name),
            "message": "must be valid Unicode text (it holds a lone surrogate, such as \\ud800)",
        }
    ]


#: dates read, by their text: requests name few days (most name today), so one look-up
#: replaces the pattern and the parse. Only real dates enter, at most DATES_MEMO of them
#: (then it starts afresh): ten characters each, never a client's long text.
_DATES: dict[str, dt.date] = {}
DATES_MEMO = 4_096


def parse_date(value: Any, field: str) -> dt.date:
    """``value`` read as a date written YYYY-MM-DD; raises RequestInvalid naming ``field``
    when it is not such a text or not a real date."""
    if type(value) is str:
        day = _DATES.get(value)
        if day is not None:
            return day
    if not isinstance(value, str) or not DATE_RE.match(value):
        raise RequestInvalid([{"field": field, "message": "must be a date written YYYY-MM-DD"}])
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise RequestInvalid([{"field": field, "message": "is not a real date"}]) from None
    if len(_DATES) >= DATES_MEMO:
        _DATES.clear()
    _DATES[value] = day
    return day


#: how the ``trace`` query parameter (and any yes/no request option) may be written
FLAG_VALUES = {"true": True, "false": False}


def parse_flag(values: list[str], field: str) -> bool:
    """A yes/no query parameter given zero or one time: absent is false, ``true`` or
    ``false`` say so; anything else (``maybe``, ``1``, an empty value, the parameter twice)
    is refused with an error naming ``field``."""
    if not values:
        return False
    if len(values) > 1:
        raise RequestInvalid([{"field": field, "message": "is given more than once"}])
    flag = FLAG_VALUES.get(values[0])
    if flag is None:
        shown = values[0][:40]
        raise RequestInvalid([{"field": field, "message": f"must be true or false, not {shown!r}"}])
    return flag


def assess_request(registry: PolicyRegistry, body: Any, today: dt.date) -> Decision:
    """Check the request, pick the version, validate the filing and decide."""
    policy, filing, as_of = _read_request(registry, body, today)
    return assess(policy, filing, as_of)


def trace_request(registry: PolicyRegistry, body: Any, today: dt.date) -> tuple[Decision, Trace]:
    """``assess_request`` and the trace of its decision (``hub.policy.trace``)."""
    policy, filing, as_of = _read_request(registry, body, today)
    return assess_traced(policy, filing, as_of)


def _read_request(
    registry: PolicyRegistry, body: Any, today: dt.date
) -> tuple[Policy, Any, dt.date]:
    """The version, the filing (not yet validated) and the date the request names."""
    if not isinstance(body, dict):
        raise RequestInvalid([{"field": None, "message": "the body must be a JSON object"}])
    if not body.keys() <= _REQUEST_KEYS:
        raise RequestInvalid(
            [
                {
                    "field": field_name(k),
                    "message": "unknown field (expected filing, as_of, policy_version)",
                }
                for k in body
                if k not in REQUEST_FIELDS
            ]
        )
    if "filing" not in body:
        raise RequestInvalid([{"field": "filing", "message": "is required"}])
    if not isinstance(body["filing"], dict):
        raise RequestInvalid([{"field": "filing", "message": "must be a JSON object"}])
    as_of = today if body.get("as_of") is None else parse_date(body["as_of"], "as_of")
    version = body.get("policy_version")
    if version is not None and not isinstance(version, str):
        raise RequestInvalid([{"field": "policy_version", "message": "must be text"}])
    if version is not None and (problem := _text.text_problem(version, name=False)):
        raise RequestInvalid([{"field": "policy_version", "message": problem}])
    try:
        policy = registry.select(as_of, version)
    except NoVersionInForce as exc:
        raise RequestInvalid([{"field": exc.field, "message": exc.message}]) from None
    return policy, body["filing"], as_of
