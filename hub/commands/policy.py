"""`hub policy`: check, show, compare and test policy versions; publish the file schema."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from hub.commands import policies_option, resolve_all
from hub.policy import PolicyError, load_policy
from hub.policy.diff import diff_policies
from hub.specs.cli import test as policy_test_command


@click.group("policy")
def policy() -> None:
    """Check, show, compare and test policy versions."""


policy.add_command(policy_test_command)


@policy.command("check")
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))  # fmt: skip
def check(files: tuple[Path, ...]) -> None:
    """Validate and compile policy FILES; print every error with its line, exit 1 on any."""
    failed = False
    for f in files:
        try:
            p = load_policy(f)
        except PolicyError as exc:
            failed = True
            for error in exc.errors:
                click.echo(error, err=True)
            continue
        click.echo(
            f"{f}: OK: {p.id} {p.version}, effective {p.effective_from}, "
            f"{len(p.inputs)} inputs, {len(p.criteria)} criteria, {len(p.benefits)} benefits, "
            f"{p.digest}"
        )
    sys.exit(1 if failed else 0)


@policy.command("show")
@click.argument("version")
@click.option("--json", "as_json", is_flag=True, help="Print the version as the API serves it.")
@policies_option
def show(version: str, as_json: bool, policies_dir: Path | None) -> None:
    """Show VERSION (a version number or a policy file) in words.

    A version number is looked up in the catalogue (the database's published and
    retired versions, or the folder's with --policies), then among the drafts stored
    in the studio, which are said to be drafts.
    """
    found = resolve_all([version], policies_dir)[0]
    p = found.policy
    d = p.to_dict()
    if as_json:
        if found.note is not None:
            d["catalogue_note"] = found.note
        click.echo(json.dumps(d, ensure_ascii=False, indent=2, sort_keys=True))
        return
    status = f" ({found.note})" if found.note else ""
    lines = [
        f"{p.title} {p.version}{status}",
        f"Effective from {p.effective_from}; {p.digest}",
        "",
    ]
    lines.append("Tiers (cumulative):")
    lines += [f"  {t['id']} {t['title']}: {t['description']}" for t in d["tiers"]]
    lines += ["", "Criteria:"]
    for c in d["criteria"]:
        applies = ", ".join(c["applies_to"])
        lines.append(f"  {c['tier']} {c['id']}: {c['title']}")
        lines.append(f"       when {c['condition_text']}")
        lines.append(f"       applies to {applies}; {c['citation']} ({c['basis']})")
    lines += ["", "Benefits:"]
    lines.append(f"  (each saving {p.rounding.describe()}; the total is the sum of the savings)")
    for b in d["benefits"]:
        saving = f"; saving {b['saving_text']}" if b["saving_text"] else ""
        lines.append(f"  {b['id']}: {b['title']}")
        lines.append(
            f"       when {b['requires_text']}; standard rate {b['standard_rate']}{saving}"
        )
    lines += ["", "Inputs:"]
    for i in d["inputs"]:
        unit = f" [{i['unit']}]" if i["unit"] else ""
        req = " (required)" if i["required"] else ""
        lines.append(f"  {i['name']}: {i['type']}{unit}{req} — {i['label']}")
    click.echo("\n".join(lines))


@policy.command("diff")
@click.argument("old")
@click.argument("new")
@click.option("--json", "as_json", is_flag=True, help="Print the changes as JSON.")
@policies_option
def diff(old: str, new: str, as_json: bool, policies_dir: Path | None) -> None:
    """Compare OLD and NEW (version numbers or policy files): criteria, thresholds, inputs
    and benefits added, removed or changed. Version numbers are found as `hub policy
    show` finds them (drafts stored in the studio included, and said to be drafts)."""
    before, after = resolve_all([old, new], policies_dir)
    result = diff_policies(before.policy, after.policy)
    if as_json:
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2, default=str))
        return
    for found in (before, after):
        if found.note:
            click.echo(f"({found.policy.version} is {found.note})")
    click.echo(result.to_text())


@policy.command("schema")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the schema to FILE instead of printing it.")  # fmt: skip
def schema(out: Path | None) -> None:
    """Print the JSON Schema (draft 2020-12) of a policy file, for editors and checkers."""
    from hub.policy.document import json_schema

    text = json.dumps(json_schema(), ensure_ascii=False, indent=2) + "\n"
    if out is None:
        click.echo(text, nl=False)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        problem = exc.strerror or exc
        raise click.ClickException(f"{out}: cannot write the schema: {problem}") from exc
    click.echo(f"{out}: the policy schema written")


import hub.commands.policy_studio  # noqa: E402  (adds `hub policy import | export | impact`)
import hub.commands.policy_workflow  # noqa: E402, F401  (adds `hub policy draft|approve|publish|retire`)
