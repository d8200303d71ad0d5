"""The company workspace at /filings: drafts, re-assessment, submission, revision, tokens.

Thin views: parse the form, call ``hub.services.filings``, render. Every filing is
loaded through the service's company-scoped ``get_filing`` (another company's id
is a 404), and every state change carries the ``lock_version`` the page was
rendered with, so a stale tab gets a conflict message instead of overwriting.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlmodel import Session, col, select
from werkzeug.wrappers import Response as BaseResponse

from hub import app_clock as clock
from hub import app_mail
from hub.app_catalogue import catalogue
from hub.auth.guards import company_scope, roles_required
from hub.auth.service import AccountError, clean_name
from hub.auth.tokens import expiry_of, issue_token, revoke_token
from hub.db import get_session
from hub.errors import ApiError
from hub.models import ApiToken, Company, Filing, Role, stored_id
from hub.policy import NoVersionInForce, Policy
from hub.services import filings as svc
from hub.services import notifications
from hub.web.assess import policy_url
from hub.web.params import ascii_int
from hub.web.policy_form import PolicyForm
from hub.web.present import decision_view, input_labels

bp = Blueprint("filings", __name__, url_prefix="/filings")

STATUS_HELP = {
    "draft": "Not sent yet: edit, check and submit it when ready.",
    "submitted": "Waiting for review by the hub. Frozen: revise it to change anything.",
    "approved": "Certified by the hub.",
    "rejected": "Not certified; see the reviewer's message.",
    "changes_requested": "The reviewer asks for changes: revise it and submit again.",
    "superseded": "Replaced by a later filing.",
    "withdrawn": "Taken back by your company before the hub decided it. Revise it to start "
    "a new draft from its answers.",
}


def _company(session: Session) -> Company:
    company = session.get(Company, company_scope(current_user))
    if company is None:  # a dangling account: nothing to show
        raise ApiError(404, "Your account is not linked to a company.")
    return company


def _filing(session: Session, filing_id: int) -> tuple[Company, Filing]:
    company = _company(session)
    return company, svc.get_filing(session, filing_id=filing_id, company_id=stored_id(company))


def _lock_version() -> int:
    """The lock_version the form was rendered with (0, i.e. always stale, if unreadable)."""
    raw = request.form.get("lock_version", "")
    return ascii_int(raw, default=0)


def _policy_of(filing: Filing) -> Policy | None:
    """The version a submitted filing was decided under (for labels), else the one in force."""
    registry = catalogue().registry()
    try:
        if filing.policy_version:
            return registry.get(filing.policy_version)
        return registry.select(clock.today())
    except NoVersionInForce:
        return None


def _preview(filing: Filing) -> tuple[dict[str, Any] | None, Sequence[Mapping[str, Any]]]:
    """The live decision of a draft, or the errors that prevent one."""
    try:
        decision = svc.assess_filing(filing, registry=catalogue().registry(), today=clock.today())
    except svc.FilingRejected as exc:
        return None, exc.errors
    return decision_view(decision.to_dict(), decision.policy, decision.filing), []


def _live_document(filing: Filing) -> dict[str, Any]:
    """A draft's decision now, or a 422 that says what is still wrong."""
    try:
        decision = svc.assess_filing(filing, registry=catalogue().registry(), today=clock.today())
    except svc.FilingRejected as exc:
        first = exc.errors[0]
        raise ApiError(
            422,
            f"Draft {filing.id} cannot be assessed yet: {first['field']} {first['message']} "
            f"({len(exc.errors)} problem(s) in all). Complete it in the form first.",
        ) from None
    return decision.to_dict()


def _stored_view(filing: Filing) -> dict[str, Any] | None:
    if not filing.decision:
        return None
    return decision_view(filing.decision, _policy_of(filing), filing.inputs)


# --- list and create -------------------------------------------------------------------


@bp.get("")
@roles_required(Role.COMPANY)
def index() -> str:
    """The company's filings with status, tier claimed and the reviewer's message."""
    session = get_session()
    company = _company(session)
    filings = svc.list_filings(session, company_id=stored_id(company))
    successors = {f.supersedes_id: f.id for f in filings if f.supersedes_id is not None}
    return render_template(
        "filings/list.html",
        company=company,
        filings=filings,
        successors=successors,
        status_help=STATUS_HELP,
    )


@bp.post("/new")
@roles_required(Role.COMPANY)
def create() -> BaseResponse:
    """Start a draft: BIN from the account, name and activity prefilled."""
    session = get_session()
    company = _company(session)
    filing = svc.create_draft(
        session,
        company=company,
        actor_id=current_user.id,
        inputs=None,
        registry=catalogue().registry(),
        today=clock.today(),
    )
    session.commit()
    flash(f"Draft filing {filing.id} started. Fill in what you know and save it.", "success")
    return redirect(url_for("filings.edit", filing_id=filing.id), code=303)


# --- one filing ------------------------------------------------------------------------


@bp.get("/<int:filing_id>")
@roles_required(Role.COMPANY)
def detail(filing_id: int) -> str:
    session = get_session()
    company, filing = _filing(session, filing_id)
    certified = filing.final_decision if filing.status == "approved" else None
    if filing.status == svc.DRAFT:
        view, problems = _preview(filing)
    elif certified:
        # What the hub certified (administrators' overrides applied), not only what the
        # engine said at submission: the company must see the tier it actually holds.
        view, problems = decision_view(certified, _policy_of(filing), filing.inputs), []
    else:
        view, problems = _stored_view(filing), []
    policy = _policy_of(filing)
    return render_template(
        "filings/detail.html",
        company=company,
        filing=filing,
        certified=certified,
        view=view,
        problems=problems,
        labels=input_labels(catalogue().registry(), policy),
        successor=svc.successor_of(session, filing=filing),
        status_help=STATUS_HELP,
        policy_url=policy_url(filing.policy_version or policy.version) if policy else None,
    )


def _render_edit(
    company: Company,
    filing: Filing,
    form: PolicyForm,
    *,
    others: list[dict[str, Any]] | None = None,
    conflict: str | None = None,
    status: int = 200,
) -> tuple[str, int]:
    view, problems = (None, []) if form.has_errors else _preview(filing)
    return (
        render_template(
            "filings/edit.html",
            company=company,
            filing=filing,
            form=form,
            others=others or [],
            conflict=conflict,
            view=view,
            problems=problems,
            policy_url=policy_url(form.policy.version),
            upcoming=svc.assess_upcoming(
                filing, registry=catalogue().registry(), today=clock.today()
            ),
        ),
        status,
    )


@bp.route("/<int:filing_id>/edit", methods=["GET", "POST"])
@roles_required(Role.COMPANY)
def edit(filing_id: int) -> BaseResponse | tuple[str, int]:
    """Edit a draft. Buttons: save, save and check, save and submit."""
    session = get_session()
    company, filing = _filing(session, filing_id)
    registry = catalogue().registry()
    today = clock.today()
    policy = svc.policy_in_force(registry, today)
    ahead = svc.inputs_ahead(registry, policy, today)
    fixed = {"bin": company.bin}
    if filing.status != svc.DRAFT:
        flash(
            f"Filing {filing.id} is {svc.STATUS_WORDS[filing.status]} and can no longer be "
            "edited. Use 'Revise' to start a new draft from it.",
            "error",
        )
        return redirect(url_for("filings.detail", filing_id=filing.id), code=303)
    if request.method != "POST":  # GET, and HEAD (its headers alone)
        return _render_edit(
            company,
            filing,
            PolicyForm.from_inputs(policy, filing.inputs, fixed=fixed, ahead=ahead),
        )
    form = PolicyForm.from_post(policy, request.form, fixed=fixed, ahead=ahead)
    action = request.form.get("action", "save")
    if form.has_errors:
        return _render_edit(company, filing, form, status=422)
    try:
        svc.update_draft(
            session,
            filing=filing,
            company=company,
            actor_id=current_user.id,
            inputs=form.values,
            lock_version=_lock_version(),
            registry=registry,
            today=today,
        )
    except svc.FilingRejected as exc:
        session.rollback()
        others = form.add_errors(exc.errors)
        return _render_edit(company, filing, form, others=others, status=422)
    except svc.FilingConflict as exc:
        session.rollback()
        session.refresh(filing)
        return _render_edit(company, filing, form, conflict=exc.errors[0]["message"], status=409)
    session.commit()
    if action != "submit":
        flash("Draft saved." if action == "save" else "Draft saved and checked.", "success")
        anchor = "#decision" if action == "check" else ""
        return redirect(url_for("filings.edit", filing_id=filing.id) + anchor, code=303)
    return redirect(url_for("filings.confirm_submit", filing_id=filing.id), code=303)


def _submit(session: Session, company: Company, filing: Filing, lock_version: int) -> Any:
    replaced = [
        f.id
        for f in svc.pending_filings(session, company_id=filing.company_id, excluding=filing.id)
    ]
    try:
        svc.submit(
            session,
            filing=filing,
            actor_id=current_user.id,
            lock_version=lock_version,
            registry=catalogue().registry(),
            today=clock.today(),
        )
    except svc.FilingRejected as exc:
        session.rollback()
        session.refresh(filing)
        return _not_submittable(company, filing, exc)
    except svc.FilingConflict as exc:
        session.rollback()
        flash(exc.errors[0]["message"], "error")
        return redirect(url_for("filings.detail", filing_id=filing.id), code=303)
    made = app_mail.notifier()
    notifications.filing_event(session, made, filing)
    session.commit()
    app_mail.send_queued(made)
    tier = f"tier {filing.tier_claimed}" if filing.tier_claimed else "no tier"
    replaces = "".join(
        f" It replaces filing {n}, which was waiting for review and is now superseded."
        for n in replaced
    )
    flash(f"Filing {filing.id} submitted for review ({tier} claimed).{replaces}", "success")
    return redirect(url_for("filings.detail", filing_id=filing.id), code=303)


@bp.get("/<int:filing_id>/submit")
@roles_required(Role.COMPANY)
def confirm_submit(filing_id: int) -> BaseResponse | tuple[str, int] | str:
    """What submitting will send, to confirm: the tier claimed, the benefits, the criteria
    not met, the policy version, and the filing it replaces (nothing is stored here)."""
    session = get_session()
    company, filing = _filing(session, filing_id)
    if filing.status != svc.DRAFT:
        flash(
            f"Filing {filing.id} is {svc.STATUS_WORDS[filing.status]}: it was submitted.", "error"
        )
        return redirect(url_for("filings.detail", filing_id=filing.id), code=303)
    registry, today = catalogue().registry(), clock.today()
    try:
        decision = svc.assess_filing(filing, registry=registry, today=today)
    except svc.FilingRejected as exc:
        return _not_submittable(company, filing, exc)
    view = decision_view(decision.to_dict(), decision.policy, decision.filing)
    return render_template(
        "filings/confirm_submit.html",
        company=company,
        filing=filing,
        view=view,
        policy=decision.policy,
        unmet=[r for r in view["rows"] if r["status"] in ("not_met", "missing")],
        replaces=svc.pending_filings(session, company_id=filing.company_id, excluding=filing.id),
        upcoming=svc.assess_upcoming(filing, registry=registry, today=today),
        policy_url=policy_url(decision.policy.version),
    )


def _not_submittable(company: Company, filing: Filing, exc: svc.FilingRejected) -> tuple[str, int]:
    """The edit page with the errors that stop the submission (the draft stays saved)."""
    registry, today = catalogue().registry(), clock.today()
    policy = svc.policy_in_force(registry, today)
    form = PolicyForm.from_inputs(
        policy,
        filing.inputs,
        fixed={"bin": company.bin},
        ahead=svc.inputs_ahead(registry, policy, today),
    )
    others = form.add_errors(exc.errors)
    flash("Your draft is saved, but it cannot be submitted yet: see the messages below.", "error")
    return _render_edit(company, filing, form, others=others, status=422)


@bp.post("/<int:filing_id>/submit")
@roles_required(Role.COMPANY)
def submit(filing_id: int) -> Any:
    """Submit after the confirmation page (a post without ``confirm=yes`` is sent to it)."""
    session = get_session()
    company, filing = _filing(session, filing_id)
    if request.form.get("confirm") != "yes":
        return redirect(url_for("filings.confirm_submit", filing_id=filing.id), code=303)
    return _submit(session, company, filing, _lock_version())


@bp.post("/<int:filing_id>/withdraw")
@roles_required(Role.COMPANY)
def withdraw(filing_id: int) -> BaseResponse:
    """Withdraw a submission the hub has not decided yet (after the page's confirmation)."""
    session = get_session()
    _, filing = _filing(session, filing_id)
    try:
        svc.withdraw(session, filing=filing, actor_id=current_user.id, lock_version=_lock_version())
    except svc.FilingConflict as exc:
        session.rollback()
        flash(exc.errors[0]["message"], "error")
        return redirect(url_for("filings.detail", filing_id=filing.id), code=303)
    session.commit()
    flash(f"Filing {filing.id} is withdrawn: the hub will not review it.", "success")
    return redirect(url_for("filings.detail", filing_id=filing.id), code=303)


@bp.post("/<int:filing_id>/revise")
@roles_required(Role.COMPANY)
def revise(filing_id: int) -> BaseResponse:
    """Start (or reopen) the draft that will supersede this filing when submitted."""
    session = get_session()
    _, filing = _filing(session, filing_id)
    try:
        draft = svc.revise(
            session, filing=filing, actor_id=current_user.id, lock_version=_lock_version()
        )
    except svc.FilingConflict as exc:
        session.rollback()
        flash(exc.errors[0]["message"], "error")
        return redirect(url_for("filings.detail", filing_id=filing.id), code=303)
    session.commit()
    flash(
        f"Draft {draft.id} revises filing {filing.id}. Filing {filing.id} stays as it is "
        f"until you submit this one.",
        "success",
    )
    return redirect(url_for("filings.edit", filing_id=draft.id), code=303)


@bp.get("/<int:filing_id>/decision.json")
@roles_required(Role.COMPANY)
def decision_json(filing_id: int) -> BaseResponse:
    """The decision document: frozen for submitted filings, the live one for a draft."""
    session = get_session()
    _, filing = _filing(session, filing_id)
    document = filing.decision if filing.decision is not None else _live_document(filing)
    body = json.dumps(
        {"filing_id": filing.id, "status": filing.status, "decision": document}, indent=2
    )
    response = Response(body, mimetype="application/json")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="filing-{filing.id}-decision.json"'
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/<int:filing_id>/print")
@roles_required(Role.COMPANY)
def printable(filing_id: int) -> str:
    session = get_session()
    company, filing = _filing(session, filing_id)
    policy = _policy_of(filing)
    document = filing.decision if filing.decision is not None else _live_document(filing)
    view = decision_view(document, policy, filing.inputs)
    return render_template(
        "filings/print.html",
        company=company,
        filing=filing,
        view=view,
        labels=input_labels(catalogue().registry(), policy),
    )


# --- API tokens --------------------------------------------------------------------------


def _tokens(session: Session) -> list[ApiToken]:
    return list(
        session.exec(
            select(ApiToken)
            .where(ApiToken.user_id == current_user.id)
            .order_by(col(ApiToken.created_at).desc(), col(ApiToken.id).desc())
        ).all()
    )


#: The latest last day a token may be given, in days from today.
TOKEN_MAX_DAYS = 3 * 366


def token_expiry(text: str, *, today: dt.date) -> dt.date | None:
    """The last day a new token works, from the form's ``expires_on`` (``YYYY-MM-DD`` in
    ASCII digits; blank: None, no expiry). Raises AccountError on ``expires_on`` for
    another text, a day before tomorrow or more than ``TOKEN_MAX_DAYS`` from ``today``."""
    text = text.strip()
    if not text:
        return None
    day = None
    if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
        try:
            day = dt.date.fromisoformat(text)
        except ValueError:
            day = None
    if day is None:
        raise AccountError("expires_on", "Give the last day as a date such as 2027-06-30.")
    if day <= today:
        raise AccountError("expires_on", f"The last day must be after today ({today.isoformat()}).")
    if (day - today).days > TOKEN_MAX_DAYS:
        raise AccountError(
            "expires_on",
            f"The last day must be within {TOKEN_MAX_DAYS} days of today; leave it empty "
            "for a token that works until revoked.",
        )
    return day


def _tokens_page(session: Session, **context: Any) -> str:
    """The tokens page: the user's tokens, with what tells live ones from expired ones."""
    return render_template(
        "filings/tokens.html",
        tokens=_tokens(session),
        now=clock.app_clock().now(),
        one_microsecond=dt.timedelta(microseconds=1),
        **context,
    )


@bp.route("/tokens", methods=["GET", "POST"])
@roles_required(Role.COMPANY)
def tokens() -> BaseResponse | tuple[str, int] | str:
    """Personal API tokens: create one (shown once; optionally working through a last
    day, ``expires_on``) and see which exist."""
    session = get_session()
    _company(session)
    error = None
    if request.method == "POST":
        last_day = None
        try:  # one rule for names a person types: NFC, visible, no control characters
            name = clean_name(request.form.get("name", ""), field="name", maximum=100)
        except AccountError as exc:
            name = ""
            error = f"Give the token a name of 1 to 100 characters, such as 'ERP export'. {exc}"
        try:
            last_day = token_expiry(request.form.get("expires_on", ""), today=clock.today())
        except AccountError as exc:
            name = ""
            error = f"{error} {exc.message}" if error else exc.message
        if name:
            expires_at = (
                expiry_of(last_day, clock.app_clock().zone) if last_day is not None else None
            )
            row, plaintext = issue_token(
                session, user=current_user, name=name, expires_at=expires_at
            )
            session.commit()
            response = Response(_tokens_page(session, new=row, plaintext=plaintext))
            response.headers["Cache-Control"] = "no-store"
            return response
    body = _tokens_page(session, error=error)
    return (body, 422) if error else body


@bp.post("/tokens/<int:token_id>/revoke")
@roles_required(Role.COMPANY)
def revoke(token_id: int) -> BaseResponse:
    session = get_session()
    if not revoke_token(session, token_id=token_id, user=current_user):
        raise ApiError(404, "There is no such token among yours.")
    session.commit()
    flash("Token revoked: programs using it can no longer reach the API.", "success")
    return redirect(url_for("filings.tokens"), code=303)
