"""`hub assess`: the API's assessment from the command line, one filing or a batch."""

from __future__ import annotations

import datetime as dt
import gc
import multiprocessing
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, NoReturn

import click
import orjson

from hub.commands import hub_today, load_registry, policies_option
from hub.policy import Decision, FilingInvalid, Policy, PolicyRegistry, jsondoc
from hub.policy.decision import prepare
from hub.policy.engine import tune_allocator
from hub.policy.money import format_money
from hub.policy.requests import (
    REQUEST_FIELDS,
    RequestInvalid,
    assess_request,
    lone_surrogate_errors,
    parse_date,
    trace_request,
)
from hub.policy.text import has_lone_surrogate
from hub.policy.trace import Trace, criterion_lines, decision_lines, with_trace

STATUS_MARK = {"met": "ok", "not_met": "NOT MET", "missing": "MISSING", "not_applicable": "n/a"}


def _dumps(value: Any) -> bytes:
    """The same bytes for the same decision: sorted keys, like the API (orjson: the
    standard library's encoder took longer than the decision itself)."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def _readable(decision: Decision, trace: Trace | None = None) -> str:
    """The decision for people; with a trace, each criterion's trace under it and the
    tier's and benefits' at the end."""
    d = decision.to_dict()
    traced = {c["id"]: c for c in trace["criteria"]} if trace is not None else {}
    lines = [
        f"Policy {d['policy']['id']} {d['policy']['version']} ({d['policy']['digest'][:19]}…), "
        f"as of {d['as_of']}",
        f"Tier: {d['tier'] + ' ' + d['tier_title'] if d['tier'] else 'none reached'}",
        "",
        "Benefits:" if d["benefits"] else "Benefits: none",
    ]
    for b in d["benefits"]:
        saving = b["estimated_annual_saving_kzt"]
        shown = f"{format_money(saving)} KZT a year" if saving is not None else "saving unknown"
        lines.append(f"  {b['id']:<26} {shown:>28}  {b['title']}")
    if d["benefits"]:
        total = format_money(d["estimated_total_saving_kzt"])
        lines.append(f"  {'total':<26} {total + ' KZT a year':>28}")
    lines += ["", "Criteria:"]
    order = {"not_met": 0, "missing": 1, "met": 2, "not_applicable": 3}
    for c in sorted(d["criteria"], key=lambda c: order[c["status"]]):
        lines.append(f"  {c['tier']} {c['id']:<26} {STATUS_MARK[c['status']]:<8} {c['citation']}")
        if c["fix"]:
            lines.append(f"       fix: {c['fix']}")
        if c["id"] in traced:
            lines += [f"       {line}" for line in criterion_lines(traced[c["id"]])]
    if trace is not None:
        lines += ["", "Trace:", *(f"  {line}" for line in decision_lines(trace))]
    return "\n".join(lines)


def _request_from_file(data: Any, as_of: str | None, version: str | None) -> Any:
    """A file holds a filing, or a whole API request body ({"filing": ...})."""
    if isinstance(data, dict) and "filing" in data and set(data) <= set(REQUEST_FIELDS):
        body = dict(data)
    else:
        body = {"filing": data}
    if as_of is not None:
        body["as_of"] = as_of
    if version is not None:
        body["policy_version"] = version
    return body


def _errors_text(errors: list[dict[str, Any]]) -> str:
    return "\n".join(f"  {e['field'] or '(request)'}: {e['message']}" for e in errors)


@click.command("assess")
@click.argument(
    "filing", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=False
)
@click.option(
    "--as-of",
    "as_of",
    help="Assessment date YYYY-MM-DD (default: the hub's today, in HUB_TIMEZONE).",
)
@click.option("--version", "version", help="Policy version to use (default: the one in force).")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON decision.")
@click.option(
    "--trace",
    "traced",
    is_flag=True,
    help="Add the decision's trace: per criterion the condition as specialised, the "
    "parameters and values it used and the engine rules that fired; the tier and benefit "
    "rules (the API's ?trace=true). Also with --batch.",
)
@click.option(
    "--batch",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="JSON Lines file: one API request body per line.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="With --batch: write the answers here (default: standard output).",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=lambda: os.cpu_count() or 1,
    show_default="the number of CPUs",
    help="With --batch: processes that assess in parallel (answers stay in input order).",
)
@policies_option
def assess(
    filing: Path | None,
    as_of: str | None,
    version: str | None,
    as_json: bool,
    traced: bool,
    batch: Path | None,
    out: Path | None,
    workers: int,
    policies_dir: Path | None,
) -> None:
    """Assess FILING (a JSON file) and print the decision, or a --batch of requests.

    A filing that fails validation prints one error per field and exits with 1.
    With --batch each output line is the API's answer for the input line (the
    decision, or {"errors": [...]}), in order; the exit code is 1 if any line
    was rejected.
    """
    for option, value in (("--version", version), ("--as-of", as_of)):
        if value is not None and has_lone_surrogate(value):  # bytes not UTF-8 in argv
            raise click.BadParameter("must be valid UTF-8 text", param_hint=option)
    registry = load_registry(policies_dir)
    today = hub_today()
    if batch is not None:
        if filing is not None:
            raise click.UsageError("give either FILING or --batch, not both")
        if as_of is not None:
            parse_date_option(as_of)
        rejected = _run_batch(registry, batch, out, today, as_of, version, workers, traced)
        sys.exit(1 if rejected else 0)
    if filing is None:
        raise click.UsageError("missing FILING (or --batch IN.jsonl)")
    if out is not None:
        raise click.UsageError("--out goes with --batch")
    try:
        data = jsondoc.loads(filing.read_bytes())
    except jsondoc.DocumentRefused as exc:  # a key given twice, a number read inexactly
        _refuse(filing, "the file", exc.errors, as_json)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise click.ClickException(f"{filing}: not a JSON file: {exc}") from None
    body = _request_from_file(data, as_of, version)
    trace = None
    try:
        if errors := lone_surrogate_errors(body):
            raise RequestInvalid(errors)
        if traced:
            decision, trace = trace_request(registry, body, today)
        else:
            decision = assess_request(registry, body, today)
    except FilingInvalid as exc:
        _refuse(filing, "the filing", exc.errors, as_json)
    if as_json:
        answer = decision.to_json()
        click.echo((answer if trace is None else with_trace(answer, trace)).decode())
    else:
        click.echo(_readable(decision, trace))


def _refuse(path: Path, what: str, errors: list[dict[str, Any]], as_json: bool) -> NoReturn:
    """One error per field (``--json``: the API's error document), then exit 1."""
    if as_json:
        click.echo(_dumps({"errors": errors}).decode())
    else:
        click.echo(f"{path}: {what} is not valid:\n{_errors_text(errors)}", err=True)
    sys.exit(1)


def decide_warmup(policy: Policy) -> None:
    """Compile and load the rules, and build the validator and the JSON writers of every
    activity now, so forked workers inherit them ready (and share their memory)."""
    prepare(policy)


def parse_date_option(value: str) -> None:
    try:
        parse_date(value, "--as-of")
    except FilingInvalid as exc:
        raise click.BadParameter(exc.errors[0]["message"], param_hint="--as-of") from None


def _answer(registry: PolicyRegistry, line: bytes, today: dt.date, as_of: str | None,
            version: str | None, traced: bool = False) -> tuple[bytes, bool]:  # fmt: skip
    try:  # like the API: NaN and Infinity are read (the field is named), keys given twice
        body = jsondoc.loads(line)  # and inexact numbers are refused with their path
    except jsondoc.DocumentRefused as exc:
        return _dumps({"errors": exc.errors}), False
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        error = {"field": None, "message": f"not valid JSON: {exc}"}
        return _dumps({"errors": [error]}), False
    if errors := lone_surrogate_errors(body, line):  # "\ud800": valid JSON, not text
        return _dumps({"errors": errors}), False
    if isinstance(body, dict):
        if as_of is not None:
            body.setdefault("as_of", as_of)
        if version is not None:
            body.setdefault("policy_version", version)
    try:
        if traced:
            decision, trace = trace_request(registry, body, today)
            return with_trace(decision.to_json(), trace), True
        return assess_request(registry, body, today).to_json(), True
    except FilingInvalid as exc:
        return _dumps({"errors": exc.errors}), False


# Set before the worker processes fork, so each inherits the loaded (and compiled) rules.
_BATCH: dict[str, Any] = {}
#: a worker's own descriptors of the input and the output, opened on its first range
_PART: dict[str, Any] = {}
CHUNK = 256
#: with --out and several workers, the input is handed out in ranges of about this many
#: bytes (about 230 realistic requests), each read by the worker itself
RANGE_BYTES = 1 << 18
#: how long (seconds) a worker waits for the range before its own to be placed before
#: it hands its block to the parent (a range takes about 20 ms to answer). Measured on
#: 100,000 requests, 2 workers: 2 ms sent 128 of 435 blocks (2.5 MB each) through the
#: parent, 50 ms sent 5
PLACE_WAIT = 0.05


def _answer_chunk(lines: list[bytes]) -> tuple[bytes, int, int]:
    """The answers of a chunk of lines as one block of output, how many lines it answers
    and how many were rejected (a block per chunk: fewer writes, one message between
    processes)."""
    b = _BATCH
    registry, today, as_of, version = b["registry"], b["today"], b["as_of"], b["version"]
    traced = b["traced"]
    out = []
    rejected = 0
    for line in lines:
        if not line.strip():
            continue
        answer, ok = _answer(registry, line, today, as_of, version, traced)
        out.append(answer)
        rejected += not ok
    out.append(b"")
    return b"\n".join(out), len(out) - 1, rejected


def _chunks(lines: IO[bytes], bar: Any) -> Any:
    """Non-blank lines in chunks; the progress bar counts bytes read."""
    chunk: list[bytes] = []
    read = 0
    for line in lines:
        read += len(line)
        if line.strip():
            chunk.append(line)
            if len(chunk) == CHUNK:
                bar.update(read)
                read = 0
                yield chunk
                chunk = []
    bar.update(read)
    if chunk:
        yield chunk


def _ranges(source: IO[bytes], size: int) -> Iterator[tuple[int, int]]:
    """(start, end) byte ranges of ``source`` that cover it, each ending after a line
    break (or at the end), of about RANGE_BYTES each."""
    start = 0
    while start < size:
        source.seek(min(start + RANGE_BYTES, size))
        source.readline()  # to the end of the line the cut fell in
        end = min(source.tell(), size)
        yield start, end
        start = end


def _lines(data: bytes) -> list[bytes]:
    """``data`` cut into lines as iterating over a binary file cuts them (after each
    ``\\n``, which each line keeps)."""
    lines = data.split(b"\n")
    last = lines.pop()
    out = [line + b"\n" for line in lines]
    if last:
        out.append(last)
    return out


def _answer_range(task: tuple[int, int, int]) -> tuple[int, int, int, bytes | None]:
    """In a worker: answer the lines of range ``index`` (``start``..``end`` bytes) of the
    input, and write the block of answers into the output file where it goes: where the
    block of the range before it ends, which is published in shared memory as soon as
    that block is placed. When it is not placed yet (answered at the same time, and not
    finished within PLACE_WAIT), the block goes back to the parent, which places it in
    its turn: a worker never waits longer. Returns (bytes of input read, lines
    answered, rejected, the block when the parent is to place it)."""
    index, start, end = task
    b = _BATCH
    fds = _PART.get("fds")
    if fds is None:  # the worker's own descriptors, opened on its first range
        fds = _PART["fds"] = (
            os.open(b["source"], os.O_RDONLY),
            os.open(b["out"], os.O_WRONLY),
        )
    block, n, bad = _answer_chunk(_lines(os.pread(fds[0], end - start, start)))
    ends = b["ends"]
    offset = ends[index - 1] if index else 0
    if offset < 0:  # a moment for the range before, often about to be placed
        deadline = time.perf_counter() + PLACE_WAIT
        while (offset := ends[index - 1]) < 0 and time.perf_counter() < deadline:
            time.sleep(0.0005)
        if offset < 0:
            return end - start, n, bad, block
    ends[index] = offset + len(block)
    _pwrite_all(fds[1], block, offset)
    return end - start, n, bad, None


def _pwrite_all(fd: int, block: bytes, offset: int) -> None:
    view = memoryview(block)
    while view:
        written = os.pwrite(fd, view, offset)
        offset += written
        view = view[written:]


def _run_parts(source: Path, out: Path, workers: int, bar: Any) -> tuple[int, int]:
    """Several workers, each reading its ranges of the input itself and writing each
    block of answers at its place in ``out`` (see ``_answer_range``). Nothing as large
    as the answers (about 10 KB each) passes between processes: measured, pickling them
    to the parent and writing them from there cost a third of the work. Returns (lines
    answered, rejected)."""
    total = rejected = 0
    with source.open("rb") as reader:
        tasks = [(i, a, z) for i, (a, z) in enumerate(_ranges(reader, source.stat().st_size))]
    out.open("wb").close()  # created (or emptied) before the workers open it
    # where each range's block of answers ends in the output, -1 until it is known
    ends = multiprocessing.get_context("fork").RawArray("q", [-1] * len(tasks))
    _BATCH.update(ends=ends, source=str(source), out=str(out))
    # What the workers inherit stays out of the collector's walks, so its pages stay
    # shared instead of being copied into each worker as the collector touches them.
    gc.freeze()
    pool = multiprocessing.get_context("fork").Pool(workers)
    try:
        with out.open("r+b") as sink:
            for index, (read, n, bad, block) in enumerate(pool.imap(_answer_range, tasks)):
                if block is not None:  # every range before it is placed by now
                    offset = ends[index - 1] if index else 0
                    ends[index] = offset + len(block)
                    _pwrite_all(sink.fileno(), block, offset)
                bar.update(read)
                total += n
                rejected += bad
    finally:
        pool.terminate()
        pool.join()
        gc.unfreeze()
    return total, rejected


def _run_batch(
    registry: PolicyRegistry,
    source: Path,
    out: Path | None,
    today: dt.date,
    as_of: str | None,
    version: str | None,
    workers: int,
    traced: bool = False,
) -> int:
    """Answer every line, in order, each with its trace when ``traced``. Lines are read
    and answers written as bytes: a line that is not UTF-8 gets its own error instead of
    stopping the batch, and a decision's JSON goes out as orjson wrote it (decoding and
    re-encoding cost as much as deciding)."""
    tune_allocator()  # before the first decision, so forked workers inherit it too
    _BATCH.update(registry=registry, today=today, as_of=as_of, version=version, traced=traced)
    for policy in registry.versions():
        decide_warmup(policy)
    rejected = total = 0
    with click.progressbar(
        length=source.stat().st_size,
        label="Assessing",
        file=sys.stderr,
        hidden=not sys.stderr.isatty(),
    ) as bar:
        # in place: a regular file (not a pipe or a terminal named by --out)
        in_place = out is not None and (out.is_file() or not out.exists())
        if workers > 1 and out is not None and in_place and source.is_file():
            total, rejected = _run_parts(source, out, workers, bar)
        else:
            total, rejected = _run_lines(source, out, workers, bar)
    click.echo(f"{total} requests: {total - rejected} assessed, {rejected} rejected", err=True)
    return rejected


def _run_lines(source: Path, out: Path | None, workers: int, bar: Any) -> tuple[int, int]:
    """One process, or several when the answers go to standard output: chunks of lines
    in, blocks of answers out, in order. Returns (lines answered, rejected)."""
    total = rejected = 0
    with source.open("rb") as lines:
        sink: IO[bytes] = out.open("wb") if out else sys.stdout.buffer
        try:
            chunks = _chunks(lines, bar)
            pool = None
            answers: Iterator[tuple[bytes, int, int]]
            if workers > 1:
                pool = multiprocessing.get_context("fork").Pool(workers)
                answers = pool.imap(_answer_chunk, chunks)
            else:
                answers = map(_answer_chunk, chunks)
            try:
                for block, n, bad in answers:
                    sink.write(block)
                    total += n
                    rejected += bad
            finally:
                if pool is not None:
                    pool.terminate()
        finally:
            if out:
                sink.close()
    return total, rejected
