"""Stored policy versions: parsed (cached), imported from files and exported to them."""

from __future__ import annotations

import logging
from pathlib import Path

from sqlmodel import Session, col, select

from hub.catalogue import IN_CATALOGUE, ImportReport
from hub.catalogue import import_files as catalogue_import
from hub.models import PolicyVersionRecord
from hub.policy import Policy, load_policy_text
from hub.studio.features import split_features

__all__ = ["ImportReport", "export_version", "import_files", "policy_of", "published_records"]

log = logging.getLogger(__name__)

# --- loading stored versions --------------------------------------------------------------

_PARSED: dict[str, Policy] = {}


def policy_of(record: PolicyVersionRecord) -> Policy:
    """The parsed policy of a stored version (cached by digest; raises PolicyError)."""
    key = record.digest or ""
    hit = _PARSED.get(key) if key else None
    if hit is not None and hit.text == record.text:
        return hit
    policy = load_policy_text(record.text, source=f"{record.version}.yaml")
    if record.digest == policy.digest:
        if len(_PARSED) > 64:
            _PARSED.clear()
        _PARSED[policy.digest] = policy
    return policy


def published_records(session: Session) -> list[PolicyVersionRecord]:
    """The stored versions in the catalogue (published or retired), oldest first."""
    query = (
        select(PolicyVersionRecord)
        .where(col(PolicyVersionRecord.state).in_(IN_CATALOGUE))
        .order_by(col(PolicyVersionRecord.id))
    )
    return list(session.exec(query).all())


# --- import and export ----------------------------------------------------------------------


def import_files(session: Session, directory: str | Path) -> ImportReport:
    """Store every policy file of ``directory`` not stored yet as a published version, in
    the session's transaction (``hub.catalogue.import_files``: the one import, shared with
    the catalogue's start-up). A file whose version number is stored with another text,
    or as a draft, is a conflict: the stored version stays."""
    return catalogue_import(session.connection(), directory)


def export_version(
    record: PolicyVersionRecord, policies_dir: str | Path, features_dir: str | Path
) -> list[Path]:
    """Write a version's text to <policies_dir>/<id>/<version>.yaml and its scenarios to
    <features_dir>/<id>/v<version>/, beside the others; returns the files written."""
    written: list[Path] = []
    policy_file = Path(policies_dir) / record.policy_id / f"{record.version}.yaml"
    policy_file.parent.mkdir(parents=True, exist_ok=True)
    policy_file.write_text(record.text, encoding="utf-8")
    written.append(policy_file)
    if record.features_text:
        folder = Path(features_dir) / record.policy_id / f"v{record.version}"
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in split_features(record.features_text):
            target = folder / Path(name).name
            target.write_text(text.lstrip("\n"), encoding="utf-8")
            written.append(target)
    return written
