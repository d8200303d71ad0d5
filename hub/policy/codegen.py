"""Straight-line Python for the hot paths of a decision, generated from a policy's shape.

Why: validating a filing and writing a decision's JSON walk every input and every
criterion, and a generic loop pays for tuple unpacking, indirect calls and attribute
lookups at each step. The same work written out per policy runs 2-3 times faster
(measured with benchmarks/decisions.py), which is what lets the service answer tens
of thousands of decisions per second.

Safety: the source holds fixed code and the names of inputs, each checked here
against the loader's identifier pattern and written with ``repr``. Every value the
policy supplies (bounds, choices, texts) is passed in the function's namespace,
never formatted into the source, so no policy text is ever compiled as code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .document import ID_RE


def name_literal(name: str) -> str:
    """An input name as a Python string literal, refused unless it is an identifier."""
    if not isinstance(name, str) or not ID_RE.match(name):
        raise ValueError(f"not an identifier: {name!r}")
    return repr(name)


def make_function(
    name: str, args: str, body: list[str], namespace: dict[str, Any], label: str = ""
) -> Callable[..., Any]:
    """Compile ``def name(args): body`` with ``namespace`` as its globals. ``name`` is
    fixed by the caller; ``label`` (say, an activity from the policy) only names the
    generated source in tracebacks, never enters it."""
    if not name.isidentifier():
        raise ValueError(f"not an identifier: {name!r}")
    source = f"def {name}({args}):\n" + "\n".join("    " + line for line in body) + "\n"
    scope = dict(namespace)
    exec(compile(source, f"<generated {name} {label!r}>", "exec"), scope)
    scope[name].__source__ = source  # for debugging and tests
    fn: Callable[..., Any] = scope[name]
    return fn
