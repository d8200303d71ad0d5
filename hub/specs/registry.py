"""A tiny step registry: regex patterns bound to plain functions of a context.

Why not pytest-bdd's own registry: its step definitions are pytest fixtures, so
they only run inside pytest. The policy studio and `hub policy test` must run
the same steps on a draft in-process, many times a second. So the steps live
here once, as plain functions, and tests/bdd binds each of them to pytest-bdd
with the same regex (pytest-bdd's ``parsers.re`` uses ``fullmatch`` as we do).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

Converter = Callable[[str], Any]
StepFunc = Callable[..., None]
DataTable = list[list[str]]


class StepDefinitionError(Exception):
    """A step text matches no definition, or more than one."""


@dataclass(frozen=True)
class StepDef:
    """One step definition: ``pattern`` is a regex with named groups."""

    pattern: str
    func: StepFunc
    converters: Mapping[str, Converter] = field(default_factory=dict)
    takes_datatable: bool = False

    @property
    def regex(self) -> re.Pattern[str]:
        return _compiled(self.pattern)

    @property
    def arg_names(self) -> tuple[str, ...]:
        return tuple(self.regex.groupindex)

    def match(self, text: str) -> dict[str, str] | None:
        m = self.regex.fullmatch(text)
        return None if m is None else m.groupdict()

    def call(
        self, ctx: Any, raw_args: Mapping[str, str | None], datatable: DataTable | None = None
    ) -> None:
        """Convert the captured strings and run the step (the one path for both runners)."""
        kwargs: dict[str, Any] = {}
        for name, value in raw_args.items():
            conv = self.converters.get(name)
            kwargs[name] = conv(value) if conv is not None and value is not None else value
        if self.takes_datatable:
            kwargs["datatable"] = datatable
        self.func(ctx, **kwargs)


_CACHE: dict[str, re.Pattern[str]] = {}


def _compiled(pattern: str) -> re.Pattern[str]:
    rx = _CACHE.get(pattern)
    if rx is None:
        rx = _CACHE[pattern] = re.compile(pattern)
    return rx


class StepRegistry:
    """Ordered step definitions with a lookup cache keyed by step text."""

    def __init__(self) -> None:
        self.steps: list[StepDef] = []
        self._lookup: dict[str, tuple[StepDef, dict[str, str]]] = {}

    def step(
        self, pattern: str, *, datatable: bool = False, **converters: Converter
    ) -> Callable[[StepFunc], StepFunc]:
        """Decorator: register ``func(ctx, **named_groups)`` for texts matching ``pattern``."""

        def decorator(func: StepFunc) -> StepFunc:
            self.add(pattern, func, datatable=datatable, **converters)
            return func

        return decorator

    def add(
        self, pattern: str, func: StepFunc, *, datatable: bool = False, **converters: Converter
    ) -> StepDef:
        sd = StepDef(pattern, func, dict(converters), datatable)
        unknown = set(converters) - set(sd.arg_names)
        if unknown:
            raise ValueError(f"converters for unknown groups {sorted(unknown)} in {pattern!r}")
        self.steps.append(sd)
        self._lookup.clear()
        return sd

    def find(self, text: str) -> tuple[StepDef, dict[str, str]]:
        """The one definition matching ``text``; undefined and ambiguous steps are errors."""
        hit = self._lookup.get(text)
        if hit is not None:
            return hit
        found = [(sd, args) for sd in self.steps if (args := sd.match(text)) is not None]
        if not found:
            raise StepDefinitionError(f"no step definition matches {text!r}")
        if len(found) > 1:
            pats = ", ".join(repr(sd.pattern) for sd, _ in found)
            raise StepDefinitionError(f"step {text!r} matches several definitions: {pats}")
        self._lookup[text] = found[0]
        return found[0]

    def run(self, ctx: Any, text: str, datatable: DataTable | None = None) -> None:
        sd, args = self.find(text)
        sd.call(ctx, args, datatable)
