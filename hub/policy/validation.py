"""Validate a policy document against :mod:`hub.policy.document`'s models, and word
pydantic's errors as an author reads them.

Each problem comes back as ``(path, message)``: ``path`` is the place in the data
(``("criteria", 3, "tier")``), which the loader turns into a line; ``message``
names the item and the field ("criterion kyc_baseline: 'citation' is required",
"input bin: min applies to number, integer inputs only"). A field's declared
``errorMessage`` (see :func:`hub.policy.document._message`) is its message for a
wrong value; one problem is given per field, not one per branch of a union.
"""

from __future__ import annotations

from typing import Any, get_args

from pydantic import ValidationError

from .document import (
    INPUT_KINDS,
    INPUT_TYPES,
    Benefit,
    Criterion,
    DocumentPart,
    Group,
    Parameter,
    PolicyDocument,
    RoundingRule,
    Tier,
    WatchRule,
)

Problem = tuple[tuple[Any, ...], str]
#: Sections whose entries are items named in messages: section -> (noun, item class).
_ITEMS: dict[str, tuple[str, tuple[type[DocumentPart], ...]]] = {
    "inputs": ("input", INPUT_KINDS),
    "parameters": ("parameter", (Parameter,)),
    "tiers": ("tier", (Tier,)),
    "criteria": ("criterion", (Criterion,)),
    "benefits": ("benefit", (Benefit,)),
    "groups": ("group", (Group,)),
    "activity_groups": ("activity group", ()),
}
_NOT_A_MAPPING = {"model_type", "model_attributes_type", "dict_type"}


def validate(data: Any) -> tuple[PolicyDocument | None, list[Problem]]:
    """The document of ``data`` (a policy file read by :mod:`hub.policy.yaml12`), or None
    and every structural problem as ``(path in the data, message)``, in document order."""
    try:
        return PolicyDocument.model_validate(data), []
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        finite = {tuple(e["loc"])[:-1] for e in errors if e["type"] == "finite_number"}
        problems: list[Problem] = []
        for error in errors:
            if error["type"] in ("int_type", "float_type") and tuple(error["loc"])[:-1] in finite:
                continue  # .inf where a number is expected: not finite, rather than not whole
            problem = _problem(data, error)
            if problem not in problems:  # one per field, not one per branch of a union
                problems.append(problem)
        return None, problems


def _data_path(data: Any, loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """The part of pydantic's ``loc`` that is in the data (union and tag labels dropped)."""
    node, path = data, []
    for part in loc:
        in_data = (isinstance(node, dict) and part in node) or (
            isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        )
        if in_data:
            node = node[part]
            path.append(part)
    return tuple(path)


def _problem(data: Any, error: Any) -> Problem:
    loc: tuple[Any, ...] = tuple(error["loc"])
    path = _data_path(data, loc)
    if not loc:
        return (), "a policy must be a YAML mapping with id, version, inputs, criteria, ..."
    section = loc[0]
    if section in _ITEMS and len(loc) >= 2:
        noun, kinds = _ITEMS[section]
        item, rest = loc[:2], loc[2:]
        what = _name_of(data, section, loc[1], noun)
        if section == "activity_groups":
            return path, f"{what}: must be a non-empty list of activities"
    elif section == "rounding" and len(loc) >= 2:
        item, rest, what, kinds = loc[:1], loc[1:], "rounding", (RoundingRule,)
    elif section == "watch" and len(loc) >= 2:
        item, rest, what, kinds = loc[:1], loc[1:], "watch", (WatchRule,)
    else:
        item, rest, what, kinds = (), loc, "policy", (PolicyDocument,)
    owner = _kind_of(data, item, kinds)
    fields = {name for kind in kinds for name in kind.model_fields}
    kind = error["type"]
    if kind == "extra_forbidden":
        key = rest[-1]
        others = [t for k in kinds if key in k.model_fields for t in _tags(k)]
        if others:
            return path, f"{what}: {key} applies to {', '.join(others)} inputs only"
        expected = ", ".join(sorted(owner.model_fields))
        return path, f"{what}: unknown field {key!r} (expected one of: {expected})"
    key = next((part for part in rest if part in fields), None)
    if key is None:
        if "[key]" in rest:
            return path, f"{what}: the name must be an identifier and not a reserved word"
        if kind in ("union_tag_invalid", "union_tag_not_found"):
            at = (*path, "type") if kind == "union_tag_invalid" else path
            return at, f"{what}: type must be one of {', '.join(INPUT_TYPES)}"
        if kind in _NOT_A_MAPPING:
            shown = f"{section}[{loc[1]}]" if isinstance(loc[-1], int) else what
            return path, f"{shown} must be a mapping"
        return path, f"{what}: {error['msg']}"
    return path, f"{what}: {_field_message(key, owner, error, rest[-1] == key)}"


def _name_of(data: Any, section: str, index: Any, noun: str) -> str:
    """ "criterion kyc_baseline" (or "criterion 4" while the id is not one), "input bin"."""
    if not isinstance(index, int):
        return f"{noun} {index}"
    try:
        ident = data[section][index].get("id")
    except (AttributeError, IndexError, KeyError, TypeError):
        ident = None
    return (
        f"{noun} {ident.strip()}"
        if isinstance(ident, str) and ident.strip()
        else f"{noun} {index + 1}"
    )


def _kind_of(
    data: Any, item: tuple[Any, ...], kinds: tuple[type[DocumentPart], ...]
) -> type[DocumentPart]:
    """The class of the item at ``item``: an input's by its type, else the section's one."""
    if len(kinds) > 1:
        node = _at(data, item)
        written = node.get("type") if isinstance(node, dict) else None
        for kind in kinds:
            if written in _tags(kind):
                return kind
    return kinds[0]


def _at(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        try:
            data = data[part]
        except (IndexError, KeyError, TypeError):
            return None
    return data


def _tags(kind: type[DocumentPart]) -> tuple[str, ...]:
    """The values of an input kind's ``type`` ("number", "integer")."""
    info = kind.model_fields.get("type")
    return tuple(get_args(info.annotation)) if info is not None else ()


def _field_message(key: str, owner: type[DocumentPart], error: Any, at_field: bool) -> str:
    """The problem of one field, without the item's name: "version must be quoted text"."""
    kind, value = error["type"], error.get("input")
    if kind == "missing" and at_field:
        return f"'{key}' is required"
    if value is None and at_field:
        return f"'{key}' is required"
    if kind == "finite_number":
        return f"{key} must be a finite number"
    if kind == "string_type" and isinstance(value, int | float) and not isinstance(value, bool):
        return f'{key} must be quoted text, e.g. "{value}"'  # 2026.10 would read as 2026.1
    info = owner.model_fields.get(key)
    extra = info.json_schema_extra if info is not None else None
    if not isinstance(extra, dict):  # the message may sit on the annotated type
        extra = _annotated_extra(info)
    declared = extra.get("errorMessage") if extra else None
    if isinstance(declared, str):
        if kind == "string_pattern_mismatch" and isinstance(value, str):
            return f"{key} {value!r} {declared}"
        return f"{key} {declared}"
    messages = {
        "string_type": "must be text",
        "bool_type": "must be true or false",
        "int_type": "must be a number",
        "float_type": "must be a number",
        "list_type": "must be a list",
        "dict_type": "must be a mapping",
        "model_type": "must be a mapping",
        "model_attributes_type": "must be a mapping",
        "too_short": "must not be empty",
        "string_pattern_mismatch": f"{value!r} must match {error.get('ctx', {}).get('pattern')}",
        "literal_error": f"must be {error.get('ctx', {}).get('expected')}",
    }
    return f"{key} {messages.get(kind, error['msg'])}"


def _annotated_extra(info: Any) -> dict[str, Any] | None:
    for meta in getattr(info, "metadata", ()):
        extra = getattr(meta, "json_schema_extra", None)
        if isinstance(extra, dict):
            return extra
    return None
