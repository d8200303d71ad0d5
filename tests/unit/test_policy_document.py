"""The policy file's declared structure: strict, closed, errors at their lines, published
as a JSON Schema that agrees with the loader."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from jsonschema import Draft202012Validator

from hub.cli import main
from hub.policy import PolicyError, load_policy_text
from hub.policy.document import json_schema
from hub.policy.yaml12 import load_with_lines

from .core_support import P2026, P2027

TEXT = P2026.text
SCHEMA = json_schema()
VALIDATOR = Draft202012Validator(SCHEMA)


def errors_of(text: str) -> list[str]:
    with pytest.raises(PolicyError) as err:
        load_policy_text(text, source="draft.yaml")
    return err.value.errors


def line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


def data_of(text: str) -> Any:
    return load_with_lines(text)[0]


def test_the_schema_is_draft_2020_12_and_describes_every_field() -> None:
    Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert SCHEMA["description"].startswith("A version of a policy")
    undescribed = [
        f"{name}.{field}"
        for name, model in [("policy", SCHEMA), *SCHEMA["$defs"].items()]
        for field, spec in model.get("properties", {}).items()
        if not spec.get("description")
    ]
    assert not undescribed, undescribed


@pytest.mark.parametrize("policy", [P2026, P2027], ids=lambda p: p.version)
def test_the_schema_validates_the_shipped_files(policy: Any) -> None:
    assert list(VALIDATOR.iter_errors(data_of(policy.text))) == []


# Broken drafts: the published schema refuses each, and so does the loader, at the
# line of the mistake, naming the item and the field.
BROKEN = [
    ('version: "2026.1"', "version: 2026.1", "version: 2026.1",
     'policy: version must be quoted text, e.g. "2026.1"'),
    ("kyc_baseline_min_pct: {value: 95", "kyc_baseline_min_pct: {value: '95'",
     "kyc_baseline_min_pct:",
     "parameter kyc_baseline_min_pct: value must be a number, a list of choices"),
    ("    type: bool\n    group: licensing", "    type: boolean\n    group: licensing",
     "type: boolean", "input registered_in_hub: type must be one of string, number"),
    ("    citation: ACH Rule 2.2\n", "    citation: ACH Rule 2.2\n    colour: red\n",
     "colour: red", "criterion no_tax_arrears: unknown field 'colour'"),
    ("title: Registered", "title: 2026.10", "title: 2026.10",
     'tier T1: title must be quoted text, e.g. "2026.1"'),
    ("  - id: no_tax_arrears", "  - id: No_tax", "id: No_tax",
     "criterion No_tax: id 'No_tax' must be lower-case letters, digits and _"),
    ("    type: bool\n    group: licensing", "    type: bool\n    min: 0\n    group: licensing",
     "    min: 0\n    group: licensing",
     "input registered_in_hub: min applies to number, integer inputs only"),
    ("    min: 0\n    max: 100\n", "    min: 0\n    max: 100\n    required: 1\n", "required: 1",
     "input independent_directors_pct: required must be true or false"),
    ("  - id: T1\n", "  - id: Gold\n", "id: Gold", "tier Gold: id 'Gold' must look like T1, T2"),
    ("condition: sanctions_screening_hit == false", "condition: ''", "condition: ''",
     "criterion no_sanctions: condition must be written"),
    ("  bin:\n", "  as_of:\n    type: date\n  bin:\n", "as_of:",
     "input as_of: the name must be an identifier and not a reserved word"),
    ("rounding: {unit: 0.01, mode: half_up}", "rounding: {unit: 0.01, mode: bankers}",
     "rounding: {", "rounding: mode must be one of half_up, half_even"),
]  # fmt: skip


@pytest.mark.parametrize(("old", "new", "at", "message"), BROKEN, ids=[b[3][:40] for b in BROKEN])
def test_a_broken_file_is_refused_by_the_schema_and_the_loader_at_its_line(
    old: str, new: str, at: str, message: str
) -> None:
    assert old in TEXT
    bad = TEXT.replace(old, new, 1)
    assert list(VALIDATOR.iter_errors(data_of(bad))), "the published schema accepts it"
    errors = errors_of(bad)
    assert any(e.startswith(f"draft.yaml:{line_of(bad, at)}: {message}") for e in errors), errors


def test_text_where_a_number_is_expected_is_never_read_as_the_number() -> None:
    bad = TEXT.replace("    min: 0\n    max: 100\n", "    min: '0'\n    max: 100\n", 1)
    (error,) = errors_of(bad)
    line = line_of(bad, "min: '0'")
    assert error.startswith(f"draft.yaml:{line}: input "), error
    assert error.endswith(": min must be a number")


def test_structural_errors_come_together() -> None:
    bad = TEXT.replace('version: "2026.1"', "version: 2026.1").replace(
        "title: Registered", "title: [Registered]", 1
    )
    errors = errors_of(bad)
    assert [e.split(": ", 1)[0] for e in errors] == [
        f"draft.yaml:{line_of(bad, 'version: 2026.1')}",
        f"draft.yaml:{line_of(bad, 'title: [Registered]')}",
    ], errors
    assert errors[1].endswith("tier T1: title must be text")


def test_a_parameter_is_a_bare_value_or_a_mapping_with_its_value() -> None:
    bare = TEXT.replace("kyc_baseline_min_pct: {value: 95,", "kyc_baseline_min_pct: {value: 94,")
    assert load_policy_text(bare).parameters["kyc_baseline_min_pct"].value == 94
    line = next(ln for ln in TEXT.splitlines() if ln.startswith("  kyc_baseline_min_pct:"))
    shorthand = TEXT.replace(line, "  kyc_baseline_min_pct: 94")
    loaded = load_policy_text(shorthand).parameters["kyc_baseline_min_pct"]
    assert (loaded.value, type(loaded.value), loaded.unit) == (94, int, "")
    assert list(VALIDATOR.iter_errors(data_of(shorthand))) == []


def test_hub_policy_schema_prints_and_writes_the_schema(tmp_path: Path) -> None:
    printed = CliRunner().invoke(main, ["policy", "schema"])
    assert printed.exit_code == 0, printed.output
    assert json.loads(printed.stdout) == SCHEMA
    out = tmp_path / "policy.schema.json"
    written = CliRunner().invoke(main, ["policy", "schema", "--out", str(out)])
    assert written.exit_code == 0 and str(out) in written.stdout
    assert json.loads(out.read_text(encoding="utf-8")) == SCHEMA
    refused = CliRunner().invoke(main, ["policy", "schema", "--out", str(tmp_path / "no" / "x")])
    assert refused.exit_code == 1 and "cannot write the schema" in refused.output


def test_based_on_names_the_version_a_text_was_drafted_from() -> None:
    assert SCHEMA["properties"]["based_on"]["description"].startswith("The version this text")
    text = TEXT.replace('version: "2026.1"', 'version: "2026.2"\nbased_on: "2026.1"')
    assert load_policy_text(text, source="draft.yaml").based_on == "2026.1"
    assert list(VALIDATOR.iter_errors(data_of(text))) == []
    assert P2026.based_on is None  # the shipped files need none
    line = line_of(TEXT, 'version: "2026.1"') + 1
    for wrong, message in [
        ("based_on: 2026.1", 'based_on must be quoted text, e.g. "2026.1"'),
        ('based_on: "last"', "based_on 'last' must look like \"2026.1\" (in quotes)"),
        ('based_on: "2026.2"', "based_on '2026.2' is this version's own number"),
    ]:
        bad = TEXT.replace('version: "2026.1"', f'version: "2026.2"\n{wrong}')
        (error,) = errors_of(bad)
        assert error.startswith(f"draft.yaml:{line}: policy: {message}"), error
