"""The hub's Gherkin vocabulary, written once: every step, for pytest-bdd
(tests/bdd/conftest.py) and ``hub policy test`` (hub/specs/runner.py).

Each step is a plain function of a :class:`SpecContext`. The words live in
``vocabulary`` (the registry, the number/date/id patterns, the field phrases);
``filing_steps`` holds the Given and When steps (building a filing in the hub's
language, assessing it) and ``decision_steps`` the Then steps (reading the
decision and, when it differs, failing with the values involved). Importing
this module registers them all in ``REGISTRY``.
"""

from __future__ import annotations

from . import filing_steps  # noqa: F401  (registers the Given and When steps)

# isort: split
from . import decision_steps  # noqa: F401  (registers the Then steps)
from .vocabulary import DATE, ID, NUM, REGISTRY, date, number, step

__all__ = ["DATE", "ID", "NUM", "REGISTRY", "date", "number", "step"]
