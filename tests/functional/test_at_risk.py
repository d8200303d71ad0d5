"""The administrators' "companies at risk" page and the counts on their home and dashboard,
through the test client, on a population seeded through the use cases and watched by
``run_watch``.

Runs on PostgreSQL too when HUB_DATABASE_URL points at it.
"""

from __future__ import annotations

import datetime as dt
import random
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, col, select

from benchmarks.population import bin_number
from hub.app_catalogue import catalogue
from hub.clock import Clock
from hub.db import get_engine
from hub.models import Company, CompanyWarning, Filing
from hub.policy import PolicyRegistry
from hub.policy.watch import CERTIFICATE_EXPIRY, CLOSE_TO_LINE, KINDS, LICENCE_EXPIRY, POLICY_CHANGE
from hub.services import at_risk as at_risk_svc
from hub.services.watch import run_watch
from tests.functional.filing_support import submit_filing

#: Licence warnings: (days to the licence's last day, property value): savings at stake
#: that do not follow the dates, so the two orders differ.
LICENCES = [(5, 4e9), (20, 1e9), (33, 3e9), (47, 2.5e9), (60, 5e8)]


@pytest.fixture
def registry(app: Flask) -> PolicyRegistry:
    with app.app_context():
        return catalogue().registry()


def _file(
    session: Session,
    registry: PolicyRegistry,
    clock: Clock,
    company: Company,
    *,
    approve: bool = False,
    **changes: Any,
) -> Filing:
    changes.setdefault("record_retention_years", 7)  # 5 against "at least 5": a notice
    return submit_filing(session, registry, clock, company, approve=approve, **changes)


def unique_bins(n: int, seed: int = 16) -> list[str]:
    """``n`` different valid BINs (the shared factory has six)."""
    rnd, found = random.Random(seed), dict[str, None]()
    while len(found) < n:
        found[bin_number(rnd)] = None
    return list(found)


@pytest.fixture
def make_company(db_session: Session) -> Any:
    """Companies with BINs of their own."""
    bins = iter(unique_bins(40))

    def factory(**fields: Any) -> Company:
        company = Company(bin=next(bins), activity="exchange", **fields)
        db_session.add(company)
        db_session.commit()
        return company

    return factory


@pytest.fixture
def population(app, db_session, registry, make_company, clock) -> dict[str, Any]:
    """Licence warnings at several dates and savings, a policy change (2027.1 demotes an
    opex of 55 M from T2), a figure close to its line (a notice: no date, no saving), a
    certificate ending in 10 days, and a company without any warning; then the watch."""
    today = clock.today()
    companies: dict[str, Company] = {}
    for days, property_value in LICENCES:
        c = make_company(legal_name=f"Licence {days} LLP")
        _file(db_session, registry, clock, c, property_value_kzt=property_value,
              licence_expires_on=(today + dt.timedelta(days=days)).isoformat())  # fmt: skip
        companies[f"licence{days}"] = c
    companies["policy"] = make_company(legal_name="Policy Change LLP")
    _file(db_session, registry, clock, companies["policy"], opex_in_zone_kzt=55_000_000.0)
    companies["close"] = make_company(legal_name="Close Line LLP")
    _file(db_session, registry, clock, companies["close"], kyc_verified_clients_pct=95.2)
    companies["certificate"] = make_company(legal_name="Certificate LLP")
    cert = _file(db_session, registry, clock, companies["certificate"], approve=True)
    cert.valid_until = today + dt.timedelta(days=10)  # as if approved 11 months ago
    db_session.add(cert)
    companies["safe"] = make_company(legal_name="Safe LLP")
    _file(db_session, registry, clock, companies["safe"])
    db_session.commit()
    run_watch(get_engine(app), registry=registry, as_of=today, clock=Clock())
    db_session.expire_all()
    warnings = db_session.exec(
        select(CompanyWarning).where(col(CompanyWarning.state) == "open")
    ).all()
    return {"companies": companies, "warnings": list(warnings), "today": today}


@pytest.fixture
def admin_client(client: FlaskClient, make_user, login) -> FlaskClient:
    login(client, make_user("admin"))
    return client


def _rows(html: str) -> list[int]:
    """The warning ids of the page's rows, in order."""
    return [int(i) for i in re.findall(r'<tr data-warning="(\d+)"', html)]


def _get(client: FlaskClient, query: str = "") -> str:
    answer = client.get(f"/review/at-risk{query}")
    assert answer.status_code == 200, answer.get_data(as_text=True)[:500]
    return answer.get_data(as_text=True)


def _expected(warnings: list[CompanyWarning], key: str, descending: bool) -> list[int]:
    """The order the page promises, computed in Python: unknown values last, then the
    value, then the id (reversed with the value)."""
    known = [w for w in warnings if getattr(w, key) is not None]
    unknown = [w for w in warnings if getattr(w, key) is None]
    known.sort(key=lambda w: (getattr(w, key), w.id), reverse=descending)
    unknown.sort(key=lambda w: w.id, reverse=descending)
    return [w.id for w in known + unknown]


def test_population_has_every_kind(population):
    kinds = {w.kind for w in population["warnings"]}
    assert kinds == set(KINDS)
    safe = population["companies"]["safe"].id
    assert safe not in {w.company_id for w in population["warnings"]}


def test_every_open_warning_is_listed_soonest_loss_first(admin_client, population):
    html = _get(admin_client, "?per_page=100")
    warnings = population["warnings"]
    assert _rows(html) == _expected(warnings, "loss_on", descending=False)
    assert f"{len(warnings)} open warnings" in html
    # each row: company, kind, what it risks, loss date, saving (formatted), review link
    lic = next(
        w for w in warnings
        if w.company_id == population["companies"]["licence5"].id and w.kind == LICENCE_EXPIRY
    )  # fmt: skip
    row = html.split(f'<tr data-warning="{lic.id}"')[1].split("</tr>")[0]
    assert "Licence 5 LLP" in row and "Licence expiring" in row
    assert "T1 → no tier" in row
    assert lic.loss_on is not None and lic.loss_on.isoformat() in row and "in 6 days" in row
    assert "66,000,000 KZT" in row  # 1.5% of 4e9 + 6% of 1e8
    latest = lic.filing_id
    assert f'href="/review/filings/{latest}"' in row
    # the notice has no date and no saving, and comes last
    notices = {w.id for w in warnings if w.kind == CLOSE_TO_LINE}
    assert notices and set(_rows(html)[-len(notices) :]) == notices
    close = min(notices)
    assert "none (a notice)" in html.split(f'<tr data-warning="{close}"')[1].split("</tr>")[0]


@pytest.mark.parametrize(
    ("sort", "key", "descending"),
    [
        ("loss_on", "loss_on", False),
        ("-loss_on", "loss_on", True),
        ("-saving", "saving_at_stake_kzt", True),
        ("saving", "saving_at_stake_kzt", False),
    ],
)
def test_sorted_both_ways_by_loss_date_and_by_saving(
    admin_client, population, sort, key, descending
):
    html = _get(admin_client, f"?sort={sort}&per_page=100")
    assert _rows(html) == _expected(population["warnings"], key, descending)


def test_saving_sort_differs_from_date_sort(admin_client, population):
    by_date = _rows(_get(admin_client, "?per_page=100"))
    by_saving = _rows(_get(admin_client, "?sort=-saving&per_page=100"))
    assert by_date != by_saving and sorted(by_date) == sorted(by_saving)


@pytest.mark.parametrize("kind", KINDS)
def test_filtered_by_kind(admin_client, population, kind):
    html = _get(admin_client, f"?kind={kind}&per_page=100")
    expected = [w for w in population["warnings"] if w.kind == kind]
    assert expected
    assert _rows(html) == _expected(expected, "loss_on", descending=False)
    assert f'<option value="{kind}" selected>' in html


def test_paginated_with_a_bounded_page_size(admin_client, population):
    order = _expected(population["warnings"], "loss_on", descending=False)
    last = -(-len(order) // 3)
    pages = [_rows(_get(admin_client, f"?per_page=3&page={n}")) for n in range(1, last + 1)]
    assert [i for p in pages for i in p] == order
    assert all(len(p) == 3 for p in pages[:-1]) and 1 <= len(pages[-1]) <= 3
    first = _get(admin_client, "?per_page=3&kind=licence_expiry")
    assert "page 1 of 2" in first
    assert 'href="/review/at-risk?page=2&amp;kind=licence_expiry&amp;per_page=3"' in first
    # past the last page: the last page; a page number not in ASCII digits: page 1
    assert _rows(_get(admin_client, "?per_page=3&page=999")) == pages[-1]
    assert _rows(_get(admin_client, "?per_page=3&page=%C2%B2")) == order[:3]
    assert _rows(_get(admin_client, "?per_page=3&page=-2")) == order[:3]
    # the default page size; one beyond the bound is the bound; zero is one row
    assert at_risk_svc.PER_PAGE == 25 and at_risk_svc.MAX_PER_PAGE == 100
    assert _rows(_get(admin_client)) == order[:25]
    assert len(_rows(_get(admin_client, "?per_page=999"))) == len(order)
    assert len(_rows(_get(admin_client, "?per_page=0"))) == 1


def test_pages_split_the_order_without_repeats(admin_client, population):
    order = _expected(population["warnings"], "saving_at_stake_kzt", descending=True)
    size = 4
    pages = -(-len(order) // size)
    query = f"?sort=-saving&per_page={size}&page="
    seen = [i for n in range(1, pages + 1) for i in _rows(_get(admin_client, f"{query}{n}"))]
    assert seen == order


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?kind=nonsense", "kind"),
        ("?kind=LICENCE_EXPIRY", "kind"),
        ("?kind=%E2%91%A0", "kind"),
        ("?kind=" + "x" * 5000, "kind"),
        ("?sort=drop+table", "sort"),
        ("?sort=loss_on%C2%B2", "sort"),
    ],
)
def test_a_bad_filter_is_a_400_naming_the_field(admin_client, population, query, field):
    answer = admin_client.get(f"/review/at-risk{query}")
    assert answer.status_code == 400
    text = answer.get_data(as_text=True)
    assert f"{field}:" in text and "choose one of" in text
    assert "x" * 41 not in text  # the value is quoted shortened


def test_a_nul_in_the_query_is_refused_before_the_page(admin_client, population):
    assert admin_client.get("/review/at-risk?kind=%00").status_code == 400


def test_empty_filters_are_the_defaults(admin_client, population):
    assert _rows(_get(admin_client, "?kind=&sort=&page=&per_page=")) == _rows(_get(admin_client))


def test_head_is_answered(admin_client, population):
    answer = admin_client.head("/review/at-risk?kind=policy_change")
    assert answer.status_code == 200 and answer.get_data() == b""
    assert admin_client.head("/review/at-risk?kind=nope").status_code == 400


def test_company_users_and_visitors_are_refused(client, make_user, login, population):
    anonymous = client.get("/review/at-risk")
    assert anonymous.status_code == 302 and anonymous.headers["Location"].startswith("/login")
    company = population["companies"]["licence5"]
    login(client, make_user(company=company))
    assert client.get("/review/at-risk").status_code == 403
    assert client.get("/review/at-risk?kind=licence_expiry").status_code == 403
    assert client.head("/review/at-risk").status_code == 403
    author = make_user("author")
    client.post("/logout")
    login(client, author)
    assert client.get("/review/at-risk").status_code == 403


def test_home_and_dashboard_count_companies_at_risk_by_kind(admin_client, population):
    warnings = population["warnings"]
    expected = {k: len({w.company_id for w in warnings if w.kind == k}) for k in KINDS}
    total = len({w.company_id for w in warnings})
    for path in ("/admin", "/review/dashboard"):
        html = admin_client.get(path).get_data(as_text=True)
        section = html.split('id="at-risk-counts"')[1].split("</section>")[0]
        assert f"{total} companies in all" in section
        for kind, n in expected.items():
            row = section.split(f'<tr data-kind="{kind}">')[1].split("</tr>")[0]
            assert f'href="/review/at-risk?kind={kind}"' in row
            assert f'<td class="num">{n}</td>' in row
    assert expected[LICENCE_EXPIRY] == len(LICENCES)
    assert expected[POLICY_CHANGE] >= 1 and expected[CERTIFICATE_EXPIRY] == 1


def test_closed_warnings_are_not_counted(app, admin_client, db_session, population, registry):
    # the licence of "licence5" renewed: its warning closes on the next run
    company = population["companies"]["licence5"]
    clock = Clock()
    _file(db_session, registry, clock, company, property_value_kzt=4e9,
          licence_expires_on="2030-12-31")  # fmt: skip
    run_watch(get_engine(app), registry=registry, as_of=population["today"], clock=clock)
    html = _get(admin_client, "?kind=licence_expiry&per_page=100")
    assert "Licence 5 LLP" not in html
    assert len(_rows(html)) == len(LICENCES) - 1
    counts = at_risk_svc.at_risk_counts(db_session)
    assert dict(counts.by_kind)[LICENCE_EXPIRY] == len(LICENCES) - 1


def test_the_review_link_opens_the_companys_latest_filing(admin_client, db_session, population):
    # a newer submitted filing than the one the warning was found on: the link follows it
    company = population["companies"]["policy"]
    warning = next(w for w in population["warnings"] if w.company_id == company.id
                   and w.kind == POLICY_CHANGE)  # fmt: skip
    with admin_client.application.app_context():
        registry = catalogue().registry()
    newer = _file(db_session, registry, Clock(), company, opex_in_zone_kzt=55_000_000.0)
    assert newer.id != warning.filing_id
    html = _get(admin_client, "?kind=policy_change&per_page=100")
    row = html.split(f'<tr data-warning="{warning.id}"')[1].split("</tr>")[0]
    assert f'href="/review/filings/{newer.id}"' in row
    # what it risks: the tiers, and the benefits lost by their titles
    assert "T3 → T1; loses Corporate income tax exemption on qualifying income" in row
    assert admin_client.get(f"/review/filings/{newer.id}").status_code == 200


def test_the_page_reads_a_page_not_the_population(db_session, population, monkeypatch):
    """The service asks SQL for one page: a LIMIT and an OFFSET in the statement, and
    only as many rows come back."""
    import sqlalchemy as sa

    engine = db_session.get_bind()
    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        page = at_risk_svc.at_risk_page(db_session, per_page=2, page=2)
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    assert len(page.rows) == 2 and page.total == len(population["warnings"])
    selects = [s for s in statements if "FROM company_warning" in s and "JOIN company" in s]
    assert selects and all("LIMIT" in s and "OFFSET" in s for s in selects)
    assert any("count(" in s.lower() for s in statements)


def test_the_company_home_button_starts_the_filing_that_fixes_a_warning(
    client, db_session, make_user, login, population
):
    company = population["companies"]["licence20"]
    warning = next(w for w in population["warnings"] if w.company_id == company.id
                   and w.kind == LICENCE_EXPIRY)  # fmt: skip
    login(client, make_user(company=company))
    html = client.get("/company").get_data(as_text=True)
    item = html.split('data-kind="licence_expiry"')[1].split("</form>")[0]
    assert f'action="/filings/{warning.filing_id}/revise"' in item
    lock = re.search(r'name="lock_version" value="(\d+)"', item)
    assert lock is not None
    answer = client.post(
        f"/filings/{warning.filing_id}/revise", data={"lock_version": lock.group(1)}
    )
    assert answer.status_code == 303 and "/edit" in answer.headers["Location"]
    draft = db_session.exec(select(Filing).where(Filing.supersedes_id == warning.filing_id)).one()
    assert draft.status == "draft" and draft.inputs["licence_expires_on"] == (warning.subject)
    # the draft does not replace the watched filing until it is submitted: the button
    # stays, and reopens the same draft
    html = client.get("/company").get_data(as_text=True)
    assert f'action="/filings/{warning.filing_id}/revise"' in html


def test_risk_text_of_each_kind():
    text = at_risk_svc.risk_text
    assert text(LICENCE_EXPIRY, {"tier_before": "T1", "tier_after": None}) == "T1 → no tier"
    same_tier = {"tier_before": "T2", "tier_after": "T2", "benefits_lost": ["a"]}
    assert text(POLICY_CHANGE, same_tier, {"a": "Benefit A"}) == "loses Benefit A"
    assert text(POLICY_CHANGE, {"tier_before": "T3", "tier_after": "T1",
                                "benefits_lost": ["a", "b"]}) == "T3 → T1; loses a, b"  # fmt: skip
    assert text(CERTIFICATE_EXPIRY, {"tier": "T2"}) == "T2 (certified)"
    assert text(CLOSE_TO_LINE, {"tier": "T1", "criterion": "kyc"}) == "T1 (kyc)"
    assert text("unknown", {}) == "—" and text(LICENCE_EXPIRY, {}) == "—"
