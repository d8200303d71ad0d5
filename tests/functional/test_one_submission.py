"""One open submission per company, and withdrawing one (issue 18, item 1).

Before: while filing #50 was submitted, the company could start a new draft (not a
revision) and submit it as #51; both stayed "submitted", the reviewer was not told, and
a company could not take a submission back. Runs on PostgreSQL too.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from typing import Any

import pytest
from sqlmodel import Session, col, select

from hub.auth.tokens import issue_token
from hub.clock import Clock
from hub.db import get_engine
from hub.models import AuditRecord, Company, Filing
from hub.policy import PolicyRegistry
from hub.services import filings as svc
from hub.services.review import actions as review_actions

from .filing_support import t1_exchange

TODAY = dt.date(2026, 9, 1)
CLOCK = Clock.fixed(dt.datetime(2026, 9, 1, 6, tzinfo=dt.UTC), "Asia/Almaty")


@pytest.fixture
def registry(app) -> PolicyRegistry:
    return PolicyRegistry.from_directory(app.config["POLICY_DIR"])


@pytest.fixture
def user(make_user):
    return make_user("company")


@pytest.fixture
def company(user, db_session) -> Company:
    return db_session.get(Company, user.company_id)


def _draft(session: Session, company: Company, user: Any, registry: PolicyRegistry) -> Filing:
    filing = svc.create_draft(
        session,
        company=company,
        actor_id=user.id,
        inputs=t1_exchange(legal_name=company.legal_name),
        registry=registry,
        today=TODAY,
    )
    session.commit()
    return filing


def _submit(session: Session, filing: Filing, user: Any, registry: PolicyRegistry) -> Filing:
    svc.submit(
        session, filing=filing, actor_id=user.id, lock_version=None, registry=registry, today=TODAY
    )
    session.commit()
    return filing


def _statuses(session: Session, company: Company) -> dict[int, str]:
    session.expire_all()
    rows = session.exec(select(Filing).where(Filing.company_id == company.id)).all()
    return {f.id: f.status for f in rows}


def _actions(session: Session, filing: Filing) -> list[tuple[str, dict[str, Any] | None]]:
    rows = session.exec(
        select(AuditRecord)
        .where(AuditRecord.entity_type == "filing", AuditRecord.entity_id == str(filing.id))
        .order_by(col(AuditRecord.id))
    ).all()
    return [(r.action, r.after) for r in rows]


@pytest.mark.parametrize("pending", ["submitted", "changes_requested"])
def test_a_new_submission_supersedes_the_pending_one_in_the_same_transaction(
    db_session, company, user, registry, make_user, pending
):
    first = _submit(db_session, _draft(db_session, company, user, registry), user, registry)
    if pending == "changes_requested":
        admin = make_user("admin")
        review_actions.request_changes(
            db_session,
            filing=first,
            actor_id=admin.id,
            lock_version=first.lock_version,
            registry=registry,
            message="Attach the licence.",
            clock=CLOCK,
        )
        db_session.commit()
    second = _draft(db_session, company, user, registry)  # a new draft, not a revision
    assert second.supersedes_id is None
    _submit(db_session, second, user, registry)
    assert _statuses(db_session, company) == {first.id: "superseded", second.id: "submitted"}
    assert ("filing.superseded", {"status": "superseded", "superseded_by": second.id}) in [
        (a, {k: v for k, v in (after or {}).items() if k in ("status", "superseded_by")})
        for a, after in _actions(db_session, first)
    ]
    assert svc.pending_filings(db_session, company_id=company.id) == [second]


def test_two_submissions_at_the_same_moment_leave_one_pending(
    app, db_session, company, user, registry
):
    """Two drafts submitted at once from two sessions: the company's row lock makes the
    second wait for the first and supersede it (before, both stayed submitted)."""
    for _ in range(3):
        drafts = [_draft(db_session, company, user, registry).id for _ in range(2)]
        barrier = threading.Barrier(2)
        errors: list[BaseException] = []

        def submit(
            filing_id: int, barrier: threading.Barrier = barrier, errors: list = errors
        ) -> None:
            try:
                with Session(get_engine(app), expire_on_commit=False) as session:
                    filing = session.get(Filing, filing_id)
                    assert filing is not None
                    barrier.wait(5)
                    _submit(session, filing, user, registry)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=submit, args=(d,)) for d in drafts]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert errors == []
        pending = svc.pending_filings(db_session, company_id=company.id)
        assert len(pending) == 1 and pending[0].id in drafts


def test_a_company_withdraws_a_submission_no_one_has_decided(
    db_session, company, user, registry, make_user
):
    filing = _submit(db_session, _draft(db_session, company, user, registry), user, registry)
    seen = filing.lock_version
    svc.withdraw(db_session, filing=filing, actor_id=user.id, lock_version=seen)
    db_session.commit()
    assert filing.status == "withdrawn" and filing.lock_version == seen + 1
    assert ("filing.withdrawn", {"status": "withdrawn"}) in [
        (a, {k: v for k, v in (after or {}).items() if k == "status"})
        for a, after in _actions(db_session, filing)
    ]
    assert svc.pending_filings(db_session, company_id=company.id) == []
    with pytest.raises(svc.FilingConflict, match="cannot be withdrawn"):
        svc.withdraw(db_session, filing=filing, actor_id=user.id, lock_version=None)
    db_session.rollback()
    # its answers stay: a revision starts from them
    draft = svc.revise(db_session, filing=filing, actor_id=user.id)
    db_session.commit()
    assert draft.inputs == filing.inputs and draft.supersedes_id == filing.id

    decided = _submit(db_session, draft, user, registry)
    admin = make_user("admin")
    review_actions.reject(
        db_session,
        filing=decided,
        actor_id=admin.id,
        lock_version=decided.lock_version,
        registry=registry,
        reason="Licence not in the register.",
        clock=CLOCK,
    )
    db_session.commit()
    with pytest.raises(svc.FilingConflict, match="the hub has decided it"):
        svc.withdraw(db_session, filing=decided, actor_id=user.id, lock_version=None)
    db_session.rollback()
    stale_draft = _draft(db_session, company, user, registry)
    with pytest.raises(svc.FilingConflict, match="cannot be withdrawn"):
        svc.withdraw(db_session, filing=stale_draft, actor_id=user.id, lock_version=None)


def test_a_stale_withdrawal_is_a_conflict(db_session, company, user, registry, make_user):
    filing = _submit(db_session, _draft(db_session, company, user, registry), user, registry)
    seen = filing.lock_version
    admin = make_user("admin")
    review_actions.request_changes(
        db_session,
        filing=filing,
        actor_id=admin.id,
        lock_version=seen,
        registry=registry,
        message="Attach the audited accounts, please.",
        clock=CLOCK,
    )
    db_session.commit()
    with pytest.raises(svc.FilingConflict, match="was changed"):
        svc.withdraw(db_session, filing=filing, actor_id=user.id, lock_version=seen)


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found
    return found.group(1)


def test_pages_withdraw_and_say_what_a_submission_replaces(
    app, client, db_session, company, user, registry, login, make_user, fix_clock
):
    fix_clock(dt.datetime(2026, 9, 1, 6, tzinfo=dt.UTC))
    first = _submit(db_session, _draft(db_session, company, user, registry), user, registry)
    second = _draft(db_session, company, user, registry)
    login(client, user)
    page = client.get(f"/filings/{second.id}").get_data(as_text=True)
    # submitting starts with a summary to confirm, which says what it replaces
    confirm = client.get(f"/filings/{second.id}/submit").get_data(as_text=True)
    assert "Submit filing" in confirm and "Tier claimed" in confirm
    assert f'filing <a href="/filings/{first.id}">{first.id}</a>, submitted' in confirm
    assert "will be superseded" in confirm
    answer = client.post(
        f"/filings/{second.id}/submit",
        data={"csrf_token": _csrf(page), "lock_version": second.lock_version, "confirm": "yes"},
        follow_redirects=True,
    )
    html = answer.get_data(as_text=True)
    assert f"It replaces filing {first.id}, which was waiting for review" in html
    assert "Withdraw this submission" in html
    db_session.refresh(second)
    withdrawn = client.post(
        f"/filings/{second.id}/withdraw",
        data={"csrf_token": _csrf(html), "lock_version": second.lock_version},
        follow_redirects=True,
    )
    html = withdrawn.get_data(as_text=True)
    assert f"Filing {second.id} is withdrawn" in html
    assert 'id="filing-status">withdrawn<' in html and "Withdraw this submission" not in html
    # the reviewer sees the company's other filings and their states
    admin = make_user("admin")
    other = app.test_client()
    login(other, admin)
    review = other.get(f"/review/filings/{first.id}").get_data(as_text=True)
    assert "Other filings of" in review
    assert f"#{second.id}" in review and "status-withdrawn" in review


def test_api_withdraws_and_answers_409_after_a_decision(
    client, db_session, company, user, registry
):
    token = issue_token(db_session, user=user, name="withdraw")[1]
    filing = _submit(db_session, _draft(db_session, company, user, registry), user, registry)
    headers = {"Authorization": f"Bearer {token}"}
    url = f"/api/v1/filings/{filing.id}/withdraw"
    answer = client.post(url, json={"lock_version": filing.lock_version}, headers=headers)
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["status"] == "withdrawn"
    again = client.post(url, headers=headers)
    assert again.status_code == 409
    assert "cannot be withdrawn" in again.get_json()["errors"][0]["message"]
    listed = client.get("/api/v1/filings?status=withdrawn", headers=headers).get_json()
    assert [f["id"] for f in listed["filings"]] == [filing.id]
