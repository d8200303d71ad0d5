"""A company user never sees another company's data, not even its existence."""

from __future__ import annotations

import re

import pytest
from flask import Flask

from hub.auth.guards import get_owned_or_404
from hub.models import Filing, Role


@pytest.fixture
def two_companies(make_user, make_company, db_session):
    alpha = make_company(legal_name="Alpha Exchange LLP")
    beta = make_company(legal_name="Beta Custody LLP")
    users = {
        "alpha": make_user("company", company=alpha),
        "beta": make_user("company", company=beta),
        "admin": make_user("admin"),
        "author": make_user("author"),
    }
    filings = {}
    for name, company in (("alpha", alpha), ("beta", beta)):
        filing = Filing(
            company_id=company.id,
            inputs={"bin": company.bin, "legal_name": company.legal_name, "secret": f"{name}-only"},
        )
        db_session.add(filing)
        db_session.commit()
        filings[name] = filing
    return users, filings


def test_company_user_sees_its_own_filing(client, login, two_companies):
    users, filings = two_companies
    login(client, users["alpha"])
    response = client.get(f"/company/filings/{filings['alpha'].id}")
    assert response.status_code == 200
    assert "alpha-only" in response.get_data(as_text=True)


def test_another_companys_filing_is_a_404_like_a_missing_one(client, login, two_companies):
    users, filings = two_companies
    login(client, users["alpha"])
    client.get("/account")  # consume the sign-in flash message
    foreign = client.get(f"/company/filings/{filings['beta'].id}")
    missing = client.get("/company/filings/987654")
    assert foreign.status_code == missing.status_code == 404
    assert "beta-only" not in foreign.get_data(as_text=True)
    # The pages are the same but for the sign-out form's CSRF token, which is signed with
    # the second it was made in (itsdangerous): a second can tick between the two requests.
    assert _without_csrf(foreign.get_data()) == _without_csrf(missing.get_data())


def test_company_home_lists_only_its_own_filings(client, login, two_companies):
    users, filings = two_companies
    login(client, users["beta"])
    html = client.get("/company").get_data(as_text=True)
    assert f"/company/filings/{filings['beta'].id}" in html
    assert f"/company/filings/{filings['alpha'].id}" not in html
    assert "Alpha Exchange" not in html


def test_admin_sees_every_company_and_author_none(client, login, two_companies):
    users, filings = two_companies
    login(client, users["admin"])
    for filing in filings.values():
        assert client.get(f"/company/filings/{filing.id}").status_code == 200
    client.post("/logout")
    login(client, users["author"])
    assert client.get(f"/company/filings/{filings['alpha'].id}").status_code == 403


def test_isolation_helper_directly(app: Flask, two_companies, db_session):
    from werkzeug.exceptions import NotFound

    users, filings = two_companies
    with app.test_request_context():
        assert get_owned_or_404(db_session, Filing, filings["alpha"].id, users["alpha"])
        with pytest.raises(NotFound):
            get_owned_or_404(db_session, Filing, filings["beta"].id, users["alpha"])
        with pytest.raises(NotFound):
            get_owned_or_404(db_session, Filing, filings["beta"].id, users["author"])
        assert get_owned_or_404(
            db_session, Filing, filings["beta"].id, users["author"], staff_roles=(Role.AUTHOR,)
        )


def _without_csrf(page: bytes) -> bytes:
    """The page with each CSRF token's value blanked (the token carries a timestamp)."""
    return re.sub(rb'name="csrf_token" value="[^"]*"', b'name="csrf_token" value=""', page)
