"""The words of the hub's Gherkin steps: the one registry, the number, date and id
patterns, and the phrases that name the filing's fields.

``filing_steps`` (Given and When: building a filing, assessing it) and
``decision_steps`` (Then: reading the decision) register into ``REGISTRY``;
``hub.specs.steps`` imports both, so importing it gives every step.
"""

from __future__ import annotations

import datetime as dt

from .registry import StepRegistry

REGISTRY = StepRegistry()
step = REGISTRY.step

# [0-9], not \d: \d takes other scripts' digits ("٩٥"), which int() and float() read as 95
NUM = r"-?[0-9][0-9,]*(?:\.[0-9]+)?"
DATE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
ID = r"[a-z][a-z0-9_]*"


def number(text: str) -> int | float:
    """'50,000,000' -> 50000000, '94.9' -> 94.9: integers stay integers for integer inputs."""
    clean = text.replace(",", "").replace("_", "")
    return float(clean) if "." in clean else int(clean)


def date(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


ACTIVITIES = {
    "exchange": "exchange",
    "broker": "broker",
    "custodian": "custody",
    "payments firm": "payments",
    "miner": "mining",
    "software house": "software",
}
ACTIVITY_RE = "|".join(ACTIVITIES)
LICENCES = {
    "trading facility": "trading_facility",
    "service provider": "service_provider",
    "mining": "mining",
}
OFFICERS = ("SEO", "FO", "CO", "MLRO", "CITO")

# field -> (Given phrase with {v}, noun phrase for "its filing leaves out ...")
NUMBER_PHRASES: dict[str, tuple[str, str]] = {
    "independent_directors_pct": (
        "{v}% of its board is independent",
        "the share of independent directors",
    ),
    "fte_declared": (
        "it declared {v} full-time staff in its hub application",
        "the staff declared in its hub application",
    ),
    "fte_in_zone": (
        "it employs {v} full-time staff in the zone",
        "the staff employed in the zone",
    ),
    "opex_in_zone_kzt": (
        "it spends {v} KZT a year on operations in the zone",
        "its operating expenditure in the zone",
    ),
    "qualifying_income_pct": (
        "{v}% of its income comes from qualifying hub activities",
        "its share of qualifying income",
    ),
    "regulatory_capital_usd": (
        "it holds USD {v} of regulatory capital",
        "its regulatory capital",
    ),
    "tax_arrears_kzt": ("it owes {v} KZT of overdue tax", "its overdue tax"),
    "kyc_verified_clients_pct": (
        "its clients are {v}% identity-verified",
        "the share of identity-verified clients",
    ),
    "source_of_funds_documented_pct": (
        "the source of funds is documented for {v}% of its large depositors",
        "the share of large depositors with a documented source of funds",
    ),
    "destination_of_funds_documented_pct": (
        "the destination of funds is documented for {v}% of its large withdrawers",
        "the share of large withdrawers with a documented destination of funds",
    ),
    "travel_rule_compliant_pct": (
        "{v}% of its transfers carry complete originator and beneficiary data",
        "the share of transfers with complete travel-rule data",
    ),
    "travel_rule_threshold_usd": (
        "it applies the travel rule from USD {v}",
        "the amount from which it applies the travel rule",
    ),
    "record_retention_years": (
        "it keeps client and transaction records for {v} years",
        "how long it keeps records",
    ),
    "str_median_hours": (
        "it reports suspicious transactions in a median of {v} hours",
        "its median time to report suspicious transactions",
    ),
    "flagged_flow_pct": (
        "{v}% of its volume is flagged as linked to scams, gambling, sanctions or mixers",
        "its share of flagged volume",
    ),
    "cold_storage_pct": (
        "it keeps {v}% of client assets in cold storage",
        "its share of client assets in cold storage",
    ),
    "proof_of_reserves_interval_days": (
        "it publishes a proof of reserves every {v} days",
        "how often it publishes a proof of reserves",
    ),
    "mined_sold_on_licensed_exchange_pct": (
        "it sells {v}% of its mined assets through hub-licensed exchanges",
        "the share of mined assets sold through hub-licensed exchanges",
    ),
    "renewable_energy_pct": (
        "{v}% of its mining power comes from renewable sources",
        "its share of renewable mining power",
    ),
    "unhosted_wallet_verified_pct": (
        "it verified the owner in {v}% of its transfers with self-hosted wallets",
        "the share of self-hosted wallet transfers with a verified owner",
    ),
    "qualifying_profit_kzt": (
        "its qualifying profit is {v} KZT a year",
        "its qualifying profit",
    ),
    "vatable_turnover_kzt": (
        "its VAT-able turnover is {v} KZT a year",
        "its VAT-able turnover",
    ),
    "foreign_payroll_kzt": (
        "its payroll of foreign staff is {v} KZT a year",
        "its payroll of foreign staff",
    ),
    "property_value_kzt": (
        "its in-zone property is worth {v} KZT",
        "the value of its in-zone property",
    ),
    "mining_kwh": (
        "it uses {v} kWh of power a year for mining",
        "its mining power consumption",
    ),
}

# field -> (phrase when true, phrase when false, noun phrase)
BOOL_PHRASES: dict[str, tuple[str, str, str]] = {
    "registered_in_hub": (
        "it is entered in the hub's register",
        "it is not entered in the hub's register",
        "whether it is entered in the hub's register",
    ),
    "separate_accounting": (
        "it keeps separate accounts for qualifying income",
        "it does not keep separate accounts for qualifying income",
        "whether it keeps separate accounts",
    ),
    "sanctions_screening_hit": (
        "it or an owner matches a sanctions list",
        "neither it nor any owner matches a sanctions list",
        "the result of its sanctions screening",
    ),
    "cross_border_outflows_reported": (
        "it reports cross-border outflows to the National Bank",
        "it does not report cross-border outflows to the National Bank",
        "whether it reports cross-border outflows",
    ),
    "power_metered": (
        "its mining power is metered",
        "its mining power is not metered",
        "whether its mining power is metered",
    ),
    "peak_curtailment_agreement": (
        "it has signed the winter peak curtailment agreement",
        "it has not signed the winter peak curtailment agreement",
        "whether it signed the winter peak curtailment agreement",
    ),
}

OTHER_NOUNS = {
    "its licence type": "licence_type",
    "its licence expiry date": "licence_expires_on",
    "its key officers": "officers_appointed",
    "its activity": "activity",
    "its legal name": "legal_name",
    "its BIN": "bin",
}

NOUNS: dict[str, str] = {
    **{noun: f for f, (_, noun) in NUMBER_PHRASES.items()},
    **{noun: f for f, (_, _, noun) in BOOL_PHRASES.items()},
    **OTHER_NOUNS,
}

STATUSES = {
    "met": "met",
    "not met": "not_met",
    "not applicable": "not_applicable",
    "missing": "missing",
}
