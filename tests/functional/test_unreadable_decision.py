"""A stored decision of the wrong shape (edited in the database, written by an old release,
half a migration) is named on the pages that show it, never a 500."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import Session

from hub.models import Filing

from . import test_review

# the review tests' fixtures
admin, registry, submitted = test_review.admin, test_review.registry, test_review.submitted

SHAPES: list[Any] = [
    ["criteria"],
    "met",
    42,
    {"criteria": "all met"},
    {"criteria": [1, 2]},
    {"criteria": [{"id": 1, "status": "met"}]},
    {"criteria": [{"status": "met"}]},
    {"criteria": [], "benefits": "cit_exemption"},
    {"criteria": [], "benefits": [{"name": "cit_exemption"}]},
    {"criteria": [], "tier": ["T1"]},
]


@pytest.mark.parametrize("stored", SHAPES, ids=[repr(s)[:30] for s in SHAPES])
def test_the_review_page_names_an_unreadable_stored_decision(
    client, login, admin, submitted, db_session: Session, stored: Any
) -> None:
    filing = submitted()
    filing.decision = stored
    db_session.add(filing)
    db_session.commit()
    login(client, admin)
    response = client.get(f"/review/filings/{filing.id}")
    assert response.status_code == 200, response.get_data(as_text=True)[-2000:]
    html = response.get_data(as_text=True)
    assert "stored decision unreadable" in html.lower()
    # the inputs as submitted are still there to read
    assert "Inputs as submitted" in html
    db_session.expire_all()
    assert db_session.get(Filing, filing.id).decision == stored  # nothing rewritten


@pytest.mark.parametrize("stored", SHAPES[:4], ids=[repr(s)[:30] for s in SHAPES[:4]])
def test_acting_on_an_unreadable_stored_decision_is_refused_by_name(
    client, login, admin, submitted, db_session: Session, stored: Any
) -> None:
    filing = submitted()
    lock_version = filing.lock_version
    filing.decision = stored
    db_session.add(filing)
    db_session.commit()
    login(client, admin)
    for action in ("approve", "override"):
        response = client.post(
            f"/review/filings/{filing.id}/{action}",
            data={
                "lock_version": lock_version,
                "criterion": "valid_licence",
                "status": "met",
                "reason": "checked the registry",
            },
        )
        assert response.status_code in (409, 422), response.get_data(as_text=True)[-1500:]
        assert "stored decision unreadable" in response.get_data(as_text=True).lower()
    db_session.expire_all()
    assert db_session.get(Filing, filing.id).status == "submitted"
