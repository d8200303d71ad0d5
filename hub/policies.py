"""The policy versions the service uses, loaded from the policy folder.

One catalogue per app, reloaded when a file in the folder changes, so every app
server picks up a new version file without a restart. A file that does not load
is a start-up error; at run time the last good set is kept and the error logged.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from pathlib import Path

from flask import Flask, current_app

from hub.policy import Policy, PolicyError, PolicyRegistry

log = logging.getLogger(__name__)
EXTENSION = "hub.policies"


class PolicyCatalogue:
    """The policy registry of one folder, refreshed when its files change."""

    def __init__(self, directory: str | Path, check_every: float = 1.0) -> None:
        self.directory = Path(directory)
        self.check_every = check_every
        self._lock = threading.Lock()
        self._signature = self._scan()
        self._registry = PolicyRegistry.from_directory(self.directory)
        self._checked = time.monotonic()

    def _scan(self) -> tuple[tuple[str, int, int], ...]:
        files = sorted(self.directory.rglob("*.yaml"))
        return tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size) for f in files)

    def registry(self) -> PolicyRegistry:
        now = time.monotonic()
        if now - self._checked < self.check_every:
            return self._registry
        with self._lock:
            self._checked = now
            signature = self._scan()
            if signature != self._signature:
                try:
                    self._registry = PolicyRegistry.from_directory(self.directory)
                except PolicyError as exc:
                    log.error("policy folder %s not reloaded: %s", self.directory, exc)
                self._signature = signature
        return self._registry

    def select(self, as_of: dt.date, version: str | None = None) -> Policy:
        return self.registry().select(as_of, version)


def init_app(app: Flask) -> None:
    directory = Path(app.config["POLICY_DIR"])
    if not directory.is_dir():
        raise PolicyError([f"{directory}: the policy folder does not exist (HUB_POLICY_DIR)"])
    app.extensions[EXTENSION] = PolicyCatalogue(directory)


def catalogue() -> PolicyCatalogue:
    return current_app.extensions[EXTENSION]
