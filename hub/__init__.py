"""Astana Crypto Hub eligibility engine: the Flask service.

``create_app`` is the only way an app is made (by ``hub serve``, ``hub demo``,
the tests and WSGI servers: ``waitress-serve --call hub:create_app``).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # Flask is imported when an app is made: `hub assess` starts faster
    from flask import Flask

    from hub.clock import Clock


__all__ = ["create_app"]


def _development_secret(instance_path: Path) -> str:
    """A random secret kept in the instance folder, so demo sessions survive restarts."""
    path = instance_path / "secret_key"
    if path.exists():
        return path.read_text().strip()
    value = secrets.token_hex(32)
    path.write_text(value)
    path.chmod(0o600)
    return value


def create_app(config: dict[str, Any] | None = None, *, clock: Clock | None = None) -> Flask:
    """Build the app: settings, extensions, blueprints and error handlers.

    ``config`` overrides the settings read from ``HUB_*`` environment
    variables (Flask config keys such as ``DATABASE_URL``, ``SECRET_KEY``,
    ``TIMEZONE``, ``TESTING``); the key ``INSTANCE_PATH`` chooses the instance
    folder. ``clock`` replaces the system clock in the ``TIMEZONE`` zone (tests
    pass a fixed one); it is ``app.extensions["hub.clock"]``. Raises
    ConfigError for unsafe or unusable settings (an unknown ``HUB_TIMEZONE``).
    """
    from flask import Flask

    from hub import app_catalogue, app_jobs, app_mail, db, errors, security, sessions, tasks
    from hub import app_clock as hub_clock
    from hub.api import bp as api_bp
    from hub.api.common import OrjsonProvider
    from hub.api.docs_page import bp as api_docs_bp
    from hub.auth import bp as auth_bp
    from hub.config import check_settings, load_settings
    from hub.extensions import csrf, limiter, login_manager
    from hub.studio.views import bp as studio_bp
    from hub.web import bp as web_bp
    from hub.web.assess import bp as assess_bp
    from hub.web.converters import CanonicalIntegerConverter
    from hub.web.filings import bp as filings_bp
    from hub.web.notifications import bp as notifications_bp
    from hub.web.review import bp as review_bp
    from hub.web.review import public as certificates_bp

    overrides = dict(config or {})
    instance_path = overrides.pop("INSTANCE_PATH", None) or os.environ.get("HUB_INSTANCE_PATH")
    app = Flask(__name__, instance_path=instance_path, instance_relative_config=True)
    app.json = OrjsonProvider(app)  # jsonify and the tojson filter, written by orjson
    app.url_map.converters["int"] = CanonicalIntegerConverter  # before any route
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)

    app.config.update(load_settings(app.instance_path))
    app.config.update(overrides)
    check_settings(app.config)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _development_secret(Path(app.instance_path))

    proxies = int(os.environ.get("HUB_TRUSTED_PROXIES", "0") or 0)
    if proxies:
        from werkzeug.middleware.proxy_fix import ProxyFix

        # Flask's documented way to add WSGI middleware; mypy sees a method assigned.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies
        )

    security.init_app(app)  # first: its headers go on every answer, errors included
    hub_clock.init_app(app, clock)
    app_mail.init_app(app)
    db.init_app(app)
    # The API authenticates with bearer tokens: its requests have no session at all.
    sessions.init_app(app, without=(f"{api_bp.url_prefix}/",))
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    errors.init_app(app)
    app_catalogue.init_app(app)
    tasks.init_app(app)
    app_jobs.init_app(app)

    app.register_blueprint(web_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(assess_bp)
    app.register_blueprint(filings_bp)
    app.register_blueprint(notifications_bp)
    app.register_blueprint(review_bp)
    app.register_blueprint(certificates_bp)
    app.register_blueprint(studio_bp)

    # The API authenticates with bearer tokens, never with the session cookie,
    # so CSRF tokens do not apply to it.
    csrf.exempt(api_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(api_docs_bp)  # Swagger UI, started from a static file (CSP)

    return app
