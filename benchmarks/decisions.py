"""How fast a full decision is on realistic filings, against a plain-Python floor.

Prints figures beside the targets of issue 15; it is not a pass/fail test. Every
request is new (never repeated): a company of ``benchmarks/population.py`` (its own
valid BIN and name, amounts with tiyn around the thresholds, random licence dates and
officer sets, every activity, about a third short somewhere, one in five with inputs
left out), decided as of a day drawn from 2026-07-01 to 2027-12-31, so under both
shipped versions. What is reported, in one run on the same requests:

- the **floor**: the same rules read in plain Python on the validated filings
  (statuses, tier, benefits, savings), no engine, no texts;
- the **full decision as served**: the request's bytes parsed and checked, the version
  picked, the filing validated, durable-rules deciding, the JSON with explanations and
  fixes (``POST /api/v1/assessments`` without HTTP), and its ratio to the floor;
- ``hub assess --batch`` with 1 and 2 workers, start-up included, on 100,000 requests
  (N if more);
- the memory of a serving-like process (the web stack imported, the allocator tuned as
  ``hub serve`` tunes it) after 100,000 new decisions, and its growth over the second
  half (flat means no memo or state grows with the traffic);
- the old benchmark's regular filings (few multiples of fixed bases, one date: the
  texts' memos hit almost always) as a second, labelled line.

Figures are per wall second and per CPU second (ours and our children's): on a shared
machine the CPU figure says what the code costs. Run:
``python benchmarks/decisions.py [N]`` (N requests, default 40,000; the memory figure
always uses 100,000).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.population import realistic  # noqa: E402
from hub.policy import PolicyRegistry, decide, validate_filing  # noqa: E402
from hub.policy.compiler import compile_policy  # noqa: E402
from hub.policy.engine import tune_allocator  # noqa: E402
from hub.policy.evaluate import Missing, to_callable  # noqa: E402
from hub.policy.jsondoc import loads  # noqa: E402
from hub.policy.model import Policy  # noqa: E402
from hub.policy.requests import assess_request  # noqa: E402
from tests.unit.core_support import exchange, miner  # noqa: E402

TODAY = dt.date(2026, 9, 1)  # the requests all name their day; this one is never used
MEMORY_DECISIONS = 100_000
#: requests in the --batch runs (at least): with fewer, the start-up (about half a CPU
#: second: imports, both versions compiled) is most of what is measured
BATCH_REQUESTS = 100_000

#: issue 15's targets
FLOOR_RATIO = 3.0
BATCH_TARGET = 20_000  # decisions per second, 2 workers, start-up included
MEMORY_TARGET_MB = 150.0
MEMORY_GROWTH_MB = 5.0  # "flat": what the second 50,000 decisions may add


# --- the requests -------------------------------------------------------------------


LICENCE = {"exchange": "trading_facility", "mining": "mining", "software": "none"}


def regular(policy: Policy, n: int, seed: int = 7) -> list[dict[str, Any]]:
    """The old benchmark's filings: a compliant company per activity with a few values
    scaled by one of six factors and an input or two dropped (2,000 of them, repeated),
    all decided on 2026-09-01. Kept for comparison only: their texts repeat."""
    rnd = random.Random(seed)
    numeric = [i for i in policy.inputs if i.type in ("number", "integer") and not i.saving]
    out = []
    for _ in range(2_000):
        activity = rnd.choice(policy.activities)
        if activity == "mining":
            f = miner()
        else:
            f = exchange(policy.version, activity=activity,
                         licence_type=LICENCE.get(activity, "service_provider"))  # fmt: skip
        for spec in rnd.sample(numeric, rnd.randint(0, 6)):
            if spec.name not in f:
                continue
            value = f[spec.name] * rnd.choice([0.5, 0.9, 0.97, 1, 1.03, 1.5])
            if spec.max is not None:
                value = min(value, spec.max)
            f[spec.name] = round(value) if spec.type == "integer" else round(value, 2)
        for name in rnd.sample(sorted(f), rnd.randint(0, 2)):
            if name not in ("bin", "legal_name", "activity"):
                f.pop(name)
        out.append({"filing": f, "as_of": "2026-09-01"})
    return [out[i % len(out)] for i in range(n)]


# --- the floor ----------------------------------------------------------------------


class Floor:
    """The policy's rules read in plain Python, as fast as closures make them: per
    activity, each applicable criterion's condition with the parameters folded in (the
    compiler's own specialisation), the inputs it reads; tiers cumulative; each benefit's
    requirement as a closure; savings by the same exact functions the engine path uses.
    Statuses as the policy page defines them (missing when an input is absent)."""

    def __init__(self, policy: Policy) -> None:
        compiled = compile_policy(policy)
        self.policy = policy
        self.savings = compiled.savings
        self.amount = policy.rounding.amount
        ranks = {t.id: n for n, t in enumerate(policy.tiers)}
        self.criterion_rank = [ranks[c.tier] for c in policy.criteria]
        self.tiers = len(policy.tiers)
        self.ids = [c.id for c in policy.criteria]
        act = policy.applicability_input
        self.plans: dict[str, list[tuple[int, tuple[str, ...], Callable[..., Any]]]] = {}
        for activity in policy.activities:
            plan = []
            for i, c in enumerate(policy.criteria):
                node = compiled.specialised[i][activity]
                if node is not None:
                    inputs = tuple(n for n in c.inputs if n != act)
                    plan.append((i, inputs, to_callable(node)))
            self.plans[activity] = plan
        self.requires = [to_callable(b.requires_ast) for b in policy.benefits]
        self.base = {**policy.parameter_values, **ranks}

    def decide(self, clean: dict[str, Any], as_of: str) -> tuple[Any, ...]:
        """(statuses, tier rank or -1, granted benefit indices, savings, total)."""
        n = len(self.ids)
        statuses = ["not_applicable"] * n
        env = {**self.base, **clean, "as_of": as_of}
        unsatisfied = [False] * self.tiers
        for i, inputs, check in self.plans[clean[self.policy.applicability_input]]:
            if any(clean.get(name) is None for name in inputs):
                status = "missing"
            else:
                status = "met" if check(env) else "not_met"
            statuses[i] = status
            if status != "met":
                unsatisfied[self.criterion_rank[i]] = True
        rank = -1
        for k in range(self.tiers):
            if unsatisfied[k]:
                break
            rank = k
        env["tier"] = rank
        env["met"] = {self.ids[i] for i, s in enumerate(statuses) if s == "met"}
        granted = []
        for j, holds in enumerate(self.requires):
            try:
                if holds(env):
                    granted.append(j)
            except Missing:
                pass
        savings: list[float | None] = []
        total = 0
        for j in granted:
            estimate = self.savings[j]
            if estimate is None:
                savings.append(None)
                continue
            try:
                steps = estimate(clean)
            except Missing:
                savings.append(None)
                continue
            total += steps
            savings.append(self.amount(steps))
        return statuses, rank, granted, savings, self.amount(total)


# --- measuring ----------------------------------------------------------------------


class Clock:
    """Wall time, and CPU time (ours and our children's)."""

    def __enter__(self) -> Clock:
        self.wall = time.perf_counter()
        self.cpu = _cpu()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall
        self.cpu = _cpu() - self.cpu


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def line(label: str, n: int, clock: Clock, goal: str = "") -> None:
    print(
        f"  {label:<56} {n / clock.wall:>9,.0f}/s wall {n / clock.cpu:>9,.0f}/s CPU "
        f"{clock.cpu / n * 1e6:>7.1f} us CPU each{goal}"
    )


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def in_process(registry: PolicyRegistry, bodies: list[bytes], label: str) -> None:
    """The floor and the full decision on the same requests, and their ratio."""
    print(label)
    requests = [loads(b) for b in bodies]
    floors = {p.key: Floor(p) for p in registry.versions()}
    cases = []
    for r in requests:
        day = dt.date.fromisoformat(r["as_of"])
        policy = registry.select(day)
        cases.append((floors[policy.key], validate_filing(policy, r["filing"]), r["as_of"]))
    fired: list[str] = []
    statuses = {"met": 0, "not_met": 0, "missing": 0, "not_applicable": 0}
    for r in requests[:2_000]:
        day = dt.date.fromisoformat(r["as_of"])
        policy = registry.select(day)
        d = decide(policy, validate_filing(policy, r["filing"]), day, fired)
        for s in d.statuses:
            statuses[s] += 1
    shares = ", ".join(f"{s} {k / sum(statuses.values()):.0%}" for s, k in statuses.items())
    print(f"  (first 2,000: {len(fired) / 2_000:.1f} rules fired per decision; {shares})")
    n = len(bodies)
    # As `hub serve` does after start-up (hub.serving.freeze_heap): what is held before the
    # clocks start (here the requests and validated filings of the whole run, which no
    # server holds) stays out of the collector's walks. Without it a full collection
    # during the full decisions walked them all: measured 5-6 us per decision on 20,000
    # requests, none during the floor (which leaves nothing behind). Both loops alike.
    gc.collect()
    gc.freeze()
    try:
        floor, full = _timed(registry, bodies, cases)
    finally:
        gc.unfreeze()
    line("floor: plain Python (statuses, tier, benefits, savings)", n, floor)
    ratio = full.cpu / floor.cpu
    goal = f"  {ratio:.1f}x floor (target <= {FLOOR_RATIO:g}x: {verdict(ratio <= FLOOR_RATIO)})"
    line("full decision: bytes in, JSON with explanations out", n, full, goal)


def _timed(
    registry: PolicyRegistry, bodies: list[bytes], cases: list[tuple[Floor, Any, str]]
) -> tuple[Clock, Clock]:
    """The floor over ``cases`` and the full decision over ``bodies`` (the same requests)."""
    with Clock() as floor:
        for f, clean, as_of in cases:
            f.decide(clean, as_of)
    with Clock() as full:
        for body in bodies:
            assess_request(registry, loads(body), TODAY).to_json()
    return floor, full


def batch(bodies: list[bytes]) -> None:
    """``hub assess --batch`` with 1 and 2 workers over the same requests."""
    n = len(bodies)
    print(f"hub assess --batch, {n:,} realistic requests, start-up included")
    hub = Path(sys.executable).parent / "hub"
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in.jsonl"
        src.write_bytes(b"\n".join(bodies) + b"\n")
        for workers in (1, 2):
            out = Path(tmp) / f"out{workers}.jsonl"
            with Clock() as clock:
                subprocess.run(
                    [str(hub), "assess", "--batch", str(src), "--out", str(out),
                     "--workers", str(workers)],
                    check=True, stderr=subprocess.DEVNULL,
                )  # fmt: skip
            answers = out.read_bytes().splitlines()
            assert len(answers) == n, (len(answers), n)
            refused = sum(1 for a in answers if a.startswith(b'{"errors"'))
            assert refused == 0, f"{refused} requests refused"
            goal = ""
            if workers == 2:
                wall = n / clock.wall
                goal = f"  (target >= {BATCH_TARGET:,}/s wall: {verdict(wall >= BATCH_TARGET)})"
            line(f"--workers {workers}", n, clock, goal)


def memory() -> None:
    """A fresh process deciding 100,000 new requests; its resident memory."""
    print(f"memory of a serving-like process, {MEMORY_DECISIONS:,} new decisions")
    out = subprocess.run(
        [sys.executable, __file__, "--memory-child", str(MEMORY_DECISIONS)],
        check=True, capture_output=True, text=True,
    ).stdout.split()  # fmt: skip
    start, half, end = (float(x) for x in out)
    growth = end - half
    ok = end < MEMORY_TARGET_MB and growth < MEMORY_GROWTH_MB
    print(
        f"  RSS {start:.0f} MB warmed up, {half:.0f} MB after {MEMORY_DECISIONS // 2:,}, "
        f"{end:.0f} MB after {MEMORY_DECISIONS:,} (+{growth:.1f} MB in the second half)"
        f"  (target < {MEMORY_TARGET_MB:g} MB and flat, < +{MEMORY_GROWTH_MB:g} MB: "
        f"{verdict(ok)})"
    )


def _rss_mb() -> float:
    for text in Path("/proc/self/status").read_text().splitlines():
        if text.startswith("VmRSS:"):
            return int(text.split()[1]) / 1024
    return float("nan")


def memory_child(n: int) -> None:
    """The measured process: the web stack imported and the allocator tuned, as
    ``hub serve`` has them; the requests generated as they are decided (never held)."""
    tune_allocator()
    import hub.api  # noqa: F401  (Flask, SQLModel, the API: what a server holds)

    registry = PolicyRegistry.from_directory(ROOT / "policies")
    requests = realistic(registry, n + 1_000, seed=99)
    for _, r in zip(range(1_000), requests, strict=False):
        assess_request(registry, loads(orjson.dumps(r)), TODAY).to_json()
    marks = [_rss_mb()]
    for i, r in enumerate(requests, 1):
        assess_request(registry, loads(orjson.dumps(r)), TODAY).to_json()
        if i == n // 2:
            marks.append(_rss_mb())
    marks.append(_rss_mb())
    print(*marks)


def main() -> None:
    if sys.argv[1:2] == ["--memory-child"]:
        memory_child(int(sys.argv[2]))
        return
    parser = argparse.ArgumentParser(
        description="Full decisions on realistic filings against the plain-Python floor, "
        "hub assess --batch with 1 and 2 workers, and a serving process's memory, beside "
        "the targets of issue 15 (CPU figures are what the code costs on a shared machine).",
    )
    parser.add_argument(
        "n",
        nargs="?",
        type=int,
        default=40_000,
        help="new requests decided in-process (default 40,000; the batch runs use at least "
        f"{BATCH_REQUESTS:,}, the memory figure {MEMORY_DECISIONS:,})",
    )
    n = parser.parse_args().n
    if n < 1:
        parser.error("n must be at least 1")
    tune_allocator()  # as `hub serve` does: the in-process figures are a server's
    registry = PolicyRegistry.from_directory(ROOT / "policies")
    versions = registry.versions()
    print(
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; versions "
        + ", ".join(f"{p.version} ({len(p.criteria)} criteria)" for p in versions)
    )
    bodies = [orjson.dumps(r) for r in realistic(registry, max(n, BATCH_REQUESTS))]
    assert len(set(bodies)) == len(bodies)
    in_process(registry, bodies[:n], f"realistic: {n:,} new requests, as_of 2026-07..2027-12")
    batch(bodies)
    memory()
    old = [orjson.dumps(r) for r in regular(registry.get("2026.1"), n)]
    in_process(registry, old, f"REGULAR data (the old benchmark's, for comparison): {n:,}")


if __name__ == "__main__":
    main()
