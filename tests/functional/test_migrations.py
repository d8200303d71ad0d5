"""Migrations build the schema from nothing, on SQLite and on PostgreSQL, and match the models."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from hub.storage import downgrade_database, make_engine, upgrade_database

TABLES = {
    "company",
    "user",
    "filing",
    "assessment",
    "audit_record",
    "api_token",
    "policy_version",
    "criterion_override",
    "impact_run",
    "impact_chunk",
    "impact_row",
    "studio_job",
    "company_warning",
    "notification",
    "mail_message",
    "notification_mute",
}


def _pg_url() -> str | None:
    url = os.environ.get("HUB_DATABASE_URL", "")
    return url if url.startswith("postgresql") else None


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param(
            "postgresql",
            marks=[
                pytest.mark.postgres,
                pytest.mark.skipif(_pg_url() is None, reason="HUB_DATABASE_URL is not PostgreSQL"),
            ],
        ),
    ]
)
def empty_connection(request, tmp_path) -> Iterator[sa.Connection]:
    """A connection to an empty database: a new SQLite file, or a new PostgreSQL schema."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'empty.sqlite'}")
        with engine.connect() as conn:
            yield conn
        engine.dispose()
        return
    schema = f"migration_test_{uuid.uuid4().hex[:8]}"
    admin = make_engine(_pg_url())
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(_pg_url(), connect_args={"options": f"-csearch_path={schema}"})
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _tables(conn: sa.Connection) -> set[str]:
    return set(sa.inspect(conn).get_table_names())


def test_upgrade_from_empty_creates_every_table(empty_connection):
    conn = empty_connection
    assert _tables(conn) == set()
    upgrade_database(connection=conn)
    conn.commit()
    assert TABLES | {"alembic_version"} == _tables(conn)
    assert MigrationContext.configure(conn).get_current_revision() is not None


def test_downgrade_to_empty_and_up_again(empty_connection):
    conn = empty_connection
    upgrade_database(connection=conn)
    conn.commit()
    downgrade_database(connection=conn)
    conn.commit()
    assert _tables(conn) <= {"alembic_version"}
    upgrade_database(connection=conn)
    conn.commit()
    assert _tables(conn) >= TABLES


def test_migrations_match_the_models(empty_connection):
    """A model change without a migration fails here."""
    conn = empty_connection
    upgrade_database(connection=conn)
    conn.commit()
    context = MigrationContext.configure(conn, opts={"compare_type": False})
    diff = compare_metadata(context, SQLModel.metadata)
    assert diff == []


def test_audit_records_cannot_be_changed_or_deleted(empty_connection):
    conn = empty_connection
    upgrade_database(connection=conn)
    conn.commit()
    conn.execute(
        sa.text(
            "INSERT INTO audit_record (at, action, entity_type, prev_hash, hash) "
            "VALUES (CURRENT_TIMESTAMP, 'test', 'test', :p, :h)"
        ),
        {"p": "0" * 64, "h": "1" * 64},
    )
    conn.commit()
    for statement in ("UPDATE audit_record SET action = 'forged'", "DELETE FROM audit_record"):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"):
            conn.execute(sa.text(statement))
        conn.rollback()
    assert conn.execute(sa.text("SELECT action FROM audit_record")).scalar_one() == "test"


def test_cli_upgrade_on_the_configured_database(database_url):
    """`hub db upgrade` on an already migrated database is a no-op, not an error."""
    upgrade_database(database_url)
    engine = make_engine(database_url)
    with engine.connect() as conn:
        assert _tables(conn) >= TABLES
    engine.dispose()
