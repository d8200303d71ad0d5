"""How much CPU time and memory the daily watch (``hub.services.watch.run_watch``) takes
over N companies, its first run (every warning opened) and a second one on the same day
(every warning found again, nothing written but ``last_seen``).

Seeds N companies, each with a submitted filing under 2026.1 (realistic and never
repeated: ``benchmarks/population.py``), into an empty database given by ``--database``
(default: a new SQLite file in a temporary folder), then runs the watch twice as of
2026-11-15 (2027.1 takes effect within 90 days) in this process. Prints CPU seconds
(user + system, ``resource.getrusage``: wall time is noise on a shared machine), CPU
per company, the peak resident memory, and the target. Not a pass/fail test.

    python benchmarks/watch.py 50000
    python benchmarks/watch.py 100000 --database postgresql+psycopg://postgres@127.0.0.1:5432/hub_watch_bench

``--database`` must be empty (or missing, for SQLite): it is written to.
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.population import seed  # noqa: E402
from hub.clock import Clock  # noqa: E402
from hub.policy import PolicyRegistry  # noqa: E402
from hub.services.watch import run_watch  # noqa: E402
from hub.storage import make_engine, upgrade_database  # noqa: E402

AS_OF = dt.date(2026, 11, 15)
#: Our target: a million companies watched within 30 minutes of one core (1.8 ms each),
#: so a daily run never overlaps the next; memory flat in the population.
TARGET_MS_PER_COMPANY = 1.8


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("companies", type=int)
    parser.add_argument("--database", default=None)
    parser.add_argument("--chunk-size", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.database or f"sqlite:///{folder}/watch.sqlite"
        upgrade_database(url)
        engine = make_engine(url)
        registry = PolicyRegistry.from_directory(ROOT / "policies" / "astana-crypto-hub")
        seeded = seed(engine, registry.get("2026.1"), args.companies, as_of=AS_OF)
        print(f"seeded {seeded['companies']:,} companies, {seeded['filings']:,} filings "
              f"in {seeded['seconds']:.1f} s")  # fmt: skip
        for run in ("first run", "second run"):
            cpu, wall = cpu_seconds(), time.perf_counter()
            summary = run_watch(engine, registry=registry, as_of=AS_OF, clock=Clock(),
                                chunk_size=args.chunk_size)  # fmt: skip
            cpu, wall = cpu_seconds() - cpu, time.perf_counter() - wall
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            per = 1000 * cpu / max(1, summary.companies)
            kinds = summary.to_dict()["kinds"]
            counts = ", ".join(
                f"{k} {v['opened']}/{v['still_open']}/{v['closed']}" for k, v in kinds.items()
            )
            print(f"{run}: {summary.companies:,} companies, CPU {cpu:.1f} s "
                  f"({per:.2f} ms a company; target {TARGET_MS_PER_COMPANY} ms), wall "
                  f"{wall:.1f} s, peak memory {peak:.0f} MB")  # fmt: skip
            print(f"  opened/still open/closed: {counts}")
        engine.dispose()


if __name__ == "__main__":
    main()
