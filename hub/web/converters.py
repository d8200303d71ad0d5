"""URL converters: one spelling of a number per resource.

Werkzeug's ``<int:...>`` matches ``\\d+``, any Unicode digit (``/filings/١٢`` and
``/filings/１２`` were filing 12), and leading zeros (``/filings/012``), so one filing had
many addresses. Here a number in a URL is written in ASCII digits without a leading zero;
any other spelling is not found (404). How large it may be is the view's business (a
filing id beyond what the database holds is "no such filing", as any unknown id).
"""

from __future__ import annotations

from typing import Any

from werkzeug.routing import IntegerConverter, ValidationError


class CanonicalIntegerConverter(IntegerConverter):
    """``<int:name>``: a non-negative integer in its one canonical spelling (ASCII
    digits, no leading zero); ``signed=True`` is refused (no route uses it)."""

    regex = r"[0-9]+"

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        if kwargs.get("signed"):
            raise ValueError("signed numbers are not used in this service's URLs")
        super().__init__(map, *args, **kwargs)

    def to_python(self, value: str) -> Any:
        if len(value) > 1 and value[0] == "0":
            raise ValidationError()
        return super().to_python(value)
