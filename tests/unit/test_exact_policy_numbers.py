"""Every number written in a policy is held exactly by the engine, or refused at its line.

A parameter ``{value: 94.99999999999999999}`` was loaded as 95.0, ``1e-400`` as 0.0 and
``123456789012345678901234567890`` as a number no double holds, and ``hub policy check``
said OK: the policy would decide on numbers its author never wrote.
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from hub.cli import main
from hub.policy import PolicyError, expr, load_policy_text
from hub.policy.exact import MAX_EXACT_INTEGER, inexact

from .core_support import P2026

TEXT = P2026.text
PARAM = "max_str_median_hours: {value: 24, unit: hours}"
INPUT_MAX = "    min: 0\n    max: 100\n    group: governance\n    label: Independent directors"
CONDITION = "condition: tax_arrears_kzt <= max_tax_arrears_kzt"

INEXACT = [
    "123456789012345678901234567890",
    str(MAX_EXACT_INTEGER + 1),
    str(-MAX_EXACT_INTEGER - 1),
    "94.99999999999999999",
    "0.1000000000000000001",
    "1e-400",
    "-1e-400",
    "1e400",
    "-1.5e999",
]


def errors_of(text: str) -> list[str]:
    with pytest.raises(PolicyError) as err:
        load_policy_text(text, source="draft.yaml")
    return err.value.errors


def line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


@pytest.mark.parametrize("number", INEXACT)
def test_a_parameter_the_engine_cannot_hold_is_refused_at_its_line(number: str) -> None:
    assert PARAM in TEXT
    text = TEXT.replace(PARAM, PARAM.replace("value: 24", f"value: {number}"))
    errors = errors_of(text)
    line = line_of(text, "max_str_median_hours:")
    assert any(e.startswith(f"draft.yaml:{line}:") and number in e for e in errors), errors


@pytest.mark.parametrize("number", INEXACT)
def test_an_input_bound_the_engine_cannot_hold_is_refused_at_its_line(number: str) -> None:
    assert INPUT_MAX in TEXT
    text = TEXT.replace(INPUT_MAX, INPUT_MAX.replace("max: 100", f"max: {number}"))
    errors = errors_of(text)
    line = line_of(TEXT, INPUT_MAX) + 1
    assert any(e.startswith(f"draft.yaml:{line}:") and number in e for e in errors), errors


@pytest.mark.parametrize(
    "literal", ["123456789012345678901234567890", "9007199254740992", "94.99999999999999999"]
)
def test_a_literal_in_a_condition_the_engine_cannot_hold_is_refused(literal: str) -> None:
    assert CONDITION in TEXT
    text = TEXT.replace(CONDITION, f"condition: tax_arrears_kzt <= {literal}")
    errors = errors_of(text)
    assert any(literal in e for e in errors), errors
    with pytest.raises(expr.ExprError, match="engine"):
        expr.parse(f"x <= {literal}")


@pytest.mark.parametrize("number", ["95", "94.9", "0.1", "5e1", "1e-300", "9007199254740991"])
def test_numbers_the_engine_holds_load(number: str) -> None:
    text = TEXT.replace(PARAM, PARAM.replace("value: 24", f"value: {number}"))
    load_policy_text(text, source="draft.yaml")
    assert inexact(number, float(number) if "." in number or "e" in number else int(number)) is None
    assert inexact("-9007199254740991", -MAX_EXACT_INTEGER) is None


def test_hub_policy_check_names_the_number(tmp_path) -> None:
    path = tmp_path / "draft.yaml"
    path.write_text(
        TEXT.replace(PARAM, PARAM.replace("value: 24", "value: 94.99999999999999999")),
        encoding="utf-8",
    )
    result = CliRunner().invoke(main, ["policy", "check", str(path)])
    assert result.exit_code != 0
    assert "94.99999999999999999" in result.output + (result.stderr or "")


@pytest.mark.parametrize(
    ("condition", "named"),
    [
        # above the money ceiling (9,999,999,999,999.99 KZT)
        ("tax_arrears_kzt <= 20000000000000", "20,000,000,000,000"),
        ("20000000000000 >= tax_arrears_kzt", "20,000,000,000,000"),
        # below the declared min: 0
        ("tax_arrears_kzt >= -1", "-1"),
        # above the declared max: 100
        ("independent_directors_pct >= 101", "101"),
    ],
)
def test_a_threshold_outside_its_input_s_bounds_is_an_error_naming_both(
    condition: str, named: str
) -> None:
    text = TEXT.replace(CONDITION, f"condition: {condition}")
    errors = errors_of(text)
    line = line_of(TEXT, CONDITION)
    found = [e for e in errors if e.startswith(f"draft.yaml:{line}:")]
    assert found, errors
    assert named in found[0] and condition.split()[0 if condition[0].isalpha() else 2] in found[0]


def test_a_parameter_threshold_outside_the_bounds_is_an_error_naming_both() -> None:
    start = TEXT.index("  max_tax_arrears_kzt:")
    at = TEXT.index("    value: 0\n", start)
    changed = TEXT[:at] + "    value: 10000000000000\n" + TEXT[at + len("    value: 0\n") :]
    errors = errors_of(changed)
    assert any("max_tax_arrears_kzt" in e and "tax_arrears_kzt accepts" in e for e in errors), (
        errors
    )


@pytest.mark.parametrize(
    "condition",
    ["tax_arrears_kzt <= 9999999999999.99", "tax_arrears_kzt >= 0", "tax_arrears_kzt <= 0"],
)
def test_thresholds_at_the_bounds_load(condition: str) -> None:
    load_policy_text(TEXT.replace(CONDITION, f"condition: {condition}"), source="draft.yaml")
