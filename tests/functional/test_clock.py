"""One clock: "today" is the hub's date (HUB_TIMEZONE, Asia/Almaty by default) everywhere.

The same request gets the same answer whatever the server's own ``TZ``: each test runs it
under ``Etc/GMT+12`` (UTC-12) and ``Etc/GMT-14`` (UTC+14), two zones 26 hours apart that
never agree about the date, with the app's clock stopped at an instant where the hub's
date is a third opinion. The command line, which reads the system clock, is run in
subprocesses at the real instant.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session

from hub import create_app
from hub.app_catalogue import catalogue
from hub.app_clock import app_clock
from hub.clock import Clock, clock_from_environ, load_zone
from hub.config import ConfigError, load_settings
from hub.db import get_engine
from hub.models import Company, Filing, User
from hub.services import filings as filing_svc
from tests.unit.core_support import exchange

from .filing_support import t1_exchange

# The command line here reads the policy folder alone (no database): see ``no_database``.
pytestmark = pytest.mark.usefixtures("no_database")

#: Two server zones 26 hours apart: at any instant they disagree about the date.
SERVER_ZONES = ("Etc/GMT+12", "Etc/GMT-14")
#: 11:30 UTC on 1 September 2026: 16:30 on 1 September in Almaty (the hub's date),
#: 23:30 on 31 August at UTC-12, 01:30 on 2 September at UTC+14.
INSTANT = dt.datetime(2026, 9, 1, 11, 30, tzinfo=dt.UTC)
HUB_DAY = dt.date(2026, 9, 1)
#: 20:00 UTC on 31 August 2026: already 1 September (01:00) in Almaty, still 31 August in UTC.
NEAR_MIDNIGHT = dt.datetime(2026, 8, 31, 20, 0, tzinfo=dt.UTC)


@contextmanager
def server_tz(name: str) -> Iterator[None]:
    """Run the block as on a server whose local zone (``TZ``) is ``name``."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = name
    time.tzset()
    try:
        yield
    finally:
        if old is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = old
        time.tzset()


def under_each_zone(request: Callable[[], Any]) -> list[Any]:
    """``request()``'s answer under each server zone."""
    answers = []
    for zone in SERVER_ZONES:
        with server_tz(zone):
            answers.append(request())
    return answers


def statuses(decision: dict[str, Any]) -> dict[str, str]:
    return {c["id"]: c["status"] for c in decision["criteria"]}


def test_the_server_zones_disagree_about_the_date_at_the_instant() -> None:
    """The premise of every test here: at INSTANT the server's local date is not the hub's."""
    local = []
    for zone in SERVER_ZONES:
        with server_tz(zone):
            local.append(dt.date.fromtimestamp(INSTANT.timestamp()))
    assert local == [dt.date(2026, 8, 31), dt.date(2026, 9, 2)]
    assert Clock.fixed(INSTANT).today() == HUB_DAY


# --- the clock and its setting -------------------------------------------------------------


def test_the_hub_zone_decides_which_day_today_is_near_midnight() -> None:
    almaty = Clock.fixed(NEAR_MIDNIGHT)
    utc = Clock.fixed(NEAR_MIDNIGHT, "UTC")
    assert almaty.today() == dt.date(2026, 9, 1)
    assert utc.today() == dt.date(2026, 8, 31)
    assert almaty.now() == utc.now() == NEAR_MIDNIGHT and almaty.now().tzinfo is dt.UTC
    with server_tz("Etc/GMT-14"):
        assert almaty.today() == dt.date(2026, 9, 1)  # not the server's 2 September
    assert clock_from_environ({}).zone == ZoneInfo("Asia/Almaty")
    assert clock_from_environ({"HUB_TIMEZONE": "UTC"}).zone == ZoneInfo("UTC")
    with pytest.raises(ValueError, match="aware"):
        Clock.fixed(dt.datetime(2026, 9, 1, 12, 0))


def test_hub_timezone_is_a_setting_and_changes_today_through_the_app(
    make_app: Callable[..., Flask], fix_clock: Callable[..., Clock]
) -> None:
    assert load_settings("/tmp", {})["TIMEZONE"] == "Asia/Almaty"
    assert load_settings("/tmp", {"HUB_TIMEZONE": " UTC "})["TIMEZONE"] == "UTC"
    body = {"filing": exchange(licence_expires_on="2026-08-31")}
    answers = {}
    for zone in ("Asia/Almaty", "UTC"):
        app = make_app(TIMEZONE=zone)
        fix_clock(NEAR_MIDNIGHT, app=app)
        answers[zone] = app.test_client().post("/api/v1/assessments", json=body).get_json()
    assert answers["Asia/Almaty"]["as_of"] == "2026-09-01"
    assert statuses(answers["Asia/Almaty"])["valid_licence"] == "not_met"  # expired yesterday
    assert answers["UTC"]["as_of"] == "2026-08-31"
    assert statuses(answers["UTC"])["valid_licence"] == "met"  # expires today


@pytest.mark.parametrize(
    "name",
    [
        "Mars/Olympus_Mons",
        "Asia/Almaty/",
        "../etc/passwd",
        "UTC+5",
        # the system's zone directory holds these, and ZoneInfo opens them: localtime is
        # the server's own zone, which is what HUB_TIMEZONE exists to be independent of
        "localtime",
        "posixrules",
        "Factory",
        # IANA names are case-sensitive (a case-insensitive disk would open these)
        "asia/almaty",
        "ASIA/ALMATY",
        "utc",
    ],
)
def test_an_unknown_zone_refuses_start_up_with_a_clear_message(
    make_app: Callable[..., Flask], name: str
) -> None:
    with pytest.raises(ConfigError, match=r"HUB_TIMEZONE=.* is not a time zone"):
        make_app(TIMEZONE=name)
    with pytest.raises(ConfigError, match="Asia/Almaty, Europe/London or UTC"):
        load_zone(name)


def test_create_app_holds_the_clock_it_is_given(database_url: str, tmp_path: Path) -> None:
    fixed = Clock.fixed(INSTANT)
    app = create_app(
        {"DATABASE_URL": database_url, "INSTANCE_PATH": str(tmp_path), "TESTING": True},
        clock=fixed,
    )
    try:
        assert app_clock(app) is fixed
        with app.app_context():
            assert app_clock().today() == HUB_DAY
    finally:
        # Its pooled connection closed now, not at garbage collection during a
        # later test (a ResourceWarning, an error under filterwarnings=error).
        get_engine(app).dispose()


# --- every surface: the same answer under both server zones --------------------------------


def test_the_api_decides_on_the_hubs_date_whatever_the_servers_zone(
    client: FlaskClient, fix_clock: Callable[..., Clock]
) -> None:
    fix_clock(INSTANT)
    body = {"filing": exchange(licence_expires_on=HUB_DAY.isoformat())}
    answers = under_each_zone(lambda: client.post("/api/v1/assessments", json=body).get_json())
    assert answers[0] == answers[1]
    assert answers[0]["as_of"] == "2026-09-01"
    assert statuses(answers[0])["valid_licence"] == "met"  # the licence expires today
    listed = under_each_zone(lambda: client.get("/api/v1/policies").get_json())
    assert listed[0] == listed[1]


def test_the_api_marks_the_version_in_force_on_the_hubs_date(
    client: FlaskClient, fix_clock: Callable[..., Clock]
) -> None:
    fix_clock(dt.datetime(2026, 12, 31, 19, 30, tzinfo=dt.UTC))  # 00:30 on 1 January in Almaty
    for answer in under_each_zone(lambda: client.get("/api/v1/policies").get_json()):
        in_force = [p["version"] for p in answer["policies"] if p["in_force"]]
        assert in_force == ["2027.1"]


def test_the_assessment_form_decides_on_the_hubs_date(
    client: FlaskClient, fix_clock: Callable[..., Clock]
) -> None:
    fix_clock(INSTANT)
    data = {
        k: ("yes" if v is True else "no" if v is False else v)
        for k, v in t1_exchange(bin="940140000385", licence_expires_on="2026-09-01").items()
    }
    pages = under_each_zone(lambda: client.post("/assess", data=data).get_data(as_text=True))
    for page in pages:
        assert 'value="2026-09-01"' in page  # the date it was assessed on
        assert re.search(r'class="crit s-met" id="crit-valid_licence"', page)
    blank = under_each_zone(lambda: client.get("/assess").get_data(as_text=True))
    assert all("Default: today (2026-09-01)" in page for page in blank)


def test_the_filings_api_freezes_the_hubs_date(
    client: FlaskClient,
    make_user: Callable[..., User],
    db_session: Session,
    fix_clock: Callable[..., Clock],
) -> None:
    from hub.auth.tokens import issue_token

    fix_clock(INSTANT)
    user = make_user("company")
    _, token = issue_token(db_session, user=user, name="clock")
    db_session.commit()
    auth = {"Authorization": f"Bearer {token}"}
    answers = []
    for zone in SERVER_ZONES:
        with server_tz(zone):
            body = {"filing": t1_exchange(licence_expires_on="2026-09-01")}
            created = client.post("/api/v1/filings", json=body, headers=auth).get_json()
            done = client.post(f"/api/v1/filings/{created['id']}/submit", headers=auth)
            assert done.status_code == 200, done.get_json()
            answers.append(done.get_json())
    for answer in answers:
        assert answer["as_of"] == answer["decision"]["as_of"] == "2026-09-01"
        assert statuses(answer["decision"])["valid_licence"] == "met"
    assert answers[0]["decision"] == answers[1]["decision"]


def _submitted(db_session: Session, app: Flask, make_company: Callable[..., Any]) -> Filing:
    with app.app_context():
        registry = catalogue().registry()
    today = app_clock(app).today()
    filing = filing_svc.create_draft(
        db_session,
        company=make_company(),
        actor_id=None,
        inputs=t1_exchange(),
        registry=registry,
        today=today,
    )
    filing_svc.submit(
        db_session,
        filing=filing,
        actor_id=None,
        lock_version=filing.lock_version,
        registry=registry,
        today=today,
    )
    db_session.commit()
    return filing


def test_a_certificate_runs_from_the_hubs_date_and_verifies_by_it(
    app: Flask,
    client: FlaskClient,
    login: Callable[..., Any],
    make_user: Callable[..., User],
    make_company: Callable[..., Any],
    db_session: Session,
    fix_clock: Callable[..., Clock],
) -> None:
    fix_clock(NEAR_MIDNIGHT)  # 1 September in Almaty, 31 August in UTC
    filing = _submitted(db_session, app, make_company)
    login(client, make_user("admin"))
    page = client.get(f"/review/filings/{filing.id}").get_data(as_text=True)
    assert "valid from <strong>2026-09-01</strong> to <strong>2027-08-31</strong>" in page
    lock = re.search(r'name="lock_version" value="(\d+)"', page).group(1)
    with server_tz("Etc/GMT+12"):
        response = client.post(f"/review/filings/{filing.id}/approve", data={"lock_version": lock})
    assert response.status_code == 302
    db_session.expire_all()
    approved = db_session.get(Filing, filing.id)
    assert (approved.valid_from, approved.valid_until) == (
        dt.date(2026, 9, 1),
        dt.date(2027, 8, 31),  # 12 months: the last day is the day before the anniversary
    )
    assert "2026-09" in client.get("/review/dashboard").get_data(as_text=True)
    code = approved.certificate_code

    def verdict() -> str:
        return client.get(f"/verify/{code}").get_data(as_text=True)

    fix_clock(dt.datetime(2027, 8, 31, 18, 59, tzinfo=dt.UTC))  # 23:59 on its last day
    assert all("This certificate is valid today." in v for v in under_each_zone(verdict))
    fix_clock(dt.datetime(2027, 8, 31, 19, 0, tzinfo=dt.UTC))  # midnight: 1 September
    for html in under_each_zone(verdict):
        assert "This certificate is valid today." not in html
        assert "Expired" in html


def test_the_studio_uses_the_hubs_date(
    app: Flask,
    login: Callable[..., Any],
    make_user: Callable[..., User],
    fix_clock: Callable[..., Clock],
) -> None:
    fix_clock(dt.datetime(2026, 12, 31, 19, 30, tzinfo=dt.UTC))  # 00:30 on 1 January in Almaty
    client = app.test_client()
    login(client, make_user("author"))
    for page in under_each_zone(lambda: client.get("/policies").get_data(as_text=True)):
        rows = re.findall(r'<tr data-version="([0-9.]+)">(.*?)</tr>', page, re.S)
        assert [v for v, row in rows if "in force today" in row] == ["2027.1"]
    assert client.post("/policies/2026.1/drafts", data={"version": "2026.2"}).status_code == 302
    for page in under_each_zone(
        lambda: client.get("/policies/2026.2/publish?effective_from=2026-12-31").get_data(
            as_text=True
        )
    ):
        assert "is in the past" in page and "Choose today (2027-01-01) or later" in page


def test_demo_data_is_certified_from_the_hubs_dates(
    app: Flask, db_session: Session, fix_clock: Callable[..., Clock]
) -> None:
    from sqlmodel import select

    from hub.seeding import load_seeds

    clock = fix_clock(INSTANT, zone="Pacific/Kiritimati")  # UTC+14: the hub is a day ahead
    with app.app_context():
        load_seeds(db_session, clock=clock)
        db_session.commit()
    approved = db_session.exec(select(Filing).where(Filing.certificate_code.is_not(None))).all()  # type: ignore[union-attr]
    assert approved
    for f in approved:
        assert f.valid_from == clock.date_of(f.decided_at) <= dt.date(2026, 9, 2)
        assert f.decided_at <= INSTANT + dt.timedelta(days=1)


# --- the command line: the system clock, read in the hub's zone ------------------------------


def _hub_today() -> dt.date:
    return dt.datetime.now(ZoneInfo("Asia/Almaty")).date()


def _run_hub(args: list[str], zone: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "HUB_TIMEZONE"}
    env["TZ"] = zone
    hub = Path(sys.executable).with_name("hub")
    return subprocess.run(
        [str(hub), *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def _same_day(run: Callable[[dt.date], list[Any]]) -> tuple[dt.date, list[Any]]:
    """``run(hub_today)``, again if the hub's midnight passed meanwhile (the real clock)."""
    for _ in range(3):
        day = _hub_today()
        answers = run(day)
        if _hub_today() == day:
            return day, answers
    raise AssertionError("the hub's date kept changing")  # pragma: no cover


def only_2026_1(tmp_path: Path) -> str:
    """A policy folder holding 2026.1 alone: in a subprocess the hub's date is the real one,
    and the filing below is one of 2026.1 whichever version the shipped folder has in
    force on that date."""
    folder = tmp_path / "policies" / "astana-crypto-hub"
    folder.mkdir(parents=True)
    shipped = Path(__file__).parents[2] / "policies" / "astana-crypto-hub" / "2026.1.yaml"
    (folder / "2026.1.yaml").write_text(shipped.read_text(encoding="utf-8"), encoding="utf-8")
    return str(folder.parent)


def test_hub_assess_without_as_of_uses_the_hubs_today_under_any_server_zone(
    tmp_path: Path,
) -> None:
    policies = only_2026_1(tmp_path)

    def run(day: dt.date) -> list[Any]:
        path = tmp_path / "filing.json"
        path.write_text(json.dumps(exchange(licence_expires_on=day.isoformat())))
        out = []
        for zone in SERVER_ZONES:
            done = _run_hub(["assess", str(path), "--json", "--policies", policies], zone)
            assert done.returncode == 0, done.stderr
            out.append(done.stdout)
        return out

    day, outputs = _same_day(run)
    assert outputs[0] == outputs[1]  # byte for byte
    decision = json.loads(outputs[0])
    assert decision["as_of"] == day.isoformat()
    assert statuses(decision)["valid_licence"] == "met"


def test_hub_assess_batch_uses_the_hubs_today_under_any_server_zone(tmp_path: Path) -> None:
    policies = only_2026_1(tmp_path)

    def run(day: dt.date) -> list[Any]:
        path = tmp_path / "in.jsonl"
        body = {"filing": exchange(licence_expires_on=day.isoformat())}
        path.write_text(json.dumps(body) + "\n")
        out = []
        for zone in SERVER_ZONES:
            args = ["assess", "--batch", str(path), "--workers", "1", "--policies", policies]
            done = _run_hub(args, zone)
            assert done.returncode == 0, done.stderr
            out.append(done.stdout)
        return out

    day, outputs = _same_day(run)
    assert outputs[0] == outputs[1]
    assert json.loads(outputs[0])["as_of"] == day.isoformat()


def test_the_command_line_refuses_an_unknown_zone(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from hub.cli import main

    path = tmp_path / "filing.json"
    path.write_text(json.dumps(exchange()))
    result = CliRunner().invoke(main, ["assess", str(path)], env={"HUB_TIMEZONE": "Nowhere/City"})
    assert result.exit_code == 1
    assert "HUB_TIMEZONE='Nowhere/City' is not a time zone" in result.stderr
    env = {"HUB_TIMEZONE": "Nowhere/City", "HUB_INSTANCE_PATH": str(tmp_path)}
    result = CliRunner().invoke(main, ["db", "current"], env=env)
    assert result.exit_code == 1 and "is not a time zone" in result.stderr


def test_pages_show_the_hubs_date_of_a_decision_not_utcs(
    app: Flask,
    client: FlaskClient,
    login: Callable[..., Any],
    make_user: Callable[..., User],
    make_company: Callable[..., Any],
    db_session: Session,
    fix_clock: Callable[..., Clock],
) -> None:
    """Decided at 20:00 UTC on 31 August, which is 1 September in Almaty: the certificate
    runs from 1 September and says it was decided that day (it said 31 August)."""
    fix_clock(NEAR_MIDNIGHT)
    filing = _submitted(db_session, app, make_company)
    admin = make_user("admin")
    login(client, admin)
    page = client.get(f"/review/filings/{filing.id}").get_data(as_text=True)
    lock = re.search(r'name="lock_version" value="(\d+)"', page).group(1)
    client.post(f"/review/filings/{filing.id}/approve", data={"lock_version": lock})
    for html in under_each_zone(
        lambda: client.get(f"/review/filings/{filing.id}/certificate").get_data(as_text=True)
    ):
        assert "<dt>Valid from</dt><dd><strong>2026-09-01</strong>" in html
        assert "<dt>Decided</dt><dd>2026-09-01 on filing" in html
    # The company's pages list the filing as submitted on the hub's date too.
    stored = db_session.get(Filing, filing.id)
    stored.submitted_at = NEAR_MIDNIGHT  # as submitted at that instant
    db_session.add(stored)
    db_session.commit()
    company_client = app.test_client()
    login(company_client, make_user("company", company=db_session.get(Company, stored.company_id)))
    for path in ("/company", "/filings"):
        html = company_client.get(path).get_data(as_text=True)
        assert "<td>2026-09-01</td>" in html and "2026-08-31" not in html, path
