"""Every error the app returns, in one place.

HTML requests get one error page in the site layout; anything under
``/api/`` gets one JSON shape::

    {"errors": [{"field": "kyc_verified_clients_pct", "message": "must be <= 100"}]}

``field`` names the offending input, or is ``null`` for an error that is not
about one field (a malformed body, a missing token, a rate limit). Services raise
the domain's errors (``hub.services.errors``: ``NotFound`` 404, ``Conflict`` 409,
``Invalid`` 422, ``Forbidden`` 403; see ``STATUS``); views and the API raise
``ApiError`` (or any werkzeug ``HTTPException``) for what is about HTTP itself.
Nobody builds error responses themselves. Unexpected exceptions become a logged
500, without details leaking to the client.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import BadRequest, HTTPException, InternalServerError

from hub.services.errors import Conflict, DomainError, FieldError, Forbidden, Invalid, NotFound

# Plain-words explanations for the error page and for JSON errors without a description.
MESSAGES: dict[int, tuple[str, str]] = {
    400: ("Bad request", "The request could not be understood. Check what you sent and retry."),
    401: ("Sign-in required", "You need to sign in to do this."),
    403: ("Not allowed", "Your account does not have access to this page."),
    404: ("Not found", "There is nothing here. The link may be wrong or out of date."),
    405: ("Method not allowed", "This address does not accept that kind of request."),
    409: ("Conflict", "Someone else changed this in the meantime. Reload and try again."),
    413: ("Too large", "What you sent is larger than the service accepts."),
    415: ("Unsupported media type", "Send the request body as JSON (application/json)."),
    422: ("Invalid input", "Some of what you sent is not valid."),
    429: ("Too many requests", "You are going too fast. Wait a minute and try again."),
    500: ("Server error", "Something went wrong on our side. It has been logged."),
}


#: The longest field name and message an error answer carries, in characters. Messages
#: echo what was sent cut to 40 characters (``hub.policy.text.shown``); these bounds
#: keep any other echo from sending back a body's worth of text.
MAX_FIELD = 200
MAX_MESSAGE = 2000


def capped(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, an ellipsis marking the cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


class ApiError(Exception):
    """An error with an HTTP status and field-level messages, for views and the API (services
    raise the domain errors of ``hub.services.errors`` instead)."""

    def __init__(
        self,
        status: int,
        errors: Iterable[Mapping[str, Any]] | str,
        *,
        field: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if isinstance(errors, str):
            errors = [{"field": field, "message": errors}]
        self.status = status
        self.errors: list[FieldError] = [
            {
                "field": None if e.get("field") is None else capped(str(e["field"]), MAX_FIELD),
                "message": capped(str(e["message"]), MAX_MESSAGE),
            }
            for e in errors
        ]
        self.headers = dict(headers or {})
        super().__init__(self.errors[0]["message"] if self.errors else str(status))


#: The status each kind of domain error answers with, on the API and on the error page.
STATUS: dict[type[DomainError], int] = {
    NotFound: 404,
    Conflict: 409,
    Invalid: 422,
    Forbidden: 403,
}


def status_of(exc: DomainError) -> int:
    """The HTTP status of a domain error: that of its kind in ``STATUS`` (422 for none)."""
    return next((status for kind, status in STATUS.items() if isinstance(exc, kind)), 422)


def is_api_request() -> bool:
    """Whether the current request is answered in JSON (everything under /api/)."""
    return request.path == "/api" or request.path.startswith("/api/")


def error_response(
    status: int,
    errors: Iterable[Mapping[str, Any]] | str,
    *,
    field: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """The API's error document with the given status."""
    error = ApiError(status, errors, field=field, headers=headers)
    response = jsonify({"errors": error.errors})
    response.status_code = status
    response.headers.update(error.headers)
    return response


def _describe(exc: HTTPException) -> str:
    code = exc.code or 500
    default = MESSAGES.get(code, (exc.name, ""))[1]
    description = exc.description or ""
    # werkzeug's stock descriptions are long and technical; keep our plain words.
    if not description or description == type(exc).description:
        return default or exc.name
    return description


def _html_error(code: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
    title = MESSAGES.get(code, ("Error", ""))[0]
    message = capped(message, MAX_MESSAGE)
    body = render_template("error.html", code=code, title=title, message=message)
    response = Response(body, status=code, mimetype="text/html")
    for key, value in (headers or {}).items():
        if key.lower() != "content-type":
            response.headers[key] = value
    return response


def handle_http_exception(exc: HTTPException) -> Response:
    """Render any HTTP error as JSON under /api/ and as the error page elsewhere."""
    code = exc.code or 500
    headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
    if isinstance(exc, CSRFError):
        message = (
            "The form's security token is missing or has expired. "
            "Reload the page and submit it again."
        )
    elif code == 429:
        limit = f" (limit: {exc.description})" if exc.description else ""
        message = f"{MESSAGES[429][1]}{limit}"
    else:
        message = _describe(exc)
    if is_api_request():
        return error_response(code, message, headers=headers)
    return _html_error(code, message, headers)


def handle_api_error(exc: ApiError) -> Response:
    """``ApiError`` keeps its field-level messages in JSON; HTML shows the first."""
    if is_api_request():
        return error_response(exc.status, exc.errors, headers=exc.headers)
    return _html_error(exc.status, exc.errors[0]["message"] if exc.errors else "", exc.headers)


def handle_domain_error(exc: DomainError) -> Response:
    """A service's refusal: its field errors in JSON under /api/; the page shows the first."""
    status = status_of(exc)
    if is_api_request():
        return error_response(status, list(exc.errors))
    return _html_error(status, exc.message)


def handle_unexpected(exc: Exception) -> Response:
    """A bug: log it with the traceback, answer 500 without details."""
    if isinstance(exc, HTTPException):
        return handle_http_exception(exc)
    from flask import current_app

    current_app.logger.exception("Unhandled exception on %s %s", request.method, request.path)
    return handle_http_exception(InternalServerError())


def reject_nul_bytes() -> None:
    """Refuse form fields and query parameters containing NUL (400, not a database error).

    PostgreSQL cannot store NUL in text, and nothing legitimate contains it.
    JSON bodies are validated by the API's own schema checks, and are never parsed as a
    form here: only the two form encodings have form fields (any other body gives
    ``request.form`` empty, after the work of setting up a parser for nothing).
    """
    if request.args:
        _refuse_nul(request.args)
    if request.mimetype in FORM_TYPES:
        _refuse_nul(request.form)


#: The bodies that have form fields (werkzeug's form parser reads no other).
FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})


def _refuse_nul(values: Any) -> None:
    for key, value in values.items(multi=True):
        if "\x00" in key or "\x00" in value:
            raise BadRequest("Text may not contain NUL characters.")


def init_app(app: Flask) -> None:
    """Register the handlers for the whole app (blueprints included)."""
    app.before_request(reject_nul_bytes)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(ApiError, handle_api_error)
    app.register_error_handler(DomainError, handle_domain_error)
    app.register_error_handler(Exception, handle_unexpected)
