"""Account pages. Thin: validate the form, call ``hub.auth.service``, render."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user
from sqlmodel import Session
from werkzeug.wrappers import Response

from hub import app_mail
from hub.app_clock import app_clock
from hub.auth import throttle
from hub.auth.forms import ConfirmForm, LoginForm, PasswordChangeForm, RegisterForm
from hub.auth.guards import roles_required
from hub.auth.service import (
    CONFIRM_MAX_AGE,
    AccountError,
    Registration,
    authenticate,
    change_password,
    confirm_account,
    confirmation_token,
    normalise_email,
)
from hub.auth.service import register as register_account
from hub.db import get_session
from hub.extensions import login_manager, rate_limit
from hub.models import Company, Role, User
from hub.services.notifications import (
    ACCOUNT_BIN_TAKEN,
    ACCOUNT_CONFIRM,
    ACCOUNT_EMAIL_TAKEN,
    Notifier,
    account_mail,
)
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
        elif not user.email_confirmed:
            # Only said to whoever typed the right password: it tells nothing more than a
            # successful sign-in would.
            session.rollback()
            form.password.errors = [
                "Confirm your e-mail address first: open the link in the mail we sent you "
                "when you registered (register again for a new one if it has expired)."
            ]
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
            outcome = register_account(
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
            # Every outcome answers alike (no account enumeration): only the mail differs,
            # and it goes to the address's owner or the company's users.
            made = app_mail.notifier()
            _registration_mail(session, made, outcome)
            session.commit()
            app_mail.send_queued(made)
            return redirect(url_for("auth.register_sent"))
    return render_template("auth/register.html", form=form)


def _confirm_link(made: Notifier, user: User) -> str:
    token = confirmation_token(_secret_key(), user, now=made.clock.now())
    return made.url(url_for("auth.confirm", token=token))


def _secret_key() -> str:
    return str(current_app.config["SECRET_KEY"])


def _registration_mail(session: Session, made: Notifier, outcome: Registration) -> None:
    """The mail a registration makes: the confirmation link to a new account, a warning
    (with a new confirmation link if it is still unconfirmed) to an address's owner, or
    a warning to the users of a company whose BIN was typed again."""
    days = CONFIRM_MAX_AGE // 86400
    if outcome.created is not None:
        user = outcome.created
        company = session.get(Company, user.company_id)
        context = {"company": company, "link": _confirm_link(made, user), "valid_days": days}
        account_mail(session, made, users=[user], kind=ACCOUNT_CONFIRM, context=context)
    elif outcome.email_owner is not None:
        owner = outcome.email_owner
        link = None if owner.email_confirmed else _confirm_link(made, owner)
        context = {"link": link, "login_url": made.url(url_for("auth.login")), "valid_days": days}
        account_mail(session, made, users=[owner], kind=ACCOUNT_EMAIL_TAKEN, context=context)
    elif outcome.company_users:
        company = session.get(Company, outcome.company_users[0].company_id)
        context = {"company": company, "link": made.url(url_for("web.company_home"))}
        users = list(outcome.company_users)
        account_mail(session, made, users=users, kind=ACCOUNT_BIN_TAKEN, context=context)


@bp.route("/register/sent")
def register_sent() -> str:
    """What every registration answers, whatever happened: check your mail."""
    return render_template("auth/register_sent.html")


@bp.route("/confirm/<token>", methods=["GET", "POST"])
@rate_limit(AUTH_LIMIT, methods=["POST"])
def confirm(token: str) -> str | Response:
    """The link of a confirmation mail: a page whose button (a POST, so that a mail
    scanner opening links activates nothing) confirms the account, then signs in."""
    form = ConfirmForm()
    error = None
    if form.validate_on_submit():
        session = get_session()
        try:
            user = confirm_account(
                session, secret_key=_secret_key(), token=token, now=app_clock().now()
            )
        except AccountError as exc:
            session.rollback()
            error = exc.message
        else:
            session.commit()
            flash("Your account is confirmed. You can sign in now.", "success")
            response = redirect(url_for("auth.login"))
            throttle.remember_device(response, user.email)
            return response
    return render_template("auth/confirm.html", form=form, error=error)


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
