"""Shared data for the filing tests: a complete filing that reaches T1 but not T2."""

from __future__ import annotations

from typing import Any

# An exchange that meets every T1 criterion of 2026.1 and misses T2 on local_opex.
T1_EXCHANGE: dict[str, Any] = {
    "legal_name": "Steppe Exchange LLP",
    "activity": "exchange",
    "registered_in_hub": True,
    "licence_type": "trading_facility",
    "licence_expires_on": "2030-12-31",
    "officers_appointed": ["SEO", "FO", "CO", "MLRO", "CITO"],
    "independent_directors_pct": 40.0,
    "fte_declared": 10,
    "fte_in_zone": 9,
    "opex_in_zone_kzt": 10_000_000.0,
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
    "cold_storage_pct": 95.0,
    "proof_of_reserves_interval_days": 30,
    "cross_border_outflows_reported": True,
    "property_value_kzt": 2_000_000_000.0,
    "foreign_payroll_kzt": 100_000_000.0,
}


def t1_exchange(**changes: Any) -> dict[str, Any]:
    """A copy of the T1 exchange with some inputs changed (None removes one)."""
    filing = {**T1_EXCHANGE, **changes}
    return {k: v for k, v in filing.items() if v is not None}
