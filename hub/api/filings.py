"""The company filing API: drafts, submission and revision with personal bearer tokens.

Same rules as the workspace (``hub.services.filings``), same validation and error
shape as ``/api/v1/assessments``. A token reaches only its user's company's
filings; any other id is a 404, exactly like one that does not exist.
"""

from __future__ import annotations

import contextlib
from typing import Any

from flask import Response, current_app, jsonify, request, url_for

from hub import app_clock as clock
from hub import app_mail
from hub.api import bp
from hub.api.common import json_object, require_json_type
from hub.api.docs import error_responses, path_provider
from hub.app_catalogue import catalogue
from hub.auth.guards import api_roles_required, company_scope, current_api_user
from hub.db import get_session
from hub.errors import ApiError
from hub.extensions import rate_limit
from hub.models import Company, FilingStatus, Role, User, stored_id
from hub.policy.schema import input_schema
from hub.services import filings as svc
from hub.services import notifications

#: The input a draft never takes from the client (the company's BIN).
BIN_INPUT = "bin"


def _limit() -> str:
    return current_app.config.get("FILINGS_API_RATE_LIMIT", "120 per minute")


def _caller() -> tuple[User, Company]:
    user = current_api_user()
    assert user is not None  # api_roles_required ran first
    company = get_session().get(Company, company_scope(user))
    if company is None:
        raise ApiError(403, "This token's user is not linked to a company.")
    return user, company


def _body(allowed: tuple[str, ...], *, optional: bool = False) -> dict[str, Any]:
    """The JSON object body with only ``allowed`` keys (422 for others, as for assessments);
    415 for a body (or a type) that is not JSON, even where the body is optional."""
    require_json_type()
    if optional and not request.get_data(cache=True).strip():
        return {}
    body = json_object()
    errors = [
        {"field": str(k)[:40], "message": f"unknown field (expected {', '.join(allowed)})"}
        for k in body
        if k not in allowed
    ]
    if errors:
        raise ApiError(422, errors)
    return body


def _lock_version(body: dict[str, Any]) -> int | None:
    if "lock_version" not in body:
        return None
    value = body["lock_version"]
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**31:
        raise ApiError(
            422, "must be the filing's lock_version, a positive integer", field="lock_version"
        )
    return value


def _filing_input(body: dict[str, Any], *, required: bool) -> dict[str, Any] | None:
    if "filing" not in body:
        if required:
            raise ApiError(422, "is required", field="filing")
        return None
    if not isinstance(body["filing"], dict):
        raise ApiError(422, "must be a JSON object", field="filing")
    return body["filing"]


def _one(filing: Any, status: int = 200) -> Response:
    response = jsonify(svc.filing_to_dict(filing))
    response.status_code = status
    return response


@bp.post("/v1/filings")
@rate_limit(_limit)
@api_roles_required(Role.COMPANY)
def create_filing() -> Response:
    """Create a draft for the token's company (BIN from the account; partial inputs allowed)."""
    user, company = _caller()
    body = _body(("filing",), optional=True)
    session = get_session()
    filing = svc.create_draft(
        session,
        company=company,
        actor_id=user.id,
        inputs=_filing_input(body, required=False),
        registry=catalogue().registry(),
        today=clock.today(),
    )
    session.commit()
    response = _one(filing, 201)
    response.headers["Location"] = url_for("api.get_filing", filing_id=filing.id)
    return response


@bp.get("/v1/filings")
@rate_limit(_limit)
@api_roles_required(Role.COMPANY)
def list_filings() -> Response:
    """The company's filings, newest first (``?status=draft`` to filter)."""
    _, company = _caller()
    status = request.args.get("status")
    if status is not None and status not in {s.value for s in FilingStatus}:
        choices = ", ".join(s.value for s in FilingStatus)
        raise ApiError(422, f"must be one of {choices}", field="status")
    rows = svc.list_filings(get_session(), company_id=stored_id(company), status=status)
    return jsonify({"filings": [svc.filing_to_dict(f) for f in rows]})


@bp.get("/v1/filings/<filing_id>")
@rate_limit(_limit)
@api_roles_required(Role.COMPANY)
def get_filing(filing_id: str) -> Response:
    _, company = _caller()
    return _one(svc.get_filing(get_session(), filing_id=filing_id, company_id=stored_id(company)))


@bp.put("/v1/filings/<filing_id>")
@rate_limit(_limit)
@api_roles_required(Role.COMPANY)
def put_filing(filing_id: str) -> Response:
    """Replace a draft's inputs; 409 once it is submitted or if ``lock_version`` is stale."""
    user, company = _caller()
    session = get_session()
    filing = svc.get_filing(session, filing_id=filing_id, company_id=stored_id(company))
    body = _body(("filing", "lock_version"))
    inputs = _filing_input(body, required=True)
    if "lock_version" not in body and filing.status == svc.DRAFT:
        raise ApiError(
            422,
            "is required: send the lock_version you read, so that a change made since "
            "is not overwritten (409 if it is stale)",
            field="lock_version",
        )
    svc.update_draft(
        session,
        filing=filing,
        company=company,
        actor_id=user.id,
        inputs=inputs or {},
        lock_version=_lock_version(body),
        registry=catalogue().registry(),
        today=clock.today(),
        keep_identity=True,
    )
    session.commit()
    return _one(filing)


@bp.post("/v1/filings/<filing_id>/submit")
@rate_limit(_limit)
@api_roles_required(Role.COMPANY)
def submit_filing(filing_id: str) -> Response:
    """Submit a draft: 422 with field errors if incomplete, 409 if not a draft."""
    user, company = _caller()
    session = get_session()
    filing = svc.get_filing(session, filing_id=filing_id, company_id=stored_id(company))
    body = _body(("lock_version",), optional=True)
    svc.submit(
        session,
        filing=filing,
        actor_id=user.id,
        lock_version=_lock_version(body),
        registry=catalogue().registry(),
        today=clock.today(),
    )
    made = app_mail.notifier()
    notifications.filing_event(session, made, filing)
    session.commit()
    app_mail.send_queued(made)
    return _one(filing)


@bp.post("/v1/filings/<filing_id>/withdraw")
@rate_limit(_limit)
@api_roles_required(Role.COMPANY)
def withdraw_filing(filing_id: str) -> Response:
    """Withdraw a submission the hub has not decided yet: 409 once decided or not submitted."""
    user, company = _caller()
    session = get_session()
    filing = svc.get_filing(session, filing_id=filing_id, company_id=stored_id(company))
    body = _body(("lock_version",), optional=True)
    svc.withdraw(session, filing=filing, actor_id=user.id, lock_version=_lock_version(body))
    session.commit()
    return _one(filing)


@bp.post("/v1/filings/<filing_id>/revise")
@rate_limit(_limit)
@api_roles_required(Role.COMPANY)
def revise_filing(filing_id: str) -> Response:
    """Start the draft that will supersede a submitted or decided filing (201)."""
    user, company = _caller()
    session = get_session()
    filing = svc.get_filing(session, filing_id=filing_id, company_id=stored_id(company))
    body = _body(("lock_version",), optional=True)
    draft = svc.revise(session, filing=filing, actor_id=user.id, lock_version=_lock_version(body))
    session.commit()
    response = _one(draft, 201)
    response.headers["Location"] = url_for("api.get_filing", filing_id=draft.id)
    return response


# --- OpenAPI -------------------------------------------------------------------------------

_RECORD = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "company_id": {"type": "integer"},
        "status": {"type": "string", "enum": [s.value for s in FilingStatus]},
        "lock_version": {
            "type": "integer",
            "description": "Send it back with a change; a stale value gets 409.",
        },
        "inputs": {"type": "object", "additionalProperties": True},
        "policy": {"allOf": [{"$ref": "#/components/schemas/PolicyRef"}], "nullable": True},
        "as_of": {"type": "string", "format": "date", "nullable": True},
        "tier_claimed": {"type": "string", "nullable": True},
        "decision": {
            "allOf": [{"$ref": "#/components/schemas/Decision"}],
            "nullable": True,
            "description": "Frozen at submission; null for drafts.",
        },
        "reviewer_message": {"type": "string", "nullable": True},
        "supersedes_id": {"type": "integer", "nullable": True},
        "created_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"},
        "submitted_at": {"type": "string", "format": "date-time", "nullable": True},
        "decided_at": {"type": "string", "format": "date-time", "nullable": True},
        "valid_from": {"type": "string", "format": "date", "nullable": True},
        "valid_until": {"type": "string", "format": "date", "nullable": True},
    },
}
_ID = {
    "name": "filing_id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
    "description": "Any other id, or one of another company, is a 404.",
}
_LOCK = {"lock_version": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}}


def _draft_inputs() -> dict[str, Any]:
    """The inputs a draft may carry today: the version in force's and those an upcoming
    published version asks (``hub.policy.ahead``), each with its schema; no others."""
    registry = catalogue().registry()
    today = clock.today()
    properties: dict[str, Any] = {}
    with contextlib.suppress(LookupError):
        policy = registry.select(today)
        properties = {i.name: input_schema(i) for i in policy.inputs}
        for name, ahead in svc.inputs_ahead(registry, policy, today).items():
            properties[name] = input_schema(ahead.spec)
        # The BIN is the company's own, filled in from the account: not an input here.
        properties.pop(BIN_INPUT, None)
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": properties,
        "description": (
            "Inputs of the version in force (see Filing_*) and answers ahead to the inputs "
            "an upcoming published version asks. Partial inputs are fine in a draft; values "
            "present must be valid. bin is not sent: it is always the company's own (the "
            "account's BIN is accepted, any other is a 422)."
        ),
    }


def _json_body(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "properties": properties,
    }
    if required:
        schema["required"] = required
    return {"required": bool(required), "content": {"application/json": {"schema": schema}}}


@path_provider
def filing_paths() -> dict[str, Any]:
    """The filing endpoints, with the filing record schema inlined."""
    secure: list[dict[str, list[str]]] = [{"bearer": []}]
    common = {"tags": ["filings"], "security": secure}
    draft_inputs = _draft_inputs()
    return {
        "/api/v1/filings": {
            "post": {
                **common,
                "summary": "Create a draft filing for the token's company",
                "requestBody": _json_body({"filing": draft_inputs}),
                "responses": {
                    "201": {
                        "description": "The new draft",
                        "content": {"application/json": {"schema": _RECORD}},
                    },
                    **error_responses(400, 401, 403, 415, 422, 429),
                },
            },
            "get": {
                **common,
                "summary": "List the company's filings, newest first",
                "parameters": [
                    {
                        "name": "status",
                        "in": "query",
                        "schema": {"type": "string", "enum": [s.value for s in FilingStatus]},
                    }
                ],
                "responses": {
                    "200": {
                        "description": "The filings",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {"filings": {"type": "array", "items": _RECORD}},
                                }
                            }
                        },
                    },
                    **error_responses(401, 403, 422, 429),
                },
            },
        },
        "/api/v1/filings/{filing_id}": {
            "get": {
                **common,
                "summary": "One filing of the company (404 for any other)",
                "parameters": [_ID],
                "responses": {
                    "200": {
                        "description": "The filing",
                        "content": {"application/json": {"schema": _RECORD}},
                    },
                    **error_responses(401, 403, 404, 429),
                },
            },
            "put": {
                **common,
                "summary": "Replace a draft's inputs",
                "description": (
                    "The inputs sent replace the draft's; the legal name and activity "
                    "absent from them are the account's, as for a new draft, and bin is "
                    "always the company's own. lock_version (from GET) is required: a "
                    "stale one gets 409."
                ),
                "parameters": [_ID],
                "requestBody": _json_body(
                    {"filing": draft_inputs, **_LOCK}, ["filing", "lock_version"]
                ),
                "responses": {
                    "200": {
                        "description": "The saved draft",
                        "content": {"application/json": {"schema": _RECORD}},
                    },
                    **error_responses(400, 401, 403, 404, 409, 415, 422, 429),
                },
            },
        },
        "/api/v1/filings/{filing_id}/submit": {
            "post": {
                **common,
                "summary": "Submit a draft for review (inputs and decision are frozen)",
                "description": (
                    "A company has at most one filing waiting for review: the one submitted "
                    "or sent back with changes requested before becomes superseded, in the "
                    "same transaction."
                ),
                "parameters": [_ID],
                "requestBody": {**_json_body(_LOCK), "required": False},
                "responses": {
                    "200": {
                        "description": "The submitted filing with its decision",
                        "content": {"application/json": {"schema": _RECORD}},
                    },
                    **error_responses(400, 401, 403, 404, 409, 415, 422, 429),
                },
            }
        },
        "/api/v1/filings/{filing_id}/withdraw": {
            "post": {
                **common,
                "summary": "Withdraw a submission the hub has not decided yet",
                "description": (
                    "A submitted filing, or one sent back with changes requested, becomes "
                    "withdrawn (final): the hub will not review it. 409 once approved or "
                    "rejected, for a draft, or with a stale lock_version. Revise it to start "
                    "a new draft from its answers."
                ),
                "parameters": [_ID],
                "requestBody": {**_json_body(_LOCK), "required": False},
                "responses": {
                    "200": {
                        "description": "The withdrawn filing",
                        "content": {"application/json": {"schema": _RECORD}},
                    },
                    **error_responses(400, 401, 403, 404, 409, 415, 422, 429),
                },
            }
        },
        "/api/v1/filings/{filing_id}/revise": {
            "post": {
                **common,
                "summary": "Start a draft that supersedes a submitted or decided filing",
                "parameters": [_ID],
                "requestBody": {**_json_body(_LOCK), "required": False},
                "responses": {
                    "201": {
                        "description": "The new draft (or the one already open)",
                        "content": {"application/json": {"schema": _RECORD}},
                    },
                    **error_responses(400, 401, 403, 404, 409, 415, 422, 429),
                },
            }
        },
    }
