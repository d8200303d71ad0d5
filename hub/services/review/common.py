"""What every part of the review shares: the filing states it acts on, and its errors."""

from __future__ import annotations

from typing import Any

from hub.services import filings as svc
from hub.services.errors import Invalid, NotFound

SUBMITTED = svc.SUBMITTED
APPROVED = svc.APPROVED
REJECTED = svc.REJECTED
CHANGES_REQUESTED = svc.CHANGES_REQUESTED
SUPERSEDED = svc.SUPERSEDED


class ReviewNotFound(NotFound):
    """No filing with this id (or it was never submitted, so there is nothing to review)."""

    def __init__(self, filing_id: Any) -> None:
        super().__init__(f"there is no filing {filing_id} to review", field="id")


class ReviewInvalid(Invalid):
    """A review action with a missing or unusable field (reason, message, criterion...)."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message, field=field_name)
