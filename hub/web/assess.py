"""The anonymous eligibility check at /assess and the readable policy pages.

Nothing is stored: the form is parsed into a filing, the core decides, and the
result page shows the decision. The form comes from the inputs of the policy
version in force (or the one in force on the date the visitor asks about).
"""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, current_app, render_template, request
from werkzeug.exceptions import NotFound

from hub import app_clock as clock
from hub.app_catalogue import catalogue
from hub.extensions import limiter
from hub.policy import FilingInvalid, NoVersionInForce, Policy, PolicyRegistry, assess
from hub.policy.requests import RequestInvalid, parse_date
from hub.web.policy_form import PolicyForm
from hub.web.present import decision_view

bp = Blueprint("assess", __name__)


def _form_limit() -> str:
    """Per client address; configurable so a busy office behind one NAT can be allowed more."""
    return current_app.config.get("ASSESS_FORM_RATE_LIMIT", "30 per minute;300 per hour")


def _pick_policy(
    registry: PolicyRegistry, raw_as_of: str, today: dt.date
) -> tuple[Policy, dt.date, str | None]:
    """The version in force on the date asked about (default today) and any error about it."""
    as_of, problem = today, None
    if raw_as_of.strip():
        try:
            as_of = parse_date(raw_as_of.strip(), "as_of")
        except RequestInvalid as exc:
            as_of, problem = today, exc.errors[0]["message"]
    try:
        return registry.select(as_of), as_of, problem
    except NoVersionInForce as exc:
        versions = registry.versions()
        if not versions:
            raise
        fallback = versions[0] if as_of < versions[0].effective_from else versions[-1]
        return fallback, fallback.effective_from, problem or exc.message


def policy_url(version: str) -> str:
    from flask import url_for

    return url_for("assess.policy_page", version=version)


@bp.route("/assess", methods=["GET", "POST"])
@limiter.limit(_form_limit, methods=["POST"])
def assess_page() -> tuple[str, int] | str:
    """The check: a blank form (GET), the result or the form with its errors (POST)."""
    registry = catalogue().registry()
    today = clock.today()
    raw_as_of = request.values.get("as_of", "")
    raw_as_of = raw_as_of if isinstance(raw_as_of, str) and len(raw_as_of) < 40 else ""
    policy, as_of, as_of_error = _pick_policy(registry, raw_as_of, today)
    context = {
        "policy": policy,
        "as_of": raw_as_of.strip(),
        "as_of_error": as_of_error,
        "today": today,
        "versions": registry.versions(),
        "policy_url": policy_url(policy.version),
    }
    if request.method == "GET":
        form = PolicyForm.blank(policy)
        return render_template("assess/form.html", form=form, others=[], **context)
    form = PolicyForm.from_post(policy, request.form)
    others: list[dict[str, str]] = []
    decision = None
    try:
        decision = assess(policy, form.values, as_of)
    except FilingInvalid as exc:
        others = form.add_errors(exc.errors)
    if decision is None or form.has_errors or as_of_error:
        return render_template("assess/form.html", form=form, others=others, **context), 422
    view = decision_view(decision.to_dict(), policy)
    return render_template("assess/result.html", form=form, view=view, **context)


@bp.get("/assess/policy/<version>")
def policy_page(version: str) -> str:
    """A policy version as people read it: tiers, criteria with citations, benefits."""
    registry = catalogue().registry()
    try:
        policy = registry.get(version)
    except NoVersionInForce:
        raise NotFound(f"There is no policy version {version[:40]!r}.") from None
    return render_template("assess/policy.html", policy=policy, doc=policy.to_dict())
