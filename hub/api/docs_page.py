"""The API's documentation page (Swagger UI) at ``/api/docs/``, under the CSP.

flask-swagger-ui ships Swagger UI's files, served from here (no CDN), but its page
starts Swagger UI with an inline script, which the Content-Security-Policy
(``hub.security``) refuses. This blueprint serves its own page instead
(``templates/api/docs.html``): the configuration is a ``data-`` attribute, read by
``static/swagger-init.js``, a file like every other script. Nothing on the page needs
an exception to the policy (tests/browser/test_security.py watches it in Chromium).
"""

from __future__ import annotations

from pathlib import Path

import flask_swagger_ui
from flask import Blueprint, Response, render_template, send_from_directory

#: Swagger UI's files, as flask-swagger-ui ships them.
DIST_DIR = Path(flask_swagger_ui.__file__).resolve().parent / "dist"

#: What Swagger UI is told (the OpenAPI document's address, the layout).
SWAGGER_CONFIG = {
    "url": "/api/openapi.json",
    "dom_id": "#swagger-ui",
    # Swagger UI's own layout without the standalone preset's top bar, whose logo carries
    # an inline <style> (refused by the policy) and whose box loads any other document.
    "layout": "BaseLayout",
    "deepLinking": True,
}

bp = Blueprint("api_docs", __name__, url_prefix="/api/docs")


@bp.get("/")
@bp.get("/index.html")
def show() -> str:
    """The documentation page: Swagger UI reading ``/api/openapi.json``."""
    return render_template("api/docs.html", config=SWAGGER_CONFIG)


@bp.get("/<path:path>")
def asset(path: str) -> Response:
    """One of Swagger UI's files (scripts, styles, icons); 404 for anything else
    (``send_from_directory`` refuses paths out of the folder)."""
    return send_from_directory(DIST_DIR, path)
