"""JSON Schema of a filing, derived from the inputs a policy version declares.

Used for the OpenAPI document; the validation itself is filing.py, which gives
better messages than a generic schema validator and never disagrees with the
engine about types.
"""

from __future__ import annotations

from typing import Any

from .filing import BIN_HELP
from .model import InputSpec, Policy

#: What ``format: text`` means in the published schemas (``hub.policy.text``).
TEXT_HELP = (
    "Text: put in NFC, spaces at either end trimmed; no control characters, lone "
    "surrogates or bidirectional controls, and at least one visible character."
)


def input_schema(spec: InputSpec) -> dict[str, Any]:
    """The JSON Schema of one input's value (numbers with the bounds enforced, inclusive)."""
    schema: dict[str, Any]
    if spec.type in ("number", "integer"):
        # The bounds accepted: declared, narrowed to where numbers compare exactly.
        schema = {"type": spec.type, "minimum": spec.lowest, "maximum": spec.highest}
    elif spec.type == "bool":
        schema = {"type": "boolean"}
    elif spec.type == "date":
        schema = {"type": "string", "format": "date"}
    elif spec.type == "enum":
        schema = {"type": "string", "enum": list(spec.choices)}
    elif spec.type == "set":
        schema = {
            "type": "array",
            "items": {"type": "string", "enum": list(spec.choices)},
            "uniqueItems": True,
        }
    else:
        schema = {"type": "string"}
        if spec.format == "bin":
            schema["pattern"] = "^[0-9]{2}(0[1-9]|1[0-2])[45][0-9]{7}$"
            # The check digit is no pattern: the format names it (BIN_HELP says how).
            schema["format"] = "kz-bin"
        else:
            schema["format"] = "text"
        if spec.min_length is not None:
            schema["minLength"] = spec.min_length
        if spec.max_length is not None:
            schema["maxLength"] = spec.max_length
    title = spec.label + (f" ({spec.unit})" if spec.unit else "")
    schema["title"] = title
    if spec.help:
        schema["description"] = spec.help
    if spec.format == "bin":
        schema["description"] = " ".join(filter(None, (spec.help, BIN_HELP)))
    elif schema.get("format") == "text":
        schema["description"] = " ".join(filter(None, (spec.help, TEXT_HELP)))
    if not spec.required:
        schema["nullable"] = True
    return schema


def filing_schema(policy: Policy) -> dict[str, Any]:
    """An OpenAPI 3.0 schema object for a filing under ``policy``."""
    return {
        "type": "object",
        "title": f"Filing under {policy.id} {policy.version}",
        "additionalProperties": False,
        "required": [i.name for i in policy.inputs if i.required],
        "properties": {i.name: input_schema(i) for i in policy.inputs},
    }
