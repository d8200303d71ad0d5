"""Settings read from the environment.

Everything the service needs to know about its surroundings comes from
``HUB_*`` environment variables, so the same package runs as the one-command
demo (no variables at all), under tests (a dict passed to ``create_app``) and
behind a load balancer against PostgreSQL (variables set by the operator).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

#: The source tree: the folder that holds the ``hub`` package (this file is ``hub/config.py``).
_SOURCE_TREE = Path(__file__).resolve().parent.parent

#: The policy files shipped with the source tree (``policies/`` beside ``hub/``).
DEFAULT_POLICY_DIR = _SOURCE_TREE / "policies"
#: The Gherkin scenarios shipped with the source tree (``features/`` beside ``hub/``).
DEFAULT_FEATURES_DIR = _SOURCE_TREE / "features"

#: Names that are not settings but look like one, with the setting that does the job.
#: Start-up refuses them rather than ignoring them (or, worse, honouring them in some
#: commands only): a folder silently not used is harder to find than a clear error.
NOT_SETTINGS = {
    "HUB_POLICIES_DIR": "HUB_POLICY_DIR",
    # A signed-in session's bound is its absolute lifetime and its idle timeout now.
    "HUB_SESSION_LIFETIME": "HUB_SESSION_MAX_AGE",
}


class ConfigError(RuntimeError):
    """The service cannot start with the configuration it was given."""


def check_environment(environ: Mapping[str, str] | None = None) -> None:
    """Refuse a name of ``NOT_SETTINGS``, naming the setting to use instead.

    Raises ConfigError; ``create_app`` and every ``hub`` command call it at start-up.
    """
    env = os.environ if environ is None else environ
    for wrong, right in NOT_SETTINGS.items():
        if wrong in env:
            raise ConfigError(
                f"{wrong} is not a setting: use {right} (set {right}={env[wrong]} and "
                f"unset {wrong})"
            )


def policy_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The folder of the policy version files: HUB_POLICY_DIR, else the shipped policies/."""
    env = os.environ if environ is None else environ
    return Path(env.get("HUB_POLICY_DIR") or DEFAULT_POLICY_DIR)


def features_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The folder of the Gherkin scenarios: HUB_FEATURES_DIR, else the shipped features/."""
    env = os.environ if environ is None else environ
    return Path(env.get("HUB_FEATURES_DIR") or DEFAULT_FEATURES_DIR)


def instance_path(environ: Mapping[str, str] | None = None) -> Path:
    """The instance folder: HUB_INSTANCE_PATH, else the one Flask gives the ``hub`` app.

    Flask's rule without importing Flask (the command line starts faster): the
    ``instance/`` folder beside the ``hub`` package in a source tree, or
    ``<prefix>/var/hub-instance`` for a package installed under ``sys.prefix`` or a
    ``site-packages`` folder.
    """
    import sys

    env = os.environ if environ is None else environ
    if env.get("HUB_INSTANCE_PATH"):
        return Path(env["HUB_INSTANCE_PATH"])
    package_path = Path(os.path.abspath(_SOURCE_TREE))
    prefix = Path(os.path.abspath(sys.prefix))
    if package_path.is_relative_to(prefix):
        return prefix / "var" / "hub-instance"
    if package_path.name.lower() == "site-packages":
        parent = package_path.parent
        if parent.name.lower() == "lib":
            return parent.parent / "var" / "hub-instance"
        if parent.parent.name.lower() == "lib":
            return parent.parent.parent / "var" / "hub-instance"
        return parent / "var" / "hub-instance"
    return package_path / "instance"


def default_database_url(instance: str | os.PathLike[str]) -> str:
    """The embedded database: an SQLite file ``hub.sqlite`` in the instance folder."""
    return f"sqlite:///{Path(instance) / 'hub.sqlite'}"


def configured_database(environ: Mapping[str, str] | None = None) -> str | None:
    """The database the command line reads policy versions from, or None for none.

    HUB_DATABASE_URL when set; else the default SQLite file when it exists (a
    ``hub demo`` or ``hub db upgrade`` made it); else None: the command line
    reads the policy folder alone.
    """
    env = os.environ if environ is None else environ
    if env.get("HUB_DATABASE_URL"):
        return env["HUB_DATABASE_URL"]
    path = instance_path(env) / "hub.sqlite"
    return default_database_url(path.parent) if path.is_file() else None


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _number(env: Mapping[str, str], name: str, default: float, *, minimum: float) -> float:
    """A number of seconds (or a count) from ``name``; ConfigError naming it when it is not
    a number of at least ``minimum``."""
    text = (env.get(name) or "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value >= minimum or value == float("inf"):
        raise ConfigError(f"{name}={text!r} is not a number of at least {minimum:g}")
    return value


def _count(env: Mapping[str, str], name: str, default: int) -> int:
    """A whole number of at least 1 from ``name``; ConfigError naming it otherwise."""
    text = (env.get(name) or "").strip()
    if not text:
        return default
    if not text.isascii() or not text.isdigit() or int(text) < 1:
        raise ConfigError(f"{name}={text!r} is not a whole number of at least 1")
    return int(text)


def queue_settings(env: Mapping[str, str]) -> dict[str, Any]:
    """The task queue's settings (``hub.tasks``): broker, queue name, visibility timeout,
    attempts and the delay between them. ConfigError naming the setting when one is wrong."""
    queue = (env.get("HUB_QUEUE") or "").strip() or "hub"
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,100}", queue):
        raise ConfigError(
            f"HUB_QUEUE={queue!r} is not a queue name: use 1 to 100 letters, digits, '.', "
            "'_' or '-'"
        )
    return {
        # Empty: the embedded broker (files in the instance folder; see hub.tasks).
        "BROKER_URL": (env.get("HUB_BROKER_URL") or "").strip(),
        "QUEUE_NAME": queue,
        "BROKER_VISIBILITY_TIMEOUT": _number(env, "HUB_BROKER_VISIBILITY_TIMEOUT", 600, minimum=1),
        "JOB_ATTEMPTS": _count(env, "HUB_JOB_ATTEMPTS", 3),
        "JOB_RETRY_DELAY": _number(env, "HUB_JOB_RETRY_DELAY", 10, minimum=0),
    }


def impact_settings(env: Mapping[str, str]) -> dict[str, Any]:
    """How long studio impact analyses keep their company rows (``hub.studio.impact_runs.
    prune_rows``): the newest ``HUB_IMPACT_KEEP_RUNS`` finished analyses, and none older
    than ``HUB_IMPACT_ROWS_MAX_AGE_DAYS`` days (0 or unset: no age limit). ConfigError
    naming the setting when one is wrong."""
    return {
        "IMPACT_KEEP_RUNS": _count(env, "HUB_IMPACT_KEEP_RUNS", 20),
        "IMPACT_ROWS_MAX_AGE_DAYS": _number(env, "HUB_IMPACT_ROWS_MAX_AGE_DAYS", 0, minimum=0),
    }


def serve_settings(env: Mapping[str, str]) -> dict[str, Any]:
    """The HTTP server's bounds (``hub.serving.ServeBounds``), whichever server runs:
    connections per server process, seconds a connection may stay silent, bytes of a
    request's line and headers. ConfigError naming the setting when one is wrong."""
    max_header_bytes = _count(env, "HUB_SERVE_MAX_HEADER_BYTES", 16384)
    if max_header_bytes < 1024:
        raise ConfigError(
            f"HUB_SERVE_MAX_HEADER_BYTES={max_header_bytes} is too small: a browser's "
            "request line and headers take about 1,000 bytes (use at least 1024)"
        )
    return {
        "SERVE_MAX_CONNECTIONS": _count(env, "HUB_SERVE_MAX_CONNECTIONS", 1000),
        "SERVE_IDLE_TIMEOUT": _count(env, "HUB_SERVE_IDLE_TIMEOUT", 10),
        "SERVE_MAX_HEADER_BYTES": max_header_bytes,
    }


def session_settings(env: Mapping[str, str]) -> dict[str, Any]:
    """How long a signed-in session lasts (``hub.sessions``): ``SESSION_IDLE_TIMEOUT``
    (HUB_SESSION_IDLE_TIMEOUT, seconds without a request, default 1,800) and
    ``SESSION_MAX_AGE`` (HUB_SESSION_MAX_AGE, seconds since sign-in, default 43,200),
    both whole numbers of at least 60 with the idle timeout at most the lifetime.
    ConfigError naming the setting when one is wrong."""
    values: dict[str, int] = {}
    for name, default in (("HUB_SESSION_IDLE_TIMEOUT", 1800), ("HUB_SESSION_MAX_AGE", 43200)):
        text = (env.get(name) or "").strip()
        if not text:
            values[name] = default
            continue
        if not text.isascii() or not text.isdigit() or int(text) < 60:
            raise ConfigError(f"{name}={text!r} is not a whole number of seconds of at least 60")
        values[name] = int(text)
    idle, max_age = values["HUB_SESSION_IDLE_TIMEOUT"], values["HUB_SESSION_MAX_AGE"]
    if idle > max_age:
        raise ConfigError(
            f"HUB_SESSION_IDLE_TIMEOUT={idle} is longer than HUB_SESSION_MAX_AGE={max_age}: "
            "a session ends at its lifetime however active it is, so the idle timeout "
            "must be at most the lifetime"
        )
    return {"SESSION_IDLE_TIMEOUT": idle, "SESSION_MAX_AGE": max_age}


def shared_state_settings(env: Mapping[str, str]) -> dict[str, Any]:
    """What the app servers share (``hub.sessions``, the rate limits): ``REDIS_URL``
    (HUB_REDIS_URL, empty for none), ``REDIS_KEY_PREFIX``, the sessions' idle timeout and
    lifetime (:func:`session_settings`) and Flask-Limiter's storage and key prefix.

    The rate limits are counted in HUB_RATELIMIT_STORAGE_URI, else in HUB_REDIS_URL,
    else in each process's memory (``memory://``: every process counts alone).
    ConfigError naming the setting when one is wrong.
    """
    redis_url = (env.get("HUB_REDIS_URL") or "").strip()
    if redis_url and not redis_url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(
            f"HUB_REDIS_URL={redis_url!r} is not a Redis URL: use redis://host:port/db, "
            "rediss://... (TLS) or unix:///path/to/socket"
        )
    prefix = (env.get("HUB_REDIS_KEY_PREFIX") or "").strip() or "hub"
    if not re.fullmatch(r"[A-Za-z0-9_.:-]{1,100}", prefix):
        raise ConfigError(
            f"HUB_REDIS_KEY_PREFIX={prefix!r} is not a key prefix: use 1 to 100 letters, "
            "digits, '.', '_', ':' or '-'"
        )
    storage = (env.get("HUB_RATELIMIT_STORAGE_URI") or "").strip() or redis_url or "memory://"
    return {
        "REDIS_URL": redis_url,
        "REDIS_KEY_PREFIX": prefix,
        **session_settings(env),
        "RATELIMIT_STORAGE_URI": storage,
        "RATELIMIT_KEY_PREFIX": f"{prefix}:limits",
    }


#: Where links in messages point unless ``HUB_BASE_URL`` says otherwise (``hub serve``'s).
DEFAULT_BASE_URL = "http://127.0.0.1:5000"
#: Who messages come from unless ``HUB_MAIL_FROM`` says otherwise.
DEFAULT_MAIL_FROM = "Astana Crypto Hub <no-reply@hub.localhost>"


def smtp_settings(url: str) -> dict[str, Any]:
    """Flask-Mailman's settings (``MAIL_*``) from an SMTP URL.

    ``smtp://[user[:password]@]host[:port][?starttls=true][&timeout=S]`` (port 25, or 587
    with ``starttls=true``: STARTTLS after connecting) or ``smtps://...`` (TLS from the
    start, port 465). The user and password are percent-decoded (``%40`` for ``@``).
    Empty: no SMTP server (``MAIL_BACKEND`` None: mail is kept in the outbox).
    ConfigError naming ``HUB_SMTP_URL`` for anything else.
    """
    from urllib.parse import parse_qs, unquote, urlsplit

    text = url.strip()
    if not text:
        return {"MAIL_BACKEND": None}

    def bad(why: str) -> ConfigError:
        return ConfigError(
            f"HUB_SMTP_URL is not an SMTP URL ({why}): use smtp://user:password@host:587"
            "?starttls=true, smtps://user:password@host:465 or smtp://host:25"
        )

    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise bad(str(exc)) from None
    if parts.scheme not in ("smtp", "smtps"):
        raise bad(f"scheme {parts.scheme!r}")
    if not parts.hostname:
        raise bad("no host")
    if parts.path not in ("", "/") or parts.fragment:
        raise bad("a path or fragment")
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(set(query) - {"starttls", "timeout"})
    if unknown:
        raise bad(f"unknown option {unknown[0]!r}")
    starttls_text = (query.get("starttls") or ["false"])[-1].strip().lower()
    if starttls_text not in ("true", "false", "1", "0", "yes", "no"):
        raise bad(f"starttls={starttls_text!r} is not true or false")
    starttls = starttls_text in ("true", "1", "yes")
    ssl = parts.scheme == "smtps"
    if ssl and starttls:
        raise bad("smtps:// is TLS from the start: leave out starttls")
    timeout_text = (query.get("timeout") or ["30"])[-1].strip()
    try:
        timeout = float(timeout_text)
    except ValueError:
        timeout = -1.0
    if not 0 < timeout <= 600:
        raise bad(f"timeout={timeout_text!r} is not a number of seconds in (0, 600]")
    return {
        "MAIL_BACKEND": "smtp",
        "MAIL_SERVER": parts.hostname,
        "MAIL_PORT": port or (465 if ssl else 587 if starttls else 25),
        "MAIL_USERNAME": unquote(parts.username) if parts.username else None,
        "MAIL_PASSWORD": unquote(parts.password) if parts.password else None,
        "MAIL_USE_TLS": starttls,
        "MAIL_USE_SSL": ssl,
        "MAIL_TIMEOUT": timeout,
    }


def mail_settings(env: Mapping[str, str]) -> dict[str, Any]:
    """Notifications' settings: ``SMTP_URL`` (HUB_SMTP_URL; empty: mail is kept in the
    outbox), ``MAIL_FROM`` (HUB_MAIL_FROM) and ``BASE_URL`` (HUB_BASE_URL, the public
    address links in messages start with, without a trailing slash). ConfigError naming
    the setting when one is wrong."""
    from email.utils import parseaddr
    from urllib.parse import urlsplit

    smtp_url = (env.get("HUB_SMTP_URL") or "").strip()
    smtp_settings(smtp_url)  # refused here, at start-up
    mail_from = (env.get("HUB_MAIL_FROM") or "").strip() or DEFAULT_MAIL_FROM
    _, address = parseaddr(mail_from)
    if "@" not in address or any(c in mail_from for c in "\r\n"):
        raise ConfigError(
            f"HUB_MAIL_FROM={mail_from!r} is not an e-mail address: use "
            "hub@example.kz or 'Astana Crypto Hub <hub@example.kz>'"
        )
    base_url = (env.get("HUB_BASE_URL") or "").strip().rstrip("/") or DEFAULT_BASE_URL
    try:
        parts = urlsplit(base_url)
    except ValueError:
        parts = urlsplit("")
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
        raise ConfigError(
            f"HUB_BASE_URL={base_url!r} is not the hub's public address: use "
            "https://hub.example.kz (or http://127.0.0.1:5000)"
        )
    return {"SMTP_URL": smtp_url, "MAIL_FROM": mail_from, "BASE_URL": base_url}


def _positive_seconds(name: str, value: str | None, default: float) -> float:
    if value is None or not value.strip():
        return default
    try:
        seconds = float(value.strip())
    except ValueError:
        seconds = -1.0
    if not 0 < seconds <= 3600:
        raise ConfigError(
            f"{name} must be a number of seconds above 0 and at most 3600, not {value!r}"
        )
    return seconds


def load_settings(
    instance_path: str | os.PathLike[str], environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Build the Flask config mapping from ``HUB_*`` environment variables.

    The default database is an SQLite file in the instance folder so that a
    bare machine needs no database server to run the demo.
    """
    env = os.environ if environ is None else environ
    check_environment(env)
    hub_env = env.get("HUB_ENV", "development").strip().lower() or "development"
    if hub_env not in {"production", "development"}:
        raise ConfigError(f"HUB_ENV must be 'production' or 'development', not {hub_env!r}")
    production = hub_env == "production"
    from hub.auth.passwords import parameters_name

    try:
        # The hasher reads it again from the process's environment; refused here, at start-up.
        password_hash = parameters_name(env)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    default_db = default_database_url(instance_path)
    return {
        "HUB_ENV": hub_env,
        "SECRET_KEY": env.get("HUB_SECRET_KEY") or None,
        "DATABASE_URL": env.get("HUB_DATABASE_URL") or default_db,
        "POLICY_DIR": str(policy_dir(env)),
        "FEATURES_DIR": str(features_dir(env)),
        "DEMO_PASSWORD": env.get("HUB_DEMO_PASSWORD") or None,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _bool(env.get("HUB_SECURE_COOKIES"), production),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": _bool(env.get("HUB_SECURE_COOKIES"), production),
        "WTF_CSRF_ENABLED": True,
        # A login form left open in a tab for a while should still work.
        "WTF_CSRF_TIME_LIMIT": 8 * 3600,
        "RATELIMIT_ENABLED": _bool(env.get("HUB_RATELIMIT_ENABLED"), True),
        **shared_state_settings(env),
        "RATELIMIT_HEADERS_ENABLED": True,
        "MAX_CONTENT_LENGTH": 2 * 1024 * 1024,
        # The hub's time zone: "today" is the date there (see hub.clock).
        "TIMEZONE": (env.get("HUB_TIMEZONE") or "").strip() or "Asia/Almaty",
        # Which argon2 parameters the process hashes passwords with (hub.auth.passwords).
        "PASSWORD_HASH": password_hash,
        **queue_settings(env),
        **impact_settings(env),
        **serve_settings(env),
        **mail_settings(env),
        # Seconds between two heartbeats of a running studio job (hub.studio.jobs).
        "JOB_HEARTBEAT_SECONDS": _positive_seconds(
            "HUB_JOB_HEARTBEAT_SECONDS", env.get("HUB_JOB_HEARTBEAT_SECONDS"), 5.0
        ),
    }


def check_settings(config: Mapping[str, Any]) -> None:
    """Refuse to start with settings that would be unsafe, with a message that says why.

    Every unsafe production setting is named at once (one paragraph each), so an
    operator fixes them in one go.
    """
    from hub.clock import load_zone

    load_zone(config.get("TIMEZONE"))  # an unknown zone would give every date wrong
    if config.get("HUB_ENV") != "production":
        return
    problems: list[str] = []
    if not config.get("SECRET_KEY"):
        problems.append(
            "HUB_SECRET_KEY is not set. In production (HUB_ENV=production) the secret key "
            "signs every session cookie and CSRF token, and must be the same long random "
            "value on every app server. Generate one with: "
            'python3 -c "import secrets; print(secrets.token_hex(32))"'
        )
    if config.get("PASSWORD_HASH") == "fast":
        problems.append(
            "HUB_PASSWORD_HASH=fast is for the test suite only: it hashes passwords with "
            "argon2's minimum cost (1 pass over 8 KiB), which an attacker holding the "
            "database could guess at millions of passwords per second. In production "
            "(HUB_ENV=production) unset it or set HUB_PASSWORD_HASH=production."
        )
    if problems:
        raise ConfigError("\n".join(problems))
