"""The app's policy catalogue: the Flask glue of ``hub.catalogue``.

``init_app`` builds one ``PolicyCatalogue`` per app (``app.extensions["hub.catalogue"]``)
over the app's engine; ``catalogue()`` gives it to views and commands. Services never
import this module: they take a registry as an argument.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, current_app

from hub.catalogue import PolicyCatalogue
from hub.db import get_engine
from hub.policy import PolicyError

EXTENSION = "hub.catalogue"


def init_app(app: Flask) -> None:
    """Build the app's catalogue from ``POLICY_DIR`` and its database: PolicyError if the
    folder does not exist (or, without the catalogue's table, does not load),
    ``CatalogueRefused`` when a file disagrees with the stored version of its number."""
    directory = Path(app.config["POLICY_DIR"])
    if not directory.is_dir():
        raise PolicyError([f"{directory}: the policy folder does not exist (HUB_POLICY_DIR)"])
    engine = get_engine(app)
    try:
        app.extensions[EXTENSION] = PolicyCatalogue(
            directory,
            engine=engine,
            import_files=app.config.get("POLICY_IMPORT_AT_START", True),
        )
    except BaseException:
        engine.dispose()  # the app is not made: close the connections the check opened
        raise


def catalogue() -> PolicyCatalogue:
    """The current app's catalogue (inside an app context)."""
    return current_app.extensions[EXTENSION]
