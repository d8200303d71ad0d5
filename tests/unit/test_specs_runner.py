"""The in-process spec runner on a tiny policy: what the studio and the CLI rely on."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from hub.policy import PolicyError
from hub.specs import (
    SpecSuite,
    StepDefinitionError,
    StepRegistry,
    as_policy,
    compile_feature,
    run_specs,
)

TINY = """\
id: tiny
version: "2030.1"
title: Tiny test policy
effective_from: 2030-01-01
applicability_input: activity
inputs:
  bin: {type: string, format: bin, required: true, label: BIN}
  legal_name: {type: string, required: true, min_length: 1, max_length: 200, label: Name}
  activity:
    type: enum
    required: true
    label: Activity
    choices: {exchange: Exchange, mining: Mining}
  kyc_verified_clients_pct: {type: number, min: 0, max: 100, unit: "%", label: KYC}
  qualifying_profit_kzt: {type: number, min: 0, saving: true, label: Profit}
parameters:
  min_kyc_pct: {value: 50, unit: "%"}
  tax_rate: {value: 0.2, unit: rate}
tiers:
  - {id: T1, title: Registered}
criteria:
  - id: kyc_baseline
    title: KYC
    tier: T1
    applies_to: [exchange]
    condition: kyc_verified_clients_pct >= min_kyc_pct
    citation: Tiny Rule 1
benefits:
  - id: cit_exemption
    title: Tax break
    requires: tier >= T1
    standard_rate: tax_rate
    saving: tax_rate * qualifying_profit_kzt
    citation: Tiny Rule 2
"""

FEATURE = """\
Feature: Tiny
  Background:
    Given an exchange "Tiny LLP" with BIN 940140000385

  @kyc_baseline @v2030.1
  Scenario Outline: the baseline
    Given its clients are <pct>% identity-verified
    When the company is assessed
    Then criterion kyc_baseline is <status>

    Examples:
      | pct  | status  |
      | 49.9 | not met |
      | 50   | met     |

  @cit_exemption @v2030.1
  Scenario: the saving
    Given its clients are 60% identity-verified
    And its qualifying profit is 1,000 KZT a year
    When the company is assessed
    Then it reaches tier T1
    And the estimated annual saving from cit_exemption is 200 KZT

  @kyc_baseline @v2030.1
  Scenario: a wrong expectation
    Given its clients are 40% identity-verified
    When the company is assessed
    Then criterion kyc_baseline is met
    And it reaches tier T1

  @v1999.1
  Scenario: another version's scenario
    When the company is assessed
    Then it reaches no tier
"""


def run(features: str = FEATURE, policy: str = TINY, **kw: object) -> object:
    return run_specs(policy, [("tiny.feature", features)], catalogue=(), **kw)


def test_a_policy_text_runs_against_feature_texts_of_its_version() -> None:
    report = run()
    assert report.policy_version == "2030.1" and report.tag == "@v2030.1"
    assert [(r.name, r.status) for r in report.scenarios] == [
        ("the baseline [pct=49.9, status=not met]", "passed"),
        ("the baseline [pct=50, status=met]", "passed"),
        ("the saving", "passed"),
        ("a wrong expectation", "failed"),
    ]
    assert report.summary()["passed"] == 3 and report.summary()["failed"] == 1
    assert not report.ok


def test_a_failure_names_the_step_its_line_and_the_values() -> None:
    failed = next(r for r in run().scenarios if r.status == "failed")
    assert failed.failing_step == "Then criterion kyc_baseline is met"
    assert failed.failing_line == 28 and failed.uri == "tiny.feature"
    assert "expected met, got not_met" in failed.message
    assert "kyc_verified_clients_pct=40" in failed.message
    assert "@kyc_baseline" in failed.tags


def test_a_changed_threshold_fails_and_fail_fast_stops_at_the_first_failure() -> None:
    harder = TINY.replace("value: 50,", "value: 51,")
    report = run(policy=harder, fail_fast=True)
    assert [r.status for r in report.scenarios] == ["passed", "failed"]


def test_preferred_tags_run_first() -> None:
    report = run(prefer={"cit_exemption"})
    assert report.scenarios[0].name == "the saving"


def test_an_empty_selection_is_not_a_pass() -> None:
    report = run(tag="@v1888.1")
    assert report.scenarios == [] and not report.ok


def test_undefined_steps_and_crashing_steps_fail_the_scenario_only() -> None:
    text = """\
Feature: odd
  @v2030.1
  Scenario: undefined
    Given the moon is full
    When the company is assessed
    Then it reaches no tier

  @v2030.1
  Scenario: no decision yet
    Then it reaches no tier

  @v2030.1 @skip
  Scenario: skipped
    Then it reaches no tier
"""
    report = run(features=text)
    statuses = {r.name: (r.status, r.message) for r in report.scenarios}
    assert statuses["undefined"][0] == "failed"
    assert "no step definition matches 'the moon is full'" in statuses["undefined"][1]
    assert statuses["no decision yet"][0] == "failed"
    assert statuses["skipped"] == ("skipped", None)


def test_an_unparsable_feature_is_reported_not_raised() -> None:
    report = run(features="Feature: broken\n  Scenario: x\n    Given a\n    nonsense\n")
    assert report.errors and "tiny.feature" in report.errors[0]
    assert not report.ok


def test_a_filing_rejected_by_validation_is_visible_to_then_steps() -> None:
    text = """\
Feature: validation
  @v2030.1
  Scenario: a bad BIN
    Given an exchange "Tiny LLP" with BIN 940140000386
    When the company is assessed
    Then the filing is rejected with an error on bin
"""
    assert run(features=text).ok


def test_policies_come_from_paths_anywhere_or_from_text(tmp_path: Path) -> None:
    f = tmp_path / "draft.yaml"
    f.write_text(TINY, encoding="utf-8")
    assert as_policy(f).version == "2030.1"
    assert as_policy(str(f)).version == "2030.1"
    assert as_policy(TINY).version == "2030.1"
    with pytest.raises(PolicyError):
        as_policy(str(tmp_path / "nope.yaml"))
    with pytest.raises(PolicyError):
        as_policy(TINY.replace("tier: T1\n    applies_to", "tier: T9\n    applies_to"))


def test_features_come_from_a_folder(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "tiny.feature").write_text(FEATURE, encoding="utf-8")
    report = run_specs(TINY, tmp_path, catalogue=())
    assert {r.uri for r in report.scenarios} == {"sub/tiny.feature"}
    assert len(SpecSuite.from_path(tmp_path).scenarios) == 5


def test_outline_rows_become_named_scenarios_with_tags_per_examples() -> None:
    text = """\
Feature: f
  @a
  Scenario Outline: s
    Given x <n>
    Then y

    @v1
    Examples: one
      | n |
      | 1 |

    @v2
    Examples: two
      | n |
      | 2 |
"""
    scs = compile_feature("f.feature", text)
    assert [(s.name, s.tags) for s in scs] == [
        ("s [n=1]", ("@a", "@v1")),
        ("s [n=2]", ("@a", "@v2")),
    ]
    assert [st.kind for st in scs[0].steps] == ["Context", "Outcome"]


def test_the_registry_converts_arguments_and_refuses_ambiguity() -> None:
    reg = StepRegistry()
    seen: list[object] = []
    reg.add(r"(?P<n>\d+) apples", lambda ctx, n: seen.append(n), n=int)
    reg.add(r"(?P<what>\w+) pears", lambda ctx, what: seen.append(what))
    reg.run(None, "12 apples")
    assert seen == [12]
    reg.add(r"\d+ (?P<what>\w+)", lambda ctx, what: None)
    with pytest.raises(StepDefinitionError, match="several definitions"):
        reg.find("12 apples")
    with pytest.raises(StepDefinitionError, match="no step definition"):
        reg.find("bananas")
    with pytest.raises(ValueError, match=re.escape("['m']")):
        reg.add(r"(?P<n>\d+)", lambda ctx, n: None, m=int)


RETIRED = """\
Feature: a retired version
  @v2026.1
  Scenario: after 2027.1 is retired from 2027-03-01, 2026.1 applies again
    Given an exchange "Steppe Exchange LLP" with BIN 940140000385
    When it is assessed on 2027-03-05
    Then the decision is made under version 2026.1
"""


def test_date_selection_honours_the_catalogues_retirements() -> None:
    from hub.policy import PolicyRegistry
    from tests.unit.core_support import P2026, P2027

    suite = SpecSuite.from_texts([("retired.feature", RETIRED)])
    retired = PolicyRegistry([P2026, P2027], retired={(P2027.id, "2027.1"): date(2027, 3, 1)})
    assert suite.run(P2026, catalogue=retired).ok
    assert not suite.run(P2026, catalogue=[P2026, P2027]).ok  # a list has no retirements
