"""`hub assess` and `hub policy check/show/diff`: the API's answers on the command line."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from hub.cli import main
from hub.policy import assess
from tests.unit.core_support import P2026, exchange

# The command line here reads the policy folder alone (no database): see ``no_database``.
pytestmark = pytest.mark.usefixtures("no_database")


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_assess_prints_a_readable_decision(tmp_path: Path) -> None:
    f = tmp_path / "filing.json"
    f.write_text(json.dumps(exchange(kyc_verified_clients_pct=92.5)))
    code, out, _ = run("assess", str(f), "--as-of", "2026-09-01")
    assert code == 0
    assert "Tier: none reached" in out
    assert "fix: raise kyc_verified_clients_pct from 92.5 to at least 95" in out
    # unmet criteria are listed first
    assert out.index("kyc_baseline") < out.index("no_sanctions")


def test_assess_json_is_the_api_answer(tmp_path: Path, client) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path / "filing.json"
    f.write_text(json.dumps(exchange()))
    code, out, _ = run("assess", str(f), "--as-of", "2026-09-01", "--json")
    assert code == 0
    api = client.post("/api/v1/assessments", json={"filing": exchange(), "as_of": "2026-09-01"})
    assert json.loads(out) == api.get_json()
    code, out2, _ = run("assess", str(f), "--as-of", "2026-09-01", "--json")
    assert out2 == out  # byte for byte


def test_assess_accepts_a_request_body_and_a_version(tmp_path: Path) -> None:
    f = tmp_path / "request.json"
    f.write_text(json.dumps({"filing": exchange(), "as_of": "2026-09-01"}))
    code, out, _ = run("assess", str(f), "--version", "2027.1", "--json")
    assert code == 0 and json.loads(out)["policy"]["version"] == "2027.1"


def test_assess_refuses_an_invalid_filing_with_field_errors(tmp_path: Path) -> None:
    f = tmp_path / "filing.json"
    f.write_text(json.dumps(exchange(bin="123", fte_in_zone=2.5)))
    code, _, err = run("assess", str(f), "--as-of", "2026-09-01")
    assert code == 1
    assert "bin: must be exactly 12 digits" in err and "fte_in_zone: must be a whole number" in err
    code, out, _ = run("assess", str(f), "--as-of", "2026-09-01", "--json")
    assert code == 1 and {e["field"] for e in json.loads(out)["errors"]} == {"bin", "fte_in_zone"}


def test_assess_usage_errors(tmp_path: Path) -> None:
    f = tmp_path / "bad.json"
    f.write_text("{not json")
    code, _, err = run("assess", str(f))
    assert code == 1 and "not a JSON file" in err
    code, _, err = run("assess", str(f), "--as-of", "2026-13-01")
    assert code != 0
    code, _, err = run("assess")
    assert code == 2 and "missing FILING" in err
    f.write_text(json.dumps(exchange()))
    code, _, err = run("assess", str(f), "--as-of", "2026-06-30")
    assert code == 1 and "no policy version is in force on 2026-06-30" in err


def test_batch_answers_each_line_in_order(tmp_path: Path) -> None:
    lines = [
        {"filing": exchange(), "as_of": "2026-09-01"},
        {"filing": exchange(kyc_verified_clients_pct="high"), "as_of": "2026-09-01"},
        "not json",
        {"filing": exchange(), "as_of": "2027-02-01"},
    ]
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n\n")
    out = tmp_path / "out.jsonl"
    code, _, err = run("assess", "--batch", str(src), "--out", str(out))
    answers = [json.loads(line) for line in out.read_text().splitlines()]
    assert code == 1  # some lines were rejected
    assert "4 requests: 2 assessed, 2 rejected" in err
    assert answers[0]["tier"] == "T3" and answers[0]["policy"]["version"] == "2026.1"
    assert answers[1]["errors"][0]["field"] == "kyc_verified_clients_pct"
    assert answers[2]["errors"][0]["message"].startswith("not valid JSON")
    assert answers[3]["policy"]["version"] == "2027.1"


def test_batch_output_is_the_same_bytes_with_any_number_of_workers(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    body = [
        json.dumps({"filing": exchange(fte_in_zone=n), "as_of": "2026-09-01"}) for n in range(600)
    ]
    body[3] = '{"filing": {"legal_name": "\xff"}}'  # not UTF-8: its own error, not a crash
    src.write_bytes("\n".join(body).encode().replace(b"\xc3\xbf", b"\xff") + b"\n")
    outputs = []
    for workers in ("1", "2"):
        out = tmp_path / f"out{workers}.jsonl"
        code, _, err = run("assess", "--batch", str(src), "--out", str(out), "--workers", workers)
        assert code == 1 and "600 requests: 599 assessed, 1 rejected" in err
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]
    lines = outputs[0].splitlines()
    assert len(lines) == 600 and b"not valid JSON" in lines[3]
    expected = assess(P2026, exchange(fte_in_zone=7), dt.date(2026, 9, 1)).to_json()
    assert lines[7] == expected  # each answer is the API's decision, byte for byte


def test_batch_workers_write_their_answers_in_place_in_input_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With --out and several workers, each reads its byte ranges of the input and writes
    its answers at their place in the output: cut into many small ranges, with blank
    lines, a CRLF line, a line not UTF-8, a last line without a line break and an output
    file that was longer before, the bytes are those of one worker (and of the answers
    piped through standard output)."""
    import hub.commands.assess as assess_command

    monkeypatch.setattr(assess_command, "RANGE_BYTES", 700)  # a range or two per line
    monkeypatch.setattr(assess_command, "PLACE_WAIT", 0.0)  # so the parent places some
    lines = [
        json.dumps({"filing": exchange(fte_in_zone=n), "as_of": f"2026-{9 + n % 3:02}-01"})
        for n in range(60)
    ]
    lines[5] = ""  # blank lines are skipped
    lines[9] = "   "
    lines[11] = lines[11] + "\r"  # CRLF
    lines[20] = '{"filing": {"legal_name": "\xff"}}'
    data = "\n".join(lines).encode().replace(b"\xc3\xbf", b"\xff")  # no final line break
    src = tmp_path / "in.jsonl"
    src.write_bytes(data)
    outputs = []
    for workers in ("1", "2", "3"):
        out = tmp_path / f"out{workers}.jsonl"
        out.write_bytes(b"x" * 2_000_000)  # emptied first
        code, _, err = run("assess", "--batch", str(src), "--out", str(out), "--workers", workers)
        assert code == 1 and "58 requests: 57 assessed, 1 rejected" in err
        outputs.append(out.read_bytes())
    code, piped, _ = run("assess", "--batch", str(src), "--workers", "2")
    assert outputs[0] == outputs[1] == outputs[2] == piped.encode()
    answers = outputs[0].splitlines()
    assert len(answers) == 58 and b"not valid JSON" in answers[18]
    expected = assess(P2026, exchange(fte_in_zone=7), dt.date(2026, 10, 1)).to_json()
    assert answers[6] == expected


def test_a_block_whose_place_is_not_known_goes_to_the_parent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker that answers a range before the range ahead of it is placed hands its
    block to the parent instead of waiting (past PLACE_WAIT); once the range ahead is
    placed, it writes its block itself, where that one ends."""
    import multiprocessing

    import hub.commands.assess as assess_command
    from hub.commands import load_registry

    monkeypatch.setattr(assess_command, "PLACE_WAIT", 0.0)
    line = json.dumps({"filing": exchange(), "as_of": "2026-09-01"}).encode() + b"\n"
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_bytes(line * 2)
    out.write_bytes(b"")
    ends = multiprocessing.RawArray("q", [-1, -1])
    monkeypatch.setattr(assess_command, "_PART", {})
    monkeypatch.setattr(assess_command, "_BATCH", {
        "registry": load_registry(None), "today": dt.date(2026, 9, 1), "as_of": None,
        "version": None, "traced": False, "ends": ends, "source": str(src), "out": str(out),
    })  # fmt: skip
    read, n, bad, block = assess_command._answer_range((1, len(line), 2 * len(line)))
    answer = assess(P2026, exchange(), dt.date(2026, 9, 1)).to_json() + b"\n"
    assert (read, n, bad, block) == (len(line), 1, 0, answer)
    assert list(ends) == [-1, -1] and out.read_bytes() == b""
    ends[0] = len(answer)  # the range ahead placed: the worker writes after it
    assert assess_command._answer_range((1, len(line), 2 * len(line)))[3] is None
    assert list(ends) == [len(answer), 2 * len(answer)]
    assert out.read_bytes() == b"\0" * len(answer) + answer
    for fd in assess_command._PART["fds"]:  # the worker's, opened on its first range
        os.close(fd)


def test_policy_check(tmp_path: Path) -> None:
    code, out, _ = run("policy", "check", "policies/astana-crypto-hub/2026.1.yaml")
    assert code == 0 and "OK: astana-crypto-hub 2026.1" in out
    bad = tmp_path / "draft.yaml"
    bad.write_text(P2026.text.replace("kyc_verified_clients_pct >= kyc", "kyc_pct >= kyc"))
    code, _, err = run("policy", "check", str(bad))
    assert code == 1
    assert "draft.yaml:" in err and "criterion kyc_baseline" in err and "'kyc_pct'" in err


def test_policy_show_and_diff() -> None:
    code, out, _ = run("policy", "show", "2027.1")
    assert code == 0 and "when kyc_verified_clients_pct ≥ 97" in out
    code, out, _ = run("policy", "diff", "2026.1", "2027.1")
    assert code == 0
    assert "~ kyc_baseline condition_text: kyc_verified_clients_pct ≥ 95 -> " in out
    assert "+ unhosted_wallet_checks" in out and "+ unhosted_wallet_verified_pct" in out
    code, out, _ = run("policy", "diff", "2026.1", "policies/astana-crypto-hub/2026.1.yaml")
    assert "no differences" in out
    code, _, err = run("policy", "show", "1999.9")
    assert code == 1 and "no policy version '1999.9'" in err
