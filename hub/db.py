"""Database sessions of the web app.

One engine per app (stored in ``app.extensions``, built by ``hub.storage.make_engine``),
one session per request (``get_session()`` inside views, closed at teardown), and
``session_scope()`` for the CLI and background work. Persistence functions elsewhere
take an explicit session, so they work the same from a view, a command or a test; the
Flask-free parts (engine, stored datetimes, migrations, optimistic locking) are
``hub.storage``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask, current_app, g
from sqlalchemy.engine import Engine
from sqlmodel import Session

from hub.storage import make_engine

EXTENSION_KEY = "hub.db"


def init_app(app: Flask) -> None:
    """Bind the engine to the app and close the request's session at teardown."""
    engine = make_engine(app.config["DATABASE_URL"])
    app.extensions[EXTENSION_KEY] = engine
    app.teardown_appcontext(_close_session)


def get_engine(app: Flask | None = None) -> Engine:
    """The engine of the given (or current) app."""
    return (app or current_app).extensions[EXTENSION_KEY]


def get_session() -> Session:
    """The session of the current request or app context, opened on first use."""
    if "db_session" not in g:
        g.db_session = Session(get_engine(), expire_on_commit=False)
    return g.db_session


def _close_session(_exc: BaseException | None) -> None:
    session: Session | None = g.pop("db_session", None)
    if session is not None:
        # Whatever a view did not commit explicitly is thrown away.
        session.rollback()
        session.close()


@contextmanager
def session_scope(app: Flask | None = None) -> Iterator[Session]:
    """A session for commands and jobs: commit on success, roll back on error."""
    session = Session(get_engine(app), expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
