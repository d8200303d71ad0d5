"""The catalogue of policy versions: what every surface decides with.

The database is the system of record. At run time the catalogue is its
published and retired versions (each retired one with its ``retired_from``,
so it stops applying from that day while ``get(version)`` still finds it);
the files of the policy folder are imported into it, at start-up and whenever
they change, never read beside it. Without a database (the command line's
folder-only mode, ``--policies DIR``) or before the schema exists (``hub demo``
builds the app before it migrates) it is the folder alone.

A file whose version number is already stored with another text (published,
retired, or a draft of that number) is refused: at start-up the catalogue is
not built (``CatalogueRefused``, with what to do); at run time, a file edited
while serving, the stored version stays in force and the refusal is logged.

One ``PolicyCatalogue`` per app (held by ``hub.app_catalogue``, the Flask glue),
one per command line run (``hub.commands.load_registry``). At most once a second it
looks at two cheap markers, the files' timestamps and the stored versions' count and
latest publication and retirement, and rebuilds the registry when either changed, so
every app server picks up a version published or retired from the studio without a
restart.

This module speaks SQLAlchemy Core only (no ORM, no Flask): building the catalogue is
on the command line's start-up path.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from hub.config import ConfigError
from hub.policy import Policy, PolicyError, PolicyRegistry, load_policy, load_policy_text
from hub.storage import UTCDateTime, utcnow

log = logging.getLogger(__name__)

#: the states whose versions are in the catalogue (a draft is not, until published)
IN_CATALOGUE = ("published", "retired")

_TABLE_SQL = sa.text("SELECT 1 FROM policy_version WHERE 1 = 0")
_MARKER_SQL = sa.text(
    "SELECT count(*), sum(CASE WHEN state = 'retired' THEN 1 ELSE 0 END), "
    "max(published_at), max(retired_at) "
    "FROM policy_version WHERE state IN ('published', 'retired')"
)
_CATALOGUE_SQL = sa.text(
    "SELECT policy_id, version, text, digest, state, effective_from, retired_from "
    "FROM policy_version WHERE state IN ('published', 'retired') ORDER BY id"
)
_STORED_SQL = sa.text(
    "SELECT state, digest FROM policy_version WHERE policy_id = :policy_id AND version = :version"
)
_INSERT_SQL = sa.text(
    "INSERT INTO policy_version (policy_id, version, state, effective_from, text, digest, "
    "lock_version, created_at, updated_at, published_at) VALUES (:policy_id, :version, "
    "'published', :effective_from, :text, :digest, 1, :now, :now, :now)"
).bindparams(sa.bindparam("now", type_=UTCDateTime()))


_ID_SQL = sa.text(
    "SELECT id FROM policy_version WHERE policy_id = :policy_id AND version = :version"
)


class CatalogueRefused(ConfigError):
    """The catalogue cannot be built: policy files that do not load, or that disagree
    with the stored version of their number. ``problems`` holds one message per file,
    each saying what to do; ``str()`` is all of them, one a line."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__(
            "the policy folder is not imported into the catalogue:\n  " + "\n  ".join(problems)
        )


# --- import ------------------------------------------------------------------------------------


@dataclass
class ImportReport:
    """What an import of the policy folder did, file by file.

    ``added``/``unchanged`` name versions (``"<policy id> <version>"``);
    ``conflicts`` (a number stored with another text, or as a draft) and
    ``errors`` (files that do not load) are messages naming the file and what to
    do. ``policies`` are the files' parsed versions, by digest.
    """

    added: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    policies: dict[str, Policy] = field(default_factory=dict)

    @property
    def refused(self) -> list[str]:
        """Every conflict and error: the import (or the start-up) is refused if any."""
        return self.conflicts + self.errors


def conflict_message(path: Path | str, policy: Policy, state: str, digest: str | None) -> str:
    """Why a file is refused against the stored version of its number, and what to do."""
    name = f"{policy.id} {policy.version}"
    if state == "draft":
        return (
            f"{path}: {name} is stored as a draft in the studio; a file in the policy folder "
            "would be served as a published version without the draft's approval. Give the "
            "file a new version number, or move it out of the policy folder and publish the "
            "draft through the studio."
        )
    return (
        f"{path}: {name} is already stored ({state}) with another text ({digest}; the file "
        f"has {policy.digest}). A stored version never changes: restore the file with "
        f"`hub policy export {policy.version}`, or give the changed file a new version number."
    )


def import_files(
    conn: sa.Connection, directory: str | Path, parsed: dict[str, Policy] | None = None
) -> ImportReport:
    """Store every policy file of ``directory`` not stored yet as a published version.

    Safe to run again: a file whose version is stored with the same text is
    unchanged. A file whose version number is stored with another text
    (published or retired), or as a draft, is a conflict: the stored version
    stays. Runs inside ``conn``'s transaction (the caller commits); a
    concurrent import of the same file raises ``IntegrityError``. ``parsed``
    (digest -> Policy) spares parsing a file already parsed with that text.
    """
    report = ImportReport()
    now = utcnow()
    for path in sorted(Path(directory).rglob("*.yaml")):
        try:
            policy = load_policy(path)
        except PolicyError as exc:
            report.errors.extend(exc.errors)
            continue
        if parsed is not None:
            policy = parsed.get(policy.digest, policy)
        report.policies[policy.digest] = policy
        name = f"{policy.id} {policy.version}"
        stored = conn.execute(
            _STORED_SQL, {"policy_id": policy.id, "version": policy.version}
        ).first()
        if stored is None:
            conn.execute(
                _INSERT_SQL,
                {
                    "policy_id": policy.id,
                    "version": policy.version,
                    "effective_from": policy.effective_from,
                    "text": policy.text,
                    "digest": policy.digest,
                    "now": now,
                },
            )
            report.added.append(name)
            stored_id = conn.execute(
                _ID_SQL, {"policy_id": policy.id, "version": policy.version}
            ).scalar_one()
            _audit_import(conn, policy, path, int(stored_id))
        elif stored.state != "draft" and stored.digest == policy.digest:
            report.unchanged.append(name)
        else:
            report.conflicts.append(conflict_message(path, policy, stored.state, stored.digest))
    return report


def _audit_import(conn: sa.Connection, policy: Policy, path: Path, stored_id: int) -> None:
    """Record the import of a shipped file as a published version in the audit trail
    (``policy.imported``, no actor: the files were imported at start-up or by
    ``hub policy import``), in ``conn``'s transaction: the version and its record are
    stored together or not at all."""
    from sqlmodel import Session

    from hub import audit

    with Session(bind=conn) as session:
        audit.append(
            session,
            action="policy.imported",
            entity_type="policy_version",
            entity_id=stored_id,
            after={
                "policy_id": policy.id,
                "version": policy.version,
                "effective_from": policy.effective_from.isoformat(),
                "file": path.name,
            },
            policy_version=policy.version,
            policy_digest=policy.digest,
        )


def has_catalogue_table(engine: Engine) -> bool:
    """True when the database has the ``policy_version`` table (False on a bare one).

    A database that cannot be reached raises ``CatalogueRefused``: serving the
    files alone would give a second truth.
    """
    try:
        conn = engine.connect()
    except sa.exc.DBAPIError as exc:
        url = engine.url.render_as_string(hide_password=True)
        problem = (str(exc.orig or exc).strip().splitlines() or ["?"])[0]
        raise CatalogueRefused([f"the database {url} cannot be read: {problem}"]) from None
    with conn:
        try:
            conn.execute(_TABLE_SQL)
        except sa.exc.DBAPIError:  # no such table: ProgrammingError, or OperationalError
            return False
    return True


def import_shipped(
    engine: Engine, directory: str | Path, *, all_or_nothing: bool = True
) -> ImportReport | None:
    """Import the policy folder in a transaction of its own; None without the table yet.

    ``all_or_nothing``: when any file is refused, nothing is stored (start-up);
    otherwise the other files are (a server picking up a folder changed while it
    serves). Two servers starting at once may both insert a file: the loser's
    transaction is retried once, finding the winner's rows.
    """
    if not has_catalogue_table(engine):
        return None
    for attempt in (1, 2):
        try:
            with engine.connect() as conn, conn.begin() as transaction:
                report = import_files(conn, directory)
                if all_or_nothing and report.refused:
                    transaction.rollback()
                return report
        except sa.exc.IntegrityError:
            if attempt == 2:
                raise
    return None  # pragma: no cover  (the loop returns or raises)


# --- the catalogue ----------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredVersion:
    """A stored version as read without the ORM: enough to build the registry, and
    (``stored_versions``) its scenarios. ``state`` is draft, published or retired."""

    policy_id: str
    version: str
    text: str
    digest: str | None
    state: str
    effective_from: dt.date | None
    retired_from: dt.date | None
    features_text: str | None = None


_VERSION_SQL = sa.text(
    "SELECT policy_id, version, text, digest, state, effective_from, retired_from, "
    "features_text FROM policy_version WHERE version = :version ORDER BY policy_id"
)


def stored_versions(conn: sa.Connection, version: str) -> list[StoredVersion]:
    """Every stored version of that number (one per policy id), drafts included."""
    return [_stored(row) for row in conn.execute(_VERSION_SQL, {"version": version})]


def _stored(row: sa.Row[Any]) -> StoredVersion:
    values = dict(row._mapping)
    for key in ("effective_from", "retired_from"):
        values[key] = _date(values[key])
    return StoredVersion(**values)


def read_catalogue(
    conn: sa.Connection, parsed: dict[str, Policy] | None = None
) -> tuple[list[Policy], dict[tuple[str, str], dt.date]]:
    """The stored published and retired versions and the retirements, parsed.

    ``parsed`` (digest -> Policy) is a cache read and filled. A stored text that
    no longer loads is left out and logged (it cannot decide anything).
    """
    cache = parsed if parsed is not None else {}
    policies: list[Policy] = []
    retired: dict[tuple[str, str], dt.date] = {}
    for row in conn.execute(_CATALOGUE_SQL):
        stored = _stored(row)
        policy = cache.get(stored.digest or "")
        if policy is None or policy.text != stored.text:
            try:
                policy = load_policy_text(stored.text, source=f"{stored.version}.yaml")
            except PolicyError as exc:
                log.error("stored policy version %s does not load: %s", stored.version, exc)
                continue
            cache[policy.digest] = policy
        policies.append(policy)
        if stored.state == "retired":
            day = stored.retired_from or policy.effective_from
            if stored.retired_from is None:
                log.error(
                    "policy version %s is retired without a date: it applies on no day",
                    stored.version,
                )
            retired[(policy.id, policy.version)] = day
    return policies, retired


def _date(value: Any) -> dt.date | None:
    """A DATE column's value (SQLite through text SQL may give 'YYYY-MM-DD')."""
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


class PolicyCatalogue:
    """The policy registry of a database (the folder's files imported into it), or of
    the folder alone without one, refreshed when either changes.

    ``engine`` None: folder-only. ``import_files``: import the folder at start-up
    (refusals raise ``CatalogueRefused``) and whenever its files change (refusals are
    logged; the stored versions stay). ``monotonic``: the time source of the check
    every ``check_every`` seconds (a test may replace it to step time instead of
    sleeping). Raises ``PolicyError`` when a folder-only catalogue's files do not load,
    ``CatalogueRefused`` when the database cannot be read.
    """

    def __init__(
        self,
        directory: str | Path,
        check_every: float = 1.0,
        engine: Engine | None = None,
        import_files: bool = False,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.directory = Path(directory)
        self.check_every = check_every
        self.monotonic = monotonic
        self.engine = engine
        self.import_files = import_files and engine is not None
        #: parsed versions by digest: a text read again (a file, a stored row) is not re-parsed
        self._parsed: dict[str, Policy] = {}
        self._lock = threading.Lock()
        self._signature = self._scan()
        self._in_db = engine is not None and has_catalogue_table(engine)
        if self._in_db and self.import_files:
            report = self._import(all_or_nothing=True)
            if report is not None and report.refused:
                raise CatalogueRefused(report.refused)
        self._marker = self._db_marker()
        self._registry = self._build()
        self._checked = self.monotonic()

    # --- reading --------------------------------------------------------------------------------

    def _scan(self) -> tuple[tuple[str, int, int], ...]:
        files = sorted(self.directory.rglob("*.yaml"))
        return tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size) for f in files)

    def _import(self, all_or_nothing: bool) -> ImportReport | None:
        assert self.engine is not None
        report = import_shipped(self.engine, self.directory, all_or_nothing=all_or_nothing)
        if report is not None:
            self._parsed.update(report.policies)
        return report

    def _db_marker(self) -> Any:
        """Count, retired count, latest publication and retirement of the stored versions."""
        if self.engine is None or not self._in_db:
            return None
        with self.engine.connect() as conn:
            return tuple(str(v) for v in conn.execute(_MARKER_SQL).one())

    def _build(self) -> PolicyRegistry:
        if self.engine is None or not self._in_db:
            return PolicyRegistry.from_directory(self.directory)
        with self.engine.connect() as conn:
            policies, retired = read_catalogue(conn, self._parsed)
        if len(self._parsed) > 256:  # versions no longer stored (a test's many databases)
            self._parsed = {p.digest: p for p in policies}
        return PolicyRegistry(policies, retired=retired)

    def _rebuild(self, force: bool = False) -> None:
        self._checked = self.monotonic()
        signature = self._scan()
        files_changed = signature != self._signature
        self._signature = signature
        try:
            if self.engine is not None and not self._in_db:
                # a bare database (`hub demo` before it migrates): the folder until the table
                self._in_db = has_catalogue_table(self.engine)
                force = force or self._in_db
            if self._in_db and self.import_files and (files_changed or force):
                report = self._import(all_or_nothing=False)
                for problem in report.refused if report is not None else []:
                    log.error("%s (the stored version stays in force)", problem)
            marker = self._db_marker()
            if force or files_changed or marker != self._marker:
                self._marker = marker
                self._registry = self._build()
        except (PolicyError, sa.exc.SQLAlchemyError, ConfigError) as exc:
            log.error("policy catalogue not rebuilt (the last one stays): %s", exc)

    def refresh(self) -> None:
        """Rebuild now (after a publication or retirement in this process, or from a test)."""
        with self._lock:
            self._rebuild(force=True)

    def registry(self) -> PolicyRegistry:
        """The registry in force: checked against the markers at most every ``check_every``
        seconds (the hot path is one clock read)."""
        now = self.monotonic()
        if now - self._checked < self.check_every:
            return self._registry
        with self._lock:
            if self.monotonic() - self._checked >= self.check_every:
                self._rebuild()
        return self._registry

    def select(self, as_of: dt.date, version: str | None = None) -> Policy:
        """The named version, or the one in force on ``as_of`` (``PolicyRegistry.select``)."""
        return self.registry().select(as_of, version)
