"""Shared data for the filing tests: a complete filing that reaches T1 but not T2."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlmodel import Session

    from hub.clock import Clock
    from hub.models import Company, Filing
    from hub.policy import PolicyRegistry

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


def submit_filing(
    session: Session,
    registry: PolicyRegistry,
    clock: Clock,
    company: Company,
    *,
    approve: bool = False,
    **changes: Any,
) -> Filing:
    """A ``t1_exchange`` filing of ``company`` (its inputs changed by ``changes``) made a
    draft, submitted and, with ``approve``, approved, through the services as of
    ``clock``'s day; committed."""
    from hub.services import filings as filing_svc
    from hub.services.review import actions as review_actions

    today = clock.today()
    filing = filing_svc.create_draft(
        session,
        company=company,
        actor_id=None,
        inputs=t1_exchange(legal_name=company.legal_name, **changes),
        registry=registry,
        today=today,
    )
    filing_svc.submit(
        session,
        filing=filing,
        actor_id=None,
        lock_version=filing.lock_version,
        registry=registry,
        today=today,
    )
    if approve:
        review_actions.approve(
            session,
            filing=filing,
            actor_id=None,
            lock_version=filing.lock_version,
            registry=registry,
            clock=clock,
        )
    session.commit()
    return filing
