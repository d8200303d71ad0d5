"""Whole numbers and dates typed into query strings and forms (page numbers, lock versions,
ids, as-of dates).

``str.isdigit`` is true for ``²`` and ``①``, which ``int`` refuses (a 500), and ``int``
reads ``٣`` (Arabic-Indic three) and `` 3 `` as 3. A number a page or a form sends is
written with the ASCII digits 0-9 and nothing else.
"""

from __future__ import annotations

import datetime as dt
import re

#: a day as forms send it: YYYY-MM-DD in the ASCII digits
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def ascii_int(raw: str | None, *, default: int, max_digits: int = 9) -> int:
    """``raw`` as a whole number if it is 1 to ``max_digits`` ASCII digits, else ``default``."""
    if raw and len(raw) <= max_digits and raw.isascii() and raw.isdigit():
        return int(raw)
    return default


def ascii_date(raw: str | None) -> dt.date | None:
    """``raw`` as a day if it is written YYYY-MM-DD in ASCII digits and is a real date,
    else None (``date.fromisoformat`` alone also reads ``20261215`` and ``2026-W50-2``)."""
    if not raw or not _DATE.fullmatch(raw):
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        return None
