"""Drafts of the policy studio: create, validate, save (optimistic locking), delete, compile.

Refusals raise the domain's errors (``hub.services.errors``): ``NotFound``, ``Invalid``,
``Conflict`` (``DraftChanged`` when someone saved the draft since the author opened it),
with a message written for the author who made the wrong move.

Parsing and compiling a text happen before any write: a save validates first, then
writes in one short compare-and-set, so a slow text never holds the database's write
lock (on SQLite, every other writer would wait for it). A text's validation errors
are remembered by its digest, so viewing a draft that does not compile does not
parse it again.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from hub import audit
from hub.models import (
    PolicyState,
    PolicyVersionRecord,
    StudioJob,
    User,
)
from hub.policy import Policy, PolicyError, load_policy_text
from hub.policy.document import VERSION_RE
from hub.policy.loader import MAX_TEXT_BYTES
from hub.services.errors import Conflict, Invalid, NotFound
from hub.specs import read_features
from hub.storage import update_if_unchanged, utcnow
from hub.studio.features import (
    check_features_text,
    copy_for_draft,
    features_digest,
    retag_text,
)

log = logging.getLogger(__name__)

VERSION_LINE_RE = re.compile(r"^version:[ \t]*(?P<value>[^\n#]*?)[ \t]*(?:#.*)?$", re.M)
BASED_ON_RE = re.compile(r"^based_on:[ \t]*(?P<value>[^\n#]*?)[ \t]*(?:#.*)?$", re.M)


class DraftChanged(Conflict):
    """Someone saved the draft since this author opened it (its ``lock_version`` moved)."""


# --- drafts ---------------------------------------------------------------------------------


def get_record(session: Session, version: str, policy_id: str | None = None) -> PolicyVersionRecord:
    query = select(PolicyVersionRecord).where(PolicyVersionRecord.version == version)
    if policy_id:
        query = query.where(PolicyVersionRecord.policy_id == policy_id)
    record = session.exec(query).first()
    if record is None:
        raise NotFound(f"There is no policy version {version!r}.", field="version")
    return record


def suggest_version(session: Session, base: PolicyVersionRecord) -> str:
    """The next free version number of the base's year: 2026.1 -> 2026.2."""
    year, _, rest = base.version.partition(".")
    taken = {
        r.version
        for r in session.exec(
            select(PolicyVersionRecord).where(PolicyVersionRecord.policy_id == base.policy_id)
        )
    }
    n = int(rest) + 1 if rest.isascii() and rest.isdigit() else 1
    while f"{year}.{n}" in taken:
        n += 1
    return f"{year}.{n}"


def set_line(regex: re.Pattern[str], text: str, key: str, value: str) -> str:
    new, count = regex.subn(f"{key}: {value}", text, count=1)
    if not count:
        raise Invalid(f"The policy text has no top-level '{key}:' line to set.")
    return new


def set_based_on(text: str, base_version: str) -> str:
    """The text with its top-level ``based_on:`` line set to ``base_version`` (added after
    the ``version:`` line when there is none)."""
    value = f'based_on: "{base_version}"'
    new, count = BASED_ON_RE.subn(value, text, count=1)
    if count:
        return new
    m = VERSION_LINE_RE.search(text)
    if m is None:
        raise Invalid("The policy text has no top-level 'version:' line.")
    return text[: m.end()] + "\n" + value + text[m.end() :]


def base_features(
    base: PolicyVersionRecord, version: str, features_dir: str | Path
) -> tuple[str, list[str]]:
    """The scenarios a new draft starts with: the base's from features/, else its stored ones."""
    directory = Path(features_dir)
    files = read_features(directory) if directory.exists() else []
    text, problems = copy_for_draft(files, base.version, version)
    if not text.strip() and base.features_text:
        text = retag_text(base.features_text, base.version, version)
    return text, problems


def create_draft(
    session: Session,
    *,
    base: PolicyVersionRecord,
    version: str,
    author: User,
    features_dir: str | Path,
) -> PolicyVersionRecord:
    """A new draft whose text and scenarios are copies of ``base``'s, renumbered ``version``."""
    version = version.strip()
    if not VERSION_RE.match(version):
        raise Invalid(
            f"{version!r} is not a version number: write the year, a dot and a number "
            "(for example 2026.2)."
        )
    existing = session.exec(
        select(PolicyVersionRecord).where(
            PolicyVersionRecord.policy_id == base.policy_id,
            PolicyVersionRecord.version == version,
        )
    ).first()
    if existing is not None:
        raise Conflict(
            f"Version {version} already exists ({existing.state}). Choose another number.",
            field="version",
        )
    text = set_line(VERSION_LINE_RE, base.text, "version", f'"{version}"')
    text = set_based_on(text, base.version)
    features, _problems = base_features(base, version, features_dir)
    record = PolicyVersionRecord(
        policy_id=base.policy_id,
        version=version,
        state=PolicyState.DRAFT.value,
        text=text,
        features_text=features,
        base_version=base.version,
        author_id=author.id,
    )
    _validate_into(record)
    session.add(record)
    try:
        session.flush()
    except sa.exc.IntegrityError:
        session.rollback()
        raise Conflict(
            f"Version {version} already exists. Choose another number.", field="version"
        ) from None
    after = {"version": version, "base_version": base.version}
    audit_version(session, record, "policy.draft_created", author, after=after)
    return record


#: Validation errors of recent texts that do not compile, by (policy, version, text digest);
#: texts that compile are memoised by ``load_policy_text`` itself.
_ERRORS: OrderedDict[tuple[str, str, str], list[dict[str, Any]]] = OrderedDict()
_ERRORS_LOCK = threading.Lock()
_ERRORS_KEPT = 64


def store_file_draft(
    session: Session,
    *,
    text: str,
    features_text: str | None,
    author: User,
    features_dir: str | Path,
) -> tuple[PolicyVersionRecord, bool]:
    """Store a policy file's text as a draft (``hub policy draft FILE``): its policy id,
    version and base (``based_on``) are read from the text. Returns the record and
    whether it is new.

    A new draft takes ``features_text``, else its base's scenarios (as the studio's
    new drafts do, from ``features_dir``); an existing draft of that number is
    saved over by ``author`` (``save_draft``; ``features_text`` None keeps its
    scenarios). Raises ``Invalid`` (every error at its line) for a text that does
    not load or is too large, ``Conflict`` when the number is published or retired.
    Audited as ``policy.draft_imported`` (new) or ``policy.draft_saved``.
    """
    text = text.replace("\r\n", "\n")
    if features_text is not None:
        features_text = features_text.replace("\r\n", "\n")
    check_sizes(text, features_text)
    try:
        policy = load_policy_text(text, source="policy file")
    except PolicyError as exc:
        raise Invalid([("text", e) for e in exc.errors]) from None
    existing = session.exec(
        select(PolicyVersionRecord).where(
            PolicyVersionRecord.policy_id == policy.id,
            PolicyVersionRecord.version == policy.version,
        )
    ).first()
    if existing is not None:
        if existing.state != PolicyState.DRAFT.value:
            raise Conflict(
                f"Version {policy.version} is already {existing.state}, and published versions "
                "never change: give the file a new version number (and based_on: "
                f'"{policy.version}" if it is drafted from it).',
                field="version",
            )
        save_draft(
            session,
            record=existing,
            text=text,
            features_text=features_text,
            lock_version=existing.lock_version,
            author=author,
        )
        return existing, False
    if features_text is None:
        features_text = ""
        base = None
        if policy.based_on:
            base = session.exec(
                select(PolicyVersionRecord).where(
                    PolicyVersionRecord.policy_id == policy.id,
                    PolicyVersionRecord.version == policy.based_on,
                )
            ).first()
        if base is not None:
            features_text, _problems = base_features(base, policy.version, features_dir)
    record = PolicyVersionRecord(
        policy_id=policy.id,
        version=policy.version,
        state=PolicyState.DRAFT.value,
        text=text,
        features_text=features_text,
        author_id=author.id,
    )
    _validate_into(record)
    session.add(record)
    try:
        session.flush()
    except sa.exc.IntegrityError:
        session.rollback()
        raise Conflict(
            f"Version {policy.version} was stored by someone else meanwhile; run the command "
            "again to save over the draft.",
            field="version",
        ) from None
    audit_version(
        session,
        record,
        "policy.draft_imported",
        author,
        after={
            "version": record.version,
            "base_version": record.base_version,
            "digest": record.digest,
            "features_digest": features_digest(record.features_text),
        },
        digest=record.digest,
    )
    return record, True


def validation_errors(record: PolicyVersionRecord) -> list[dict[str, Any]]:
    """The draft's problems as ``{"line": n or None, "message": ...}`` for the editor.

    Remembered by the text's digest (64 texts): a draft that does not compile is
    parsed once, not on every view."""
    digest = hashlib.sha256(record.text.encode("utf-8", "surrogatepass")).hexdigest()
    key = (record.policy_id, record.version, digest)
    with _ERRORS_LOCK:
        hit = _ERRORS.get(key)
        if hit is not None:
            _ERRORS.move_to_end(key)
            return [dict(e) for e in hit]
    errors = _validation_errors(record)
    if errors:
        with _ERRORS_LOCK:
            _ERRORS[key] = [dict(e) for e in errors]
            while len(_ERRORS) > _ERRORS_KEPT:
                _ERRORS.popitem(last=False)
    return errors


def _validation_errors(record: PolicyVersionRecord) -> list[dict[str, Any]]:
    try:
        policy = load_policy_text(record.text, source=f"{record.version}.yaml")
    except PolicyError as exc:
        return [_located(e) for e in exc.errors]
    errors = []
    if policy.id != record.policy_id:
        errors.append(
            {
                "line": _line_of(record.text, "id"),
                "message": f"id must stay {record.policy_id!r}: a draft belongs to its policy",
            }
        )
    if policy.version != record.version:
        errors.append(
            {
                "line": _line_of(record.text, "version"),
                "message": f"version must stay {record.version!r} (this draft's number); "
                "create a new draft for another number",
            }
        )
    return errors


def _line_of(text: str, key: str) -> int | None:
    m = re.search(rf"^{key}:", text, re.M)
    return text.count("\n", 0, m.start()) + 1 if m else None


_LOCATED = re.compile(r"^[^:\s]+:(?P<line>\d+): (?P<message>.*)$", re.S)


def _located(error: str) -> dict[str, Any]:
    m = _LOCATED.match(error)
    if m:
        return {"line": int(m.group("line")), "message": m.group("message")}
    return {"line": None, "message": error.split(": ", 1)[-1] if ": " in error else error}


def _validate_into(record: PolicyVersionRecord) -> list[dict[str, Any]]:
    errors = validation_errors(record)
    if errors:
        record.digest = None
        return errors
    policy = policy_of_text(record)
    record.digest = policy.digest
    record.effective_from = policy.effective_from
    record.base_version = policy.based_on  # the text says what it was drafted from
    return []


def policy_of_text(record: PolicyVersionRecord) -> Policy:
    return load_policy_text(record.text, source=f"{record.version}.yaml")


def require_draft(record: PolicyVersionRecord) -> None:
    if record.state != PolicyState.DRAFT.value:
        raise Conflict(
            f"Version {record.version} is {record.state} and can no longer be changed. "
            "Create a draft from it to make a new version."
        )


def check_sizes(text: str, features_text: str | None) -> None:
    """Refuse (``Invalid``, naming the field and the limit) a policy text longer than
    ``MAX_TEXT_BYTES`` or scenarios beyond the limits of ``check_features_text``; such a
    text is not stored at all (a text that merely does not compile is)."""
    size = len(text.encode("utf-8", "surrogatepass")) if len(text) * 4 > MAX_TEXT_BYTES else 0
    if size > MAX_TEXT_BYTES:
        raise Invalid(
            f"The policy text is {size:,} bytes long, more than the {MAX_TEXT_BYTES:,} bytes "
            f"({MAX_TEXT_BYTES // 1024} KB) a policy may hold. It was not saved: a policy is "
            "a few dozen KB; shorten it.",
            field="text",
        )
    check_features_text(features_text)


def save_draft(
    session: Session,
    *,
    record: PolicyVersionRecord,
    text: str,
    features_text: str | None,
    lock_version: int,
    author: User,
) -> list[dict[str, Any]]:
    """Store the author's text (even when it does not validate, so no work is lost) and
    return the validation errors; refuse a save over a newer one (``DraftChanged``) and a
    text beyond the size limits (``Invalid``, see :func:`check_sizes`; nothing stored).

    The text is validated and compiled before anything is written; the write is one
    compare-and-set UPDATE, left for the caller to commit at once.
    """
    require_draft(record)
    if lock_version != record.lock_version:
        raise DraftChanged(
            f"Someone else saved version {record.version} after you opened it (your copy is "
            f"revision {lock_version}, the stored one is revision {record.lock_version}). "
            "Your text is below, not saved: copy your changes, reload the draft, and apply "
            "them again."
        )
    text = text.replace("\r\n", "\n")
    if features_text is not None:
        features_text = features_text.replace("\r\n", "\n")
    check_sizes(text, features_text)
    # Validate (and compile) first, outside any write transaction.
    candidate = PolicyVersionRecord(
        policy_id=record.policy_id,
        version=record.version,
        state=record.state,
        text=text,
        features_text=record.features_text if features_text is None else features_text,
    )
    errors = _validate_into(candidate)
    values: dict[str, Any] = {
        "text": text,
        "digest": candidate.digest,
        "updated_at": utcnow(),
    }
    if not errors:
        values["effective_from"] = candidate.effective_from
        values["base_version"] = candidate.base_version  # the text says what it is based on
    if features_text is not None:
        values["features_text"] = features_text
    # Compare-and-set in the database too, so two servers cannot both win the race.
    draft = {"state": PolicyState.DRAFT.value}
    if not update_if_unchanged(
        session, PolicyVersionRecord, record.id, lock_version, where=draft, **values
    ):
        session.rollback()
        raise DraftChanged(
            f"Someone else saved version {record.version} at the same moment. Your text is "
            "below, not saved: reload the draft and apply your changes again."
        )
    session.refresh(record)
    audit_version(
        session,
        record,
        "policy.draft_saved",
        author,
        after={
            "version": record.version,
            "revision": record.lock_version,
            "digest": record.digest,
            "features_digest": features_digest(record.features_text),
            "base_version": record.base_version,
        },
        digest=record.digest,
    )
    return errors


def delete_draft(session: Session, *, record: PolicyVersionRecord, actor: User) -> None:
    """Discard a draft (and its compiled rules)."""
    require_draft(record)
    from hub.policy import engine

    if record.digest:
        with contextlib.suppress(PolicyError):
            engine().forget(policy_of_text(record).key)
    for job in session.exec(
        select(StudioJob).where(
            StudioJob.policy_id == record.policy_id, StudioJob.version == record.version
        )
    ):
        session.delete(job)
    session.delete(record)
    audit_version(
        session, record, "policy.draft_deleted", actor, before={"version": record.version}
    )


def audit_version(
    session: Session,
    record: PolicyVersionRecord,
    action: str,
    actor: User,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    digest: str | None = None,
) -> None:
    """Add the audit record of ``actor``'s ``action`` on policy version ``record`` (its
    entity, version and, when given, the ``digest`` of the text acted on) to the caller's
    transaction; ``before`` and ``after`` are what changed."""
    audit.append(
        session,
        action=action,
        entity_type="policy_version",
        entity_id=record.id,
        actor_id=actor.id,
        before=before,
        after=after,
        policy_version=record.version,
        policy_digest=digest,
    )


def compiled_policy(record: PolicyVersionRecord) -> Policy:
    """The draft's policy, or a refusal naming why it cannot be used."""
    errors = validation_errors(record)
    if errors:
        first = errors[0]
        where = f"line {first['line']}: " if first["line"] else ""
        raise Invalid(
            f"Version {record.version} does not compile ({len(errors)} error"
            f"{'s' if len(errors) != 1 else ''}; first: {where}{first['message']}). "
            "Fix the text and save it before testing or publishing."
        )
    return policy_of_text(record)
