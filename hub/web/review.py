"""The hub's review pages at /review, certificates, and the public verification page.

Thin views over ``hub.services.review``: parse the form, call the use case, commit,
redirect (post/redirect/get). Every action form carries the ``lock_version`` the
page was rendered with; a stale one comes back as a 409 page that says who changed
the filing and keeps what the reviewer typed. Every /review route is for the
``admin`` role only (``roles_required``); /verify is public and shows no private data.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlmodel import Session, col, select
from werkzeug.wrappers import Response as BaseResponse

from hub import app_clock as clock
from hub import app_mail
from hub.app_catalogue import catalogue
from hub.auth.guards import get_owned_or_404, roles_required
from hub.db import get_session
from hub.errors import ApiError, status_of
from hub.extensions import rate_limit
from hub.models import Company, Filing, Role, User
from hub.policy.trace import parameter_texts, value_texts
from hub.services import at_risk as at_risk_svc
from hub.services import notifications
from hub.services.errors import DomainError
from hub.services.review import actions as review_actions
from hub.services.review import certificates as review_certificates
from hub.services.review import dashboard as review_dashboard
from hub.services.review import decision as review_decision
from hub.services.review import export as review_export
from hub.services.review import queue as review_queue
from hub.web.params import ascii_int
from hub.web.present import STATUS_TEXT, input_specs, kzt, money_text, show
from hub.web.present import value_texts as criterion_value_texts

bp = Blueprint("review", __name__, url_prefix="/review")
public = Blueprint("certificates", __name__)

ACTIONS = {
    "approve": "Approve and certify",
    "reject": "Reject",
    "request_changes": "Request changes",
    "override": "Override a criterion",
}


@bp.app_template_filter("duration")
def _duration(delta: dt.timedelta | None) -> str:
    return review_queue.human_duration(delta)


@bp.app_template_filter("kzt")
def _kzt(value: Any) -> str:
    return kzt(value)


@bp.app_template_filter("money")
def _money(value: Any, signed: bool = False) -> str:
    return money_text(value, signed=signed)


@bp.app_template_filter("shown")
def _shown(value: Any) -> str:
    return show(value)


@bp.app_template_filter("trace_parameters")
def _trace_parameters(values: dict[str, Any]) -> list[str]:
    return parameter_texts(values)


@bp.app_template_filter("trace_values")
def _trace_values(values: dict[str, Any]) -> list[str]:
    return value_texts(values)


@bp.app_template_filter("value_texts")
def _value_texts(row: dict[str, Any]) -> dict[str, str]:
    """A criterion's values as shown beside its requirement (never onto its threshold)."""
    return criterion_value_texts(row)


def _lock_version() -> int:
    """The lock_version the form was rendered with (-1, always stale, if unreadable)."""
    raw = request.form.get("lock_version", "")
    return ascii_int(raw, default=-1)


# --- queue -------------------------------------------------------------------------------


@bp.get("")
@roles_required(Role.ADMIN)
def queue() -> str:
    """Submitted filings, oldest first; filters, search and pages in the query string."""
    session = get_session()
    filters = review_queue.QueueFilters.from_args(request.args)
    raw_page = request.args.get("page", "1")
    page = ascii_int(raw_page, default=1, max_digits=6)
    result = review_queue.queue(session, filters=filters, page=page)
    return render_template(
        "review/queue.html",
        result=result,
        filters=filters,
        facets=review_queue.facets(session),
        now=clock.app_clock().now(),
        waited=review_queue.waited,
    )


@bp.get("/export/queue.csv")
@roles_required(Role.ADMIN)
def export_queue() -> BaseResponse:
    """The queue as filtered on screen (every page), as CSV."""
    session = get_session()
    filters = review_queue.QueueFilters.from_args(request.args)
    body = review_export.queue_csv(
        review_queue.queue_all(session, filters=filters), now=clock.app_clock().now()
    )
    return _csv(body, f"review-queue-{clock.today().isoformat()}.csv")


@bp.get("/export/decisions.csv")
@roles_required(Role.ADMIN)
def export_decisions() -> BaseResponse:
    """Every decision taken, as CSV."""
    return _csv(
        review_export.decisions_csv(get_session()), f"decisions-{clock.today().isoformat()}.csv"
    )


def _csv(body: str, name: str) -> BaseResponse:
    response = Response("\ufeff" + body, mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# --- one filing --------------------------------------------------------------------------


def _render_filing(
    session: Session,
    filing: Filing,
    *,
    error: DomainError | None = None,
    action: str | None = None,
    status: int = 200,
) -> tuple[str, int]:
    registry = catalogue().registry()
    company = session.get(Company, filing.company_id)
    policy = review_decision.policy_of(registry, filing)
    rows = review_queue.overrides(session, filing=filing)
    unreadable = review_decision.unreadable(filing)
    readable = filing.decision is not None and unreadable is None
    final = filing.final_decision or (
        review_decision.final_decision(policy, filing, rows) if readable else None
    )
    if unreadable is not None:
        final = None
    reassessment = (
        review_decision.reassess(filing, registry=registry, today=clock.today())
        if readable
        else None
    )
    traced = review_decision.trace_filing(filing, registry=registry) if readable else None
    trail = review_queue.audit_trail(session, filing=filing)
    actor_ids = {r.actor_id for r in trail} | {o.actor_id for o in rows} | {filing.decided_by_id}
    actor_ids.discard(None)
    emails = (
        dict(session.exec(select(User.id, User.email).where(col(User.id).in_(actor_ids))).all())
        if actor_ids
        else {}
    )
    specs = input_specs(registry, policy)
    labels = {name: spec.label for name, spec in specs.items()}
    units = {name: spec.unit for name, spec in specs.items()}
    html = render_template(
        "review/filing.html",
        filing=filing,
        company=company,
        policy=policy,
        final=final,
        overrides=rows,
        reassessment=reassessment,
        traced=traced,
        traces=traced.by_criterion if traced else {},
        history=review_queue.history(session, filing=filing),
        trail=trail,
        emails=emails,
        labels=labels,
        units=units,
        status_text=STATUS_TEXT,
        override_statuses=review_actions.OVERRIDE_STATUSES,
        waited=review_queue.waited(filing, clock.app_clock().now()),
        error=error,
        unreadable=unreadable,
        error_status=status_of(error) if error else None,
        action=action,
        form=request.form if error else {},
        validity=review_certificates.validity(clock.today()),
        actions=ACTIONS,
    )
    return html, status


@bp.get("/filings/<int:filing_id>")
@roles_required(Role.ADMIN)
def filing(filing_id: int) -> tuple[str, int]:
    """Everything a reviewer needs to decide, and the forms to do it."""
    session = get_session()
    return _render_filing(session, review_queue.get_filing(session, filing_id=filing_id))


def _act(filing_id: int, action: str) -> BaseResponse | tuple[str, int]:
    session = get_session()
    target = review_queue.get_filing(session, filing_id=filing_id)
    registry = catalogue().registry()
    common: dict[str, Any] = {
        "filing": target,
        "actor_id": current_user.id,
        "lock_version": _lock_version(),
        "registry": registry,
    }
    form = request.form
    try:
        if action == "approve":
            review_actions.approve(
                session, note=form.get("note"), clock=clock.app_clock(), **common
            )
            done = (
                f"Filing {target.id} approved: {target.tier_granted} certified from "
                f"{target.valid_from} to {target.valid_until}."
            )
        elif action == "reject":
            review_actions.reject(
                session, reason=form.get("reason"), clock=clock.app_clock(), **common
            )
            done = f"Filing {target.id} rejected. The company sees your reason."
        elif action == "request_changes":
            review_actions.request_changes(
                session, message=form.get("message"), clock=clock.app_clock(), **common
            )
            done = f"Filing {target.id} sent back to the company with your message."
        else:
            row = review_actions.override_criterion(
                session,
                criterion_id=form.get("criterion", ""),
                status=form.get("status", ""),
                reason=form.get("reason"),
                **common,
            )
            done = (
                f"Criterion {row.criterion_id} overridden to "
                f"{STATUS_TEXT.get(row.status, row.status).lower()} (the engine said "
                f"{STATUS_TEXT.get(row.engine_status, row.engine_status).lower()})."
            )
    except DomainError as exc:
        session.rollback()
        current = review_queue.get_filing(session, filing_id=filing_id)
        session.refresh(current)
        return _render_filing(session, current, error=exc, action=action, status=status_of(exc))
    made = app_mail.notifier()
    if action != "override":  # a decision: the company is told (what the law requires)
        notifications.filing_event(session, made, target)
    session.commit()
    app_mail.send_queued(made)
    flash(done, "success")
    if action == "approve":
        return redirect(url_for("review.filing", filing_id=target.id, _anchor="certificate"))
    if action == "override":
        return redirect(url_for("review.filing", filing_id=target.id, _anchor="decide"))
    return redirect(url_for("review.queue"))


@bp.post("/filings/<int:filing_id>/approve")
@roles_required(Role.ADMIN)
def approve(filing_id: int) -> BaseResponse | tuple[str, int]:
    return _act(filing_id, "approve")


@bp.post("/filings/<int:filing_id>/reject")
@roles_required(Role.ADMIN)
def reject(filing_id: int) -> BaseResponse | tuple[str, int]:
    return _act(filing_id, "reject")


@bp.post("/filings/<int:filing_id>/request-changes")
@roles_required(Role.ADMIN)
def request_changes(filing_id: int) -> BaseResponse | tuple[str, int]:
    return _act(filing_id, "request_changes")


@bp.post("/filings/<int:filing_id>/override")
@roles_required(Role.ADMIN)
def override(filing_id: int) -> BaseResponse | tuple[str, int]:
    return _act(filing_id, "override")


# --- dashboard ---------------------------------------------------------------------------


@bp.get("/dashboard")
@roles_required(Role.ADMIN)
def dashboard() -> str:
    """Counts, medians, approvals over time and the criteria most often unmet."""
    session = get_session()
    figures = review_dashboard.dashboard(session, clock=clock.app_clock())
    return render_template(
        "review/dashboard.html",
        figures=figures,
        at_risk=at_risk_svc.at_risk_counts(session),
        kind_titles=at_risk_svc.KIND_TITLES,
    )


# --- companies at risk ---------------------------------------------------------------------

#: The orders of the at-risk page: ``sort`` in the query string -> (column, descending).
AT_RISK_SORTS = {
    "loss_on": ("loss_on", False),
    "-loss_on": ("loss_on", True),
    "-saving": ("saving", True),
    "saving": ("saving", False),
}
AT_RISK_SORT_TITLES = {
    "loss_on": "loss date, soonest first",
    "-loss_on": "loss date, latest first",
    "-saving": "saving at stake, largest first",
    "saving": "saving at stake, smallest first",
}


def _at_risk_args() -> tuple[str, str]:
    """The page's ``kind`` ("" for every kind) and ``sort``, or a 400 naming the field."""
    kind = request.args.get("kind", "")
    sort = request.args.get("sort") or "loss_on"  # empty: the default, as for kind
    if kind and kind not in at_risk_svc.KINDS:
        raise ApiError(
            400,
            f"kind: there is no kind of warning {kind[:40]!r}; choose one of "
            f"{', '.join(at_risk_svc.KINDS)}, or none for every kind.",
            field="kind",
        )
    if sort not in AT_RISK_SORTS:
        raise ApiError(
            400,
            f"sort: {sort[:40]!r} is not an order of this page; choose one of "
            f"{', '.join(AT_RISK_SORTS)}.",
            field="sort",
        )
    return kind, sort


@bp.get("/at-risk")
@roles_required(Role.ADMIN)
def at_risk() -> str:
    """Companies at risk: every open warning of the daily watch with its company, what
    it risks, the date of the loss and the saving at stake; ``kind`` filters, ``sort``
    orders (``loss_on`` soonest first by default, ``-loss_on``, ``-saving``, ``saving``),
    ``page`` pages (``per_page`` rows, 25 by default, at most 100)."""
    kind, sort = _at_risk_args()
    column, descending = AT_RISK_SORTS[sort]
    session = get_session()
    page = ascii_int(request.args.get("page"), default=1, max_digits=6)
    per_page = ascii_int(request.args.get("per_page"), default=at_risk_svc.PER_PAGE, max_digits=3)
    result = at_risk_svc.at_risk_page(
        session,
        kind=kind or None,
        sort=column,
        descending=descending,
        page=page,
        per_page=per_page,  # bounded by the service to 1..MAX_PER_PAGE
    )
    args: dict[str, Any] = {"kind": kind} if kind else {}
    if sort != "loss_on":
        args["sort"] = sort
    if result.per_page != at_risk_svc.PER_PAGE:
        args["per_page"] = result.per_page
    versions = catalogue().registry().versions()
    titles = {b.id: b.title for version in versions for b in version.benefits}
    return render_template(
        "review/at_risk.html",
        result=result,
        kind=kind,
        sort=sort,
        args=args,
        kinds=at_risk_svc.KINDS,
        kind_titles=at_risk_svc.KIND_TITLES,
        sorts=AT_RISK_SORT_TITLES,
        counts=at_risk_svc.at_risk_counts(session),
        benefit_titles=titles,
        today=clock.today(),
        days_left=at_risk_svc.days_left,
    )


@bp.get("/audit")
@roles_required(Role.ADMIN)
def audit_trail() -> str:
    """The whole audit trail, newest first, with the result of checking its hash chain."""
    from hub import audit

    session = get_session()
    raw_page = request.args.get("page", "1")
    page = ascii_int(raw_page, default=1, max_digits=6)
    action = request.args.get("action", "").strip()[:64]
    records, total = review_queue.audit_page(session, page=page, action=action)
    actor_ids = {r.actor_id for r in records if r.actor_id is not None}
    emails = (
        dict(session.exec(select(User.id, User.email).where(col(User.id).in_(actor_ids))).all())
        if actor_ids
        else {}
    )
    return render_template(
        "review/audit.html",
        records=records,
        total=total,
        page=page,
        pages=max(1, -(-total // 50)),
        action=action,
        problems=audit.verify(session),
        emails=emails,
    )


# --- certificates ------------------------------------------------------------------------


def _certificate(filing_id: int) -> str:
    session = get_session()
    target = get_owned_or_404(session, Filing, filing_id, current_user)
    if target.certificate_code is None:
        raise ApiError(
            404,
            f"Filing {target.id} has no certificate: only an approved filing is certified.",
        )
    company = session.get(Company, target.company_id)
    check = review_certificates.check_certificate(
        session, code=target.certificate_code, clock=clock.app_clock()
    )
    return render_template(
        "review/certificate.html",
        filing=target,
        company=company,
        document=target.final_decision or target.decision or {},
        check=check,
        verify_url=url_for(
            "certificates.verify_code", code=target.certificate_code, _external=True
        ),
    )


@bp.get("/filings/<int:filing_id>/certificate")
@roles_required(Role.ADMIN)
def certificate(filing_id: int) -> str:
    """The printable certificate of an approved filing."""
    return _certificate(filing_id)


@public.get("/certificates/<int:filing_id>")
@roles_required(Role.COMPANY, Role.ADMIN)
def company_certificate(filing_id: int) -> str:
    """The same certificate for the company that holds it (another company's is a 404)."""
    return _certificate(filing_id)


@public.get("/verify")
@rate_limit("60 per minute")
def verify() -> str | BaseResponse:
    """Public: type a verification code (no sign-in)."""
    code = request.args.get("code", "").strip()
    if code:
        return redirect(url_for("certificates.verify_code", code=code[:40]))
    return render_template("review/verify.html", check=None)


@public.get("/verify/<code>")
@rate_limit("60 per minute")
def verify_code(code: str) -> tuple[str, int]:
    """Public: whether the certificate with this code is valid today, without private data."""
    check = review_certificates.check_certificate(
        get_session(), code=code[:40], clock=clock.app_clock()
    )
    return render_template("review/verify.html", check=check), (
        404 if check.state == "unknown" else 200
    )
