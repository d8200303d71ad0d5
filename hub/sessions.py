"""Sessions of signed-in users on the server, shared by every app server (Flask-Session).

A signed-in browser holds only a random session identifier (``session`` cookie, 32
random bytes); what its session says (the user, the CSRF token, flashed messages)
lives in a store every app server reads:

* Redis when ``HUB_REDIS_URL`` is set: any number of servers on any number of
  machines share the sessions;
* else a folder of files in the instance folder (cachelib's ``FileSystemCache``):
  several processes on one machine (``hub serve`` workers, ``hub demo``) share it,
  and no server is needed.

A visitor who is not signed in keeps Flask's signed cookie (a CSRF token, a flashed
message): anonymous traffic writes nothing on the server, so it costs no store round
trip and cannot fill the store. Signing in moves the session to the store under a
new identifier (an identifier planted before sign-in is worth nothing after it);
signing out deletes it there (``end_session``): a copy of the cookie taken before
no longer opens anything.

Requests under the paths given to ``init_app`` as ``without`` (the API, which
authenticates with bearer tokens) have no session: an empty one that no cookie fills
and that is never saved, so they read and write nothing, cookie or store.

Flask's signed cookie is made by ``SignedCookies``: the same cookies, but its signer is
built once per secret key rather than twice a request, and its HMAC-SHA1 is OpenSSL's.

A signed-in session ends on the server, whatever its cookie says, at the first of
(``check_lifetime``, before every request, by the app's clock):

* ``SESSION_MAX_AGE`` seconds after sign-in (``HUB_SESSION_MAX_AGE``: the absolute
  lifetime, however active the session);
* ``SESSION_IDLE_TIMEOUT`` seconds after its last request (``HUB_SESSION_IDLE_TIMEOUT``).

The session records when it was signed in (``start_signed_in``) and when it was last
used; the last use is written at most once per ``seen_step`` (a tenth of the idle
timeout, at most a minute), so reading pages writes the store about once a minute, not
once a request. The store itself forgets a record ``SESSION_IDLE_TIMEOUT`` plus that
step after it was last written, so idle records do not pile up. The file store keeps at
most ``FILE_STORE_LIMIT`` records: past it, the records that expire soonest are dropped
(those users sign in again).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cachelib.file import FileSystemCache
from flask.sessions import (
    SecureCookieSession,
    SecureCookieSessionInterface,
    SessionInterface,
    SessionMixin,
)
from flask_session.base import ServerSideSession, ServerSideSessionInterface
from flask_session.cachelib import CacheLibSessionInterface
from flask_session.redis import RedisSessionInterface

if TYPE_CHECKING:
    from flask import Flask, Request, Response
    from itsdangerous import URLSafeTimedSerializer

__all__ = [
    "FILE_STORE_LIMIT",
    "SignedCookies",
    "SignedInOnServer",
    "check_lifetime",
    "end_session",
    "init_app",
    "renew_session",
    "start_signed_in",
]

#: The most session records the file store keeps (see ``PruningFileCache``).
FILE_STORE_LIMIT = 20_000
#: Bytes of randomness in a session identifier (Flask-Session's default).
SID_BYTES = 32
#: The session key Flask-Login stores the signed-in user's identity under.
_USER_KEY = "_user_id"
#: A store identifier as the cookie carries it (``secrets.token_urlsafe(SID_BYTES)``).
_SID = re.compile(r"[A-Za-z0-9_-]{43}")
#: Session keys: when the session was signed in, and when it was last used (whole
#: seconds since the epoch, by the app's clock).
SIGNED_IN_AT = "_signed_in_at"
SEEN_AT = "_seen_at"


class PruningFileCache(FileSystemCache):
    """cachelib's file cache, pruned down to 90 % of its threshold when it overflows.

    cachelib drops one record at a time past the threshold, reading every file of the
    folder for each new record; dropping a tenth at once reads the folder once per
    ``threshold / 10`` new records instead.
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


class RedisSessions(RedisSessionInterface):
    """Signed-in sessions in Redis (``HUB_REDIS_URL``), shared by every server reaching it."""


class FileSessions(CacheLibSessionInterface):
    """Signed-in sessions in files of the instance folder, shared by one machine's processes."""


class SignedCookies(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, the same cookies made with less work.

    Flask builds a new signer (``URLSafeTimedSerializer``) when it opens a session and
    again when it saves it, and signs with ``hmac`` given a Python function (its lazy
    SHA-1), which sends every signature through ``hmac``'s pure-Python path. Here the
    signer is kept per secret key (and fallbacks), and the digest is ``hashlib.sha1``
    itself, which ``hmac`` hands to OpenSSL: the same HMAC-SHA1, the same signatures.
    """

    digest_method = staticmethod(hashlib.sha1)

    def __init__(self) -> None:
        self._signers: dict[tuple[Any, ...], URLSafeTimedSerializer] = {}

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        if not app.secret_key:
            return None
        key = (app.secret_key, *(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        signer = self._signers.get(key)
        if signer is None:
            signer = super().get_signing_serializer(app)
            assert signer is not None
            if len(self._signers) > 8:  # the key changed many times (tests)
                self._signers.clear()
            self._signers[key] = signer
        return signer


class SignedInOnServer(SessionInterface):
    """Flask's signed cookie for visitors, ``server`` for signed-in users.

    The cookie's value says which it is: a store identifier is 43 URL-safe characters,
    a signed cookie always holds a ``.``. A session is saved by what it holds: one with
    a user goes to the store (a new identifier when it comes from a cookie: sign-in),
    one without goes to a cookie and its record, if any, is deleted (sign-out, or an
    identifier the store no longer knows).

    A request whose path starts with one of ``without`` gets an empty session that is
    never saved: no cookie read, none set, nothing in the store.
    """

    def __init__(self, server: ServerSideSessionInterface, without: tuple[str, ...] = ()) -> None:
        self.server = server
        self.cookie = SignedCookies()
        self.without = without

    def open_session(self, app: Flask, request: Request) -> SessionMixin | None:
        if self.without and request.path.startswith(self.without):
            return NoSession()
        value = request.cookies.get(self.get_cookie_name(app), "")
        if _SID.fullmatch(value):
            opened: SessionMixin = self.server.open_session(app, request)
            return opened
        return self.cookie.open_session(app, request)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        if isinstance(session, NoSession):
            return
        if _USER_KEY in session:
            if not isinstance(session, ServerSideSession):  # signed in: a new identifier
                moved = self.server.session_class(
                    dict(session), sid=self.server._generate_sid(SID_BYTES)
                )
                moved.modified = True
                session = moved
            self.server.save_session(app, session, response)
            return
        if isinstance(session, ServerSideSession):  # signed out, or a forgotten identifier
            self.server._delete_session(self.server._get_store_id(session.sid))
            kept = SecureCookieSession({k: v for k, v in session.items() if k != "_permanent"})
            kept.modified = True
            session = kept
        self.cookie.save_session(app, session, response)


class NoSession(SecureCookieSession):
    """The session of a request that has none (``SignedInOnServer``'s ``without``):
    empty, and never saved."""


def init_app(app: Flask, without: tuple[str, ...] = ()) -> None:
    """Keep signed-in sessions on the server (``SignedInOnServer``); requests whose path
    starts with one of ``without`` (``"/api/"``) have none.

    Reads ``REDIS_URL`` (Redis when set, else ``<instance>/sessions/``),
    ``REDIS_KEY_PREFIX``, ``SESSION_IDLE_TIMEOUT`` and ``SESSION_MAX_AGE`` (seconds) from
    ``app.config``, and checks both bounds before every request (``check_lifetime``). The
    session cookie keeps the app's ``SESSION_COOKIE_*`` settings and lasts as long as
    the browser session.
    """
    idle = int(app.config["SESSION_IDLE_TIMEOUT"])
    # The store forgets a record once no request could still use it.
    app.config["PERMANENT_SESSION_LIFETIME"] = dt.timedelta(
        seconds=min(idle + seen_step(idle), int(app.config["SESSION_MAX_AGE"]))
    )
    app.before_request(check_lifetime)
    # A record is written when the session changes, not on every request that reads it.
    app.config["SESSION_REFRESH_EACH_REQUEST"] = False
    options: dict[str, Any] = {
        "key_prefix": f"{app.config['REDIS_KEY_PREFIX']}:session:",
        "use_signer": False,  # the identifier is random: nothing to sign
        "permanent": False,
        "sid_length": SID_BYTES,
        "serialization_format": "msgpack",
    }
    server: ServerSideSessionInterface
    if app.config.get("REDIS_URL"):
        import redis

        client = redis.Redis.from_url(app.config["REDIS_URL"])
        server = RedisSessions(app, client=client, **options)
    else:
        folder = Path(app.instance_path) / "sessions"
        cache = PruningFileCache(
            str(folder), threshold=FILE_STORE_LIMIT, default_timeout=0, mode=0o600
        )
        server = FileSessions(app, client=cache, **options)
    app.session_interface = SignedInOnServer(server, without)


def renew_session() -> None:
    """Give a signed-in session a new identifier and delete its old record (a password
    change). A visitor's session gets one when it is signed in (``SignedInOnServer``)."""
    from flask import current_app, session

    interface = current_app.session_interface
    current = session._get_current_object()  # type: ignore[attr-defined]
    if isinstance(interface, SignedInOnServer) and isinstance(current, ServerSideSession):
        interface.server.regenerate(current)


def end_session() -> None:
    """Delete the current session from the store and start an empty one (sign-out).

    Without a user, the session's record is deleted when the answer is sent
    (``SignedInOnServer.save_session``); what the request adds afterwards (a flashed
    message) goes in a visitor's cookie. A copy of the old cookie finds nothing.
    """
    from flask import session

    session.clear()


def seen_step(idle_timeout: int) -> int:
    """Seconds between two writes of a session's last use: a tenth of ``idle_timeout``
    (seconds), at most 60. The idle timeout is enforced to within this step."""
    return max(1, min(60, idle_timeout // 10))


def start_signed_in(now: dt.datetime) -> None:
    """Record in the current session that it was signed in at ``now`` (aware): its
    lifetime and idle timeout count from there. Call it right after ``login_user``."""
    from flask import session

    stamp = int(now.timestamp())
    session[SIGNED_IN_AT] = stamp
    session[SEEN_AT] = stamp


def check_lifetime() -> None:
    """End the current signed-in session when it is older than ``SESSION_MAX_AGE`` or
    was idle for ``SESSION_IDLE_TIMEOUT`` (seconds, by the app's clock), flashing why;
    else note its use (written at most once per ``seen_step``).

    A signed-in session that carries no sign-in time (made before these bounds existed,
    or by hand) is ended too. Runs before every request (``init_app``); requests without
    a session (the API) and visitors are left alone.
    """
    from flask import current_app, flash, session

    from hub.app_clock import app_clock

    if isinstance(session, NoSession) or _USER_KEY not in session:
        return
    config = current_app.config
    now = int(app_clock().now().timestamp())
    signed_in, seen = session.get(SIGNED_IN_AT), session.get(SEEN_AT)
    idle = int(config["SESSION_IDLE_TIMEOUT"])
    max_age = int(config["SESSION_MAX_AGE"])
    if not isinstance(signed_in, int) or not isinstance(seen, int):
        ended = "Please sign in again."
    elif now - signed_in >= max_age:
        ended = (
            f"You were signed out: a session lasts {_duration(max_age)} after signing in. "
            "Please sign in again."
        )
    elif now - seen >= idle:
        ended = (
            f"You were signed out after {_duration(idle)} without activity. Please sign in again."
        )
    else:
        if now - seen >= seen_step(idle):
            session[SEEN_AT] = now
        return
    session.clear()
    flash(ended, "info")


def _duration(seconds: int) -> str:
    """``seconds`` in words: "12 hours", "30 minutes", "90 seconds"."""
    for unit, size in (("hour", 3600), ("minute", 60)):
        if seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} seconds"
