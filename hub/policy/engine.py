"""The rules engine the core decides with, as an interface: :class:`DecisionEngine`.

The core (``decision.py``, the studio, ``hub assess``) reaches the engine only through
:func:`engine`, which gives the process's one engine, built on first use. The engine
in use is durable-rules (:mod:`.durable_engine`, the only module that imports it).
Importing this module has no process-wide effect: :func:`tune_allocator`, which changes
how the C allocator keeps memory, is called by the commands that serve and that assess
in batches (``hub serve``, ``hub demo``, ``hub assess --batch``), not by importers.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .facts import CompiledPolicy


class EngineError(RuntimeError):
    """The rules engine refused a ruleset or a fact (a bug here, never the client's)."""


class DecisionEngine(Protocol):
    """Runs the compiled rules of policy versions over filing facts.

    A compiled policy (:class:`~hub.policy.facts.CompiledPolicy`) carries two rulesets
    named after its policy key (``id@version@digest``): the filing phase (``rules``) and
    the summary phase (``summary_rules``). Rulesets are held side by side, so decisions
    under several versions (and drafts) interleave. Implementations are thread-safe.
    """

    def ruleset(self, compiled: CompiledPolicy) -> object:
        """Load ``compiled``'s two rulesets now if they are not held (a warm-up: ``fire``
        loads them on first use too). Returns the engine's handle of them (opaque).

        Raises EngineError when the engine refuses the rules.
        """
        ...

    def fire(
        self,
        compiled: CompiledPolicy,
        fact_body: str,
        then: Callable[[list[str]], str | None] | None = None,
    ) -> list[str]:
        """Assert one filing fact and return the names of every rule that fired, in order.

        ``fact_body`` is the fact's JSON object without its leading ``{`` (as
        ``CompiledPolicy.fact`` writes it; the engine adds the fact's identity). When
        ``then`` is given it is called with the rules fired so far and may return a
        summary fact body (same shape), which is asserted in the summary ruleset; the
        rules that fire there are appended. Facts are retracted once their rules ran,
        so no state grows between calls.

        Raises EngineError when the engine refuses the rules or the fact (a bug in the
        compiler or the encoding, never a client's input).
        """
        ...

    def forget(self, name: str) -> None:
        """Free the rulesets named ``name`` (a policy key, e.g. a discarded draft's); a
        later ``fire`` with that policy loads them again. Unknown names are ignored."""
        ...

    def loaded(self) -> list[str]:
        """The names (policy keys) of the rulesets held, sorted."""
        ...


_ENGINE: DecisionEngine | None = None
_ENGINE_LOCK = threading.Lock()


def engine() -> DecisionEngine:
    """The process-wide engine (one per process; rulesets are compiled on first use)."""
    global _ENGINE
    if _ENGINE is None:
        with _ENGINE_LOCK:
            if _ENGINE is None:
                from .durable_engine import RulesEngine

                _ENGINE = RulesEngine()
    return _ENGINE


def tune_allocator() -> None:
    """Keep glibc from trimming and re-mapping the heap around every assertion.

    Process-wide (it sets glibc's ``M_TRIM_THRESHOLD`` to 512 MiB and
    ``M_MMAP_THRESHOLD`` to 32 MiB through ``mallopt``), so only the commands that
    serve or assess in batches call it, once, before their first decision. Measured
    (benchmarks/decisions.py): depending on what else the process holds,
    ``assert_fact`` went from ~20 us to ~100 us, because the engine's per-state buffers
    crossed glibc's dynamic mmap and trim thresholds and each evaluation paid for fresh
    pages. Fixed thresholds (the same as MALLOC_TRIM_THRESHOLD_ and
    MALLOC_MMAP_THRESHOLD_) keep it flat. Freed memory then stays in the process for
    reuse, which suits a long-running server. Forked workers inherit it. No-op off glibc.
    """
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return
    m_trim_threshold, m_mmap_threshold = -1, -3  # from <malloc.h>
    mallopt(m_trim_threshold, 512 * 1024 * 1024)
    mallopt(m_mmap_threshold, 32 * 1024 * 1024)
