"""The filing state machine's vocabulary: statuses, allowed transitions, and the errors.

``TRANSITIONS`` lists every allowed status change (see ``hub.services.filings``);
``FilingNotFound``, ``FilingConflict`` and ``FilingRejected`` are the domain errors
(``hub.services.errors``) every filing function raises.
"""

from __future__ import annotations

from typing import Any

from hub.models import Filing, FilingStatus
from hub.services.errors import Conflict, Invalid, NotFound

DRAFT = FilingStatus.DRAFT.value
SUBMITTED = FilingStatus.SUBMITTED.value
APPROVED = FilingStatus.APPROVED.value
REJECTED = FilingStatus.REJECTED.value
CHANGES_REQUESTED = FilingStatus.CHANGES_REQUESTED.value
SUPERSEDED = FilingStatus.SUPERSEDED.value
WITHDRAWN = FilingStatus.WITHDRAWN.value

#: Every allowed status change (from -> the statuses it may become).
TRANSITIONS: dict[str, frozenset[str]] = {
    DRAFT: frozenset({SUBMITTED}),
    SUBMITTED: frozenset({APPROVED, REJECTED, CHANGES_REQUESTED, SUPERSEDED, WITHDRAWN}),
    CHANGES_REQUESTED: frozenset({SUPERSEDED, WITHDRAWN}),
    APPROVED: frozenset({SUPERSEDED}),
    REJECTED: frozenset({SUPERSEDED}),
    SUPERSEDED: frozenset(),
    WITHDRAWN: frozenset(),
}
#: Statuses from which a company may start a revision.
REVISABLE = frozenset({SUBMITTED, CHANGES_REQUESTED, APPROVED, REJECTED, WITHDRAWN})
#: Statuses still waiting for the hub: a company has at most one filing in them, which
#: its next submission supersedes and which it may withdraw.
PENDING = frozenset({SUBMITTED, CHANGES_REQUESTED})

STATUS_WORDS = {
    DRAFT: "a draft",
    SUBMITTED: "submitted",
    APPROVED: "approved",
    REJECTED: "rejected",
    CHANGES_REQUESTED: "sent back with changes requested",
    SUPERSEDED: "superseded",
    WITHDRAWN: "withdrawn",
}


# --- errors ------------------------------------------------------------------------------


class FilingNotFound(NotFound):
    """No such filing for this company (also when it belongs to another one)."""

    def __init__(self, filing_id: Any) -> None:
        super().__init__(f"there is no filing {filing_id} for your company", field="id")


class FilingConflict(Conflict):
    """The filing is not in the state the caller saw (wrong status or stale lock_version).

    ``filing`` is the filing as it is now, so a view can show the current version.
    """

    def __init__(self, message: str, *, filing: Filing | None = None) -> None:
        super().__init__(message)
        self.filing = filing


class FilingRejected(Invalid):
    """The inputs cannot be saved or submitted; ``errors`` name each offending field."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(errors)


def stale(filing: Filing) -> FilingConflict:
    """The conflict of a change based on an old ``lock_version`` (``filing`` as it is now)."""
    return FilingConflict(
        f"filing {filing.id} was changed (in another tab, or by someone else) since you "
        f"loaded it: it is now {STATUS_WORDS.get(filing.status, filing.status)} at version "
        f"{filing.lock_version}. Reload it and make your change again.",
        filing=filing,
    )


def wrong_status(filing: Filing, doing: str, hint: str = "") -> FilingConflict:
    """The conflict of a change the filing's status does not allow (``doing``: what was
    tried, as "<filing> cannot ..." ends; ``hint``: appended as is)."""
    state = STATUS_WORDS.get(filing.status, filing.status)
    return FilingConflict(
        f"filing {filing.id} is {state}, so it cannot {doing}{hint}", filing=filing
    )
