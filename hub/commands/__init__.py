"""CLI commands of the domain core: assess filings, inspect policies.

They read the same catalogue of policy versions as the server (``open_catalogue``:
the database when one is configured, the policy folder imported into it), or a folder
alone with ``--policies DIR``. No Flask: ``hub assess`` starts fast.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from hub.config import ConfigError
from hub.policy import Policy, PolicyError, PolicyRegistry, load_policy, load_policy_text

if TYPE_CHECKING:
    from hub.catalogue import StoredVersion


def policy_dir(option: Path | None) -> Path:
    """--policies, else HUB_POLICY_DIR, else the policies/ folder shipped with the code."""
    from hub.config import policy_dir as configured

    return Path(option) if option else configured()


@dataclass
class CommandCatalogue:
    """The catalogue of policy versions as a command reads it: the server's.

    ``registry`` is what the service decides with; ``database`` the URL it was
    read from (None: the folder alone). ``stored(version)`` reads that number's
    stored versions, drafts included (empty without a database).
    """

    registry: PolicyRegistry
    directory: Path
    database: str | None = None

    def stored(self, version: str) -> list[StoredVersion]:
        """The stored versions of that number, drafts included (none without a database)."""
        if self.database is None:
            return []
        from hub.catalogue import stored_versions

        engine = _engine(self.database)
        try:
            with engine.connect() as conn:
                return stored_versions(conn, version)
        except sa_errors() as exc:
            raise click.ClickException(f"the database cannot be read: {exc}") from None
        finally:
            engine.dispose()


def sa_errors() -> type[Exception]:
    """SQLAlchemy's base error (imported when a database is used: the folder-only path
    never loads SQLAlchemy)."""
    import sqlalchemy as sa

    return sa.exc.SQLAlchemyError


def _engine(url: str) -> Any:
    """An engine that keeps no connection once used (``hub assess --batch`` forks after)."""
    import sqlalchemy as sa

    from hub.storage import make_engine

    try:
        return make_engine(url, poolclass=sa.pool.NullPool)
    except (sa.exc.ArgumentError, ImportError) as exc:
        raise click.ClickException(f"HUB_DATABASE_URL: {exc}") from None


def open_catalogue(option: Path | None) -> CommandCatalogue:
    """The catalogue every command reads, by the command line's rule.

    ``--policies DIR`` (``option``): that folder alone, without a database
    (authors and CI). Otherwise, with a database configured (``HUB_DATABASE_URL``,
    or the default SQLite file of the instance folder exists) the server's catalogue:
    the policy folder imported into the database (a file disagreeing with a stored
    version ends the command with what to do, as it stops the server) and the
    database's published and retired versions. Without a database: the folder alone.
    """
    from hub.config import configured_database

    directory = policy_dir(option)
    if not directory.is_dir():
        raise click.ClickException(f"{directory}: no such policy folder")
    url = None if option is not None else configured_database()
    try:
        if url is None:
            return CommandCatalogue(PolicyRegistry.from_directory(directory), directory)
        from hub.catalogue import PolicyCatalogue

        engine = _engine(url)
        try:
            catalogue = PolicyCatalogue(directory, engine=engine, import_files=True)
        finally:
            engine.dispose()
        return CommandCatalogue(catalogue.registry(), directory, url)
    except PolicyError as exc:
        if isinstance(exc, ConfigError):  # CatalogueRefused: it says what to do
            raise click.ClickException(f"{exc}\n{FOLDER_ALONE}") from None
        message = "policy folder does not load:\n  " + "\n  ".join(exc.errors)
        raise click.ClickException(message) from None
    except ConfigError as exc:
        raise click.ClickException(f"{exc}\n{FOLDER_ALONE}") from None


FOLDER_ALONE = "(--policies DIR reads a folder of policy files alone, without the database.)"


def load_registry(option: Path | None) -> PolicyRegistry:
    """The registry of ``open_catalogue(option)``: what the service decides with."""
    return open_catalogue(option).registry


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


@dataclass(frozen=True)
class Resolved:
    """A policy a command was pointed at, and how it stands in the catalogue.

    ``note``: None for a version in force on some days or a file; "draft ..." for
    a stored draft; "retired from DAY" for a retired version. ``features_text``:
    the scenarios stored with it, if any.
    """

    policy: Policy
    note: str | None = None
    features_text: str | None = None


def resolve(ref: str, catalogue: CommandCatalogue) -> Resolved:
    """The path of a policy file, or a version number: the catalogue's (published or
    retired), else a draft stored in the database. Ends the command when none is."""
    found = policy_file(ref)
    if found is not None:
        return Resolved(found)
    stored = {s.state: s for s in catalogue.stored(ref)}
    try:
        policy = catalogue.registry.get(ref)
    except LookupError as exc:
        draft = stored.get("draft")
        if draft is None:
            raise click.ClickException(str(exc.args[0])) from None
        try:
            policy = load_policy_text(draft.text, source=f"{draft.version}.yaml")
        except PolicyError as bad:
            problems = "\n  ".join(bad.errors)
            raise click.ClickException(f"draft {ref} does not load:\n  {problems}") from None
        return Resolved(policy, "draft, not published", draft.features_text)
    retired = catalogue.registry.retired_from(policy)
    note = f"retired from {retired.isoformat()}" if retired is not None else None
    row = stored.get("retired" if retired is not None else "published")
    return Resolved(policy, note, row.features_text if row is not None else None)


def resolve_all(refs: list[str], option: Path | None) -> list[Resolved]:
    """``resolve`` for each of ``refs``, the catalogue opened once, and only when one of
    them is not a policy file."""
    catalogue: CommandCatalogue | None = None
    out = []
    for ref in refs:
        found = policy_file(ref)
        if found is not None:
            out.append(Resolved(found))
            continue
        catalogue = catalogue or open_catalogue(option)
        out.append(resolve(ref, catalogue))
    return out


def resolve_policy(ref: str, registry_option: Path | None) -> Policy:
    """A version number from the catalogue (or a stored draft), or a policy file."""
    return resolve_all([ref], registry_option)[0].policy


policies_option = click.option(
    "--policies",
    "policies_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Read this folder of policy files alone, without the database (default: the "
    "catalogue: the database's versions when HUB_DATABASE_URL is set or the default SQLite "
    "file exists, HUB_POLICY_DIR or the shipped policies/ imported into it; else that folder).",
)
