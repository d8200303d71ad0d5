"""The specs cover the policy: every criterion and benefit of every policy file
has a scenario, every comparison in their conditions and requirements has
deciding scenarios below, on and above its boundary (hub/specs/boundaries.py),
every scenario runs for a version, and nothing in features/ is silently ignored
(pytest-bdd drops duplicate scenario names and turns a misspelt step keyword
under a title into description text)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from gherkin.parser import Parser
from pytest_bdd.parser import FeatureParser

from hub.policy import Policy, load_policy, load_policy_text
from hub.specs import (
    SpecSuite,
    StepDefinitionError,
    default_features_dir,
    default_policies_dir,
    load_catalogue,
    version_tag,
)
from hub.specs.boundaries import BoundaryCoverage
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


# --- boundaries ------------------------------------------------------------------------


#: (benefit, comparison) -> the sides no company can be decided on, as
#: BoundaryCoverage.reachable derives them, with the reason. Everything else must be reached.
UNREACHABLE = {
    # a miner at T2 that meets renewable_energy, its only T3 criterion, is at T3
    ("mining_fee_reduction", "tier ≥ T2"): ("on",),
    # met(renewable_energy) never holds for another activity: it applies to miners only
    ("mining_fee_reduction", "activity = mining"): ("different",),
}


@pytest.mark.parametrize("path", POLICY_FILES, ids=lambda p: p.name)
def test_every_comparison_has_scenarios_below_on_and_above_its_boundary(
    path: Path, suite: SpecSuite
) -> None:
    """Each comparison of each specialised condition and requirement: some scenario tagged
    with its criterion or benefit decides a company below, on and above the boundary."""
    policy = load_policy(path)
    coverage = BoundaryCoverage(policy)
    run = suite.run(policy, catalogue=load_catalogue(), observe=coverage.observe)
    assert run.ok, run.summary()
    assert coverage.comparisons, f"{path.name}: no comparisons found"
    missing = [
        f"{cmp.label}: no scenario tagged @{cmp.subject} decides a company {side} it"
        for cmp, sides in coverage.gaps()
        for side in sides
    ]
    assert not missing, f"{path.name}: boundaries without a deciding scenario:\n" + "\n".join(
        missing
    )
    unreachable = {
        (c.subject, c.text): c.unreachable for c in coverage.comparisons.values() if c.unreachable
    }
    assert unreachable == UNREACHABLE


def test_a_requirement_side_is_unreachable_only_when_no_company_can_sit_there() -> None:
    text = POLICY_FILES[0].read_text(encoding="utf-8")
    draft = text.replace(
        "requires: tier >= T3\n", "requires: tier >= T2 and met(independent_board)\n"
    )
    assert draft != text
    cov = BoundaryCoverage(load_policy_text(draft, source="draft.yaml"))
    found = {(c.subject, c.text): c for c in cov.comparisons.values()}
    # an exchange at T2 with an independent board (and too little in cold storage for T3)
    assert found[("dividend_exemption", "tier ≥ T2")].sides == ("below", "on", "above")
    assert found[("dividend_exemption", "tier ≥ T2")].unreachable == ()
    assert found[("mining_fee_reduction", "tier ≥ T2")].unreachable == ("on",)


MINI_FEATURE = """\
Feature: boundaries of kyc_baseline and travel_rule
  Background:
    Given an exchange "Steppe Exchange LLP" with BIN 940140000385

  @kyc_baseline @v2026.1
  Scenario Outline: kyc at the baseline
    Given its clients are <pct>% identity-verified
    When the company is assessed
    Then criterion kyc_baseline is <status>

    Examples:
      | pct  | status  |
      | 94.9 | not met |
      | 95   | met     |

  @v2026.1 @kyc_complete
  Scenario: an untagged scenario above the baseline
    Given its clients are 100% identity-verified
    When the company is assessed
    Then criterion kyc_baseline is met

  @travel_rule @v2026.1
  Scenario: on one boundary, but the other comparison decides
    Given 99% of its transfers carry complete originator and beneficiary data
    And it applies the travel rule from USD 3,000
    When the company is assessed
    Then criterion travel_rule is not met
"""


def _reached(cov: BoundaryCoverage, subject: str) -> dict[str, set[str]]:
    return {
        cov.comparisons[k].text: set(sides) for k, sides in cov.reached.items() if k[0] == subject
    }


def test_boundary_coverage_counts_deciding_tagged_scenarios_only() -> None:
    policy = load_policy(POLICY_FILES[0])
    cov = BoundaryCoverage(policy)
    run = SpecSuite.from_texts([("mini.feature", MINI_FEATURE)]).run(policy, observe=cov.observe)
    assert run.ok, run.to_dict()
    assert _reached(cov, "kyc_baseline") == {"kyc_verified_clients_pct ≥ 95": {"below", "on"}}
    gaps = {c.text: sides for c, sides in cov.gaps() if c.subject == "kyc_baseline"}
    assert gaps == {"kyc_verified_clients_pct ≥ 95": ("above",)}  # 100% was not tagged so
    # at 99% on the share but USD 3,000 above the travel-rule threshold, only the threshold
    # decides: the share's boundary is not reached
    assert _reached(cov, "travel_rule") == {
        "travel_rule_compliant_pct ≥ 99": set(),
        "travel_rule_threshold_usd ≤ 1,000": {"above"},
    }
    assert _reached(cov, "kyc_complete") == {"kyc_verified_clients_pct ≥ 100": {"on"}}


def test_boundary_sides_follow_the_domain_of_the_input() -> None:
    text = POLICY_FILES[0].read_text(encoding="utf-8")
    draft = text.replace("min_fte_in_zone: {value: 3,", "min_fte_in_zone: {value: 2.5,")
    cov = BoundaryCoverage(load_policy_text(draft, source="draft.yaml"))
    sides = {(c.subject, c.text): c.sides for c in cov.comparisons.values()}
    assert sides[("kyc_complete", "kyc_verified_clients_pct ≥ 100")] == ("below", "on")
    assert sides[("no_tax_arrears", "tax_arrears_kzt ≤ 0")] == ("on", "above")
    assert sides[("local_staff", "fte_in_zone ≥ 2.5")] == ("below", "above")  # an integer
    assert sides[("staff_as_declared", "fte_in_zone ≥ 0.8 × fte_declared")] == (
        "below",
        "on",
        "above",
    )
    assert sides[("property_land_tax", "tier ≥ T1")] == ("below", "on", "above")
    assert sides[("dividend_exemption", "tier ≥ T3")] == ("below", "on")  # no tier above T3
    assert sides[("no_sanctions", "sanctions_screening_hit = false")] == ("equal", "different")
    assert sides[
        ("key_officers", "officers_appointed contains all of SEO, FO, CO, MLRO, CITO")
    ] == (
        "all",
        "not all",
    )
    # one comparison per compiled rule: each licence's expiry is checked by its own rule
    expiry = [c.label for c in cov.comparisons.values() if c.text == "licence_expires_on ≥ as_of"]
    assert len(expiry) == 3, expiry
