"""What one page of "companies at risk" (``hub.services.at_risk``) costs over N companies:
the first page in each order, a page filtered by kind, the last page (the deepest
``OFFSET``) and the counts by kind of the dashboard.

Seeds N companies, each with a submitted filing under 2026.1 (realistic and never
repeated: ``benchmarks/population.py``), into an empty database given by ``--database``
(default: a new SQLite file in a temporary folder), runs the daily watch once as of
2026-11-15 (2027.1 takes effect within 90 days: about half the companies are warned),
then asks for each page ``--repeat`` times. Prints, per page, the CPU of this process
(``resource.getrusage``; on SQLite the queries run in it, on PostgreSQL in the server,
so the wall time is printed beside it) and the peak resident memory, which must not grow
with N: a page reads its rows, never the population. Not a pass/fail test.

    python benchmarks/at_risk.py 20000
    python benchmarks/at_risk.py 20000 --database postgresql+psycopg://postgres@127.0.0.1:5432/hub_at_risk_bench
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlmodel import Session  # noqa: E402

from benchmarks.population import seed  # noqa: E402
from hub.clock import Clock  # noqa: E402
from hub.policy import PolicyRegistry  # noqa: E402
from hub.services import at_risk  # noqa: E402
from hub.services.watch import run_watch  # noqa: E402
from hub.storage import make_engine, upgrade_database  # noqa: E402

AS_OF = dt.date(2026, 11, 15)
#: Our target: a page in under 50 ms at a million companies, memory flat in N.
TARGET_MS = 50


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("companies", type=int)
    parser.add_argument("--database", default=None)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.database or f"sqlite:///{folder}/at_risk.sqlite"
        upgrade_database(url)
        engine = make_engine(url)
        registry = PolicyRegistry.from_directory(ROOT / "policies" / "astana-crypto-hub")
        seeded = seed(engine, registry.get("2026.1"), args.companies, as_of=AS_OF)
        summary = run_watch(engine, registry=registry, as_of=AS_OF, clock=Clock())
        opened = sum(summary.opened.values())
        print(f"seeded {seeded['companies']:,} companies; the watch opened {opened:,} "
              f"warnings; peak memory {peak_mb():.0f} MB")  # fmt: skip
        with Session(engine) as session:
            total = at_risk.at_risk_page(session, per_page=25).total
            last = -(-total // 25)
            pages: dict[str, Callable[[], Any]] = {
                "first page, loss date": lambda: at_risk.at_risk_page(session),
                "first page, saving (largest)": lambda: at_risk.at_risk_page(
                    session, sort="saving", descending=True
                ),
                "first page, policy_change": lambda: at_risk.at_risk_page(
                    session, kind="policy_change"
                ),
                f"last page ({last:,})": lambda: at_risk.at_risk_page(session, page=last),
                "counts by kind": lambda: at_risk.at_risk_counts(session),
            }
            for name, ask in pages.items():
                ask()  # warm the caches once
                cpu, wall = cpu_seconds(), time.perf_counter()
                for _ in range(args.repeat):
                    ask()
                    session.expunge_all()
                cpu = 1000 * (cpu_seconds() - cpu) / args.repeat
                wall = 1000 * (time.perf_counter() - wall) / args.repeat
                print(f"{name}: CPU {cpu:.1f} ms, wall {wall:.1f} ms a page "
                      f"(target {TARGET_MS} ms)")  # fmt: skip
        print(f"peak memory {peak_mb():.0f} MB")
        engine.dispose()


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    main()
