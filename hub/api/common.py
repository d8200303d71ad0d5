"""JSON in and out of the API: one way to read a JSON body, and the app's JSON provider."""

from __future__ import annotations

import json
from typing import Any

import orjson
from flask import Response, request
from flask.json.provider import DefaultJSONProvider

from hub.errors import ApiError
from hub.policy import jsondoc
from hub.policy.requests import lone_surrogate_errors
from hub.policy.text import shown

#: What the API reads a request body as, and says in a 415 answer.
JSON_TYPE = "application/json"


def require_json_type() -> None:
    """Refuse (415) a request body that is not declared as JSON.

    A body is read as JSON only when its ``Content-Type`` is ``application/json`` (or a
    ``+json`` type), in UTF-8 (no ``charset``, or ``charset=utf-8``): a form, plain text
    or an undeclared body is not guessed at. A request with no body and no type passes
    (the endpoints whose body is optional). The 415's message names the expected type
    and the one received (cut to 40 characters)."""
    if request.is_json:
        charset = request.mimetype_params.get("charset", "utf-8").lower()
        if charset.replace("-", "") != "utf8":
            raise ApiError(
                415,
                f"JSON is read as UTF-8: send Content-Type: {JSON_TYPE} with no charset or "
                f"charset=utf-8 (got charset={shown(charset)})",
            )
        return
    if not request.mimetype and not request.get_data(cache=True):
        return
    got = shown(request.content_type) if request.content_type else "no Content-Type"
    raise ApiError(
        415, f"the request body must be JSON, sent with Content-Type: {JSON_TYPE} (got {got})"
    )


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
    stored or shown) gets 422 naming its field as validation names it. A body not declared
    as JSON gets 415 (``require_json_type``)."""
    require_json_type()
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


class OrjsonProvider(DefaultJSONProvider):
    """Flask's JSON (``jsonify``, ``app.json``, the ``tojson`` filter) written by orjson.

    The same documents as Flask's default provider: keys sorted, compact unless the app
    is in debug mode, the same conversions of dates (RFC 822, as HTTP dates), decimals,
    UUIDs, dataclasses and ``__html__`` objects (Flask's own ``default``), one trailing
    newline. Text is written as UTF-8 rather than ``\\u`` escapes (the same JSON values).
    What orjson cannot write (an integer beyond 64 bits) falls back to Flask's provider.
    Several times faster for the API's list and error documents.
    """

    #: Dates and dataclasses go to Flask's ``default``, as with the standard library.
    OPTIONS = (
        orjson.OPT_NON_STR_KEYS
        | orjson.OPT_PASSTHROUGH_DATETIME
        | (orjson.OPT_PASSTHROUGH_DATACLASS)
    )

    def _options(self, indent: Any = None) -> int:
        options = self.OPTIONS
        if self.sort_keys:
            options |= orjson.OPT_SORT_KEYS
        if indent:
            options |= orjson.OPT_INDENT_2
        return options

    def _bytes(self, obj: Any, indent: Any = None) -> bytes:
        try:
            return orjson.dumps(obj, default=self.default, option=self._options(indent))
        except orjson.JSONEncodeError:
            kwargs = {"indent": 2} if indent else {"separators": (",", ":")}
            return super().dumps(obj, **kwargs).encode()

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        """``obj`` as JSON text (``indent`` in ``kwargs`` pretty-prints it)."""
        return self._bytes(obj, kwargs.get("indent")).decode()

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        """Parse JSON text with orjson (``hub.api.common.json_body`` reads request bodies
        strictly: duplicate keys and inexact numbers refused)."""
        return orjson.loads(s)

    def response(self, *args: Any, **kwargs: Any) -> Response:
        """``jsonify``: the JSON of the arguments, as Flask's provider makes it."""
        obj = self._prepare_response_obj(args, kwargs)
        indent = (self.compact is None and self._app.debug) or self.compact is False
        body = self._bytes(obj, indent) + b"\n"
        return Response(body, mimetype=self.mimetype)
