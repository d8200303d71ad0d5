"""Services speak the domain, not HTTP (issue 12 item 2).

The use cases (``hub/services``, the studio's drafts, jobs, publishing and stored
versions, ``hub/auth/service.py``, ``hub/audit.py``) import no Flask, no Werkzeug and no
module of the web layer, so a worker process or a command can call them; they raise
the errors of ``hub/services/errors.py``, which ``hub/errors.py`` maps to one status
each. Import-linter checks the same contract with its transitive imports in CI; this
test reads each module's own imports (also those inside functions), so it runs with
the unit tests and names the line.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from hub.errors import STATUS, status_of
from hub.services.errors import Conflict, DomainError, Forbidden, Invalid, NotFound

HUB = Path(__file__).resolve().parents[2] / "hub"

STUDIO_SERVICES = ("drafts.py", "jobs.py", "publishing.py", "versions.py")
SERVICE_MODULES = sorted(
    [
        *(HUB / "services").rglob("*.py"),
        *(HUB / "studio" / name for name in STUDIO_SERVICES),
        HUB / "auth" / "service.py",
        HUB / "audit.py",
    ]
)

#: What a use case may not import: the web framework, and the layers above it.
FORBIDDEN = ("flask", "flask_login", "flask_wtf", "werkzeug", "hub.errors", "hub.web", "hub.api")


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every module ``path`` imports (line, dotted name), at any depth of its code."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.append((node.lineno, node.module))
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def test_the_service_modules_exist() -> None:
    missing = [str(p) for p in SERVICE_MODULES if not p.exists()]
    assert not missing and len(SERVICE_MODULES) > 10, missing


@pytest.mark.parametrize("path", SERVICE_MODULES, ids=lambda p: str(p.relative_to(HUB)))
def test_a_service_module_imports_no_flask_and_no_web_layer(path: Path) -> None:
    bad = [
        f"{path.relative_to(HUB.parent)}:{line}: imports {name}"
        for line, name in _imports(path)
        if any(name == f or name.startswith(f + ".") for f in FORBIDDEN)
    ]
    assert not bad, "\n".join(bad)


def test_each_kind_of_domain_error_has_its_status() -> None:
    assert {NotFound: 404, Conflict: 409, Invalid: 422, Forbidden: 403} == STATUS
    assert status_of(NotFound("x")) == 404
    assert status_of(Conflict("x")) == 409
    assert status_of(Invalid("x")) == 422
    assert status_of(Forbidden("x")) == 403


def test_the_services_errors_are_domain_errors_of_the_right_kind() -> None:
    from hub.auth.service import AccountError
    from hub.services.filings import FilingConflict, FilingNotFound, FilingRejected
    from hub.services.review.common import ReviewInvalid, ReviewNotFound
    from hub.studio.drafts import DraftChanged

    assert status_of(FilingNotFound(7)) == 404
    assert status_of(FilingConflict("stale")) == 409
    assert status_of(FilingRejected([{"field": "a", "message": "b"}])) == 422
    assert status_of(ReviewNotFound(7)) == 404
    assert status_of(ReviewInvalid("reason", "write it")) == 422
    assert status_of(DraftChanged("saved since")) == 409
    error = AccountError("email", "taken")
    assert isinstance(error, Invalid) and (error.field, error.message) == ("email", "taken")


def test_field_errors_keep_the_api_shape() -> None:
    one = Invalid("must be <= 100", field="kyc_verified_clients_pct")
    assert one.errors == [{"field": "kyc_verified_clients_pct", "message": "must be <= 100"}]
    assert (one.field, one.message, str(one)) == (
        "kyc_verified_clients_pct",
        "must be <= 100",
        "must be <= 100",
    )
    pairs = Invalid([("a", "is required"), (None, "the body is empty")])
    assert pairs.errors == [
        {"field": "a", "message": "is required"},
        {"field": None, "message": "the body is empty"},
    ]
    dicts = DomainError([{"field": "b", "message": 5}])
    assert dicts.errors == [{"field": "b", "message": "5"}]
