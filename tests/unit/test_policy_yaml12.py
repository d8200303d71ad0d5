"""Policy files mean what they say: YAML 1.2 (core schema), and every plain scalar that a YAML 1.1
reader would take for something else is refused at its line, telling the author what to write."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from hub.cli import main
from hub.policy import PolicyError, load_policy_text
from hub.policy.yaml12 import core_value, load_with_lines

from .core_support import P2026

# The command line here reads the policy folder alone (no database): see ``no_database``.
pytestmark = pytest.mark.usefixtures("no_database")

TEXT = P2026.text
PARAM = "max_str_median_hours: {value: 24, unit: hours}"
REQUIRED = "  bin:\n    type: string\n    format: bin\n    required: true\n"
SAVING = "    min: 0\n    saving: true\n"


def errors_of(text: str) -> list[str]:
    with pytest.raises(PolicyError) as err:
        load_policy_text(text, source="draft.yaml")
    return err.value.errors


def line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


def with_param(value: str) -> str:
    assert PARAM in TEXT
    return TEXT.replace(PARAM, PARAM.replace("value: 24", f"value: {value}"))


def param_value(value: str) -> object:
    return load_policy_text(with_param(value)).parameters["max_str_median_hours"].value


@pytest.mark.parametrize(
    ("written", "yaml11", "advice"),
    [
        ("24:00", "1440", "write 1440 if you mean the number, or quote it ('24:00')"),  # base 60
        ("1:00:00", "3600", "write 3600"),
        ("1:30.5", "90.5", "write 90.5"),  # base-60 float
        ("030", "24", "write 30 without the leading zero, or quote it ('030')"),  # octal
        ("-030", "-24", "write -30 without the leading zero"),
        ("0b11000", "24", "write 24 if you mean the number"),  # binary
        ("2_4", "24", "write 24 if you mean the number, or quote it ('2_4')"),  # underscores
        ("1_000.5", "1000.5", "write 1000.5"),
        ("-0x18", "-24", "write -24"),  # hexadecimal with a sign: 1.1 only
    ],
)
def test_numbers_read_differently_by_yaml_1_1_are_refused_at_their_line(
    written: str, yaml11: str, advice: str
) -> None:
    bad = with_param(written)
    (error,) = errors_of(bad)
    assert error.startswith(
        f"draft.yaml:{line_of(bad, 'max_str_median_hours:')}: "
        f"parameters.max_str_median_hours.value: {written} means {yaml11} in YAML 1.1"
    ), error
    assert advice in error, error


@pytest.mark.parametrize("word", ["yes", "No", "ON", "off", "On", "y", "N", "Yes", "OFF"])
def test_yaml_1_1_booleans_are_refused(word: str) -> None:
    bad = TEXT.replace(REQUIRED, REQUIRED.replace("required: true", f"required: {word}"))
    assert bad != TEXT
    (error,) = errors_of(bad)
    meant = "true" if word.lower() in ("yes", "on", "y") else "false"
    assert error == (
        f"draft.yaml:{line_of(bad, f'required: {word}')}: inputs.bin.required: {word} means "
        f"{meant} in YAML 1.1 but the text '{word}' in YAML 1.2: write {meant} if you mean a "
        f"yes/no value, or quote it ('{word}') for text"
    )


def test_every_ambiguous_scalar_is_reported_at_once_with_its_own_line() -> None:
    bad = TEXT.replace(SAVING, SAVING.replace("saving: true", "saving: on"), 1)
    bad = bad.replace(PARAM, PARAM.replace("value: 24", "value: 010"))
    errors = errors_of(bad)
    assert [e.split(": ")[0] for e in errors] == [
        f"draft.yaml:{line_of(bad, 'saving: on')}",
        f"draft.yaml:{line_of(bad, 'value: 010')}",
    ]
    assert "inputs.qualifying_profit_kzt.saving: on means true" in errors[0]
    assert "parameters.max_str_median_hours.value: 010 means 8 in YAML 1.1" in errors[1]


def test_merge_and_value_keys_are_refused_with_advice() -> None:
    bad = TEXT.replace(PARAM, "max_str_median_hours: {<<: {unit: hours}, value: 24}")
    errors = errors_of(bad)
    assert any(
        e.startswith(f"draft.yaml:{line_of(bad, '{<<:')}: parameters.max_str_median_hours.<<: ")
        and "'<<' merges mappings in YAML 1.1 but is an ordinary key in YAML 1.2" in e
        for e in errors
    ), errors
    bad = with_param("=")
    (error,) = errors_of(bad)
    assert "parameters.max_str_median_hours.value: '=' is the 'value' key in YAML 1.1" in error


def test_a_key_is_read_by_the_same_rules() -> None:
    bad = TEXT.replace(PARAM, f"{PARAM}\n  on: {{value: 1}}")
    (error,) = errors_of(bad)
    assert error.startswith(f"draft.yaml:{line_of(bad, '  on: ')}: parameters.on: on means true")


@pytest.mark.parametrize(
    ("written", "value"),
    [
        ("24", 24),
        ("+24", 24),
        ("0x18", 24),  # hexadecimal: the same in both versions
        ("0o30", 24),  # YAML 1.2 octal
        ("2.4e1", 24.0),  # YAML 1.2 exponent (text for PyYAML's 1.1)
        ("2.4E+1", 24.0),
        ("24.", 24.0),
        ("0", 0),
    ],
)
def test_yaml_1_2_numbers_load(written: str, value: object) -> None:
    loaded = param_value(written)
    assert loaded == value and type(loaded) is type(value)


def test_quoted_forms_are_text_and_text_where_a_number_is_expected_is_an_error() -> None:
    for quoted in ("'24:00'", '"010"', "'yes'"):
        errors = errors_of(with_param(quoted))
        assert any("max_str_median_hours: value must be a number" in e for e in errors), errors


@pytest.mark.parametrize("written", [".inf", "-.inf", ".nan", ".NaN"])
def test_infinite_and_nan_numbers_are_refused_where_a_number_is_expected(written: str) -> None:
    assert any("value must be a finite number" in e for e in errors_of(with_param(written)))
    bad = TEXT.replace("    min: 0\n    max: 100\n", f"    min: 0\n    max: {written}\n", 1)
    assert bad != TEXT
    assert any("max must be a finite number" in e for e in errors_of(bad))


@pytest.mark.parametrize("tag", ["!!int", "!!float", "!!bool", "!!timestamp", "!!binary"])
def test_explicit_type_tags_are_refused(tag: str) -> None:
    bad = with_param(f"{tag} 24")
    (error,) = errors_of(bad)
    assert error.startswith(f"draft.yaml:{line_of(bad, tag)}: not valid YAML: unsupported tag")
    assert f"'{tag}'" in error


def test_effective_dates_are_read_quoted_or_not() -> None:
    assert P2026.effective_from == dt.date(2026, 7, 1)  # written unquoted in the shipped file
    quoted = TEXT.replace("effective_from: 2026-07-01", 'effective_from: "2026-07-01"')
    assert load_policy_text(quoted).effective_from == dt.date(2026, 7, 1)
    for bad in ("2026-7-1", "2026-02-30", "2026-07-01 10:00:00", "20260701", "'2026-W27-3'"):
        errors = errors_of(TEXT.replace("effective_from: 2026-07-01", f"effective_from: {bad}"))
        assert any("effective_from must be a date YYYY-MM-DD" in e for e in errors), (bad, errors)


def test_a_date_is_text_where_text_is_expected() -> None:
    policy = load_policy_text(TEXT.replace("title: Registered", "title: 2026-07-01", 1))
    assert policy.tiers[0].title == "2026-07-01"


@pytest.mark.parametrize(
    ("plain", "value"),
    [
        ("", None), ("~", None), ("null", None), ("NULL", None), ("Null", None),
        ("true", True), ("True", True), ("TRUE", True), ("false", False), ("FALSE", False),
        ("tRUE", "tRUE"), ("yes", "yes"), ("010", 10), ("-7", -7), ("0o17", 15), ("0x1f", 31),
        ("0X1F", "0X1F"), ("0b1", "0b1"), ("1_0", "1_0"), ("1e3", 1000.0), (".5", 0.5),
        ("-.inf", -math.inf), ("24:00", "24:00"), ("2026-01-01", "2026-01-01"),
        ("١٢", "١٢"),  # Arabic-Indic digits are text, not a number
    ],
)  # fmt: skip
def test_core_schema_values(plain: str, value: object) -> None:
    got = core_value(plain)
    assert got == value and type(got) is type(value)


def test_lines_of_keys_and_items_are_kept() -> None:
    data, lines = load_with_lines("a:\n  - x\n  - {b: 1}\nc: 'd'\n")
    assert data == {"a": ["x", {"b": 1}], "c": "d"}
    assert lines[("a",)] == 1 and lines[("a", 1, "b")] == 3 and lines[("c",)] == 4


def test_policy_check_refuses_with_the_line_and_exit_1(tmp_path: Path) -> None:
    draft = tmp_path / "2026.1.yaml"
    draft.write_text(with_param("24:00"), encoding="utf-8")
    result = CliRunner().invoke(main, ["policy", "check", str(draft)])
    assert result.exit_code == 1
    line = line_of(with_param("24:00"), "max_str_median_hours:")
    assert result.stderr.startswith(
        f"2026.1.yaml:{line}: parameters.max_str_median_hours.value: 24:00 means 1440 in YAML 1.1"
    ), result.stderr
    assert "OK" not in result.stdout


@pytest.mark.parametrize("command", [["show"], ["diff", "2026.1"]])
def test_policy_show_and_diff_refuse_an_ambiguous_file(tmp_path: Path, command: list[str]) -> None:
    draft = tmp_path / "2026.1.yaml"
    draft.write_text(with_param("010"), encoding="utf-8")
    args = ["policy", command[0], *command[1:], str(draft)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code != 0
    assert "010 means 8 in YAML 1.1" in result.output + result.stderr


@pytest.mark.parametrize(
    ("written", "first"),
    [
        ("a: &h {value: 24}\nb: *h\n", "an anchor (&h)"),
        ("c: [&n 3, *n]\n", "an anchor (&n)"),
        ("self: &r {value: 24, again: *r}\n", "an anchor (&r)"),  # a mapping holding itself
        ("unused: &u 3\n", "an anchor (&u)"),
    ],
)
def test_anchors_and_aliases_are_refused_at_their_line(written: str, first: str) -> None:
    with pytest.raises(yaml.YAMLError, match="are not accepted in a policy"):
        load_with_lines(written)
    text = TEXT.replace(PARAM, f"{PARAM}\n  {written.splitlines()[0]}")
    (error,) = errors_of(text)
    line = line_of(text, written.splitlines()[0])
    assert error.startswith(f"draft.yaml:{line}: not valid YAML: {first}: "), error


def test_an_alias_bomb_is_refused_before_anything_expands() -> None:
    # "Billion laughs": nine levels of nine aliases each would be 387 million values.
    bomb = "a0: &a0 [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 9)
    )
    (error,) = errors_of(bomb + TEXT)
    assert error.startswith("draft.yaml:1: not valid YAML: an anchor (&a0)"), error


def test_a_text_of_thousands_of_ambiguous_values_gives_a_short_answer() -> None:
    many = "many: [" + ", ".join(["yes"] * 5000) + "]\n"
    errors = errors_of(many + TEXT)
    assert len(errors) == 101
    assert errors[-1] == "draft.yaml:1: ... and 4,900 more values written the same ambiguous way"


def test_values_nested_too_deep_are_refused_not_a_crash() -> None:
    deep = "deep: " + "[" * 500 + "]" * 500 + "\n"
    (error,) = errors_of(deep + TEXT)
    assert "values nested more than 40 levels deep are not accepted" in error


def test_a_text_over_the_size_limit_is_refused_at_the_line_it_passes_it(tmp_path: Path) -> None:
    from hub.policy.loader import MAX_TEXT_BYTES

    padding = "".join(f"# {'é' * 60}\n" for _ in range(MAX_TEXT_BYTES // 100))
    big = TEXT + padding
    size = len(big.encode())
    assert size > MAX_TEXT_BYTES > len(big) // 2
    (error,) = errors_of(big)
    line = big.encode()[:MAX_TEXT_BYTES].count(b"\n") + 1
    assert error.startswith(f"draft.yaml:{line}: the policy text is {size:,} bytes long"), error
    assert "more than the 262,144 bytes (256 KB)" in error
    path = tmp_path / "2026.1.yaml"
    path.write_text(big, encoding="utf-8")
    result = CliRunner().invoke(main, ["policy", "check", str(path)])
    assert result.exit_code == 1
    assert f"2026.1.yaml:{line}: the policy text is {size:,} bytes long" in result.output
