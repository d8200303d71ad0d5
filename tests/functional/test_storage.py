"""Storage details other features rely on: UTC datetimes, JSON columns, optimistic locking."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from hub.db import get_engine
from hub.models import Filing, FilingStatus
from hub.storage import update_if_unchanged


def test_datetimes_come_back_aware_in_utc(app, make_company, db_session):
    company = make_company()
    almaty = timezone(timedelta(hours=5))
    filing = Filing(
        company_id=company.id,
        inputs={},
        submitted_at=datetime(2026, 9, 1, 17, 0, tzinfo=almaty),
    )
    db_session.add(filing)
    db_session.commit()
    with Session(get_engine(app)) as other:
        stored = other.get(Filing, filing.id)
        assert stored.submitted_at == datetime(2026, 9, 1, 12, 0, tzinfo=UTC)
        assert stored.submitted_at.tzinfo is not None
        assert stored.created_at.tzinfo is not None


def test_naive_datetimes_are_refused(make_company, db_session):
    company = make_company()
    db_session.add(Filing(company_id=company.id, inputs={}, submitted_at=datetime(2026, 9, 1)))
    with pytest.raises(Exception, match="naive"):
        db_session.commit()
    db_session.rollback()


def test_json_inputs_round_trip(app, make_company, db_session):
    company = make_company()
    inputs = {
        "bin": company.bin,
        "kyc_verified_clients_pct": 97.5,
        "officers_appointed": ["SEO", "FO"],
        "registered_in_hub": True,
        "licence_expires_on": "2027-12-31",
        "note": "Қазақстан",
    }
    filing = Filing(company_id=company.id, inputs=inputs)
    db_session.add(filing)
    db_session.commit()
    with Session(get_engine(app)) as other:
        assert other.get(Filing, filing.id).inputs == inputs


def test_optimistic_locking_lets_exactly_one_writer_win(app, make_company, db_session):
    company = make_company()
    filing = Filing(company_id=company.id, inputs={}, status=FilingStatus.SUBMITTED.value)
    db_session.add(filing)
    db_session.commit()
    seen = filing.lock_version

    with Session(get_engine(app)) as first, Session(get_engine(app)) as second:
        assert update_if_unchanged(first, Filing, filing.id, seen, status="approved")
        first.commit()
        assert not update_if_unchanged(second, Filing, filing.id, seen, status="rejected")
        second.commit()

    db_session.expire_all()
    stored = db_session.get(Filing, filing.id)
    assert stored.status == "approved"
    assert stored.lock_version == seen + 1


def test_a_compare_and_set_also_holds_the_columns_it_names(app, make_company, db_session):
    company = make_company()
    filing = Filing(company_id=company.id, inputs={}, status=FilingStatus.SUBMITTED.value)
    db_session.add(filing)
    db_session.commit()
    seen = filing.lock_version
    # Another writer moved the status without a new revision: the lock alone would pass.
    db_session.execute(sa.update(Filing.__table__).values(status="approved"))
    db_session.commit()
    submitted = {"status": FilingStatus.SUBMITTED.value}
    assert not update_if_unchanged(
        db_session, Filing, filing.id, seen, where=submitted, reviewer_message="x"
    )
    approved = {"status": "approved", "decided_at": None}  # None: the column is NULL
    assert update_if_unchanged(
        db_session, Filing, filing.id, seen, where=approved, reviewer_message="y"
    )
    db_session.commit()
    stored = db_session.get(Filing, filing.id)
    assert (stored.status, stored.reviewer_message, stored.lock_version) == (
        "approved",
        "y",
        seen + 1,
    )
    # bump=False: a change that is no new revision leaves lock_version as it is.
    assert update_if_unchanged(
        db_session, Filing, filing.id, seen + 1, bump=False, reviewer_message="z"
    )
    db_session.commit()
    assert (stored.reviewer_message, stored.lock_version) == ("z", seen + 1)
    with pytest.raises(KeyError, match="no_such_column"):
        update_if_unchanged(db_session, Filing, filing.id, seen + 1, where={"no_such_column": 1})


def test_policy_dir_can_be_moved(monkeypatch, make_app, tmp_path):
    monkeypatch.setenv("HUB_POLICY_DIR", str(tmp_path))
    assert make_app().config["POLICY_DIR"] == str(tmp_path)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_hub_serve_answers_http(database_url, tmp_path):
    """`hub serve` runs waitress on the given port (the demo's last step)."""
    port = _free_port()
    env = {
        "PATH": "/usr/bin:/bin",
        "HUB_DATABASE_URL": database_url,
        "HUB_INSTANCE_PATH": str(tmp_path / "serve-instance"),
        "HUB_SECRET_KEY": "serve-test",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "hub.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
                    assert response.status == 200
                    assert "Astana Crypto Hub" in response.read().decode()
                    assert response.headers["Server"] == "hub"
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
    finally:
        process.terminate()
        # gunicorn lets its workers finish the requests in hand first.
        process.wait(timeout=60)
        process.stdout.close()
