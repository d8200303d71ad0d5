"""The policy versions the service uses: the shipped files plus the versions published
in the database.

One catalogue per app (held by ``hub.app_catalogue``, the Flask glue). At most
once a second it looks at two cheap markers, the files' timestamps and the
database's count and latest ``published_at`` of published versions, and
rebuilds the registry when either changed, so every app server picks up a
version published from the studio (or a new file) without a restart. Without
a ``policy_version`` table (a bare database, or the command line's folder-only
mode) it is the folder alone, as before.

A file that does not load is a start-up error; at run time the last good set
is kept and the error logged. A shipped file wins over a stored version of the
same number with another text (the conflict is logged; see ``merge_registry``).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from hub.policy import Policy, PolicyError, PolicyRegistry

log = logging.getLogger(__name__)

_MARKER_SQL = sa.text(
    "SELECT count(*), max(published_at) FROM policy_version WHERE state = 'published'"
)
_PUBLISHED_SQL = sa.text(
    "SELECT version, text, digest FROM policy_version WHERE state = 'published' ORDER BY id"
)


def merge_registry(files: PolicyRegistry, published: Iterable[Policy]) -> PolicyRegistry:
    """The files' versions plus the versions published in the database.

    For a version that is both a file and a stored row with another text (a
    shipped file edited in place), the file wins, as it always has for the
    deployment's own versions, and the conflict is logged: `hub policy
    import` refuses it, so someone must give the file a new version number.
    """
    by_key: dict[tuple[str, str], Policy] = {(p.id, p.version): p for p in files.versions()}
    for p in published:
        old = by_key.get((p.id, p.version))
        if old is None:
            by_key[(p.id, p.version)] = p
        elif old.digest != p.digest:
            log.error(
                "%s: version %s differs from the published version stored in the database "
                "(%s); the file is used. Published versions should never change: give the "
                "file a new version number.",
                old.source,
                p.version,
                p.digest,
            )
    return PolicyRegistry(by_key.values())


class PolicyCatalogue:
    """The policy registry of one folder (and a database), refreshed when either changes."""

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
        #: the time source of the check every ``check_every`` seconds (a test may replace
        #: it to step time instead of sleeping)
        self.monotonic = monotonic
        self.engine = engine
        # Import the shipped files at start-up, or as soon as the schema exists
        # (`hub demo` creates the app before it migrates the database).
        self._to_import = import_files and engine is not None
        self._import()
        self._lock = threading.Lock()
        self._signature = self._scan()
        self._files = PolicyRegistry.from_directory(self.directory)
        self._marker = self._db_marker()
        self._registry = self._merged()
        self._checked = self.monotonic()

    def _import(self) -> None:
        if self._to_import and self.engine is not None:
            self._to_import = not import_shipped(self.engine, self.directory)

    def _scan(self) -> tuple[tuple[str, int, int], ...]:
        files = sorted(self.directory.rglob("*.yaml"))
        return tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size) for f in files)

    def _db_marker(self) -> Any:
        """(count, latest published_at) of published versions; None without the table."""
        if self.engine is None:
            return None
        try:
            with self.engine.connect() as conn:
                row = conn.execute(_MARKER_SQL).one()
                return (row[0], str(row[1]))
        except sa.exc.SQLAlchemyError:
            return None

    def _published(self) -> list[Policy]:
        if self.engine is None or self._marker is None:
            return []
        from hub.policy import load_policy_text

        known = self._registry.versions() if hasattr(self, "_registry") else []
        cached = {p.digest: p for p in known}
        out = []
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(_PUBLISHED_SQL).all()
        except sa.exc.SQLAlchemyError as exc:
            log.error("published policy versions not read: %s", exc)
            return []
        for version, text, digest in rows:
            hit = cached.get(digest)
            if hit is not None:
                out.append(hit)
                continue
            try:
                out.append(load_policy_text(text, source=f"{version}.yaml"))
            except PolicyError as exc:
                log.error("published version %s does not load: %s", version, exc)
        return out

    def _merged(self) -> PolicyRegistry:
        return merge_registry(self._files, self._published())

    def refresh(self) -> None:
        """Rebuild now (after a publication in this process, or from a test)."""
        with self._lock:
            self._rebuild(force=True)

    def _rebuild(self, force: bool = False) -> None:
        self._checked = self.monotonic()
        signature = self._scan()
        if force or signature != self._signature:
            try:
                self._files = PolicyRegistry.from_directory(self.directory)
            except PolicyError as exc:
                log.error("policy folder %s not reloaded: %s", self.directory, exc)
            self._signature = signature
            force = True
        self._import()
        marker = self._db_marker()
        if force or marker != self._marker:
            self._marker = marker
            try:
                self._registry = self._merged()
            except PolicyError as exc:
                log.error("policy registry not rebuilt: %s", exc)

    def registry(self) -> PolicyRegistry:
        now = self.monotonic()
        if now - self._checked < self.check_every:
            return self._registry
        with self._lock:
            if self.monotonic() - self._checked >= self.check_every:
                self._rebuild()
        return self._registry

    def select(self, as_of: dt.date, version: str | None = None) -> Policy:
        return self.registry().select(as_of, version)


def import_shipped(engine: Engine, directory: str | Path) -> bool:
    """Store the shipped files as published versions (idempotent).

    Returns False when the database has no ``policy_version`` table yet (a
    bare database before ``hub db upgrade``): the catalogue tries again later.
    """
    from sqlmodel import Session

    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1 FROM policy_version WHERE 1 = 0"))
    except sa.exc.SQLAlchemyError:
        return False
    from hub.studio.versions import import_files

    session = Session(engine, expire_on_commit=False)
    try:
        report = import_files(session, directory)
        session.commit()
        for conflict in report.conflicts:
            log.error("%s", conflict)
    except sa.exc.IntegrityError:
        session.rollback()  # another server imported the same files at the same moment
    except sa.exc.SQLAlchemyError as exc:
        session.rollback()
        log.error("shipped policy versions not imported: %s", exc)
    finally:
        session.close()
    return True
