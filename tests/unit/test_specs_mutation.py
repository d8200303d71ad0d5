"""Sensitivity: moving any threshold or rate of a policy file must make its specs fail.

Each numeric parameter of every file in policies/ is nudged one at a time,
towards easier and towards harder (95 -> 94 and 96, 0.8 -> 0.7/0.76/0.84/0.9,
50,000,000 -> 49,000,000/49,999,999/50,000,001/51,000,000, 0.20 -> 0.19/0.21,
...), and every mutant must fail `run_specs`: a spec suite that still passes
has not pinned that number down.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from hub.policy import Policy, PolicyError, load_policy_text
from hub.specs import SpecSuite, default_features_dir, default_policies_dir, load_catalogue
from hub.specs.mutation import (
    nudges,
    numeric_parameters,
    structural_mutants,
    threshold_mutants,
)

POLICY_FILES = sorted(default_policies_dir().rglob("*.yaml"))
BUDGET_SECONDS = 60.0  # for all files together; measured about 13 s on 2 cores


@pytest.fixture(scope="module")
def suite() -> SpecSuite:
    return SpecSuite.from_path(default_features_dir())


@pytest.fixture(scope="module")
def catalogue() -> list[Policy]:
    return load_catalogue(default_policies_dir())


@pytest.fixture(scope="module")
def elapsed() -> list[float]:
    return []


def users_of(policy: Policy, parameter: str) -> set[str]:
    """Criteria and benefits whose rule names the parameter: their scenarios run first."""
    word = re.compile(rf"\b{re.escape(parameter)}\b")
    ids = {c.id for c in policy.criteria if word.search(c.condition)}
    ids |= {
        b.id
        for b in policy.benefits
        if word.search(f"{b.requires} {b.saving or ''} {b.standard_rate}")
    }
    return ids


def test_nudges_go_both_ways_in_the_parameter_own_precision() -> None:
    assert nudges(95) == [94, 96]
    assert nudges(50_000_000) == [49_999_999, 50_000_001, 49_000_000, 51_000_000]
    assert nudges(0.8) == [0.7, 0.9, 0.76, 0.84]
    assert nudges(0.2) == [0.1, 0.3, 0.19, 0.21]
    assert nudges(33.3) == [33.2, 33.4, 31.635, 34.965]
    assert nudges(0) == [-1, 1]


@pytest.mark.parametrize("path", POLICY_FILES, ids=lambda p: p.name)
def test_every_threshold_mutant_fails_the_specs(
    path: Path, suite: SpecSuite, catalogue: list[Policy], elapsed: list[float]
) -> None:
    start = time.perf_counter()
    text = path.read_text(encoding="utf-8")
    original = load_policy_text(text, source=path.name)
    baseline = suite.run(original, catalogue=catalogue)
    assert baseline.ok, f"{path.name} fails its own specs: {baseline.summary()}"

    params = numeric_parameters(text)
    assert params, f"{path.name}: no numeric parameters found"
    survivors, killed, rejected = [], 0, []
    for mutant in threshold_mutants(text):
        try:
            policy = load_policy_text(mutant.text, source=path.name)
        except PolicyError as exc:  # not a usable policy: the loader caught it, not the specs
            rejected.append(f"{mutant.label} ({exc.errors[0]})")
            continue
        report = suite.run(
            policy,
            catalogue=catalogue,
            fail_fast=True,
            prefer=users_of(original, mutant.parameter),
        )
        if report.ok:
            survivors.append(mutant.label)
        else:
            killed += 1
    seconds = time.perf_counter() - start
    elapsed.append(seconds)
    print(
        f"\n{path.name}: {len(params)} numeric parameters, {killed} mutants killed, "
        f"{len(rejected)} rejected by the loader, {len(survivors)} survived, {seconds:.1f}s"
    )
    assert not survivors, f"{path.name}: the specs pass with these thresholds changed: {survivors}"
    assert not rejected, (
        f"{path.name}: mutants the loader refused (test them otherwise): {rejected}"
    )
    assert killed >= 2 * len(params)
    assert sum(elapsed) < BUDGET_SECONDS, f"mutation testing took {sum(elapsed):.1f}s"


# Mutants that cannot change any decision under this policy, with the reason.
EQUIVALENT = {
    # A miner's only T3 criterion is renewable_energy, so for a miner
    # "tier >= T2 and met(renewable_energy)" and "tier >= T3 and met(...)" coincide.
    "mining_fee_reduction.requires: T2 -> T3",
}


@pytest.mark.parametrize("path", POLICY_FILES, ids=lambda p: p.name)
def test_every_rule_mutant_fails_the_specs(
    path: Path, suite: SpecSuite, catalogue: list[Policy]
) -> None:
    """Beyond numbers: a criterion moved to another tier, a >= made >, an == true
    flipped, an activity dropped from applies_to, a benefit's tier moved."""
    start = time.perf_counter()
    text = path.read_text(encoding="utf-8")
    survivors, rejected, killed = [], [], 0
    for mutant in structural_mutants(text):
        try:
            policy = load_policy_text(mutant.text, source=path.name)
        except PolicyError as exc:
            rejected.append(f"{mutant.label} ({exc.errors[0]})")
            continue
        subject = mutant.parameter.split(".")[0]
        report = suite.run(policy, catalogue=catalogue, fail_fast=True, prefer={subject})
        if not report.ok:
            killed += 1
        elif mutant.label not in EQUIVALENT:
            survivors.append(mutant.label)
    print(f"\n{path.name}: {killed} rule mutants killed in {time.perf_counter() - start:.1f}s")
    assert not survivors, f"{path.name}: the specs pass with these rules changed: {survivors}"
    assert not rejected, f"{path.name}: mutants the loader refused: {rejected}"
    assert killed > 0
