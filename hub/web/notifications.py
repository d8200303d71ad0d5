"""Each user's messages at /notifications (read, mark read, preferences) and the e-mail
outbox administrators read at /outbox. Thin views over ``hub.services.notifications``
and ``hub.services.outbox``."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response as BaseResponse

from hub import app_clock as clock
from hub.auth.guards import roles_required
from hub.db import get_session
from hub.errors import ApiError
from hub.models import Role
from hub.services import notifications as svc
from hub.services import outbox
from hub.web.params import ascii_int

bp = Blueprint("notifications", __name__)


@bp.get("/notifications")
@roles_required()
def index() -> str:
    """The user's messages, newest first, unread ones marked; ``page`` pages them."""
    session = get_session()
    page = ascii_int(request.args.get("page"), default=1, max_digits=6)
    result = svc.notification_page(session, user_id=current_user.id, page=page)
    return render_template("notifications/list.html", result=result, kinds=svc.KINDS)


@bp.get("/notifications/<int:notification_id>")
@roles_required()
def show(notification_id: int) -> str:
    """One message, marked read by reading it, with the link to the page that acts on it
    (another user's is 404, as a missing one)."""
    session = get_session()
    note = svc.get_notification(session, user_id=current_user.id, notification_id=notification_id)
    if note.read_at is None:
        svc.mark_read(
            session,
            user_id=current_user.id,
            clock=clock.app_clock(),
            notification_id=notification_id,
        )
        session.commit()
        note = svc.get_notification(
            session, user_id=current_user.id, notification_id=notification_id
        )
    return render_template("notifications/show.html", note=note, kinds=svc.KINDS)


@bp.post("/notifications/<int:notification_id>/read")
@roles_required()
def mark_read(notification_id: int) -> BaseResponse:
    """Mark one message read, back to the list."""
    session = get_session()
    svc.mark_read(
        session, user_id=current_user.id, clock=clock.app_clock(), notification_id=notification_id
    )
    session.commit()
    return redirect(url_for("notifications.index"), code=303)


@bp.post("/notifications/read-all")
@roles_required()
def mark_all_read() -> BaseResponse:
    """Mark every message of the user read."""
    session = get_session()
    count = svc.mark_read(session, user_id=current_user.id, clock=clock.app_clock())
    session.commit()
    flash(f"{count} message{'s' if count != 1 else ''} marked read.", "success")
    return redirect(url_for("notifications.index"), code=303)


@bp.route("/notifications/preferences", methods=["GET", "POST"])
@roles_required()
def preferences() -> str | BaseResponse:
    """Turn each kind of message on or off (by e-mail and in the app); the kinds the law
    requires stay on and say so."""
    session = get_session()
    if request.method == "POST":
        svc.set_preferences(session, user=current_user, enabled=request.form.getlist("kind"))
        session.commit()
        flash("Your notification preferences are saved.", "success")
        return redirect(url_for("notifications.preferences"), code=303)
    return render_template(
        "notifications/preferences.html",
        kinds=svc.kinds_for(current_user.role),
        on=svc.preferences(session, user=current_user),
    )


@bp.get("/outbox")
@roles_required(Role.ADMIN)
def outbox_index() -> str:
    """Every stored e-mail, newest first: ``status`` filters (pending, sent, outbox),
    ``page`` pages."""
    status = request.args.get("status") or None
    if status is not None and status not in outbox.STATUSES:
        raise ApiError(
            400,
            f"status: {status[:40]!r} is not a status of a mail; choose one of "
            f"{', '.join(outbox.STATUSES)}, or none for every mail.",
            field="status",
        )
    session = get_session()
    page = ascii_int(request.args.get("page"), default=1, max_digits=6)
    result = outbox.outbox_page(session, status=status, page=page)
    args: dict[str, Any] = {"status": status} if status else {}
    return render_template(
        "notifications/outbox.html", result=result, status=status, args=args,
        statuses=outbox.STATUSES,
    )  # fmt: skip


@bp.get("/outbox/<int:message_id>")
@roles_required(Role.ADMIN)
def outbox_message(message_id: int) -> str:
    """One stored e-mail: its headers, text part and HTML part (shown sandboxed)."""
    session = get_session()
    message = outbox.get_message(session, message_id=message_id)
    return render_template("notifications/message.html", message=message)
