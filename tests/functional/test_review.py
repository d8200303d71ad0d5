"""The hub's review: queue, decisions, overrides, conflicts, certificates, dashboard, CSV.

Everything goes through the test client (or the use cases, for concurrency) against a
real database; the same tests run on PostgreSQL when HUB_DATABASE_URL points at it.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import threading
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from flask import Flask
from sqlmodel import Session, col, select

from hub import audit
from hub.app_catalogue import catalogue
from hub.app_clock import app_clock
from hub.clock import Clock
from hub.db import get_engine
from hub.models import AuditRecord, Company, CriterionOverride, Filing, User
from hub.policy import PolicyRegistry
from hub.services import filings as filing_svc
from hub.services.review import actions as review_actions
from hub.services.review import certificates as review_certificates
from hub.services.review import decision as review_decision
from hub.services.review import export as review_export
from hub.services.review import queue as review_queue
from hub.storage import utcnow
from tests.functional.filing_support import submit_filing, t1_exchange

ALL_T1 = t1_exchange()  # reaches T1, misses T2 on local_opex only


@pytest.fixture
def registry(app: Flask) -> PolicyRegistry:
    with app.app_context():
        return catalogue().registry()


@pytest.fixture
def admin(make_user) -> User:
    return make_user("admin", email="admin@hub.kz")


@pytest.fixture
def submitted(
    db_session: Session, registry: PolicyRegistry, make_company, clock: Clock
) -> Callable[..., Filing]:
    """Submit a filing for a new company: ``submitted(**input_changes, company=..., days_ago=)``."""

    def factory(*, company: Company | None = None, days_ago: int = 0, **changes: Any) -> Filing:
        filing = submit_filing(db_session, registry, clock, company or make_company(), **changes)
        if days_ago:
            filing.submitted_at = utcnow() - dt.timedelta(days=days_ago, hours=1)
            db_session.add(filing)
            db_session.commit()
        return filing

    return factory


def _reload(db_session: Session, filing: Filing) -> Filing:
    db_session.expire_all()
    return db_session.get(Filing, filing.id)


def _page(client, filing: Filing) -> str:
    response = client.get(f"/review/filings/{filing.id}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _lock(html: str) -> int:
    return int(re.search(r'name="lock_version" value="(\d+)"', html).group(1))


def _post(client, filing: Filing, action: str, lock_version: int | None = None, **data: Any):
    if lock_version is None:
        lock_version = _lock(_page(client, filing))
    return client.post(
        f"/review/filings/{filing.id}/{action}", data={"lock_version": lock_version, **data}
    )


# --- queue -------------------------------------------------------------------------------


def test_queue_lists_submitted_filings_oldest_first_with_waiting_time(
    client, login, admin, submitted, make_company
):
    newer = submitted(days_ago=1)
    older = submitted(days_ago=5)
    draft_company = make_company()
    login(client, admin)
    html = client.get("/review").get_data(as_text=True)
    assert html.index(f"#{older.id}<") < html.index(f"#{newer.id}<")
    assert "5 days 1 h" in html and "1 day 1 h" in html
    assert "2 filings waiting for a decision" in html
    assert draft_company.legal_name not in html
    newest_first = client.get("/review?order=newest").get_data(as_text=True)
    assert newest_first.index(f"#{newer.id}<") < newest_first.index(f"#{older.id}<")


def test_queue_filters_and_search(client, login, admin, submitted, make_company):
    exchange = submitted(company=make_company(legal_name="Steppe Exchange LLP"))
    miner = submitted(
        company=make_company(legal_name="Hash Mining LLP", activity="mining"),
        activity="mining",
        licence_type="mining",
        power_metered=True,
        officers_appointed=None,
        kyc_verified_clients_pct=None,
    )
    no_tier = submitted(company=make_company(legal_name="Late Payer LLP"), tax_arrears_kzt=5.0)
    login(client, admin)

    def shown(query: str) -> set[int]:
        html = client.get(f"/review?{query}").get_data(as_text=True)
        return {int(n) for n in re.findall(r'data-filing="(\d+)"', html)}

    assert shown("") == {exchange.id, miner.id, no_tier.id}
    assert shown("activity=mining") == {miner.id}
    assert shown("tier=none") == {no_tier.id}
    assert shown("tier=T1") == {f.id for f in (exchange, miner) if f.tier_claimed == "T1"}
    assert exchange.tier_claimed == "T1" and no_tier.tier_claimed is None
    assert shown("version=2026.1") == {exchange.id, miner.id, no_tier.id}
    assert shown("version=1999.1") == set()
    assert shown("q=steppe") == {exchange.id}
    assert shown(f"q={exchange.inputs['bin'][:6]}") >= {exchange.id}
    assert shown("q=%25") == set()  # a LIKE wildcard is searched for literally
    assert shown("status=approved") == set()
    assert shown("status=nonsense") == {exchange.id, miner.id, no_tier.id}  # default: submitted
    empty = client.get("/review?q=nobody").get_data(as_text=True)
    assert "No filings match" in empty and "clear them" in empty


def test_queue_is_paginated(client, login, admin, submitted, db_session):
    for n in range(23):  # 23 companies: each has at most one filing waiting
        filing = submitted()
        filing.submitted_at = utcnow() - dt.timedelta(hours=100 - n)
        db_session.add(filing)
    db_session.commit()
    login(client, admin)
    first = client.get("/review").get_data(as_text=True)
    second = client.get("/review?page=2").get_data(as_text=True)
    assert len(re.findall(r"data-filing=", first)) == 20
    assert len(re.findall(r"data-filing=", second)) == 3
    assert "page 1 of 2" in first and 'rel="next"' in first
    assert 'rel="prev"' in second
    assert client.get("/review?page=99").status_code == 200  # clamped to the last page


# --- filing view -------------------------------------------------------------------------


def test_filing_view_shows_everything_a_reviewer_needs(
    client, login, admin, submitted, make_company, registry, db_session, clock
):
    company = make_company(legal_name="Steppe Exchange LLP")
    earlier = submitted(company=company, days_ago=30)
    review_actions.request_changes(
        db_session,
        filing=earlier,
        actor_id=admin.id,
        lock_version=earlier.lock_version,
        registry=registry,
        message="Send the audited in-zone expense ledger.",
        clock=clock,
    )
    db_session.commit()
    filing = submitted(company=company, days_ago=2)
    login(client, admin)
    html = _page(client, filing)
    assert "Steppe Exchange LLP" in html and company.bin in html
    assert "Inputs as submitted" in html and "Full-time staff employed in the zone" in html
    assert 'data-criterion="local_opex"' in html and "Not met" in html
    # history: the earlier filing, sent back, was superseded by this submission
    assert f"#{earlier.id}" in html and "status-superseded" in html
    assert "filing.submitted" in html and "Audit trail" in html
    assert "waiting <strong>2 days" in html
    assert filing.policy_digest in html
    assert "Same outcome under version 2026.1" in html
    assert client.get("/review/filings/999999").status_code == 404
    # past the 32-bit id column: 404 too (PostgreSQL refused the look-up: a 500)
    assert client.get(f"/review/filings/{2**31}").status_code == 404
    assert client.get(f"/review/filings/{2**63}").status_code == 404


def test_reassessment_under_a_later_version_is_shown_side_by_side(
    submitted, registry, db_session, clock
):
    filing = submitted()
    same = review_decision.reassess(filing, registry=registry, today=clock.today())
    assert not same.differs
    later = review_decision.reassess(filing, registry=registry, today=dt.date(2027, 1, 5))
    assert later.policy_version == "2027.1"
    changed = {c["id"]: (c["before"], c["after"]) for c in later.changed}
    assert changed["unhosted_wallet_checks"] == ("not in that version", "missing")
    assert later.differs


# --- decisions ---------------------------------------------------------------------------


def test_approve_certifies_for_twelve_months_with_a_code_and_an_audit_record(
    client, login, admin, submitted, db_session, clock
):
    filing = submitted(days_ago=3)
    login(client, admin)
    page = _page(client, filing)
    start, end = review_certificates.validity(clock.today())
    assert f"valid from <strong>{start}</strong> to <strong>{end}</strong>" in page
    response = _post(client, filing, "approve", note="Well documented.")
    assert response.status_code == 302
    filing = _reload(db_session, filing)
    assert filing.status == "approved" and filing.tier_granted == "T1"
    assert filing.decided_by_id == admin.id and filing.reviewer_message == "Well documented."
    assert (filing.valid_from, filing.valid_until) == (start, end)
    assert end == review_certificates.add_months(start, 12) - dt.timedelta(days=1)
    assert review_certificates.normalise_code(filing.certificate_code) == filing.certificate_code
    assert filing.final_decision["engine"]["tier"] == "T1"
    record = db_session.exec(
        select(AuditRecord).where(AuditRecord.action == "review.approved")
    ).one()
    assert record.actor_id == admin.id and record.entity_id == str(filing.id)
    assert record.before["status"] == "submitted" and record.after["status"] == "approved"
    assert record.after["certificate_code"] == filing.certificate_code
    assert (record.policy_version, record.policy_digest) == ("2026.1", filing.policy_digest)
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "approved: T1 certified from" in html and "Open the printable certificate" in html


def test_validity_is_twelve_months_also_from_the_29th_of_february():
    assert review_certificates.validity(dt.date(2028, 2, 29)) == (
        dt.date(2028, 2, 29),
        dt.date(2029, 2, 27),
    )
    assert review_certificates.validity(dt.date(2026, 11, 24)) == (
        dt.date(2026, 11, 24),
        dt.date(2027, 11, 23),
    )


def test_reject_needs_a_reason(client, login, admin, submitted, db_session):
    filing = submitted()
    login(client, admin)
    for reason in ("", "   ", "no"):
        response = _post(client, filing, "reject", reason=reason)
        assert response.status_code == 422
        html = response.get_data(as_text=True)
        assert "Not saved: please correct this." in html
        assert "reason for the rejection" in html
    assert _reload(db_session, filing).status == "submitted"
    response = _post(client, filing, "reject", reason="Sanctions screening hit on an owner.")
    assert response.status_code == 302 and response.headers["Location"] == "/review"
    filing = _reload(db_session, filing)
    assert filing.status == "rejected"
    assert filing.reviewer_message == "Sanctions screening hit on an owner."
    assert filing.tier_granted is None and filing.certificate_code is None


def test_request_changes_needs_a_message_that_the_company_then_sees(
    client, login, admin, submitted, make_user, db_session
):
    filing = submitted()
    login(client, admin)
    response = _post(client, filing, "request-changes", message="")
    assert response.status_code == 422
    assert "write a message to the company" in response.get_data(as_text=True)
    response = _post(client, filing, "request-changes", message="Raise in-zone opex to 50m.")
    assert response.status_code == 302
    filing = _reload(db_session, filing)
    assert filing.status == "changes_requested"
    record = db_session.exec(
        select(AuditRecord).where(AuditRecord.action == "review.changes_requested")
    ).one()
    assert record.after["message"] == "Raise in-zone opex to 50m."
    company_user = make_user("company", company=db_session.get(Company, filing.company_id))
    other = client.application.test_client()
    login(other, company_user)
    assert "Raise in-zone opex to 50m." in other.get(f"/filings/{filing.id}").get_data(as_text=True)


def test_a_text_typed_into_a_refused_form_is_kept(client, login, admin, submitted):
    filing = submitted()
    login(client, admin)
    response = _post(client, filing, "request-changes", message="short")
    assert response.status_code == 422
    assert ">short</textarea>" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("setup", "action", "data"),
    [
        ("draft", "approve", {}),
        ("draft", "reject", {"reason": "Not eligible at all, sorry."}),
        ("approved", "approve", {}),
        ("approved", "reject", {"reason": "Changed my mind about it."}),
        ("rejected", "request-changes", {"message": "Please send more documents."}),
        ("changes_requested", "approve", {}),
        (
            "approved",
            "override",
            {"criterion": "local_opex", "status": "met", "reason": "Audited ledger shows more."},
        ),
    ],
)
def test_forbidden_transitions_are_conflicts_that_change_nothing(
    client, login, admin, submitted, make_company, registry, db_session, setup, action, data, clock
):
    if setup == "draft":
        filing = filing_svc.create_draft(
            db_session,
            company=make_company(),
            actor_id=None,
            inputs=t1_exchange(),
            registry=registry,
            today=clock.today(),
        )
        db_session.commit()
    else:
        filing = submitted()
        decide = {
            "approved": lambda **k: review_actions.approve(db_session, **k),
            "rejected": lambda **k: review_actions.reject(
                db_session, reason="Not eligible for now.", **k
            ),
            "changes_requested": lambda **k: review_actions.request_changes(
                db_session, message="Please explain the figures.", **k
            ),
        }[setup]
        decide(
            filing=filing,
            actor_id=admin.id,
            lock_version=filing.lock_version,
            registry=registry,
            clock=clock,
        )
        db_session.commit()
    before = (_reload(db_session, filing).status, _reload(db_session, filing).lock_version)
    records = len(db_session.exec(select(AuditRecord)).all())
    login(client, admin)
    response = _post(client, filing, action, lock_version=before[1], **data)
    assert response.status_code == 409
    html = response.get_data(as_text=True).lower()
    assert f"filing {filing.id} is" in html and "so it cannot" in html
    after = _reload(db_session, filing)
    assert (after.status, after.lock_version) == before
    assert len(db_session.exec(select(AuditRecord)).all()) == records


def test_approving_a_filing_that_reaches_no_tier_is_refused(client, login, admin, submitted):
    filing = submitted(tax_arrears_kzt=10.0)
    login(client, admin)
    assert "nothing to certify" in _page(client, filing)
    response = _post(client, filing, "approve")
    assert response.status_code == 422
    assert "reaches no tier, so there is nothing to certify" in response.get_data(as_text=True)


# --- overrides ---------------------------------------------------------------------------


def test_override_lifts_the_tier_and_keeps_the_engine_result_beside_it(
    client, login, admin, submitted, db_session
):
    filing = submitted()  # T1 only because local_opex (T2) is not met; all of T3 is met
    assert filing.tier_claimed == "T1"
    login(client, admin)
    reason = "Audited ledger shows 61m KZT in-zone opex; the form figure was a typo."
    response = _post(
        client, filing, "override", criterion="local_opex", status="met", reason=reason
    )
    assert response.status_code == 302
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "overridden to met (the engine said not met)" in html
    assert "With the overrides" in html and "Approve and certify T3" in html
    row = db_session.exec(select(CriterionOverride)).one()
    assert (row.engine_status, row.previous_status, row.status) == ("not_met", "not_met", "met")
    record = db_session.exec(
        select(AuditRecord).where(AuditRecord.action == "review.override")
    ).one()
    assert record.before["tier"] == "T1" and record.after["tier"] == "T3"
    assert record.after["reason"] == reason and record.actor_id == admin.id

    assert _post(client, filing, "approve").status_code == 302
    filing = _reload(db_session, filing)
    final = filing.final_decision
    assert filing.tier_granted == "T3" and final["tier"] == "T3"
    assert final["engine"]["benefits"] == [b["id"] for b in filing.decision["benefits"]]
    assert final["engine"]["tier"] == filing.decision["tier"] == "T1"
    assert {b["id"] for b in final["benefits"]} >= {"cit_exemption", "dividend_exemption"}
    assert {b["id"] for b in filing.decision["benefits"]}.isdisjoint({"cit_exemption"})
    criterion = next(c for c in final["criteria"] if c["id"] == "local_opex")
    assert (criterion["engine_status"], criterion["status"]) == ("not_met", "met")
    assert criterion["override"]["reason"] == reason
    assert final["overrides"][0]["criterion_id"] == "local_opex"
    assert filing.decision["tier"] == "T1"  # the engine's frozen decision is untouched


def test_overriding_a_t1_criterion_to_not_met_drops_every_tier(
    client, login, admin, submitted, db_session
):
    filing = submitted()
    login(client, admin)
    response = _post(
        client,
        filing,
        "override",
        criterion="key_officers",
        status="not_met",
        reason="The MLRO resigned last month; the post is vacant.",
    )
    assert response.status_code == 302
    document = review_decision.final_decision(
        catalogue_policy(client.application),
        _reload(db_session, filing),
        review_queue.overrides(db_session, filing=filing),
    )
    assert document["tier"] is None and document["benefits"] == []
    assert _post(client, filing, "approve").status_code == 422


def catalogue_policy(app: Flask):
    with app.app_context():
        return catalogue().registry().get("2026.1")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"criterion": "local_opex", "status": "met", "reason": ""}, "reason for the override"),
        ({"criterion": "local_opex", "status": "met", "reason": "ok"}, "at least 10 characters"),
        ({"criterion": "nope", "status": "met", "reason": "A good reason."}, "no criterion"),
        ({"criterion": "local_opex", "status": "missing", "reason": "A good reason."}, "one of"),
        ({"criterion": "local_staff", "status": "met", "reason": "A good reason."}, "already met"),
    ],
)
def test_bad_overrides_are_refused_with_a_clear_message(
    client, login, admin, submitted, db_session, data, message
):
    filing = submitted()
    login(client, admin)
    response = _post(client, filing, "override", **data)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert db_session.exec(select(CriterionOverride)).all() == []


def test_outcome_with_no_override_equals_the_engine_on_every_demo_filing(app, db_session):
    from hub.seeding import load_seeds

    with app.app_context():
        load_seeds(db_session, clock=app_clock(app))
        db_session.commit()
        registry = catalogue().registry()
    filings = db_session.exec(select(Filing).where(col(Filing.policy_version).is_not(None))).all()
    assert len(filings) >= 30
    for filing in filings:
        policy = registry.get(filing.policy_version)
        statuses = {c["id"]: c["status"] for c in filing.decision["criteria"]}
        result = review_decision.outcome(policy, filing.inputs, statuses)
        for key in ("tier", "tier_title", "benefits", "estimated_total_saving_kzt"):
            assert result[key] == filing.decision[key], (filing.id, key)


# --- optimistic locking ------------------------------------------------------------------


def test_two_admins_on_the_same_page_the_second_gets_a_conflict(
    app, login, make_user, submitted, db_session
):
    first_admin = make_user("admin", email="first@hub.kz")
    second_admin = make_user("admin", email="second@hub.kz")
    filing = submitted()
    one, two = app.test_client(), app.test_client()
    login(one, first_admin)
    login(two, second_admin)
    seen_by_one, seen_by_two = _lock(_page(one, filing)), _lock(_page(two, filing))
    assert seen_by_one == seen_by_two
    assert _post(one, filing, "approve", lock_version=seen_by_one).status_code == 302
    response = _post(
        two, filing, "reject", lock_version=seen_by_two, reason="Not convincing enough, sorry."
    )
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "Not saved: someone else acted first." in html
    assert "it is now approved by first@hub.kz" in html
    assert "Nothing you sent was saved" in html and "Reload the filing" in html
    filing = _reload(db_session, filing)
    assert filing.status == "approved" and filing.decided_by_id == first_admin.id
    assert filing.reviewer_message is None
    decisions = db_session.exec(
        select(AuditRecord).where(col(AuditRecord.action).startswith("review."))
    ).all()
    assert [r.action for r in decisions] == ["review.approved"]
    # An override made on a stale page is refused too.
    response = _post(
        two,
        filing,
        "override",
        lock_version=seen_by_two,
        criterion="local_opex",
        status="met",
        reason="Audited ledger shows more.",
    )
    assert response.status_code == 409


def test_concurrent_decisions_in_two_sessions_exactly_one_wins(
    app, make_user, submitted, registry, db_session, clock
):
    """Two reviewers decide at the same moment, each in its own transaction and connection."""
    admins = [make_user("admin"), make_user("admin")]
    filing = submitted()
    seen = filing.lock_version
    engine = get_engine(app)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def decide(n: int) -> None:
        with Session(engine, expire_on_commit=False) as session:
            mine = session.get(Filing, filing.id)
            barrier.wait()
            try:
                if n == 0:
                    review_actions.approve(
                        session,
                        filing=mine,
                        actor_id=admins[n].id,
                        lock_version=seen,
                        registry=registry,
                        clock=clock,
                    )
                else:
                    review_actions.reject(
                        session,
                        filing=mine,
                        actor_id=admins[n].id,
                        lock_version=seen,
                        registry=registry,
                        reason="Refused by the second reviewer.",
                        clock=clock,
                    )
                session.commit()
                outcomes.append("won")
            except filing_svc.FilingConflict as exc:
                session.rollback()
                assert "changed while you were looking at it" in exc.errors[0]["message"]
                outcomes.append("conflict")
            except sa.exc.OperationalError:  # SQLite: "database is locked" counts as losing
                session.rollback()
                outcomes.append("conflict")

    threads = [threading.Thread(target=decide, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes) == ["conflict", "won"]
    filing = _reload(db_session, filing)
    assert filing.status in {"approved", "rejected"}
    assert filing.lock_version == seen + 1
    decisions = db_session.exec(
        select(AuditRecord).where(col(AuditRecord.action).startswith("review."))
    ).all()
    assert len(decisions) == 1 and decisions[0].after["status"] == filing.status
    assert audit.verify(db_session) == []


def test_deciding_on_a_page_that_missed_an_override_is_a_conflict(
    app, login, make_user, submitted, db_session
):
    first_admin = make_user("admin", email="first@hub.kz")
    second_admin = make_user("admin", email="second@hub.kz")
    filing = submitted()
    one, two = app.test_client(), app.test_client()
    login(one, first_admin)
    login(two, second_admin)
    seen = _lock(_page(two, filing))
    reason = "Audited ledger shows 61m KZT in-zone opex."
    assert _post(one, filing, "override", criterion="local_opex", status="met", reason=reason)
    response = _post(two, filing, "approve", lock_version=seen)
    assert response.status_code == 409
    assert "first@hub.kz has overridden local_opex to met" in response.get_data(as_text=True)
    assert _reload(db_session, filing).status == "submitted"


def test_approving_a_new_filing_replaces_the_companys_certificate(
    client, login, admin, submitted, make_company, db_session, clock
):
    company = make_company()
    first = submitted(company=company, days_ago=20)
    login(client, admin)
    assert _post(client, first, "approve").status_code == 302
    first = _reload(db_session, first)
    second = submitted(company=company)
    assert _post(client, second, "approve").status_code == 302
    first = _reload(db_session, first)
    assert first.status == "superseded"
    assert (
        db_session.exec(select(AuditRecord).where(AuditRecord.action == "certificate.replaced"))
        .one()
        .after["superseded_by"]
        == second.id
    )
    check = review_certificates.check_certificate(
        db_session, code=first.certificate_code, clock=clock
    )
    assert check.state == "revoked" and check.replaced_on == clock.today()


# --- certificates ------------------------------------------------------------------------


@pytest.fixture
def approved(submitted, admin, registry, db_session, clock) -> Filing:
    filing = submitted()
    review_actions.approve(
        db_session, filing=filing, actor_id=admin.id, lock_version=filing.lock_version,
        registry=registry, clock=clock,
    )  # fmt: skip
    db_session.commit()
    return filing


def test_certificate_page_for_admin_and_for_its_own_company_only(
    client, login, admin, approved, make_user, db_session
):
    login(client, admin)
    html = client.get(f"/review/filings/{approved.id}/certificate").get_data(as_text=True)
    company = db_session.get(Company, approved.company_id)
    for text in (
        company.legal_name,
        company.bin,
        "T1",
        "Registered",
        "Property and land tax exemption",
        str(approved.valid_from),
        str(approved.valid_until),
        "2026.1",
        approved.policy_digest,
        approved.certificate_code,
        f"/verify/{approved.certificate_code}",
    ):
        assert text in html, text
    owner = make_user("company", company=company)
    stranger = make_user("company")
    mine = client.application.test_client()
    login(mine, owner)
    assert mine.get(f"/certificates/{approved.id}").status_code == 200
    theirs = client.application.test_client()
    login(theirs, stranger)
    assert theirs.get(f"/certificates/{approved.id}").status_code == 404


def test_a_filing_without_certificate_has_no_certificate_page(client, login, admin, submitted):
    filing = submitted()
    login(client, admin)
    response = client.get(f"/review/filings/{filing.id}/certificate")
    assert response.status_code == 404
    assert "only an approved filing is certified" in response.get_data(as_text=True)


def test_public_verification_confirms_validity_without_private_data(client, approved, db_session):
    code = approved.certificate_code
    response = client.get(f"/verify/{code.lower().replace('-', ' ')}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "This certificate is valid today." in html
    company = db_session.get(Company, approved.company_id)
    assert company.legal_name in html and "T1" in html and str(approved.valid_until) in html
    for private in ("KZT", "kyc", "Full-time staff", "opex", "lock version", "admin@hub.kz"):
        assert private not in html, private
    assert client.get(f"/verify?code={code}").headers["Location"] == f"/verify/{code}"
    assert client.get("/verify").status_code == 200


@pytest.mark.parametrize("code", ["ABCD-EFGH-JKMN-PQRS", "not a code", "<script>", "0" * 40])
def test_unknown_codes_get_a_clear_answer(client, code):
    response = client.get(f"/verify/{code}")
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert "No certificate has this code" in html
    assert "<script>" not in html


def _on(day: dt.date) -> Clock:
    """A clock stopped at noon of the hub's ``day`` (Asia/Almaty)."""
    return Clock.fixed(dt.datetime.combine(day, dt.time(12), tzinfo=ZoneInfo("Asia/Almaty")))


def test_expired_and_not_yet_valid_certificates(approved, db_session):
    code = approved.certificate_code
    after = approved.valid_until + dt.timedelta(days=1)
    assert (
        review_certificates.check_certificate(db_session, code=code, clock=_on(after)).state
        == "expired"
    )
    last = _on(approved.valid_until)
    assert review_certificates.check_certificate(db_session, code=code, clock=last).state == "valid"
    before = approved.valid_from - dt.timedelta(days=1)
    assert (
        review_certificates.check_certificate(db_session, code=code, clock=_on(before)).state
        == "not_yet_valid"
    )


# --- audit -------------------------------------------------------------------------------


def _cli_env(monkeypatch, database_url: str, tmp_path) -> None:
    monkeypatch.setenv("HUB_ENV", "development")
    monkeypatch.setenv("HUB_DATABASE_URL", database_url)
    monkeypatch.setenv("HUB_INSTANCE_PATH", str(tmp_path / "cli-instance"))
    monkeypatch.setenv("HUB_SECRET_KEY", "cli-test")


def test_every_review_step_is_in_the_chain_and_hub_audit_verify_checks_it(
    monkeypatch, database_url, tmp_path, client, login, admin, submitted, db_session
):
    from hub.cli import main

    filing = submitted()
    login(client, admin)
    _post(client, filing, "override", criterion="local_opex", status="met", reason="Ledger ok.")
    _post(client, filing, "request-changes", message="Send the ledger as a PDF.")
    actions = [
        r.action
        for r in db_session.exec(
            select(AuditRecord)
            .where(AuditRecord.entity_type == "filing", AuditRecord.entity_id == str(filing.id))
            .order_by(col(AuditRecord.id))
        )
    ]
    assert actions == [
        "filing.created",
        "filing.submitted",
        "review.override",
        "review.changes_requested",
    ]
    _cli_env(monkeypatch, database_url, tmp_path)
    result = CliRunner().invoke(main, ["audit", "verify"])
    assert result.exit_code == 0, result.output
    # The filing's 4 and the 2 shipped versions' imports (policy.imported).
    assert "Audit trail intact: 6 records" in result.output

    # Someone with database rights bypasses the append-only guard and edits a reason.
    target = db_session.exec(
        select(AuditRecord).where(AuditRecord.action == "review.override")
    ).one()
    dialect = db_session.get_bind().dialect.name
    if dialect == "postgresql":
        db_session.execute(sa.text("ALTER TABLE audit_record DISABLE TRIGGER USER"))
    else:
        db_session.execute(sa.text("DROP TRIGGER audit_record_no_update"))
    db_session.execute(
        sa.text("UPDATE audit_record SET actor_id = NULL WHERE id = :id"), {"id": target.id}
    )
    if dialect == "postgresql":
        db_session.execute(sa.text("ALTER TABLE audit_record ENABLE TRIGGER USER"))
    db_session.commit()
    result = CliRunner().invoke(main, ["audit", "verify"])
    assert result.exit_code == 1
    assert f"first bad record is #{target.id} (review.override on filing {filing.id}" in (
        result.output
    )
    assert "content does not match its hash" in result.output
    page = client.get("/review/audit").get_data(as_text=True)
    assert "The chain is broken." in page and f"First bad record: #{target.id}" in page


def test_the_audit_page_lists_records_and_says_the_chain_is_intact(client, login, admin, submitted):
    filing = submitted()
    login(client, admin)
    _post(client, filing, "request-changes", message="Send the ledger as a PDF.")
    html = client.get("/review/audit").get_data(as_text=True)
    assert "Chain intact" in html
    assert "review.changes_requested" in html and "admin@hub.kz" in html
    assert f'href="/review/filings/{filing.id}"' in html
    only = client.get("/review/audit?action=review.").get_data(as_text=True)
    assert "review.changes_requested" in only and ">filing.submitted<" not in only


def test_audit_records_cannot_be_changed_through_the_orm(db_session, submitted):
    submitted()
    record = db_session.exec(select(AuditRecord)).first()
    record.action = "forged"
    db_session.add(record)
    with pytest.raises(sa.exc.DatabaseError):
        db_session.commit()
    db_session.rollback()


# --- dashboard and CSV -------------------------------------------------------------------


def test_dashboard_shows_charts_and_the_numbers_beside_them(
    client, login, admin, submitted, registry, db_session, clock
):
    waiting = submitted(days_ago=2)
    decided = submitted(days_ago=4)
    review_actions.approve(
        db_session, filing=decided, actor_id=admin.id, lock_version=decided.lock_version,
        registry=registry, clock=clock,
    )  # fmt: skip
    db_session.commit()
    login(client, admin)
    html = client.get("/review/dashboard").get_data(as_text=True)
    assert "vendor/chartjs/chart.umd.min.js" in html and "cdn" not in html.lower()
    assert 'data-chart="bar"' in html and 'data-chart="line"' in html
    assert re.search(r'id="kpi-waiting">1<', html)
    assert re.search(r'id="kpi-median-wait">49\.0 h<', html)
    assert re.search(r'id="kpi-median-decide">97\.0 h<', html)
    assert "Operating expenditure in the zone" in html  # most often unmet (local_opex)
    assert clock.today().strftime("%Y-%m") in html  # approvals this month
    assert waiting.id
    static = client.get("/static/vendor/chartjs/chart.umd.min.js")
    assert static.status_code == 200 and b"Chart.js v4" in static.data[:200]
    static.close()


def test_csv_exports_are_safe_against_formula_injection(
    client, login, admin, submitted, make_company, registry, db_session, clock
):
    evil = [
        make_company(legal_name='=HYPERLINK("http://evil.example","x")'),
        make_company(legal_name="+1+2 Trading LLP"),
        make_company(legal_name="-2 Capital LLP"),
        make_company(legal_name="@SUM(A1) LLP"),
    ]
    filings = [submitted(company=c) for c in evil]
    review_actions.reject(
        db_session,
        filing=filings[0],
        actor_id=admin.id,
        lock_version=filings[0].lock_version,
        registry=registry,
        reason="=cmd|' /C calc'!A0 is not a reason",
        clock=clock,
    )
    db_session.commit()
    login(client, admin)
    response = client.get("/review/export/queue.csv?status=all")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0] == list(review_export.QUEUE_HEADER)
    names = {r[3] for r in rows[1:]}
    assert names == {
        '\'=HYPERLINK("http://evil.example","x")',
        "'+1+2 Trading LLP",
        "'-2 Capital LLP",
        "'@SUM(A1) LLP",
    }
    only_submitted = client.get("/review/export/queue.csv").get_data(as_text=True)
    assert only_submitted.count("\r\n") == 1 + 3  # header + the 3 still waiting
    decisions = client.get("/review/export/decisions.csv").get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(decisions.lstrip("\ufeff"))))
    assert rows[0] == list(review_export.DECISIONS_HEADER)
    assert len(rows) == 2
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["decision"] == "rejected" and row["decided_by"] == "admin@hub.kz"
    assert row["message"].startswith("'=cmd")
    assert all(not cell.startswith(("=", "+", "-", "@")) for r in rows for cell in r)


def test_csv_safe_cells():
    assert review_export.csv_safe("=1+1") == "'=1+1"
    assert review_export.csv_safe("\t=1") == "'\t=1"
    assert review_export.csv_safe("Plain LLP") == "Plain LLP"
    assert review_export.csv_safe(None) == ""
    assert review_export.csv_safe(-3.5) == "'-3.5"  # a negative number read as text is harmless


# --- role guard --------------------------------------------------------------------------


def _review_routes(app: Flask) -> list[tuple[str, str]]:
    routes = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/review"):
            continue
        path = re.sub(r"<(?:int:)?[^>]+>", "1", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            routes.append((method, path))
    return routes


def test_review_routes_are_all_discovered(app):
    routes = set(_review_routes(app))
    assert {
        ("GET", "/review"),
        ("GET", "/review/dashboard"),
        ("GET", "/review/audit"),
        ("GET", "/review/export/queue.csv"),
        ("GET", "/review/export/decisions.csv"),
        ("GET", "/review/filings/1"),
        ("GET", "/review/filings/1/certificate"),
        ("POST", "/review/filings/1/approve"),
        ("POST", "/review/filings/1/reject"),
        ("POST", "/review/filings/1/request-changes"),
        ("POST", "/review/filings/1/override"),
    } <= routes


@pytest.mark.parametrize("role", ["company", "author", None])
def test_only_admins_reach_any_review_route_or_export(
    app, login, make_user, submitted, db_session, role
):
    filing = submitted()
    client = app.test_client()
    if role:
        login(client, make_user(role))
    for method, path in _review_routes(app):
        path = path.replace("/1", f"/{filing.id}")
        response = client.open(path, method=method, data={"lock_version": filing.lock_version})
        if role is None:
            assert response.status_code == 302, (method, path)
            assert response.headers["Location"].startswith("/login"), (method, path)
        else:
            assert response.status_code == 403, (method, path)
            assert "Not allowed" in response.get_data(as_text=True)
    assert _reload(db_session, filing).status == "submitted"


def test_the_admin_home_and_navigation_lead_to_the_review(client, login, admin):
    login(client, admin)
    html = client.get("/admin").get_data(as_text=True)
    assert 'href="/review"' in html and 'href="/review/dashboard"' in html


# --- demo data ---------------------------------------------------------------------------


def test_demo_data_has_filings_in_every_state_with_engine_decisions(app, db_session):
    from hub.seeding import load_seeds

    with app.app_context():
        report = load_seeds(db_session, clock=app_clock(app))
        db_session.commit()
        again = load_seeds(db_session, clock=app_clock(app))
        db_session.commit()
    assert report.companies == 40 and report.filings >= 40
    assert (again.companies, again.filings) == (0, 0)
    filings = db_session.exec(select(Filing)).all()
    states = {f.status for f in filings}
    assert states == {
        "draft",
        "submitted",
        "approved",
        "rejected",
        "changes_requested",
        "superseded",
    }
    for f in filings:
        if f.status != "draft":
            assert f.decision and f.policy_digest and f.policy_version == "2026.1"
            assert f.submitted_at is not None
        if f.status in {"approved", "rejected", "changes_requested"}:
            assert f.decided_at and f.decided_at > f.submitted_at and f.final_decision
        if f.status == "approved":
            assert f.certificate_code and f.valid_until and f.tier_granted
    assert db_session.exec(select(CriterionOverride)).all()
    assert audit.verify(db_session) == []
    submitted_count = sum(1 for f in filings if f.status == "submitted")
    assert submitted_count >= 10


def test_demo_data_loads_even_before_any_version_is_in_force(app, db_session):
    from hub.seeding import load_seeds

    with app.app_context():
        load_seeds(db_session, clock=app_clock(app), today=dt.date(2025, 1, 1))
        db_session.commit()
    first = db_session.exec(select(Filing).where(Filing.status == "approved")).first()
    assert first.decision["as_of"] == "2026-07-01"


def test_the_company_sees_the_certified_decision_with_the_override_explained(
    client, login, admin, submitted, db_session, make_user
):
    filing = submitted()
    login(client, admin)
    reason = "Audited ledger shows 61m KZT in-zone opex; the form figure was a typo."
    _post(client, filing, "override", criterion="local_opex", status="met", reason=reason)
    assert _post(client, filing, "approve").status_code == 302
    client.post("/logout")
    company_user = make_user(role="company", company=db_session.get(Company, filing.company_id))
    login(client, company_user)
    html = client.get(f"/filings/{filing.id}").get_data(as_text=True)
    assert "Certified decision" in html and "Changed by the reviewer" in html
    assert "Tier granted</dt><dd>T3" in html
    assert reason in html and "(tier T1)" in html
    assert f"/certificates/{filing.id}" in html


@pytest.mark.parametrize("typed", ["²", "①", "٣", " 3", "3 ", "-1", "1e3", "9" * 12])
def test_a_page_or_lock_version_not_written_in_ascii_digits_is_no_500(
    client, login, admin, submitted, db_session, typed
):
    # "²".isdigit() is true but int("²") raises: the queue, the audit page and every action
    # answered 500. A number is written with 0-9 only (int("٣") is 3: not taken either).
    filing = submitted()
    login(client, admin)
    for path in ("/review", "/review/audit"):
        assert client.get(f"{path}?page={typed}").status_code == 200
    assert _post(client, filing, "approve", lock_version=typed).status_code == 409  # stale
    assert _reload(db_session, filing).status == "submitted"
