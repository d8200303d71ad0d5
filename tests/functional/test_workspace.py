"""The company workspace at /filings: every route and every status transition."""

from __future__ import annotations

import re

import pytest
from sqlmodel import select

from hub.models import ApiToken, Assessment, AuditRecord, Company, Filing
from hub.services import filings as svc

from .filing_support import t1_exchange
from .test_assess_page import form_data


def text(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def member(make_user, login, client):
    user = make_user("company")
    login(client, user)
    return user


@pytest.fixture
def company(member, db_session) -> Company:
    return db_session.get(Company, member.company_id)


def new_draft(client) -> int:
    response = client.post("/filings/new")
    assert response.status_code == 303
    return int(re.search(r"/filings/(\d+)/edit", response.headers["Location"]).group(1))


def save(client, filing_id, filing, lock_version, action="save"):
    """Post the edit form; with ``action="submit"`` go on as a person does: the
    confirmation page, then its "Confirm and submit" (the answer of the last step)."""
    data = {**form_data(filing), "lock_version": str(lock_version), "action": action}
    response = client.post(f"/filings/{filing_id}/edit", data=data)
    if action != "submit" or response.status_code != 303:
        return response
    assert response.headers["Location"].endswith(f"/filings/{filing_id}/submit")
    confirm = client.get(response.headers["Location"])
    if confirm.status_code != 200:
        return confirm
    lock = re.search(r'name="lock_version" value="(\d+)"', text(confirm)).group(1)
    return client.post(
        f"/filings/{filing_id}/submit", data={"lock_version": lock, "confirm": "yes"}
    )


def stored(db_session, filing_id) -> Filing:
    filing = db_session.get(Filing, filing_id)
    db_session.refresh(filing)
    return filing


def test_the_workspace_lists_nothing_at_first(client, member):
    page = text(client.get("/filings"))
    assert "No filings yet" in page
    assert "Start a new filing" in page
    home = text(client.get("/company"))
    assert 'href="/filings">Open the filing workspace' in home


def test_a_new_draft_has_the_companys_bin_fixed_and_its_name_prefilled(
    client, member, company, db_session
):
    filing_id = new_draft(client)
    page = text(client.get(f"/filings/{filing_id}/edit"))
    assert re.search(rf'name="bin" value="{company.bin}" readonly', page)
    assert f'value="{company.legal_name}"' in page
    assert "Fixed from your company account." in page
    # A posted BIN is ignored: the account decides.
    response = save(client, filing_id, {"bin": "990140004654", "legal_name": "X"}, 1)
    assert response.status_code == 303
    assert stored(db_session, filing_id).inputs["bin"] == company.bin


def test_saving_a_partial_draft_and_coming_back_to_it(client, member, db_session):
    filing_id = new_draft(client)
    response = save(client, filing_id, {"legal_name": "Steppe LLP", "fte_in_zone": 2}, 1)
    assert response.status_code == 303
    page = text(client.get(response.headers["Location"]))
    assert "Draft saved." in page
    assert 'name="fte_in_zone" type="number"' in page and 'value="2"' in page
    assert "Complete these to see the result" in page  # activity is missing
    filing = stored(db_session, filing_id)
    assert filing.inputs == {
        "bin": filing.inputs["bin"],
        "legal_name": "Steppe LLP",
        "fte_in_zone": 2,
    }
    assert filing.lock_version == 2
    listing = text(client.get("/filings"))
    assert f"Filing {filing_id}" in listing and "continue editing" in listing


def test_an_invalid_value_blocks_saving_and_keeps_what_was_typed(client, member, db_session):
    filing_id = new_draft(client)
    response = save(
        client, filing_id, {"legal_name": "Steppe LLP", "kyc_verified_clients_pct": 150}, 1
    )
    assert response.status_code == 422
    page = text(response)
    assert "Must be at most 100." in page
    assert 'value="150"' in page
    assert stored(db_session, filing_id).lock_version == 1
    response = save(client, filing_id, {"legal_name": "Steppe LLP", "fte_in_zone": "many"}, 1)
    assert response.status_code == 422
    assert "Enter a whole number" in text(response)


def test_a_stale_form_gets_a_conflict_message(client, member, db_session):
    filing_id = new_draft(client)
    assert save(client, filing_id, {"legal_name": "First tab LLP"}, 1).status_code == 303
    response = save(client, filing_id, {"legal_name": "Second tab LLP"}, 1)
    assert response.status_code == 409
    page = text(response)
    assert "Not saved: this draft changed since you opened it." in page
    assert 'value="Second tab LLP"' in page  # the typed answers are kept
    assert stored(db_session, filing_id).inputs["legal_name"] == "First tab LLP"
    # The page now carries the current lock_version, so saving again works.
    assert 'name="lock_version" value="2"' in page


def test_check_shows_the_fix_and_submit_freezes_the_filing(client, member, db_session):
    filing_id = new_draft(client)
    response = save(client, filing_id, t1_exchange(), 1, action="check")
    assert response.status_code == 303 and response.headers["Location"].endswith("#decision")
    page = text(client.get(f"/filings/{filing_id}/edit"))
    assert "Assessment of the saved draft" in page
    assert "raise opex_in_zone_kzt from 10,000,000 to at least 50,000,000" in page
    response = save(
        client, filing_id, t1_exchange(opex_in_zone_kzt=55_000_000.0), 2, action="submit"
    )
    assert response.status_code == 303
    page = text(client.get(response.headers["Location"]))
    assert f"Filing {filing_id} submitted for review (tier T3 claimed)." in page
    assert 'id="filing-status">submitted' in page
    filing = stored(db_session, filing_id)
    assert filing.status == "submitted" and filing.tier_claimed == "T3"
    assert filing.decision["tier"] == "T3"
    assessment = db_session.exec(select(Assessment).where(Assessment.filing_id == filing_id)).one()
    assert assessment.policy_digest == filing.policy_digest
    actions = db_session.exec(select(AuditRecord.action)).all()
    assert "filing.submitted" in actions
    listing = text(client.get("/filings"))
    assert re.search(r"status-submitted[^>]*>submitted<", listing)


def test_an_incomplete_draft_cannot_be_submitted_but_is_saved(client, member, db_session):
    filing_id = new_draft(client)
    response = save(client, filing_id, {"legal_name": "Steppe LLP", "activity": ""}, 1, "submit")
    assert response.status_code == 422  # the confirmation page sends back to the form
    page = text(response)
    assert "cannot be submitted yet" in page
    assert '<p class="error" id="err-activity">This is required.</p>' in page
    filing = stored(db_session, filing_id)
    assert filing.status == "draft" and filing.lock_version == 2


def test_submitting_twice_and_editing_a_submitted_filing(client, member, db_session):
    filing_id = new_draft(client)
    save(client, filing_id, t1_exchange(), 1, action="submit")
    filing = stored(db_session, filing_id)
    response = client.post(
        f"/filings/{filing_id}/submit",
        data={"lock_version": str(filing.lock_version), "confirm": "yes"},
    )
    assert response.status_code == 303
    assert "cannot be submitted again" in text(client.get(response.headers["Location"]))
    response = client.get(f"/filings/{filing_id}/edit")
    assert response.status_code == 303
    assert "can no longer be edited" in text(client.get(response.headers["Location"]))
    response = save(client, filing_id, t1_exchange(), filing.lock_version)
    assert response.status_code == 303
    assert stored(db_session, filing_id).lock_version == filing.lock_version
    assert len(db_session.exec(select(Assessment)).all()) == 1


def test_submit_button_on_the_detail_page(client, member, db_session):
    filing_id = new_draft(client)
    save(client, filing_id, t1_exchange(), 1)
    page = text(client.get(f"/filings/{filing_id}"))
    assert "Current assessment (not submitted)" in page
    assert f'href="/filings/{filing_id}/submit"' in page  # to the confirmation page
    data = {"lock_version": "1", "confirm": "yes"}
    response = client.post(f"/filings/{filing_id}/submit", data=data)
    assert "changed" in text(client.get(response.headers["Location"]))  # stale: 2 is current
    assert stored(db_session, filing_id).status == "draft"
    # without the confirmation, a post only leads to the confirmation page
    response = client.post(f"/filings/{filing_id}/submit", data={"lock_version": "2"})
    assert response.headers["Location"].endswith(f"/filings/{filing_id}/submit")
    assert stored(db_session, filing_id).status == "draft"
    client.post(f"/filings/{filing_id}/submit", data={"lock_version": "2", "confirm": "yes"})
    assert stored(db_session, filing_id).status == "submitted"


def test_revise_a_submitted_filing_then_resubmit_supersedes_it(client, member, db_session):
    first = new_draft(client)
    save(client, first, t1_exchange(), 1, action="submit")
    lock = stored(db_session, first).lock_version
    response = client.post(f"/filings/{first}/revise", data={"lock_version": str(lock)})
    assert response.status_code == 303
    second = int(re.search(r"/filings/(\d+)/edit", response.headers["Location"]).group(1))
    page = text(client.get(response.headers["Location"]))
    assert f"revises filing {first}" in page
    assert 'value="10000000"' in page  # inputs copied
    save(client, second, t1_exchange(opex_in_zone_kzt=60_000_000.0), 1, action="submit")
    assert stored(db_session, first).status == "superseded"
    assert stored(db_session, second).status == "submitted"
    page = text(client.get(f"/filings/{first}"))
    assert f"filing {second}</a> (submitted)" in page
    response = client.post(f"/filings/{first}/revise", data={"lock_version": "3"})
    assert "revise that one" in text(client.get(response.headers["Location"]))


def test_changes_requested_shows_the_message_and_can_be_resubmitted(
    client, member, db_session, make_user
):
    admin = make_user("admin")
    filing_id = new_draft(client)
    save(client, filing_id, t1_exchange(), 1, action="submit")
    filing = stored(db_session, filing_id)
    svc.transition(
        db_session,
        filing=filing,
        to="changes_requested",
        lock_version=filing.lock_version,
        actor_id=admin.id,
        action="filing.changes_requested",
        values={"reviewer_message": "Attach the audited opex figure."},
    )
    db_session.commit()
    listing = text(client.get("/filings"))
    assert "changes requested" in listing and "Attach the audited opex figure." in listing
    page = text(client.get(f"/filings/{filing_id}"))
    assert "Revise and resubmit" in page
    response = client.post(
        f"/filings/{filing_id}/revise", data={"lock_version": str(filing.lock_version)}
    )
    revision = int(re.search(r"/filings/(\d+)/edit", response.headers["Location"]).group(1))
    save(client, revision, t1_exchange(), 1, action="submit")
    assert stored(db_session, filing_id).status == "superseded"
    assert stored(db_session, revision).status == "submitted"


def test_download_the_decision_as_json_and_as_a_printable_page(client, member, db_session):
    filing_id = new_draft(client)
    save(client, filing_id, {"legal_name": "Steppe LLP", "activity": ""}, 1)
    response = client.get(f"/filings/{filing_id}/decision.json")
    assert response.status_code == 422
    assert "cannot be assessed yet: activity is required" in text(response)
    save(client, filing_id, t1_exchange(), 2, action="submit")
    response = client.get(f"/filings/{filing_id}/decision.json")
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.json["decision"] == stored(db_session, filing_id).decision
    page = text(client.get(f"/filings/{filing_id}/print"))
    with client.get("/static/filings.css") as css:
        assert "@media print" in css.get_data(as_text=True)
    assert "Decision" in page and "36,000,000 KZT" in page


def test_another_companys_filing_is_not_found_on_every_route(
    client, member, make_user, login, db_session
):
    other = make_user("company")
    other_client = client.application.test_client()
    login(other_client, other)
    theirs = new_draft(other_client)
    for method, path in [
        ("get", f"/filings/{theirs}"),
        ("get", f"/filings/{theirs}/edit"),
        ("post", f"/filings/{theirs}/edit"),
        ("post", f"/filings/{theirs}/submit"),
        ("post", f"/filings/{theirs}/revise"),
        ("get", f"/filings/{theirs}/decision.json"),
        ("get", f"/filings/{theirs}/print"),
        ("get", "/filings/999999"),
        ("get", "/filings/" + "9" * 30),
        ("post", "/filings/" + "9" * 30 + "/submit"),
    ]:
        response = getattr(client, method)(path, data={"lock_version": "1"})
        assert response.status_code == 404, (method, path)
        assert "there is no filing" in text(response)
    assert f"Filing {theirs}" not in text(client.get("/filings"))


def test_staff_cannot_use_the_workspace(client, make_user, login):
    login(client, make_user("admin"))
    assert client.get("/filings").status_code == 403
    assert client.post("/filings/new").status_code == 403


def test_api_tokens_are_shown_once_and_can_be_revoked(client, member, db_session):
    response = client.post("/filings/tokens", data={"name": "ERP export"})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    token = re.search(r"hub_[A-Za-z0-9_\-]{20,}", text(response)).group(0)
    row = db_session.exec(select(ApiToken)).one()
    assert token not in row.token_hash and row.prefix in token
    page = text(client.get("/filings/tokens"))
    assert token not in page and "ERP export" in page and "active" in page
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/filings", headers=headers).status_code == 200
    response = client.post(f"/filings/tokens/{row.id}/revoke")
    assert response.status_code == 303
    assert client.get("/api/v1/filings", headers=headers).status_code == 401
    assert client.post("/filings/tokens", data={"name": ""}).status_code == 422
    assert client.post("/filings/tokens/999999/revoke").status_code == 404


def test_workspace_forms_need_the_csrf_token(make_app, make_user, login, csrf_token):
    app = make_app(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    login(client, make_user("company"))
    assert client.post("/filings/new").status_code == 400
    token = csrf_token(client, "/filings")
    response = client.post("/filings/new", data={"csrf_token": token})
    assert response.status_code == 303
    filing_id = int(re.search(r"/filings/(\d+)/edit", response.headers["Location"]).group(1))
    data = {**form_data(t1_exchange()), "lock_version": "1", "action": "submit"}
    assert client.post(f"/filings/{filing_id}/edit", data=data).status_code == 400
    data["csrf_token"] = csrf_token(client, f"/filings/{filing_id}/edit")
    assert client.post(f"/filings/{filing_id}/edit", data=data).status_code == 303
    confirm = {"lock_version": "2", "confirm": "yes"}
    assert client.post(f"/filings/{filing_id}/submit", data=confirm).status_code == 400
    confirm["csrf_token"] = csrf_token(client, f"/filings/{filing_id}/submit")
    assert client.post(f"/filings/{filing_id}/submit", data=confirm).status_code == 303
    assert client.post("/filings/tokens", data={"name": "x"}).status_code == 400


@pytest.mark.parametrize("typed", ["²", "①", "٢", " 2"])
def test_a_lock_version_not_written_in_ascii_digits_is_stale_not_a_500(
    client, member, db_session, typed
):
    filing_id = new_draft(client)
    save(client, filing_id, t1_exchange(), 1)
    data = {"lock_version": typed, "confirm": "yes"}
    response = client.post(f"/filings/{filing_id}/submit", data=data)
    assert response.status_code == 303
    assert "changed" in text(client.get(response.headers["Location"]))
    assert save(client, filing_id, t1_exchange(), typed).status_code in (303, 409)
    assert stored(db_session, filing_id).status == "draft"
    assert stored(db_session, filing_id).lock_version == 2
