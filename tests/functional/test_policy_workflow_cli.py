"""`hub policy draft | approve | publish | retire` end to end against the test's database
(SQLite, or PostgreSQL with HUB_DATABASE_URL): the studio's checks and audit trail from
the command line."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner, Result
from sqlmodel import Session, select

from hub.cli import main
from hub.clock import Clock
from hub.models import AuditRecord, PolicyVersionRecord, Role, StudioJob, User

ROOT = Path(__file__).parents[2]
BASE_TEXT = (ROOT / "policies" / "astana-crypto-hub" / "2026.1.yaml").read_text()
#: The hub's date the commands run on (their app's clock is fixed: no test depends on the
#: real date).
TODAY = dt.date(2026, 11, 29)
# A day 2027.1 is in force, after TODAY: a draft of 2026.1 effective then would replace
# 2027.1 (and drop its self-hosted-wallet rule).
SHADOWING = dt.date(2027, 3, 1)


@pytest.fixture
def cli_env(database_url, tmp_path, monkeypatch) -> dict[str, str]:
    """The commands' settings, and their app's clock fixed at noon of ``TODAY``."""
    import hub

    fixed = Clock.fixed(dt.datetime.combine(TODAY, dt.time(12), tzinfo=ZoneInfo("Asia/Almaty")))
    monkeypatch.setattr(hub, "create_app", functools.partial(hub.create_app, clock=fixed))
    env = {
        "HUB_DATABASE_URL": database_url,
        "HUB_INSTANCE_PATH": str(tmp_path / "cli-instance"),
        "HUB_ENV": "development",
        "HUB_SECRET_KEY": "cli-test-secret",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.fixture
def people(make_user: Callable[..., User]) -> dict[str, User]:
    return {
        "author": make_user(Role.AUTHOR, email="author@example.kz"),
        "reviewer": make_user(Role.AUTHOR, email="reviewer@example.kz"),
        "admin": make_user(Role.ADMIN, email="admin@example.kz"),
        "company": make_user(Role.COMPANY, email="company@example.kz"),
    }


def hub(*args: str) -> Result:
    return CliRunner().invoke(main, ["policy", *args], catch_exceptions=False)


def stored(db: Session, version: str) -> PolicyVersionRecord:
    db.expire_all()
    return db.exec(select(PolicyVersionRecord).where(PolicyVersionRecord.version == version)).one()


def audit(db: Session, action: str) -> list[AuditRecord]:
    db.expire_all()
    return list(db.exec(select(AuditRecord).where(AuditRecord.action == action)).all())


def draft_file(tmp_path: Path, text: str = BASE_TEXT) -> Path:
    path = tmp_path / "2026.2.yaml"
    path.write_text(text.replace('version: "2026.1"', 'version: "2026.2"\nbased_on: "2026.1"'))
    return path


def test_draft_approve_publish_and_retire_from_the_command_line(
    cli_env, db_session, people, tmp_path
):
    path = draft_file(tmp_path)
    result = hub("draft", str(path), "--by", "author@example.kz")
    assert result.exit_code == 0, result.output
    assert "stored draft astana-crypto-hub 2026.2 (based on 2026.1, revision 1" in result.output
    rec = stored(db_session, "2026.2")
    assert rec.state == "draft" and rec.base_version == "2026.1" and rec.text == path.read_text()
    assert "@v2026.2" in (rec.features_text or "")  # the base's scenarios, as in the studio
    (imported,) = audit(db_session, "policy.draft_imported")
    assert imported.actor_id == people["author"].id

    # No second person yet: the scenarios run (and the run is recorded), publishing is refused.
    day = SHADOWING.isoformat()
    result = hub("publish", "2026.2", "--effective-from", day, "--by", "author@example.kz")
    assert result.exit_code == 1
    assert "Scenarios of 2026.2: " in result.output and " passed, 0 failed" in result.output
    assert "not been approved by a second person" in result.output
    db_session.expire_all()
    (job,) = db_session.exec(
        select(StudioJob).where(StudioJob.version == "2026.2", StudioJob.kind == "specs")
    ).all()
    assert job.state == "done" and job.created_by_id == people["author"].id
    # The impact analysis ran too, as of the effective date, against the version in force
    # then, recorded as the studio's job is, and its summary was printed.
    (impact,) = db_session.exec(
        select(StudioJob).where(StudioJob.version == "2026.2", StudioJob.kind == "impact")
    ).all()
    assert impact.state == "done" and impact.as_of == SHADOWING and impact.against == "2027.1"
    assert impact.created_by_id == people["author"].id and impact.result is not None
    assert f"Impact of 2026.2 as of {day} against 2027.1: " in result.output

    # The editor cannot approve their own draft; --by must be an author or administrator.
    result = hub("approve", "2026.2", "--by", "author@example.kz")
    assert result.exit_code == 1 and "cannot approve it" in result.output
    for who in ("company@example.kz", "nobody@example.kz"):
        result = hub("approve", "2026.2", "--by", who)
        assert result.exit_code == 2 and "--by" in result.output, result.output
    result = hub("approve", "2026.2", "--by", "reviewer@example.kz")
    assert result.exit_code == 0, result.output
    assert "approved 2026.2 revision 1" in result.output

    # A save (the file stored again) voids the approval.
    result = hub("draft", str(path), "--by", "author@example.kz")
    assert result.exit_code == 0 and "saved draft astana-crypto-hub 2026.2" in result.output
    result = hub("publish", "2026.2", "--effective-from", day, "--by", "author@example.kz")
    assert result.exit_code == 1 and "was voided by a later save" in result.output
    assert hub("approve", "2026.2", "--by", "admin@example.kz").exit_code == 0

    # Approved and green, but from that day it would replace 2027.1, not its base.
    result = hub("publish", "2026.2", "--effective-from", day, "--by", "author@example.kz")
    assert result.exit_code == 1
    assert "would replace 2027.1, which is not its base (2026.1)" in result.output
    assert "drops criterion unhosted_wallet_checks (Self-hosted wallet owners verified)" in (
        result.output
    )
    assert "--confirm-changes" in result.output
    assert stored(db_session, "2026.2").state == "draft" and not audit(
        db_session, "policy.published"
    )

    result = hub(
        "publish", "2026.2", "--effective-from", day, "--by", "author@example.kz",
        "--confirm-changes",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"published 2026.2 from {day}" in result.output
    rec = stored(db_session, "2026.2")
    assert rec.state == "published" and rec.effective_from == SHADOWING
    assert rec.published_by_id == people["author"].id
    assert rec.approved_by_id == people["admin"].id
    (published,) = audit(db_session, "policy.published")
    assert published.after is not None and published.after["replaces"] == "2027.1"
    assert any("unhosted_wallet_checks" in c for c in published.after["confirmed_changes"])
    assert published.after["impact"]["as_of"] == day
    assert published.after["impact"]["against"] == "2027.1"

    # A published number never changes.
    result = hub("draft", str(path), "--by", "author@example.kz")
    assert result.exit_code == 1 and "already published" in result.output

    # Retired 60 days later: 2027.1 applies from then.
    later = SHADOWING + dt.timedelta(days=60)
    result = hub("retire", "2026.2", "--from", later.isoformat(), "--by", "reviewer@example.kz")
    assert result.exit_code == 0, result.output
    assert f"From {later.isoformat()} version 2027.1 applies." in result.output
    assert "adds criterion unhosted_wallet_checks" in result.output
    rec = stored(db_session, "2026.2")
    assert rec.state == "retired" and rec.retired_from == later
    assert rec.retired_by_id == people["reviewer"].id
    (retired,) = audit(db_session, "policy.retired")
    assert retired.after is not None and retired.after["applies_after"] == "2027.1"
    result = hub("retire", "2026.2", "--from", later.isoformat(), "--by", "reviewer@example.kz")
    assert result.exit_code == 1 and "already retired" in result.output


def test_publishing_is_refused_while_scenarios_fail(cli_env, db_session, people, tmp_path):
    raised = BASE_TEXT.replace(
        "kyc_baseline_min_pct: {value: 95,", "kyc_baseline_min_pct: {value: 96,"
    )
    assert (
        hub("draft", str(draft_file(tmp_path, raised)), "--by", "author@example.kz").exit_code == 0
    )
    assert hub("approve", "2026.2", "--by", "reviewer@example.kz").exit_code == 0
    day = (TODAY + dt.timedelta(days=3)).isoformat()
    result = hub("publish", "2026.2", "--effective-from", day, "--by", "author@example.kz")
    assert result.exit_code == 1
    assert "3 scenario(s) fail" in result.output
    assert "failed: kyc_baseline" in result.output  # the scenarios, by name
    assert stored(db_session, "2026.2").state == "draft"


def test_usage_and_refusals_are_told_apart(cli_env, db_session, people, tmp_path):
    # Usage (exit 2): a date that is not one, a missing --by.
    result = hub("publish", "2026.1", "--effective-from", "01.03.2027", "--by", "a@b.kz")
    assert result.exit_code == 2 and "write it as YYYY-MM-DD" in result.output
    assert hub("approve", "2026.1").exit_code == 2
    # Refused (exit 1): an unknown version, a published one approved, a file that does not load.
    result = hub("approve", "1999.1", "--by", "reviewer@example.kz")
    assert result.exit_code == 1 and "no policy version '1999.1'" in result.output
    result = hub("approve", "2026.1", "--by", "reviewer@example.kz")
    assert result.exit_code == 1 and "can no longer be changed" in result.output
    broken = tmp_path / "broken.yaml"
    broken.write_text(BASE_TEXT.replace('version: "2026.1"', "version: 2026.2"))
    result = hub("draft", str(broken), "--by", "author@example.kz")
    assert result.exit_code == 1 and "broken.yaml:6:" in result.output
    result = hub("retire", "2026.1", "--from", "2000-01-01", "--by", "admin@example.kz")
    assert result.exit_code == 1 and "is in the past" in result.output


def test_a_draft_takes_its_scenarios_from_a_folder(cli_env, db_session, people, tmp_path):
    folder = tmp_path / "scenarios"
    folder.mkdir()
    (folder / "only.feature").write_text(
        "Feature: one\n\n  @v2026.2\n  Scenario: nothing\n    Given a company\n"
    )
    path = draft_file(tmp_path)
    result = hub("draft", str(path), "--by", "author@example.kz", "--features", str(folder))
    assert result.exit_code == 0, result.output
    features = stored(db_session, "2026.2").features_text or ""
    assert "# ==== only.feature ====" in features and "Scenario: nothing" in features
