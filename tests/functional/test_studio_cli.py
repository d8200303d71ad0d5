"""`hub policy import | export | impact` against the test's database."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlmodel import select

from hub.cli import main
from hub.models import PolicyVersionRecord
from hub.specs import SpecSuite, run_specs
from tests.functional import test_studio as studio
from tests.functional.test_studio import green_draft, record

# The studio tests' fixtures, shared.
author = studio.author
author_client = studio.author_client
population = studio.population


@pytest.fixture
def cli_env(database_url, tmp_path, monkeypatch) -> dict[str, str]:
    env = {
        "HUB_DATABASE_URL": database_url,
        "HUB_INSTANCE_PATH": str(tmp_path / "cli-instance"),
        "HUB_ENV": "development",
        "HUB_SECRET_KEY": "cli-test-secret",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_import_is_idempotent_and_refuses_a_changed_file(cli_env, db_session, tmp_path):
    first = run("policy", "import")
    assert first.exit_code == 0, first.output
    # The app imported them at start-up already; running it again changes nothing.
    assert "0 imported, 2 already stored, 0 refused" in first.output
    assert len(db_session.exec(select(PolicyVersionRecord)).all()) == 2
    changed = tmp_path / "policies"
    shutil.copytree(Path(__file__).parents[2] / "policies", changed)
    target = changed / "astana-crypto-hub" / "2026.1.yaml"
    target.write_text(target.read_text() + "\n# edited\n")
    result = run("policy", "import", "--dir", str(changed))
    assert result.exit_code == 1
    assert "A stored version never changes" in result.output
    assert "restore the file with `hub policy export 2026.1`" in result.output
    assert record(db_session, "2026.1").text != target.read_text()


def test_each_imported_file_is_in_the_audit_trail_once(cli_env, db_session):
    """The shipped files imported at start-up are audited (``policy.imported``, with the
    stored version's id, its digest and the file), in the chain; importing again adds
    nothing."""
    from hub import audit
    from hub.models import AuditRecord

    def imported() -> list[AuditRecord]:
        db_session.expire_all()
        query = select(AuditRecord).where(AuditRecord.action == "policy.imported")
        return list(db_session.exec(query).all())

    records = imported()
    stored = {r.version: r for r in db_session.exec(select(PolicyVersionRecord)).all()}
    assert sorted(r.policy_version for r in records) == ["2026.1", "2027.1"]
    for r in records:
        version = stored[r.policy_version or ""]
        assert (r.entity_type, r.entity_id, r.actor_id) == ("policy_version", str(version.id), None)
        assert r.policy_digest == version.digest
        assert r.after is not None and r.after["file"] == f"{version.version}.yaml"
    assert run("policy", "import").exit_code == 0
    assert len(imported()) == 2
    assert audit.verify(db_session) == []


def test_export_writes_the_policy_file_and_its_scenarios(
    cli_env, db_session, author_client, tmp_path
):
    green_draft(author_client, db_session)
    out = tmp_path / "out"
    result = run("policy", "export", "2026.2", "--out", str(out))
    assert result.exit_code == 0, result.output
    policy_file = out / "policies" / "astana-crypto-hub" / "2026.2.yaml"
    features = out / "features" / "astana-crypto-hub" / "v2026.2"
    assert policy_file.read_text() == record(db_session, "2026.2").text
    names = sorted(p.name for p in features.glob("*.feature"))
    assert "clients_aml.feature" in names and "versions.feature" not in names
    # The exported files are ordinary features: the spec runner passes them on the file.
    report = run_specs(policy_file, SpecSuite.from_path(features))
    assert report.ok and report.passed > 100 and report.tag == "@v2026.2"
    assert run("policy", "export", "1999.1").exit_code == 1


def test_impact_from_the_command_line(cli_env, db_session, population, author_client, tmp_path):
    green_draft(author_client, db_session)
    out = tmp_path / "impact.csv"
    result = run("policy", "impact", "2026.2", "--csv", str(out))
    assert result.exit_code == 0, result.output
    assert "Impact of astana-crypto-hub 2026.2 on 6 companies" in result.output
    assert "3 change, 3 change tier" in result.output
    assert "Low Kyc Broker LLP: T1 -> none" in result.output
    assert "flipped: kyc_baseline met->not_met" in result.output
    rows = list(csv.DictReader(out.read_text().splitlines()))
    assert len(rows) == 6
    data = json.loads(run("policy", "impact", "2027.1", "--json").output)
    assert data["totals"]["companies"] == 6
    # A policy file, against a named version.
    policy_file = Path(__file__).parents[2] / "policies" / "astana-crypto-hub" / "2027.1.yaml"
    result = run(
        "policy", "impact", str(policy_file), "--against", "2026.1", "--as-of", "2027-01-01"
    )
    assert result.exit_code == 0 and "against 2026.1" in result.output
    assert run("policy", "impact", "1999.1").exit_code == 1


def test_the_impact_listing_is_bounded_and_says_what_is_left(
    cli_env, db_session, population, author_client, tmp_path
):
    """The text lists at most --limit companies, by name, and says how many more; the CSV
    and the JSON hold every one whatever the limit."""
    green_draft(author_client, db_session)
    every = run("policy", "impact", "2026.2", "--all", "--limit", "0").output
    listed = [line for line in every.splitlines() if line.startswith("  ") and ": T" in line]
    assert len(listed) == 6 and "more (--limit 0" not in every
    two = run("policy", "impact", "2026.2", "--all", "--limit", "2")
    assert two.exit_code == 0, two.output
    shown = [line for line in two.output.splitlines() if line.startswith("  ") and ": T" in line]
    assert shown == listed[:2]
    assert "  ... and 4 more (--limit 0 lists them all; --csv FILE writes every company)" in (
        two.output
    )
    changes = run("policy", "impact", "2026.2", "--limit", "1").output
    assert "... and 2 more" in changes  # 3 change
    out = tmp_path / "all.csv"
    assert run("policy", "impact", "2026.2", "--limit", "1", "--csv", str(out)).exit_code == 0
    assert len(list(csv.DictReader(out.read_text().splitlines()))) == 6
    data = json.loads(run("policy", "impact", "2026.2", "--limit", "1", "--json").output)
    assert len(data["rows"]) == 6
    refused = run("policy", "impact", "2026.2", "--limit", "-1")
    assert refused.exit_code == 2 and "--limit" in refused.output


def test_a_draft_is_not_exported_into_the_policy_folder(cli_env, db_session, author_client):
    green_draft(author_client, db_session)
    result = run("policy", "export", "2026.2")
    assert result.exit_code == 1 and "is a draft" in result.output


def test_a_published_version_exports_into_the_folders_the_service_reads(
    cli_env, db_session, tmp_path, monkeypatch
):
    policies, features = tmp_path / "policies", tmp_path / "features"
    shutil.copytree(Path(__file__).parents[2] / "policies", policies)
    monkeypatch.setenv("HUB_POLICY_DIR", str(policies))
    monkeypatch.setenv("HUB_FEATURES_DIR", str(features))
    result = run("policy", "export", "2027.1")
    assert result.exit_code == 0, result.output
    assert f"wrote {policies / 'astana-crypto-hub' / '2027.1.yaml'}" in result.output


@pytest.mark.parametrize("signum", ["SIGTERM", "SIGINT"])
def test_a_stopped_impact_command_leaves_no_run_behind(cli_env, app, tmp_path, signum):
    """SIGTERM or Ctrl+C in the middle of `hub policy impact`: the command stops after
    the chunk it is on (128 + the signal's number) and its run, chunks and rows are
    deleted; nothing stays "running"."""
    import datetime as dt
    import os
    import signal
    import subprocess
    import sys
    import time

    import sqlalchemy as sa

    from benchmarks.population import seed
    from hub.db import get_engine
    from tests.unit.core_support import P2026

    engine = get_engine(app)
    seed(engine, P2026, 3_000, as_of=dt.date(2026, 9, 1), seed=21, batch=1_000)

    def count(table: str, where: str = "") -> int:
        with engine.connect() as conn:
            return int(conn.execute(sa.text(f"SELECT count(*) FROM {table} {where}")).scalar_one())

    command = subprocess.Popen(
        [sys.executable, "-m", "hub.cli", "policy", "impact", "2027.1", "--against", "2026.1",
         "--as-of", "2027-01-01", "--json", "--chunk-size", "20"],
        env={**os.environ, **cli_env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while count("impact_chunk", "WHERE state = 'done'") < 3:
        assert command.poll() is None, command.communicate()
        assert time.monotonic() < deadline, "no chunk done in 120 s"
        time.sleep(0.05)
    assert count("impact_run", "WHERE state = 'running'") == 1
    sent = getattr(signal, signum)
    command.send_signal(sent)
    _, err = command.communicate(timeout=60)
    assert command.returncode == 128 + sent, err.decode()[-4000:]
    assert b"Traceback" not in err, err.decode()[-4000:]
    assert (count("impact_run"), count("impact_chunk"), count("impact_row")) == (0, 0, 0)
