"""Security headers on every answer (hub/security.py, Flask-Talisman), and templates that
need no exception to the Content-Security-Policy.

The browser side (pages working under the policy, refusals caught on the console) is
tests/browser/test_security.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

import hub

TEMPLATES = Path(hub.__file__).parent / "templates"

#: An answer of each kind: pages, redirects, errors in HTML and JSON, static files, API
#: documents, the API documentation page and Swagger UI's own files.
ANSWERS = [
    ("GET", "/", 200),
    ("GET", "/assess", 200),
    ("GET", "/login", 200),
    ("GET", "/filings", 302),
    ("GET", "/no-such-page", 404),
    ("GET", "/static/style.css", 200),
    ("GET", "/api/v1/policies", 200),
    ("GET", "/api/v1/filings", 401),
    ("POST", "/api/v1/assessments", 400),
    ("GET", "/api/openapi.json", 200),
    ("GET", "/api/docs/", 200),
    ("GET", "/api/docs/swagger-ui-bundle.js", 200),
]


def directives(response) -> dict[str, list[str]]:
    """The Content-Security-Policy header as {directive: [sources]}."""
    policy = response.headers.get("Content-Security-Policy", "")
    found: dict[str, list[str]] = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            found[words[0]] = words[1:]
    return found


@pytest.mark.parametrize(("method", "path", "status"), ANSWERS)
def test_every_answer_carries_the_security_headers(
    client: FlaskClient, method: str, path: str, status: int
) -> None:
    with client.open(path, method=method) as response:  # static files: closed after
        assert response.status_code == status
    csp = directives(response)
    assert csp.get("default-src") == ["'self'"]
    assert csp.get("script-src") == ["'self'"], csp
    assert csp.get("style-src") == ["'self'"], csp
    assert csp.get("frame-ancestors") == ["'none'"]
    assert csp.get("object-src") == ["'none'"]
    assert csp.get("form-action") == ["'self'"]
    assert not any("unsafe" in s for sources in csp.values() for s in sources), csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert "camera=()" in response.headers["Permissions-Policy"]
    # Development: no HSTS, and plain HTTP is answered, never redirected to HTTPS.
    assert "Strict-Transport-Security" not in response.headers
    assert not (300 <= response.status_code < 400 and "https://" in response.location)


def test_a_server_error_carries_them_too(app: Flask, client: FlaskClient) -> None:
    def boom() -> str:
        raise RuntimeError("a bug")

    app.add_url_rule("/boom", "boom", boom)
    response = client.get("/boom")
    assert response.status_code == 500
    assert directives(response).get("frame-ancestors") == ["'none'"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def production_app(make_app) -> Flask:
    # Production refuses the suite's HUB_PASSWORD_HASH=fast; the headers do not depend on it.
    return make_app(HUB_ENV="production", SESSION_COOKIE_SECURE=True, PASSWORD_HASH="production")


def test_hsts_in_production_only_over_https_and_never_a_redirect(make_app) -> None:
    client = production_app(make_app).test_client()
    secure = client.get("/", base_url="https://hub.example.kz")
    assert secure.status_code == 200
    hsts = secure.headers["Strict-Transport-Security"]
    assert "max-age=31536000" in hsts and "includeSubDomains" in hsts
    # Over plain HTTP the proxy in front redirects; the app neither redirects nor sends
    # HSTS (browsers ignore it there).
    plain = client.get("/", base_url="http://hub.example.kz")
    assert plain.status_code == 200
    assert "Strict-Transport-Security" not in plain.headers
    development = make_app().test_client().get("/", base_url="https://hub.example.kz")
    assert "Strict-Transport-Security" not in development.headers


def test_the_cookie_flags_stay_those_of_the_settings(make_app, make_user, login) -> None:
    # Talisman would mark the session cookie Secure everywhere: sign-in over plain HTTP in
    # development would then lose its session.
    user = make_user("company")
    client = make_app().test_client()
    cookie = login(client, user).headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "Secure" not in cookie
    assert client.get("/filings").status_code == 200


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
HANDLER = re.compile(r"""\son[a-z]+\s*=\s*["']""", re.IGNORECASE)
STYLE_ATTRIBUTE = re.compile(r"""\sstyle\s*=\s*["']""", re.IGNORECASE)
STYLE_ELEMENT = re.compile(r"<style\b", re.IGNORECASE)
JAVASCRIPT_URL = re.compile(r"""=\s*["']\s*javascript:""", re.IGNORECASE)


# E-mails (templates/mail/) are no pages: mail clients drop <style> and linked sheets, so
# their HTML parts keep inline styles; they never run script, which is still refused there.
PAGES = sorted(p for p in TEMPLATES.rglob("*.html") if p.relative_to(TEMPLATES).parts[0] != "mail")
MAILS = sorted((TEMPLATES / "mail").glob("*.html"))


@pytest.mark.parametrize("template", PAGES, ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_templates_hold_no_inline_script_or_style(template: Path) -> None:
    text = template.read_text()
    for name, pattern in (
        ("inline <script>", INLINE_SCRIPT),
        ("event-handler attribute", HANDLER),
        ("style attribute", STYLE_ATTRIBUTE),
        ("<style> element", STYLE_ELEMENT),
        ("javascript: URL", JAVASCRIPT_URL),
    ):
        found = pattern.search(text)
        assert found is None, (
            f"{template.name}: {name} {text[found.start() : found.start() + 60]!r}"
        )


@pytest.mark.parametrize("template", MAILS, ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_mail_templates_hold_no_script(template: Path) -> None:
    text = template.read_text()
    for name, pattern in (
        ("<script>", re.compile(r"<script\b", re.IGNORECASE)),
        ("event-handler attribute", HANDLER),
        ("javascript: URL", JAVASCRIPT_URL),
    ):
        found = pattern.search(text)
        assert found is None, f"{template.name}: {name}"
