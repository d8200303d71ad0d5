"""One catalogue of policy versions: the database is the system of record.

The policy folder's files are imported into it; a file that disagrees with the stored
version of its number is refused at start-up (and by `hub policy import`), and while
serving the stored version stays in force. Retired versions stop applying from their
date. Every surface (API, `hub assess`, `--batch`, `hub policy ...`) reads the same
catalogue.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlmodel import Session, select

from hub.app_catalogue import EXTENSION
from hub.app_clock import app_clock
from hub.catalogue import CatalogueRefused
from hub.cli import main
from hub.models import PolicyVersionRecord, Role, User
from tests.functional.filing_support import t1_exchange

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
        # Decisions made under it keep it: the version is still found by its number.
        body = {"filing": {"bin": "940140000385", **t1_exchange()}, "as_of": "2027-03-05",
                "policy_version": "2027.1"}  # fmt: skip
        named = server.test_client().post("/api/v1/assessments", json=body)
        assert named.get_json()["policy"]["version"] == "2027.1"
