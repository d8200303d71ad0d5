"""Hypothesis strategies for the differential tests: filings of a policy version, and dates.

A filing is drawn from a policy's own inputs, so a new input or a new version is covered
without editing the strategies. Two shapes, the first the one a failure shrinks towards:

- a **compliant company** of any activity (``core_support.exchange``/``miner``) with a
  few inputs changed to another value or left out: a failure shrinks to the one or two
  changes that matter ("a T3 exchange with ``kyc_verified_clients_pct`` 94.9");
- **every input drawn**: each left out now and then, numbers at, a hair off, a step off
  and far from the policy's own thresholds, with up to six decimal places.

Numbers never carry more than 15 significant digits (more are refused as inexact; see
``hub/policy/filing.py``) and stay within the input's bounds, as a valid filing's do;
wild values (:data:`WILD`) (wrong types, out of bounds, NaN, text) are for the validation tests.

How many examples a test draws comes from :func:`examples`: few by default (a quick
local run), at least as many as the loops these tests replaced under the ``ci`` profile
(``tests/conftest.py`` loads it when ``CI`` or ``HYPOTHESIS_PROFILE=ci`` is set).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from hub.policy import Policy
from hub.policy.model import InputSpec

from .core_support import AS_OF, REGISTRY, exchange, miner

T = TypeVar("T")

#: Inputs every filing has as the compliant company has them (identity, not rules).
IDENTITY = ("bin", "legal_name", "activity")

LICENCE = {"exchange": "trading_facility", "mining": "mining", "software": "none"}

#: Offsets from a threshold: on it first (what a failure shrinks to), then a hair, a
#: tenth, one and a step away on either side.
STEPS = (0, -1e-9, 1e-9, -0.1, 0.1, -1, 1, 7.5)

#: The largest magnitude a "far" number takes when its input has no upper bound: below
#: the money ceiling, so the filing stays valid.
FAR = 10**10

#: The day a version takes effect, the day before and the day after, for every version
#: shipped: where "the version in force" changes.
EFFECTIVE_DAYS = sorted(
    {p.effective_from + dt.timedelta(days=d) for p in REGISTRY.versions() for d in (0, -1, 1)}
)


def profile_is_ci() -> bool:
    """Whether the ``ci`` Hypothesis profile is loaded (see ``tests/conftest.py``)."""
    return settings.get_current_profile_name() == "ci"


def examples(ci: int, dev: int) -> settings:
    """Settings drawing ``ci`` examples under the ``ci`` profile, ``dev`` otherwise.

    ``ci`` is at least the number of cases of the loop the test replaced, so CI never
    checks fewer; the rest (``deadline=None``, derandomised in CI) comes from the
    profile. The engine is fast but a filing is many draws: ``too_slow`` is expected.
    """
    return settings(
        max_examples=ci if profile_is_ci() else dev,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def compliant(policy: Policy, activity: str) -> dict[str, Any]:
    """A filing of ``activity`` that reaches T3 under ``policy`` (a miner, or an exchange)."""
    if activity == "mining":
        return miner()
    return exchange(policy.version, activity=activity,
                    licence_type=LICENCE.get(activity, "service_provider"))  # fmt: skip


def _exact(n: int, places: int) -> float:
    """``n / 10**places`` as a float: the double nearest that decimal (at most 15 digits)."""
    return n / 10**places


def _near(policy: Policy, spec: InputSpec) -> list[int | float]:
    """Each threshold of the policy (and 0, 1, 10, 100) plus each of :data:`STEPS`, within
    the bounds of ``spec`` (whole for an integer input), once each, on-threshold first."""
    centres = sorted(
        {v for v in policy.parameter_values.values() if type(v) in (int, float)} | {0, 1, 10, 100}
    )
    lo = spec.min if spec.min is not None else 0
    hi = spec.max if spec.max is not None else 10**15

    def clamp(value: float) -> int | float:
        value = min(max(value, lo), hi)
        return round(value) if spec.type == "integer" else value

    return list(dict.fromkeys(clamp(c + step) for step in STEPS for c in centres))


def numbers(policy: Policy, spec: InputSpec) -> st.SearchStrategy[int | float]:
    """Values of a number or integer input: at, near and far from the policy's thresholds.

    Near: a parameter of the policy (or 0, 1, 10, 100) plus one of :data:`STEPS`. Far:
    anywhere within the input's bounds (at most :data:`FAR` when unbounded) with 0, 2
    or 6 decimal places (at most 15 significant digits). Clamped to the bounds; integers are whole.
    """
    lo = spec.min if spec.min is not None else 0
    hi = spec.max if spec.max is not None else 10**15
    near = st.sampled_from(_near(policy, spec))  # one choice
    top = min(hi, FAR)
    far: st.SearchStrategy[int | float]
    if spec.type == "integer":
        far = st.integers(int(lo), int(top))
    else:  # whole, to the hundredth (tiyn, percent points), to the millionth
        far = st.one_of(
            st.integers(int(lo), int(top)),
            st.integers(int(lo * 100), int(top * 100)).map(lambda n: _exact(n, 2)),
            st.integers(int(lo * 10**6), int(min(top, 10**9) * 10**6)).map(lambda n: _exact(n, 6)),
        )

    return st.one_of(near, far)


#: Date inputs: days from the decision date, near it (one of three days), or within two years.
DATE_OFFSETS = st.one_of(st.integers(-3, 3), st.integers(-730, 730))

_VALUES: dict[tuple[str, str], st.SearchStrategy[Any]] = {}


def value(policy: Policy, spec: InputSpec) -> st.SearchStrategy[Any]:
    """A valid value of ``spec``; for a date, a number of days from the decision date.

    Built once per policy and input (building strategies costs more than drawing).
    """
    key = (policy.key, spec.name)
    if key not in _VALUES:
        _VALUES[key] = _value(policy, spec)
    return _VALUES[key]


def _value(policy: Policy, spec: InputSpec) -> st.SearchStrategy[Any]:
    if spec.type in ("number", "integer"):
        return numbers(policy, spec)
    if spec.type == "bool":
        return st.booleans()
    if spec.type == "enum":
        return st.sampled_from(spec.choices)
    if spec.type == "set":
        return st.lists(st.sampled_from(spec.choices), unique=True)
    if spec.type == "date":
        return DATE_OFFSETS
    if spec.type == "string":
        return st.sampled_from(("Steppe Exchange LLP", "Random LLP"))
    raise AssertionError(f"no strategy for inputs of type {spec.type!r}")


#: Marks an input left out in :func:`quick_value`'s lists.
ABSENT = object()

_QUICK: dict[tuple[str, str], st.SearchStrategy[Any]] = {}


def quick_value(policy: Policy, spec: InputSpec) -> st.SearchStrategy[Any]:
    """A value of ``spec`` from a fixed list, or :data:`ABSENT` about one time in twelve.

    One choice per input (a filing of every input drawn by :func:`value` costs about
    three times as much): the values near the thresholds of :func:`numbers`, every
    boolean, choice and subset of choices, dates (as days from the decision date) near
    the day and a month or a year off.
    """
    key = (policy.key, spec.name)
    if key not in _QUICK:
        if spec.type in ("number", "integer"):
            values: list[Any] = _near(policy, spec)
        elif spec.type == "bool":
            values = [False, True]
        elif spec.type == "enum":
            values = list(spec.choices)
        elif spec.type == "set":
            choices = list(spec.choices)
            values = [
                [c for i, c in enumerate(choices) if mask >> i & 1]
                for mask in range(2 ** len(choices))
            ]
        elif spec.type == "date":
            values = [0, -1, 1, -2, 2, -3, 3, -30, 30, -400, 400]
        else:
            values = ["Steppe Exchange LLP"]
        values = values * -(-11 // len(values))  # at least eleven
        _QUICK[key] = st.sampled_from(values + [ABSENT] * -(-len(values) // 11))
    return _QUICK[key]


def _draw_value(
    draw: Callable[[st.SearchStrategy[Any]], Any], policy: Policy, spec: InputSpec, day: dt.date
) -> Any:
    drawn = draw(value(policy, spec))
    return (day + dt.timedelta(days=drawn)).isoformat() if spec.type == "date" else drawn


#: True one time in three or four (False, what a failure shrinks to, otherwise).
ONE_IN_THREE = st.integers(0, 2).map(lambda n: n == 2)
ONE_IN_FOUR = st.integers(0, 3).map(lambda n: n == 3)

#: A value no input accepts as is, or only after conversion: for validation tests.
WILD: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.floats(),  # NaN, infinities, 17-digit fractions, -0.0
    st.text(max_size=4),
    st.lists(st.one_of(st.text(max_size=4), st.integers()), max_size=3),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=1),
)


#: Decision dates: the usual one, every version's effective day and its neighbours, and
#: any day from the first version's start to two years after the last's.
AS_OF_DATES: st.SearchStrategy[dt.date] = st.one_of(
    st.sampled_from([AS_OF, *EFFECTIVE_DAYS]),
    st.dates(EFFECTIVE_DAYS[0], EFFECTIVE_DAYS[-1] + dt.timedelta(days=730)),
)


def as_of_dates() -> st.SearchStrategy[dt.date]:
    """:data:`AS_OF_DATES`, the decision dates the differential tests spread over."""
    return AS_OF_DATES


#: How many criteria a change to a compliant company touches.
CHANGES = st.integers(1, 3)


class _Shapes:
    """The strategies :func:`filings` draws from for one policy, built once (building a
    strategy costs more than drawing from it)."""

    def __init__(self, policy: Policy) -> None:
        self.specs = [s for s in policy.inputs if s.name not in IDENTITY]
        self.activities = st.sampled_from(policy.activities)
        self.names = st.lists(st.sampled_from([s.name for s in policy.inputs]), max_size=2)
        self.changes = {a: self._changes(policy, a) for a in policy.activities}

    @staticmethod
    def _changes(policy: Policy, activity: str) -> st.SearchStrategy[tuple[InputSpec, ...]]:
        """What a change to a compliant company of ``activity`` changes together, by kind:
        per tier, the inputs of one criterion of that tier that applies to the activity;
        last, one input no such criterion reads (savings). Drawing the kind first makes a
        company that fails only a criterion of the top tier as likely as any other."""
        specs = policy.inputs_by_name
        kinds: dict[str, list[tuple[InputSpec, ...]]] = {}
        for c in policy.criteria:
            group = tuple(specs[n] for n in c.inputs if n not in IDENTITY)
            if activity in c.applies_to and group:
                kinds.setdefault(c.tier, []).append(group)
        named = {spec.name for groups in kinds.values() for group in groups for spec in group}
        others = [(s,) for s in policy.inputs if s.name not in named and s.name not in IDENTITY]
        return st.one_of(*(st.sampled_from(k) for k in [*kinds.values(), others] if k))


_SHAPES: dict[str, _Shapes] = {}


def _shapes(policy: Policy) -> _Shapes:
    if policy.key not in _SHAPES:
        _SHAPES[policy.key] = _Shapes(policy)
    return _SHAPES[policy.key]


@st.composite
def filings(
    draw: Callable[[st.SearchStrategy[T]], T],
    policy: Policy,
    as_of: dt.date | None = None,
    *,
    wild_values: bool = False,
) -> tuple[dict[str, Any], dt.date]:
    """A filing under ``policy`` and the date it is decided on (``as_of`` when given).

    Two times in three a compliant company (licensed for a year after the day) with the
    inputs of one to three criteria changed or (one time in four) left out: what failures
    shrink to. Otherwise every input drawn (:func:`quick_value`), each left out about one
    time in twelve. With ``wild_values`` up to two inputs take a :data:`WILD` value (the
    filing may then be invalid).
    """
    shapes = _shapes(policy)
    day: dt.date = as_of if as_of is not None else draw(AS_OF_DATES)
    activity = draw(shapes.activities)
    if draw(ONE_IN_THREE):
        filing = {"bin": "940140000385", "legal_name": "Random LLP", "activity": activity}
        for spec in shapes.specs:
            drawn = draw(quick_value(policy, spec))  # one choice per input: cheap to draw
            if drawn is not ABSENT:
                filing[spec.name] = (
                    (day + dt.timedelta(days=drawn)).isoformat() if spec.type == "date" else drawn
                )
    else:
        filing = compliant(policy, activity)
        if "licence_expires_on" in filing:  # still licensed on the day, whichever it is
            filing["licence_expires_on"] = (day + dt.timedelta(days=365)).isoformat()
        for _ in range(draw(CHANGES)):
            for spec in draw(shapes.changes[activity]):
                if draw(ONE_IN_FOUR):
                    filing.pop(spec.name, None)  # left out
                else:
                    filing[spec.name] = _draw_value(draw, policy, spec, day)
    if wild_values:
        for name in draw(shapes.names):
            filing[name] = draw(WILD)
    return filing, day
