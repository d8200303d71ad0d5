"""Pages of the policy studio under /policies (authors write; administrators read).

Thin: each view parses the form, calls a use case of ``hub.studio`` (drafts, jobs, publishing)
and renders. Refusals come back as domain errors and are shown where the
author is (the editor keeps the unsaved text on a conflict).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from sqlmodel import Session, col, select
from werkzeug.wrappers import Response as BaseResponse

from hub import app_clock as clock
from hub import app_jobs
from hub.app_catalogue import catalogue
from hub.auth.guards import roles_required
from hub.db import get_engine, get_session
from hub.errors import ApiError, status_of
from hub.models import PolicyState, PolicyVersionRecord, Role, StudioJob, User
from hub.policy import Period, Policy, PolicyError, PolicyRegistry
from hub.policy.diff import diff_policies
from hub.policy.impact import default_as_of, rows_to_csv
from hub.services.errors import DomainError, FieldError, Invalid
from hub.specs import default_features_dir
from hub.studio import drafts as studio_drafts
from hub.studio import impact_runs as studio_impact_runs
from hub.studio import jobs as studio_jobs
from hub.studio import publishing as studio_publishing
from hub.studio import versions as studio_versions
from hub.tasks import dispatcher
from hub.web.params import ascii_date, ascii_int

bp = Blueprint("studio", __name__, url_prefix="/policies")

READERS = (Role.AUTHOR, Role.ADMIN)
#: Who approves, publishes and retires versions: whom ``hub.studio.publishing`` lets
#: (its ``APPROVER_ROLES``), never the one who edited the draft (for approval).
PUBLISHERS = (Role.AUTHOR, Role.ADMIN)


def _user() -> User:
    user: User = current_user._get_current_object()
    return user


def _record(version: str) -> PolicyVersionRecord:
    """The stored version, or the 404 page (``NotFound``, mapped by ``hub.errors``)."""
    return studio_drafts.get_record(get_session(), version)


def _authors(session: Any, records: list[PolicyVersionRecord]) -> dict[int, str]:
    """E-mail by user id of everyone named on these records (author, approver, publisher,
    retirer)."""
    ids = {
        i
        for r in records
        for i in (r.author_id, r.approved_by_id, r.published_by_id, r.retired_by_id)
        if i
    }
    if not ids:
        return {}
    users = session.exec(select(User).where(col(User.id).in_(ids))).all()
    return {u.id: u.email for u in users}


def _can_write() -> bool:
    return bool(current_user.is_authenticated and current_user.role == Role.AUTHOR.value)


def _can_publish() -> bool:
    """Whether the signed-in user may run the checks, publish and retire (``PUBLISHERS``)."""
    return bool(
        current_user.is_authenticated and current_user.role in {r.value for r in PUBLISHERS}
    )


@bp.before_request
def _fail_stopped_jobs() -> None:
    """Jobs whose process stopped are marked failed (at most once a minute)."""
    app_jobs.sweep()


@bp.app_context_processor
def studio_context() -> dict[str, Any]:
    return {"studio_can_write": _can_write, "studio_can_publish": _can_publish}


# --- the timeline ------------------------------------------------------------------------

#: how far the bar draws an open-ended period past the last date it names
_OPEN_END = dt.timedelta(days=365)


@dataclass(frozen=True)
class TimelineRow:
    """One period of the timeline as the page shows it.

    ``start`` is the first day, ``last_day`` the last one (None: no end date);
    ``version`` None is a gap in which no version applies. ``starts``/``ends``
    say in words why the period begins and ends; ``when`` is past, today or
    future; ``share`` is the period's width on the bar (a weight, not a unit).
    """

    start: dt.date
    last_day: dt.date | None
    version: str | None
    starts: str
    ends: str
    when: str
    share: int


@dataclass
class PolicyTimeline:
    """The timeline of one policy: its periods, and what the periods leave out.

    ``never``: published versions in force on no day, with why; ``retired``:
    (version, first day no longer applied); ``today_at``: where today falls on
    the bar, in percent (None when before the first period).
    """

    policy_id: str
    rows: list[TimelineRow]
    never: list[tuple[str, str]] = field(default_factory=list)
    retired: list[tuple[str, dt.date]] = field(default_factory=list)
    today_at: float | None = None

    def of(self, version: str) -> list[TimelineRow]:
        """The periods in which ``version`` is in force, oldest first."""
        return [r for r in self.rows if r.version == version]


def timeline_view(
    registry: PolicyRegistry,
    policy_id: str,
    today: dt.date,
    periods: list[Period] | None = None,
) -> PolicyTimeline:
    """``registry.timeline(policy_id)`` (or ``periods`` already cut from ``registry``, as a
    publication or retirement plan gives them) spelt out for the page (see ``TimelineRow``)."""
    if periods is None:
        periods = registry.timeline(policy_id)
    versions = registry.versions(policy_id)
    out = PolicyTimeline(policy_id, [])
    if not periods:
        return out
    # A period starting near 9999-12-31 (a date typed on the publish or retire page) has
    # no room for the open end: the bar stops at the last date there is.
    last = max(periods[-1].start, today)
    horizon = last + min(_OPEN_END, dt.date.max - last)
    seen: set[str] = set()
    previous: Policy | None = None
    for i, period in enumerate(periods):
        policy = period.policy
        following = periods[i + 1].policy if i + 1 < len(periods) else None
        prev_retired = previous is not None and registry.retired_from(previous) == period.start
        why_prev = (
            f"{previous.version} is retired from {period.start.isoformat()}"
            if previous is not None and prev_retired
            else ""
        )
        if policy is None:
            starts = "No version applies" + (f": {why_prev}" if why_prev else "")
        elif policy.version in seen:
            starts = f"{policy.version} applies again from {period.start.isoformat()}" + (
                f" ({why_prev})" if why_prev else ""
            )
        else:
            starts = f"{policy.version} takes effect on {period.start.isoformat()}"
        ends = ""
        if period.end is not None:
            day = period.end.isoformat()
            if policy is not None and registry.retired_from(policy) == period.end:
                ends = f"retired from {day}"
            elif following is not None:
                ends = f"replaced by {following.version} from {day}"
        if period.covers(today):
            when = "today"
        elif period.end is not None and period.end <= today:
            when = "past"
        else:
            when = "future"
        out.rows.append(
            TimelineRow(
                start=period.start,
                last_day=period.end - dt.timedelta(days=1) if period.end else None,
                version=policy.version if policy else None,
                starts=starts,
                ends=ends,
                when=when,
                share=max(1, ((period.end or horizon) - period.start).days),
            )
        )
        if policy is not None:
            seen.add(policy.version)
        previous = policy
    for p in versions:
        retired = registry.retired_from(p)
        if retired is not None:
            out.retired.append((p.version, retired))
        if p.version in seen:
            continue
        if retired is not None and retired <= p.effective_from:
            out.never.append((p.version, f"retired from {retired.isoformat()}, its first day"))
        else:
            later = [q for q in versions if q.effective_from == p.effective_from and q is not p]
            by = later[-1].version if later else "a later version"
            out.never.append(
                (p.version, f"{by} takes effect on the same day, {p.effective_from.isoformat()}")
            )
    first = periods[0].start
    if today >= first:
        out.today_at = round(100 * (today - first).days / max(1, (horizon - first).days), 2)
    return out


def _timelines(
    registry: PolicyRegistry, policy_ids: list[str], today: dt.date
) -> list[PolicyTimeline]:
    return [timeline_view(registry, pid, today) for pid in policy_ids]


def approval_of(record: PolicyVersionRecord, emails: dict[int, str]) -> str:
    """A draft's approval state in words: approved by whom at which revision, voided by a
    later save, or not yet approved."""
    if record.approved_by_id is None:
        return "not approved yet"
    who = emails.get(record.approved_by_id, "?")
    at = record.approved_at.strftime("%Y-%m-%d %H:%M UTC") if record.approved_at else "?"
    if record.approved_revision == record.lock_version:
        return f"approved by {who} at revision {record.approved_revision} ({at})"
    return (
        f"approval by {who} at revision {record.approved_revision} voided by a later save "
        f"(now revision {record.lock_version})"
    )


@bp.route("", methods=["GET"])
@roles_required(*READERS)
def index() -> str:
    """Every stored version: state, effective date, digest, author."""
    session = get_session()
    records = list(
        session.exec(
            select(PolicyVersionRecord).order_by(
                PolicyVersionRecord.policy_id,
                col(PolicyVersionRecord.state) != PolicyState.DRAFT.value,
                col(PolicyVersionRecord.effective_from).desc(),
                col(PolicyVersionRecord.version).desc(),
            )
        ).all()
    )
    registry = catalogue().registry()
    today = clock.today()
    policy_ids = sorted({r.policy_id for r in records} | {p.id for p in registry.versions()})
    in_force = set()
    for pid in policy_ids:
        with contextlib.suppress(LookupError):
            in_force.add(registry.select(today, policy_id=pid).version)
    emails = _authors(session, records)
    return render_template(
        "studio/index.html",
        records=records,
        drafts=[r for r in records if r.state == PolicyState.DRAFT.value],
        authors=emails,
        approvals={r.id: approval_of(r, emails) for r in records},
        in_force=in_force,
        timelines=_timelines(registry, policy_ids, today),
        today=today,
    )


@bp.route("/<version>", methods=["GET"])
@roles_required(*READERS)
def show(version: str) -> Any:
    """A version in words: inputs, criteria with conditions and citations, tiers, benefits;
    its place on the timeline; for a draft, its approval."""
    return _render_show(_record(version))


def _render_show(
    record: PolicyVersionRecord, approve_errors: list[FieldError] | None = None, status: int = 200
) -> tuple[str, int]:
    session = get_session()
    policy = None
    errors: list[dict[str, Any]] = []
    try:
        policy = studio_versions.policy_of(record) if record.digest else None
    except PolicyError:
        policy = None
    if policy is None:
        errors = studio_drafts.validation_errors(record)
    emails = _authors(session, [record])
    may_approve, why_not = _may_approve(session, record)
    return render_template(
        "studio/show.html",
        impact_as_of=default_as_of(policy, clock.today()) if policy else None,
        record=record,
        policy=policy.to_dict() if policy else None,
        errors=errors,
        authors=emails,
        approval=approval_of(record, emails),
        approved=studio_publishing.is_approved(record),
        may_approve=may_approve,
        why_not_approve=why_not,
        approve_errors=approve_errors or [],
        timeline=timeline_view(catalogue().registry(), record.policy_id, clock.today()),
        suggested=studio_drafts.suggest_version(session, record),
        specs_job=studio_jobs.latest_job(session, record, "specs"),
        impact_job=studio_jobs.latest_job(session, record, "impact"),
        today=clock.today(),
    ), status


@bp.route("/<version>/drafts", methods=["POST"])
@roles_required(Role.AUTHOR)
def create_draft(version: str) -> BaseResponse:
    """A new draft from this version (text and scenarios copied)."""
    session = get_session()
    base = _record(version)
    new_version = (request.form.get("version") or "").strip()
    try:
        record = studio_drafts.create_draft(
            session,
            base=base,
            version=new_version,
            author=_user(),
            features_dir=current_app.config.get("FEATURES_DIR") or default_features_dir(),
        )
        session.commit()
    except DomainError as exc:
        session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("studio.show", version=version))
    flash(
        f"Draft {record.version} created from {base.version}, with "
        f"{record.features_text.count('Scenario') if record.features_text else 0} scenarios "
        "copied from it. Edit the rules and the scenarios, then run them.",
        "success",
    )
    return redirect(url_for("studio.edit", version=record.version))


def _render_editor(
    record: PolicyVersionRecord,
    *,
    text: str | None = None,
    features_text: str | None = None,
    lock_version: int | None = None,
    errors: list[dict[str, Any]] | None = None,
    conflict: str | None = None,
    refused: str | None = None,
    status: int = 200,
) -> tuple[str, int]:
    session = get_session()
    if errors is None:
        errors = studio_drafts.validation_errors(record)
    specs_job = studio_jobs.latest_job(session, record, "specs")
    specs = specs_job.result if specs_job and specs_job.state == "done" else None
    feature_lines: set[int] = set()
    if specs:
        feature_lines.update(s["failing_line"] for s in specs["scenarios"] if s["failing_line"])
        for problem in specs["errors"]:
            # Gherkin's "(211:5): expected ..." - the first place it could not read.
            found = re.search(r"\(([0-9]+):[0-9]+\)", problem)
            if found:
                feature_lines.add(int(found.group(1)))
        # The first page of results, failed first; the run's page holds the others.
        first = studio_jobs.page_of(studio_jobs.failed_first(specs["scenarios"]), 1)
        specs = {**specs, "scenarios": first.items}
    return (
        render_template(
            "studio/edit.html",
            record=record,
            text=record.text if text is None else text,
            features_text=(record.features_text or "") if features_text is None else features_text,
            lock_version=record.lock_version if lock_version is None else lock_version,
            errors=errors,
            error_lines=sorted({e["line"] for e in errors if e["line"]}),
            conflict=conflict,
            refused=refused,
            specs_job=specs_job,
            specs=specs,
            feature_error_lines=sorted(feature_lines),
            authors=_authors(session, [record]),
        ),
        status,
    )


@bp.route("/<version>/edit", methods=["GET"])
@roles_required(*READERS)
def edit(version: str) -> Any:
    record = _record(version)
    if record.state != PolicyState.DRAFT.value:
        flash(
            f"Version {record.version} is {record.state}: published versions never change. "
            "Create a draft from it to make a new version.",
            "info",
        )
        return redirect(url_for("studio.show", version=version))
    return _render_editor(record)


@bp.route("/<version>/edit", methods=["POST"])
@roles_required(Role.AUTHOR)
def save(version: str) -> Any:
    """Save the text and scenarios; validation errors come back at their lines."""
    session = get_session()
    record = _record(version)
    text = request.form.get("text", "")
    features_text = request.form.get("features_text")
    lock_version = ascii_int(request.form.get("lock_version"), default=-1)
    if lock_version < 0:
        raise ApiError(400, "The form is missing its revision number: reload the page.")
    try:
        errors = studio_drafts.save_draft(
            session,
            record=record,
            text=text,
            features_text=features_text,
            lock_version=lock_version,
            author=_user(),
        )
        session.commit()
    except studio_drafts.DraftChanged as exc:
        session.rollback()
        record = _record(version)
        return _render_editor(
            record,
            text=text,
            features_text=features_text,
            lock_version=lock_version,
            errors=[],
            conflict=exc.message,
            status=409,
        )
    except Invalid as exc:  # too long to store: refused, the text kept on screen
        session.rollback()
        return _render_editor(
            _record(version),
            text=text,
            features_text=features_text,
            lock_version=lock_version,
            errors=[],
            refused=exc.message,
            status=422,
        )
    except DomainError as exc:
        session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("studio.show", version=version))
    if errors:
        flash(
            f"Saved, but the text does not compile: {len(errors)} error"
            f"{'s' if len(errors) != 1 else ''} (marked in the editor). It cannot be tested "
            "or published until they are fixed.",
            "error",
        )
        return _render_editor(record, errors=errors, status=422)
    if request.form.get("action") == "run":
        # "Save and run the scenarios": never test an older text than the one on screen.
        return _start(version, "specs")
    flash(f"Saved revision {record.lock_version}. The text compiles.", "success")
    return redirect(url_for("studio.edit", version=version))


@bp.route("/<version>/delete", methods=["POST"])
@roles_required(Role.AUTHOR)
def delete(version: str) -> BaseResponse:
    session = get_session()
    record = _record(version)
    try:
        studio_drafts.delete_draft(session, record=record, actor=_user())
        session.commit()
    except DomainError as exc:
        session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("studio.show", version=version))
    flash(f"Draft {version} discarded.", "success")
    return redirect(url_for("studio.index"))


def _start(version: str, kind: str, as_of: dt.date | None = None) -> Any:
    session = get_session()
    record = _record(version)
    try:
        job = studio_jobs.start_job(
            session,
            dispatch=dispatcher(current_app),
            clock=clock.app_clock(),
            registry=catalogue().registry,
            kind=kind,
            record=record,
            user=_user(),
            as_of=as_of,
        )
    except DomainError as exc:
        session.rollback()
        if exc.field == "as_of":
            return _impact_form(record, as_of.isoformat() if as_of else "", exc.message)
        flash(exc.message, "error")
        target = "studio.edit" if record.state == PolicyState.DRAFT.value else "studio.show"
        return redirect(url_for(target, version=version))
    return redirect(url_for("studio.job", job_id=job.id))


@bp.route("/<version>/specs", methods=["POST"])
@roles_required(*PUBLISHERS)
def run_specs(version: str) -> BaseResponse:
    """Run the version's scenarios in the background; the job page shows progress."""
    return _start(version, "specs")


AS_OF_FORMAT = "Write the date as YYYY-MM-DD (for example 2027-03-01)."


def _impact_form(record: PolicyVersionRecord, raw: str, error: str | None) -> Any:
    """The impact form: the as-of date (``raw`` as typed), its error, and what it compares."""
    today = clock.today()
    plan, default, problem = None, None, None
    try:
        policy = studio_drafts.compiled_policy(record)
    except DomainError as exc:
        policy, problem = None, exc.message
    if policy is not None:
        default = default_as_of(policy, today)
        day = ascii_date(raw) if raw else default
        if error is None and day is None:
            error = AS_OF_FORMAT
        if error is None and day is not None:
            try:
                plan = studio_jobs.plan_impact(
                    catalogue().registry(), policy, today=today, as_of=day
                )
            except DomainError as exc:
                error = exc.message
    page = render_template(
        "studio/impact.html",
        record=record,
        raw=raw or (default.isoformat() if default else ""),
        default=default,
        error=error,
        problem=problem,
        plan=plan,
        today=today,
    )
    return page, (422 if error or problem else 200)


@bp.route("/<version>/impact", methods=["GET"])
@roles_required(*READERS)
def impact_form(version: str) -> Any:
    """The impact form: choose the as-of date (?as_of=D) and see which version it is against."""
    raw = request.args.get("as_of", "")
    return _impact_form(_record(version), raw, None)


@bp.route("/<version>/impact", methods=["POST"])
@roles_required(*PUBLISHERS)
def run_impact(version: str) -> Any:
    """Re-assess every company's latest filing under this version and under the version
    otherwise in force on the as-of date (the form's ``as_of``; default: the draft's
    effective date, or today when that is past), in the background."""
    raw = request.form.get("as_of", "").strip()
    as_of = ascii_date(raw)
    if raw and as_of is None:
        return _impact_form(_record(version), raw, AS_OF_FORMAT)
    return _start(version, "impact", as_of)


def _job(job_id: int) -> StudioJob:
    job = get_session().get(StudioJob, job_id)
    if job is None:
        raise ApiError(404, "There is no such run.")
    return job


def _job_record(job: StudioJob) -> PolicyVersionRecord | None:
    return (
        get_session()
        .exec(
            select(PolicyVersionRecord).where(
                PolicyVersionRecord.policy_id == job.policy_id,
                PolicyVersionRecord.version == job.version,
            )
        )
        .first()
    )


def _results_page(job: StudioJob, show_all: bool) -> studio_jobs.Page[dict[str, Any]]:
    """The page (``?page=``) of a finished job's results: scenarios, failed first, or
    the impact rows (only the companies that change unless ``show_all``)."""
    result = job.result or {}
    if job.kind == "specs":
        items = studio_jobs.failed_first(result.get("scenarios", []))
    elif result.get("run") is not None:  # the rows are stored beside the job, not in it
        with get_engine().connect() as conn:
            rows, number, pages, total = studio_impact_runs.rows_page(
                conn,
                result["run"],
                changed_only=not show_all,
                number=ascii_int(request.args.get("page"), default=1),
                size=studio_jobs.PAGE_SIZE,
            )
        return studio_jobs.Page(rows, number, pages, total)
    else:  # an analysis made before the rows were stored apart
        rows = result.get("rows", [])
        items = rows if show_all else [r for r in rows if r["changed"]]
    return studio_jobs.page_of(items, ascii_int(request.args.get("page"), default=1))


@bp.route("/jobs/<int:job_id>", methods=["GET"])
@roles_required(*READERS)
def job(job_id: int) -> str:
    """Progress while running; results (per scenario, or per company) when done, a
    page of 100 at a time."""
    job = _job(job_id)
    record = _job_record(job)
    result = job.result or {}
    show_all = request.args.get("all") == "1"
    page = _results_page(job, show_all)
    if job.kind == "specs" and result:
        result = {**result, "scenarios": page.items}
    return render_template(
        "studio/job.html",
        job=job,
        view=studio_jobs.job_view(job),
        record=record,
        current=studio_jobs.is_current(job, record),
        result=result,
        rows=page.items if job.kind == "impact" else [],
        page=page,
        show_all=show_all,
        keep_all_up_to=studio_impact_runs.KEEP_ALL_UP_TO,
    )


@bp.route("/jobs/<int:job_id>.json", methods=["GET"])
@roles_required(*READERS)
def job_json(job_id: int) -> BaseResponse:
    """The job's progress; once done, a page (``?page=``, 100 each) of its results
    (``results.items``: scenarios, failed first, or impact rows; ``?all=1``: every
    company, not only those that change)."""
    job = _job(job_id)
    view = studio_jobs.job_view(job)
    if job.state == "done" and job.result:
        view["results"] = _results_page(job, request.args.get("all") == "1").to_dict()
    return jsonify(view)


@bp.route("/jobs/<int:job_id>/rerun", methods=["POST"])
@roles_required(Role.AUTHOR)
def rerun(job_id: int) -> BaseResponse:
    """Run a failed job again on the same (still current) text."""
    job = _job(job_id)
    session = get_session()
    try:
        new = studio_jobs.rerun_job(
            session,
            job=job,
            record=_job_record(job),
            clock=clock.app_clock(),
            registry=catalogue().registry,
            dispatch=dispatcher(current_app),
            user=_user(),
        )
    except DomainError as exc:
        session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("studio.job", job_id=job_id))
    return redirect(url_for("studio.job", job_id=new.id))


@bp.route("/jobs/<int:job_id>.csv", methods=["GET"])
@roles_required(*READERS)
def job_csv(job_id: int) -> BaseResponse:
    """The impact of a finished analysis, one line per company (streamed, 500 at a time)."""
    job = _job(job_id)
    if job.kind != "impact" or job.state != "done" or not job.result:
        raise ApiError(409, "This run has no impact result to download (yet).")
    run_id = job.result.get("run")
    engine = get_engine()

    def stored() -> Iterator[dict[str, Any]]:
        if run_id is None:  # an analysis made before the rows were stored apart
            yield from job.result["rows"] if job.result else []
            return
        with engine.connect() as conn:
            yield from studio_impact_runs.rows(conn, run_id, changed_only=False)

    def lines() -> Iterator[str]:
        yield rows_to_csv([])
        batch: list[dict[str, Any]] = []
        for row in stored():
            batch.append(row)
            if len(batch) == 500:
                yield rows_to_csv(batch).partition("\r\n")[2]  # no header
                batch = []
        yield rows_to_csv(batch).partition("\r\n")[2]

    name = f"impact-{job.policy_id}-{job.version}-{job.id}.csv"
    return Response(
        lines(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@bp.route("/diff", methods=["GET"])
@roles_required(*READERS)
def diff() -> Any:
    """Compare any two versions (?old=2026.1&new=2027.1)."""
    session = get_session()
    versions = session.exec(
        select(PolicyVersionRecord.version).order_by(PolicyVersionRecord.version)
    ).all()
    old, new = request.args.get("old"), request.args.get("new")
    result = None
    problem = None
    if old and new:
        try:
            a = studio_drafts.compiled_policy(_record(old))
            b = studio_drafts.compiled_policy(_record(new))
            result = diff_policies(a, b)
        except DomainError as exc:
            problem = exc.message
    return render_template(
        "studio/diff.html", versions=versions, old=old, new=new, diff=result, problem=problem
    )


# --- approval, publication, retirement -------------------------------------------------------


def _may_approve(session: Any, record: PolicyVersionRecord) -> tuple[bool, str]:
    """Whether the signed-in user may approve this draft now, and if not, why (in words)."""
    user = _user()
    if record.state != PolicyState.DRAFT.value:
        return False, f"Version {record.version} is {record.state}: only drafts are approved."
    if user.role not in (Role.AUTHOR.value, Role.ADMIN.value):
        return False, "Only authors and administrators approve drafts."
    if user.id in studio_publishing.editors_of(session, record):
        return False, (
            "You created or saved this draft, so you cannot approve it: a second person (an "
            "author or administrator who did not edit it) must approve it before it can be "
            "published."
        )
    if studio_publishing.is_approved(record):
        return False, f"Revision {record.lock_version} is approved: nothing more to approve."
    if not record.digest:
        return False, "The text does not compile: it cannot be approved until it does."
    return True, ""


@bp.route("/<version>/approve", methods=["POST"])
@roles_required(Role.AUTHOR, Role.ADMIN)
def approve(version: str) -> Any:
    """Approve the revision of a draft the approver read (the form's ``lock_version``)."""
    session = get_session()
    record = _record(version)
    lock = ascii_int(request.form.get("lock_version"), default=-1)
    try:
        if lock < 0:
            raise Invalid(
                "The form is missing the revision you read: reload the page.", field="lock_version"
            )
        studio_publishing.approve(session, record=record, actor=_user(), lock_version=lock)
        session.commit()
    except DomainError as exc:
        session.rollback()
        return _render_show(_record(version), exc.errors, status_of(exc))
    flash(
        f"You approved revision {record.approved_revision} of {version}. Any later save voids "
        "the approval.",
        "success",
    )
    return redirect(url_for("studio.show", version=version))


def _date_arg(raw: str | None, name: str, default: dt.date) -> tuple[dt.date, FieldError | None]:
    """A date from a form or query field, or the default and the field's error."""
    if raw is None or raw == "":
        return default, None
    day = ascii_date(raw)  # not ``fromisoformat`` alone: it reads 2026-W50-1 as 2026-12-07
    if day is None:
        return default, {
            "field": name,
            "message": f"{raw[:40]!r} is not a date: write it as YYYY-MM-DD.",
        }
    return day, None


def _render_publish(
    record: PolicyVersionRecord,
    raw: str | None,
    errors: list[FieldError],
    status: int = 200,
) -> tuple[str, int]:
    """The publish page: never runs anything, it reads the last finished run, the approval,
    and the plan of publishing on the chosen date."""
    session = get_session()
    today = clock.today()
    effective, date_error = _date_arg(raw, "effective_from", today + dt.timedelta(days=1))
    if date_error:
        errors = [date_error, *errors]
    registry = catalogue().registry()
    plan = None
    try:
        plan = studio_publishing.plan_publication(
            session, record=record, effective_from=effective, today=today, registry=registry
        )
    except DomainError as exc:
        errors = [*errors, *exc.errors]
    after = None
    if plan is not None:
        after = timeline_view(
            registry.with_versions([plan.policy]),
            record.policy_id,
            today,
            periods=plan.timeline,
        )
    specs_job = studio_jobs.latest_job(session, record, "specs")
    impact_job = (plan.impact_job if plan else None) or studio_jobs.latest_job(
        session, record, "impact"
    )
    spec_job = plan.spec_job if plan else studio_publishing.latest_spec_result(session, record)
    emails = _authors(session, [record])
    if status == 200 and (errors or (raw and plan is not None and not plan.ok)):
        status = 422  # the date asked for (or the draft) cannot be published: said on the page
    return render_template(
        "studio/publish.html",
        record=record,
        today=today,
        effective=effective,
        raw=raw if raw else effective.isoformat(),
        plan=plan,
        after=after,
        until_last=plan.until_from - dt.timedelta(days=1) if plan and plan.until_from else None,
        errors=errors,
        approval=approval_of(record, emails),
        approved=studio_publishing.is_approved(record),
        spec_job=spec_job,
        spec_summary=_summary(spec_job),
        running=specs_job if specs_job and specs_job.state in ("queued", "running") else None,
        impact_job=impact_job,
        impact=impact_job.result if impact_job and impact_job.state == "done" else None,
    ), status


def _summary(job: StudioJob | None) -> dict[str, Any] | None:
    """What the publish page shows of a finished spec run: its summary, parse errors and at
    most 20 failed scenarios (the job page has every one)."""
    if job is None or job.state != "done" or not job.result:
        return None
    result = job.result
    failed = [s for s in result.get("scenarios", []) if s.get("status") == "failed"]
    return {
        "summary": result.get("summary", {}),
        "errors": result.get("errors") or [],
        "failed": failed[:20],
        "more_failed": max(0, len(failed) - 20),
    }


def _dated_change(
    record: PolicyVersionRecord,
    field: str,
    change: Callable[[Session, PolicyVersionRecord, dt.date], str],
    render: Callable[[PolicyVersionRecord, str | None, list[FieldError], int], tuple[str, int]],
) -> Any:
    """Publish or retire a version from the date in form field ``field``: ``change(session,
    record, day)`` makes the change (raising ``DomainError``) and says what it did; it is
    committed, the catalogue refreshed, and the version's page shown with that message.
    A missing or bad date, or any refusal, is shown by ``render`` (the page of the form,
    the record read again, the errors and their status); nothing is stored then."""
    session = get_session()
    raw = request.form.get(field, "")
    try:
        day, date_error = _date_arg(raw, field, clock.today())
        if date_error or not raw:
            raise Invalid([date_error or {"field": field, "message": "Choose a date."}])
        done = change(session, record, day)
        session.commit()
    except DomainError as exc:
        session.rollback()
        return render(_record(record.version), raw, exc.errors, status_of(exc))
    catalogue().refresh()
    flash(done, "success")
    return redirect(url_for("studio.show", version=record.version))


@bp.route("/<version>/publish", methods=["GET"])
@roles_required(*PUBLISHERS)
def publish_confirm(version: str) -> Any:
    """The publish page: the last finished scenario run of the current text, the approval,
    the effective date and what publishing on it does (the plan). Runs nothing."""
    record = _record(version)
    if record.state != PolicyState.DRAFT.value:
        flash(f"Version {version} is already {record.state}.", "info")
        return redirect(url_for("studio.show", version=version))
    return _render_publish(record, request.args.get("effective_from"), [])


@bp.route("/<version>/publish", methods=["POST"])
@roles_required(*PUBLISHERS)
def publish(version: str) -> Any:
    """Publish through ``publishing.publish``; every refusal is shown on the publish page."""
    record = _record(version)
    if record.state != PolicyState.DRAFT.value:
        flash(f"Version {version} is already {record.state}.", "info")
        return redirect(url_for("studio.show", version=version))
    lock = ascii_int(request.form.get("lock_version"), default=-1)

    def publish_on(session: Session, record: PolicyVersionRecord, day: dt.date) -> str:
        studio_publishing.publish(
            session,
            record=record,
            effective_from=day,
            today=clock.today(),
            registry=catalogue().registry(),
            actor=_user(),
            lock_version=lock if lock >= 0 else None,  # a form without one: unchecked
            confirmed=request.form.get("confirmation") or None,
        )
        return (
            f"Version {version} is published. Assessments on or after {day.isoformat()} use "
            "it; decisions already made keep the version they were made with."
        )

    return _dated_change(record, "effective_from", publish_on, _render_publish)


def _render_retire(
    record: PolicyVersionRecord, raw: str | None, errors: list[FieldError], status: int = 200
) -> tuple[str, int]:
    session = get_session()
    today = clock.today()
    day, date_error = _date_arg(raw, "retired_from", today + dt.timedelta(days=1))
    if date_error:
        errors = [date_error, *errors]
    registry = catalogue().registry()
    plan = studio_publishing.plan_retirement(
        session, record=record, retired_from=day, today=today, registry=registry
    )
    after = None
    if plan.policy is not None:
        after = timeline_view(
            registry.with_versions(
                [plan.policy], retired={(record.policy_id, record.version): day}
            ),
            record.policy_id,
            today,
            periods=plan.timeline,
        )
    if errors and status == 200:
        status = 422
    return render_template(
        "studio/retire.html",
        record=record,
        today=today,
        raw=raw if raw else day.isoformat(),
        plan=plan,
        after=after,
        errors=errors,
        now=timeline_view(registry, record.policy_id, today),
    ), status


@bp.route("/<version>/retire", methods=["GET"])
@roles_required(*PUBLISHERS)
def retire_confirm(version: str) -> Any:
    """What retiring a version from a date does (the version applying from then, what
    changes, the timeline after), and the confirmation form."""
    record = _record(version)
    return _render_retire(record, request.args.get("retired_from"), [])


@bp.route("/<version>/retire", methods=["POST"])
@roles_required(*PUBLISHERS)
def retire(version: str) -> Any:
    """Retire a published version from a date, once confirmed; refusals shown on the page."""

    def retire_from(session: Session, record: PolicyVersionRecord, day: dt.date) -> str:
        if request.form.get("confirm") != day.isoformat():
            raise Invalid(
                f"Tick the box to confirm that {version} stops applying from {day.isoformat()}.",
                field="confirm",
            )
        studio_publishing.retire(
            session,
            record=record,
            retired_from=day,
            today=clock.today(),
            registry=catalogue().registry(),
            actor=_user(),
        )
        return (
            f"Version {version} is retired: from {day.isoformat()} it no longer applies. "
            "Decisions already made under it keep it."
        )

    return _dated_change(_record(version), "retired_from", retire_from, _render_retire)
