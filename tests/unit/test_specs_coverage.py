"""The specs cover the policy: every criterion and benefit of every policy file
has a scenario, every scenario runs for a version, and nothing in features/ is
silently ignored (pytest-bdd drops duplicate scenario names and turns a
misspelt step keyword under a title into description text)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from gherkin.parser import Parser
from pytest_bdd.parser import FeatureParser

from hub.policy import Policy, load_policy
from hub.specs import (
    SpecSuite,
    StepDefinitionError,
    default_features_dir,
    default_policies_dir,
    version_tag,
)
from hub.specs.steps import REGISTRY

FEATURES = default_features_dir()
POLICY_FILES = sorted(default_policies_dir().rglob("*.yaml"))
FEATURE_FILES = sorted(FEATURES.rglob("*.feature"))
# Tags that name a theme rather than a criterion, benefit or version.
THEME_TAGS = {"@versions", "@validation", "@skip", "@wip"}


@pytest.fixture(scope="module")
def suite() -> SpecSuite:
    return SpecSuite.from_path(FEATURES)


@pytest.fixture(scope="module")
def policies() -> list[Policy]:
    return [load_policy(f) for f in POLICY_FILES]


def test_there_is_something_to_check() -> None:
    assert POLICY_FILES, f"no policy files under {default_policies_dir()}"
    assert FEATURE_FILES, f"no feature files under {FEATURES}"


def test_the_features_parse(suite: SpecSuite) -> None:
    assert not suite.errors


@pytest.mark.parametrize("path", POLICY_FILES, ids=lambda p: p.name)
def test_every_criterion_and_benefit_has_a_scenario_of_its_version(
    path: Path, suite: SpecSuite
) -> None:
    policy = load_policy(path)
    vtag = version_tag(policy.version)
    tagged = {t for sc in suite.select(vtag) for t in sc.tags}
    ids = [c.id for c in policy.criteria] + [b.id for b in policy.benefits]
    uncovered = [i for i in ids if f"@{i}" not in tagged]
    assert not uncovered, f"{path.name}: no scenario tagged {vtag} exercises {uncovered}"


def test_every_scenario_runs_for_a_version_that_has_a_policy_file(
    suite: SpecSuite, policies: list[Policy]
) -> None:
    known = {version_tag(p.version) for p in policies}
    unversioned = [f"{s.uri}:{s.line} {s.name}" for s in suite.scenarios if not known & set(s.tags)]
    assert not unversioned, f"scenarios with no version tag among {sorted(known)}: {unversioned}"


def test_every_tag_means_something(suite: SpecSuite, policies: list[Policy]) -> None:
    """A misspelt tag (@kyc_basline) would leave a criterion looking covered by nothing."""
    allowed = set(THEME_TAGS)
    for p in policies:
        allowed |= {version_tag(p.version)}
        allowed |= {f"@{c.id}" for c in p.criteria} | {f"@{b.id}" for b in p.benefits}
    unknown = sorted(suite.tags - allowed)
    assert not unknown, f"tags that are no criterion, benefit, version or theme: {unknown}"


def test_every_step_matches_exactly_one_definition(suite: SpecSuite) -> None:
    problems = set()
    for sc in suite.scenarios:
        for st in sc.steps:
            try:
                REGISTRY.find(st.text)
            except StepDefinitionError as exc:
                problems.add(f"{sc.uri}:{st.line}: {exc}")
    assert not problems, "\n".join(sorted(problems))


def test_every_scenario_acts_and_checks(suite: SpecSuite) -> None:
    """A scenario without a When or a Then asserts nothing about the policy."""
    idle = [
        f"{sc.uri}:{sc.line} {sc.name}"
        for sc in suite.scenarios
        if not {"Action", "Outcome"} <= {st.kind for st in sc.steps}
    ]
    assert not idle, f"scenarios without a When and a Then: {idle}"


def _blocks(node: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for child in node.get("children", []):
        for kind in ("background", "scenario", "rule"):
            if child.get(kind):
                out.append((kind, child[kind]))
                if kind == "rule":
                    out.extend(_blocks(child[kind]))
                for ex in child[kind].get("examples", []):
                    out.append(("examples", ex))
    return out


@pytest.mark.parametrize("path", FEATURE_FILES, ids=lambda p: p.name)
def test_scenario_names_are_unique_and_seen_by_pytest_bdd(path: Path) -> None:
    doc = Parser().parse(path.read_text(encoding="utf-8"))
    names = [b["name"] for kind, b in _blocks(doc["feature"]) if kind == "scenario"]
    dupes = sorted({n for n in names if names.count(n) > 1})
    assert not dupes, f"{path.name}: duplicate scenario names (pytest-bdd keeps one): {dupes}"
    feature = FeatureParser(str(path.parent), path.name).parse()
    assert len(feature.scenarios) == len(names)


@pytest.mark.parametrize("path", FEATURE_FILES, ids=lambda p: p.name)
def test_no_step_hides_in_a_description(path: Path) -> None:
    """Below a Scenario, Background, Rule or Examples title any prose is suspect: a step
    whose keyword is misspelt lands there and never runs."""
    doc = Parser().parse(path.read_text(encoding="utf-8"))
    found = [
        f"{kind} {block.get('name')!r}: {block['description'].strip()!r}"
        for kind, block in _blocks(doc["feature"])
        if block.get("description", "").strip()
    ]
    assert not found, f"{path.name}: text that is not a step: {found}"
    keywords = ("Given ", "When ", "Then ", "And ", "But ", "* ")
    for line in doc["feature"].get("description", "").splitlines():
        assert not line.strip().startswith(keywords), f"{path.name}: step in description: {line}"
