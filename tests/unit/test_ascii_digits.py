"""Numbers and dates people type are read only in ASCII digits.

``\\d`` in a Python regex takes any script's decimal digits (Arabic-Indic ``٩٥``,
fullwidth ``９５``, Devanagari ``९५``), and ``int()``/``float()`` then read them as 95:
a form, a request or a policy formula would decide on a number nobody wrote.
"""

from __future__ import annotations

import datetime as dt

import pytest

from hub.policy import expr
from hub.policy.requests import RequestInvalid, parse_date
from hub.specs import steps
from hub.web.policy_form import parse_value

from .core_support import P2026

SPECS = P2026.inputs_by_name
OTHER_DIGITS = ["٩٥", "۹۵", "９５", "९५", "৯৫", "95.٥", "٩,٥٠٠", "9٥"]


@pytest.mark.parametrize("raw", OTHER_DIGITS)
@pytest.mark.parametrize("name", ["kyc_verified_clients_pct", "fte_in_zone", "opex_in_zone_kzt"])
def test_the_form_refuses_other_scripts_digits(name: str, raw: str) -> None:
    value, error = parse_value(SPECS[name], raw)
    assert value is None
    assert error is not None and error.startswith("Enter a")


@pytest.mark.parametrize("raw", ["２０２６-０９-０１", "٢٠٢٦-٠٩-٠١", "2026-09-01\n"])
def test_a_date_in_other_digits_gets_the_format_message(raw: str) -> None:
    with pytest.raises(RequestInvalid) as caught:
        parse_date(raw, "as_of")
    assert caught.value.errors == [
        {"field": "as_of", "message": "must be a date written YYYY-MM-DD"}
    ]
    assert parse_date("2026-09-01", "as_of") == dt.date(2026, 9, 1)


@pytest.mark.parametrize("text", ["x >= ٩٥", "x >= ９５", "x >= 9٥", "x * ٢ > 1"])
def test_a_policy_formula_refuses_other_scripts_digits(text: str) -> None:
    with pytest.raises(expr.ExprError):
        expr.parse(text)


def test_gherkin_step_numbers_are_ascii() -> None:
    import re

    for raw in OTHER_DIGITS:
        assert not re.fullmatch(steps.NUM, raw)
    assert not re.fullmatch(steps.DATE, "２０２６-０９-０１")
