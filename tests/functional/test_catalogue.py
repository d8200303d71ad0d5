"""One catalogue of policy versions: the database is the system of record.

The policy folder's files are imported into it; a file that disagrees with the stored
version of its number is refused at start-up (and by `hub policy import`), and while
serving the stored version stays in force. Retired versions stop applying from their
date. Every surface (API, `hub assess`, `--batch`, `hub policy ...`) reads the same
catalogue.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, select

from hub.app_catalogue import EXTENSION
from hub.app_clock import app_clock
from hub.catalogue import CatalogueRefused
from hub.cli import main
from hub.models import PolicyVersionRecord, Role, User
from tests.functional import test_studio as studio
from tests.functional.filing_support import t1_exchange
from tests.functional.publishing_support import approve_draft

ROOT = Path(__file__).resolve().parents[2]
EDIT_HINT = "restore the file with `hub policy export 2026.1`, or give the changed file a new"


def stored(db: Session, version: str) -> PolicyVersionRecord:
    db.expire_all()
    row = db.exec(select(PolicyVersionRecord).where(PolicyVersionRecord.version == version))
    found = row.first()
    assert found is not None, f"no stored version {version}"
    return found


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A copy of the shipped policy folder that a test may edit."""
    target = tmp_path / "policies"
    shutil.copytree(ROOT / "policies", target)
    return target


def edit_2026_1(folder: Path) -> Path:
    """The shipped 2026.1 edited in place: its baseline raised to 96 under the same number."""
    path = folder / "astana-crypto-hub" / "2026.1.yaml"
    text = path.read_text(encoding="utf-8")
    edited = text.replace("kyc_baseline_min_pct: {value: 95,", "kyc_baseline_min_pct: {value: 96,")
    assert edited != text
    path.write_text(edited, encoding="utf-8")
    return path


def retire(app: Flask, db: Session, author: User, version: str, day: dt.date) -> None:
    """Retire a stored version from ``day`` through the studio's service; committed."""
    from hub.studio import publishing

    registry = app.extensions[EXTENSION].registry()
    today = app_clock(app).today()
    row = stored(db, version)
    publishing.retire(
        db, record=row, retired_from=day, today=today, registry=registry, actor=author
    )
    db.commit()
    app.extensions[EXTENSION].refresh()  # as the studio does after a retirement


def decide(app: Flask, as_of: str, **changes: Any) -> dict[str, Any]:
    body = {"filing": {"bin": "940140000385", **t1_exchange(**changes)}, "as_of": as_of}
    response = app.test_client().post("/api/v1/assessments", json=body)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


# --- start-up: a file edited in place is refused ---------------------------------------------


def test_a_shipped_file_edited_in_place_is_refused_at_start_up(make_app, folder, db_session):
    make_app(POLICY_DIR=str(folder))  # 2026.1 and 2027.1 stored
    original = stored(db_session, "2026.1").text
    path = edit_2026_1(folder)
    with pytest.raises(CatalogueRefused) as caught:
        make_app(POLICY_DIR=str(folder))
    message = str(caught.value)
    assert str(path) in message
    assert "astana-crypto-hub 2026.1 is already stored (published)" in message
    assert EDIT_HINT in message
    assert stored(db_session, "2026.1").text == original


def test_a_new_file_beside_a_refused_one_is_not_stored_either(make_app, folder, db_session):
    make_app(POLICY_DIR=str(folder))
    edit_2026_1(folder)
    text = (folder / "astana-crypto-hub" / "2027.1.yaml").read_text(encoding="utf-8")
    (folder / "astana-crypto-hub" / "2028.1.yaml").write_text(
        text.replace('version: "2027.1"', 'version: "2028.1"').replace(
            "effective_from: 2027-01-01", "effective_from: 2028-01-01"
        ),
        encoding="utf-8",
    )
    with pytest.raises(CatalogueRefused):
        make_app(POLICY_DIR=str(folder))
    assert (
        db_session.exec(
            select(PolicyVersionRecord).where(PolicyVersionRecord.version == "2028.1")
        ).first()
        is None
    )


def test_a_file_with_the_number_of_a_draft_is_refused(make_app, folder, db_session):
    make_app(POLICY_DIR=str(folder))
    draft = stored(db_session, "2027.1")
    db_session.add(
        PolicyVersionRecord(
            policy_id=draft.policy_id, version="2027.2", state="draft", text=draft.text
        )
    )
    db_session.commit()
    text = (folder / "astana-crypto-hub" / "2027.1.yaml").read_text(encoding="utf-8")
    (folder / "astana-crypto-hub" / "2027.2.yaml").write_text(
        text.replace('version: "2027.1"', 'version: "2027.2"'), encoding="utf-8"
    )
    with pytest.raises(CatalogueRefused, match=r"2027\.2 is stored as a draft in the studio"):
        make_app(POLICY_DIR=str(folder))
    assert stored(db_session, "2027.2").state == "draft"


@pytest.mark.parametrize("command", [["serve"], ["demo", "--no-serve"], ["policy", "import"]])
def test_serve_demo_and_import_refuse_an_edited_file_with_what_to_do(
    make_app, folder, database_url, tmp_path, monkeypatch, command
):
    make_app(POLICY_DIR=str(folder))
    edit_2026_1(folder)
    for key, value in {
        "HUB_DATABASE_URL": database_url,
        "HUB_INSTANCE_PATH": str(tmp_path / "cli-instance"),
        "HUB_POLICY_DIR": str(folder),
        "HUB_SECRET_KEY": "catalogue-test",
        "HUB_DEMO_PASSWORD": "catalogue demo password",
    }.items():
        monkeypatch.setenv(key, value)
    result = CliRunner().invoke(main, command)
    assert result.exit_code == 1, result.output
    assert "2026.1 is already stored (published)" in result.output
    assert EDIT_HINT in result.output


def test_export_restores_the_edited_file_then_start_up_succeeds(
    make_app, folder, database_url, tmp_path, monkeypatch, db_session
):
    make_app(POLICY_DIR=str(folder))
    path = edit_2026_1(folder)
    monkeypatch.setenv("HUB_DATABASE_URL", database_url)
    monkeypatch.setenv("HUB_INSTANCE_PATH", str(tmp_path / "cli-instance"))
    monkeypatch.setenv("HUB_POLICY_DIR", str(folder))
    monkeypatch.setenv("HUB_FEATURES_DIR", str(tmp_path / "features"))
    result = CliRunner().invoke(main, ["policy", "export", "2026.1"])
    assert result.exit_code == 0, result.output
    assert path.read_text(encoding="utf-8") == stored(db_session, "2026.1").text
    make_app(POLICY_DIR=str(folder))  # starts again


# --- run time: the stored version stays in force ----------------------------------------------


def test_a_file_edited_while_serving_leaves_the_stored_version_in_force(make_app, folder, caplog):
    app = make_app(POLICY_DIR=str(folder))
    catalogue = app.extensions[EXTENSION]
    now = [catalogue.monotonic()]
    catalogue.monotonic = lambda: now[0]
    before = decide(app, "2026-09-01", kyc_verified_clients_pct=95.5)
    edit_2026_1(folder)
    now[0] += 1.1
    with caplog.at_level(logging.ERROR, logger="hub.catalogue"):
        after = decide(app, "2026-09-01", kyc_verified_clients_pct=95.5)
    assert after == before  # still the stored 2026.1: kyc_baseline met at 95.5 %
    assert {c["id"]: c["status"] for c in after["criteria"]}["kyc_baseline"] == "met"
    assert "2026.1 is already stored (published)" in caplog.text
    assert "the stored version stays in force" in caplog.text


def test_a_version_published_in_the_database_is_served_without_its_file(
    make_app, folder, db_session
):
    app = make_app(POLICY_DIR=str(folder))
    (folder / "astana-crypto-hub" / "2027.1.yaml").unlink()
    fresh = make_app(POLICY_DIR=str(folder))
    assert decide(fresh, "2027-02-01")["policy"]["version"] == "2027.1"
    assert decide(app, "2027-02-01")["policy"]["version"] == "2027.1"


# --- retired versions -------------------------------------------------------------------------


def test_a_retired_version_is_not_selected_from_its_date(make_app, app, db_session, make_user):
    catalogue = app.extensions[EXTENSION]
    now = [catalogue.monotonic()]
    catalogue.monotonic = lambda: now[0]
    assert decide(app, "2027-03-05")["policy"]["version"] == "2027.1"
    retire(app, db_session, make_user(Role.AUTHOR), "2027.1", dt.date(2027, 3, 1))
    now[0] += 1.1  # the running server picks the retirement up within its check
    for server in (app, make_app()):
        assert decide(server, "2027-02-28")["policy"]["version"] == "2027.1"
        assert decide(server, "2027-03-01")["policy"]["version"] == "2026.1"
        # Decisions made under it keep it: the version is still found by its number, for
        # dates before its retirement; named for a later date it is refused, saying why.
        body = {"filing": {"bin": "940140000385", **t1_exchange()}, "as_of": "2027-02-28",
                "policy_version": "2027.1"}  # fmt: skip
        named = server.test_client().post("/api/v1/assessments", json=body)
        assert named.get_json()["policy"]["version"] == "2027.1"
        later = server.test_client().post(
            "/api/v1/assessments", json=body | {"as_of": "2027-03-05"}
        )
        assert later.status_code == 422
        (error,) = later.get_json()["errors"]
        assert error["field"] == "policy_version"
        assert error["message"].startswith(
            "version 2027.1 was retired from 2027-03-01 and does not decide as of 2027-03-05"
        )


# --- every surface reads the same catalogue ---------------------------------------------------

# The studio tests' fixtures, shared.
author = studio.author
author_client = studio.author_client

#: the hub's date while the author publishes: before 2026.2's effective date
PUBLISHED_ON = dt.datetime(2026, 11, 29, 6, 0, tzinfo=dt.UTC)


def kyc_97_scenarios(features: str) -> str:
    """The draft's own scenarios after raising the baseline to 97: 95 to 96 % no longer meet it."""
    lines = features.split("\n")
    start = next(i for i, ln in enumerate(lines) if studio.KYC_OUTLINE in ln)
    for i in range(start, start + 20):
        for pct in ("95  ", "95.1", "96  "):
            lines[i] = lines[i].replace(f"| {pct} | met     |", f"| {pct} | not met |")
    out = "\n".join(lines).replace("from 92.5 to at least 95", "from 92.5 to at least 97")
    assert out != features
    return out


def publish_2026_2(app: Flask, client: FlaskClient, db: Session, make_user: Any) -> None:
    """What the issue's author did: 2026.2 raises client identity checks to >= 97 %,
    published through the studio (scenarios run, impact seen, a second person's
    approval) effective 2026-12-15."""
    assert studio.new_draft(client).status_code == 302
    rec = studio.record(db, "2026.2")
    job = studio.run_specs(
        client,
        db,
        "2026.2",
        text=studio.raise_kyc(rec.text, to=97),
        features_text=kyc_97_scenarios(rec.features_text or ""),
    )
    assert job.result and job.result["summary"]["ok"], job.result["summary"]
    studio.run_impact(client, db, "2026.2", "2026-12-15")  # as of the effective date
    approve_draft(db, make_user, "2026.2")
    response = client.post(
        "/policies/2026.2/publish",
        data={
            "effective_from": "2026-12-15",
            "lock_version": studio.record(db, "2026.2").lock_version,
        },
    )
    assert response.status_code == 302, studio.html(response)[:3000]
    assert studio.record(db, "2026.2").state == "published"


def cli_env(database_url: str, tmp_path: Path) -> dict[str, str]:
    """A `hub` subprocess on the test's database (never a developer's instance folder)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(
        HUB_DATABASE_URL=database_url,
        HUB_INSTANCE_PATH=str(tmp_path / "cli-instance"),
        HUB_SECRET_KEY="catalogue-test",
        HUB_PASSWORD_HASH="fast",
    )
    return env


def hub(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("hub")
    return subprocess.run(
        [str(exe), *args], env=env, capture_output=True, text=True, timeout=180, check=False
    )


def decided_everywhere(
    app: Flask, env: dict[str, str], tmp_path: Path, filing: dict[str, Any], as_of: str
) -> list[dict[str, Any]]:
    """The decision on ``filing`` as of ``as_of`` from the API, `hub assess` and
    `hub assess --batch` (subprocesses on the same database)."""
    api = app.test_client().post("/api/v1/assessments", json={"filing": filing, "as_of": as_of})
    assert api.status_code == 200, api.get_json()
    path = tmp_path / "filing.json"
    path.write_text(json.dumps(filing), encoding="utf-8")
    single = hub(env, "assess", str(path), "--as-of", as_of, "--json")
    assert single.returncode == 0, single.stderr
    batch_in = tmp_path / "batch.jsonl"
    batch_in.write_text(json.dumps({"filing": filing, "as_of": as_of}) + "\n", encoding="utf-8")
    batch = hub(env, "assess", "--batch", str(batch_in), "--workers", "2")
    assert batch.returncode == 0, batch.stderr
    return [api.get_json(), json.loads(single.stdout), json.loads(batch.stdout)]


def test_a_version_published_in_the_studio_decides_on_every_surface(
    app,
    author_client,
    db_session,
    make_user,
    fix_clock,
    database_url,
    tmp_path,
    monkeypatch,
    author,
    login,
):
    fix_clock(PUBLISHED_ON)
    login(author_client, author)  # the clock moved: the fixture's session has ended
    publish_2026_2(app, author_client, db_session, make_user)
    env = cli_env(database_url, tmp_path)
    filing = {"bin": "940140000385", **t1_exchange(kyc_verified_clients_pct=96)}
    answers = decided_everywhere(app, env, tmp_path, filing, "2026-12-20")
    assert answers[0] == answers[1] == answers[2]
    assert answers[0]["policy"]["version"] == "2026.2"
    statuses = {c["id"]: c["status"] for c in answers[0]["criteria"]}
    assert statuses["kyc_baseline"] == "not_met"
    # A day before its effective date, 2026.1 decides, the same everywhere.
    before = decided_everywhere(app, env, tmp_path, filing, "2026-12-14")
    assert before[0] == before[1] == before[2]
    assert before[0]["policy"]["version"] == "2026.1"
    # `hub policy show` and `hub policy diff` find the published version.
    shown = hub(env, "policy", "show", "2026.2")
    assert shown.returncode == 0, shown.stderr
    assert "2026.2" in shown.stdout and "Effective from 2026-12-15" in shown.stdout
    assert "kyc_verified_clients_pct ≥ 97" in shown.stdout
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    diff = CliRunner().invoke(main, ["policy", "diff", "2026.1", "2026.2"])
    assert diff.exit_code == 0, diff.output
    assert "kyc_baseline_min_pct" in diff.output and "97" in diff.output
    # `hub policy test` runs the scenarios stored with it (none in features/ for 2026.2).
    tested = CliRunner().invoke(main, ["policy", "test", "2026.2"])
    assert tested.exit_code == 0, tested.output
    assert "scenarios tagged @v2026.2" in tested.output and "OK: " in tested.output
    # The folder alone (authors and CI without a database) does not know it.
    alone = CliRunner().invoke(
        main, ["policy", "show", "2026.2", "--policies", str(ROOT / "policies")]
    )
    assert alone.exit_code == 1 and "no policy version '2026.2'" in alone.output


def test_show_and_diff_find_a_draft_and_say_it_is_one(
    author_client, db_session, database_url, tmp_path, monkeypatch
):
    assert studio.new_draft(author_client, version="2026.3").status_code == 302
    for key, value in cli_env(database_url, tmp_path).items():
        monkeypatch.setenv(key, value)
    shown = CliRunner().invoke(main, ["policy", "show", "2026.3"])
    assert shown.exit_code == 0, shown.output
    assert shown.output.splitlines()[0].endswith("2026.3 (draft, not published)")
    diff = CliRunner().invoke(main, ["policy", "diff", "2026.1", "2026.3"])
    assert diff.exit_code == 0, diff.output
    assert "(2026.3 is draft, not published)" in diff.output
    assert CliRunner().invoke(main, ["policy", "show", "2026.9"]).exit_code == 1


def test_a_retired_version_is_not_selected_after_its_date_on_any_surface(
    app, db_session, make_user, database_url, tmp_path, monkeypatch
):
    retire(app, db_session, make_user(Role.AUTHOR), "2027.1", dt.date(2027, 3, 1))
    env = cli_env(database_url, tmp_path)
    filing = {"bin": "940140000385", **t1_exchange()}
    after = decided_everywhere(app, env, tmp_path, filing, "2027-03-05")
    assert after[0] == after[1] == after[2]
    assert after[0]["policy"]["version"] == "2026.1"
    before = decided_everywhere(app, env, tmp_path, filing, "2027-02-28")
    assert [a["policy"]["version"] for a in before] == ["2027.1"] * 3
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    shown = CliRunner().invoke(main, ["policy", "show", "2027.1"])
    assert shown.exit_code == 0 and "2027.1 (retired from 2027-03-01)" in shown.output
    # The spec runner chooses among the catalogue's versions, retirements included.
    feature = tmp_path / "retired.feature"
    feature.write_text(RETIRED_FEATURE, encoding="utf-8")
    tested = CliRunner().invoke(main, ["policy", "test", "2026.1", "--features", str(feature)])
    assert tested.exit_code == 0, tested.output
    alone = CliRunner().invoke(
        main,
        [
            "policy",
            "test",
            "2026.1",
            "--features",
            str(feature),
            "--policies",
            str(ROOT / "policies"),
        ],
    )
    assert alone.exit_code == 1 and "the decision is made under version 2026.1" in alone.output


RETIRED_FEATURE = """\
Feature: a retired version
  @v2026.1
  Scenario: after 2027.1 is retired from 2027-03-01, 2026.1 applies again
    Given an exchange "Steppe Exchange LLP" with BIN 940140000385
    When it is assessed on 2027-03-05
    Then the decision is made under version 2026.1
"""


# --- which database the command line reads ---------------------------------------------------


def test_the_command_line_finds_the_database_the_server_would_use(tmp_path, monkeypatch):
    from flask import Flask as FlaskApp

    from hub.config import configured_database, instance_path

    monkeypatch.delenv("HUB_INSTANCE_PATH", raising=False)
    monkeypatch.delenv("HUB_DATABASE_URL", raising=False)
    assert instance_path() == Path(FlaskApp("hub").instance_path)  # Flask's rule, without Flask
    env = {"HUB_INSTANCE_PATH": str(tmp_path)}
    assert configured_database(env) is None  # no instance database: the folder alone
    (tmp_path / "hub.sqlite").touch()
    assert configured_database(env) == f"sqlite:///{tmp_path / 'hub.sqlite'}"
    env["HUB_DATABASE_URL"] = "postgresql+psycopg://hub@db/hub"
    assert configured_database(env) == "postgresql+psycopg://hub@db/hub"
