"""Account pages. Thin: validate the form, call ``hub.auth.service``, render."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user
from werkzeug.wrappers import Response

from hub.app_clock import app_clock
from hub.auth import throttle
from hub.auth.forms import LoginForm, PasswordChangeForm, RegisterForm
from hub.auth.guards import roles_required
from hub.auth.service import (
    AccountError,
    authenticate,
    change_password,
    normalise_email,
    register_company_user,
)
from hub.db import get_session
from hub.extensions import login_manager, rate_limit
from hub.models import Company, Role, User
from hub.sessions import end_session, renew_session, start_signed_in
from hub.web.params import ascii_int

bp = Blueprint("auth", __name__)

login_manager.login_view = "auth.login"
login_manager.login_message = "Please sign in to see this page."
login_manager.login_message_category = "info"

# Both limits are per client address; behind a proxy set HUB_TRUSTED_PROXIES. Failed
# sign-ins are also counted per account (hub.auth.throttle).
AUTH_LIMIT = "10 per minute;50 per hour"


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """Resolve the session's ``<id>:<session epoch>:<hash fragment>`` identity (see
    ``User.get_id``): None, which signs the session out, when the user is gone or
    deactivated, or when the epoch or the password changed since it was signed in."""
    raw_id, _, rest = user_id.partition(":")
    raw_epoch, _, fragment = rest.partition(":")
    number = ascii_int(raw_id, default=-1, max_digits=18)
    epoch = ascii_int(raw_epoch, default=-1, max_digits=18)
    if number < 0 or epoch < 0:
        return None
    user = get_session().get(User, number)
    if (
        user is None
        or not user.is_active
        or user.session_epoch != epoch
        or user.password_hash[-16:] != fragment
    ):
        return None
    return user


def home_url_for(user: User) -> str:
    """Where a user lands after signing in: their role's home page."""
    return {
        Role.COMPANY.value: url_for("web.company_home"),
        Role.ADMIN.value: url_for("web.admin_home"),
        Role.AUTHOR.value: url_for("web.author_home"),
    }.get(user.role, url_for("web.index"))


def _safe_next(target: str | None) -> str | None:
    """Only local paths are followed after login (no open redirects)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target:
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
@rate_limit(AUTH_LIMIT, methods=["POST"])
def login() -> str | Response:
    if current_user.is_authenticated:
        return redirect(home_url_for(current_user))
    form = LoginForm()
    if form.validate_on_submit():
        email = normalise_email(form.email.data or "")
        if (refusal := throttle.refused(email)) is not None:
            form.password.errors = [refusal.message]
            body = render_template("auth/login.html", form=form)
            return Response(body, 429, {"Retry-After": str(refusal.retry_after)})
        session = get_session()
        user = authenticate(session, email=email, password=form.password.data or "")
        if user is None:
            throttle.count_failure(email)
            form.password.errors = ["Wrong e-mail or password."]
        else:
            session.commit()
            renew_session()  # an identifier planted before sign-in is worth nothing after
            login_user(user)
            start_signed_in(app_clock().now())
            flash(f"Signed in as {user.email}.", "success")
            response = redirect(_safe_next(request.args.get("next")) or home_url_for(user))
            throttle.remember_device(response, email)
            return response
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
def logout() -> Response:
    # POST only (with the CSRF token): a link or an image cannot sign people out.
    if current_user.is_authenticated:
        logout_user()
        # The server forgets the session: a copy of the cookie no longer signs anyone in.
        end_session()
        flash("You are signed out.", "info")
    return redirect(url_for("web.index"))


@bp.route("/register", methods=["GET", "POST"])
@rate_limit(AUTH_LIMIT, methods=["POST"])
def register() -> str | Response:
    if current_user.is_authenticated:
        return redirect(home_url_for(current_user))
    form = RegisterForm()
    if form.validate_on_submit():
        session = get_session()
        try:
            user = register_company_user(
                session,
                email=form.email.data or "",
                password=form.password.data or "",
                bin=form.bin.data or "",
                legal_name=form.legal_name.data or "",
                activity=form.activity.data or None,
            )
        except AccountError as exc:
            session.rollback()
            field = getattr(form, exc.field or "", None)
            if field is not None:
                field.errors = [*field.errors, exc.message]
            else:
                flash(exc.message, "error")
        else:
            session.commit()
            renew_session()
            login_user(user)
            start_signed_in(app_clock().now())
            flash("Your account is ready. Welcome to the Astana Crypto Hub.", "success")
            response = redirect(home_url_for(user))
            throttle.remember_device(response, user.email)  # as a sign-in does
            return response
    return render_template("auth/register.html", form=form)


@bp.route("/account")
@roles_required()
def account() -> str:
    company = (
        get_session().get(Company, current_user.company_id) if current_user.company_id else None
    )
    return render_template("auth/account.html", company=company)


@bp.route("/account/password", methods=["GET", "POST"])
@roles_required()
def password() -> str | Response:
    form = PasswordChangeForm()
    if form.validate_on_submit():
        session = get_session()
        user = session.get(User, current_user.id)
        assert user is not None
        try:
            revoked = change_password(
                session,
                user=user,
                current=form.current_password.data or "",
                new=form.new_password.data or "",
                now=app_clock().now(),
            )
        except AccountError as exc:
            session.rollback()
            form.current_password.errors = [exc.message]
        else:
            session.commit()
            # The identity holds the session epoch, now raised: this session alone is
            # signed in again (a new identifier), every other one is refused.
            renew_session()
            login_user(user)
            flash("Your password has been changed. Other sessions are signed out.", "success")
            if revoked:
                flash(revoked_tokens_message(revoked), "error")
            return redirect(url_for("auth.account"))
    return render_template("auth/password.html", form=form)


def revoked_tokens_message(names: list[str]) -> str:
    """What a user (or the administrator who deactivated them) is told of the API tokens
    a password change or a deactivation revoked, by name."""
    listed = ", ".join(f"\u201c{name}\u201d" for name in names)
    count = len(names)
    return (
        f"{count} API token{'s' if count != 1 else ''} revoked: {listed}. Programs using "
        f"{'them' if count != 1 else 'it'} can no longer reach the API; create new tokens "
        "for those you still need."
    )
