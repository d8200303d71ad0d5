"""Audit the installed environment for known vulnerabilities with pip-audit (CI: .ci/run).

Runs ``pip-audit`` on the environment of the Python that runs this script (the project's
``.venv``: the service, its test tools and pip-audit itself), the project itself left
out (it is not on PyPI), and exits 1 when any installed package has a known
vulnerability that ``.ci/pip-audit-ignore`` does not list. Each line there is
``ID  reason``: an advisory id (``GHSA-...``, ``PYSEC-...``, ``CVE-...``) and, after
white space, the written reason it does not apply or cannot be fixed yet; a line
without a reason is refused (exit 2), and so is an entry no longer needed.

pip-audit asks PyPI's advisory data for each package and version. A package it could
not ask about (no answer from the service, not on PyPI) is listed and counted, and
fails the run only with ``--require-audited``.

    python scripts/audit_dependencies.py [--ignore-file .ci/pip-audit-ignore] [--require-audited]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
IGNORE_FILE = ROOT / ".ci" / "pip-audit-ignore"


class IgnoreFileError(ValueError):
    """A line of the ignore file without an id or a reason (the message names the line)."""


def read_ignores(text: str, source: str = "pip-audit-ignore") -> dict[str, str]:
    """The ignore file's entries, ``{advisory id: reason}``; blank lines and ``#``
    comments skipped. Raises IgnoreFileError naming the line for an entry without a
    written reason or an id given twice."""
    entries: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        content = line.strip()
        if not content or content.startswith("#"):
            continue
        advisory, *rest = content.split(None, 1)
        reason = rest[0].strip() if rest else ""
        if len(reason) < 10:
            raise IgnoreFileError(
                f"{source}:{number}: {advisory} has no written reason; write why it does "
                "not apply or cannot be fixed yet after the id"
            )
        if advisory in entries:
            raise IgnoreFileError(f"{source}:{number}: {advisory} is listed twice")
        entries[advisory] = reason
    return entries


@dataclass
class Verdict:
    """What one pip-audit report means: the findings that fail the run, those ignored
    (with their reason), the ignore entries that matched nothing, the packages that
    could not be audited, and how many were."""

    found: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    unused_ignores: list[str] = field(default_factory=list)
    not_audited: list[str] = field(default_factory=list)
    audited: int = 0

    def exit_code(self, *, require_audited: bool = False) -> int:
        """1 for a vulnerability not ignored (or, with ``require_audited``, a package not
        audited), 2 for an ignore entry that matched nothing, else 0."""
        if self.found or (require_audited and self.not_audited):
            return 1
        if self.unused_ignores:
            return 2
        return 0


def judge(report: dict[str, Any], ignores: dict[str, str]) -> Verdict:
    """Read pip-audit's JSON report (``pip-audit -f json``: ``dependencies``, each with
    ``name`` and ``version`` and ``vulns`` [{``id``, ``aliases``, ``fix_versions``,
    ``description``}], or a ``skip_reason``) against the ignore entries. An advisory is
    ignored when its id or one of its aliases is listed."""
    verdict = Verdict()
    used: set[str] = set()
    for dep in report.get("dependencies", []):
        if "skip_reason" in dep:
            verdict.not_audited.append(f"{dep['name']}: {dep['skip_reason']}")
            continue
        verdict.audited += 1
        for vuln in dep.get("vulns", []):
            names = [vuln["id"], *vuln.get("aliases", [])]
            listed = next((n for n in names if n in ignores), None)
            fixes = ", ".join(vuln.get("fix_versions", [])) or "none yet"
            line = f"{dep['name']} {dep['version']}: {' / '.join(names)} (fixed in: {fixes})"
            if listed is None:
                verdict.found.append(line)
            else:
                used.add(listed)
                verdict.ignored.append(f"{line}; ignored: {ignores[listed]}")
    verdict.unused_ignores = sorted(set(ignores) - used)
    return verdict


def run_pip_audit(ignores: dict[str, str]) -> dict[str, Any]:
    """pip-audit's JSON report on this interpreter's environment (the project left out)."""
    command = [
        sys.executable, "-m", "pip_audit", "--progress-spinner", "off", "--skip-editable",
        "--desc", "off", "--format", "json",
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    # Exit 1 means vulnerabilities were found: the report says which.
    if done.returncode not in (0, 1) or not done.stdout.strip():
        sys.stderr.write(done.stderr)
        raise SystemExit(f"pip-audit did not run (exit {done.returncode})")
    return json.loads(done.stdout)


def main(argv: list[str] | None = None) -> int:
    """Run the audit and print what it found; the exit code of ``Verdict.exit_code``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ignore-file", type=Path, default=IGNORE_FILE)
    parser.add_argument(
        "--require-audited",
        action="store_true",
        help="fail when a package could not be audited (the advisory service did not answer)",
    )
    args = parser.parse_args(argv)
    try:
        ignores = read_ignores(args.ignore_file.read_text(), str(args.ignore_file))
    except IgnoreFileError as exc:
        print(exc, file=sys.stderr)
        return 2
    verdict = judge(run_pip_audit(ignores), ignores)
    for line in verdict.found:
        print(f"VULNERABLE {line}")
    for line in verdict.ignored:
        print(f"ignored    {line}")
    for advisory in verdict.unused_ignores:
        print(f"{args.ignore_file}: {advisory} matched no installed package: remove it")
    total = verdict.audited + len(verdict.not_audited)
    print(f"pip-audit: {verdict.audited} of {total} installed packages audited", end="")
    print(f", {len(verdict.found)} known vulnerabilities not ignored")
    if verdict.not_audited:
        print(
            f"WARNING: {len(verdict.not_audited)} packages could not be audited (the "
            "advisory service gave no answer for them), for example:"
        )
        for line in verdict.not_audited[:5]:
            print(f"  {line}")
    return verdict.exit_code(require_audited=args.require_audited)


if __name__ == "__main__":
    sys.exit(main())
