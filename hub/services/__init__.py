"""Use cases that join the policy core and storage (filings, reviews, publication).

Every function here takes an explicit ``Session`` and keyword-only arguments,
flushes but never commits: the caller (a view, a command, a test) commits once,
so one use case is one transaction.
"""
