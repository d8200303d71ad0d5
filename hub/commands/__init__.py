"""CLI commands of the domain core (no database): assess filings, inspect policies."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from hub.policy import Policy, PolicyError, PolicyRegistry, load_policy


def policy_dir(option: Path | None) -> Path:
    """--policies, else HUB_POLICY_DIR, else the policies/ folder shipped with the code."""
    from hub.config import policy_dir as configured

    return Path(option) if option else configured()


def load_registry(option: Path | None) -> PolicyRegistry:
    directory = policy_dir(option)
    if not directory.is_dir():
        raise click.ClickException(f"{directory}: no such policy folder")
    try:
        return PolicyRegistry.from_directory(directory)
    except PolicyError as exc:
        message = "policy folder does not load:\n  " + "\n  ".join(exc.errors)
        raise click.ClickException(message) from None


def hub_today() -> dt.date:
    """The hub's date (``HUB_TIMEZONE``, as the server reads it); an unknown zone ends
    the command with the same message the server refuses to start with."""
    from hub.clock import clock_from_environ
    from hub.config import ConfigError

    try:
        return clock_from_environ().today()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def policy_file(ref: str) -> Policy | None:
    """The policy in file ``ref`` when it names one (its errors end the command), else None."""
    path = Path(ref)
    if path.suffix not in (".yaml", ".yml") and not path.is_file():
        return None
    try:
        return load_policy(path)
    except PolicyError as exc:
        raise click.ClickException("\n".join(exc.errors)) from None


def resolve_policy(ref: str, registry_option: Path | None) -> Policy:
    """A version number from the policy folder, or the path of a policy file."""
    found = policy_file(ref)
    if found is not None:
        return found
    try:
        return load_registry(registry_option).get(ref)
    except LookupError as exc:
        raise click.ClickException(str(exc.args[0])) from None


policies_option = click.option(
    "--policies",
    "policies_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder of policy files (default: HUB_POLICY_DIR or the shipped policies/).",
)
