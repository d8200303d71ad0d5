"""The policy's condition language: small, typed, and never Python ``eval``.

Conditions and saving formulas in policy files are written in this language.
It has literals (numbers, 'strings', true, false, [lists]), names (inputs,
parameters, ``as_of``, ``tier`` and tier ids), indexing of mapping parameters
(``required_licence[activity]``), arithmetic (+ - * /), comparisons
(== != < <= > >=), membership (``in``, ``not in``), set containment
(``officers_appointed contains key_officers``), ``and``/``or``/``not`` and a
few whitelisted functions (``met(criterion)``, ``min``, ``max``).

The parser is a hand-written recursive descent over a regex tokenizer, with
bounds on length and depth, so a hostile policy text cannot make it run away.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .exact import inexact
from .shown import format_number

MAX_LENGTH = 4000
MAX_DEPTH = 40

KEYWORDS = {"and", "or", "not", "in", "contains", "true", "false"}
FUNCTIONS = {"met": 1, "min": 2, "max": 2}


class ExprError(ValueError):
    """A syntax or type error in an expression; ``column`` is 1-based or None."""

    def __init__(self, message: str, column: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.column = column

    def __str__(self) -> str:
        if self.column is None:
            return self.message
        return f"{self.message} (at column {self.column})"


# --- AST -----------------------------------------------------------------


@dataclass(frozen=True)
class Lit:
    """A literal: a number (int or float, as written), a text in quotes, or true/false."""

    value: Any  # int | float | str | bool | tuple


@dataclass(frozen=True)
class Name:
    """A name: an input, a parameter, ``as_of`` (the assessment date), ``tier`` or a tier id,
    or a criterion id inside ``met(...)``."""

    id: str


@dataclass(frozen=True)
class Index:
    """A mapping parameter looked up by a choice: ``base[key]``."""

    base: Name
    key: Node


@dataclass(frozen=True)
class Call:
    """A built-in function called on ``args``: ``min(a, b)``, ``max(a, b)``, ``met(id)``."""

    func: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Neg:
    """``-operand``: a number negated."""

    operand: Node


@dataclass(frozen=True)
class Not:
    """``not operand``: a condition negated."""

    operand: Node


@dataclass(frozen=True)
class Arith:
    """``left op right`` on numbers, ``op`` one of ``+ - * /``."""

    op: str  # + - * /
    left: Node
    right: Node


@dataclass(frozen=True)
class Compare:
    """``left op right``, ``op`` one of ``== != < <= > >=``, ``in``, ``notin``
    (written ``not in``) or ``contains``; yes/no."""

    op: str  # == != < <= > >= in notin contains
    left: Node
    right: Node


@dataclass(frozen=True)
class BoolOp:
    """``values`` joined by ``and`` or ``or`` (``op``); yes/no."""

    op: str  # and | or
    values: tuple[Node, ...]


@dataclass(frozen=True)
class ListLit:
    """A list of choices in brackets: ``['a', 'b']``."""

    items: tuple[Node, ...]


Node = Lit | Name | Index | Call | Neg | Not | Arith | Compare | BoolOp | ListLit

# --- tokenizer -------------------------------------------------------------

# [0-9], not \d: \d takes other scripts' digits ("٩٥"), which int() and float() read as 95
_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<num>[0-9][0-9_]*(?:\.[0-9]+)?)
  | (?P<str>'[^'\\\n]*'|"[^"\\\n]*")
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>==|!=|<=|>=|<|>|\+|-|\*|/|\(|\)|\[|\]|,)
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class _Tok:
    kind: str
    text: str
    col: int


def _tokenize(text: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise ExprError(f"unexpected character {text[pos]!r}", pos + 1)
        kind = m.lastgroup or ""
        if kind != "ws":
            tokens.append(_Tok(kind, m.group(), pos + 1))
        pos = m.end()
    tokens.append(_Tok("end", "", len(text) + 1))
    return tokens


# --- parser ------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = _tokenize(text)
        self.i = 0
        self.depth = 0

    def peek(self) -> _Tok:
        return self.toks[self.i]

    def take(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def accept(self, text: str) -> bool:
        tok = self.peek()
        if tok.text == text and tok.kind in ("op", "name"):
            self.i += 1
            return True
        return False

    def expect(self, text: str) -> None:
        if not self.accept(text):
            tok = self.peek()
            found = tok.text or "end of expression"
            raise ExprError(f"expected {text!r} but found {found!r}", tok.col)

    def nest(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExprError(f"expression nested deeper than {MAX_DEPTH} levels", self.peek().col)

    def parse(self) -> Node:
        node = self.or_()
        tok = self.peek()
        if tok.kind != "end":
            raise ExprError(f"unexpected {tok.text!r}", tok.col)
        return node

    def or_(self) -> Node:
        values = [self.and_()]
        while self.accept("or"):
            values.append(self.and_())
        return values[0] if len(values) == 1 else BoolOp("or", tuple(values))

    def and_(self) -> Node:
        values = [self.not_()]
        while self.accept("and"):
            values.append(self.not_())
        return values[0] if len(values) == 1 else BoolOp("and", tuple(values))

    def not_(self) -> Node:
        if self.accept("not"):
            self.nest()
            node = Not(self.not_())
            self.depth -= 1
            return node
        return self.comparison()

    def comparison(self) -> Node:
        left = self.sum_()
        tok = self.peek()
        op: str | None = None
        if tok.kind == "op" and tok.text in ("==", "!=", "<", "<=", ">", ">="):
            op = self.take().text
        elif tok.text == "in":
            self.take()
            op = "in"
        elif tok.text == "contains":
            self.take()
            op = "contains"
        elif tok.text == "not" and self.toks[self.i + 1].text == "in":
            self.i += 2
            op = "notin"
        if op is None:
            return left
        right = self.sum_()
        nxt = self.peek()
        if nxt.kind == "op" and nxt.text in ("==", "!=", "<", "<=", ">", ">="):
            raise ExprError("chained comparisons are not allowed; join them with 'and'", nxt.col)
        return Compare(op, left, right)

    def sum_(self) -> Node:
        node = self.product()
        while self.peek().text in ("+", "-") and self.peek().kind == "op":
            op = self.take().text
            node = Arith(op, node, self.product())
        return node

    def product(self) -> Node:
        node = self.unary()
        while self.peek().text in ("*", "/") and self.peek().kind == "op":
            op = self.take().text
            node = Arith(op, node, self.unary())
        return node

    def unary(self) -> Node:
        if self.peek().kind == "op" and self.peek().text == "-":
            self.take()
            self.nest()
            node = Neg(self.unary())
            self.depth -= 1
            return node
        return self.atom()

    def atom(self) -> Node:
        tok = self.take()
        if tok.kind == "num":
            text = tok.text.replace("_", "")
            value = float(text) if "." in text else int(text)
            why = inexact(tok.text, value)
            if why is not None:
                raise ExprError(why, tok.col)
            return Lit(value)
        if tok.kind == "str":
            return Lit(tok.text[1:-1])
        if tok.kind == "op" and tok.text == "(":
            self.nest()
            node = self.or_()
            self.expect(")")
            self.depth -= 1
            return node
        if tok.kind == "op" and tok.text == "[":
            self.nest()
            items: list[Node] = []
            if not self.accept("]"):
                items.append(self.sum_())
                while self.accept(","):
                    items.append(self.sum_())
                self.expect("]")
            self.depth -= 1
            return ListLit(tuple(items))
        if tok.kind == "name":
            if tok.text in ("true", "false"):
                return Lit(tok.text == "true")
            if tok.text in KEYWORDS:
                raise ExprError(f"unexpected keyword {tok.text!r}", tok.col)
            if self.peek().text == "(" and self.peek().kind == "op":
                return self.call(tok)
            node = Name(tok.text)
            if self.peek().text == "[" and self.peek().kind == "op":
                self.take()
                self.nest()
                key = self.sum_()
                self.expect("]")
                self.depth -= 1
                return Index(Name(tok.text), key)
            return node
        found = tok.text or "end of expression"
        raise ExprError(f"expected a value but found {found!r}", tok.col)

    def call(self, tok: _Tok) -> Node:
        if tok.text not in FUNCTIONS:
            allowed = ", ".join(sorted(FUNCTIONS))
            raise ExprError(f"unknown function {tok.text!r} (allowed: {allowed})", tok.col)
        self.expect("(")
        self.nest()
        args: list[Node] = []
        if not self.accept(")"):
            args.append(self.sum_())
            while self.accept(","):
                args.append(self.sum_())
            self.expect(")")
        self.depth -= 1
        if len(args) != FUNCTIONS[tok.text]:
            raise ExprError(
                f"{tok.text}() takes {FUNCTIONS[tok.text]} argument(s), got {len(args)}", tok.col
            )
        return Call(tok.text, tuple(args))


def parse(text: str) -> Node:
    """Parse an expression; raise ExprError with a column on bad input."""
    if not isinstance(text, str):
        raise ExprError("an expression must be a string")
    if len(text) > MAX_LENGTH:
        raise ExprError(f"expression longer than {MAX_LENGTH} characters")
    if not text.strip():
        raise ExprError("empty expression")
    return _Parser(text).parse()


def names(node: Node) -> set[str]:
    """Every name the expression reads (function names and met() targets excluded)."""
    out: set[str] = set()

    def walk(n: Node) -> None:
        if isinstance(n, Name):
            out.add(n.id)
        elif isinstance(n, Call):
            if n.func != "met":
                for a in n.args:
                    walk(a)
        else:
            for child in children(n):
                walk(child)

    walk(node)
    return out


def children(node: Node) -> tuple[Node, ...]:
    """The direct sub-expressions of ``node``, left to right (none for names and literals)."""
    match node:
        case Index(base=base, key=key):
            return (base, key)
        case Call(args=args):
            return args
        case Neg(operand=operand) | Not(operand=operand):
            return (operand,)
        case Arith(left=left, right=right) | Compare(left=left, right=right):
            return (left, right)
        case BoolOp(values=values):
            return values
        case ListLit(items=items):
            return items
    return ()


def met_targets(node: Node) -> set[str]:
    """Criterion ids referenced through met(...)."""
    out: set[str] = set()
    if isinstance(node, Call) and node.func == "met":
        arg = node.args[0]
        if isinstance(arg, Name):
            out.add(arg.id)
    for child in children(node):
        out |= met_targets(child)
    return out


_SYMBOL = {"==": "=", "!=": "≠", "<": "<", "<=": "≤", ">": ">", ">=": "≥"}


def to_text(node: Node, show: Callable[[str], str | None] | None = None) -> str:
    """Render an expression for people; ``show`` may replace a name by a rendering."""

    def r(n: Node, parent_prec: int = 0) -> str:
        match n:
            case Lit(value=value):
                return format_number(value)
            case Name(id=ident):
                if show is not None:
                    shown = show(ident)
                    if shown is not None:
                        return shown
                return ident
            case ListLit(items=items):
                return "[" + ", ".join(r(i) for i in items) + "]"
            case Index(base=base, key=key):
                return f"{r(base)}[{r(key)}]"
            case Call(func=func, args=args):
                return f"{func}(" + ", ".join(r(a) for a in args) + ")"
            case Neg(operand=operand):
                return "-" + r(operand, 9)
            case Not(operand=operand):
                return "not " + r(operand, 3)
            case Arith(op=op, left=left, right=right):
                prec = 6 if op in "+-" else 7
                sym = {"*": "×", "/": "÷"}.get(op, op)
                text = f"{r(left, prec)} {sym} {r(right, prec + 1)}"
                return f"({text})" if prec < parent_prec else text
            case Compare(op=op, left=left, right=right):
                sym = {
                    "in": "is one of",
                    "notin": "is not one of",
                    "contains": "contains all of",
                }.get(op, _SYMBOL.get(op, op))
                text = f"{r(left, 5)} {sym} {r(right, 5)}"
                return f"({text})" if parent_prec > 4 else text
            case BoolOp(op=op, values=values):
                prec = 1 if op == "or" else 2
                text = f" {op} ".join(r(v, prec + 1) for v in values)
                return f"({text})" if prec < parent_prec else text
        raise TypeError(n)

    return r(node)


def tokens(text: str) -> list[tuple[str, str, int]]:
    """The tokens of an expression as (kind, text, offset): kind is ``num``, ``str``,
    ``name`` (keywords included) or ``op``; offset is 0-based. Raises ExprError on a
    character the language does not have. Tools that edit an expression's text (the
    mutation test) use it to find operators without touching strings or names."""
    return [(t.kind, t.text, t.col - 1) for t in _tokenize(text) if t.kind != "end"]
