"""Shared helpers for the core's unit tests: the default policies and a compliant filing."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path
from typing import Any

from hub.policy import Policy, PolicyRegistry

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = PolicyRegistry.from_directory(ROOT / "policies")
P2026: Policy = REGISTRY.get("2026.1")
P2027: Policy = REGISTRY.get("2027.1")
AS_OF = dt.date(2026, 9, 1)

_T3_EXCHANGE: dict[str, Any] = {
    "bin": "940140000385",
    "legal_name": "Steppe Exchange LLP",
    "activity": "exchange",
    "registered_in_hub": True,
    "licence_type": "trading_facility",
    "licence_expires_on": "2027-06-30",
    "officers_appointed": ["SEO", "FO", "CO", "MLRO", "CITO"],
    "independent_directors_pct": 40,
    "fte_declared": 20,
    "fte_in_zone": 18,
    "opex_in_zone_kzt": 80_000_000,
    "qualifying_income_pct": 95,
    "separate_accounting": True,
    "regulatory_capital_usd": 500_000,
    "sanctions_screening_hit": False,
    "tax_arrears_kzt": 0,
    "kyc_verified_clients_pct": 100,
    "source_of_funds_documented_pct": 97,
    "destination_of_funds_documented_pct": 96,
    "travel_rule_compliant_pct": 99.5,
    "travel_rule_threshold_usd": 1000,
    "record_retention_years": 7,
    "str_median_hours": 12,
    "flagged_flow_pct": 1.5,
    "cold_storage_pct": 92,
    "proof_of_reserves_interval_days": 30,
    "cross_border_outflows_reported": True,
    "unhosted_wallet_verified_pct": 100,
    "qualifying_profit_kzt": 60_000_000,
    "vatable_turnover_kzt": 10_000_000,
    "foreign_payroll_kzt": 30_000_000,
    "property_value_kzt": 200_000_000,
}

_MINER: dict[str, Any] = {
    "bin": "990140004654",
    "legal_name": "Ekibastuz Hash Ltd",
    "activity": "mining",
    "registered_in_hub": True,
    "licence_type": "mining",
    "licence_expires_on": "2027-12-31",
    "fte_declared": 10,
    "fte_in_zone": 9,
    "opex_in_zone_kzt": 70_000_000,
    "qualifying_income_pct": 98,
    "separate_accounting": True,
    "sanctions_screening_hit": False,
    "tax_arrears_kzt": 0,
    "record_retention_years": 5,
    "cross_border_outflows_reported": True,
    "power_metered": True,
    "mined_sold_on_licensed_exchange_pct": 80,
    "renewable_energy_pct": 60,
    "peak_curtailment_agreement": True,
    "mining_kwh": 1_000_000,
    "qualifying_profit_kzt": 10_000_000,
}


def changed(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of ``base`` with ``changes`` applied: a value sets, None drops an input."""
    f = copy.deepcopy(base)
    for k, v in changes.items():
        if v is None:
            f.pop(k, None)
        else:
            f[k] = v
    return f


def exchange(version: str = "2026.1", **changes: Any) -> dict[str, Any]:
    """A T3 exchange (under either version); keyword arguments change or (None) drop inputs."""
    if version == "2026.1":
        changes = {"unhosted_wallet_verified_pct": None, **changes}
    return changed(_T3_EXCHANGE, changes)


def miner(**changes: Any) -> dict[str, Any]:
    """A T3 miner; keyword arguments change or (None) drop inputs."""
    return changed(_MINER, changes)
