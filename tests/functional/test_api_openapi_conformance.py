"""The OpenAPI document is the truth: schemathesis generates requests for every operation
from ``/api/openapi.json`` (valid and invalid ones) and sends them to the app over WSGI
with a company's bearer token; every default check must pass (no 500, documented status
codes, content types and response schemas, invalid data refused, valid data accepted).

Deterministic (derandomized) and bounded per operation so that it runs in the normal suite.
"""

from __future__ import annotations

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import Case
from schemathesis.checks import positive_data_acceptance
from schemathesis.schemas import APIOperation, BaseSchema
from sqlmodel import Session

from hub.auth.tokens import issue_token
from hub.policy.filing import validate_bin

EXAMPLES_PER_OPERATION = 50


def _with_check_digit(first: str) -> str | None:
    """``first`` (11 digits) with the check digit that makes it a valid BIN, or None."""
    for digit in "0123456789":
        if validate_bin(first + digit) is None:
            return first + digit
    return None


#: Valid BINs for the document's ``format: kz-bin`` (the check digit is no pattern).
BINS = st.builds(
    lambda year, month, kind, rest: _with_check_digit(f"{year:02d}{month:02d}{kind}{rest}"),
    st.integers(0, 99),
    st.integers(1, 12),
    st.sampled_from("45"),
    st.text("0123456789", min_size=6, max_size=6),
).filter(lambda b: b is not None)
schemathesis.openapi.format("kz-bin", BINS)

#: Text for the document's ``format: text`` (``TEXT_HELP``): letters, digits, punctuation
#: and spaces, with a letter or digit in it.
TEXTS = st.text(
    st.characters(categories=("L", "N", "P", "Zs"), codec="utf-8"), min_size=1, max_size=40
).filter(lambda t: any(c.isalnum() for c in t))
schemathesis.openapi.format("text", TEXTS)


@pytest.fixture
def company_token(make_user, db_session: Session) -> str:
    """A personal API token of a company user (its company has a valid BIN)."""
    _, plaintext = issue_token(db_session, user=make_user("company"), name="schemathesis")
    db_session.commit()
    return plaintext


@pytest.fixture
def api_schema(app: Flask) -> BaseSchema:
    """The app's own OpenAPI document, with requests sent to the app over WSGI."""
    return schemathesis.openapi.from_wsgi("/api/openapi.json", app)


#: Checks left out for one operation, each with its reason.
NARROWED = {
    # Which inputs a filing must have, and their bounds, depend on the version that
    # decides it, chosen by as_of or policy_version (a version in force on the date, not
    # retired on it): a rule across fields that OpenAPI 3.0 cannot state. The document
    # names every version's schema (Filing is their anyOf) and the 422 answer; every
    # other check still runs on this operation.
    "POST /api/v1/assessments": [positive_data_acceptance],
}

SETTINGS = settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[
        # The app and its database are built once for the run, not per example: state
        # (drafts created by earlier examples) is part of what the document must describe.
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
    ],
)


def _failure(operation: APIOperation, headers: dict[str, str]) -> str | None:
    """Run every default check (less ``NARROWED``) on ``operation``'s generated cases:
    schemathesis's report of what failed, or None."""
    excluded = NARROWED.get(operation.label, [])

    @SETTINGS
    @given(case=operation.as_strategy())
    def conforms(case: Case) -> None:
        case.call_and_validate(headers=headers, excluded_checks=excluded)

    try:
        conforms()
    except BaseException as failure:  # every operation is tried; all failures reported
        if isinstance(failure, KeyboardInterrupt):
            raise
        return str(failure)
    return None


def test_every_operation_conforms_to_the_openapi_document(
    api_schema: BaseSchema, company_token: str
) -> None:
    headers = {"Authorization": f"Bearer {company_token}"}
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 11, [o.label for o in operations]
    failures = {o.label: _failure(o, headers) for o in operations}
    found = {label: text for label, text in failures.items() if text is not None}
    assert not found, "\n\n".join(f"{label}:\n{text}" for label, text in found.items())
