"""The hub's clock: which instant it is, and which day "today" is.

"Today" is the hub's date: the calendar day in the hub's time zone
(``HUB_TIMEZONE``, Asia/Almaty by default), whatever the server's own ``TZ``.
A licence that expires today is valid today on every server, in the API, the
CLI, the web pages, review, certificates, the studio and seeding.

One ``Clock`` per app (``app.extensions["hub.clock"]``, built from the
settings by ``create_app``; ``hub.app_clock`` is that Flask glue, so this module
needs no web framework); the command line builds one from the same
setting (``clock_from_environ``). Services take a clock, or the ``today`` it
gave, as an argument and never read the system clock themselves; the domain
core (``hub/policy/``) never reads a clock at all: its callers pass ``as_of``.
Tests inject a fixed clock (``Clock.fixed``).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hub.config import ConfigError

#: The hub's time zone unless ``HUB_TIMEZONE`` says otherwise (UTC+5 all year).
DEFAULT_TIMEZONE = "Asia/Almaty"


def system_now() -> dt.datetime:
    """The system's current instant, timezone-aware UTC (independent of ``TZ``)."""
    return dt.datetime.now(dt.UTC)


@cache
def iana_zones() -> frozenset[str]:
    """The zone names of the IANA time zone database, as the ``tzdata`` package lists them
    (its ``zones`` file; case-sensitive, links such as ``US/Eastern`` included).

    Not ``zoneinfo.available_timezones()``: that also lists whatever files the system's
    zone directory holds, such as ``localtime`` (the server's own zone), ``posixrules``
    and ``Factory``, which are not zones a hub can mean.
    """
    listed = resources.files("tzdata").joinpath("zones").read_text(encoding="utf-8")
    return frozenset(line.strip() for line in listed.splitlines() if line.strip()) - {
        "Factory",
        "localtime",
        "posixrules",
    }


def load_zone(name: str | None) -> ZoneInfo:
    """The IANA zone called ``name`` (blank: ``DEFAULT_TIMEZONE``), spelt exactly as the
    database spells it (``asia/almaty`` is refused, as are the system's ``localtime``,
    ``posixrules`` and ``Factory``: see :func:`iana_zones`).

    Raises ConfigError naming ``HUB_TIMEZONE`` for any other name.
    """
    text = (name or "").strip() or DEFAULT_TIMEZONE
    try:
        if text not in iana_zones():
            raise ZoneInfoNotFoundError(text)
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ConfigError(
            f"HUB_TIMEZONE={text!r} is not a time zone of the IANA database: use a name "
            f"such as {DEFAULT_TIMEZONE}, Europe/London or UTC (the hub's 'today' is the "
            "date in this zone)."
        ) from None


@dataclass(frozen=True)
class Clock:
    """The current instant and the hub's date.

    ``zone`` is the hub's time zone; ``source`` gives the current instant as an
    aware datetime (the system clock unless a test fixes it).
    """

    zone: ZoneInfo = field(default_factory=lambda: load_zone(None))
    source: Callable[[], dt.datetime] = system_now

    @classmethod
    def fixed(cls, instant: dt.datetime, zone: str | ZoneInfo = DEFAULT_TIMEZONE) -> Clock:
        """A clock that always reads ``instant`` (aware; ValueError if naive)."""
        if instant.tzinfo is None or instant.utcoffset() is None:
            raise ValueError("a fixed clock needs an aware datetime, e.g. with tzinfo=dt.UTC")
        at = instant.astimezone(dt.UTC)
        return cls(zone if isinstance(zone, ZoneInfo) else load_zone(zone), lambda: at)

    def now(self) -> dt.datetime:
        """The current instant, timezone-aware UTC (the kind ``hub.storage`` stores)."""
        return self.source().astimezone(dt.UTC)

    def today(self) -> dt.date:
        """The hub's date now: the calendar day in ``zone``."""
        return self.date_of(self.now())

    def date_of(self, instant: dt.datetime) -> dt.date:
        """The hub's date at a stored (aware) instant, e.g. the day a filing was decided."""
        return instant.astimezone(self.zone).date()


def clock_from_environ(environ: Mapping[str, str] | None = None) -> Clock:
    """The system clock in the zone ``HUB_TIMEZONE`` names (ConfigError if unknown)."""
    env = os.environ if environ is None else environ
    return Clock(load_zone(env.get("HUB_TIMEZONE")))
