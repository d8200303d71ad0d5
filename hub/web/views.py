"""Public pages and each role's home page. Thin views over the storage model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col, func, select
from werkzeug.wrappers import Response

from hub import app_clock as clock
from hub.auth.forms import AccountStatusForm, StaffUserForm
from hub.auth.guards import company_scope, get_owned_or_404, roles_required
from hub.auth.service import AccountError, create_user, get_user_by_email, set_active
from hub.db import get_session
from hub.models import Company, Filing, FilingStatus, PolicyVersionRecord, Role, User
from hub.policy import Policy
from hub.services.at_risk import KIND_TITLES, at_risk_counts
from hub.services.filings import REVISABLE
from hub.services.notifications import unread_count
from hub.services.watch import open_warnings

bp = Blueprint("web", __name__)


def _tier_of_benefit(policy: Policy, benefit_ast: Any) -> str | None:
    """The tier a benefit's requirement names (``tier >= T2``), for the overview."""
    from hub.policy import expr

    found: list[str] = []

    def walk(node: Any) -> None:
        if (
            isinstance(node, expr.Compare)
            and isinstance(node.left, expr.Name)
            and node.left.id == "tier"
            and isinstance(node.right, expr.Name)
        ):
            found.append(node.right.id)
        for child in expr.children(node):
            walk(child)

    walk(benefit_ast)
    return max(found) if found else None


def tiers_overview(policy: Policy) -> list[dict[str, Any]]:
    """Each tier with its criteria and the benefits it opens, read from the policy itself,
    so the landing page can never disagree with the rules in force."""
    shown = policy.to_dict()
    rates = {b["id"]: b["standard_rate"] for b in shown["benefits"]}
    out = []
    for tier in policy.tiers:
        out.append(
            {
                "id": tier.id,
                "title": tier.title,
                "summary": tier.description,
                "criteria": [c.title for c in policy.criteria if c.tier == tier.id],
                "benefits": [
                    f"{b.title} (standard rate {rates[b.id]})"
                    for b in policy.benefits
                    if _tier_of_benefit(policy, b.requires_ast) == tier.id
                ],
            }
        )
    return out


@bp.route("/")
def index() -> str:
    from hub.app_catalogue import catalogue

    registry = catalogue().registry()
    today = clock.today()
    policy: Policy | None
    try:
        policy = registry.select(today)
    except LookupError:
        versions = registry.versions()
        policy = versions[0] if versions else None
    tiers = tiers_overview(policy) if policy else []
    return render_template("web/index.html", tiers=tiers, policy=policy, today=today)


@bp.route("/home")
@roles_required()
def home() -> Response:
    from hub.auth.views import home_url_for

    return redirect(home_url_for(current_user))


@bp.route("/company")
@roles_required(Role.COMPANY)
def company_home() -> str:
    session = get_session()
    company_id = company_scope(current_user)
    company = session.get(Company, company_id)
    members = session.exec(select(User).where(User.company_id == company_id).order_by(User.email))
    filings = session.exec(
        select(Filing)
        .where(Filing.company_id == company_id)
        .order_by(col(Filing.created_at).desc(), col(Filing.id).desc())
    ).all()
    warnings = open_warnings(session, company_id=company_id)
    # the filing each warning was found on, when it can still be revised: its button
    # starts (or reopens) the draft that fixes the warning
    revisable = {f.id: f for f in filings if f.status in REVISABLE}
    return render_template(
        "web/company_home.html",
        company=company,
        members=list(members),
        filings=filings,
        warnings=warnings,
        revisable=revisable,
    )


@bp.route("/company/filings/<int:filing_id>")
@roles_required(Role.COMPANY, Role.ADMIN)
def filing_detail(filing_id: int) -> str:
    session = get_session()
    filing = get_owned_or_404(session, Filing, filing_id, current_user)
    company = session.get(Company, filing.company_id)
    return render_template("web/filing_detail.html", filing=filing, company=company)


@bp.route("/admin", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def admin_home() -> str | Response:
    session = get_session()
    form = StaffUserForm()
    if form.validate_on_submit():
        try:
            user = create_user(
                session,
                email=form.email.data or "",
                password=form.password.data or "",
                role=form.role.data or "",
                actor_id=current_user.id,
            )
        except AccountError as exc:
            session.rollback()
            form.email.errors = [*form.email.errors, exc.message]
        else:
            session.commit()
            flash(f"Created {user.role} account {user.email}.", "success")
            return redirect(url_for("web.admin_home"))
    counts: dict[str, Any] = {
        "companies": session.exec(select(func.count()).select_from(Company)).one(),
        "users": session.exec(select(func.count()).select_from(User)).one(),
    }
    by_status = dict(
        session.exec(select(Filing.status, func.count()).group_by(Filing.status)).all()
    )
    staff = session.exec(
        select(User)
        .where(col(User.role).in_([Role.ADMIN.value, Role.AUTHOR.value]))
        .order_by(User.role, User.email)
    ).all()
    return render_template(
        "web/admin_home.html",
        form=form,
        status_form=AccountStatusForm(formdata=None, prefix="status"),
        counts=counts,
        by_status=[(s.value, by_status.get(s.value, 0)) for s in FilingStatus],
        staff=staff,
        at_risk=at_risk_counts(session),
        kind_titles=KIND_TITLES,
    )


@bp.post("/admin/accounts/status")
@roles_required(Role.ADMIN)
def account_status() -> Response:
    """Deactivate or reactivate an account. Deactivating signs it out of every session
    and revokes its API tokens, which the administrator is told by name."""
    from hub.auth.views import revoked_tokens_message

    session = get_session()
    form = AccountStatusForm(prefix="status")
    if not form.validate_on_submit():
        errors = [e for field in form for e in field.errors]
        flash(" ".join(str(e) for e in errors) or "Check the form.", "error")
        return redirect(url_for("web.admin_home"))
    email = form.email.data or ""
    user = get_user_by_email(session, email=email)
    actor = session.get(User, current_user.id)
    if user is None or actor is None:
        flash(f"There is no account {email}.", "error")
        return redirect(url_for("web.admin_home"))
    active = form.action.data == "activate"
    try:
        revoked = set_active(
            session, user=user, active=active, actor=actor, now=clock.app_clock().now()
        )
    except AccountError as exc:
        session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("web.admin_home"))
    session.commit()
    if active:
        flash(f"{user.email} can sign in again.", "success")
    else:
        flash(f"{user.email} is deactivated and signed out of every session.", "success")
        if revoked:
            flash(revoked_tokens_message(revoked), "info")
    return redirect(url_for("web.admin_home"))


@bp.route("/author")
@roles_required(Role.AUTHOR, Role.ADMIN)
def author_home() -> str:
    session = get_session()
    policy_dir = Path(current_app.config["POLICY_DIR"])
    files = (
        sorted(
            str(p.relative_to(policy_dir))
            for pattern in ("*.yaml", "*.yml", "*/*.yaml", "*/*.yml")
            for p in policy_dir.glob(pattern)
        )
        if policy_dir.is_dir()
        else []
    )
    versions = session.exec(
        select(PolicyVersionRecord).order_by(
            PolicyVersionRecord.policy_id, col(PolicyVersionRecord.effective_from).desc()
        )
    ).all()
    return render_template(
        "web/author_home.html", policy_dir=policy_dir, files=files, versions=versions
    )


ROLE_TITLES = {
    Role.COMPANY.value: "Company",
    Role.ADMIN.value: "Hub administrator",
    Role.AUTHOR.value: "Policy author",
}

# Navigation by role: (path, label, roles; empty roles = everyone). An entry
# is shown only when the app has a GET route at that path, so pages added by
# later features appear in the menu as soon as their blueprint is registered.
NAV: list[tuple[str, str, tuple[str, ...]]] = [
    ("/", "Home", ()),
    ("/assess", "Check eligibility", ()),
    ("/company", "My company", (Role.COMPANY.value,)),
    ("/filings", "Filings", (Role.COMPANY.value,)),
    ("/admin", "Administration", (Role.ADMIN.value,)),
    ("/review", "Review queue", (Role.ADMIN.value,)),
    ("/review/dashboard", "Dashboard", (Role.ADMIN.value,)),
    ("/review/at-risk", "At risk", (Role.ADMIN.value,)),
    ("/outbox", "Outbox", (Role.ADMIN.value,)),
    ("/author", "Policy files", (Role.AUTHOR.value,)),
    ("/policies", "Policy studio", (Role.AUTHOR.value, Role.ADMIN.value)),
]


def _get_paths() -> frozenset[str]:
    cached = current_app.extensions.get("hub.nav_paths")
    if cached is None:
        cached = frozenset(
            rule.rule for rule in current_app.url_map.iter_rules() if "GET" in (rule.methods or ())
        )
        current_app.extensions["hub.nav_paths"] = cached
    return cached


@bp.app_context_processor
def layout_context() -> dict[str, Any]:
    """Helpers every template gets: the role's navigation, role titles and the count of
    unread notifications (read only by the pages that show it)."""

    def nav_items() -> list[dict[str, Any]]:
        from flask import request

        role = current_user.role if current_user.is_authenticated else None
        paths = _get_paths()
        return [
            {"url": path, "label": label, "active": request.path == path}
            for path, label, roles in NAV
            if path in paths and (not roles or role in roles)
        ]

    def unread_notifications() -> int:
        """The signed-in user's unread messages (one indexed COUNT), 0 for a visitor."""
        if not current_user.is_authenticated:
            return 0
        try:
            return unread_count(get_session(), user_id=current_user.id)
        except SQLAlchemyError:  # an error page about the database still renders
            return 0

    return {
        "nav_items": nav_items,
        "role_titles": ROLE_TITLES,
        "unread_notifications": unread_notifications,
    }
