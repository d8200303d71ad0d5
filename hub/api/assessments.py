"""Assessments and policy versions: open to anonymous callers, nothing stored."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Response, current_app, jsonify, request

from hub import app_clock as clock
from hub.api import bp
from hub.api.common import json_object
from hub.app_catalogue import catalogue
from hub.errors import ApiError
from hub.extensions import rate_limit
from hub.policy import FilingInvalid
from hub.policy.requests import assess_request, parse_flag, trace_request
from hub.policy.trace import with_trace


def _assess_limit() -> str:
    return current_app.config.get("ASSESS_RATE_LIMIT", "120 per minute")


@bp.post("/v1/assessments")
@rate_limit(_assess_limit)
def create_assessment() -> Response:
    """Evaluate a filing under the version in force on as_of (or the one named);
    ``?trace=true`` adds the decision's trace (``hub.policy.trace``) as the key ``trace``."""
    try:
        traced = parse_flag(request.args.getlist("trace"), "trace")
    except FilingInvalid as exc:
        raise ApiError(422, exc.errors) from None
    body = json_object()
    try:
        if not traced:
            decision = assess_request(catalogue().registry(), body, clock.today())
            return Response(decision.to_json(), mimetype="application/json")
        decision, trace = trace_request(catalogue().registry(), body, clock.today())
    except FilingInvalid as exc:
        raise ApiError(422, exc.errors) from None
    return Response(with_trace(decision.to_json(), trace), mimetype="application/json")


def _summary(policy: Any, today: dt.date, in_force: Any) -> dict[str, Any]:
    return {
        "id": policy.id,
        "version": policy.version,
        "title": policy.title,
        "effective_from": policy.effective_from.isoformat(),
        "digest": policy.digest,
        "in_force": in_force is policy,
        "url": f"/api/v1/policies/{policy.version}",
    }


@bp.get("/v1/policies")
def list_policies() -> Response:
    """Every version, oldest first, with the one in force today marked."""
    registry = catalogue().registry()
    today = clock.today()
    try:
        in_force = registry.select(today)
    except LookupError:
        in_force = None
    return jsonify({"policies": [_summary(p, today, in_force) for p in registry.versions()]})


@bp.get("/v1/policies/<version>")
def get_policy(version: str) -> Response:
    """A version's inputs, criteria, tiers and benefits: enough to render a form."""
    try:
        policy = catalogue().registry().get(version)
    except LookupError as exc:
        raise ApiError(404, str(exc.args[0]), field="version") from None
    return jsonify(policy.to_dict())
