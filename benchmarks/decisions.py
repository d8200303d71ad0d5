"""How many decisions per second: in-process, and end to end through `hub assess --batch`.

Prints figures; it is not a pass/fail test. Filings are varied (every activity,
compliant and not, values at and around the thresholds, inputs missing), made
from a fixed seed so runs compare. Run: python benchmarks/decisions.py [N]
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hub.policy import PolicyRegistry, assess, decide, validate_filing  # noqa: E402
from hub.policy.engine import tune_allocator  # noqa: E402
from tests.unit.core_support import exchange, miner  # noqa: E402

LICENCE = {"exchange": "trading_facility", "mining": "mining", "software": "none"}


def varied_filings(policy: Any, n: int, seed: int = 7) -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    numeric = [i for i in policy.inputs if i.type in ("number", "integer") and not i.saving]
    out = []
    for _ in range(n):
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
        out.append(f)
    return out


class Clock:
    """Wall time, and CPU time (ours and our children's): on a shared machine the CPU
    figure says what the code costs, the wall figure what a user waits."""

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


def rate(label: str, n: int, clock: Clock, target: int | None = None) -> None:
    goal = ""
    if target is not None:
        goal = f"  (target {target:,}/s: {'met' if n / clock.wall >= target else 'NOT met'})"
    print(
        f"{label:<58} {n / clock.wall:>9,.0f}/s wall  {n / clock.cpu:>9,.0f}/s per CPU-second"
        + goal
    )


def main() -> None:
    tune_allocator()  # as `hub serve` does: the in-process figures are a server's
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    registry = PolicyRegistry.from_directory(ROOT / "policies")
    policy = registry.get("2026.1")
    as_of = dt.date(2026, 9, 1)
    filings = varied_filings(policy, 2_000)
    tiers: dict[Any, int] = {}
    for f in filings:
        t = assess(policy, f, as_of).tier
        tiers[t] = tiers.get(t, 0) + 1
    print(
        f"policy {policy.version}: {len(policy.criteria)} criteria, {len(policy.benefits)} "
        f"benefits; {len(filings)} distinct filings, tiers {tiers}; {os.cpu_count()} CPUs; "
        f"load average {os.getloadavg()[0]:.1f}"
    )

    clean = [validate_filing(policy, f) for f in filings]
    with Clock() as clock:
        for i in range(n):
            decide(policy, clean[i % 2000], as_of)
    rate("decide (durable-rules: statuses, tier, benefits, savings)", n, clock)

    with Clock() as clock:
        for i in range(n):
            assess(policy, filings[i % 2000], as_of)
    rate("assess (validation + decision)", n, clock)

    with Clock() as clock:
        for i in range(n):
            assess(policy, filings[i % 2000], as_of).to_json()
    rate("full decision as served: JSON, explanations and fixes", n, clock, 25_000)

    # The texts are memoised on the values they depend on; a fresh policy object and
    # filings never seen before show the cost when most lookups miss.
    cold = PolicyRegistry.from_directory(ROOT / "policies").get("2026.1")
    distinct = varied_filings(cold, n, seed=99)
    with Clock() as clock:
        for f in distinct:
            assess(cold, f, as_of).to_json()
    rate(f"  same, {n:,} new filings, memos cold", n, clock, 25_000)

    with Clock() as clock:
        for i in range(n):
            assess(policy, filings[i % 2000], as_of).to_dict()
    rate("full decision as a Python dict (explanations and fixes)", n, clock)

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in.jsonl"
        with src.open("w") as fh:
            for i in range(n):
                fh.write(json.dumps({"filing": filings[i % 2000], "as_of": "2026-09-01"}) + "\n")
        hub = Path(sys.executable).parent / "hub"
        for workers in (1, os.cpu_count() or 1):
            out = Path(tmp) / f"out{workers}.jsonl"
            with Clock() as clock:
                subprocess.run(
                    [str(hub), "assess", "--batch", str(src), "--out", str(out),
                     "--workers", str(workers)],
                    check=True, stderr=subprocess.DEVNULL,
                )  # fmt: skip
            lines = sum(1 for _ in out.open())
            assert lines == n, (lines, n)
            label = f"hub assess --batch --workers {workers} (start-up included)"
            rate(label, n, clock, 10_000 if workers == 1 else None)


if __name__ == "__main__":
    main()
