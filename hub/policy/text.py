"""Text as the hub accepts it: one Unicode form, nothing that cannot be stored or shown.

Every string a filing, a request or a form carries is normalised to NFC (composed
form) before any check, so the same name typed on two keyboards is the same text, of
the same length, and equal to the same policy choice. Policy files must already be in
NFC (``hub/policy/model.py`` refuses other text with its line), so rules and facts
always hold the same code points, and ``compiler.py`` writes both in one encoding.

What is refused, and why:

- a lone surrogate (U+D800-U+DFFF on its own, which JSON's ``\\ud800`` escape and
  undecodable command-line bytes produce): it is not text, it cannot be encoded as
  UTF-8, so storing it breaks every page that shows it;
- control characters (C0, DEL, C1): invisible, and NUL cannot be stored in
  PostgreSQL; multi-line texts (a reviewer's message) may hold tab and line breaks;
- in names, the bidirectional embeddings, overrides and isolates (U+202A-U+202E,
  U+2066-U+2069), which make a name display as something else ("Trojan Source");
- names made only of invisible characters (spaces, zero-width and other format
  characters, combining marks, blank letters such as U+3164 HANGUL FILLER).

Pure: no Flask, no database.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

#: a code point of the surrogate range, which in a Python str is always unpaired
SURROGATE_RE = re.compile("[\ud800-\udfff]")
#: C0 (all), DEL and C1 controls, and the line and paragraph separators (U+2028, U+2029:
#: line breaks too, which a one-line text must not hold)
CONTROL_RE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
#: the same, except tab, line feed and carriage return (multi-line text)
CONTROL_MULTILINE_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
#: bidirectional embeddings, overrides and isolates
BIDI_RE = re.compile("[\u202a-\u202e\u2066-\u2069]")
#: letters and symbols that show as nothing (fillers and blanks of some scripts)
BLANK_CHARACTERS = frozenset("\u115f\u1160\u17b4\u17b5\u2800\u3164\uffa0")
#: general categories that show as nothing on their own
INVISIBLE_CATEGORIES = frozenset({"Zs", "Zl", "Zp", "Cc", "Cf", "Mn", "Me", "Cs", "Co", "Cn"})
#: how much of a refused value a message echoes
SHOWN = 40


def nfc(value: Any) -> Any:
    """``value`` with every string in it (list items and object values, recursively)
    in NFC; anything else unchanged. A string holding a lone surrogate is left as it
    is, for the checks to refuse it."""
    if isinstance(value, str):
        if value.isascii() or SURROGATE_RE.search(value):
            return value
        return unicodedata.normalize("NFC", value)
    if isinstance(value, list):
        return [nfc(v) for v in value]
    if isinstance(value, dict):
        return {k: nfc(v) for k, v in value.items()}
    return value


def has_lone_surrogate(value: str) -> bool:
    """Whether ``value`` holds a surrogate code point (never valid text on its own)."""
    return not value.isascii() and SURROGATE_RE.search(value) is not None


def find_lone_surrogate(value: Any) -> tuple[Any, ...] | None:
    """The path (keys and list indexes) to the first string, key or value, in a JSON-like
    ``value`` that holds a lone surrogate, or None when there is none. Iterative: a body
    nested as deep as a JSON parser allows never exhausts the stack here."""
    stack: list[tuple[tuple[Any, ...], Any]] = [((), value)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, str):
            if has_lone_surrogate(node):
                return path
        elif isinstance(node, dict):
            for k, v in reversed(list(node.items())):
                stack.append(((*path, k), v))
            for k in node:
                if isinstance(k, str) and has_lone_surrogate(k):
                    return (*path, k)
        elif isinstance(node, list):
            stack.extend(((*path, i), v) for i, v in reversed(list(enumerate(node))))
    return None


def shown(value: str, limit: int = SHOWN) -> str:
    """``value`` safe to echo in a message: cut to ``limit`` characters, and every
    surrogate, control or bidirectional character written as an escape (\\ud800)."""
    cut = value if len(value) <= limit else value[:limit] + "…"
    if cut.isascii() and cut.isprintable():
        return cut
    return "".join(
        c
        if c.isprintable() or c == " "
        else "\\u" + format(ord(c), "04x")
        if ord(c) <= 0xFFFF
        else "\\U" + format(ord(c), "08x")
        for c in cut
    )


def _visible(c: str) -> bool:
    return c not in BLANK_CHARACTERS and unicodedata.category(c) not in INVISIBLE_CATEGORIES


def text_problem(value: str, *, multiline: bool = False, name: bool = True) -> str | None:
    """Why ``value`` (already in NFC, edges trimmed) cannot be stored and shown, or None.

    ``multiline`` allows tab, line feed and carriage return; ``name`` also refuses
    bidirectional controls and text made only of invisible characters (empty text is
    left to the caller's length rule)."""
    if has_lone_surrogate(value):
        return "must be valid Unicode text (it holds a lone surrogate, such as \\ud800)"
    if (CONTROL_MULTILINE_RE if multiline else CONTROL_RE).search(value):
        if multiline:
            return "must not contain control characters (only tabs and line breaks)"
        return "must not contain control characters (tabs and line breaks included)"
    if name:
        if BIDI_RE.search(value):
            return "must not contain bidirectional override or isolate characters"
        if value and not any(_visible(c) for c in value):
            return "must contain visible characters, not only spaces or invisible ones"
    return None


def clean_text(value: str, *, multiline: bool = False, name: bool = True) -> tuple[str, str | None]:
    """``value`` as it is kept (NFC, edges trimmed) and why it is refused, or None.

    A lone surrogate is refused before anything else (it cannot be normalised)."""
    if has_lone_surrogate(value):
        return value, text_problem(value, multiline=multiline, name=name)
    text = (value if value.isascii() else unicodedata.normalize("NFC", value)).strip()
    return text, text_problem(text, multiline=multiline, name=name)
