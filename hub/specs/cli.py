"""`hub policy test`: run the Gherkin specs against policy versions, wherever they are.

Registered by the hub CLI as ``from hub.specs.cli import test as policy_test_command``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from hub.policy import Policy, PolicyError

from .boundaries import BoundaryCoverage
from .runner import SpecReport, SpecSuite, as_policy, default_features_dir


def _policy_files(directory: Path) -> list[Path]:
    return sorted([*directory.rglob("*.yaml"), *directory.rglob("*.yml")])


@click.command("test")
@click.argument("versions", nargs=-1, metavar="[VERSION]...")
@click.option(
    "--policy",
    "policies",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Policy file to test (repeatable), anywhere on disk.",
)
@click.option(
    "--features",
    "features_dir",
    type=click.Path(exists=True, path_type=Path),
    help="Folder (or single .feature file) of scenarios. Default: a stored version's own "
    "scenarios when it has them, else features/ (or HUB_FEATURES_DIR).",
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
@click.option(
    "--policies",
    "policies_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Read this folder of policy files alone, without the database (default: the "
    "catalogue, as `hub assess` reads it).",
)
def test(
    versions: tuple[str, ...],
    policies: tuple[Path, ...],
    features_dir: Path | None,
    tag: str | None,
    failures_only: bool,
    boundaries: bool,
    as_json: bool,
    policies_dir: Path | None,
) -> None:
    """Run the specs against policy versions: PASSED/FAILED per scenario, then a summary.

    VERSION is a version number of the catalogue (published or retired; or a draft
    stored in the studio) or a policy file; --policy adds files. Each is tested on
    the scenarios tagged with its version (@v2026.1): a version stored with
    scenarios of its own (published from the studio) on those, unless --features
    is given. Without either: every version of the catalogue with a database, else
    every file of the policy folder. Date-selection scenarios choose among the
    catalogue's versions, retirements included. Exits 0 only if every scenario of
    every version passed and at least one ran (and, with --boundaries, no boundary
    lacks a deciding scenario).
    """
    from hub.commands import CommandCatalogue, open_catalogue, policy_dir, resolve
    from hub.policy import PolicyRegistry

    try:
        catalogue: CommandCatalogue | None = open_catalogue(policies_dir)
    except click.ClickException as exc:
        if versions:
            raise
        click.echo(f"warning: the published policies do not load: {exc.message}", err=True)
        catalogue = None
    registry = catalogue.registry if catalogue is not None else PolicyRegistry([])
    # (label, the policy or why it does not load, its stored scenarios)
    targets: list[tuple[str, Policy | PolicyError, str | None]] = []
    for ref in versions:
        assert catalogue is not None
        found = resolve(ref, catalogue)
        where = f" ({found.note})" if found.note else ""
        targets.append((f"{ref}{where}", found.policy, found.features_text))
    files = list(policies)
    if not versions and not policies:
        if catalogue is not None and catalogue.database is not None:
            for p in registry.versions():
                found = resolve(p.version, catalogue)
                where = f" ({found.note})" if found.note else ""
                targets.append((f"{p.version}{where}", found.policy, found.features_text))
        else:
            folder = policy_dir(policies_dir)
            files = _policy_files(folder)
            if not files:
                raise click.UsageError(f"no policy files given and none in {folder}")
    for path in files:
        try:
            targets.append((str(path), as_policy(path), None))
        except PolicyError as exc:
            targets.append((str(path), exc, None))
    shared: list[SpecSuite] = []

    def suite_for(features_text: str | None) -> SpecSuite:
        if features_dir is None and features_text:
            from hub.studio.features import split_features

            return SpecSuite.from_texts(split_features(features_text))
        if not shared:
            shared.append(SpecSuite.from_path(features_dir or default_features_dir()))
        return shared[0]

    reports: list[SpecReport] = []
    gaps_of: list[list[str]] = []
    ok = True
    for label, policy, features_text in targets:
        if isinstance(policy, PolicyError):
            ok = False
            if as_json:
                reports.append(_broken(Path(label), policy))
            else:
                click.echo(f"ERROR {label}: the policy does not load:")
                for err in policy.errors:
                    click.echo(f"    {err}")
            continue
        coverage = BoundaryCoverage(policy) if boundaries else None
        observe = coverage.observe if coverage is not None else None
        report = suite_for(features_text).run(policy, catalogue=registry, tag=tag, observe=observe)
        reports.append(report)
        gaps = [
            f"{cmp.label}: no scenario tagged @{cmp.subject} decides a company {side} it"
            for cmp, sides in (coverage.gaps() if coverage is not None else [])
            for side in sides
        ]
        gaps_of.append(gaps)
        ok = ok and report.ok and not gaps
        if not as_json:
            _print(label, report, failures_only)
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


def _print(path: Path | str, report: SpecReport, failures_only: bool) -> None:
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
