"""Loading policy texts: every mistake an author can make is named with its line and field."""

from __future__ import annotations

import pytest

from hub.policy import PolicyError, load_policy, load_policy_text

from .core_support import P2026, P2027, ROOT

TEXT = P2026.text


def errors_of(text: str) -> list[str]:
    with pytest.raises(PolicyError) as err:
        load_policy_text(text, source="draft.yaml")
    return err.value.errors


def line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


def test_default_policies_load_with_their_structure() -> None:
    assert (P2026.version, P2026.effective_from.isoformat()) == ("2026.1", "2026-07-01")
    assert (P2027.version, P2027.effective_from.isoformat()) == ("2027.1", "2027-01-01")
    assert len(P2026.criteria) == 28 and len(P2027.criteria) == 29
    assert [t.id for t in P2026.tiers] == ["T1", "T2", "T3"]
    assert [b.id for b in P2026.benefits] == [
        "property_land_tax", "social_tax_foreign_staff", "cit_exemption", "vat_exemption",
        "pit_foreign_staff", "dividend_exemption", "mining_fee_reduction",
    ]  # fmt: skip
    assert P2026.digest.startswith("sha256:") and P2026.digest != P2027.digest
    assert "unhosted_wallet_verified_pct" in P2027.inputs_by_name
    assert "unhosted_wallet_verified_pct" not in P2026.inputs_by_name


def test_unknown_input_in_a_condition_names_line_criterion_and_input() -> None:
    bad = TEXT.replace(
        "condition: kyc_verified_clients_pct >= kyc_baseline_min_pct",
        "condition: kyc_pct >= kyc_baseline_min_pct",
    )
    line = line_of(bad, "condition: kyc_pct")
    assert errors_of(bad) == [
        f"draft.yaml:{line}: criterion kyc_baseline: condition: "
        "unknown input or parameter 'kyc_pct'"
    ]


def test_syntax_error_in_a_condition_has_a_column() -> None:
    bad = TEXT.replace("condition: fte_in_zone >= min_fte_in_zone", "condition: fte_in_zone >=")
    (error,) = errors_of(bad)
    assert "criterion local_staff: condition: expected a value" in error
    assert error.startswith(f"draft.yaml:{line_of(bad, 'condition: fte_in_zone >=')}:")


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("tier: T1\n    applies_to: all\n    condition: sanctions",
         "tier: T9\n    applies_to: all\n    condition: sanctions",
         "criterion no_sanctions: unknown tier 'T9'"),
        ("applies_to: [mining]\n    condition: power_metered", "applies_to: [minnig]\n    "
         "condition: power_metered", "'minnig' is neither an activity nor an activity group"),
        ("condition: sanctions_screening_hit == false", "condition: sanctions_screening_hit >= 1",
         "cannot compare a bool with a number"),
        ("condition: fte_in_zone >= min_fte_in_zone", "condition: fte_in_zone",
         "condition must be a bool expression, not a number"),
        ("requires: tier >= T3", "requires: tier >= T7", "unknown input or parameter 'T7'"),
        ("requires: tier >= T3", "requires: tier == T3", "only 'tier >= Tn' or 'tier > Tn'"),
        ("met(renewable_energy)", "met(renewable)", "'renewable' is not one"),
        ("activity != 'mining'", "activity != 'minig'", "'minig' is not a choice of activity"),
        ("kyc_baseline_min_pct: {value: 95", "kyc_baseline_min_pct: {value: '95'",
         "value must be a number, a list of choices or a mapping of choices"),
        ('version: "2026.1"', "version: 2026.1", 'version must be quoted text'),
        ("effective_from: 2026-07-01", "effective_from: July", "effective_from must be a date"),
        ("    type: bool\n    group: licensing", "    type: boolean\n    group: licensing",
         "type must be one of"),
        ("  - id: no_tax_arrears", "  - id: no_sanctions",
         "criterion no_sanctions: the id is used twice"),
        ("    citation: ACH Rule 2.2\n", "    citation: ACH Rule 2.2\n    colour: red\n",
         "unknown field 'colour'"),
        ("standard_rate: cit_rate", "standard_rate: cit_rat", "unknown parameter 'cit_rat'"),
        ("saving: cit_rate * qualifying_profit_kzt", "saving: cit_rate * registered_in_hub",
         "a saving formula cannot read 'registered_in_hub'"),
    ],
)  # fmt: skip
def test_author_mistakes_are_explained(old: str, new: str, message: str) -> None:
    assert old in TEXT
    bad = TEXT.replace(old, new, 1)
    errors = errors_of(bad)
    assert any(message in e for e in errors), errors
    assert all(e.startswith("draft.yaml") for e in errors)


def test_several_errors_are_reported_together() -> None:
    bad = TEXT.replace("kyc_verified_clients_pct >= kyc_baseline_min_pct", "kyc >= 1").replace(
        "fte_in_zone >= min_fte_in_zone", "fte >= 1"
    )
    assert len(errors_of(bad)) == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "a policy must be a YAML mapping"),
        ("[1, 2]", "a policy must be a YAML mapping"),
        ("id: [unclosed", "not valid YAML"),
        ("a: 1\na: 2\n", "duplicate key 'a'"),
        ("!!python/object:os.system {}", "unsupported tag"),
        ("a: !!python/name:os.system", "not valid YAML"),
    ],
)
def test_broken_documents(text: str, message: str) -> None:
    assert any(message in e for e in errors_of(text))


def test_unreadable_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PolicyError, match="cannot read"):
        load_policy(tmp_path / "nope.yaml")


def test_a_rule_too_complex_for_the_engine_is_refused_at_load() -> None:
    # Rules fire on the negated condition: an "or" of "and"s becomes a product of "or"s.
    alternatives = " or ".join(
        f"(kyc_verified_clients_pct == {i} and fte_in_zone == {i} and fte_declared == {i})"
        for i in range(20)
    )
    bad = TEXT.replace("condition: fte_in_zone >= min_fte_in_zone", f"condition: {alternatives}")
    assert any("too complex for the engine" in e for e in errors_of(bad))


def test_to_dict_renders_conditions_in_words() -> None:
    d = P2027.to_dict()
    crit = {c["id"]: c for c in d["criteria"]}
    assert crit["kyc_baseline"]["condition_text"] == "kyc_verified_clients_pct ≥ 97"
    assert crit["local_opex"]["condition_text"] == "opex_in_zone_kzt ≥ 60,000,000"
    assert crit["staff_as_declared"]["condition_text"] == "fte_in_zone ≥ 0.8 × fte_declared"
    rates = {b["id"]: b["standard_rate"] for b in d["benefits"]}
    assert rates["cit_exemption"] == "20%" and rates["mining_fee_reduction"] == "10 KZT/kWh"


def test_shipped_files_are_the_only_versions() -> None:
    files = sorted(p.name for p in (ROOT / "policies").rglob("*.yaml"))
    assert files == ["2026.1.yaml", "2027.1.yaml"]


def test_a_yes_no_input_can_be_the_whole_condition() -> None:
    text = TEXT.replace("condition: power_metered == true", "condition: power_metered")
    assert load_policy_text(text).criterion_by_id["metered_power"].condition == "power_metered"


@pytest.mark.parametrize("digits", ["٢٠٢٦.٩", "２０２６.９", "2026.٩"])
def test_a_version_in_other_digits_is_refused(digits: str) -> None:
    # \d takes any script's digits: "٢٠٢٦.٩" was a version, which then named files, URLs
    # and scenario tags beside "2026.9".
    errors = errors_of(TEXT.replace('version: "2026.1"', f'version: "{digits}"', 1))
    assert any('must look like "2026.1"' in e for e in errors), errors
