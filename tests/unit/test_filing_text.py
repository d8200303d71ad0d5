"""Text in a filing: NFC before any check, and nothing that cannot be stored or shown."""

from __future__ import annotations

import unicodedata
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.policy import FilingInvalid, assess, validate_filing

from .core_support import AS_OF, P2026, exchange

# 128 characters composed; 238 code points decomposed (55 letters carry two marks each).
COMPOSED = "Ệ" * 55 + " Steppe Exchange and Custody of Digital Assets (Viet Nam-Kazakhstan) LLP."
DECOMPOSED = unicodedata.normalize("NFD", COMPOSED)


def refused(**changes: Any) -> dict[str, str]:
    with pytest.raises(FilingInvalid) as caught:
        validate_filing(P2026, exchange(**changes))
    (error,) = caught.value.errors
    orjson.dumps(error)  # every message can be written out as UTF-8
    return error


def test_a_name_is_judged_and_kept_composed() -> None:
    assert (len(COMPOSED), len(DECOMPOSED)) == (128, 238)
    for sent in (COMPOSED, DECOMPOSED):
        assert validate_filing(P2026, exchange(legal_name=sent))["legal_name"] == COMPOSED
    too_long = "é" * 201
    assert refused(legal_name=unicodedata.normalize("NFD", too_long))["message"] == (
        "must be at most 200 characters (got 201)"
    )


def test_choices_and_set_items_are_compared_composed() -> None:
    # The 2026.1 choices are ASCII; "e" + U+0301 is "é", not a choice, whichever form.
    assert refused(licence_type="e\u0301")["field"] == "licence_type"
    clean = validate_filing(P2026, exchange(officers_appointed=["SEO", "CO"]))
    assert clean["officers_appointed"] == ["SEO", "CO"]


@pytest.mark.parametrize(
    "name",
    [
        "Steppe \ud800 LLP",  # a lone surrogate
        "Steppe \udfff",
        "Steppe\tExchange",  # a tab: a name is one line
        "Steppe\nExchange",
        "Steppe\x00Exchange",
        "Steppe\x1bExchange",
        "Steppe\x7fExchange",
        "Steppe\x85Exchange",  # C1
        "Steppe \u202eLLP",  # right-to-left override
        "Steppe \u2067LLP\u2069",  # isolates
        "\u200b",  # invisible only
        "\u200b\u200d\ufeff",
        "\u3164",  # Hangul filler
        "\u0301\u0301",  # combining marks alone
    ],
)
def test_names_that_cannot_be_stored_or_shown_are_refused(name: str) -> None:
    error = refused(legal_name=name)
    assert error["field"] == "legal_name"
    assert name not in error["message"] or (name.isascii() and name.isprintable())


@pytest.mark.parametrize("name", ["Қазақстан Биржасы ТОО", "株式会社 Steppe", "Ärzte & Söhne"])
def test_names_in_any_script_are_kept(name: str) -> None:
    assert validate_filing(P2026, exchange(legal_name=name))["legal_name"] == name


def test_a_lone_surrogate_is_refused_wherever_text_is_expected() -> None:
    for change in (
        {"licence_type": "trading\ud800"},
        {"activity": "\udc00"},
        {"licence_expires_on": "2027-01-0\ud800"},
        {"bin": "94014000038\ud800"},
        {"officers_appointed": ["SEO", "\ud800"]},
    ):
        ((field, _),) = change.items()
        assert refused(**change)["field"] == field
    with pytest.raises(FilingInvalid) as caught:
        validate_filing(P2026, {**exchange(), "\ud800x": 1})
    (error,) = caught.value.errors
    assert error["field"] == "'\\ud800x'"  # escaped, so it can be written and shown


def test_assess_never_decides_on_text_it_cannot_show() -> None:
    with pytest.raises(FilingInvalid):
        assess(P2026, exchange(legal_name="Steppe \ud800 LLP"), AS_OF)


def test_request_bodies_name_the_field_of_a_lone_surrogate() -> None:
    from hub.policy.requests import lone_surrogate_errors
    from hub.policy.text import find_lone_surrogate

    body = {"filing": exchange(legal_name="S\ud800"), "as_of": "2026-09-01"}
    assert lone_surrogate_errors(body)[0]["field"] == "legal_name"
    assert lone_surrogate_errors({"as_of": "\udfff"})[0]["field"] == "as_of"
    assert lone_surrogate_errors({"filing": {"officers_appointed": ["\ud800"]}})[0]["field"] == (
        "officers_appointed"
    )
    assert lone_surrogate_errors({"filing": exchange()}) == []
    assert find_lone_surrogate([[["\ud800"]]]) == (0, 0, 0)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=30))
def test_any_text_is_either_kept_in_nfc_or_refused_with_a_printable_message(text: str) -> None:
    try:
        clean = validate_filing(P2026, exchange(legal_name=text))
    except FilingInvalid as exc:
        for e in exc.errors:
            orjson.dumps(e)
            assert e["field"] == "legal_name"
        return
    kept = clean["legal_name"]
    assert unicodedata.is_normalized("NFC", kept) and kept == kept.strip()
    assert kept.encode("utf-8") and not any(c in kept for c in "\t\n\x00\u202e\u2066")
    assert validate_filing(P2026, exchange(legal_name=kept))["legal_name"] == kept
    assert (
        validate_filing(P2026, exchange(legal_name=unicodedata.normalize("NFD", text)))[
            "legal_name"
        ]
        == kept
    )


def test_helpers() -> None:
    from hub.policy.text import nfc, shown

    assert nfc({"a": ["e\u0301", 1], "b": "e\u0301"}) == {"a": ["é", 1], "b": "é"}
    assert nfc("x\ud800e\u0301") == "x\ud800e\u0301"  # left for the checks to refuse
    assert shown("a\ud800\u202e\x00b") == "a\\ud800\\u202e\\u0000b"
    assert shown("x" * 50, 10) == "x" * 10 + "…"
