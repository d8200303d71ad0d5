"""The studio's pure parts: impact analysis and a draft's copy of its base's scenarios."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from hub.policy import assess, load_policy, load_policy_text
from hub.policy.impact import Subject, analyse, rows_to_csv
from hub.specs import SpecSuite
from hub.studio.features import (
    copy_for_draft,
    join_features,
    select_version,
    spec_suite,
    split_features,
)

POLICIES = Path(__file__).parents[2] / "policies" / "astana-crypto-hub"


@pytest.fixture(scope="module")
def v2026():
    return load_policy(POLICIES / "2026.1.yaml")


@pytest.fixture(scope="module")
def v2027():
    return load_policy(POLICIES / "2027.1.yaml")


def exchange(**changes):
    filing = {
        "bin": "940140000385",
        "legal_name": "Steppe Exchange LLP",
        "activity": "exchange",
        "registered_in_hub": True,
        "licence_type": "trading_facility",
        "licence_expires_on": "2030-12-31",
        "officers_appointed": ["SEO", "FO", "CO", "MLRO", "CITO"],
        "fte_declared": 10,
        "fte_in_zone": 10,
        "opex_in_zone_kzt": 55_000_000.0,
        "qualifying_income_pct": 95.0,
        "separate_accounting": True,
        "regulatory_capital_usd": 500_000.0,
        "sanctions_screening_hit": False,
        "tax_arrears_kzt": 0.0,
        "kyc_verified_clients_pct": 100.0,
        "source_of_funds_documented_pct": 99.0,
        "destination_of_funds_documented_pct": 99.0,
        "travel_rule_compliant_pct": 99.5,
        "travel_rule_threshold_usd": 1000.0,
        "record_retention_years": 5,
        "str_median_hours": 12.0,
        "flagged_flow_pct": 1.0,
        "cross_border_outflows_reported": True,
        "qualifying_profit_kzt": 100_000_000.0,
    }
    filing.update(changes)
    return {k: v for k, v in filing.items() if v is not None}


def test_impact_of_2027_on_a_small_population(v2026, v2027):
    subjects = [
        Subject("a", "T2 exchange", exchange(), v2026),
        Subject("b", "Kyc 96", exchange(kyc_verified_clients_pct=96.0), v2026),
        Subject("c", "Wallet figure", exchange(unhosted_wallet_verified_pct=100.0), v2027),
    ]
    seen = []
    report = analyse(subjects, v2027, dt.date(2027, 1, 1), progress=seen.append, every=2)
    assert seen == [2, 3]
    rows = {r.key: r for r in report.rows}
    a = rows["a"]
    assert (a.before.tier, a.after.tier) == ("T2", "T1")
    assert ("local_opex", "met", "not_met") in a.flipped
    assert ("unhosted_wallet_checks", "absent", "missing") in a.flipped
    assert set(a.lost_benefits) == {"cit_exemption", "vat_exemption", "pit_foreign_staff"}
    assert a.saving_change == -20_000_000.0
    b = rows["b"]
    assert b.after.tier is None and ("kyc_baseline", "met", "not_met") in b.flipped
    # Decided under 2027.1 already: the same rules on both sides, nothing changes.
    assert not rows["c"].changed
    totals = report.totals()
    assert totals["companies"] == 3 and totals["changed"] == 2
    assert totals["tiers"]["T2"] == {"gaining": 0, "losing": 1, "before": 1, "after": 0}
    assert totals["tiers"]["T1"]["losing"] == 1
    assert totals["criteria_flips"]["local_opex"] == {"met -> not_met": 2}
    direct = sum(
        assess(v2027, s.inputs, dt.date(2027, 1, 1)).total_saving
        - assess(s.policy, s.inputs, dt.date(2027, 1, 1)).total_saving
        for s in subjects
    )
    assert totals["saving_change"] == round(direct, 2)


def test_a_filing_the_candidate_refuses_is_reported_not_raised(v2026, v2027):
    row = analyse(
        [Subject("c", "No BIN", exchange(bin=None), v2027)],
        v2026,
        dt.date(2027, 1, 1),
    ).rows[0]
    assert row.after.error and "bin" in row.after.error
    assert row.after.tier is None


def test_an_input_the_candidate_does_not_ask_is_not_read(v2026, v2027):
    """A 2027.1 filing analysed under 2026.1: 2026.1 decides on the inputs it asks (the
    answer to 2027.1's new question is not a reason to refuse the filing)."""
    row = analyse(
        [Subject("c", "New figure", exchange(unhosted_wallet_verified_pct=100.0), v2027)],
        v2026,
        dt.date(2027, 1, 1),
    ).rows[0]
    assert row.before.error is None and row.after.error is None
    alone = assess(v2026, exchange(), dt.date(2027, 1, 1))  # the same filing without it
    assert row.after.tier == alone.tier and row.after.saving == alone.total_saving
    assert ("unhosted_wallet_checks", "met", "absent") in row.flipped


def test_csv_is_safe_for_spreadsheets(v2026):
    report = analyse(
        [Subject("=cmd()", "+evil", exchange(legal_name="x"), v2026)], v2026, dt.date(2026, 9, 1)
    )
    text = rows_to_csv(report.to_dict()["rows"])
    assert "'=cmd()" in text and "'+evil" in text


FEATURE = """\
@custody
Feature: sample
  Background:
    Given an exchange "Steppe Exchange LLP" with BIN 940140000385

  @a @v2026.1 @v2027.1
  Scenario: both versions
    When the company is assessed
    Then criterion kyc_baseline is met

  @v2027.1
  Scenario: only 2027.1
    When the company is assessed

  Scenario Outline: rows per version
    Given its clients are <pct>% identity-verified
    When the company is assessed
    Then criterion kyc_baseline is <status>

    @v2026.1
    Examples: old
      | pct | status |
      | 95  | met    |

    @v2027.1
    Examples: new
      | pct | status  |
      | 96  | not met |

  @v2026.1
  Rule: a rule for 2026.1
    Scenario: inside the rule
      When the company is assessed
      Then it reaches tier T3

  @v2026.1
  Scenario: compares named versions
    When it is assessed under version 2027.1
"""


def test_a_draft_copies_only_its_base_versions_scenarios_retagged():
    text = select_version(FEATURE, "2026.1", "2026.2")
    assert text is not None
    assert "@a @v2026.2" in text and "only 2027.1" not in text
    assert "Examples: old" in text and "Examples: new" not in text and "| 96" not in text
    assert "Rule: a rule for 2026.1" in text and "inside the rule" in text
    assert "compares named versions" not in text
    assert "@v2026.1" not in text and "@v2027.1" not in text
    suite = SpecSuite.from_texts([("x.feature", text)])
    assert not suite.errors
    assert {s.name.split(" [")[0] for s in suite.select("@v2026.2")} == {
        "both versions",
        "rows per version",
        "inside the rule",
    }
    assert select_version(FEATURE, "2025.1", "2025.2") is None


def test_the_features_text_keeps_the_editors_line_numbers():
    combined = join_features([("one.feature", FEATURE), ("two.feature", FEATURE)])
    files = split_features(combined)
    assert [name for name, _ in files] == ["one.feature", "two.feature"]
    suite = spec_suite(combined)
    assert {sc.uri for sc in suite.scenarios} == {"one.feature", "two.feature"}
    lines = combined.split("\n")
    for sc in suite.scenarios:
        assert "Scenario" in lines[sc.line - 1] or "|" in lines[sc.line - 1]
        for step in sc.steps:
            assert step.text.split()[0] in lines[step.line - 1]
    broken = combined + "  Scenario: unfinished\n    Given x\n    this line is not Gherkin\n"
    (error,) = spec_suite(broken).errors
    at = len(combined.split("\n")) + 2
    assert error.startswith("two.feature: ") and f"({at}:" in error, error


def test_every_shipped_version_copies_into_a_passing_draft():
    from hub.specs import default_features_dir, read_features, run_specs

    for version, new in (("2026.1", "2026.9"), ("2027.1", "2027.9")):
        text, problems = copy_for_draft(read_features(default_features_dir()), version, new)
        assert not problems
        source = (POLICIES / f"{version}.yaml").read_text()
        policy = load_policy_text(source.replace(f'version: "{version}"', f'version: "{new}"'))
        report = run_specs(policy, spec_suite(text))
        assert report.ok, report.summary()


def test_the_baseline_is_the_version_otherwise_in_force_on_the_date(v2026, v2027):
    """A draft of 2026.1's rules effective 2027-03-01 replaces 2027.1 there, not 2026.1."""
    import dataclasses

    from hub.policy import NoVersionInForce, PolicyRegistry
    from hub.policy.impact import baseline_of, default_as_of

    draft = dataclasses.replace(
        v2026, version="2026.2", effective_from=dt.date(2027, 3, 1), digest="sha256:draft"
    )
    registry = PolicyRegistry([v2026, v2027])
    assert default_as_of(draft, dt.date(2026, 12, 1)) == dt.date(2027, 3, 1)
    assert default_as_of(draft, dt.date(2027, 4, 1)) == dt.date(2027, 4, 1)  # never in the past
    assert baseline_of(registry, draft, dt.date(2027, 3, 1)) is v2027
    assert baseline_of(registry, draft, dt.date(2026, 12, 15)) is v2026
    # A published candidate is compared with what it replaced, not with itself.
    assert baseline_of(registry, v2027, dt.date(2027, 1, 1)) is v2026
    # Retirements count: with 2027.1 retired from 2027-02-01, 2026.1 applies again.
    retired = PolicyRegistry([v2026, v2027], retired={(v2027.id, "2027.1"): dt.date(2027, 2, 1)})
    assert baseline_of(retired, draft, dt.date(2027, 3, 1)) is v2026
    with pytest.raises(NoVersionInForce, match="no policy version is in force on 2026-01-01"):
        baseline_of(registry, draft, dt.date(2026, 1, 1))
    # The report names the baseline and the date.
    report = analyse(
        [Subject("940140000385", "Steppe Exchange LLP", exchange(), v2027)],
        draft,
        dt.date(2027, 3, 1),
        against="2027.1",
    )
    data = report.to_dict()
    assert (data["against"], data["as_of"]) == ("2027.1", "2027-03-01")
    assert data["rows"][0]["before"]["version"] == "2027.1"
