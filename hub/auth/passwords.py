"""Password hashing with argon2id.

Production hashes use argon2-cffi's recommended parameters (RFC 9106's
low-memory profile: 3 passes over 64 MiB, 4 lanes), which cost about a
tenth of a second of CPU per hash or check on purpose. The test suite sets
``HUB_PASSWORD_HASH=fast`` (in ``tests/conftest.py``) for parameters that cost
microseconds; the setting is read from the environment once per process,
when the first password is hashed or checked. A hash made with other
parameters than the process's is still verified, and is replaced at the next
sign-in (``needs_rehash``), so hashes made by a fast process are upgraded by
a production one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cache

from argon2 import Parameters, PasswordHasher, Type, profiles
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

#: The environment variable that chooses the parameters (``production`` or ``fast``).
SETTING = "HUB_PASSWORD_HASH"

#: What every deployment uses: argon2-cffi's default, RFC 9106 low-memory
#: (time_cost 3, memory_cost 65,536 KiB, parallelism 4, 16-byte salt, 32-byte hash).
PRODUCTION_PARAMETERS: Parameters = profiles.RFC_9106_LOW_MEMORY

#: For tests only: one pass over 8 KiB in one lane (argon2's minimum), with the
#: same salt and hash lengths as production, so hashes look alike. Never in production.
FAST_PARAMETERS = Parameters(
    type=Type.ID,
    version=19,
    salt_len=16,
    hash_len=32,
    time_cost=1,
    memory_cost=8,
    parallelism=1,
)

#: The values ``HUB_PASSWORD_HASH`` accepts, and the parameters each names.
PARAMETERS: dict[str, Parameters] = {"production": PRODUCTION_PARAMETERS, "fast": FAST_PARAMETERS}

#: What a sign-in to an unknown (or password-less) account is verified against, per
#: parameters: a hash of a random password nobody kept, made once with exactly those
#: parameters, so the failed check costs what a wrong password costs and no hash is
#: computed at start-up or at the first such sign-in (0.36 s of CPU with production's).
DUMMY_HASHES: dict[str, str] = {
    "production": "$argon2id$v=19$m=65536,t=3,p=4$2bX/pMinG3h347xMZQFtng$"
    "RC0wiz3WTmj+1ChEh8ejNNQoMZingDSgfoay9CpCnGM",
    "fast": "$argon2id$v=19$m=8,t=1,p=1$R9nhHBGfMCvdTaNY1hQU8Q$"
    "m2JxSaWJ61U4kfcsf30kNvoAoTaNOVrIzwfvjKlY024",
}

MIN_PASSWORD_LENGTH = 8


def parameters_name(environ: Mapping[str, str] | None = None) -> str:
    """Which parameters ``HUB_PASSWORD_HASH`` names: ``production`` (also when unset or
    blank) or ``fast``, in any case and with spaces around it.

    Raises ``ValueError`` naming the setting and the accepted values for any other value.
    ``hub.config`` refuses ``fast`` when ``HUB_ENV=production``.
    """
    env = os.environ if environ is None else environ
    name = (env.get(SETTING) or "").strip().lower() or "production"
    if name not in PARAMETERS:
        raise ValueError(f"{SETTING} must be one of {', '.join(PARAMETERS)}, not {name!r}")
    return name


def parameters_from_env(environ: Mapping[str, str] | None = None) -> Parameters:
    """The argon2 parameters ``HUB_PASSWORD_HASH`` names (unset or blank: production).

    Raises ``ValueError`` naming the setting and the accepted values for any other value.
    """
    return PARAMETERS[parameters_name(environ)]


@cache
def _hasher() -> PasswordHasher:
    """The process's hasher, built on first use from ``HUB_PASSWORD_HASH``."""
    return PasswordHasher.from_parameters(parameters_from_env())


@cache
def _dummy_hash() -> str:
    """Verified against when the e-mail is unknown, so timing does not reveal accounts: the
    process's parameters' entry of ``DUMMY_HASHES`` (read once, like ``_hasher``)."""
    return DUMMY_HASHES[parameters_name()]


def hash_password(password: str) -> str:
    """An argon2id hash (with its salt and parameters) of ``password``."""
    return _hasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; spends the same time when there is no hash."""
    try:
        return _hasher().verify(password_hash or _dummy_hash(), password) and bool(password_hash)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether the hash was made with other parameters than the process's."""
    try:
        return _hasher().check_needs_rehash(password_hash)
    except InvalidHashError:
        return True
