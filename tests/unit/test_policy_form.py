"""The form generated from a policy: parsing posted strings into a typed filing."""

from __future__ import annotations

import pytest
from werkzeug.datastructures import MultiDict

from hub.web.policy_form import NONE_OF_THESE, PolicyForm, needed_for, parse_value

from .core_support import P2026, P2027

SPECS = P2026.inputs_by_name


@pytest.mark.parametrize(
    ("name", "raw", "value"),
    [
        ("kyc_verified_clients_pct", "95", 95.0),
        ("kyc_verified_clients_pct", " 97.5 ", 97.5),
        ("kyc_verified_clients_pct", ".5", 0.5),
        ("opex_in_zone_kzt", "50,000,000", 50_000_000.0),
        ("opex_in_zone_kzt", "50 000 000", 50_000_000.0),
        ("opex_in_zone_kzt", "5e7", 50_000_000.0),
        ("fte_in_zone", "12", 12),
        ("fte_in_zone", "12.0", 12),
        ("registered_in_hub", "yes", True),
        ("registered_in_hub", "no", False),
        ("registered_in_hub", "", None),
        ("kyc_verified_clients_pct", "", None),
        ("licence_expires_on", "2027-01-31", "2027-01-31"),
        ("activity", "mining", "mining"),
    ],
)
def test_values_people_type_become_typed_values(name, raw, value):
    assert parse_value(SPECS[name], raw) == (value, None)
    assert type(parse_value(SPECS[name], raw)[0]) is type(value)


@pytest.mark.parametrize(
    ("name", "raw", "message"),
    [
        ("kyc_verified_clients_pct", "abc", "Enter a number"),
        ("kyc_verified_clients_pct", "nan", "Enter a number"),
        ("kyc_verified_clients_pct", "Infinity", "Enter a number"),
        ("kyc_verified_clients_pct", "1e400", "too large"),
        ("kyc_verified_clients_pct", "95,5", "Use a point for decimals."),
        ("kyc_verified_clients_pct", "1" * 41, "too long"),
        ("fte_in_zone", "2.5", "whole number"),
        ("fte_in_zone", "1e3", "whole number"),
        ("registered_in_hub", "perhaps", "Choose yes, no or not answered."),
    ],
)
def test_unreadable_values_get_a_message(name, raw, message):
    value, error = parse_value(SPECS[name], raw)
    assert value is None and message in error


def test_sets_distinguish_none_of_these_from_not_answered():
    def parse(*ticked):
        form = PolicyForm.from_post(P2026, MultiDict([("officers_appointed", t) for t in ticked]))
        return form.values.get("officers_appointed"), form.fields["officers_appointed"].error

    assert parse() == (None, None)
    assert parse(NONE_OF_THESE) == ([], None)
    assert parse("SEO", "CO") == (["SEO", "CO"], None)
    assert parse(NONE_OF_THESE, "SEO")[1].startswith("Tick 'none of these'")


def test_fixed_values_replace_what_was_posted():
    form = PolicyForm.from_post(
        P2026, MultiDict({"bin": "990140004654"}), fixed={"bin": "940140000385"}
    )
    assert form.values["bin"] == "940140000385"
    assert form.fields["bin"].fixed


def test_core_errors_attach_to_fields_and_parse_errors_win():
    form = PolicyForm.from_post(P2026, MultiDict({"fte_in_zone": "x", "bin": "1"}))
    others = form.add_errors(
        [
            {"field": "fte_in_zone", "message": "is required"},
            {"field": "bin", "message": "must be exactly 12 digits"},
            {"field": "nonsense", "message": "unknown field"},
        ]
    )
    assert form.fields["fte_in_zone"].error.startswith("Enter a whole number")
    assert form.fields["bin"].error == "Must be exactly 12 digits."
    assert others == [{"field": "nonsense", "message": "unknown field"}]


def test_which_activities_need_which_inputs():
    needed = needed_for(P2026)
    assert needed["bin"] is None and needed["activity"] is None
    assert needed["fte_in_zone"] is None  # read by criteria for every activity
    assert needed["qualifying_profit_kzt"] is None  # a saving input
    assert needed["kyc_verified_clients_pct"] == ("exchange", "broker", "custody", "payments")
    assert needed["cold_storage_pct"] == ("exchange", "custody")
    assert needed["power_metered"] == ("mining",)
    assert needed_for(P2027)["unhosted_wallet_verified_pct"] == (
        "exchange",
        "broker",
        "custody",
        "payments",
    )


def test_groups_follow_the_policy_and_savings_come_last():
    groups = PolicyForm.blank(P2026).groups()
    assert groups[0].id == "company"
    assert groups[-1].saving and groups[-1].id == "savings"
    assert sum(len(g.fields) for g in groups) == len(P2026.inputs)


def test_stored_values_are_shown_as_typed():
    form = PolicyForm.from_inputs(
        P2026,
        {
            "opex_in_zone_kzt": 50_000_000.0,
            "kyc_verified_clients_pct": 97.5,
            "registered_in_hub": False,
            "officers_appointed": [],
        },
    )
    assert form.fields["opex_in_zone_kzt"].raw == "50000000"
    assert form.fields["kyc_verified_clients_pct"].raw == "97.5"
    assert form.fields["registered_in_hub"].raw == "no"
    assert form.fields["officers_appointed"].raw == [NONE_OF_THESE]
