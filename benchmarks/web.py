"""HTTP throughput of `hub serve`, measured with wrk on realistic, never-repeated filings.

Prints figures beside the targets of issue 15; it is not a pass/fail test. What it does:

1. makes a fresh instance folder (SQLite database, `hub demo --no-serve`: demo data and
   accounts) and an API token for the demo company user;
2. starts `hub serve` on a free port (`--workers 2` when the command has that option,
   else whatever `hub serve` does by default), rate limits off (HUB_RATELIMIT_ENABLED=false:
   the targets are about the service, not the limiter);
3. writes a pool of realistic filings (``benchmarks/population.py``: valid random BINs,
   amounts with tiyn around the thresholds, dates, every activity, a third short
   somewhere, a fifth with inputs left out), each under the version in force on an
   ``as_of`` spread over 2026-07..2027-12 (both versions), one JSON body per line, and a
   wrk Lua script that sends each body once (every wrk thread its own slice of the pool;
   the script reports it if a thread had to start its slice again);
4. runs wrk at 32 connections against ``POST /api/v1/assessments``, ``GET /assess`` and
   ``GET /api/v1/filings`` (bearer token), and prints requests/s, p99 latency and the
   non-2xx answers beside the targets; for the filings API also how many times the
   token's row was written during the run (an SQLite trigger counts them).

wrk is Debian's package: ``apt-get install -y wrk`` (CI does not install it; the script
says so and stops when it is missing). The machine's other load shows in the figures:
run it on an idle machine, and read wrk's own CPU (it runs on the same cores) as part of
the cost. Run: ``python benchmarks/web.py [--duration 10] [--connections 32]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.population import realistic  # noqa: E402
from hub.policy import PolicyRegistry  # noqa: E402

DEMO_PASSWORD = "benchmark-demo-password"

#: (label, target requests/s, target p99 in ms or None)
TARGETS = {
    "post": ("POST /api/v1/assessments", 3000, 20.0),
    "assess": ("GET /assess", 2000, None),
    # issue 15 sets no rate nor p99 here: its target is no write per read (below)
    "filings": ("GET /api/v1/filings (token)", None, None),
}

#: Sends the pool's bodies in turn, each wrk thread its own slice (one body per line of
#: BODIES_FILE), and prints the run's figures as one JSON line.
POST_LUA = r"""
local threads = {}
local counter = 0
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end
function init(args)
  nthreads = tonumber(args[1])
  bodies = {}
  local i = 0
  for line in io.lines(args[2]) do
    if i % nthreads == tid then bodies[#bodies + 1] = line end
    i = i + 1
  end
  n = 0
  wraps = 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end
function request()
  n = n + 1
  if n > #bodies then n = 1; wraps = wraps + 1 end
  return wrk.format(nil, nil, nil, bodies[n])
end
"""

DONE_LUA = r"""
function done(summary, latency, requests)
  local wrapped = 0
  for _, t in ipairs(threads or {}) do wrapped = wrapped + (t:get("wraps") or 0) end
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "non2xx": %d, ' ..
    '"connect": %d, "read": %d, "write": %d, "timeout": %d, "wrapped": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    summary.errors.status, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.timeout, wrapped))
end
"""

GET_LUA = r"""
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args)
  if args[1] then wrk.headers["Authorization"] = "Bearer " .. args[1] end
  wrk.headers["Accept"] = args[2] or "*/*"
end
"""


def realistic_bodies(n: int, seed: int = 15) -> list[bytes]:
    """``n`` request bodies, all different (``benchmarks/population.py``'s ``realistic``):
    each a new company's filing under the version in force on its ``as_of``, one in five
    naming that version."""
    registry = PolicyRegistry.from_directory(ROOT / "policies")
    return [orjson.dumps(r) for r in realistic(registry, n, seed, pinned_share=0.2)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def hub_command() -> list[str]:
    found = shutil.which("hub", path=str(Path(sys.executable).parent)) or shutil.which("hub")
    return [found] if found else [sys.executable, "-m", "hub.cli"]


def prepare(instance: Path, env: dict[str, str]) -> str:
    """Demo data in a fresh instance; returns a new API token of the demo company user.
    Installs a trigger that counts the writes to the token table (``bench_token_writes``)."""
    subprocess.run([*hub_command(), "demo", "--no-serve"], env=env, check=True, capture_output=True)
    code = (
        "from hub import create_app\n"
        "from hub.db import session_scope\n"
        "from hub.auth.service import get_user_by_email\n"
        "from hub.auth.tokens import issue_token\n"
        "app = create_app()\n"
        "with session_scope(app) as s:\n"
        "    user = get_user_by_email(s, email='company@demo.hub')\n"
        "    print(issue_token(s, user=user, name='benchmark')[1])\n"
    )
    token = subprocess.run(
        [sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True
    ).stdout.strip()
    with sqlite3.connect(instance / "hub.sqlite") as db:
        db.executescript(
            "CREATE TABLE bench_token_writes (n INTEGER);"
            "CREATE TRIGGER bench_count AFTER UPDATE ON api_token "
            "BEGIN INSERT INTO bench_token_writes VALUES (1); END;"
        )
    return token


def token_writes(instance: Path) -> int:
    with sqlite3.connect(instance / "hub.sqlite") as db:
        return int(db.execute("SELECT count(*) FROM bench_token_writes").fetchone()[0])


def start_server(
    env: dict[str, str], port: int, workers: int, other: str | None = None
) -> tuple[subprocess.Popen[str], str]:
    """`hub serve` on ``port`` (or the ``other`` command, ``{port}`` replaced, to compare);
    returns the process and how it was started."""
    command = [*hub_command(), "serve", "--port", str(port)]
    helptext = subprocess.run(
        [*command[:-2], "--help"], env=env, capture_output=True, text=True
    ).stdout
    if "--workers" in helptext:
        command += ["--workers", str(workers)]
    if other:
        command = shlex.split(other.replace("{port}", str(port)))
    proc = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    seen: list[str] = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise SystemExit("hub serve stopped:\n" + "".join(seen))
        seen.append(line)
        if "Serving on" in line or "Listening at" in line:
            break
    # Wait until every worker answers (a pre-forking server binds before its workers load).
    for _ in range(200):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"GET /api/v1/policies HTTP/1.0\r\n\r\n")
                if s.recv(12).startswith(b"HTTP/1"):
                    break
        except OSError:
            time.sleep(0.1)
    return proc, " ".join(Path(c).name if i == 0 else c for i, c in enumerate(command))


def server_cpu(root: int) -> float:
    """CPU seconds used so far by process ``root`` and its descendants (from /proc): on a
    shared machine the server's CPU per request is the figure that does not depend on
    what else runs."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    tree, grew = {root}, True
    while grew:
        more = {pid for pid, parent in parents.items() if parent in tree} - tree
        tree |= more
        grew = bool(more)
    ticks = 0
    for pid in tree:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def wrk(
    url: str,
    lua: str,
    args: list[str],
    *,
    duration: int,
    connections: int,
    threads: int,
    server: int,
) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(lua + DONE_LUA)
    cpu = server_cpu(server)
    own = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        result = subprocess.run(
            ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--timeout", "10s",
             "-s", script.name, url, "--", *args],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
    finally:
        os.unlink(script.name)
    line = [x for x in result.stdout.splitlines() if x.startswith("{")][-1]
    figures: dict[str, Any] = json.loads(line)
    done = resource.getrusage(resource.RUSAGE_CHILDREN)
    requests = max(figures["requests"], 1)
    figures["server_cpu_us"] = (server_cpu(server) - cpu) / requests * 1e6
    wrk_cpu = done.ru_utime + done.ru_stime - own.ru_utime - own.ru_stime
    figures["wrk_cpu_us"] = wrk_cpu / requests * 1e6
    figures["rate"] = figures["requests"] / (figures["duration_us"] / 1e6)
    return figures


def report(key: str, f: dict[str, Any], extra: str = "") -> None:
    label, rate_target, p99_target = TARGETS[key]
    p99 = f["p99_us"] / 1000
    verdicts = []
    if rate_target is not None:
        verdicts.append(
            f"target >= {rate_target:,}/s: {'met' if f['rate'] >= rate_target else 'NOT met'}"
        )
    if p99_target is not None:
        verdicts.append(
            f"p99 target < {p99_target:g} ms: {'met' if p99 < p99_target else 'NOT met'}"
        )
    errors = f["non2xx"] + f["connect"] + f["read"] + f["write"] + f["timeout"]
    print(
        f"{label:<30} {f['rate']:>8,.0f} req/s  p50 {f['p50_us'] / 1000:6.2f} ms  "
        f"p99 {p99:6.2f} ms  ({'; '.join(verdicts) or 'no rate or p99 target'})"
    )
    notes = [
        f"{f['requests']:,} requests; CPU per request: server {f['server_cpu_us']:,.0f} us, "
        f"wrk {f['wrk_cpu_us']:,.0f} us"
    ]
    if errors:
        notes.append(
            f"NOT ALL ANSWERED 2xx: {f['non2xx']} non-2xx, {f['connect']} connect, "
            f"{f['read']} read, {f['write']} write, {f['timeout']} timeout errors"
        )
    if f.get("wrapped"):
        notes.append(f"bodies repeated: {f['wrapped']} thread(s) went round the pool")
    print(f"{'':<30} {', '.join(notes)}{extra}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2, help="server workers, when supported")
    parser.add_argument(
        "--only", choices=sorted(TARGETS), action="append", help="run only these (repeatable)"
    )
    parser.add_argument(
        "--command",
        help="serve with this command instead of hub serve ({port} is replaced), to compare",
    )
    opts = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: install Debian's package (apt-get install -y wrk)")
    runs = opts.only or ["post", "assess", "filings"]

    work = Path(tempfile.mkdtemp(prefix="hub-http-bench-"))
    instance = work / "instance"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(
        HUB_INSTANCE_PATH=str(instance),
        HUB_DEMO_PASSWORD=DEMO_PASSWORD,
        HUB_RATELIMIT_ENABLED="false",
        PYTHONPATH=str(ROOT),
    )
    proc = None
    try:
        token = prepare(instance, env)
        # Enough bodies that none is sent twice at twice the target rate.
        n = max(20_000, 6_000 * opts.duration)
        started = time.perf_counter()
        bodies_file = work / "bodies.jsonl"
        bodies_file.write_bytes(b"\n".join(realistic_bodies(n)) + b"\n")
        made = time.perf_counter() - started
        port = free_port()
        proc, how = start_server(env, port, opts.workers, opts.command)
        base = f"http://127.0.0.1:{port}"
        print(
            f"server: {how} (rate limits off); wrk -t{opts.wrk_threads} "
            f"-c{opts.connections} -d{opts.duration}s on {os.cpu_count()} CPUs; "
            f"{n:,} distinct filings ({made:.1f} s to make)"
        )
        kw: dict[str, Any] = dict(
            duration=opts.duration,
            connections=opts.connections,
            threads=opts.wrk_threads,
            server=proc.pid,
        )
        if "post" in runs:
            # A short warm-up: each worker's first decisions compile the policies.
            wrk(base + "/api/v1/assessments", POST_LUA, ["1", str(bodies_file)],
                duration=2, connections=4, threads=1, server=proc.pid)  # fmt: skip
            f = wrk(
                base + "/api/v1/assessments", POST_LUA,
                [str(opts.wrk_threads), str(bodies_file)], **kw,
            )  # fmt: skip
            report("post", f)
        if "assess" in runs:
            f = wrk(base + "/assess", GET_LUA, ["", "text/html"], **kw)
            report("assess", f)
        if "filings" in runs:
            before = token_writes(instance)
            f = wrk(base + "/api/v1/filings", GET_LUA, [token, "application/json"], **kw)
            writes = token_writes(instance) - before
            report(
                "filings", f,
                f"; token row written {writes} time(s) in {opts.duration} s "
                "(target: at most once a minute per token, not once per read)",
            )  # fmt: skip
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
