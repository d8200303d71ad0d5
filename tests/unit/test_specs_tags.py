"""Gherkin tags: `hub policy test` and pytest-bdd (tests/bdd) accept the same files, or both
refuse them with the same message naming the file and line.

A tag is free text (`@owner:tax-office`, `@налог`, `@a.b`); pytest-bdd turns tags into pytest
markers, whose names are not. pytest runs in a subprocess on a features folder of its own
(`-o bdd_features_base_dir=...`), with the project's `--strict-markers`, as CI runs it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from hub.specs import SpecSuite, default_policies_dir, run_specs
from hub.specs.cli import test as policy_test
from hub.specs.runner import PYTEST_MARKERS

from .core_support import ROOT

# The command line here reads the policy folder alone (no database): see ``no_database``.
pytestmark = pytest.mark.usefixtures("no_database")

POLICY_2026 = default_policies_dir() / "astana-crypto-hub" / "2026.1.yaml"

# 3 scenarios pass, 3 are skipped; each skipped one would fail if it ran.
ODD_TAGS = """\
@owner:tax-office
Feature: Odd tags

  Background:
    Given a miner "Qazaq Hash LLP" with BIN 940140000385

  @v2026.1 @налог @a.b @x-y @weird(1) @_under @2026 @қ:ә.ү
  Scenario: a scenario under odd tags runs
    When the company is assessed
    Then criterion no_sanctions is missing

  @v2026.1 @wip
  Scenario: a work in progress is not run
    When the company is assessed
    Then criterion no_sanctions is met

  @v2026.1 @skip
  Scenario: a skipped scenario is not run
    When the company is assessed
    Then criterion no_sanctions is met

  @v2026.1 @browser @xfail @parametrize @postgres
  Scenario: tags named like pytest markers are plain tags
    When the company is assessed
    Then criterion no_sanctions is missing

  @v2026.1
  Scenario Outline: rows of an outline
    When the company is assessed
    Then criterion no_sanctions is <status>

    @wip
    Examples: not run
      | status |
      | met    |

    @kazakh.қ @dashed-tag
    Examples: run
      | status  |
      | missing |
"""

EXAMPLES_COLON_TAG = """\
Feature: An Examples block with a colon tag

  @v2026.1
  Scenario Outline: rows
    Given a miner "Qazaq Hash LLP" with BIN 940140000385
    When the company is assessed
    Then criterion no_sanctions is <status>

    @owner:tax-office
    Examples:
      | status  |
      | missing |
"""


def run_pytest(features: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    command = [sys.executable, "-m", "pytest", "tests/bdd", "-q", "-p", "no:cacheprovider"]
    return subprocess.run(
        [*command, "-o", f"bdd_features_base_dir={features}", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def hub_policy_test(features: Path) -> tuple[int, str]:
    result = CliRunner().invoke(
        policy_test, ["--policy", str(POLICY_2026), "--features", str(features)]
    )
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def features_dir(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "features"
    folder.mkdir()
    (folder / "odd.feature").write_text(text, encoding="utf-8")
    return folder


def test_both_runners_run_odd_tags_alike(tmp_path: Path) -> None:
    folder = features_dir(tmp_path, ODD_TAGS)
    code, out = hub_policy_test(folder)
    assert code == 0, out
    assert "OK: 3 passed, 0 failed, 3 skipped of 6 scenarios" in out

    ran = run_pytest(folder, "-m", "not browser")  # what CI runs: @browser is only a tag here
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "3 passed, 3 skipped" in ran.stdout.splitlines()[-1], ran.stdout

    # Each tag is a marker (characters a marker cannot hold become '_', pytest's own names
    # get 'tag_'), so -m selects by tag.
    chosen = run_pytest(folder, "-m", "owner_tax-office and налог and not tag_browser", "-rA")
    assert chosen.returncode == 0, chosen.stdout + chosen.stderr
    assert "1 passed, 5 deselected" in chosen.stdout.splitlines()[-1], chosen.stdout
    assert "a_scenario_under_odd_tags_runs" in chosen.stdout


def test_both_runners_refuse_an_examples_tag_pytest_cannot_apply(tmp_path: Path) -> None:
    folder = features_dir(tmp_path, EXAMPLES_COLON_TAG)
    message = "odd.feature: (9:5): tag @owner:tax-office on an Examples block"

    code, out = hub_policy_test(folder)
    assert code == 1 and message in out, out

    ran = run_pytest(folder)
    assert ran.returncode == 4, ran.stdout + ran.stderr  # a usage error, before collecting
    assert message in ran.stderr, ran.stderr


def test_the_studio_runner_reads_tags_by_the_same_rules() -> None:
    # The studio runs a draft's scenarios from text, through the same SpecSuite.
    report = run_specs(POLICY_2026, [("draft.feature", ODD_TAGS)])
    assert (report.passed, report.skipped, report.failed, report.errors) == (3, 3, 0, [])
    refused = SpecSuite.from_texts([("draft.feature", EXAMPLES_COLON_TAG)])
    assert refused.scenarios == []
    assert refused.errors[0].startswith("draft.feature: (9:5): tag @owner:tax-office")


def test_the_repository_features_have_no_examples_tag_pytest_refuses() -> None:
    assert SpecSuite.from_path(ROOT / "features").errors == []


# "@tag_skip" and "@tag:skip" once became the marker "tag_skip", which is @skip's: pytest
# skipped (and passed) what hub policy test ran and failed.
LOOKALIKE_SKIP = """\
@v2026.1
Feature: Tags that look like a renamed @skip are run

  @tag_skip
  Scenario: tagged tag_skip
    Given a miner "Qazaq Hash LLP" with BIN 940140000385
    When the company is assessed
    Then criterion no_sanctions is met

  @tag:skip
  Scenario: tagged tag:skip
    Given a miner "Qazaq Hash LLP" with BIN 940140000385
    When the company is assessed
    Then criterion no_sanctions is met
"""


def test_a_tag_that_looks_like_a_renamed_skip_runs_under_both_runners(tmp_path: Path) -> None:
    folder = features_dir(tmp_path, LOOKALIKE_SKIP)
    code, out = hub_policy_test(folder)
    assert code == 1 and "FAILED: 0 passed, 2 failed, 0 skipped of 2 scenarios" in out, out
    ran = run_pytest(folder)
    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert "2 failed" in ran.stdout.splitlines()[-1], ran.stdout


def test_examples_tags_pytest_reads_otherwise_are_refused_by_both_runners(tmp_path: Path) -> None:
    for tag in ("@tag_skip", "@slow", "@xdist_group"):
        text = EXAMPLES_COLON_TAG.replace("@owner:tax-office", tag)
        refused = SpecSuite.from_texts([("odd.feature", text)])
        assert refused.errors and refused.errors[0].startswith(f"odd.feature: (9:5): tag {tag}")
    folder = features_dir(tmp_path, EXAMPLES_COLON_TAG.replace("@owner:tax-office", "@tag_skip"))
    message = "odd.feature: (9:5): tag @tag_skip on an Examples block"
    code, out = hub_policy_test(folder)
    assert code == 1 and message in out, out
    ran = run_pytest(folder)
    assert ran.returncode == 4 and message in ran.stderr, ran.stdout + ran.stderr


def test_every_marker_pytest_knows_is_refused_on_an_examples_block(
    pytestconfig: pytest.Config,
) -> None:
    """Markers registered by pytest, its plugins and pyproject.toml (not the feature tags):
    each would change how pytest runs the rows; only @skip means the same to both."""
    names = {
        line.split(":", 1)[0].split("(", 1)[0].strip()
        for line in pytestconfig.getini("markers")
        if "Gherkin tag @" not in line
    }
    assert names - PYTEST_MARKERS == {"skip"}
