"""The only module that touches durable-rules.

It drives the C engine directly instead of ``durable.engine.Host``: the Host's
background dispatcher can steal the actions of an evaluation in progress
(wrong results, measured in the notes), and it starts timer threads that never
stop. Each evaluation asserts one fact under a fresh ``sid``, drains every
action synchronously, and deletes the state in a ``finally`` so that live sids
never pile up (1024 of them is a MemoryError). A catch-all rule always fires,
so the state deleted has always started an action (deleting one that never did
can segfault). One lock serialises evaluations: the C engine's thread-safety is
undocumented, and its calls hold the GIL anyway, so the lock costs nothing.
"""

from __future__ import annotations

import ctypes
import itertools
import threading
from collections.abc import Callable

import durable_rules_engine as _dre

from .compiler import CompiledPolicy, rules_json


class EngineError(RuntimeError):
    """The rules engine refused a ruleset or a fact (a bug here, never the client's)."""


class _Ruleset:
    __slots__ = ("handle", "name")

    def __init__(self, name: str, handle: int) -> None:
        self.name = name
        self.handle = handle


class RulesEngine:
    """Holds compiled rulesets side by side, keyed by policy key (id@version@digest)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rulesets: dict[str, _Ruleset] = {}
        self._sids = itertools.count(1)

    def ruleset(self, compiled: CompiledPolicy) -> _Ruleset:
        rs = self._rulesets.get(compiled.name)
        if rs is not None:
            return rs
        with self._lock:
            rs = self._rulesets.get(compiled.name)
            if rs is None:
                try:
                    handle = _dre.create_ruleset(compiled.name, rules_json(compiled.rules))
                except _dre.error as exc:
                    raise EngineError(f"ruleset {compiled.name}: {exc}") from exc
                rs = _Ruleset(compiled.name, handle)
                self._rulesets[compiled.name] = rs
        return rs

    def forget(self, name: str) -> None:
        """Free a ruleset (a discarded draft); later use recompiles it."""
        with self._lock:
            rs = self._rulesets.pop(name, None)
            if rs is not None:
                _dre.delete_ruleset(rs.handle)

    def loaded(self) -> list[str]:
        return sorted(self._rulesets)

    def fire(
        self,
        compiled: CompiledPolicy,
        fact_body: str,
        then: Callable[[list[str]], str | None] | None = None,
    ) -> list[str]:
        """Assert a fact (JSON without its leading '{'), drain the rules that fire, and
        optionally assert a second fact built from them in the same state (host-driven
        chaining: deterministic, no background dispatcher). Returns every rule fired."""
        handle = self.ruleset(compiled).handle
        fired: list[str] = []
        with self._lock:
            sid = str(next(self._sids))
            state = self._assert(compiled, handle, '{"sid":"' + sid + '",' + fact_body)
            try:  # from here on the state exists and must go, whatever happens
                self._drain(handle, state, fired)
                if then is not None:
                    second = then(fired)
                    if second is not None:
                        body = '{"sid":"' + sid + '",' + second
                        self._drain(handle, self._assert(compiled, handle, body), fired)
            finally:
                _dre.delete_state(handle, sid)
        return fired

    @staticmethod
    def _assert(compiled: CompiledPolicy, handle: int, fact: str) -> int:
        try:
            return _dre.assert_fact(handle, fact)[1]
        except _dre.error as exc:
            raise EngineError(f"fact refused by {compiled.name}: {exc}") from exc

    @staticmethod
    def _drain(handle: int, state: int, fired: list[str]) -> None:
        started = _dre.start_action_for_state(handle, state)
        message = started[1] if started else None
        append = fired.append
        while message:
            # '{"name":{...' — read the rule name without parsing the fact.
            append(message[2 : message.index('"', 2)])
            message = _dre.complete_and_start_action(handle, state)


def _tune_allocator() -> None:
    """Keep glibc from trimming and re-mapping the heap around every assertion.

    Measured (benchmarks/decisions.py): depending on what else the process holds,
    ``assert_fact`` went from ~20 us to ~100 us, because the engine's per-state
    buffers crossed glibc's dynamic mmap and trim thresholds and each evaluation paid
    for fresh pages. Fixed thresholds (the same as MALLOC_TRIM_THRESHOLD_ and
    MALLOC_MMAP_THRESHOLD_) keep it flat. Freed memory then stays in the process
    for reuse, which suits a long-running server. No-op off glibc.
    """
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return
    m_trim_threshold, m_mmap_threshold = -1, -3  # from <malloc.h>
    mallopt(m_trim_threshold, 512 * 1024 * 1024)
    mallopt(m_mmap_threshold, 32 * 1024 * 1024)


_tune_allocator()
_ENGINE = RulesEngine()


def engine() -> RulesEngine:
    """The process-wide engine (one per process; rulesets are compiled on first use)."""
    return _ENGINE
