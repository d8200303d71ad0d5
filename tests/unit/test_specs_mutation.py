"""Sensitivity: moving any threshold or rate of a policy file must make its specs fail.

Each numeric parameter of every file in policies/ is nudged one at a time,
towards easier and towards harder (95 -> 94 and 96, 0.8 -> 0.7/0.76/0.84/0.9,
50,000,000 -> 49,000,000/49,999,999/50,000,001/51,000,000, 0.20 -> 0.19/0.21,
...), and every mutant must fail `run_specs`: a spec suite that still passes
has not pinned that number down. The rules themselves are mutated too: tiers,
activities, and every operator of every condition and requirement (>= to >,
> to >=, <= to <, < to <=, == to !=, != to ==, and to or, or to and). The runs
print, per kind of mutant, killed/total and the survivors:

    .venv/bin/pytest tests/unit/test_specs_mutation.py -m slow -s -p no:cacheprovider
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from hub.specs import default_features_dir, default_policies_dir
from hub.specs.mutation import (
    Mutant,
    MutantResult,
    nudges,
    numeric_parameters,
    operator_mutants,
    run_mutants,
    structural_mutants,
    tally,
    threshold_mutants,
)

POLICY_FILES = sorted(default_policies_dir().rglob("*.yaml"))
#: CPU-seconds of this thread, for all files and both kinds together (measured about 8).
#: Not wall time: the budget was once checked against the wall clock, summed over the
#: module's runs in one process, so on a loaded machine (2 cores shared by several test
#: runs) the last file checked, 2027.1.yaml, overran it while passing alone. The CPU
#: time this thread spends judging mutants does not grow with the machine's load, nor
#: with other tests' background threads in the same worker process.
BUDGET_CPU_SECONDS = 60.0

# Mutants that cannot change any decision under this policy, with the reason. A miner's only
# T3 criterion is renewable_energy, so a miner at T2 with renewable_energy met is at T3:
# "tier >= T2 and met(renewable_energy)" holds exactly when "tier >= T3 and met(...)" does.
EQUIVALENT = {
    "mining_fee_reduction.requires: T2 -> T3": "a miner at T2 meeting renewable_energy is at T3",
    "mining_fee_reduction.requires: >= -> > in "
    "`activity == 'mining' and tier > T2 and met(renewable_energy)`": (
        "tier > T2 is tier >= T3, and a miner at T2 meeting renewable_energy is at T3"
    ),
}


@pytest.fixture(scope="module")
def elapsed() -> list[float]:
    """The CPU-seconds each file's mutants took, in this worker process."""
    return []


def report(name: str, results: list[MutantResult], seconds: float) -> str:
    """Per kind: killed/total; then the survivors (equivalent ones with the reason) and the
    mutants the loader refused."""
    pairs = [(r.mutant, bool(r.killed)) for r in results]
    killed = sum(k for _, k in pairs)
    lines = [f"{name}: {killed}/{len(pairs)} mutants killed in {seconds:.1f}s"]
    for kind, (dead, total) in tally(pairs).items():
        lines.append(f"  {kind:<14} {dead}/{total} killed")
    for r in results:
        if r.killed is False:
            why = EQUIVALENT.get(r.mutant.label)
            lines.append(f"  survivor: {r.mutant.label}" + (f" (equivalent: {why})" if why else ""))
        elif r.killed is None:
            lines.append(f"  refused by the loader: {r.mutant.label} ({r.detail})")
    return "\n".join(lines)


def judge_all(path: Path, mutants: list[Mutant], elapsed: list[float]) -> list[MutantResult]:
    start, cpu = time.perf_counter(), time.thread_time()
    text = path.read_text(encoding="utf-8")
    results = run_mutants(text, mutants, features=default_features_dir(), source=path.name)
    seconds = time.perf_counter() - start
    elapsed.append(time.thread_time() - cpu)
    print("\n" + report(path.name, results, seconds) + f" ({elapsed[-1]:.1f} CPU-seconds)")
    survivors = [r.mutant.label for r in results if r.killed is False]
    assert not [s for s in survivors if s not in EQUIVALENT], (
        f"{path.name}: the specs pass with these mutants: {survivors}"
    )
    # A threshold nudged past its input's bounds (max_tax_arrears_kzt 0 -> -1 against a
    # min of 0) is refused by the checker: no author can ship it, so the checker kills it.
    rejected = [
        f"{r.mutant.label} ({r.detail})"
        for r in results
        if r.killed is None and "the comparison could never change" not in r.detail
    ]
    assert not rejected, (
        f"{path.name}: mutants the loader refused (test them otherwise): {rejected}"
    )
    assert sum(elapsed) < BUDGET_CPU_SECONDS, (
        f"mutation testing took {sum(elapsed):.1f} CPU-seconds (budget {BUDGET_CPU_SECONDS})"
    )
    return results


def test_nudges_go_both_ways_in_the_parameter_own_precision() -> None:
    assert nudges(95) == [94, 96]
    assert nudges(50_000_000) == [49_999_999, 50_000_001, 49_000_000, 51_000_000]
    assert nudges(0.8) == [0.7, 0.9, 0.76, 0.84]
    assert nudges(0.2) == [0.1, 0.3, 0.19, 0.21]
    assert nudges(33.3) == [33.2, 33.4, 31.635, 34.965]
    assert nudges(0) == [-1, 1]


@pytest.mark.slow
@pytest.mark.parametrize("path", POLICY_FILES, ids=lambda p: p.name)
def test_every_threshold_mutant_fails_the_specs(path: Path, elapsed: list[float]) -> None:
    text = path.read_text(encoding="utf-8")
    params = numeric_parameters(text)
    assert params, f"{path.name}: no numeric parameters found"
    results = judge_all(path, list(threshold_mutants(text)), elapsed)
    assert sum(bool(r.killed) for r in results) >= 2 * len(params)


@pytest.mark.slow
@pytest.mark.parametrize("path", POLICY_FILES, ids=lambda p: p.name)
def test_every_rule_mutant_fails_the_specs(path: Path, elapsed: list[float]) -> None:
    """Beyond numbers: a criterion moved to another tier, an activity dropped from
    applies_to, a benefit's tier moved, and every operator of every condition and
    requirement changed (>= to >, == to !=, and to or, ...)."""
    results = judge_all(path, list(structural_mutants(path.read_text(encoding="utf-8"))), elapsed)
    equivalent = {r.mutant.label for r in results if r.killed is False}
    assert equivalent == set(EQUIVALENT), "a mutant listed as equivalent is killed (or gone)"
    kinds = tally((r.mutant, bool(r.killed)) for r in results)
    for kind in (">= to >", "<= to <", "== to !=", "!= to ==", "and to or"):
        assert kinds.get(kind, (0, 0))[1] > 0, f"{path.name}: no {kind} mutant was made"


DRAFT_RULES = """\
criteria:
  - id: a
    condition: x > 1 or y < 2
  - id: b
    condition: >-
      x >= 1
      and name != 'this and that'
  - id: c
    condition: "flag == true"
benefits:
  - id: d
    requires: tier >= T2 and activity == 'mining'
"""


def test_numeric_parameters_are_found_as_the_loader_reads_them() -> None:
    # YAML 1.2 (the loader) reads 5e1 and 0o62 as 50, 1e-02 as 0.01; YAML 1.1 reads them as
    # text, so a 1.1 scan found no number there and no threshold mutant was made.
    text = (
        "id: x\nparameters:\n  a: {value: 5e1, unit: '%'}\n  b: {value: 0o62}\n"
        "  c: 1e-02\n  d: {value: '50'}\n  e: {value: true}\n  f: {value: .inf}\n"
        "  g: {value: 0x32}\n"
    )
    found = {name: value for name, value, _, _ in numeric_parameters(text)}
    assert found == {"a": 50.0, "b": 50, "c": 0.01, "g": 50}
    for name, _, start, end in numeric_parameters(text):
        assert text[start:end] == {"a": "5e1", "b": "0o62", "c": "1e-02", "g": "0x32"}[name]
    mutated = {m.text.split("\n")[2] for m in threshold_mutants(text) if m.parameter == "a"}
    assert mutated == {"  a: {value: 49, unit: '%'}", "  a: {value: 51, unit: '%'}"}


def test_operator_mutants_change_one_operator_each_and_nothing_else() -> None:
    mutants = list(structural_mutants(DRAFT_RULES))
    ops = [(m.parameter, m.kind, m.detail) for m in mutants if " to " in m.kind]
    assert ops == [
        ("a.condition", "> to >=", "x >= 1 or y < 2"),
        ("a.condition", "or to and", "x > 1 and y < 2"),
        ("a.condition", "< to <=", "x > 1 or y <= 2"),
        ("b.condition", ">= to >", "x > 1 and name != 'this and that'"),
        ("b.condition", "and to or", "x >= 1 or name != 'this and that'"),
        ("b.condition", "!= to ==", "x >= 1 and name == 'this and that'"),
        ("c.condition", "== to !=", "flag != true"),
        ("d.requires", ">= to >", "tier > T2 and activity == 'mining'"),
        ("d.requires", "and to or", "tier >= T2 or activity == 'mining'"),
        ("d.requires", "== to !=", "tier >= T2 and activity != 'mining'"),
    ]
    for m in mutants:  # the edit stays inside the expression: the rest is byte for byte
        assert len(m.text) - len(DRAFT_RULES) in (-1, 0, 1)
    folded = next(m for m in mutants if m.kind == "and to or" and m.parameter == "b.condition")
    assert "      x >= 1\n      or name != 'this and that'\n" in folded.text
    assert "'this and that'" in folded.text  # a string is never edited


def test_operator_mutants_skip_an_expression_that_does_not_tokenise() -> None:
    import yaml

    text = "condition: x >= 1 $ y\n"
    node = yaml.compose(text).value[0][1]
    assert list(operator_mutants(text, node, "c.condition")) == []


def test_tally_counts_killed_and_total_per_kind() -> None:
    a = Mutant("p", 1, 2, "", ">= to >")
    b = Mutant("q", 1, 2, "", "threshold")
    assert tally([(a, True), (a, False), (b, True)]) == {">= to >": (1, 2), "threshold": (1, 1)}
