"""Read a policy text with YAML 1.2 (core schema) meaning, keeping libyaml's speed and line marks.

PyYAML resolves plain scalars by YAML 1.1, where ``24:00`` is the number 1440
(base 60), ``010`` is 8 (octal), ``yes``/``on`` are true, ``1_000`` is 1000 and
``0b11`` is 3. A law text must mean what it says, so this module composes the
document with libyaml (its nodes carry the line marks the error messages need)
under a resolver that leaves every plain scalar untyped, and then gives each
plain scalar its YAML 1.2 core-schema value:

- null: ``null``, ``Null``, ``NULL``, ``~`` and the empty scalar;
- booleans: ``true``/``True``/``TRUE`` and ``false``/``False``/``FALSE``;
- integers: decimal ``[-+]?[0-9]+``, octal ``0o17``, hexadecimal ``0x1F``;
- floats: ``[-+]?(.5|1|1.|1.5)`` with an optional exponent (``1e-05``),
  ``.inf``/``-.inf``/``.nan`` (the policy refuses them where a number is expected);
- anything else is text, including dates (``2026-07-01``: a field that takes a
  date parses its text explicitly).

A plain scalar that a YAML 1.1 reader would take for a *different* value is
refused, with its line and field, telling the author what to write: sexagesimal
numbers (``24:00``, ``1:30.5``), numbers with a leading zero (``010``),
underscores (``1_000``), binary (``0b11``), signed hexadecimal (``-0x1F``),
the 1.1 booleans (``yes``/``no``/``on``/``off``/``y``/``n`` in any case PyYAML or
the 1.1 spec knows) and the 1.1 merge (``<<``) and value (``=``) keys. Quoted
scalars are text, as in both versions. Explicit tags other than ``!!str`` are
refused: a policy writes plain values.

Anchors (``&name``) and aliases (``*name``) are refused at their line: a law text
writes each value where it applies, and an alias is how a few hundred bytes expand
to billions of values ("billion laughs"). No shipped policy uses them. At most
``MAX_PROBLEMS`` ambiguous scalars are listed (and how many more there are), so a
text of thousands of ``yes`` gives a short answer, not megabytes of it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import BaseResolver, Resolver

from .exact import inexact

STR_TAG = "tag:yaml.org,2002:str"
MAP_TAG = "tag:yaml.org,2002:map"
SEQ_TAG = "tag:yaml.org,2002:seq"
PLAIN_TAG = "tag:hub,2026:plain"  # private: a plain scalar, typed later by the 1.2 core schema

_NULL = frozenset({"", "~", "null", "Null", "NULL"})
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
# [0-9], not \d: \d would also match other scripts' digits, which YAML does not read as numbers.
_INT10 = re.compile(r"[-+]?[0-9]+\Z")
_INT8 = re.compile(r"0o[0-7]+\Z")
_INT16 = re.compile(r"0x[0-9a-fA-F]+\Z")
_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?\Z")
_INF = re.compile(r"[-+]?\.(?:inf|Inf|INF)\Z")
_NAN = re.compile(r"\.(?:nan|NaN|NAN)\Z")
_LEADING_ZERO = re.compile(r"[-+]?0[0-9]+\Z")
# YAML 1.1 spec booleans that PyYAML leaves as text: other 1.1 readers take them for true/false.
_BOOL11_SHORT = {"y": True, "Y": True, "n": False, "N": False}

_TAG11_BOOL = "tag:yaml.org,2002:bool"
_TAG11_INT = "tag:yaml.org,2002:int"
_TAG11_FLOAT = "tag:yaml.org,2002:float"
_TAG11_NULL = "tag:yaml.org,2002:null"
_TAG11_MERGE = "tag:yaml.org,2002:merge"
_TAG11_VALUE = "tag:yaml.org,2002:value"

_RESOLVER_11 = Resolver()
_CONSTRUCTOR_11 = SafeConstructor()
_CONSTRUCT_11: dict[str, Callable[[ScalarNode], Any]] = {
    _TAG11_BOOL: _CONSTRUCTOR_11.construct_yaml_bool,
    _TAG11_INT: _CONSTRUCTOR_11.construct_yaml_int,
    _TAG11_FLOAT: _CONSTRUCTOR_11.construct_yaml_float,
    _TAG11_NULL: _CONSTRUCTOR_11.construct_yaml_null,
}

Path = tuple[Any, ...]

#: At most this many ambiguous scalars are listed one by one; the rest are counted.
MAX_PROBLEMS = 100
#: Collections nested deeper than this are refused: a policy nests about 5 deep, and
#: reading 400 nested lists would exhaust Python's stack.
MAX_DEPTH = 40


class AmbiguousYaml(ValueError):
    """Plain scalars that YAML 1.1 and YAML 1.2 read differently, or numbers the engine
    cannot hold exactly (:func:`hub.policy.exact.inexact`).

    ``problems`` lists ``(line, message)``, line 1-based, in document order;
    each message names the field and says what to write instead.
    """

    def __init__(self, problems: list[tuple[int, str]]) -> None:
        super().__init__("; ".join(f"line {line}: {msg}" for line, msg in problems))
        self.problems = problems


class _Resolver12(BaseResolver):
    """Tags plain scalars PLAIN_TAG (typed later), quoted ones str; no YAML 1.1 guessing."""

    def resolve(self, kind: type, value: Any, implicit: tuple[bool, bool]) -> str:
        if kind is ScalarNode:
            return PLAIN_TAG if implicit[0] else STR_TAG
        return MAP_TAG if kind is MappingNode else SEQ_TAG


if getattr(yaml, "__with_libyaml__", False):
    from yaml._yaml import CParser

    class _Loader(CParser, _Resolver12):
        """libyaml's parser and composer (10x faster than PyYAML's, same marks)."""

        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            _Resolver12.__init__(self)

else:  # pragma: no cover - PyYAML built without libyaml

    class _Loader(  # type: ignore[no-redef]  # the same loader on PyYAML without libyaml
        yaml.reader.Reader,
        yaml.scanner.Scanner,
        yaml.parser.Parser,
        yaml.composer.Composer,
        _Resolver12,
    ):
        def __init__(self, stream: str) -> None:
            yaml.reader.Reader.__init__(self, stream)
            yaml.scanner.Scanner.__init__(self)
            yaml.parser.Parser.__init__(self)
            yaml.composer.Composer.__init__(self)
            _Resolver12.__init__(self)


def compose(text: str) -> Node | None:
    """The document's node tree (None when empty); plain scalars carry PLAIN_TAG.

    Raises ``yaml.YAMLError`` (with ``problem_mark``) on a syntax error.
    """
    # The stubs ask for a full loader (with a constructor); composing needs none.
    return yaml.compose(text, Loader=_Loader)  # type: ignore[arg-type]


def refuse_anchors(text: str) -> None:
    """Raise ``yaml.YAMLError`` (``ConstructorError``, marked at its line) at the first
    anchor (``&name``) or alias (``*name``) of ``text``; a syntax error raises as compose does.

    Reads libyaml's events only (no nodes are built): about a third of a load's time,
    and none when the text holds neither ``&`` nor ``*``.
    """
    if "&" not in text and "*" not in text:
        return
    for event in yaml.parse(text, Loader=_Loader):  # type: ignore[arg-type]  # no constructor needed
        anchor = getattr(event, "anchor", None)
        if anchor is None:
            continue
        what = (
            f"an alias (*{anchor})" if isinstance(event, AliasEvent) else f"an anchor (&{anchor})"
        )
        raise ConstructorError(
            None,
            None,
            f"{what}: anchors (&name) and aliases (*name) are not accepted in a policy; "
            "write the value out in full where it applies",
            event.start_mark,  # type: ignore[arg-type]  # libyaml's marks have the same fields
        )


def core_value(value: str) -> Any:
    """A plain scalar's value under the YAML 1.2 core schema (text when nothing else fits)."""
    if value in _NULL:
        return None
    if value in _BOOL:
        return _BOOL[value]
    first = value[0]
    if first in "0123456789-+.":
        if _INT10.match(value):
            return int(value, 10)
        if _INT8.match(value):
            return int(value[2:], 8)
        if _INT16.match(value):
            return int(value[2:], 16)
        if _FLOAT.match(value):
            return float(value)
        if _INF.match(value):
            return -math.inf if first == "-" else math.inf
        if _NAN.match(value):
            return math.nan
    return value


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and repr(a) == repr(b)  # repr: nan == nan, -0.0 != 0.0


def _literal(value: Any) -> str:
    """How to write ``value`` as a YAML 1.2 plain scalar."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return repr(value) if isinstance(value, float) else str(value)


def ambiguity(value: str, v12: Any) -> str | None:
    """Why the plain scalar ``value`` (YAML 1.2 reading ``v12``) is ambiguous, or None.

    Ambiguous: a YAML 1.1 reader takes it for a different number, boolean, null
    or special key; or an integer written with a leading zero (octal in 1.1).
    """
    if value in _BOOL11_SHORT:
        v11: Any = _BOOL11_SHORT[value]
        tag11 = _TAG11_BOOL
    else:
        tag11 = _RESOLVER_11.resolve(ScalarNode, value, (True, False))
        if tag11 == _TAG11_MERGE:
            return (
                "'<<' merges mappings in YAML 1.1 but is an ordinary key in YAML 1.2: "
                "write the keys out in full, or quote it ('<<') if you mean the text"
            )
        if tag11 == _TAG11_VALUE:
            return (
                "'=' is the 'value' key in YAML 1.1 but text in YAML 1.2: "
                "quote it ('=') if you mean the text"
            )
        construct = _CONSTRUCT_11.get(tag11)
        if construct is None:  # text (or a date, which a date field parses) in both versions
            if isinstance(v12, int) and _LEADING_ZERO.match(value):
                return (
                    f"{value} has a leading zero, which YAML 1.1 readers take for octal: "
                    f"write {v12} if you mean the number, or quote it ('{value}') for text"
                )
            return None
        v11 = construct(ScalarNode(tag11, value))
    if _same(v11, v12):
        return None
    if tag11 == _TAG11_BOOL:
        return (
            f"{value} means {_literal(v11)} in YAML 1.1 but the text '{value}' in YAML 1.2: "
            f"write {_literal(v11)} if you mean a yes/no value, or quote it ('{value}') for text"
        )
    if isinstance(v12, int) and _LEADING_ZERO.match(value):
        return (
            f"{value} means {_literal(v11)} in YAML 1.1 (octal) but {_literal(v12)} in YAML 1.2: "
            f"write {_literal(v12)} without the leading zero, or quote it ('{value}') for text"
        )
    how = "base 60" if ":" in value else "a number"
    shown = f"the text '{value}'" if isinstance(v12, str) else _literal(v12)
    return (
        f"{value} means {_literal(v11)} in YAML 1.1 ({how}) but {shown} in YAML 1.2: "
        f"write {_literal(v11)} if you mean the number, or quote it ('{value}') for text"
    )


def field_name(path: Path) -> str:
    """A path as authors read it: ('criteria', 3, 'id') -> 'criteria[3].id'."""
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "the document"


def _unsupported(node: Node) -> ConstructorError:
    tag = node.tag.replace("tag:yaml.org,2002:", "!!")
    return ConstructorError(
        None,
        None,
        f"unsupported tag {tag!r}: a policy writes plain values (quote a value meant as text)",
        node.start_mark,
    )


def load_with_lines(text: str) -> tuple[Any, dict[Path, int]]:
    """Load a policy text by YAML 1.2 and remember the line (1-based) of every key and item.

    Returns ``(data, lines)`` where ``lines`` maps a path such as
    ``("parameters", "kyc_min", "value")`` to its line. Raises
    ``yaml.YAMLError`` (with ``problem_mark``) on a syntax error, a duplicate key,
    an unsupported tag, an anchor or an alias (:func:`refuse_anchors`), and
    :class:`AmbiguousYaml` listing the plain scalars that YAML 1.1 would read
    differently (the first ``MAX_PROBLEMS``, then how many more).
    """
    lines: dict[Path, int] = {}
    refuse_anchors(text)
    root = compose(text)
    if root is None:
        return None, lines
    problems: dict[tuple[int, str], None] = {}  # ordered
    more = 0  # ambiguous scalars past MAX_PROBLEMS: counted, not listed

    def scalar(node: ScalarNode, path: Path) -> Any:
        nonlocal more
        if node.tag == STR_TAG:
            return node.value
        if node.tag != PLAIN_TAG:
            raise _unsupported(node)
        value = core_value(node.value)
        why = ambiguity(node.value, value)
        if why is None and isinstance(value, int | float):
            why = inexact(node.value, value)
        if why is not None:
            if len(problems) < MAX_PROBLEMS:
                problems[(node.start_mark.line + 1, f"{field_name(path)}: {why}")] = None
            else:
                more += 1
        return value

    def walk(node: Node, path: Path, depth: int = 0) -> Any:
        lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, ScalarNode):
            return scalar(node, path)
        if node.tag not in (MAP_TAG, SEQ_TAG):
            raise _unsupported(node)
        if depth >= MAX_DEPTH:
            raise ConstructorError(
                None,
                None,
                f"{field_name(path)}: values nested more than {MAX_DEPTH} levels deep are not "
                "accepted in a policy",
                node.start_mark,
            )
        return _collection(node, path, depth + 1)

    def _collection(node: Node, path: Path, depth: int) -> Any:
        if isinstance(node, SequenceNode):
            return [walk(v, (*path, i), depth) for i, v in enumerate(node.value)]
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if isinstance(key_node, ScalarNode):
                key = scalar(key_node, (*path, key_node.value))
            else:
                key = str(walk(key_node, path, depth))
            if isinstance(key, float) and math.isnan(key):
                key = key_node.value  # nan != nan: it could never be looked up
            lines[(*path, key)] = key_node.start_mark.line + 1
            if key in out:
                raise ConstructorError(
                    None,
                    None,
                    f"duplicate key {key!r}: {field_name((*path, key))} is given more than once",
                    key_node.start_mark,
                )
            out[key] = walk(value_node, (*path, key), depth)
        return out

    data = walk(root, ())
    if problems:
        listed = list(problems)
        if more:
            last = listed[-1][0]
            listed.append((last, f"... and {more:,} more values written the same ambiguous way"))
        raise AmbiguousYaml(listed)
    return data, lines
