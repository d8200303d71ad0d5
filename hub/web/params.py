"""Whole numbers typed into query strings and forms (page numbers, lock versions, ids).

``str.isdigit`` is true for ``²`` and ``①``, which ``int`` refuses (a 500), and ``int``
reads ``٣`` (Arabic-Indic three) and `` 3 `` as 3. A number a page or a form sends is
written with the ASCII digits 0-9 and nothing else.
"""

from __future__ import annotations


def ascii_int(raw: str | None, *, default: int, max_digits: int = 9) -> int:
    """``raw`` as a whole number if it is 1 to ``max_digits`` ASCII digits, else ``default``."""
    if raw and len(raw) <= max_digits and raw.isascii() and raw.isdigit():
        return int(raw)
    return default
