"""Company filings: drafts, submission and revision, always scoped to one company.

State machine of ``Filing.status``::

    create_draft ──► draft ◄── update_draft (partial inputs; only invalid values refused)
                       │
                     submit   (full validation; inputs, decision, policy id/version/
                       │       digest and as_of frozen; Assessment row; audit record)
                       ▼
                   submitted ──(review, issue 6)──► approved | rejected | changes_requested
                       │
                       └──withdraw (while no decision: submitted, changes_requested)──► withdrawn
    revise(any of submitted, changes_requested, approved, rejected, withdrawn)
        └──► a NEW draft whose ``supersedes_id`` is the revised filing (its inputs copied).

A company has at most one pending filing (submitted or changes_requested): submitting any
draft, a revision or not, makes the pending one ``superseded`` in the same transaction
(audited), the company's submissions serialised by a lock on its row. An approved or
rejected filing keeps its status: a decision taken stays a fact, and the certificate of an
approved filing is replaced only when the new filing is approved (the review may call
``transition(..., to=SUPERSEDED)``).

``superseded`` and ``withdrawn`` are final. Only drafts are editable; from ``submitted``
on, a filing's inputs, decision, policy version and digest never change again (``as_of``
is inside the decision, and the same decision is kept in an ``Assessment`` row).
``TRANSITIONS`` lists every allowed status change; ``transition`` applies one (the review
uses it).

Concurrency: every change is a compare-and-set on ``lock_version``
(``UPDATE ... WHERE id = :id AND status = :seen_status AND lock_version = :seen``)
that bumps it, so a stale form, a second browser tab or a second admin gets
``FilingConflict`` (409) instead of silently overwriting.

Transactions: functions flush and never commit. The caller commits once, so a
submission (filing, Assessment, predecessor superseded, audit record) is stored
entirely or not at all; the request teardown rolls back whatever is not committed.

Errors are domain errors (``hub.services.errors``: ``FilingNotFound`` a ``NotFound``,
``FilingConflict`` a ``Conflict``, ``FilingRejected`` an ``Invalid`` with field errors),
which ``hub.errors`` renders as 404, 409 and 422 in the one JSON shape or the one error
page; views catch them only to show them in a form.
A filing of another company is "not found", never "forbidden".

The package's modules, each one concern, all re-exported here: ``states`` (statuses,
``TRANSITIONS``, the errors), ``reading`` (one company's filings, the version in force,
inputs checked, reassessment), ``changes`` (the state machine's moves) and ``document``
(``filing_to_dict``, the API's JSON of a filing).
"""

from hub.services.filings.changes import (
    create_draft,
    revise,
    submit,
    transition,
    update_draft,
    withdraw,
)
from hub.services.filings.document import filing_to_dict
from hub.services.filings.reading import (
    assess_filing,
    assess_upcoming,
    check_draft_inputs,
    filing_as_of,
    get_filing,
    inputs_ahead,
    list_filings,
    pending_filings,
    policy_in_force,
    successor_of,
)
from hub.services.filings.states import (
    APPROVED,
    CHANGES_REQUESTED,
    DRAFT,
    PENDING,
    REJECTED,
    REVISABLE,
    STATUS_WORDS,
    SUBMITTED,
    SUPERSEDED,
    TRANSITIONS,
    WITHDRAWN,
    FilingConflict,
    FilingNotFound,
    FilingRejected,
    stale,
    wrong_status,
)

__all__ = [
    "APPROVED",
    "CHANGES_REQUESTED",
    "DRAFT",
    "PENDING",
    "REJECTED",
    "REVISABLE",
    "STATUS_WORDS",
    "SUBMITTED",
    "SUPERSEDED",
    "TRANSITIONS",
    "WITHDRAWN",
    "FilingConflict",
    "FilingNotFound",
    "FilingRejected",
    "assess_filing",
    "assess_upcoming",
    "check_draft_inputs",
    "create_draft",
    "filing_as_of",
    "filing_to_dict",
    "get_filing",
    "inputs_ahead",
    "list_filings",
    "pending_filings",
    "policy_in_force",
    "revise",
    "stale",
    "submit",
    "successor_of",
    "transition",
    "update_draft",
    "withdraw",
    "wrong_status",
]
