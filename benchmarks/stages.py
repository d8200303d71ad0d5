"""Where a full decision's time goes on realistic filings, stage by stage, interleaved.

``benchmarks/decisions.py`` reports the whole; this splits it, measured the way a
server runs it: each new request goes through every stage in turn (never a stage over
all requests, which keeps its code and memos hot and reads lower: measured 13-15 us
for the JSON writer in isolation, 21-29 us interleaved on never-repeated requests).
Each stage is timed with the thread's CPU clock (about 0.4 us of it per reading,
included in every figure), so the figures hold on a shared machine. Stages:

- ``loads``: the body's bytes parsed (``hub.policy.jsondoc.loads``);
- ``select``: the request checked and the version in force picked;
- ``validate``: the filing validated (``validate_filing``);
- ``decide``: the fact built, durable-rules' two phases, the savings (``decide``);
- ``to_json``: the decision's JSON with explanations and fixes; ``misses`` counts the
  criteria whose JSON was not spliced or memoised (the texts written afresh), per
  decision, and the CPU they took.

Run: ``python benchmarks/stages.py [N]`` (N new requests measured after N warm-up
ones; default 20,000).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.population import realistic  # noqa: E402
from hub.policy import PolicyRegistry, validate_filing  # noqa: E402
from hub.policy import decision as _decision  # noqa: E402
from hub.policy.decision import decide  # noqa: E402
from hub.policy.engine import tune_allocator  # noqa: E402
from hub.policy.jsondoc import loads  # noqa: E402
from hub.policy.requests import _read_request  # noqa: E402

TODAY = dt.date(2026, 9, 1)  # never read: every request names its day
STAGES = ("loads", "select", "validate", "decide", "to_json")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("n", nargs="?", type=int, default=20_000, help="requests measured")
    n = parser.parse_args().n
    tune_allocator()  # as `hub serve` does
    registry = PolicyRegistry.from_directory(ROOT / "policies")
    bodies = [orjson.dumps(r) for r in realistic(registry, 2 * n)]
    assert len(set(bodies)) == len(bodies)

    misses: Counter[tuple[str, str]] = Counter()
    miss_cpu: Counter[tuple[str, str]] = Counter()
    write = _decision._Fragments.write
    clock = time.thread_time_ns

    def counted(self: Any, d: Any, status: str) -> bytes:
        start = clock()
        out: bytes = write(self, d, status)
        at = self.requirement  # b',"id":"<criterion id>","requirement":'
        key = (orjson.loads(at[6 : at.index(b',"requirement"')]), status)
        miss_cpu[key] += clock() - start
        misses[key] += 1
        return out

    def run(chunk: list[bytes]) -> list[int]:
        spent = [0] * len(STAGES)
        for body in chunk:
            t0 = clock()
            doc = loads(body)
            t1 = clock()
            policy, filing, as_of = _read_request(registry, doc, TODAY)
            t2 = clock()
            clean = validate_filing(policy, filing)
            t3 = clock()
            d = decide(policy, clean, as_of)
            t4 = clock()
            d.to_json()
            t5 = clock()
            for k, (a, b) in enumerate(((t0, t1), (t1, t2), (t2, t3), (t3, t4), (t4, t5))):
                spent[k] += b - a
        return spent

    run(bodies[:n])  # warm-up: rulesets, writers, memos at their usual fill
    # as `hub serve` does after start-up: what is held so far (here the bodies of the run)
    # stays out of the collector's walks (see benchmarks/decisions.py)
    gc.collect()
    gc.freeze()
    _decision._Fragments.write = counted  # type: ignore[method-assign]
    try:
        spent = run(bodies[n:])
    finally:
        _decision._Fragments.write = write  # type: ignore[method-assign]
    each = [s / n / 1000 for s in spent]
    print(f"{n:,} new realistic requests, CPU us per decision, stages interleaved")
    print("  " + "  ".join(f"{name} {us:.1f}" for name, us in zip(STAGES, each, strict=True)))
    print(f"  total {sum(each):.1f}")
    total = sum(misses.values())
    cpu = sum(miss_cpu.values()) / n / 1000
    print(
        f"  criterion texts written afresh: {total / n:.2f} per decision, {cpu:.1f} us of to_json"
    )
    for key, spent_ns in miss_cpu.most_common(6):
        print(
            f"    {key[0]:<24} {key[1]:<8} {misses[key] / n:.3f} per decision, "
            f"{spent_ns / misses[key] / 1000:.1f} us each, {spent_ns / n / 1000:.2f} us/decision"
        )


if __name__ == "__main__":
    main()
