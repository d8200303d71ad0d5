"""Request parsing shared by the API views: one way to read a JSON body."""

from __future__ import annotations

import json
from typing import Any

from flask import request

from hub.errors import ApiError
from hub.policy import jsondoc
from hub.policy.requests import lone_surrogate_errors


def json_object() -> dict[str, Any]:
    """The JSON body, which must be an object; anything else is a malformed request (400)."""
    body = json_body()
    if not isinstance(body, dict):
        raise ApiError(400, "the request body must be a JSON object")
    return body


def json_body() -> Any:
    """The parsed JSON body, or a 400 that says what is wrong with it.

    A body that parses but names a key twice, at any depth, or holds a number with
    more significant digits than can be compared exactly gets 422 with one error per
    key or number, its path as the field (``filing.kyc_verified_clients_pct``). Text
    holding a lone surrogate (``"\\ud800"``: valid JSON, but not text that can be
    stored or shown) gets 422 naming its field as validation names it."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        raise ApiError(400, "the request body is empty; send a JSON object")
    try:
        body = jsondoc.loads(raw)
    except jsondoc.DocumentRefused as exc:  # a key given twice, a number read inexactly
        raise ApiError(422, exc.errors) from None
    except UnicodeDecodeError:
        raise ApiError(400, "the request body is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        message = f"the request body is not valid JSON: {exc.msg} ({where})"
        raise ApiError(400, message) from None
    except (ValueError, RecursionError):
        raise ApiError(
            400, "the request body is not valid JSON (nested too deep, or a number too long)"
        ) from None
    if errors := lone_surrogate_errors(body, raw):
        raise ApiError(422, errors)
    return body
