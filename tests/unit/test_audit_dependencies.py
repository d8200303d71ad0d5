"""The dependency audit of .ci/run (scripts/audit_dependencies.py): pip-audit's report read
against the ignore list, which needs a written reason for every entry."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "audit_dependencies", ROOT / "scripts" / "audit_dependencies.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


audit = load_script()

#: A report as ``pip-audit -f json`` writes it: one vulnerable package, one clean, one
#: the advisory service could not answer for.
REPORT = {
    "dependencies": [
        {
            "name": "setuptools",
            "version": "65.5.0",
            "vulns": [
                {
                    "id": "PYSEC-2022-43012",
                    "fix_versions": ["65.5.1"],
                    "aliases": ["CVE-2022-40897"],
                    "description": "ReDoS in package_index.py",
                }
            ],
        },
        {"name": "flask", "version": "3.1.3", "vulns": []},
        {"name": "hubless", "skip_reason": "Dependency not found on PyPI"},
    ],
    "fixes": [],
}


def test_a_known_vulnerability_fails_the_run() -> None:
    verdict = audit.judge(REPORT, {})
    assert verdict.found == [
        "setuptools 65.5.0: PYSEC-2022-43012 / CVE-2022-40897 (fixed in: 65.5.1)"
    ]
    assert verdict.audited == 2
    assert verdict.not_audited == ["hubless: Dependency not found on PyPI"]
    assert verdict.exit_code() == 1


def test_an_advisory_listed_with_a_reason_is_ignored_by_id_or_alias() -> None:
    for listed in ("PYSEC-2022-43012", "CVE-2022-40897"):
        ignores = {listed: "only PackageIndex reads HTML, which the hub never calls"}
        verdict = audit.judge(REPORT, ignores)
        assert verdict.found == []
        assert verdict.ignored and "never calls" in verdict.ignored[0]
        assert verdict.exit_code() == 0
        # A package not audited fails only when every package must be.
        assert verdict.exit_code(require_audited=True) == 1


def test_an_ignore_entry_that_matches_nothing_fails_the_run() -> None:
    verdict = audit.judge(REPORT, {"PYSEC-2022-43012": "a reason long enough", "GHSA-x": "gone"})
    assert verdict.unused_ignores == ["GHSA-x"]
    assert verdict.exit_code() == 2


def test_the_ignore_file_needs_a_written_reason() -> None:
    text = "# comment\n\nPYSEC-2022-43012\tonly PackageIndex reads HTML, never called here\n"
    assert audit.read_ignores(text) == {
        "PYSEC-2022-43012": "only PackageIndex reads HTML, never called here"
    }
    with pytest.raises(audit.IgnoreFileError, match=r":2: GHSA-abcd has no written reason"):
        audit.read_ignores("# reasons are required\nGHSA-abcd\n")
    with pytest.raises(audit.IgnoreFileError, match="listed twice"):
        audit.read_ignores("GHSA-a a long reason here\nGHSA-a another long reason\n")


def test_the_shipped_ignore_file_is_valid_and_ci_runs_the_audit() -> None:
    audit.read_ignores((ROOT / ".ci" / "pip-audit-ignore").read_text())
    ci = (ROOT / ".ci" / "run").read_text()
    assert "scripts/audit_dependencies.py" in ci
    # Python's bundled pip and setuptools (known vulnerabilities) are upgraded first.
    assert ci.index('"pip>=23.3" "setuptools>=78.1.1"') < ci.index("audit_dependencies")
