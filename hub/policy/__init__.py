"""The domain core: policy documents, their compilation to durable-rules, and decisions.

Pure: no Flask, no database, no I/O beyond reading a policy file. Everything the
service, the CLI and the specs need is importable from here.
"""

from .decision import STATUSES, BenefitResult, CriterionResult, Decision, assess, decide
from .engine import EngineError, engine
from .expr import ExprError
from .filing import FilingInvalid, validate_bin, validate_filing
from .loader import digest_of, load_policy, load_policy_text
from .model import Policy, PolicyError
from .registry import NoVersionInForce, Period, PolicyRegistry
from .shown import format_value

__all__ = [
    "STATUSES",
    "BenefitResult",
    "CriterionResult",
    "Decision",
    "EngineError",
    "ExprError",
    "FilingInvalid",
    "NoVersionInForce",
    "Period",
    "Policy",
    "PolicyError",
    "PolicyRegistry",
    "assess",
    "decide",
    "digest_of",
    "engine",
    "format_value",
    "load_policy",
    "load_policy_text",
    "validate_bin",
    "validate_filing",
]
