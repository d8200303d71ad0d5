"""The JSON API under /api: ``/api/v1/...`` and its OpenAPI document."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api")

from hub.api import assessments, docs, filings, warnings  # noqa: E402, F401  (routes register on import)
