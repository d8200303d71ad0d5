"""The policy studio through the test client: versions, drafts, specs, diff, impact, publish."""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, select

from hub.app_catalogue import EXTENSION, catalogue
from hub.models import (
    Assessment,
    AuditRecord,
    Company,
    Filing,
    PolicyVersionRecord,
    Role,
    StudioJob,
    User,
)
from hub.policy import assess
from tests.conftest import TEST_TODAY
from tests.functional.filing_support import t1_exchange
from tests.functional.publishing_support import approve_draft

KYC_OUTLINE = "kyc_baseline - identity-verified clients at and around the baseline"


# --- helpers ---------------------------------------------------------------------------------


@pytest.fixture
def author(make_user: Callable[..., User]) -> User:
    return make_user(Role.AUTHOR, email="author@example.kz")


@pytest.fixture
def author_client(
    app: Flask, author: User, login: Callable[..., Any], queue_worker: Any
) -> FlaskClient:
    """An author signed in to the test's app, whose jobs a worker runs (a real Celery
    worker on the embedded broker: ``queue_worker``)."""
    client = app.test_client()
    login(client, author)
    return client


def record(db: Session, version: str) -> PolicyVersionRecord:
    db.expire_all()
    found = db.exec(select(PolicyVersionRecord).where(PolicyVersionRecord.version == version))
    rec = found.first()
    assert rec is not None, f"no stored version {version}"
    return rec


def catalogue_of(app: Flask) -> Any:
    """The app's catalogue, read without an app context."""
    return app.extensions[EXTENSION]


def html(response: Any) -> str:
    return response.get_data(as_text=True)


def new_draft(client: FlaskClient, base: str = "2026.1", version: str = "2026.2") -> Any:
    return client.post(f"/policies/{base}/drafts", data={"version": version})


def save(client: FlaskClient, db: Session, version: str, **changes: Any) -> Any:
    rec = record(db, version)
    data = {
        "text": rec.text,
        "features_text": rec.features_text or "",
        "lock_version": rec.lock_version,
        "action": "save",
    }
    data.update(changes)
    return client.post(f"/policies/{version}/edit", data=data)


def raise_kyc(text: str, to: int = 96) -> str:
    new = text.replace("kyc_baseline_min_pct: {value: 95,", f"kyc_baseline_min_pct: {{value: {to},")
    assert new != text
    return new


def update_kyc_scenarios(features: str) -> str:
    """What an author does after raising the baseline to 96: the boundary rows move."""
    lines = features.split("\n")
    start = next(i for i, ln in enumerate(lines) if KYC_OUTLINE in ln)
    for i in range(start, start + 20):
        lines[i] = lines[i].replace("| 95   | met     |", "| 95   | not met |")
        lines[i] = lines[i].replace("| 95.1 | met     |", "| 95.1 | not met |")
    out = "\n".join(lines)
    out = out.replace("from 92.5 to at least 95", "from 92.5 to at least 96")
    assert out != features
    return out


def wait_job(client: FlaskClient, job_id: int, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        view = client.get(f"/policies/jobs/{job_id}.json").get_json()
        if view["finished"]:
            return view
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish in {timeout}s")


def job_id_of(response: Any) -> int:
    assert response.status_code == 302, html(response)[:2000]
    m = re.search(r"/policies/jobs/(\d+)$", response.headers["Location"])
    assert m, response.headers["Location"]
    return int(m.group(1))


def run_specs(client: FlaskClient, db: Session, version: str, **changes: Any) -> StudioJob:
    response = save(client, db, version, action="run", **changes)
    job_id = job_id_of(response)
    view = wait_job(client, job_id)
    assert view["state"] == "done", view
    db.expire_all()
    job = db.get(StudioJob, job_id)
    assert job is not None
    return job


def run_impact(
    client: FlaskClient, db: Session, version: str, as_of: dt.date | str | None = None
) -> StudioJob:
    """Run the impact analysis through the studio (as of ``as_of``, default: the draft's
    effective date or today) and wait for it to finish."""
    data = {"as_of": str(as_of)} if as_of is not None else {}
    job_id = job_id_of(client.post(f"/policies/{version}/impact", data=data))
    view = wait_job(client, job_id)
    assert view["state"] == "done", view
    db.expire_all()
    job = db.get(StudioJob, job_id)
    assert job is not None
    return job


def stored_rows(db: Session, job: StudioJob) -> list[dict[str, Any]]:
    """Every row an impact job stored (its companies, by name): they are kept beside the
    job's result, not in it."""
    from hub.studio import impact_runs

    assert job.result is not None
    return list(impact_runs.rows(db.connection(), job.result["run"], changed_only=False))


def free_date(app: Flask, start: dt.date) -> dt.date:
    """A date on or after ``start`` on which no version takes effect yet."""
    with app.app_context():
        taken = {p.effective_from for p in catalogue().registry().versions()}
    day = start
    while day in taken:
        day += dt.timedelta(days=1)
    return day


def green_draft(client: FlaskClient, db: Session, version: str = "2026.2") -> None:
    """A draft that raises kyc_baseline to 96 with its scenarios updated: all pass."""
    assert new_draft(client, version=version).status_code == 302
    rec = record(db, version)
    job = run_specs(
        client,
        db,
        version,
        text=raise_kyc(rec.text),
        features_text=update_kyc_scenarios(rec.features_text or ""),
    )
    assert job.result and job.result["summary"]["ok"], job.result["summary"]


# --- versions ------------------------------------------------------------------------------------


def test_versions_are_imported_at_start_up_and_listed(author_client, db_session):
    response = author_client.get("/policies")
    assert response.status_code == 200
    page = html(response)
    for version in ("2026.1", "2027.1"):
        rec = record(db_session, version)
        assert rec.state == "published" and rec.digest and rec.effective_from
        assert f'data-version="{version}"' in page
        assert rec.digest[:19] in page
    assert "published" in page and "shipped file" in page


def test_import_is_idempotent(make_app, db_session):
    make_app()
    make_app()
    rows = db_session.exec(select(PolicyVersionRecord)).all()
    assert sorted(r.version for r in rows) == ["2026.1", "2027.1"]


def test_a_version_reads_in_words(author_client):
    page = html(author_client.get("/policies/2026.1"))
    assert "kyc_verified_clients_pct ≥ 95" in page or "kyc_verified_clients_pct >= 95" in page
    assert "ACH Rule" in page  # citations
    assert "Corporate income tax exemption" in page  # benefits
    assert "Transparent" in page  # tiers
    assert "New draft from 2026.1" in page


def test_admins_read_but_cannot_edit(app, make_user, login, db_session):
    """Administrators read everything and cannot draft or edit; they approve, publish and
    retire as the service lets them (test_studio_publish_pages)."""
    admin = make_user(Role.ADMIN)
    client = app.test_client()
    login(client, admin)
    assert client.get("/policies").status_code == 200
    page = html(client.get("/policies/2026.1"))
    assert "New draft" not in page
    assert new_draft(client).status_code == 403
    assert client.post("/policies/2026.1/delete").status_code == 403


def test_company_users_may_not_see_the_studio(app, make_user, login):
    client = app.test_client()
    login(client, make_user(Role.COMPANY))
    assert client.get("/policies").status_code == 403


def test_unknown_version_is_a_clear_404(author_client):
    response = author_client.get("/policies/1999.9")
    assert response.status_code == 404
    assert "no policy version" in html(response)


# --- drafts --------------------------------------------------------------------------------------


def test_a_draft_copies_the_text_and_the_base_versions_scenarios(author_client, db_session, author):
    response = new_draft(author_client)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/policies/2026.2/edit")
    rec = record(db_session, "2026.2")
    assert rec.state == "draft" and rec.base_version == "2026.1" and rec.author_id == author.id
    assert 'version: "2026.2"' in rec.text and rec.digest
    features = rec.features_text or ""
    assert "# ==== clients_aml.feature ====" in features
    assert "@v2026.2" in features
    assert "@v2026.1" not in features and "@v2027.1" not in features
    assert "@versions" not in features
    assert "under 2027.1 at least 97%" not in features  # other versions' examples left out
    page = html(author_client.get("/policies/2026.2/edit"))
    assert 'class="code-editor"' in page and "gutter" in page


def test_draft_version_numbers_are_checked(author_client):
    response = author_client.post(
        "/policies/2026.1/drafts", data={"version": "next"}, follow_redirects=True
    )
    assert "is not a version number" in html(response)
    response = author_client.post(
        "/policies/2026.1/drafts", data={"version": "2027.1"}, follow_redirects=True
    )
    assert "Version 2027.1 already exists" in html(response)


def test_several_authors_hold_drafts(app, author_client, make_user, login, db_session):
    other = app.test_client()
    login(other, make_user(Role.AUTHOR))
    assert new_draft(author_client, version="2026.2").status_code == 302
    assert new_draft(other, base="2027.1", version="2027.2").status_code == 302
    assert record(db_session, "2026.2").author_id != record(db_session, "2027.2").author_id
    page = html(author_client.get("/policies"))
    assert 'data-version="2026.2"' in page and 'data-version="2027.2"' in page


def test_published_versions_cannot_be_edited(author_client, db_session):
    rec = record(db_session, "2026.1")
    before = (rec.text, rec.digest)
    response = author_client.post(
        "/policies/2026.1/edit",
        data={"text": "id: x\n", "features_text": "", "lock_version": rec.lock_version},
        follow_redirects=True,
    )
    assert "can no longer be changed" in html(response)
    rec = record(db_session, "2026.1")
    assert (rec.text, rec.digest) == before
    response = author_client.get("/policies/2026.1/edit", follow_redirects=True)
    assert "published versions never change" in html(response)


def test_saving_an_invalid_text_keeps_it_and_shows_errors_at_their_lines(author_client, db_session):
    new_draft(author_client)
    rec = record(db_session, "2026.2")
    broken = rec.text.replace(
        "condition: kyc_verified_clients_pct >= kyc_baseline_min_pct",
        "condition: kyc_verified_pct >= kyc_baseline_min_pct",
    )
    line = broken.split("\n").index("    condition: kyc_verified_pct >= kyc_baseline_min_pct") + 1
    response = save(author_client, db_session, "2026.2", text=broken)
    assert response.status_code == 422
    page = html(response)
    assert "does not compile" in page
    assert f'data-goto-line="{line}"' in page and "kyc_verified_pct" in page
    assert f'data-error-lines="{line}"' in page
    rec = record(db_session, "2026.2")
    assert rec.text == broken and rec.digest is None  # kept, but not usable
    # A draft that does not compile cannot be tested or published.
    response = author_client.post("/policies/2026.2/specs", follow_redirects=True)
    assert "does not compile" in html(response)
    response = save(author_client, db_session, "2026.2", action="run")
    assert response.status_code == 422
    assert db_session.exec(select(StudioJob)).first() is None
    day = free_date(author_client.application, TEST_TODAY + dt.timedelta(days=3))
    response = author_client.get(f"/policies/2026.2/publish?effective_from={day}")
    assert response.status_code == 422 and "does not compile" in html(response)


def test_the_draft_keeps_its_version_number(author_client, db_session):
    new_draft(author_client)
    rec = record(db_session, "2026.2")
    response = save(
        author_client, db_session, "2026.2", text=rec.text.replace('"2026.2"', '"2028.1"')
    )
    assert response.status_code == 422
    assert "version must stay" in html(response)


def test_saving_over_a_newer_save_is_refused(app, author_client, make_user, login, db_session):
    other = app.test_client()
    login(other, make_user(Role.AUTHOR))
    new_draft(author_client)
    rec = record(db_session, "2026.2")
    opened = rec.lock_version
    # The other author saves first.
    response = other.post(
        "/policies/2026.2/edit",
        data={"text": raise_kyc(rec.text, 97), "features_text": rec.features_text,
              "lock_version": opened},
    )  # fmt: skip
    assert response.status_code == 302
    # This author's save, made on the revision they opened, is refused and kept on screen.
    mine = raise_kyc(rec.text, 96)
    response = author_client.post(
        "/policies/2026.2/edit",
        data={"text": mine, "features_text": rec.features_text, "lock_version": opened},
    )
    assert response.status_code == 409
    page = html(response)
    assert "Someone else saved version 2026.2" in page
    assert "value: 96" in page  # the unsaved text is still in the editor
    rec = record(db_session, "2026.2")
    assert "value: 97" in rec.text and rec.lock_version == opened + 1


# --- specs ----------------------------------------------------------------------------------------


def test_specs_run_in_the_background_and_report_failures(author_client, db_session):
    new_draft(author_client)
    rec = record(db_session, "2026.2")
    response = save(author_client, db_session, "2026.2", text=raise_kyc(rec.text), action="run")
    job_id = job_id_of(response)
    # The server answers other requests while the run goes on.
    assert author_client.get("/policies").status_code == 200
    progress = author_client.get(f"/policies/jobs/{job_id}")
    assert progress.status_code == 200
    view = wait_job(author_client, job_id)
    assert view["state"] == "done" and view["total"] > 100
    job = db_session.get(StudioJob, job_id)
    summary = job.result["summary"]
    assert summary["failed"] == 3 and summary["passed"] > 100 and not summary["ok"]
    failed = [s for s in job.result["scenarios"] if s["status"] == "failed"]
    assert {s["name"].split(" [")[0] for s in failed} >= {KYC_OUTLINE}
    boundary = next(s for s in failed if "pct=95," in s["name"])
    assert boundary["failing_step"] == "Then criterion kyc_baseline is met"
    assert "expected met, got not_met" in boundary["message"] and "≥ 96" in boundary["message"]
    # The failing line is the editor's line, where that Examples row is.
    features = (record(db_session, "2026.2").features_text or "").split("\n")
    assert "kyc_baseline is <status>" in features[boundary["failing_line"] - 1]
    page = html(author_client.get(f"/policies/jobs/{job_id}"))
    assert "3 of " in page and "scenarios fail" in page and "expected met, got not_met" in page
    # The editor shows the results of its own text.
    page = html(author_client.get("/policies/2026.2/edit"))
    assert 'id="failed-scenarios"' in page and "data-goto-line" in page


def test_a_job_starts_with_a_clock_a_registry_and_a_queue_and_no_app(
    app, author_client, author, db_session
):
    """What a command does: no app context, no request; a worker runs the job as planned."""
    from flask import has_app_context

    from hub.clock import Clock
    from hub.studio.drafts import compiled_policy
    from hub.studio.jobs import start_job
    from hub.tasks import dispatcher

    new_draft(author_client)
    rec = record(db_session, "2026.2")
    registry = catalogue_of(app).registry
    reads: list[int] = []

    def versions() -> Any:
        reads.append(1)
        return registry()

    assert not has_app_context()
    day = dt.datetime(2026, 12, 1, 6, tzinfo=dt.UTC)
    job = start_job(
        db_session,
        dispatch=dispatcher(app),
        clock=Clock.fixed(day, "Asia/Almaty"),
        registry=versions,
        kind="impact",
        record=rec,
        user=author,
    )
    view = wait_job(author_client, job.id)
    assert view["state"] == "done", view
    db_session.expire_all()
    done = db_session.get(StudioJob, job.id)
    assert done is not None and done.result is not None and reads == [1]
    starts = compiled_policy(rec).effective_from
    assert done.result["as_of"] == max(dt.date(2026, 12, 1), starts).isoformat()


def test_updated_scenarios_run_green(author_client, db_session):
    green_draft(author_client, db_session)


# --- diff -----------------------------------------------------------------------------------------


def test_diff_of_a_draft_with_its_base_and_of_any_two_versions(author_client, db_session):
    new_draft(author_client)
    rec = record(db_session, "2026.2")
    save(author_client, db_session, "2026.2", text=raise_kyc(rec.text))
    page = html(author_client.get("/policies/diff?old=2026.1&new=2026.2"))
    assert "kyc_baseline_min_pct" in page and "kyc_baseline" in page
    assert re.search(r"≥ 95|>= 95", page) and re.search(r"≥ 96|>= 96", page)
    page = html(author_client.get("/policies/diff?old=2026.1&new=2027.1"))
    assert "unhosted_wallet_checks" in page and "unhosted_wallet_verified_pct" in page
    assert "added" in page and "min_opex_in_zone_kzt" in page


# --- impact ---------------------------------------------------------------------------------------

POPULATION = [
    ("940140000385", "Kyc 95 Exchange LLP", t1_exchange(kyc_verified_clients_pct=95.0)),
    ("990140004654", "Kyc 95.5 Exchange LLP", t1_exchange(kyc_verified_clients_pct=95.5)),
    ("041048885984", "Kyc 99 Exchange LLP", t1_exchange(kyc_verified_clients_pct=99.0)),
    (
        "240242674593",
        "Transparent Broker LLP",
        t1_exchange(
            activity="broker",
            licence_type="service_provider",
            opex_in_zone_kzt=80_000_000.0,
            kyc_verified_clients_pct=100.0,
            qualifying_profit_kzt=50_000_000.0,
            vatable_turnover_kzt=100_000_000.0,
        ),
    ),
    (
        "030847979261",
        "Low Kyc Broker LLP",
        t1_exchange(
            activity="broker",
            licence_type="service_provider",
            opex_in_zone_kzt=80_000_000.0,
            kyc_verified_clients_pct=95.2,
        ),
    ),
    (
        "140846832444",
        "Software House LLP",
        {
            "legal_name": "Software House LLP",
            "activity": "software",
            "registered_in_hub": True,
            "fte_in_zone": 5,
            "record_retention_years": 5,
            "tax_arrears_kzt": 0.0,
            "sanctions_screening_hit": False,
            "property_value_kzt": 100_000_000.0,
        },
    ),
]


@pytest.fixture
def population(app: Flask, db_session: Session) -> list[Filing]:
    """One company per row, each with an older and a latest decided filing under 2026.1."""
    with app.app_context():
        policy = catalogue().registry().get("2026.1")
    filings = []
    for bin_, name, inputs in POPULATION:
        company = Company(bin=bin_, legal_name=name, activity=inputs["activity"])
        db_session.add(company)
        db_session.commit()
        filing_inputs = {**inputs, "bin": bin_, "legal_name": name}
        # An older filing that must not count (its company has a newer one).
        old = {**filing_inputs, "kyc_verified_clients_pct": 10.0}
        for data in (old, filing_inputs):
            decision = assess(policy, data, dt.date(2026, 9, 1))
            filing = Filing(
                company_id=company.id,
                inputs=data,
                status="submitted",
                policy_id=policy.id,
                policy_version=policy.version,
                policy_digest=policy.digest,
                decision=decision.to_dict(),
            )
            db_session.add(filing)
            db_session.commit()
        filings.append(filing)
    # A draft filing without a decision is not part of the population.
    db_session.add(Filing(company_id=filings[0].company_id, inputs={"bin": "x"}))
    db_session.commit()
    return filings


def direct_totals(app: Flask, filings: list[Filing], candidate: Any, as_of: dt.date) -> dict:
    """The numbers an analyst would compute by hand: assess each filing twice, under the
    version in force on ``as_of`` and under ``candidate``."""
    with app.app_context():
        baseline = catalogue().registry().select(as_of)
    rank = {"T1": 1, "T2": 2, "T3": 3, None: 0}
    tiers = {t: {"gaining": 0, "losing": 0} for t in ("T1", "T2", "T3")}
    benefits: dict[str, dict[str, int]] = {}
    saving_before = saving_after = 0.0
    changed_tier = 0
    for f in filings:
        before = assess(baseline, f.inputs, as_of)
        after = assess(candidate, f.inputs, as_of)
        changed_tier += before.tier != after.tier
        for t, n in tiers.items():
            was, now = rank[before.tier] >= rank[t], rank[after.tier] >= rank[t]
            n["gaining"] += now and not was
            n["losing"] += was and not now
        for b in set(before.benefit_ids) | set(after.benefit_ids):
            n = benefits.setdefault(b, {"gaining": 0, "losing": 0})
            n["gaining"] += b in after.benefit_ids and b not in before.benefit_ids
            n["losing"] += b in before.benefit_ids and b not in after.benefit_ids
        saving_before += before.total_saving
        saving_after += after.total_saving
    return {
        "tiers": tiers,
        "benefits": benefits,
        "tier_changes": changed_tier,
        "saving_change": round(saving_after - saving_before, 2),
    }


def test_impact_analysis_matches_a_direct_computation(
    app, author, author_client, db_session, population, fix_clock, login
):
    # While 2026.1 is in force (the draft keeps its effective date, 2026-07-01: as of today).
    fix_clock(dt.datetime(2026, 12, 1, 6, tzinfo=dt.UTC))
    login(author_client, author)  # two days on, the session of the fixture has ended
    new_draft(author_client)
    rec = record(db_session, "2026.2")
    save(author_client, db_session, "2026.2", text=raise_kyc(rec.text))
    job = run_impact(author_client, db_session, "2026.2")
    result = job.result
    totals = result["totals"]
    assert totals["companies"] == len(POPULATION)
    candidate = catalogue_policy_of(app, record(db_session, "2026.2"))
    as_of = dt.date.fromisoformat(result["as_of"])
    expected = direct_totals(app, population, candidate, as_of)
    assert totals["tier_changes"] == expected["tier_changes"]
    assert totals["saving_change"] == expected["saving_change"]
    for tier, n in expected["tiers"].items():
        assert (totals["tiers"][tier]["gaining"], totals["tiers"][tier]["losing"]) == (
            n["gaining"],
            n["losing"],
        ), tier
    for benefit, n in expected["benefits"].items():
        got = totals["benefits"][benefit]
        assert (got["gaining"], got["losing"]) == (n["gaining"], n["losing"]), benefit
    # The concrete story: 95 and 95.5 and 95.2 fall below the new baseline of 96.
    changed = {r["label"]: r for r in stored_rows(db_session, job) if r["changed"]}
    assert set(changed) == {"Kyc 95 Exchange LLP", "Kyc 95.5 Exchange LLP", "Low Kyc Broker LLP"}
    row = changed["Low Kyc Broker LLP"]
    assert (row["before"]["tier"], row["after"]["tier"]) == ("T1", None)
    assert row["flipped"] == [{"criterion": "kyc_baseline", "before": "met", "after": "not_met"}]
    assert "property_land_tax" in row["lost_benefits"]
    assert totals["tiers"]["T1"]["losing"] == 3 and totals["tiers"]["T1"]["gaining"] == 0
    # The page and the CSV say the same.
    page = html(author_client.get(f"/policies/jobs/{job.id}"))
    assert "3 of 6 companies change" in page and "Low Kyc Broker LLP" in page
    assert "Software House LLP" not in page
    response = author_client.get(f"/policies/jobs/{job.id}.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    lines = html(response).strip().splitlines()
    assert len(lines) == 1 + len(POPULATION)
    assert any("Low Kyc Broker LLP" in ln and "kyc_baseline: met -> not_met" in ln for ln in lines)


def catalogue_policy_of(app: Flask, rec: PolicyVersionRecord) -> Any:
    from hub.studio.drafts import policy_of_text

    return policy_of_text(rec)


def test_impact_of_2027_1_shows_the_missing_wallet_checks(
    app, author_client, db_session, population
):
    job = run_impact(author_client, db_session, "2027.1")
    rows = {r["label"]: r for r in stored_rows(db_session, job)}
    broker = rows["Transparent Broker LLP"]
    assert (broker["before"]["tier"], broker["after"]["tier"]) == ("T3", "T1") or (
        broker["before"]["tier"] != broker["after"]["tier"]
    )
    assert {"criterion": "unhosted_wallet_checks", "before": "absent", "after": "missing"} in (
        broker["flipped"]
    )
    software = rows["Software House LLP"]
    assert software["flipped"] == []  # a new criterion that does not apply is no change


# --- publish --------------------------------------------------------------------------------------


def test_publishing_a_failing_draft_is_refused(author_client, db_session):
    new_draft(author_client)
    rec = record(db_session, "2026.2")
    run_specs(author_client, db_session, "2026.2", text=raise_kyc(rec.text))
    run_impact(author_client, db_session, "2026.2")
    day = free_date(author_client.application, TEST_TODAY + dt.timedelta(days=3))
    page = html(author_client.get(f"/policies/2026.2/publish?effective_from={day}"))
    assert "Publishing is refused" in page and "3 scenario(s) fail" in page
    assert 'id="confirm-publish"' not in page
    response = author_client.post(
        "/policies/2026.2/publish", data={"effective_from": day.isoformat()}, follow_redirects=True
    )
    assert "cannot be published" in html(response) and "3 scenario(s) fail" in html(response)
    assert record(db_session, "2026.2").state == "draft"
    assert not db_session.exec(
        select(AuditRecord).where(AuditRecord.action == "policy.published")
    ).all()


def test_a_past_effective_date_is_refused(author_client, db_session, clock):
    green_draft(author_client, db_session)
    run_impact(author_client, db_session, "2026.2")
    yesterday = clock.today() - dt.timedelta(days=1)  # the hub's yesterday
    response = author_client.get(f"/policies/2026.2/publish?effective_from={yesterday}")
    assert response.status_code == 422
    assert "is in the past" in html(response)
    response = author_client.post(
        "/policies/2026.2/publish",
        data={"effective_from": yesterday.isoformat()},
        follow_redirects=True,
    )
    assert "is in the past" in html(response)
    assert record(db_session, "2026.2").state == "draft"


def test_a_date_with_decisions_already_made_is_refused(author_client, db_session, author):
    green_draft(author_client, db_session)
    run_impact(author_client, db_session, "2026.2")
    future = free_date(author_client.application, TEST_TODAY + dt.timedelta(days=5))
    db_session.add(
        Assessment(
            as_of=future + dt.timedelta(days=2),
            policy_id="astana-crypto-hub",
            policy_version="2026.1",
            policy_digest="sha256:x",
            inputs={},
            decision={},
        )
    )
    db_session.commit()
    response = author_client.get(f"/policies/2026.2/publish?effective_from={future}")
    assert "Decisions have already been made" in html(response)


def test_publishing_needs_an_impact_analysis(author_client, db_session):
    green_draft(author_client, db_session)
    day = free_date(author_client.application, TEST_TODAY + dt.timedelta(days=3))
    response = author_client.post(
        "/policies/2026.2/publish", data={"effective_from": day.isoformat()}, follow_redirects=True
    )
    assert "no finished impact analysis of the current text as of the effective date " + (
        day.isoformat()
    ) in html(response)
    assert record(db_session, "2026.2").state == "draft"


def test_publish_applies_from_its_date_and_other_servers_pick_it_up(
    make_app, app, author_client, db_session, author, make_user
):
    other_server = make_app()  # started before the publication
    with other_server.app_context():
        catalogue().registry()
        # Its once-a-second check reads this time source: the test steps it, never sleeps.
        now = [catalogue().monotonic()]
        catalogue().monotonic = lambda: now[0]
    green_draft(author_client, db_session)
    day = free_date(app, TEST_TODAY + dt.timedelta(days=3))
    run_impact(author_client, db_session, "2026.2", day)
    approve_draft(db_session, make_user, "2026.2")
    page = html(author_client.get(f"/policies/2026.2/publish?effective_from={day}"))
    assert "All " in page and "scenarios pass" in page and 'id="confirm-publish"' in page
    response = author_client.post(
        "/policies/2026.2/publish",
        data={
            "effective_from": day.isoformat(),
            "lock_version": record(db_session, "2026.2").lock_version,
        },
    )
    assert response.status_code == 302, html(response)
    rec = record(db_session, "2026.2")
    assert rec.state == "published" and rec.effective_from == day and rec.published_at
    assert f"effective_from: {day.isoformat()}" in rec.text
    entry = db_session.exec(
        select(AuditRecord).where(AuditRecord.action == "policy.published")
    ).one()
    assert entry.policy_version == "2026.2" and entry.policy_digest == rec.digest
    assert entry.actor_id == author.id and entry.after["effective_from"] == day.isoformat()
    # Immutable from now on.
    response = save(author_client, db_session, "2026.2", follow_redirects=True)
    assert record(db_session, "2026.2").text == rec.text
    # This server: from its date, and not a day earlier.
    with app.app_context():
        registry = catalogue().registry()
        assert registry.select(day).version == "2026.2"
        assert registry.select(day - dt.timedelta(days=1)).version == "2026.1"
    # Another server started before: picks it up within its one-second check, no restart.
    with other_server.app_context():
        assert catalogue().registry().select(day).version == "2026.1"  # not checked yet
    now[0] += 1.1
    with other_server.app_context():
        registry = catalogue().registry()
        assert registry.select(day).version == "2026.2"
        assert registry.select(day - dt.timedelta(days=1)).version == "2026.1"
    # A server started afterwards has it too; so does the API.
    fresh = make_app()
    with fresh.app_context():
        assert catalogue().registry().select(day).version == "2026.2"
    body = {"filing": {"bin": "940140000385", **t1_exchange(kyc_verified_clients_pct=95.5)}}
    api = fresh.test_client()
    before = api.post(
        "/api/v1/assessments", json={**body, "as_of": (day - dt.timedelta(days=1)).isoformat()}
    )
    after = api.post("/api/v1/assessments", json={**body, "as_of": day.isoformat()})
    assert before.status_code == 200 and after.status_code == 200, after.get_json()
    assert before.get_json()["policy"]["version"] == "2026.1"
    assert after.get_json()["policy"]["version"] == "2026.2"
    statuses = {c["id"]: c["status"] for c in after.get_json()["criteria"]}
    assert statuses["kyc_baseline"] == "not_met"


def test_a_draft_can_be_discarded(author_client, db_session):
    new_draft(author_client)
    response = author_client.post("/policies/2026.2/delete", follow_redirects=True)
    assert "Draft 2026.2 discarded" in html(response)
    assert (
        db_session.exec(
            select(PolicyVersionRecord).where(PolicyVersionRecord.version == "2026.2")
        ).first()
        is None
    )
    response = author_client.post("/policies/2026.1/delete", follow_redirects=True)
    assert "can no longer be changed" in html(response)


def test_a_scenario_file_that_does_not_parse_is_shown_and_blocks_publishing(
    author_client, db_session
):
    new_draft(author_client)
    features = (record(db_session, "2026.2").features_text or "").split("\n")
    line = next(i for i, ln in enumerate(features) if "kyc_baseline is <status>" in ln) + 1
    features[line - 1] = features[line - 1].replace("Then criterion", "Thenn criterion")
    job = run_specs(author_client, db_session, "2026.2", features_text="\n".join(features))
    assert job.result["errors"] and not job.result["summary"]["ok"]
    assert f"({line}:" in job.result["errors"][0]
    page = html(author_client.get("/policies/2026.2/edit"))
    assert "does not parse" in page and str(line) in page.split("data-error-lines=")[2][:40]
    day = free_date(author_client.application, TEST_TODAY + dt.timedelta(days=3))
    page = html(author_client.get(f"/policies/2026.2/publish?effective_from={day}"))
    assert "Publishing is refused" in page and "do not parse" in page


def test_a_yaml_1_1_form_in_a_draft_is_refused_at_its_line(author_client, db_session):
    new_draft(author_client)
    text = record(db_session, "2026.2").text
    ambiguous = text.replace(
        "max_str_median_hours: {value: 24,", "max_str_median_hours: {value: 24:00,"
    )
    assert ambiguous != text
    line = ambiguous.split("\n").index("  max_str_median_hours: {value: 24:00, unit: hours}") + 1
    response = save(author_client, db_session, "2026.2", text=ambiguous)
    assert response.status_code == 422
    page = html(response)
    assert "parameters.max_str_median_hours.value: 24:00 means 1440 in YAML 1.1" in page
    assert f'data-error-lines="{line}"' in page
    assert record(db_session, "2026.2").digest is None  # kept, but not usable


def test_draft_scenarios_read_tags_as_hub_policy_test_and_pytest_do(author_client, db_session):
    new_draft(author_client)
    odd = (
        "\n\n  @v2026.2 @owner:tax-office @налог @a.b\n"
        "  Scenario: a scenario under odd tags runs\n"
        '    Given a miner "Qazaq Hash LLP" with BIN 940140000385\n'
        "    When the company is assessed\n"
        "    Then criterion no_sanctions is missing\n"
    )
    features = (record(db_session, "2026.2").features_text or "").rstrip("\n") + odd
    job = run_specs(author_client, db_session, "2026.2", features_text=features)
    assert job.result["summary"]["ok"], job.result["summary"]
    ran = [s for s in job.result["scenarios"] if s["name"] == "a scenario under odd tags runs"]
    assert [s["status"] for s in ran] == ["passed"] and "@owner:tax-office" in ran[0]["tags"]

    # A tag pytest-bdd cannot apply (on an Examples block) is refused at its line.
    lines = features.split("\n")
    at = next(i for i, ln in enumerate(lines) if ln.strip().startswith("Examples:"))
    indent = lines[at][: len(lines[at]) - len(lines[at].lstrip())]
    lines.insert(at, f"{indent}@owner:tax-office")
    job = run_specs(author_client, db_session, "2026.2", features_text="\n".join(lines))
    assert not job.result["summary"]["ok"]
    assert any(f"({at + 1}:" in e and "@owner:tax-office" in e for e in job.result["errors"])
    page = html(author_client.get("/policies/2026.2/edit"))
    assert str(at + 1) in page.split("data-error-lines=")[2][:40]


def test_a_draft_whose_aliases_loop_or_explode_is_refused_not_a_500(author_client, db_session):
    new_draft(author_client)
    text = record(db_session, "2026.2").text
    param = "  max_str_median_hours: {value: 24, unit: hours}"
    looping = text.replace(param, "  max_str_median_hours: &r {value: 24, unit: hours, s: *r}")
    assert looping != text
    response = save(author_client, db_session, "2026.2", text=looping)
    assert response.status_code == 422
    assert "an anchor (&amp;r): anchors (&amp;name) and aliases (*name) are not" in html(response)
    bomb = "".join(
        f"a{i}: &a{i} [{', '.join([f'*a{i - 1}' if i else 'x'] * 9)}]\n" for i in range(9)
    )
    response = save(author_client, db_session, "2026.2", text=bomb + text)
    assert response.status_code == 422
    assert "an anchor (&amp;a0)" in html(response)


@pytest.mark.parametrize("typed", ["²", "٢", " 1", "9" * 30])
def test_a_revision_number_not_written_in_ascii_digits_is_refused(author_client, db_session, typed):
    new_draft(author_client)
    before = record(db_session, "2026.2").lock_version
    response = save(author_client, db_session, "2026.2", text="id: x\n", lock_version=typed)
    assert response.status_code == 400
    assert record(db_session, "2026.2").lock_version == before
