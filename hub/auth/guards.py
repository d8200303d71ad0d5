"""Who may see what: role guards for pages and API routes, and company isolation.

Pages: an anonymous visitor is sent to the login page (and back afterwards);
a signed-in user with the wrong role gets the 403 page. API routes: a bearer
token is required (401 JSON without one), the wrong role gets 403 JSON. A
company user asking for another company's row gets 404, exactly as if it did
not exist, so ids do not leak which filings exist.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import abort, flash, g, redirect, request, url_for
from flask_login import current_user
from sqlmodel import Session

from hub.app_clock import app_clock
from hub.auth.tokens import check_token
from hub.db import get_session
from hub.errors import ApiError
from hub.models import Role, User

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


def roles_required(*roles: Role | str) -> Callable[[F], F]:
    """Restrict a page to signed-in users holding one of ``roles`` (any role if none given)."""
    allowed = {Role(r).value for r in roles}

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                flash("Please sign in to see this page.", "info")
                return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
            if allowed and current_user.role not in allowed:
                abort(403)
            return view(*args, **kwargs)

        # Read by the role-guard tests, which check every guarded route (a function takes
        # attributes; its type does not declare this one).
        wrapped.required_roles = frozenset(allowed)  # type: ignore[attr-defined]
        return cast(F, wrapped)

    return decorator


def bearer_token() -> str | None:
    """The token of an ``Authorization: Bearer ...`` header, if any."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def current_api_user() -> User | None:
    """The user authenticated by the request's bearer token (cached per request); why a
    known token is refused (revoked, expired) is kept in ``g.api_refusal``."""
    if "api_user" not in g:
        token = bearer_token()
        session = get_session()
        user, recorded, refusal = None, False, None
        if token:
            clock = app_clock()
            found = check_token(session, token, now=clock.now(), zone=clock.zone)
            user, recorded, refusal = found.user, found.recorded, found.refusal
        if recorded:
            session.commit()  # keep last_used_at even when the view only reads
        g.api_user = user
        g.api_refusal = refusal
    return g.api_user


def api_roles_required(*roles: Role | str) -> Callable[[F], F]:
    """Restrict an API route to bearer tokens of users holding one of ``roles``."""
    allowed = {Role(r).value for r in roles}

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            user = current_api_user()
            if user is None:
                raise ApiError(
                    401,
                    g.get("api_refusal")
                    or "A valid API token is required: send 'Authorization: Bearer <token>'.",
                    headers={"WWW-Authenticate": 'Bearer realm="hub"'},
                )
            if allowed and user.role not in allowed:
                raise ApiError(403, "This token's user does not have access to this resource.")
            return view(*args, **kwargs)

        # As required_roles above.
        wrapped.required_api_roles = frozenset(allowed)  # type: ignore[attr-defined]
        return cast(F, wrapped)

    return decorator


def get_owned_or_404(
    session: Session,
    model: type[T],
    row_id: Any,
    user: User,
    *,
    staff_roles: tuple[Role | str, ...] = (Role.ADMIN,),
) -> T:
    """Load a row that carries ``company_id``, or 404 unless ``user`` may see it.

    Company users see their own company's rows only; the ``staff_roles`` see
    every company's; anyone else sees nothing. Missing and forbidden look
    the same (404) on purpose.
    """
    row = session.get(model, row_id)
    if row is None:
        abort(404)
    staff = {Role(r).value for r in staff_roles}
    if user.role in staff:
        return row
    if (
        user.role == Role.COMPANY.value
        and user.company_id is not None
        and getattr(row, "company_id", None) == user.company_id
    ):
        return row
    abort(404)


def company_scope(user: User) -> int:
    """The company id a company user's queries must filter on (403 for other roles)."""
    if user.role != Role.COMPANY.value or user.company_id is None:
        abort(403)
    return user.company_id
