"""The studio's timeline: which version is in force from when to when, gaps, drafts."""

from __future__ import annotations

import datetime as dt
import re

from hub.app_catalogue import catalogue
from hub.policy import PolicyRegistry
from hub.storage import utcnow
from hub.studio.views import timeline_view
from tests.functional.test_studio import author, author_client, html, new_draft, record

__all__ = ["author", "author_client"]  # the fixtures, reused

TODAY = dt.date(2026, 11, 29)


def rows(page: str, policy_id: str = "astana-crypto-hub") -> list[str]:
    """The timeline table's rows as text, one string a row (tags stripped)."""
    section = page.split(f'id="timeline-{policy_id}"', 1)[1].split("</section>", 1)[0]
    body = section.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    out = []
    for tr in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S):
        cells = [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", td)).strip()
                 for td in re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)]  # fmt: skip
        out.append(" | ".join(cells))
    return out


def test_the_index_shows_what_is_in_force_from_when_to_when(
    app, author, author_client, fix_clock, login
):
    fix_clock(dt.datetime(2026, 11, 29, 6, tzinfo=dt.UTC))
    login(author_client, author)  # the clock moved: the fixture's session may have ended
    page = html(author_client.get("/policies"))
    assert rows(page) == [
        "2026-07-01 | 2026-12-31 | 2026.1 in force today | "
        "2026.1 takes effect on 2026-07-01; replaced by 2027.1 from 2027-01-01.",
        "2027-01-01 | no end date | 2027.1 | 2027.1 takes effect on 2027-01-01.",
    ]
    assert "No drafts." in page


def test_a_version_page_says_when_it_is_in_force(author, author_client, fix_clock, login):
    fix_clock(dt.datetime(2026, 11, 29, 6, tzinfo=dt.UTC))
    login(author_client, author)  # the clock moved: the fixture's session may have ended
    page = html(author_client.get("/policies/2026.1"))
    assert re.search(r'id="in-force">\s*from 2026-07-01 to 2026-12-31</dd>', page)
    assert 'class="when-today current"' in page
    page = html(author_client.get("/policies/2027.1"))
    assert re.search(r'id="in-force">\s*from 2027-01-01 with no end date</dd>', page)


def test_drafts_are_listed_with_their_base_and_approval(
    app, author, author_client, db_session, make_user, fix_clock, login
):
    fix_clock(dt.datetime(2026, 11, 29, 6, tzinfo=dt.UTC))
    login(author_client, author)  # the clock moved: the fixture's session may have ended
    assert new_draft(author_client).status_code == 302
    page = html(author_client.get("/policies"))
    draft = page.split('id="drafts"', 1)[1].split("</section>", 1)[0]
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", draft))
    assert "2026.2 — based on 2026.1, by author@example.kz, revision 1; not approved yet." in text
    # The draft is in no period: it applies on no day.
    assert all("2026.2" not in row for row in rows(page))
    page = html(author_client.get("/policies/2026.2"))
    assert "not in force: a draft applies on no day" in page
    assert re.search(r'id="approval-state">not approved yet</dd>', page)

    # Approved by a second person at its current revision, then voided by a later save.
    reviewer = make_user("author", email="reviewer@example.kz")
    rec = record(db_session, "2026.2")
    rec.approved_by_id, rec.approved_at, rec.approved_revision = reviewer.id, utcnow(), 1
    db_session.add(rec)
    db_session.commit()
    page = html(author_client.get("/policies"))
    assert "approved by reviewer@example.kz at revision 1" in page
    rec.lock_version = 2
    db_session.add(rec)
    db_session.commit()
    page = html(author_client.get("/policies/2026.2"))
    assert (
        "approval by reviewer@example.kz at revision 1 voided by a later save (now revision 2)"
        in page
    )


def test_retirements_gaps_and_versions_applying_again_are_spelt_out(app):
    """The rows the page renders, on a registry with retirements (what the catalogue gives
    once versions are retired)."""
    with app.app_context():
        shipped = catalogue().registry()
    v1, v2 = shipped.get("2026.1"), shipped.get("2027.1")
    # 2027.1 retired from 2027-06-01: 2026.1 applies again; 2026.1 itself retired from
    # 2027-09-01: nothing applies from then.
    registry = PolicyRegistry(
        [v1, v2],
        retired={(v2.id, "2027.1"): dt.date(2027, 6, 1), (v1.id, "2026.1"): dt.date(2027, 9, 1)},
    )
    t = timeline_view(registry, v1.id, TODAY)
    assert [(r.start, r.last_day, r.version, r.starts, r.ends, r.when) for r in t.rows] == [
        (dt.date(2026, 7, 1), dt.date(2026, 12, 31), "2026.1",
         "2026.1 takes effect on 2026-07-01", "replaced by 2027.1 from 2027-01-01", "today"),
        (dt.date(2027, 1, 1), dt.date(2027, 5, 31), "2027.1",
         "2027.1 takes effect on 2027-01-01", "retired from 2027-06-01", "future"),
        (dt.date(2027, 6, 1), dt.date(2027, 8, 31), "2026.1",
         "2026.1 applies again from 2027-06-01 (2027.1 is retired from 2027-06-01)",
         "retired from 2027-09-01", "future"),
        (dt.date(2027, 9, 1), None, None,
         "No version applies: 2026.1 is retired from 2027-09-01", "", "future"),
    ]  # fmt: skip
    assert t.retired == [("2026.1", dt.date(2027, 9, 1)), ("2027.1", dt.date(2027, 6, 1))]
    assert t.never == []
    # A version retired on its first day is in force on no day, and says why.
    registry = PolicyRegistry([v1, v2], retired={(v2.id, "2027.1"): dt.date(2027, 1, 1)})
    t = timeline_view(registry, v1.id, TODAY)
    assert [(r.version, r.last_day) for r in t.rows] == [("2026.1", None)]
    assert t.never == [("2027.1", "retired from 2027-01-01, its first day")]
