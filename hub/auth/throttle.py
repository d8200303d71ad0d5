"""Failed sign-ins throttled per account, without a lockout an attacker can aim at a user.

Every address is limited to ``AUTH_LIMIT`` sign-in attempts (``hub.auth.views``, per
client address). On top of that, failures are counted per account (the e-mail address
typed, normalised, whether or not an account has it, so the counts say nothing about
which accounts exist), in Flask-Limiter's storage (Redis when configured: every app
server counts against the same limits):

* per account **and** client address: ``PAIR_LIMIT`` failures (5 in 15 minutes), then
  that address may not try that account again until the window has room. It stops one
  machine guessing one password; it cannot lock the real user out from elsewhere.
* per account from any address: ``ACCOUNT_LIMIT`` failures (20 in an hour), which stops
  a guesser spreading over many addresses. A client that has signed in to this account
  before carries a *device cookie* (signed, ``DEVICE_COOKIE``, kept ``DEVICE_DAYS``
  days, naming the account by a digest) and is exempt from this limit, so an attacker
  who exhausts it shuts out only new devices, never the user at their usual browser
  (OWASP's "device cookies" scheme).

Throttled attempts are refused before the password is checked (status 429, with a
message saying for how long); a success counts nothing. All of it is off when
``RATELIMIT_ENABLED`` is (as in tests that do not ask for it).
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

from flask import current_app, request
from flask_limiter.util import get_remote_address
from itsdangerous import BadSignature, URLSafeTimedSerializer
from limits import RateLimitItem, parse
from werkzeug.wrappers import Response

from hub.extensions import limiter

#: Failed sign-ins one client address may make on one account.
PAIR_LIMIT: RateLimitItem = parse("5 per 15 minutes")
#: Failed sign-ins on one account from clients without its device cookie.
ACCOUNT_LIMIT: RateLimitItem = parse("20 per hour")
#: The cookie a successful sign-in leaves, exempting that browser from ``ACCOUNT_LIMIT``.
DEVICE_COOKIE = "hub_device"
#: How long a device cookie is honoured after the sign-in that set it.
DEVICE_DAYS = 180
_DEVICE_SALT = "hub.auth.device"


def account_key(email: str) -> str:
    """The account's name in counters and device cookies: a SHA-256 of the normalised
    e-mail address typed (no address in the limiter's storage)."""
    return hashlib.sha256(email.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True)
class Throttle:
    """Why sign-ins to an account are refused for now: ``message`` to show and
    ``retry_after`` (whole seconds)."""

    message: str
    retry_after: int


def _keys(email: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    prefix = current_app.config.get("RATELIMIT_KEY_PREFIX") or "hub:limits"
    account = account_key(email)
    return (prefix, "signin-pair", account, get_remote_address()), (
        prefix,
        "signin-account",
        account,
    )


def _enabled() -> bool:
    return bool(current_app.config.get("RATELIMIT_ENABLED", True))


def _wait(item: RateLimitItem, keys: tuple[str, ...]) -> int:
    reset = limiter.limiter.get_window_stats(item, *keys).reset_time
    return max(1, math.ceil(reset - time.time()))


def _in_minutes(seconds: int) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def trusted_device(email: str) -> bool:
    """Whether the request carries a valid device cookie for ``email``'s account."""
    value = request.cookies.get(DEVICE_COOKIE, "")
    if not value or len(value) > 400:
        return False
    try:
        account = _serializer().loads(value, max_age=DEVICE_DAYS * 86400)
    except BadSignature:
        return False
    return account == account_key(email)


def refused(email: str) -> Throttle | None:
    """Whether a sign-in to ``email`` (normalised) from this client must be refused now,
    before its password is checked: why and for how long, else None."""
    if not _enabled():
        return None
    pair, account = _keys(email)
    strategy = limiter.limiter
    if not strategy.test(PAIR_LIMIT, *pair):
        wait = _wait(PAIR_LIMIT, pair)
        return Throttle(
            "Too many failed sign-ins to this account from your network: try again in "
            f"{_in_minutes(wait)}. If you forgot the password, ask your administrator.",
            wait,
        )
    if not strategy.test(ACCOUNT_LIMIT, *account) and not trusted_device(email):
        wait = _wait(ACCOUNT_LIMIT, account)
        return Throttle(
            "Too many failed sign-ins to this account from new devices: try again in "
            f"{_in_minutes(wait)}, or sign in from a browser you have used to sign in "
            "to it before.",
            wait,
        )
    return None


def count_failure(email: str) -> None:
    """Count a failed sign-in to ``email`` (normalised) from this client."""
    if not _enabled():
        return
    pair, account = _keys(email)
    limiter.limiter.hit(PAIR_LIMIT, *pair)
    if not trusted_device(email):
        limiter.limiter.hit(ACCOUNT_LIMIT, *account)


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key or "", salt=_DEVICE_SALT)


def remember_device(response: Response, email: str) -> None:
    """Leave the device cookie of ``email``'s account on ``response`` (a successful
    sign-in), with the session cookie's flags (HttpOnly, SameSite, Secure)."""
    config = current_app.config
    response.set_cookie(
        DEVICE_COOKIE,
        _serializer().dumps(account_key(email)),
        max_age=DEVICE_DAYS * 86400,
        httponly=True,
        secure=bool(config.get("SESSION_COOKIE_SECURE")),
        samesite=config.get("SESSION_COOKIE_SAMESITE") or "Lax",
        path="/login",
    )
