"""The errors of the hub's use cases, in the words of the domain (no HTTP, no Flask).

Services (``hub.services``, ``hub.studio``, ``hub.auth.service``, ``hub.audit``) raise
these; a worker process or a command catches them as they are, and the web app maps
each kind to one status in ``hub.errors`` (the one HTML error page, the one API shape
``{"errors": [{"field": ..., "message": ...}]}``)::

    NotFound   404    there is no such thing (or the caller may not know it exists)
    Conflict   409    the thing is not in the state the caller saw
    Invalid    422    what was sent cannot be used; each error names its field
    Forbidden  403    the caller may not do this

Every error carries ``errors``: a list of ``{"field": name or None, "message": text}``
(the API's own shape, so views pass it on unchanged); ``message`` is the first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypedDict


class FieldError(TypedDict):
    """One problem: the input it is about (``None`` when it is not about one field)
    and a sentence saying what is wrong."""

    field: str | None
    message: str


class DomainError(Exception):
    """A use case refused: one message, or several field errors.

    ``errors`` is a sentence (with ``field`` naming the input it is about), or an
    iterable of ``{"field", "message"}`` mappings, or of ``(field, message)`` pairs.
    """

    def __init__(
        self,
        errors: str | Iterable[Mapping[str, Any] | tuple[str | None, str]],
        *,
        field: str | None = None,
    ) -> None:
        if isinstance(errors, str):
            items: list[FieldError] = [{"field": field, "message": errors}]
        else:
            items = [_field_error(e) for e in errors]
        self.errors: list[FieldError] = items
        super().__init__(items[0]["message"] if items else type(self).__name__)

    @property
    def message(self) -> str:
        """The first error's sentence (what a page shows when it shows one)."""
        return self.errors[0]["message"] if self.errors else str(self)

    @property
    def field(self) -> str | None:
        """The field of the first error, if it is about one."""
        return self.errors[0]["field"] if self.errors else None


def _field_error(error: Mapping[str, Any] | tuple[str | None, str]) -> FieldError:
    if isinstance(error, tuple):
        name, message = error
        return {"field": name, "message": str(message)}
    return {"field": error.get("field"), "message": str(error["message"])}


class NotFound(DomainError):
    """There is no such thing, or it belongs to someone the caller may not see."""


class Conflict(DomainError):
    """The thing is not in the state the caller saw (stale version, wrong status)."""


class Invalid(DomainError):
    """What was sent cannot be used; each error names the offending field."""


class Forbidden(DomainError):
    """The caller may not do this."""
