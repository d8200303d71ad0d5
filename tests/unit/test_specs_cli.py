"""`hub policy test`: per-scenario lines, a summary, and an exit code that means it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from hub.specs import default_policies_dir
from hub.specs.cli import test as policy_test

# The command line here reads the policy folder alone (no database): see ``no_database``.
pytestmark = pytest.mark.usefixtures("no_database")

POLICY_2026 = default_policies_dir() / "astana-crypto-hub" / "2026.1.yaml"

SMALL_FEATURE = """\
Feature: small
  @v2026.1
  Scenario: the compliant-enough exchange
    Given an exchange "Steppe Exchange LLP" with BIN 940140000385
    And its clients are 95% identity-verified
    When the company is assessed
    Then criterion kyc_baseline is met
"""


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(policy_test, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def test_the_published_policies_pass() -> None:
    code, out = invoke("--failures-only")
    assert code == 0, out
    assert out.count("OK: ") == len(list(default_policies_dir().rglob("*.yaml")))
    assert "FAILED" not in out


def test_a_policy_copied_outside_the_repository_is_tested_and_printed(tmp_path: Path) -> None:
    copy = tmp_path / "copy.yaml"
    shutil.copy(POLICY_2026, copy)
    code, out = invoke("--policy", str(copy))
    assert code == 0, out
    assert "PASSED  astana-crypto-hub/" in out
    assert f"== {copy} (version 2026.1, scenarios tagged @v2026.1)" in out
    assert "0 failed" in out


def test_an_edited_threshold_fails_with_the_step_and_the_values(tmp_path: Path) -> None:
    draft = tmp_path / "draft.yaml"
    text = POLICY_2026.read_text(encoding="utf-8")
    edited = text.replace("kyc_baseline_min_pct: {value: 95,", "kyc_baseline_min_pct: {value: 96,")
    assert edited != text
    draft.write_text(edited, encoding="utf-8")
    code, out = invoke("--policy", str(draft), "--failures-only")
    assert code == 1
    assert "FAILED  astana-crypto-hub/clients_aml.feature" in out
    assert "step (line" in out and "Then criterion kyc_baseline is met" in out
    assert "values read {kyc_verified_clients_pct=95}" in out
    assert out.rstrip().splitlines()[-1].startswith("FAILED: ")


def test_another_features_folder(tmp_path: Path) -> None:
    (tmp_path / "small.feature").write_text(SMALL_FEATURE, encoding="utf-8")
    code, out = invoke("--policy", str(POLICY_2026), "--features", str(tmp_path))
    assert code == 0, out
    assert "OK: 1 passed, 0 failed, 0 skipped of 1 scenarios" in out


def test_no_scenario_for_the_version_is_a_failure(tmp_path: Path) -> None:
    (tmp_path / "small.feature").write_text(SMALL_FEATURE, encoding="utf-8")
    policy_2027 = default_policies_dir() / "astana-crypto-hub" / "2027.1.yaml"
    code, out = invoke("--policy", str(policy_2027), "--features", str(tmp_path))
    assert code == 1
    assert "no scenarios tagged @v2027.1" in out


def test_a_policy_that_does_not_load_is_an_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("id: [unclosed\n", encoding="utf-8")
    code, out = invoke("--policy", str(broken))
    assert code == 1
    assert f"ERROR {broken}" in out


def test_json_output(tmp_path: Path) -> None:
    (tmp_path / "small.feature").write_text(SMALL_FEATURE, encoding="utf-8")
    code, out = invoke("--policy", str(POLICY_2026), "--features", str(tmp_path), "--json")
    assert code == 0
    [report] = json.loads(out)
    assert report["policy"]["version"] == "2026.1"
    assert report["summary"]["passed"] == 1
    assert report["scenarios"][0]["status"] == "passed"


def test_registered_as_hub_policy_test() -> None:
    from hub.cli import main

    policy_group = main.commands.get("policy")  # type: ignore[attr-defined]
    if policy_group is None or "test" not in getattr(policy_group, "commands", {}):
        pytest.skip("`hub policy` has no `test` subcommand registered yet")
    result = CliRunner().invoke(main, ["policy", "test", "--help"])
    assert result.exit_code == 0
    assert "--policy" in result.output and "--features" in result.output


def test_boundaries_lists_each_side_no_scenario_decides_and_fails(tmp_path: Path) -> None:
    feature = tmp_path / "small.feature"
    feature.write_text(SMALL_FEATURE.replace("@v2026.1", "@v2026.1 @kyc_baseline"), "utf-8")
    args = ("--policy", str(POLICY_2026), "--features", str(feature))
    code, out = invoke(*args)
    assert code == 0, out  # the scenario passes: without --boundaries that is enough
    code, out = invoke(*args, "--boundaries")
    assert code == 1, out
    # 95% is on the boundary of kyc_baseline: below and above are missing
    assert "BOUNDARY kyc_baseline: kyc_verified_clients_pct ≥ 95: no scenario tagged " in out
    assert "@kyc_baseline decides a company below it" in out
    assert "@kyc_baseline decides a company above it" in out
    kyc = [line for line in out.splitlines() if line.startswith("BOUNDARY kyc_baseline:")]
    assert len(kyc) == 2 and not [line for line in kyc if line.endswith(" on it")], kyc
    code, out = invoke(*args, "--boundaries", "--json")
    gaps = json.loads(out)[0]["boundary_gaps"]
    assert any(g.startswith("kyc_complete: kyc_verified_clients_pct ≥ 100") for g in gaps)


def test_boundaries_of_the_published_features_are_all_specified() -> None:
    code, out = invoke("--failures-only", "--boundaries")
    assert code == 0, out
    assert "BOUNDARY" not in out
