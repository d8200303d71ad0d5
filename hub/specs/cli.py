"""`hub policy test`: run the Gherkin specs against policy files, wherever they are.

Registered by the hub CLI as ``from hub.specs.cli import test as policy_test_command``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from hub.policy import PolicyError

from .boundaries import BoundaryCoverage
from .runner import (
    SpecReport,
    SpecSuite,
    as_policy,
    default_features_dir,
    default_policies_dir,
    load_catalogue,
)


def _policy_files(directory: Path) -> list[Path]:
    return sorted([*directory.rglob("*.yaml"), *directory.rglob("*.yml")])


@click.command("test")
@click.option(
    "--policy",
    "policies",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Policy file to test (repeatable). Default: every file in HUB_POLICY_DIR (or the "
    "shipped policies/).",
)
@click.option(
    "--features",
    "features_dir",
    type=click.Path(exists=True, path_type=Path),
    help="Folder (or single .feature file) of scenarios. Default: features/ (or HUB_FEATURES_DIR).",
)
@click.option(
    "--tag",
    default=None,
    help="Run the scenarios with this tag instead of the policy's version tag (e.g. @v2027.1).",
)
@click.option("--failures-only", is_flag=True, help="Print only the failed scenarios.")
@click.option(
    "--boundaries",
    is_flag=True,
    help="Also require, for every comparison of every condition and requirement, scenarios"
    " that decide a company below, on and above its boundary; each side missing fails.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the reports as JSON.")
def test(
    policies: tuple[Path, ...],
    features_dir: Path | None,
    tag: str | None,
    failures_only: bool,
    boundaries: bool,
    as_json: bool,
) -> None:
    """Run the specs against policy files: PASSED/FAILED per scenario, then a summary.

    Each file is tested on the scenarios tagged with its version (@v2026.1).
    Exits 0 only if every scenario of every file passed and at least one ran
    (and, with --boundaries, no boundary lacks a deciding scenario).
    """
    files = list(policies) or _policy_files(default_policies_dir())
    if not files:
        raise click.UsageError(f"no policy files given and none in {default_policies_dir()}")
    suite = SpecSuite.from_path(features_dir or default_features_dir())
    try:
        catalogue = load_catalogue(default_policies_dir())
    except PolicyError as exc:
        click.echo(f"warning: the published policies do not load: {exc}", err=True)
        catalogue = []
    reports: list[SpecReport] = []
    gaps_of: list[list[str]] = []
    ok = True
    for path in files:
        try:
            policy = as_policy(path)
        except PolicyError as exc:
            ok = False
            if as_json:
                reports.append(_broken(path, exc))
            else:
                click.echo(f"ERROR {path}: the policy does not load:")
                for err in exc.errors:
                    click.echo(f"    {err}")
            continue
        coverage = BoundaryCoverage(policy) if boundaries else None
        observe = coverage.observe if coverage is not None else None
        report = suite.run(policy, catalogue=catalogue, tag=tag, observe=observe)
        reports.append(report)
        gaps = [
            f"{cmp.label}: no scenario tagged @{cmp.subject} decides a company {side} it"
            for cmp, sides in (coverage.gaps() if coverage is not None else [])
            for side in sides
        ]
        gaps_of.append(gaps)
        ok = ok and report.ok and not gaps
        if not as_json:
            _print(path, report, failures_only)
            for gap in gaps:
                click.echo(f"BOUNDARY {gap}")
            if coverage is not None:
                click.echo(
                    f"boundaries: {len(coverage.comparisons)} comparisons, "
                    f"{len(gaps)} sides without a deciding scenario"
                )
    if as_json:
        out = [r.to_dict() for r in reports]
        if boundaries:
            for d, gaps in zip(out, gaps_of, strict=False):
                d["boundary_gaps"] = gaps
        click.echo(json.dumps(out, indent=2))
    sys.exit(0 if ok else 1)


def _broken(path: Path, exc: PolicyError) -> SpecReport:
    return SpecReport("", "", "", "", errors=[str(e) for e in exc.errors] or [str(exc)])


def _print(path: Path, report: SpecReport, failures_only: bool) -> None:
    click.echo(f"== {path} (version {report.policy_version}, scenarios tagged {report.tag})")
    for err in report.errors:
        click.echo(f"ERROR {err}")
    for r in report.scenarios:
        if r.status == "passed" and failures_only:
            continue
        where = f"{r.uri}:{r.line}"
        click.echo(f"{r.status.upper():7} {where}  {r.name}")
        if r.status == "failed":
            click.echo(f"        step (line {r.failing_line}): {r.failing_step}")
            click.echo(f"        {r.message}")
    s = report.summary()
    verdict = "OK" if report.ok else "FAILED"
    if not report.scenarios:
        click.echo(f"no scenarios tagged {report.tag}: nothing proves this version")
    click.echo(
        f"{verdict}: {s['passed']} passed, {s['failed']} failed, {s['skipped']} skipped"
        f" of {s['total']} scenarios in {s['seconds']:.2f}s"
    )
