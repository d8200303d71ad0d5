"""The policy document's structure, declared: pydantic models of a policy file.

A policy file (``policies/<id>/<version>.yaml``) is read by :mod:`hub.policy.yaml12`
into plain data; its *structure*, checked against the models below
(which keys exist, their types, patterns and ranges: strict, so the text ``"95"`` is
never taken for the number 95, and an unknown key is an error) gives a
:class:`PolicyDocument`. What the structure cannot say (a criterion's tier exists,
an expression type-checks, ids are unique) the loader checks afterwards on the
validated document.

:func:`json_schema` publishes the same models as a JSON Schema (draft 2020-12), so
an author's editor can complete and check a policy file (``hub policy schema``).
Each field's description is its docstring below; a field's ``errorMessage`` (a
keyword editors such as VS Code show) is also the loader's message for a wrong value.

:func:`hub.policy.validation.validate` checks data against the models and gives each
problem its place in the data and a message an author reads.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PlainValidator,
    Tag,
    WithJsonSchema,
)
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

from . import expr
from .model import DEFAULT_CLOSE_MARGIN, CloseMargin
from .money import DEFAULT_ROUNDING, MODES, Rounding, RoundingMode, to_decimal

INPUT_TYPES = ("string", "number", "integer", "bool", "enum", "set", "date")
ID_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
ID_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}\Z")  # \Z: "$" would allow a trailing newline
# [0-9], not \d (which takes ٢٠٢٦ too); \Z in Python, not $ (which takes "2026.1\n" too)
VERSION_PATTERN = r"^[0-9]{4}\.[0-9]+(?:[-.][A-Za-z0-9]+)*$"
VERSION_RE = re.compile(r"^[0-9]{4}\.[0-9]+(?:[-.][A-Za-z0-9]+)*\Z")
RESERVED = frozenset({"as_of", "tier", "met", "min", "max", *expr.KEYWORDS})
SCHEMA_ID = "https://astana-crypto-hub.example/schemas/policy.json"

_ID_MESSAGE = "must be lower-case letters, digits and _ (starting with a letter)"


def _message(message: str, **schema: Any) -> dict[str, Any]:
    """JSON-schema extras of a field: ``errorMessage``, the loader's and editors' message."""
    return {"errorMessage": message, **schema}


def _not_reserved(name: str) -> str:
    if name in RESERVED:
        raise PydanticCustomError("reserved_name", "{name} is a reserved word", {"name": name})
    return name


def _iso_date(value: Any) -> dt.date:
    """A date written YYYY-MM-DD, quoted or not (YAML 1.2 reads 2026-07-01 as text)."""
    if isinstance(value, str) and re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:  # 2026-02-30
            pass
    raise PydanticCustomError("date_format", "must be a date YYYY-MM-DD")


#: Text, stripped; a number is refused (``title: 2026.10`` would read as 2026.1).
Text = Annotated[str, Field()]
#: An identifier: lower-case letters, digits and _, starting with a letter (at most 63).
Ident = Annotated[str, Field(pattern=ID_PATTERN, json_schema_extra=_message(_ID_MESSAGE))]
#: The name of an input or parameter: an identifier that is not a word of the language.
Name = Annotated[
    str,
    Field(pattern=ID_PATTERN),
    AfterValidator(_not_reserved),
    WithJsonSchema({"type": "string", "pattern": ID_PATTERN, "not": {"enum": sorted(RESERVED)}}),
]
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
#: A finite number, whole or not (never true/false, never text).
Number = int | FiniteFloat
IsoDate = Annotated[
    dt.date,
    PlainValidator(_iso_date),
    WithJsonSchema({"type": "string", "format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$"}),
]


class DocumentPart(BaseModel):
    """Strict, closed, stripped: what every part of a policy document shares."""

    model_config = ConfigDict(
        strict=True,
        extra="forbid",
        frozen=True,
        str_strip_whitespace=True,
        use_attribute_docstrings=True,
    )
    #: How the loader names an item of this kind in messages ("criterion", "input").
    noun: ClassVar[str] = ""


class Group(DocumentPart):
    """A heading under which the form shows inputs."""

    noun: ClassVar[str] = "group"
    id: Ident
    """The group's identifier, named by inputs' ``group``."""
    title: Text
    """The heading shown above the group's inputs."""


class _Input(DocumentPart):
    noun: ClassVar[str] = "input"
    label: Text | None = None
    """The question shown in the form (default: the input's name)."""
    help: Text | None = None
    """A line of help under the question."""
    group: Ident | None = None
    """The ``groups`` entry the input is shown under."""
    unit: Text | None = None
    """The unit of the value (KZT, USD and EUR are money: exact to the tiyn), or words."""
    required: bool = False
    """True if a filing must give the value."""


class NumberInput(_Input):
    """A number (``number``) or a whole number (``integer``); bounds are inclusive."""

    type: Literal["number", "integer"]
    """The kind of value."""
    min: Number | None = None
    """The smallest value accepted (inclusive), in the input's unit."""
    max: Number | None = None
    """The largest value accepted (inclusive), in the input's unit."""
    saving: bool = False
    """True if a benefit's saving formula may read it (a figure of the savings estimate)."""


Length = Annotated[
    int, Field(ge=0, json_schema_extra=_message("must be a whole number, 0 or more"))
]


class TextInput(_Input):
    """A line of text."""

    type: Literal["string"]
    """The kind of value."""
    min_length: Length | None = None
    """The fewest characters accepted."""
    max_length: Length | None = None
    """The most characters accepted."""
    format: (
        Annotated[
            Literal["bin"],
            Field(json_schema_extra=_message("must be 'bin', the only known format")),
        ]
        | None
    ) = None
    """``bin``: a Kazakh business identification number (12 digits, checked)."""


ChoiceList = Annotated[list[Text], Field(min_length=1)]
ChoiceMap = Annotated[dict[Text, Text], Field(min_length=1)]


class ChoiceInput(_Input):
    """One choice (``enum``) or several (``set``) of a fixed list."""

    type: Literal["enum", "set"]
    """The kind of value."""
    choices: Annotated[
        ChoiceList | ChoiceMap,
        Field(json_schema_extra=_message("needs a list of choices (or choice: label)")),
    ]
    """The values, as a list, or as a mapping of value to the label shown."""


class PlainInput(_Input):
    """Yes/no (``bool``) or a date written YYYY-MM-DD (``date``)."""

    type: Literal["bool", "date"]
    """The kind of value."""


InputDoc = Annotated[
    NumberInput | TextInput | ChoiceInput | PlainInput, Field(discriminator="type")
]
INPUT_KINDS: tuple[type[_Input], ...] = (NumberInput, TextInput, ChoiceInput, PlainInput)

_VALUE_MESSAGE = "must be a number, a list of choices or a mapping of choices"


def _value_kind(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, list):
        return "list"
    return "mapping" if isinstance(value, dict) else None


ParameterValue = Annotated[
    Annotated[Number, Tag("number")]
    | Annotated[list[Text], Tag("list")]
    | Annotated[dict[Text, Text], Tag("mapping")],
    Discriminator(
        _value_kind, custom_error_type="parameter_value", custom_error_message=_VALUE_MESSAGE
    ),
    Field(json_schema_extra=_message(_VALUE_MESSAGE)),
]


class Parameter(DocumentPart):
    """A named value conditions and formulas read: a threshold, a rate, a list of choices."""

    noun: ClassVar[str] = "parameter"
    value: ParameterValue
    """A finite number, a list of choices, or a mapping of a choice to a choice."""
    unit: Text | None = None
    """The value's unit: ``rate`` (0.2 is shown as 20%), ``KZT``, ``%``, words."""
    description: Text | None = None
    """What the value stands for."""


#: A parameter written as its bare value: a number or a list (a mapping is the long form).
BareValue = Annotated[
    Annotated[Number, Tag("number")] | Annotated[list[Text], Tag("list")],
    Discriminator(
        _value_kind, custom_error_type="parameter_value", custom_error_message=_VALUE_MESSAGE
    ),
    Field(json_schema_extra=_message(_VALUE_MESSAGE)),
]
ParameterEntry = Annotated[
    Annotated[Parameter, Tag("spec")] | Annotated[BareValue, Tag("value")],
    Discriminator(lambda v: "spec" if isinstance(v, dict | Parameter) else "value"),
]


class Tier(DocumentPart):
    """A tier of benefits; tiers are cumulative and listed in ascending order."""

    noun: ClassVar[str] = "tier"
    id: Annotated[
        str, Field(pattern=r"^T[0-9]+$", json_schema_extra=_message("must look like T1, T2, ..."))
    ]
    """T1, T2, ...: criteria and benefits name it."""
    title: Text
    """The tier's name."""
    description: Text | None = None
    """What reaching the tier means."""


class AllExcept(DocumentPart):
    """Every activity except those listed."""

    all_except: str | list[str]
    """Activities or activity groups left out."""


_APPLIES_MESSAGE = "must be 'all', a list, or {all_except: [...]}"


def _applies_kind(value: Any) -> str | None:
    if isinstance(value, str):
        return "one"
    if isinstance(value, list):
        return "list"
    return "except" if isinstance(value, dict | AllExcept) else None


AppliesTo = Annotated[
    Annotated[str, Tag("one")]
    | Annotated[list[str], Tag("list")]
    | Annotated[AllExcept, Tag("except")],
    Discriminator(
        _applies_kind, custom_error_type="applies_to", custom_error_message=_APPLIES_MESSAGE
    ),
    Field(json_schema_extra=_message(_APPLIES_MESSAGE)),
]
Expression = Annotated[str, Field(min_length=1, json_schema_extra=_message("must be written"))]


class Criterion(DocumentPart):
    """A condition a company must meet to reach a tier."""

    noun: ClassVar[str] = "criterion"
    id: Ident
    """The criterion's identifier (unique; benefits name it in ``met(...)``)."""
    title: Text
    """What it asks, in a few words."""
    tier: Annotated[str, Field(pattern=r"^T[0-9]+$")]
    """The tier it is needed for."""
    applies_to: AppliesTo = "all"
    """The activities it applies to: ``all``, a list of activities and activity groups,
    or ``{all_except: [...]}``."""
    condition: Expression
    """A yes/no expression over inputs and parameters, e.g. ``fte_in_zone >= min_fte``."""
    citation: Text
    """The rule of the normative text it comes from."""
    basis: Text | None = None
    """The regime the rule is drawn from."""
    fix: Text | None = None
    """Advice to a company that does not meet it."""
    description: Text | None = None
    """More words about it."""


class Benefit(DocumentPart):
    """A tax benefit granted when its requirement holds."""

    noun: ClassVar[str] = "benefit"
    id: Ident
    """The benefit's identifier (unique)."""
    title: Text
    """Its name."""
    requires: Expression
    """A yes/no expression: ``tier >= T2``, ``met(criterion)``, inputs and parameters."""
    standard_rate: Ident
    """The parameter holding the rate (or amount) the benefit relieves."""
    saving: Expression | None = None
    """A number expression: the estimated saving in KZT, over saving inputs and parameters."""
    citation: Text | None = None
    """The rule of the normative text it comes from."""
    description: Text | None = None
    """More words about it."""


class RoundingRule(DocumentPart):
    """How savings are rounded: to a unit in KZT, by a mode."""

    noun: ClassVar[str] = "rounding"
    unit: Annotated[
        Number,
        Field(
            gt=0,
            le=1e9,
            json_schema_extra=_message(
                "must be a positive amount in KZT, e.g. 0.01 (the tiyn) or 1"
            ),
        ),
    ] = float(DEFAULT_ROUNDING.unit)
    """The amount savings are rounded to, in KZT (0.01: the tiyn)."""
    mode: Annotated[
        RoundingMode,
        Field(json_schema_extra=_message(f"must be one of {', '.join(MODES)}")),
    ] = DEFAULT_ROUNDING.mode
    """``half_up``: halves away from zero; ``half_even``: halves to the even unit."""

    def to_rounding(self) -> Rounding:
        """The rule as the money arithmetic takes it; a field not written keeps the
        default's (``DEFAULT_ROUNDING``)."""
        written = self.model_fields_set
        return Rounding(
            to_decimal(self.unit) if "unit" in written else DEFAULT_ROUNDING.unit,
            self.mode if "mode" in written else DEFAULT_ROUNDING.mode,
        )


class WatchRule(DocumentPart):
    """How the daily watch reads this version (``hub.policy.watch``): when a met criterion
    is "close to the line". A figure is close when it meets a comparison by no more than
    the margin: ``percent_points`` for an input in ``%``, else ``relative`` times the
    bound (0.02: within 2% of it)."""

    noun: ClassVar[str] = "watch"
    percent_points: Annotated[
        Number,
        Field(ge=0, le=100, json_schema_extra=_message("must be a number from 0 to 100")),
    ] = DEFAULT_CLOSE_MARGIN.percent_points
    """The margin of an input in ``%``, in percentage points (1: 95.2 against 95 is close)."""
    relative: Annotated[
        Number,
        Field(ge=0, le=1, json_schema_extra=_message("must be a fraction from 0 to 1")),
    ] = DEFAULT_CLOSE_MARGIN.relative
    """The margin of any other number, as a fraction of the bound (0.02: 2%)."""

    def to_margin(self) -> CloseMargin:
        """The margin as the watch takes it."""
        return CloseMargin(float(self.percent_points), float(self.relative))


Inputs = Annotated[
    dict[Name, InputDoc],
    Field(min_length=1, json_schema_extra=_message("needs at least one input")),
]


class PolicyDocument(DocumentPart):
    """A version of a policy of the Astana Crypto Hub eligibility engine (a YAML 1.2 file)."""

    noun: ClassVar[str] = "policy"
    id: Annotated[
        str,
        Field(
            pattern=r"^[a-z][a-z0-9-]{0,62}$",
            json_schema_extra=_message("must be lower-case letters, digits and -"),
        ),
    ]
    """The policy's identifier, the same in every version."""
    version: Annotated[
        str,
        Field(
            pattern=VERSION_PATTERN,
            json_schema_extra=_message('must look like "2026.1" (in quotes)'),
        ),
    ]
    """The version, as text: ``"2026.1"`` (quoted: 2026.10 unquoted is the number 2026.1)."""
    based_on: Annotated[
        str | None,
        Field(
            pattern=VERSION_PATTERN,
            json_schema_extra=_message('must look like "2026.1" (in quotes)'),
        ),
    ] = None
    """The version this text was drafted from (``"2026.1"``), if any: publishing checks
    that it is the version the new one replaces on its effective date."""
    title: Text
    """The policy's name."""
    description: Text | None = None
    """What the policy is about."""
    citation: Text | None = None
    """The normative text."""
    effective_from: IsoDate
    """The first day this version is in force (YYYY-MM-DD)."""
    applicability_input: Ident = "activity"
    """The required enum input whose choices are the activities criteria apply to."""
    groups: list[Group] = []
    """The headings of the form, in order."""
    activity_groups: dict[
        str,
        Annotated[
            list[str],
            Field(
                min_length=1, json_schema_extra=_message("must be a non-empty list of activities")
            ),
        ],
    ] = {}
    """Names for sets of activities, usable in ``applies_to``."""
    inputs: Inputs
    """What a filing holds: name -> its kind, question and bounds."""
    parameters: dict[Name, ParameterEntry] = {}
    """Named values: name -> a value, or {value, unit, description}."""
    tiers: Annotated[
        list[Tier],
        Field(
            min_length=1, json_schema_extra=_message("needs at least one tier (in ascending order)")
        ),
    ]
    """The tiers, lowest first."""
    criteria: Annotated[
        list[Criterion],
        Field(min_length=1, json_schema_extra=_message("needs at least one criterion")),
    ]
    """The conditions of the tiers."""
    benefits: list[Benefit]
    """The benefits and what they require."""
    rounding: RoundingRule | None = None
    """How savings are rounded (default: to 0.01 KZT, half up)."""
    watch: WatchRule | None = None
    """How the daily watch reads this version (default: 1 percentage point for ``%``
    inputs, 2% of the bound for other numbers)."""


# --- the published schema -----------------------------------------------------------


class _Schema(GenerateJsonSchema):
    """Mappings with named keys say so with ``propertyNames`` (pydantic would write
    ``patternProperties``, which lets any other key through)."""

    def dict_schema(self, schema: core_schema.DictSchema) -> JsonSchemaValue:
        out = super().dict_schema(schema)
        patterns = out.pop("patternProperties", None)
        if patterns:
            ((pattern, values),) = patterns.items()
            names = out.setdefault("propertyNames", {})
            names["pattern"] = pattern
            out["additionalProperties"] = values
        return out


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a policy file, for editors and checkers."""
    schema = PolicyDocument.model_json_schema(schema_generator=_Schema)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **schema,
    }
