"""Gherkin specs of the policy, runnable in-process against any policy version.

``run_specs(policy, features)`` is what `hub policy test`, the policy studio and
the mutation test call; tests/bdd binds the same steps to pytest-bdd.
"""

from .registry import StepDef, StepDefinitionError, StepRegistry
from .runner import (
    SKIP_TAGS,
    CompiledScenario,
    FeatureError,
    ScenarioResult,
    SpecReport,
    SpecSuite,
    as_policy,
    compile_feature,
    default_features_dir,
    default_policies_dir,
    load_catalogue,
    read_features,
    run_specs,
    version_tag,
)

__all__ = [
    "SKIP_TAGS",
    "CompiledScenario",
    "FeatureError",
    "ScenarioResult",
    "SpecReport",
    "SpecSuite",
    "StepDef",
    "StepDefinitionError",
    "StepRegistry",
    "as_policy",
    "compile_feature",
    "default_features_dir",
    "default_policies_dir",
    "load_catalogue",
    "read_features",
    "run_specs",
    "version_tag",
]
