"""Server-side sessions shared by every app server (Flask-Session).

The browser holds only a random session identifier (``session`` cookie, 32 random
bytes); what the session says (the signed-in user, the CSRF token, flashed
messages) lives in a store every app server reads:

* Redis when ``HUB_REDIS_URL`` is set: any number of servers on any number of
  machines share the sessions;
* else a folder of files in the instance folder (cachelib's ``FileSystemCache``):
  several processes on one machine (``hub serve`` workers, ``hub demo``) share it,
  and no server is needed.

Signing out deletes the session from the store (``end_session``): a copy of the
cookie taken before no longer opens anything. Signing in gives the session a new
identifier (``renew_session``), so an identifier planted before sign-in is worth
nothing after it.

Records expire by themselves: a signed-in session ``SESSION_LIFETIME`` seconds
after it last changed, an anonymous one (a visitor's CSRF token) after
``WTF_CSRF_TIME_LIMIT`` seconds, when its token is no longer accepted anyway. The
file store also keeps at most ``FILE_STORE_LIMIT`` records: past it, the records
that expire soonest (anonymous ones first) are dropped.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cachelib.file import FileSystemCache
from flask_session.base import ServerSideSession, ServerSideSessionInterface
from flask_session.cachelib import CacheLibSessionInterface
from flask_session.redis import RedisSessionInterface

if TYPE_CHECKING:
    from flask import Flask

__all__ = ["FILE_STORE_LIMIT", "end_session", "init_app", "renew_session"]

#: The most session records the file store keeps (see ``PruningFileCache``).
FILE_STORE_LIMIT = 20_000
#: Bytes of randomness in a session identifier (Flask-Session's default).
SID_BYTES = 32
#: The session key Flask-Login stores the signed-in user's identity under.
_USER_KEY = "_user_id"


class PruningFileCache(FileSystemCache):
    """cachelib's file cache, pruned down to 90 % of its threshold when it overflows.

    cachelib drops one record at a time past the threshold, reading every file of the
    folder for each new record; dropping a tenth at once reads the folder once per
    ``threshold / 10`` new records instead (a flood of anonymous visitors stays cheap).
    """

    def _prune(self) -> None:
        if not self._over_threshold():
            return
        threshold = self._threshold
        self._threshold = max(1, threshold * 9 // 10)
        try:
            super()._prune()
        finally:
            self._threshold = threshold


class _LifetimeByState(ServerSideSessionInterface):
    """Stores a signed-in session for the app's session lifetime, an anonymous one for
    at most ``anonymous_lifetime`` (set by ``init_app``)."""

    anonymous_lifetime = dt.timedelta(hours=8)

    def _upsert_session(
        self, session_lifetime: dt.timedelta, session: ServerSideSession, store_id: str
    ) -> None:
        if _USER_KEY not in session:
            session_lifetime = min(session_lifetime, self.anonymous_lifetime)
        super()._upsert_session(session_lifetime, session, store_id)


class RedisSessions(_LifetimeByState, RedisSessionInterface):
    """Sessions in Redis (``HUB_REDIS_URL``), shared by every server that reaches it."""


class FileSessions(_LifetimeByState, CacheLibSessionInterface):
    """Sessions in files of the instance folder, shared by the processes of one machine."""


def init_app(app: Flask) -> None:
    """Replace the app's cookie sessions by server-side ones.

    Reads ``REDIS_URL`` (Redis when set, else ``<instance>/sessions/``),
    ``REDIS_KEY_PREFIX``, ``SESSION_LIFETIME`` (seconds) and ``WTF_CSRF_TIME_LIMIT``
    (seconds) from ``app.config``. The session cookie keeps the app's
    ``SESSION_COOKIE_*`` settings and lasts as long as the browser session.
    """
    lifetime = dt.timedelta(seconds=float(app.config["SESSION_LIFETIME"]))
    app.config["PERMANENT_SESSION_LIFETIME"] = lifetime
    # A record is written when the session changes, not on every request it is read.
    app.config["SESSION_REFRESH_EACH_REQUEST"] = False
    options: dict[str, Any] = {
        "key_prefix": f"{app.config['REDIS_KEY_PREFIX']}:session:",
        "use_signer": False,  # the identifier is random: nothing to sign
        "permanent": False,
        "sid_length": SID_BYTES,
        "serialization_format": "msgpack",
    }
    interface: _LifetimeByState
    if app.config.get("REDIS_URL"):
        import redis

        client = redis.Redis.from_url(app.config["REDIS_URL"])
        interface = RedisSessions(app, client=client, **options)
    else:
        folder = Path(app.instance_path) / "sessions"
        cache = PruningFileCache(
            str(folder), threshold=FILE_STORE_LIMIT, default_timeout=0, mode=0o600
        )
        interface = FileSessions(app, client=cache, **options)
    anonymous = float(app.config.get("WTF_CSRF_TIME_LIMIT") or lifetime.total_seconds())
    interface.anonymous_lifetime = min(lifetime, dt.timedelta(seconds=anonymous))
    app.session_interface = interface


def renew_session() -> None:
    """Give the current session a new identifier and delete its old record (sign-in).

    A session with nothing in it has no record and keeps its (unsent) identifier.
    """
    from flask import current_app, session

    interface = current_app.session_interface
    if isinstance(interface, ServerSideSessionInterface) and isinstance(session, ServerSideSession):
        interface.regenerate(session)


def end_session() -> None:
    """Delete the current session from the store and start an empty one (sign-out).

    What the request adds afterwards (a flashed message) goes in a new record under a
    new identifier; a copy of the old cookie finds nothing.
    """
    from flask import session

    renew_session()
    session.clear()
