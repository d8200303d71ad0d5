"""The company's early warnings (``GET /api/v1/warnings``), found by the daily watch.

A token reaches its user's company's open warnings only (``hub.services.watch``).
"""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, jsonify

from hub.api import bp
from hub.api.docs import error_responses, path_provider
from hub.auth.guards import api_roles_required, company_scope, current_api_user
from hub.db import get_session
from hub.extensions import rate_limit
from hub.models import Role
from hub.policy.watch import KINDS
from hub.services.watch import open_warnings, warning_document


def _limit() -> str:
    return current_app.config.get("FILINGS_API_RATE_LIMIT", "120 per minute")


@bp.get("/v1/warnings")
@rate_limit(_limit)
@api_roles_required(Role.COMPANY)
def list_warnings() -> Response:
    """The company's open warnings, the most urgent first (warnings before notices, the
    earliest loss first)."""
    user = current_api_user()
    assert user is not None  # api_roles_required ran first
    company_id = company_scope(user)
    rows = open_warnings(get_session(), company_id=company_id)
    return jsonify({"warnings": [warning_document(w) for w in rows]})


_WARNING: dict[str, Any] = {
    "type": "object",
    "required": ["id", "kind", "subject", "severity", "state", "loss_on", "todo"],
    "properties": {
        "id": {"type": "integer"},
        "kind": {"type": "string", "enum": list(KINDS)},
        "subject": {
            "type": "string",
            "description": "What the warning is about: the licence's last day, the "
            "certificate's code, `<policy>@<version>`, or `<criterion>:<input>`",
        },
        "severity": {"type": "string", "enum": ["warning", "notice"]},
        "state": {"type": "string", "enum": ["open"]},
        "first_seen": {"type": "string", "format": "date"},
        "last_seen": {"type": "string", "format": "date"},
        "loss_on": {
            "type": "string",
            "format": "date",
            "nullable": True,
            "description": "The first day without what is at stake (null for a notice)",
        },
        "saving_at_stake_kzt": {
            "type": "number",
            "nullable": True,
            "description": "The estimated saving a year that would be lost (null: unknown)",
        },
        "summary": {"type": "string"},
        "todo": {"type": "array", "items": {"type": "string"}, "description": "What to do"},
        "details": {"type": "object", "description": "Everything the watch found"},
    },
}


@path_provider
def warning_paths() -> dict[str, Any]:
    """The warnings endpoint."""
    return {
        "/api/v1/warnings": {
            "get": {
                "tags": ["warnings"],
                "security": [{"bearer": []}],
                "summary": "The company's open warnings, the most urgent first",
                "description": "Found by the daily watch (`hub watch run`): a licence "
                "expiring within 60 days or expired, a certificate expiring within 30 "
                "days, a version taking effect within 90 days that would lower the tier "
                "or take a benefit away (with the fix of each criterion), a figure close "
                "to its threshold.",
                "responses": {
                    "200": {
                        "description": "The open warnings",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "warnings": {"type": "array", "items": _WARNING}
                                    },
                                }
                            }
                        },
                    },
                    **error_responses(401, 403, 429),
                },
            }
        }
    }
