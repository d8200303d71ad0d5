"""A filing as the API's document (``filing_to_dict``): the JSON object of
``/api/v1/filings``, its decision exactly as it was frozen.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from hub.models import Filing
from hub.services.filings.reading import filing_as_of


def _iso(value: dt.date | dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def filing_to_dict(filing: Filing) -> dict[str, Any]:
    """A filing as the API returns it (the decision exactly as it was frozen)."""
    policy = (
        {"id": filing.policy_id, "version": filing.policy_version, "digest": filing.policy_digest}
        if filing.policy_version
        else None
    )
    as_of = filing_as_of(filing)
    return {
        "id": filing.id,
        "company_id": filing.company_id,
        "status": filing.status,
        "lock_version": filing.lock_version,
        "inputs": filing.inputs,
        "policy": policy,
        "as_of": _iso(as_of),
        "tier_claimed": filing.tier_claimed,
        "decision": filing.decision,
        "reviewer_message": filing.reviewer_message,
        "supersedes_id": filing.supersedes_id,
        "created_at": _iso(filing.created_at),
        "updated_at": _iso(filing.updated_at),
        "submitted_at": _iso(filing.submitted_at),
        "decided_at": _iso(filing.decided_at),
        "valid_from": _iso(filing.valid_from),
        "valid_until": _iso(filing.valid_until),
    }
