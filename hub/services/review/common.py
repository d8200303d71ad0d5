"""What every part of the review shares: the filing states it acts on, its limits, its errors."""

from __future__ import annotations

from typing import Any

from hub.errors import ApiError
from hub.services import filings as svc

SUBMITTED = svc.SUBMITTED
APPROVED = svc.APPROVED
REJECTED = svc.REJECTED
CHANGES_REQUESTED = svc.CHANGES_REQUESTED
SUPERSEDED = svc.SUPERSEDED


class ReviewNotFound(ApiError):
    """No filing with this id (or it was never submitted, so there is nothing to review)."""

    def __init__(self, filing_id: Any) -> None:
        super().__init__(404, f"there is no filing {filing_id} to review", field="id")


class ReviewInvalid(ApiError):
    """A review action with a missing or unusable field (reason, message, criterion...)."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(422, message, field=field_name)
