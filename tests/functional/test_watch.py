"""The daily watch end to end: filings stored through the use cases, warnings found and
stored by ``run_watch``, read through the API, the company's home page and the CLI.

Runs on PostgreSQL too when HUB_DATABASE_URL points at it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlmodel import Session, col, select

from hub.app_catalogue import catalogue
from hub.auth.tokens import issue_token
from hub.clock import Clock
from hub.db import get_engine
from hub.models import Company, CompanyWarning, Filing
from hub.policy import PolicyRegistry, assess
from hub.policy.outcome import tier_ranks
from hub.policy.watch import (
    CERTIFICATE_EXPIRY,
    CLOSE_TO_LINE,
    LICENCE_EXPIRY,
    POLICY_CHANGE,
)
from hub.seeding import load_seeds
from hub.services import filings as filing_svc
from hub.services.review import actions as review_actions
from hub.services.watch import WatchSummary, run_watch
from tests.functional.filing_support import submit_filing, t1_exchange

NEW_YEAR = dt.date(2027, 1, 1)  # 2027.1 takes effect


@pytest.fixture
def registry(app: Flask) -> PolicyRegistry:
    with app.app_context():
        return catalogue().registry()


@pytest.fixture
def file(
    db_session: Session, registry: PolicyRegistry, make_company, clock: Clock
) -> Callable[..., Filing]:
    """Submit a filing (``file(company=..., **input_changes)``; a new company unless
    given), approved too with ``approve=True``."""

    def factory(*, company: Company | None = None, approve: bool = False, **changes: Any) -> Filing:
        company = company or make_company()
        return submit_filing(db_session, registry, clock, company, approve=approve, **changes)

    return factory


def _watch(app: Flask, registry: PolicyRegistry, as_of: dt.date, **kw: Any) -> WatchSummary:
    return run_watch(get_engine(app), registry=registry, as_of=as_of, clock=Clock(), **kw)


def _warnings(db_session: Session, **where: Any) -> list[CompanyWarning]:
    db_session.expire_all()
    query = select(CompanyWarning).order_by(col(CompanyWarning.id))
    for name, value in where.items():
        query = query.where(getattr(CompanyWarning, name) == value)
    return list(db_session.exec(query).all())


def _open(db_session: Session, kind: str) -> dict[int, CompanyWarning]:
    return {w.company_id: w for w in _warnings(db_session, kind=kind) if w.state == "open"}


def test_licence_window_is_60_days_inclusive(app, db_session, registry, file, clock):
    today = clock.today()
    by_days = {d: file(licence_expires_on=(today + dt.timedelta(days=d)).isoformat())
               for d in (59, 60, 61)}  # fmt: skip
    _watch(app, registry, today)
    found = _open(db_session, LICENCE_EXPIRY)
    assert set(found) == {by_days[59].company_id, by_days[60].company_id}
    w = found[by_days[60].company_id]
    last_day = today + dt.timedelta(days=60)
    assert w.subject == last_day.isoformat() and w.severity == "warning"
    assert w.loss_on == last_day + dt.timedelta(days=1)
    assert w.first_seen == w.last_seen == today and w.closed_on is None
    assert w.details["tier_before"] == "T1" and w.details["tier_after"] is None
    assert w.saving_at_stake_kzt == 36_000_000.0  # 1.5% of 2e9 + 6% of 1e8: T1's benefits
    assert w.details["todo"] == [
        f"renew your licence and file its new licence_expires_on before "
        f"{w.loss_on.isoformat()} to keep T1"
    ]
    # a day later the 61-day licence is 60 days away; an ended one stays open, "expired"
    later = today + dt.timedelta(days=1)
    _watch(app, registry, later)
    assert set(_open(db_session, LICENCE_EXPIRY)) == {f.company_id for f in by_days.values()}
    ended = today + dt.timedelta(days=60)
    _watch(app, registry, ended)
    found = _open(db_session, LICENCE_EXPIRY)
    assert found[by_days[59].company_id].details["expired"] is True
    assert found[by_days[61].company_id].details["expired"] is False


def test_certificate_window_is_30_days_inclusive_and_a_new_filing_closes_it(
    app, db_session, registry, file, clock
):
    today = clock.today()
    by_days = {}
    for d in (29, 30, 31):
        filing = file(approve=True)
        filing.valid_until = today + dt.timedelta(days=d)  # as if approved 11 months ago
        db_session.add(filing)
        by_days[d] = filing
    db_session.commit()
    _watch(app, registry, today)
    found = _open(db_session, CERTIFICATE_EXPIRY)
    assert set(found) == {by_days[29].company_id, by_days[30].company_id}
    w = found[by_days[30].company_id]
    assert w.subject == by_days[30].certificate_code
    assert w.loss_on == today + dt.timedelta(days=31)
    assert w.saving_at_stake_kzt == 36_000_000.0
    # the company files again: renewal is under way, the warning closes
    company = db_session.get(Company, by_days[30].company_id)
    file(company=company)
    summary = _watch(app, registry, today)
    assert summary.closed[CERTIFICATE_EXPIRY] == 1
    closed = _warnings(db_session, kind=CERTIFICATE_EXPIRY, company_id=company.id)
    assert [(w.state, w.closed_on) for w in closed] == [("closed", today)]


@pytest.mark.parametrize(("days", "warned"), [(89, True), (90, True), (91, False), (0, False)])
def test_policy_change_window_is_90_days_inclusive(app, db_session, registry, file, days, warned):
    filing = file(opex_in_zone_kzt=55_000_000.0)  # T3 under 2026.1, T1 under 2027.1
    as_of = NEW_YEAR - dt.timedelta(days=days)
    _watch(app, registry, as_of)
    found = _open(db_session, POLICY_CHANGE)
    assert (filing.company_id in found) is warned
    if warned:
        w = found[filing.company_id]
        assert w.subject == "astana-crypto-hub@2027.1" and w.loss_on == NEW_YEAR
        assert (w.details["tier_before"], w.details["tier_after"]) == ("T3", "T1")
        # in words people read: tier titles and benefit titles, not ids
        assert (
            "would reach T1 (Registered) instead of T3 (Full disclosure)" in (w.details["summary"])
        )
        assert "Corporate income tax exemption on qualifying income" in w.details["summary"]
        assert "cit_exemption" not in w.details["summary"]
        flipped = {c["criterion"]: c for c in w.details["criteria"]}
        assert set(flipped) == {"local_opex", "unhosted_wallet_checks"}
        assert flipped["local_opex"]["fix"].startswith("raise opex_in_zone_kzt from")
        assert flipped["local_opex"]["new_inputs"] == []
        assert "provide unhosted_wallet_verified_pct" in flipped["unhosted_wallet_checks"]["fix"]
        assert all(t.endswith("before 2027-01-01 to keep T3") for t in w.details["todo"])
        assert w.saving_at_stake_kzt > 0


def _demoted(registry: PolicyRegistry, inputs: dict[str, Any]) -> tuple[bool, bool]:
    """(lower tier or a benefit lost, T2 or more lost) under 2027.1 on its first day, by
    the engine deciding both versions."""
    old, new = registry.get("2026.1"), registry.get("2027.1")
    before, after = assess(old, inputs, NEW_YEAR), assess(new, inputs, NEW_YEAR)
    rank = tier_ranks(new)
    b = rank.get(before.tier or "", -1)
    a = rank.get(after.tier or "", -1)
    lost = set(before.benefit_ids) - set(after.benefit_ids)
    return (a < b or bool(lost)), (b >= rank["T2"] > a)


def test_on_the_demo_data_2027_1_warns_exactly_the_companies_it_demotes(
    app, db_session, registry, clock
):
    load_seeds(db_session, clock=clock, registry=registry)
    db_session.commit()
    summary = _watch(app, registry, dt.date(2026, 11, 15), chunk_size=7)  # several chunks
    latest: dict[int, Filing] = {}
    for f in db_session.exec(
        select(Filing).where(col(Filing.status).in_(["approved", "submitted"]))
    ).all():
        if f.company_id not in latest or f.id > latest[f.company_id].id:
            latest[f.company_id] = f
    demoted = {c for c, f in latest.items() if _demoted(registry, f.inputs)[0]}
    lose_t2 = {c for c, f in latest.items() if _demoted(registry, f.inputs)[1]}
    found = _open(db_session, POLICY_CHANGE)
    assert set(found) == demoted
    assert lose_t2 and lose_t2 <= set(found)
    assert {c for c, w in found.items() if w.details["tier_before"] in ("T2", "T3")
            and w.details["tier_after"] not in ("T2", "T3")} == lose_t2  # fmt: skip
    assert summary.companies == len(latest)
    for company_id in lose_t2:
        texts = found[company_id].details["todo"]
        assert any("unhosted_wallet_verified_pct" in t and "before 2027-01-01" in t
                   for t in texts)  # fmt: skip


def test_a_second_run_opens_nothing_and_changes_only_last_seen(
    app, db_session, registry, file, clock
):
    today = clock.today()
    file(licence_expires_on=(today + dt.timedelta(days=50)).isoformat(),
         kyc_verified_clients_pct=95.2, opex_in_zone_kzt=55_000_000.0)  # fmt: skip
    first = _watch(app, registry, today)
    assert first.opened[LICENCE_EXPIRY] == first.opened[POLICY_CHANGE] == 1
    assert first.opened[CLOSE_TO_LINE] >= 1
    before = {w.id: w.model_dump() for w in _warnings(db_session)}
    second = _watch(app, registry, today + dt.timedelta(days=1))
    assert sum(second.opened.values()) == sum(second.closed.values()) == 0
    assert second.still_open == first.opened
    after = {w.id: w.model_dump() for w in _warnings(db_session)}
    assert set(after) == set(before)
    for wid, row in after.items():
        assert row.pop("last_seen") == today + dt.timedelta(days=1)
        old = dict(before[wid])
        old.pop("last_seen")
        assert row == old


def test_a_new_filing_closes_what_it_fixes(app, db_session, registry, file, clock):
    today = clock.today()
    filing = file(licence_expires_on=(today + dt.timedelta(days=10)).isoformat(),
                  kyc_verified_clients_pct=95.2)  # fmt: skip
    _watch(app, registry, today)
    kinds = {(w.kind, w.subject) for w in _warnings(db_session, state="open")}
    assert (CLOSE_TO_LINE, "kyc_baseline:kyc_verified_clients_pct") in kinds
    assert any(kind == LICENCE_EXPIRY for kind, _ in kinds)
    company = db_session.get(Company, filing.company_id)
    file(company=company, licence_expires_on="2028-12-31", kyc_verified_clients_pct=99.0)
    summary = _watch(app, registry, today)
    assert summary.closed[LICENCE_EXPIRY] == 1 and summary.closed[CLOSE_TO_LINE] >= 1
    still = {(w.kind, w.subject) for w in _warnings(db_session, state="open")}
    assert not any(kind == LICENCE_EXPIRY for kind, _ in still)
    assert (CLOSE_TO_LINE, "kyc_baseline:kyc_verified_clients_pct") not in still
    # the old figure comes back: the same row opens again, not a second one
    file(company=company, kyc_verified_clients_pct=95.2)
    summary = _watch(app, registry, today + dt.timedelta(days=2))
    rows = _warnings(
        db_session, kind=CLOSE_TO_LINE, subject="kyc_baseline:kyc_verified_clients_pct"
    )
    assert [(w.state, w.first_seen) for w in rows] == [("open", today + dt.timedelta(days=2))]


def test_drafts_and_rejected_filings_are_not_watched(
    app, db_session, registry, make_company, clock
):
    company = make_company()
    today = clock.today()
    filing_svc.create_draft(
        db_session,
        company=company,
        actor_id=None,
        inputs=t1_exchange(licence_expires_on=(today + dt.timedelta(days=5)).isoformat()),
        registry=registry,
        today=today,
    )
    db_session.commit()
    summary = _watch(app, registry, today)
    assert summary.companies == 0 and _warnings(db_session) == []


def test_api_lists_the_companys_open_warnings_only(
    app, client, db_session, registry, file, make_user, clock
):
    today = clock.today()
    mine = file(licence_expires_on=(today + dt.timedelta(days=20)).isoformat())
    other = file(licence_expires_on=(today + dt.timedelta(days=45)).isoformat(),
                 opex_in_zone_kzt=55_000_000.0)  # fmt: skip
    _watch(app, registry, today)
    me = make_user(company=db_session.get(Company, mine.company_id))
    them = make_user(company=db_session.get(Company, other.company_id))
    _, my_token = issue_token(db_session, user=me, name="t")
    _, their_token = issue_token(db_session, user=them, name="t")
    db_session.commit()
    answer = client.get("/api/v1/warnings", headers={"Authorization": f"Bearer {my_token}"})
    assert answer.status_code == 200
    warnings = answer.get_json()["warnings"]
    assert [w["kind"] for w in warnings][:1] == [LICENCE_EXPIRY]
    assert all(w["state"] == "open" for w in warnings)
    mine_ids = {w.id for w in _warnings(db_session, company_id=mine.company_id)}
    assert {w["id"] for w in warnings} == mine_ids
    assert warnings[0]["loss_on"] == (today + dt.timedelta(days=21)).isoformat()
    assert warnings[0]["todo"] and warnings[0]["saving_at_stake_kzt"] == 36_000_000.0
    theirs = client.get(
        "/api/v1/warnings", headers={"Authorization": f"Bearer {their_token}"}
    ).get_json()["warnings"]
    assert {w["id"] for w in theirs}.isdisjoint(mine_ids)
    assert any(w["kind"] == POLICY_CHANGE for w in theirs)
    assert client.get("/api/v1/warnings").status_code == 401
    spec = client.get("/api/openapi.json").get_json()
    schema = spec["paths"]["/api/v1/warnings"]["get"]["responses"]["200"]["content"]
    item = schema["application/json"]["schema"]["properties"]["warnings"]["items"]
    for w in warnings + theirs:
        assert set(item["required"]) <= set(w) and set(w) <= set(item["properties"])
        assert w["kind"] in item["properties"]["kind"]["enum"]


def test_company_home_lists_open_warnings_first_with_what_to_do(
    app, client, db_session, registry, file, make_user, login, clock
):
    today = clock.today()
    filing = file(licence_expires_on=(today + dt.timedelta(days=20)).isoformat())
    user = make_user(company=db_session.get(Company, filing.company_id))
    _watch(app, registry, today)
    login(client, user)
    html = client.get("/company").get_data(as_text=True)
    assert "Warnings: what to do" in html
    assert html.index("Warnings: what to do") < html.index("<h2>Company</h2>")
    assert "renew your licence and file its new licence_expires_on before" in html


def test_cli_watch_run_prints_the_summary_and_is_idempotent(
    app, db_session, registry, file, clock, monkeypatch
):
    today = clock.today()
    file(licence_expires_on=(today + dt.timedelta(days=20)).isoformat())
    monkeypatch.setenv("HUB_DATABASE_URL", app.config["DATABASE_URL"])
    monkeypatch.setenv("HUB_INSTANCE_PATH", app.instance_path)
    from hub.cli import main

    runner = CliRunner()
    first = runner.invoke(main, ["watch", "run", "--as-of", today.isoformat()])
    assert first.exit_code == 0, first.output
    assert f"Watch as of {today.isoformat()}: 1 companies." in first.output
    line = next(x for x in first.output.splitlines() if LICENCE_EXPIRY in x)
    assert line.split()[1:] == ["1", "0", "0"]
    second = runner.invoke(main, ["watch", "run", "--as-of", today.isoformat()])
    line = next(x for x in second.output.splitlines() if LICENCE_EXPIRY in x)
    assert line.split()[1:] == ["0", "1", "0"]
    assert len(_warnings(db_session, kind=LICENCE_EXPIRY)) == 1
    bad = runner.invoke(main, ["watch", "run", "--as-of", "2026-13-01"])
    assert bad.exit_code == 2 and "--as-of" in bad.output


def test_the_daily_watch_is_a_periodic_task_of_the_queue(app, db_session, registry, file, clock):
    from celery.schedules import crontab

    from hub.tasks import RUN_WATCH, celery_of

    celery = celery_of(app)
    entry = celery.conf.beat_schedule["daily-watch"]
    assert entry["task"] == RUN_WATCH and isinstance(entry["schedule"], crontab)
    assert celery.conf.timezone == app.config["TIMEZONE"]
    today = clock.today()
    file(licence_expires_on=(today + dt.timedelta(days=20)).isoformat())
    result = celery.tasks[RUN_WATCH].apply(kwargs={"as_of": today.isoformat()}).get()
    assert result["kinds"][LICENCE_EXPIRY]["opened"] == 1
    assert _open(db_session, LICENCE_EXPIRY)


def test_warnings_of_a_company_left_without_a_watched_filing_close(
    app, db_session, registry, file, clock
):
    today = clock.today()
    filing = file(licence_expires_on=(today + dt.timedelta(days=20)).isoformat())
    _watch(app, registry, today)
    assert _open(db_session, LICENCE_EXPIRY)
    review_actions.reject(
        db_session,
        filing=filing,
        actor_id=None,
        lock_version=filing.lock_version,
        registry=registry,
        reason="Not the licence on file.",
        clock=clock,
    )
    db_session.commit()
    summary = _watch(app, registry, today)
    assert summary.companies == 0 and summary.closed[LICENCE_EXPIRY] == 1
    assert _open(db_session, LICENCE_EXPIRY) == {}


def test_two_runs_at_once_store_each_warning_once(
    app, db_session, registry, file, clock, monkeypatch
):
    from hub.services import watch as watch_service

    today = clock.today()
    filing = file(licence_expires_on=(today + dt.timedelta(days=20)).isoformat())
    real = watch_service.watch_filing
    calls = []

    def racing(watched: Any, registry: PolicyRegistry, as_of: dt.date) -> Any:
        found = real(watched, registry, as_of)
        if not calls:  # another run stores the licence warning first
            calls.append(1)
            (licence,) = [f for f in found if f.kind == LICENCE_EXPIRY]
            with Session(get_engine(app)) as other:
                other.add(watch_service._new_row(filing.company_id, filing.id, licence,
                                                 as_of, Clock().now()))  # fmt: skip
                other.commit()
        return found

    monkeypatch.setattr(watch_service, "watch_filing", racing)
    summary = _watch(app, registry, today)
    assert (summary.opened[LICENCE_EXPIRY], summary.still_open[LICENCE_EXPIRY]) == (0, 1)
    assert len(_warnings(db_session, kind=LICENCE_EXPIRY)) == 1
    assert summary.companies == 1
