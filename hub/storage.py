"""Storage without a web framework: the engine, stored datetimes, migrations, locking.

``make_engine`` builds an engine with the settings each backend needs;
``UTCDateTime`` and ``utcnow`` keep every stored datetime timezone-aware UTC;
the migration helpers run the Alembic scripts shipped in ``hub/migrations``;
``update_if_unchanged`` is the optimistic-locking UPDATE. Nothing here knows
Flask, so services, workers and commands use it directly; the per-request
session of the web app is ``hub.db``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

import sqlalchemy as sa
from sqlalchemy import create_engine
from sqlalchemy.engine import CursorResult, Engine

if TYPE_CHECKING:  # SQLModel is not imported to build an engine: `hub assess` starts faster
    from sqlmodel import Session


def utcnow() -> datetime:
    """The current time as a timezone-aware UTC datetime (the only kind stored)."""
    return datetime.now(UTC)


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """A datetime column that always gives back timezone-aware UTC values.

    SQLite has no time zones and returns naive values; PostgreSQL returns
    aware ones in the session's zone. Normalising here means the rest of the
    code never compares naive with aware datetimes.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use hub.storage.utcnow()")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine with the settings this service needs on each backend."""
    if url.startswith("sqlite"):
        connect_args = {"check_same_thread": False, "timeout": 30}
        engine = create_engine(url, connect_args=connect_args, **kwargs)

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


# --- migrations ------------------------------------------------------------------------


def alembic_config(url: str | None = None, connection: sa.Connection | None = None) -> Any:
    """An Alembic configuration for the migrations shipped inside the package.

    No alembic.ini is needed: the scripts live in ``hub/migrations`` so that
    ``hub db upgrade`` works from an installed wheel as well as a checkout.
    A ``connection`` given here is used as is (tests run migrations inside
    their own connection and schema).
    """
    from pathlib import Path

    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    if url is not None:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def upgrade_database(
    url: str | None = None, *, connection: sa.Connection | None = None, revision: str = "head"
) -> None:
    """Apply the migrations up to ``revision`` (all of them by default)."""
    from alembic import command

    command.upgrade(alembic_config(url, connection), revision)


def downgrade_database(
    url: str | None = None, *, connection: sa.Connection | None = None, revision: str = "base"
) -> None:
    """Undo migrations down to ``revision`` (everything by default)."""
    from alembic import command

    command.downgrade(alembic_config(url, connection), revision)


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None for an empty database."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


# --- optimistic locking -------------------------------------------------------------------


def update_if_unchanged(
    session: Session,
    model: type[Any],
    row_id: Any,
    expected_lock_version: int,
    *,
    where: Mapping[str, Any] | None = None,
    bump: bool = True,
    **values: Any,
) -> bool:
    """Apply ``values`` to a row only if its ``lock_version`` is still the expected one.

    One conditional UPDATE that also bumps ``lock_version``: of two users who
    read the same version and both save, exactly one succeeds and the other
    gets False (show a conflict, overwrite nothing). Works the same on SQLite
    and PostgreSQL without holding locks between requests.

    ``where`` names more columns that must still hold the values read (column
    name -> value; None means NULL), such as a state the change starts from:
    ``where={"state": "draft"}``. ``bump=False`` leaves ``lock_version`` as it
    is, for a change that is not a new revision of the row (an approval of the
    revision read). ``values`` are column name -> new value. Objects of this
    row already loaded in ``session`` are refreshed on their next access.
    Raises ``KeyError`` naming a column the table does not have.
    """
    table = model.__table__
    conditions = [table.c.id == row_id, table.c.lock_version == expected_lock_version]
    for name, value in (where or {}).items():
        column = table.c[name]
        conditions.append(column.is_(None) if value is None else column == value)
    if bump:
        values = {**values, "lock_version": expected_lock_version + 1}
    statement = sa.update(table).where(*conditions).values(**values)
    # An UPDATE's result is a CursorResult (it has rowcount); Session.execute is typed for all.
    result = cast(
        CursorResult[Any],
        session.execute(statement, execution_options={"synchronize_session": False}),
    )
    changed = result.rowcount == 1
    if changed:  # without loading the row when the session does not hold it
        obj = session.identity_map.get(session.identity_key(model, row_id))
        if obj is not None:
            session.expire(obj)
    return changed
