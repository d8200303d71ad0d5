"""The anonymous eligibility check at /assess and the readable policy pages.

Nothing is stored: the form is parsed into a filing, the core decides, and the
result page shows the decision. The form comes from the inputs of the policy
version in force (or the one in force on the date the visitor asks about).
"""

from __future__ import annotations

import datetime as dt
import secrets
import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

from flask import Blueprint, current_app, render_template, request, session
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from werkzeug.exceptions import NotFound

from hub import app_clock as clock
from hub.app_catalogue import catalogue
from hub.extensions import rate_limit
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


class FormPages:
    """Blank ``/assess`` pages already rendered, keyed on everything the page shows.

    Rendering the form of a policy version costs some 1.5 ms of CPU (three dozen inputs
    through the form macros), and the blank form is the same for every visitor: the
    page is rendered once per key with a marker where the CSRF token goes, kept as the
    text around the marker, and each request joins that text with its own token
    (``generate_csrf``, exactly what the template's ``csrf_token()`` calls). The key
    holds whatever else varies: the version (and its digest), the list of versions,
    the hub's date, the date asked about and its error, the application root, and who is
    signed in (the header names them). A page with flashed messages to show is always
    rendered afresh (showing them consumes them). At most ``size`` pages are kept, the
    least recently used dropped first; ``size`` 0 keeps none (every page rendered).
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.marker = "csrf-" + secrets.token_hex(16)  # hex: the same text once escaped
        self._pages: OrderedDict[Hashable, tuple[str, ...]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> tuple[str, ...] | None:
        """The page's parts around the token's places, or None when not kept."""
        with self._lock:
            parts = self._pages.get(key)
            if parts is not None:
                self._pages.move_to_end(key)
            return parts

    def put(self, key: Hashable, page: str) -> tuple[str, ...]:
        """Keep ``page`` (rendered with ``marker`` as its CSRF token) under ``key``."""
        parts = tuple(page.split(self.marker))
        if self.size > 0:
            with self._lock:
                self._pages[key] = parts
                self._pages.move_to_end(key)
                while len(self._pages) > self.size:
                    self._pages.popitem(last=False)
        return parts

    def __len__(self) -> int:
        return len(self._pages)


def form_pages() -> FormPages:
    """The current app's kept pages (``ASSESS_FORM_CACHE_SIZE`` of them, default 64)."""
    pages: FormPages | None = current_app.extensions.get("hub.assess_form_pages")
    if pages is None:
        size = int(current_app.config.get("ASSESS_FORM_CACHE_SIZE", 64))
        pages = current_app.extensions.setdefault("hub.assess_form_pages", FormPages(size))
    return pages


def _blank_form_page(context: dict[str, Any]) -> str:
    """The blank form page of ``context``, from the kept pages when it is there."""
    policy = context["policy"]
    if "_flashes" in session:
        context["policy_url"] = policy_url(policy.version)
        return render_template("assess/form.html", form=PolicyForm.blank(policy),
                               others=[], **context)  # fmt: skip
    user = (
        (current_user.get_id(), current_user.email, current_user.role)
        if current_user.is_authenticated
        else None
    )
    key = (
        policy.version,
        policy.digest,
        tuple((v.version, v.digest, v.effective_from) for v in context["versions"]),
        context["today"],
        context["as_of"],
        context["as_of_error"],
        request.script_root,
        user,
    )
    pages = form_pages()
    parts = pages.get(key)
    if parts is None:
        context["policy_url"] = policy_url(policy.version)  # the version and root are keys
        page = render_template(
            "assess/form.html",
            form=PolicyForm.blank(policy),
            others=[],
            csrf_token=lambda: pages.marker,
            **context,
        )
        parts = pages.put(key, page)
    return generate_csrf().join(parts)


@bp.route("/assess", methods=["GET", "POST"])
@rate_limit(_form_limit, methods=["POST"])
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
    }
    if request.method != "POST":  # GET, and HEAD (its headers alone)
        return _blank_form_page(context)
    context["policy_url"] = policy_url(policy.version)
    form = PolicyForm.from_post(policy, request.form)
    others: list[dict[str, str]] = []
    decision = None
    try:
        decision = assess(policy, form.values, as_of)
    except FilingInvalid as exc:
        others = form.add_errors(exc.errors)
    if decision is None or form.has_errors or as_of_error:
        return render_template("assess/form.html", form=form, others=others, **context), 422
    view = decision_view(decision.to_dict(), policy, decision.filing)
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
