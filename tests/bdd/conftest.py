"""Bind the hub's spec steps (hub.specs.steps) to pytest-bdd, thinly.

The steps are written once as plain functions of a SpecContext; here each one
becomes a pytest-bdd step with the same regex. Every scenario runs once per
policy version it is tagged with (@v2026.1, @v2027.1), against that version's
file in policies/; the other combinations are deselected.

Gherkin tags become pytest markers. A tag is free text (``@owner:tax-office``,
``@налог``) but a marker name is not, so every tag is given a marker name
(:func:`marker_name`): characters other than letters, digits, ``.`` and ``-``
become ``_``, and a name that already means something to pytest (``skip``,
``xfail``, ``browser``, ...) or starts with ``tag_`` gets the prefix ``tag_``. ``pytest -m
owner_tax-office`` selects the scenarios tagged ``@owner:tax-office``. ``@skip``
and ``@wip`` skip, as in ``hub policy test``. A feature ``hub policy test``
refuses (a syntax error, an Examples tag pytest-bdd cannot apply) stops this
run with the same message.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from pytest_bdd import parsers, step

from hub.policy import Policy
from hub.specs import (
    SKIP_TAGS,
    SpecSuite,
    default_features_dir,
    default_policies_dir,
    load_catalogue,
)
from hub.specs.context import SpecContext
from hub.specs.registry import StepDef
from hub.specs.steps import REGISTRY

VERSION_PREFIX = "v"


# Marker names pytest (and this project) gave a meaning before the feature tags came in.
_RESERVED: set[str] = set()


@cache
def feature_tags(features_dir: Path) -> frozenset[str]:
    """Every tag used in the features pytest-bdd reads, without the '@'.

    Raises pytest.UsageError with the runner's messages ("file: (line:column): ...")
    when a feature is one ``hub policy test`` refuses.
    """
    suite = SpecSuite.from_path(features_dir)
    if suite.errors:
        raise pytest.UsageError(
            "features that hub policy test refuses too:\n" + "\n".join(suite.errors)
        )
    return frozenset(t.lstrip("@") for t in suite.tags)


def marker_name(tag: str) -> str:
    """The pytest marker of a Gherkin tag (given without its '@'): owner:tax-office ->
    owner_tax-office, skip -> tag_skip; v2026.1 and налог stay as they are.

    Names that start with ``tag_`` are renamed too (tag_skip -> tag_tag_skip, tag:skip ->
    tag_tag_skip): ``tag_skip`` is the marker of ``@skip`` alone, so no other tag can make
    pytest skip a scenario that ``hub policy test`` runs."""
    name = re.sub(r"[^\w.-]", "_", tag)
    if not name or name.startswith(("_", "tag_")) or name in _RESERVED:
        name = f"tag_{name}"
    return name


def bdd_features_dir(config: pytest.Config) -> Path:
    """The folder pytest-bdd binds (bdd_features_base_dir), else the repository's features/."""
    base = config.getini("bdd_features_base_dir")
    return (config.rootpath / base) if base else default_features_dir()


@cache
def catalogue() -> tuple[Policy, ...]:
    return tuple(load_catalogue(default_policies_dir()))


def spec_versions(config: pytest.Config) -> list[str]:
    """The versions the features are tagged for (a tag without a policy file fails its tests)."""
    tags = feature_tags(bdd_features_dir(config))
    return sorted(t[1:] for t in tags if t.startswith(VERSION_PREFIX) and t[1:2].isdigit())


@pytest.hookimpl(trylast=True)  # after the plugins have registered their markers
def pytest_configure(config: pytest.Config) -> None:
    """Register every feature tag's marker: --strict-markers would reject them otherwise."""
    _RESERVED.update(
        line.split(":", 1)[0].split("(", 1)[0].strip() for line in config.getini("markers")
    )
    for tag in sorted(feature_tags(bdd_features_dir(config))):
        config.addinivalue_line("markers", f"{marker_name(tag)}: Gherkin tag @{tag}")


def pytest_bdd_apply_tag(tag: str, function: Callable[..., object]) -> object:
    """Mark a scenario with its tag's marker (pytest-bdd would use the tag as the name)."""
    getattr(pytest.mark, marker_name(tag))(function)
    return True


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run each pytest-bdd scenario once per version; the collection hook drops untagged pairs."""
    if "_pytest_bdd_example" in metafunc.fixturenames and "spec_version" in metafunc.fixturenames:
        versions = spec_versions(metafunc.config)
        metafunc.parametrize("spec_version", versions, ids=[f"v{v}" for v in versions])


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Drop the scenario/version pairs the scenario is not tagged for; skip @skip and @wip."""
    # An Examples tag keeps its own name (pytest-bdd applies it directly); others are renamed.
    skip_markers = {n for t in SKIP_TAGS for n in (t[1:], marker_name(t[1:]))}
    keep, drop = [], []
    for item in items:
        skipped_by = next((m for m in skip_markers if item.get_closest_marker(m)), None)
        if skipped_by is not None:
            item.add_marker(pytest.mark.skip(reason=f"tagged {skipped_by}"))
        callspec = getattr(item, "callspec", None)
        version = callspec.params.get("spec_version") if callspec else None
        marker = marker_name(f"{VERSION_PREFIX}{version}")
        if version is None or item.get_closest_marker(marker) is not None:
            keep.append(item)
        else:
            drop.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture
def spec_version(request: pytest.FixtureRequest) -> str | None:
    """The version a scenario runs for; None for a plain test that lives in this folder."""
    param = getattr(request, "param", None)
    return None if param is None else str(param)


@pytest.fixture(autouse=True)
def spec_ctx(spec_version: str | None) -> SpecContext | None:
    """A fresh scenario context with the tagged version as the policy under test.

    Autouse so that pytest_generate_tests sees ``spec_version`` in every scenario.
    """
    if spec_version is None:
        return None
    for p in catalogue():
        if p.version == spec_version:
            return SpecContext(policy=p, catalogue=catalogue())
    pytest.fail(f"no policy file of version {spec_version} in {default_policies_dir()}")


def _bind(sd: StepDef) -> Callable[..., None]:
    """A pytest-bdd step function whose signature names the regex groups (pytest-bdd reads it)."""

    def run(spec_ctx: SpecContext, **kwargs: Any) -> None:
        datatable = kwargs.pop("datatable", None)
        sd.call(spec_ctx, kwargs, datatable)

    params = [inspect.Parameter("spec_ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    params += [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None)
        for name in sd.arg_names
    ]
    if sd.takes_datatable:
        params.append(inspect.Parameter("datatable", inspect.Parameter.KEYWORD_ONLY, default=None))
    run.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    run.__name__ = getattr(sd.func, "__name__", "step")
    run.__doc__ = sd.func.__doc__
    return run


for _sd in REGISTRY.steps:
    step(parsers.re(_sd.pattern), stacklevel=1)(_bind(_sd))
