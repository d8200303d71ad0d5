"""Stored policy versions: parsed (cached), merged with the files, imported and exported."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from sqlmodel import Session, select

from hub.models import (
    PolicyState,
    PolicyVersionRecord,
)
from hub.policy import Policy, PolicyError, PolicyRegistry, load_policy, load_policy_text
from hub.storage import utcnow
from hub.studio.features import split_features

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
    query = select(PolicyVersionRecord).where(
        PolicyVersionRecord.state == PolicyState.PUBLISHED.value
    )
    return list(session.exec(query).all())


def registry_with(session: Session, files: PolicyRegistry) -> PolicyRegistry:
    """The shipped files plus every version published in the database."""
    from hub.catalogue import merge_registry

    return merge_registry(files, [policy_of(r) for r in published_records(session)])


# --- import and export ----------------------------------------------------------------------


@dataclass
class ImportReport:
    added: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def import_files(session: Session, directory: str | Path) -> ImportReport:
    """Store every shipped policy file as a published version; safe to run again.

    A file whose version is already stored with another text is a conflict:
    published versions never change, so the stored one stays and the file
    must get a new version number.
    """
    report = ImportReport()
    for path in sorted(Path(directory).rglob("*.yaml")):
        try:
            policy = load_policy(path)
        except PolicyError as exc:
            report.errors.extend(exc.errors)
            continue
        name = f"{policy.id} {policy.version}"
        stored = session.exec(
            select(PolicyVersionRecord).where(
                PolicyVersionRecord.policy_id == policy.id,
                PolicyVersionRecord.version == policy.version,
            )
        ).first()
        if stored is None:
            session.add(
                PolicyVersionRecord(
                    policy_id=policy.id,
                    version=policy.version,
                    state=PolicyState.PUBLISHED.value,
                    effective_from=policy.effective_from,
                    text=policy.text,
                    digest=policy.digest,
                    published_at=utcnow(),
                )
            )
            session.flush()
            report.added.append(name)
        elif stored.digest == policy.digest:
            report.unchanged.append(name)
        else:
            report.conflicts.append(
                f"{path}: {name} is already stored as {stored.state} with digest "
                f"{stored.digest}; the file has {policy.digest}. Published versions never "
                "change: give the file a new version number."
            )
    return report


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
