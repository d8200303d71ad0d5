"""The condition language: parsing, rendering, and refusal of anything that is not it."""

from __future__ import annotations

import pytest

from hub.policy import expr
from hub.policy.evaluate import Missing, specialise, to_callable
from hub.policy.expr import ExprError, parse
from hub.policy.shown import format_value


@pytest.mark.parametrize(
    ("text", "env", "expected"),
    [
        ("a >= 95", {"a": 95}, True),
        ("a >= 95", {"a": 94.999}, False),
        ("a > 0.8 * b", {"a": 8, "b": 10}, False),
        ("a >= 0.8 * b", {"a": 8, "b": 10}, True),
        ("(a + b) / 2 == 5", {"a": 4, "b": 6}, True),
        ("-a < 0", {"a": 1}, True),
        ("x == 'mining' or y", {"x": "exchange", "y": True}, True),
        ("not (x == 'mining') and y", {"x": "mining", "y": True}, False),
        ("x in ['a', 'b']", {"x": "b"}, True),
        ("x not in ['a', 'b']", {"x": "b"}, False),
        ("s contains ['SEO', 'FO']", {"s": ["FO", "SEO", "CO"]}, True),
        ("s contains ['SEO', 'FO']", {"s": ["SEO"]}, False),
        ("d >= as_of", {"d": "2026-09-01", "as_of": "2026-09-01"}, True),
        ("m[k] == 'v'", {"m": {"a": "v"}, "k": "a"}, True),
        ("min(a, b) == 1 and max(a, b) == 2", {"a": 2, "b": 1}, True),
        ("a >= 50_000_000", {"a": 50_000_000}, True),
    ],
)
def test_evaluates(text: str, env: dict, expected: bool) -> None:
    assert to_callable(parse(text))(env) is expected


def test_absent_input_is_missing_not_false() -> None:
    with pytest.raises(Missing):
        to_callable(parse("a >= 1"))({})


def test_precedence_and_rendering() -> None:
    node = parse("a >= 1 and b < 2 or not c == true")
    assert isinstance(node, expr.BoolOp) and node.op == "or"
    assert expr.to_text(node) == "a ≥ 1 and b < 2 or not c = true"
    assert expr.to_text(parse("(a + b) * 2 >= c")) == "(a + b) × 2 ≥ c"


def test_specialise_folds_parameters_and_activity() -> None:
    node = parse("t == req[activity] and x >= lim")
    folded = specialise(node, {"req": {"exchange": "tf"}, "activity": "exchange", "lim": 95})
    assert expr.to_text(folded) == "t = tf and x ≥ 95"
    assert specialise(parse("activity == 'mining' and x > 1"), {"activity": "broker"}) == expr.Lit(
        False
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("__import__('os').system('id')", "unexpected character"),
        ("__import__('os')", "unknown function"),
        ("a.__class__", "unexpected character"),
        ("eval('1')", "unknown function"),
        ("open('/etc/passwd')", "unknown function"),
        ("lambda: 1", "unexpected character"),
        ("a if b else c", "unexpected"),
        ("f'{a}'", "unexpected"),
        ("a ** 2", "expected a value"),
        ("a; b", "unexpected character"),
        ("a >= ", "expected a value"),
        ("a >= 1 >= 0", "chained comparisons"),
        ("(" * 100 + "a" + ")" * 100, "nested deeper"),
        ("not " * 100 + "a", "nested deeper"),
        ("a" * 5000, "longer than"),
        ("", "empty"),
        ("'unterminated", "unexpected character"),
        ("met(a, b)", "takes 1 argument"),
        ("a @ b", "unexpected character"),
        ("a\\x00", "unexpected character"),
    ],
)
def test_refuses_what_is_not_the_language(text: str, message: str) -> None:
    with pytest.raises(ExprError, match=message):
        parse(text)


def test_error_points_at_the_column() -> None:
    with pytest.raises(ExprError) as err:
        parse("a >= 1 and $b")
    assert err.value.column == 12
    assert "column 12" in str(err.value)


@pytest.mark.parametrize(
    ("value", "shown"),
    [(95, "95"), (95.0, "95"), (92.5, "92.5"), (50_000_000, "50,000,000"), (0.00001, "0.00001"),
     (True, "true"), (["SEO", "FO"], "SEO, FO"), (1e16, "10,000,000,000,000,000")],
)  # fmt: skip
def test_format_value(value: object, shown: str) -> None:
    assert format_value(value) == shown
