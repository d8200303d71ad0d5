"""Security headers on every response, set by Flask-Talisman.

Flask-Talisman (the maintained fork published on PyPI as ``flask-talisman`` 1.x; the
first repository is archived) sets on every answer, pages, API and static files alike:

- ``Content-Security-Policy`` (``CONTENT_SECURITY_POLICY``): scripts, styles, fonts and
  connections from this origin only, no inline script and no inline style (no
  ``'unsafe-inline'`` anywhere: every script is a file under ``hub/static``, and the
  geometry of bars and timelines is written by ``hub/static/geometry.js`` from
  ``data-*`` attributes, since a style attribute could carry injected CSS that reads a
  page's secrets through attribute selectors); images from this origin and ``data:``
  URIs (the favicon, Swagger UI's icons); no plugins (``object-src 'none'``); forms post
  to this origin only; no page may be framed (``frame-ancestors 'none'``, with
  ``X-Frame-Options: DENY`` for older browsers);
- ``X-Content-Type-Options: nosniff``;
- ``Referrer-Policy: same-origin`` (no address of the hub is sent to another site);
- ``Permissions-Policy`` turning off the camera, microphone, geolocation and payment;
- ``Strict-Transport-Security`` (one year, subdomains included) in production only
  (``HUB_ENV=production``), on answers to HTTPS requests: the TLS proxy in front (see the
  README's "Security") must tell the app a request came over HTTPS
  (``HUB_TRUSTED_PROXIES``).

Talisman never redirects to HTTPS here (``force_https`` off): the proxy in front does
that, and development and tests speak plain HTTP. Cookie flags stay those of
``hub.config`` (``HUB_SECURE_COOKIES``), which Talisman is told to keep.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask_talisman import Talisman

#: The Content-Security-Policy of every answer (Talisman writes it as the header).
CONTENT_SECURITY_POLICY: dict[str, str | list[str]] = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": ["'self'", "data:"],
    "font-src": "'self'",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}

#: Browser features no page of the hub uses (``Permissions-Policy``).
PERMISSIONS_POLICY = {"camera": "()", "microphone": "()", "geolocation": "()", "payment": "()"}

#: ``Referrer-Policy``: full address within the hub, nothing to other sites.
REFERRER_POLICY = "same-origin"

#: ``Strict-Transport-Security`` max-age in production, in seconds (one year).
HSTS_MAX_AGE = 365 * 24 * 3600

EXTENSION_KEY = "hub.talisman"


def init_app(app: Flask) -> Talisman:
    """Set the security headers on every answer of ``app`` (see the module docstring).

    HSTS is sent only when ``app.config["HUB_ENV"]`` is ``production``; the session
    cookie's ``Secure`` and ``HttpOnly`` flags are left as ``hub.config`` set them.
    Returns the Talisman instance (also ``app.extensions["hub.talisman"]``)."""
    production = app.config.get("HUB_ENV") == "production"
    options: dict[str, Any] = {
        "force_https": False,
        "frame_options": "DENY",
        "strict_transport_security": production,
        "strict_transport_security_max_age": HSTS_MAX_AGE,
        "strict_transport_security_include_subdomains": True,
        "content_security_policy": CONTENT_SECURITY_POLICY,
        "referrer_policy": REFERRER_POLICY,
        "permissions_policy": PERMISSIONS_POLICY,
        # Talisman would overwrite the cookie flags hub.config chose (HUB_SECURE_COOKIES).
        "session_cookie_secure": bool(app.config.get("SESSION_COOKIE_SECURE")),
        "session_cookie_http_only": bool(app.config.get("SESSION_COOKIE_HTTPONLY", True)),
    }
    talisman = Talisman(app, **options)
    app.extensions[EXTENSION_KEY] = talisman
    return talisman
