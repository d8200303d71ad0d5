"""The hub's review of submitted filings: queue, decisions, overrides, certificates.

One concern a module: ``queue`` (what a reviewer reads), ``decision`` (the certified
outcome with overrides), ``actions`` (override, approve, reject, request changes),
``certificates``, ``dashboard`` and ``export`` (CSV); ``common`` holds the states and
errors they share. Import the module you need; this package re-exports nothing.

Builds on ``hub.services.filings`` (its state machine and ``transition``) with the
same rules: keyword-only arguments and an explicit session; functions flush and
never commit, so one action is one transaction (status change, override row,
superseded certificate and audit record are stored together or not at all).

Decisions a reviewer can take on a ``submitted`` filing::

    submitted ──approve──────────► approved            (tier > none; 12-month certificate)
              ──reject(reason)───► rejected
              ──request_changes(message)──► changes_requested
              ──override(criterion, status, reason)──► submitted (lock_version bumped)

Optimistic locking: every action names the ``lock_version`` the reviewer's page
showed. The change is a compare-and-set on it (``transition`` in the filing
service, ``hub.storage.update_if_unchanged`` for overrides), so of two reviewers acting
on the same page the second gets ``FilingConflict`` (409) and nothing is
overwritten; PostgreSQL makes the second UPDATE wait for the first and then
re-check its WHERE clause, so this holds under true concurrency too.

Overrides and the cumulative tier rule
--------------------------------------
An override replaces one criterion's status (``met``, ``not_met`` or
``not_applicable``) with a written reason; the engine's status stays in the
decision beside it. The certified outcome is then recomputed from the effective
statuses with the policy's own rules, read once in ``hub.policy.outcome`` (the
cumulative tier rule: tier k is reached when every criterion of tier rank <= k is
``met`` or ``not_applicable``; each benefit's ``requires`` read with that tier and
``met(x)`` true only for effective status ``met``); the savings and their total are
the engine's own (``hub.policy.decision.estimate_savings``: exact, rounded by the
policy's rule, the total the sum of the rounded savings) over the filed inputs.

So overriding a T1 criterion to ``not_met`` drops the tier to none, and overriding
the only unmet T2 criterion to ``met`` lifts a T1 filing to T2 with the T2
benefits. With no override the recomputation equals the engine's decision
(``tests/functional/test_review.py`` checks this on every demo filing).
"""
