"""The OpenAPI 3 document of the API, built from the policy versions it serves.

Filing schemas come from the inputs each version declares, so a new input in a
new policy file appears in the document without touching this code. Other API
modules add their paths with ``@path_provider``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from importlib.metadata import version as package_version
from typing import Any

from flask import Response, jsonify

from hub import app_clock as clock
from hub.api import bp
from hub.app_catalogue import catalogue
from hub.policy import PolicyRegistry
from hub.policy.schema import filing_schema
from hub.policy.trace import CriterionTrace

PathProvider = Callable[[], dict[str, Any]]
_providers: list[PathProvider] = []


def path_provider(fn: PathProvider) -> PathProvider:
    """Register a function returning OpenAPI path items to merge into the document."""
    _providers.append(fn)
    return fn


def error_responses(*codes: int) -> dict[str, Any]:
    words = {
        400: "Malformed request (not JSON, not an object)",
        401: "Missing, unknown, revoked or expired bearer token (the message says which)",
        403: "The token's user may not do this",
        404: "Not found",
        409: "Conflict with the current state",
        415: (
            "The request body is not declared as JSON: send it with Content-Type: "
            "application/json (UTF-8)"
        ),
        422: (
            "Validation failed; one error per offending field. A body that names a key "
            "twice, at any depth, gets one error per such key with its path as the field "
            '(`{"field": "filing.kyc_verified_clients_pct", "message": "is given more than '
            'once"}`), and so does a number with more significant digits than can be '
            "compared exactly"
        ),
        429: "Rate limit exceeded",
    }
    return {
        str(c): {
            "description": words[c],
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Errors"}}},
        }
        for c in codes
    }


def _schema_name(version: str) -> str:
    return "Filing_" + "".join(ch if ch.isalnum() else "_" for ch in version)


def _components(registry: PolicyRegistry) -> dict[str, Any]:
    schemas: dict[str, Any] = {
        "Errors": {
            "type": "object",
            "required": ["errors"],
            "properties": {
                "errors": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["field", "message"],
                        "properties": {
                            "field": {"type": "string", "nullable": True},
                            "message": {"type": "string"},
                        },
                    },
                }
            },
        },
        "PolicyRef": {
            "type": "object",
            "properties": {
                "id": {"type": "string"},
                "version": {"type": "string"},
                "digest": {"type": "string", "example": "sha256:…"},
            },
        },
        "Decision": {
            "type": "object",
            "required": ["policy", "as_of", "tier", "benefits", "criteria"],
            "properties": {
                "policy": {"$ref": "#/components/schemas/PolicyRef"},
                "as_of": {"type": "string", "format": "date"},
                "tier": {"type": "string", "nullable": True, "enum": ["T1", "T2", "T3", None]},
                "tier_title": {"type": "string", "nullable": True},
                "estimated_total_saving_kzt": {"type": "number"},
                "benefits": {
                    "type": "array",
                    "description": "Only the benefits granted.",
                    "items": {
                        "type": "object",
                        "properties": {
                            "id": {"type": "string"},
                            "title": {"type": "string"},
                            "standard_rate": {"type": "string"},
                            "estimated_annual_saving_kzt": {"type": "number", "nullable": True},
                        },
                    },
                },
                "criteria": {
                    "type": "array",
                    "description": "Every criterion of the version, in policy order.",
                    "items": {
                        "type": "object",
                        "properties": {
                            "id": {"type": "string"},
                            "title": {"type": "string"},
                            "tier": {"type": "string"},
                            "status": {
                                "type": "string",
                                "enum": ["met", "not_met", "not_applicable", "missing"],
                            },
                            "values": {"type": "object", "additionalProperties": True},
                            "requirement": {"type": "string", "nullable": True},
                            "threshold": {"nullable": True},
                            "explanation": {"type": "string"},
                            "fix": {"type": "string", "nullable": True},
                            "citation": {"type": "string"},
                        },
                    },
                },
            },
        },
    }
    schemas.update(_trace_schemas())
    schemas["Decision"]["properties"]["trace"] = {
        "$ref": "#/components/schemas/Trace",
        "description": "Only with `?trace=true`: how the decision was made.",
    }
    versions = registry.versions()
    for p in versions:
        schemas[_schema_name(p.version)] = filing_schema(p)
    schemas["Filing"] = {
        "description": "A filing under any published version (its inputs decide which).",
        "anyOf": [{"$ref": f"#/components/schemas/{_schema_name(p.version)}"} for p in versions],
    }
    return {
        "schemas": schemas,
        "securitySchemes": {
            "bearer": {
                "type": "http",
                "scheme": "bearer",
                "description": "A personal API token created in the company workspace.",
            }
        },
    }


def _trace_schemas() -> dict[str, Any]:
    """The ``trace`` of ``POST /api/v1/assessments?trace=true`` (``hub.policy.trace``)."""
    values = {
        "type": "object",
        "additionalProperties": True,
        "description": "Name -> value: the inputs the expression names (as validated), "
        "`as_of` when it reads the date; in a requirement also `tier` (the tier reached) "
        "and `met(criterion)` (true or false).",
    }
    absent = {
        "type": "array",
        "items": {"type": "string"},
        "description": "Inputs the expression names that the filing leaves out.",
    }
    parameters = {
        "type": "object",
        "additionalProperties": True,
        "description": "Name -> value of each policy parameter the expression names; a "
        "mapping indexed by the activity shows only the entry used, e.g. "
        '`{"required_licence": {"exchange": "trading_facility"}}`.',
    }
    rules = {"type": "array", "items": {"type": "string"}}
    return {
        "CriterionTrace": {
            "type": "object",
            "required": sorted(CriterionTrace.__annotations__),
            "properties": {
                "id": {"type": "string"},
                "tier": {"type": "string"},
                "status": {
                    "type": "string",
                    "enum": ["met", "not_met", "not_applicable", "missing"],
                },
                "reason": {"type": "string", "description": "Why the status, in words."},
                "condition": {"type": "string", "description": "As written in the policy."},
                "specialised": {
                    "type": "string",
                    "nullable": True,
                    "description": "With the parameters and the activity folded in, as "
                    "the engine's rule tests it; null when the criterion does not apply.",
                },
                "parameters": parameters,
                "read": values,
                "absent": absent,
                "rule": {
                    "type": "string",
                    "nullable": True,
                    "example": "u:3:0",
                    "description": "The engine rule that fires when this criterion is not "
                    "met for this activity; null when it does not apply or always holds.",
                },
                "fired": {
                    **rules,
                    "description": "The rules of this criterion that fired: [rule] when "
                    "not met; a missing criterion may show one too (the status `missing` "
                    "is decided from the inputs present first).",
                },
            },
        },
        "SavingTrace": {
            "type": "object",
            "properties": {
                "formula": {"type": "string", "description": "As written in the policy."},
                "specialised": {"type": "string", "description": "Parameters folded in."},
                "parameters": parameters,
                "read": values,
                "absent": absent,
                "computation": {
                    "type": "string",
                    "nullable": True,
                    "example": "0.2 × 60,000,000",
                    "description": "The formula with the values used (null if one is absent).",
                },
                "value": {
                    "type": "number",
                    "nullable": True,
                    "description": "The decision's estimate; null unless the benefit is granted.",
                },
            },
        },
        "BenefitTrace": {
            "type": "object",
            "properties": {
                "id": {"type": "string"},
                "granted": {"type": "boolean"},
                "requirement": {"type": "string", "description": "As written in the policy."},
                "specialised": {"type": "string", "description": "For the filing's activity."},
                "parameters": parameters,
                "read": values,
                "absent": absent,
                "rule": {"type": "string", "nullable": True, "example": "b:2:"},
                "fired": rules,
                "saving": {
                    "allOf": [{"$ref": "#/components/schemas/SavingTrace"}],
                    "nullable": True,
                },
            },
        },
        "Trace": {
            "type": "object",
            "description": "How the decision was made: per criterion the condition as "
            "specialised for the activity, the parameters and values it used and the "
            "engine rule that fired (`u:<criterion>:<n>`, phase one); the tier rule "
            "(`t:<tier>:`) and benefit rules (`b:<benefit>:`) that fired in phase two.",
            "properties": {
                "policy": {
                    "type": "object",
                    "properties": {
                        "key": {"type": "string", "description": "id@version@digest prefix"},
                        "id": {"type": "string"},
                        "version": {"type": "string"},
                        "digest": {"type": "string"},
                    },
                },
                "as_of": {"type": "string", "format": "date"},
                "activity": {"type": "string"},
                "rules_fired": {**rules, "description": "Every rule fired, in order."},
                "criteria": {
                    "type": "array",
                    "items": {"$ref": "#/components/schemas/CriterionTrace"},
                },
                "tier": {
                    "type": "object",
                    "properties": {
                        "reached": {"type": "string", "nullable": True},
                        "rules": {"type": "object", "additionalProperties": {"type": "string"}},
                        "fired": rules,
                        "unsatisfied": {
                            "type": "object",
                            "description": "Tier -> its criteria not met or missing.",
                            "additionalProperties": {"type": "array", "items": {"type": "string"}},
                        },
                    },
                },
                "benefits": {
                    "type": "array",
                    "description": "Every benefit of the version, granted or not.",
                    "items": {"$ref": "#/components/schemas/BenefitTrace"},
                },
            },
        },
    }


def _core_paths(registry: PolicyRegistry) -> dict[str, Any]:
    example = None
    with contextlib.suppress(LookupError):
        example = registry.select(clock.today()).version
    return {
        "/api/v1/assessments": {
            "post": {
                "summary": "Assess a filing (nothing is stored)",
                "description": (
                    "Evaluates the filing under the policy version in force on `as_of` "
                    "(default: today, the hub's date in its time zone `HUB_TIMEZONE`) or the "
                    "version named. Open to anonymous callers."
                ),
                "tags": ["assessments"],
                "parameters": [
                    {
                        "name": "trace",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string", "enum": ["true", "false"], "default": "false"},
                        "description": (
                            "`true` adds `trace` to the answer (see the Trace schema); "
                            "without it, or with `false`, the answer is the same bytes as "
                            "ever. Any other value, or the parameter twice, is a 422 "
                            "naming `trace`."
                        ),
                    }
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["filing"],
                                "additionalProperties": False,
                                "properties": {
                                    "filing": {"$ref": "#/components/schemas/Filing"},
                                    "as_of": {"type": "string", "format": "date"},
                                    "policy_version": {
                                        "type": "string",
                                        "enum": [p.version for p in registry.versions()],
                                        "example": example,
                                    },
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "200": {
                        "description": "The decision, criterion by criterion",
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/Decision"}
                            }
                        },
                    },
                    **error_responses(400, 415, 422, 429),
                },
            }
        },
        "/api/v1/policies": {
            "get": {
                "summary": "List policy versions",
                "tags": ["policies"],
                "responses": {"200": {"description": "Every version, oldest first"}},
            }
        },
        "/api/v1/policies/{version}": {
            "get": {
                "summary": "A version's inputs, criteria, tiers and benefits",
                "tags": ["policies"],
                "parameters": [
                    {
                        "name": "version",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    }
                ],
                "responses": {"200": {"description": "The version"}, **error_responses(404)},
            }
        },
    }


def openapi_document() -> dict[str, Any]:
    registry = catalogue().registry()
    paths = _core_paths(registry)
    for provider in _providers:
        paths.update(provider())
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Astana Crypto Hub eligibility API",
            "version": package_version("astana-crypto-hub"),
            "description": (
                "Self-assessment and certification of digital-asset companies under the "
                "Astana Crypto Hub tax incentive policy. Errors always have the shape "
                '`{"errors": [{"field": ..., "message": ...}]}`.'
            ),
        },
        "paths": paths,
        "components": _components(registry),
    }


@bp.get("/openapi.json")
def openapi_json() -> Response:
    return jsonify(openapi_document())
