"""How fast, and in how much memory, `hub policy impact 2027.1 --against 2026.1` runs over
N stored filings: in one process, and on 1 and 2 `hub worker` processes (Redis broker).

Seeds N companies, each with one decided filing under 2026.1 (realistic and never
repeated: ``benchmarks/population.py``), into a PostgreSQL database with bulk INSERTs,
unless it already holds exactly that population (``--fresh`` seeds again). Then times
the analysis as an operator runs it, start-up included, and prints filings per second,
the peak memory (resident set high-water mark) of every process, the scaling from 1 to
2 workers, and the targets. Not a pass/fail test.

    python benchmarks/impact.py 100000                      # in-process and 1, 2 workers
    python benchmarks/impact.py 1000000 --modes 1,2         # the issue's target
    python benchmarks/impact.py 100000 --modes single-pass  # the analysis before chunks

``--database`` (default ``$HUB_BENCH_DATABASE_URL`` or the local ``hub_bench``) is
emptied when seeded: never point it at a database whose data you want.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from sqlmodel import SQLModel  # noqa: E402

from benchmarks.population import seed  # noqa: E402
from hub.policy import PolicyRegistry  # noqa: E402
from hub.storage import make_engine, upgrade_database  # noqa: E402

HUB = Path(sys.executable).parent / "hub"
DEFAULT_DB = "postgresql+psycopg://postgres@127.0.0.1:5432/hub_bench"
TARGET_SECONDS_PER_MILLION = 180  # 1,000,000 filings in under 3 minutes with 2 workers
TARGET_MB = 300  # per worker
TARGET_SCALING = 1.7  # 2 workers at least 1.7 times as fast as 1

SINGLE_PASS = """
import datetime as dt, json, resource, sys, time
from sqlmodel import Session
from hub.storage import make_engine
from hub.policy import PolicyRegistry
from hub.policy.impact import analyse
from hub.studio.jobs import latest_filings, subjects_of
registry = PolicyRegistry.from_directory(sys.argv[2])
before, after = registry.get("2026.1"), registry.get("2027.1")
started = time.perf_counter()
with Session(make_engine(sys.argv[1])) as session:
    subjects, skipped = subjects_of(latest_filings(session), before)
data = analyse(subjects, after, dt.date(2027, 1, 1), against="2026.1").to_dict()
print(json.dumps({"seconds": time.perf_counter() - started, "totals": data["totals"],
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def ensure_population(url: str, n: int, fresh: bool) -> None:
    upgrade_database(url)
    engine = make_engine(url)
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT count(*) FROM filing")).scalar_one()
    if stored == n and not fresh:
        print(f"database holds {n:,} filings already (--fresh to seed again)")
        return
    with engine.begin() as conn:
        tables = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
        conn.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    policy = PolicyRegistry.from_directory(ROOT / "policies").get("2026.1")

    def log(done: int) -> None:
        if done % 100_000 == 0:
            print(f"  seeded {done:,}", flush=True)

    report = seed(engine, policy, n, as_of=dt.date(2026, 9, 1), older_share=0.0, batch=5_000,
                  log=log)  # fmt: skip
    with engine.begin() as conn:
        conn.execute(sa.text("ANALYZE"))
    print(
        f"seeded {report['companies']:,} companies, {report['filings']:,} filings in "
        f"{report['seconds']:.0f} s ({report['filings'] / report['seconds']:,.0f} filings/s, "
        "bulk INSERTs)"
    )
    engine.dispose()


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a running process has used so far (/proc), 0 if gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def backend_pids(url: str) -> list[int]:
    """The PostgreSQL server processes connected to the benchmark's database."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return [
                int(p)
                for (p,) in conn.execute(
                    sa.text(
                        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                        "AND pid <> pg_backend_pid()"
                    )
                )
            ]
    finally:
        engine.dispose()


def peak_mb(pid: int) -> float:
    """The resident set high-water mark of a running process (VmHWM), in MB."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    for line in text.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def env_for(url: str, instance: Path, broker: str | None, queue: str) -> dict[str, str]:
    env = {
        **os.environ,
        "HUB_DATABASE_URL": url,
        "HUB_INSTANCE_PATH": str(instance),
        "HUB_SECRET_KEY": "benchmark",
        "HUB_ENV": "development",
        "HUB_QUEUE": queue,
        "HUB_BROKER_VISIBILITY_TIMEOUT": "120",
    }
    env.pop("HUB_BROKER_URL", None)
    if broker:
        env["HUB_BROKER_URL"] = broker
    return env


IMPACT = ["policy", "impact", "2027.1", "--against", "2026.1", "--as-of", "2027-01-01"]


def run_impact(env: dict[str, str], chunk_size: int) -> tuple[float, str, float, float]:
    """(seconds, output, peak MB, CPU seconds) of one `hub policy impact` process."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            [str(HUB), *IMPACT, "--chunk-size", str(chunk_size)], env=env, stdout=out, stderr=err
        )
        peak = 0.0
        while True:  # VmHWM while it runs (ru_maxrss would count the forking parent's)
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            peak = max(peak, peak_mb(proc.pid))
            time.sleep(0.2)
        proc.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        output, errors = out.read().decode(), err.read().decode()
    if proc.returncode != 0:
        sys.exit(f"hub policy impact failed:\n{output[-2000:]}\n{errors[-4000:]}")
    return seconds, output, peak, usage.ru_utime + usage.ru_stime


def start_workers(
    env: dict[str, str], count: int, logs: Path
) -> tuple[list[subprocess.Popen[bytes]], list[float]]:
    """Start ``count`` workers and wait until they are ready; the workers and the CPU
    seconds each used to start (imports, app, connection to the broker)."""
    workers = []
    for i in range(count):
        log = (logs / f"worker{count}-{i}.log").open("wb")
        workers.append(
            subprocess.Popen(
                [str(HUB), "worker", "--concurrency", "1", "--loglevel", "INFO"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
    deadline = time.monotonic() + 60
    for i in range(count):
        path = logs / f"worker{count}-{i}.log"
        while b"ready." not in path.read_bytes():
            if time.monotonic() > deadline:
                sys.exit(f"worker {i} did not start: {path.read_text()[-2000:]}")
            time.sleep(0.2)
    return workers, [cpu_seconds(w.pid) for w in workers]


def stop(workers: list[subprocess.Popen[bytes]]) -> list[tuple[float, float]]:
    """Stop the workers; (peak MB, CPU seconds) of each. The peak is VmHWM, read before
    they stop: a child's ru_maxrss keeps its parent's high-water mark across fork and exec."""
    peaks = [peak_mb(w.pid) for w in workers]
    for w in workers:
        w.send_signal(signal.SIGTERM)
    usages: list[tuple[float, float]] = []
    for w in workers:
        _, status, usage = os.wait4(w.pid, 0)
        w.returncode = os.waitstatus_to_exitcode(status)
        usages.append((peaks[len(usages)], usage.ru_utime + usage.ru_stime))
    return usages


def totals_line(output: str) -> str:
    return next((ln.strip() for ln in output.splitlines() if " change, " in ln), "?")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("n", type=int, nargs="?", default=100_000, help="companies/filings")
    parser.add_argument("--database", default=os.environ.get("HUB_BENCH_DATABASE_URL", DEFAULT_DB))
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--chunk-size", type=int, default=1_000)
    parser.add_argument(
        "--modes", default="in-process,1,2", help="single-pass, in-process, worker counts"
    )
    parser.add_argument("--fresh", action="store_true", help="seed again even if populated")
    args = parser.parse_args()
    if not args.database.startswith("postgresql"):
        sys.exit("--database must be a PostgreSQL URL")
    print(
        f"{args.n:,} filings, chunks of {args.chunk_size:,}; {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    ensure_population(args.database, args.n, args.fresh)
    queue = f"bench-{os.getpid()}"
    rates: dict[str, float] = {}
    cpu_rates: dict[str, float] = {}
    projected: dict[str, float] = {}  # seconds per filing on 2 idle CPUs
    with tempfile.TemporaryDirectory() as tmp:
        instance = Path(tmp)
        for mode in args.modes.split(","):
            mode = mode.strip()
            load = os.getloadavg()[0]
            if mode == "single-pass":
                started = time.perf_counter()
                done = subprocess.run(
                    [sys.executable, "-c", SINGLE_PASS, args.database, str(ROOT / "policies")],
                    capture_output=True, text=True, check=True, cwd=ROOT,
                )  # fmt: skip
                seconds = time.perf_counter() - started
                out = json.loads(done.stdout)
                t = out["totals"]
                print(
                    f"single pass (before chunks)      {args.n / seconds:>8,.0f} filings/s  "
                    f"{seconds:>7.1f} s  peak {out['peak_mb']:>6,.0f} MB  "
                    f"({t['changed']:,} change, {t['tier_changes']:,} change tier; load {load:.1f})"
                )
                continue
            if mode == "in-process":
                seconds, output, peak, cpu = run_impact(
                    env_for(args.database, instance, None, queue), args.chunk_size
                )
                rates[mode] = args.n / seconds
                print(
                    f"in-process (no broker)           {rates[mode]:>8,.0f} filings/s  "
                    f"{seconds:>7.1f} s  peak {peak:>6,.0f} MB  "
                    f"{args.n / cpu:,.0f} filings per CPU-second  ({totals_line(output)}; "
                    f"load {load:.1f})"
                )
                continue
            count = int(mode)
            env = env_for(args.database, instance, args.broker, queue)
            workers, startup = start_workers(env, count, instance)
            try:
                seconds, output, peak, command_cpu = run_impact(env, args.chunk_size)
                # The server processes still connected (the workers' pools) and their CPU.
                backends = {pid: cpu_seconds(pid) for pid in backend_pids(args.database)}
            finally:
                usages = stop(workers)
            rates[mode] = args.n / seconds
            cpu = sum(c for _, c in usages) - sum(startup)
            cpu_rates[mode] = args.n / cpu
            database_cpu = sum(backends.values())
            # An estimate of the wall time on 2 idle CPUs from the CPU-seconds used: a
            # worker waits for its database queries (its chain: its share of the workers'
            # and the database's CPU), and all the CPU of the run (workers, command,
            # database) shares the 2 CPUs; whichever is longer.
            chain = (cpu + database_cpu) / count
            projected[mode] = max(chain, (cpu + database_cpu + command_cpu) / min(count, 2))
            projected[mode] /= args.n
            print(
                f"{count} worker{'s' if count > 1 else ' '} (Redis), command waiting  "
                f"{rates[mode]:>8,.0f} filings/s  {seconds:>7.1f} s  peak per worker "
                f"{', '.join(f'{p:,.0f}' for p, _ in usages)} MB (command {peak:,.0f} MB)  "
                f"{cpu_rates[mode]:,.0f} filings per worker CPU-second (start-up of "
                f"{max(startup):.1f} s CPU each left out)  ({totals_line(output)}; "
                f"load {load:.1f})"
            )
            print(
                f"  CPU: workers {cpu:,.1f} s, command {command_cpu:,.1f} s, PostgreSQL "
                f"{database_cpu:,.1f} s (its processes still connected at the end)"
            )
            verdict = "met" if max(p for p, _ in usages) < TARGET_MB else "NOT met"
            print(f"  target: under {TARGET_MB} MB per worker: {verdict}")
    if "2" in rates:
        million = 1_000_000 / rates["2"]
        verdict = "met" if million < TARGET_SECONDS_PER_MILLION else "NOT met"
        idle = 1_000_000 * projected["2"]
        idle_verdict = "met" if idle < TARGET_SECONDS_PER_MILLION else "NOT met"
        print(
            f"target: 1,000,000 filings in under {TARGET_SECONDS_PER_MILLION} s with 2 workers: "
            f"{million:,.0f} s at this wall-clock rate ({verdict}); estimated on 2 idle CPUs "
            f"from the CPU this run used (workers, command, PostgreSQL): {idle:,.0f} s "
            f"({idle_verdict})"
        )
    if "1" in rates and "2" in rates:
        ratio = rates["2"] / rates["1"]
        verdict = "met" if ratio >= TARGET_SCALING else "NOT met"
        cpu_ratio = projected["1"] / projected["2"]
        print(
            f"target: 2 workers at least {TARGET_SCALING}x as fast as 1: {ratio:.2f}x wall "
            f"clock ({verdict}; the machine's load average was {os.getloadavg()[0]:.1f} on "
            f"{os.cpu_count()} CPUs: meaningful on an idle machine only); estimated on 2 "
            f"idle CPUs from the CPU used: {cpu_ratio:.2f}x "
            f"({'met' if cpu_ratio >= TARGET_SCALING else 'NOT met'})"
        )


if __name__ == "__main__":
    main()
