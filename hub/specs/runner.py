"""Run the Gherkin specs against one policy version, in-process, without pytest.

The policy studio runs a draft's scenarios on every edit and the mutation test
runs them hundreds of times, so features are parsed once (:class:`SpecSuite`)
and each run only walks the compiled scenarios (Gherkin "pickles") through
the shared step registry.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from gherkin.errors import CompositeParserException, ParserException
from gherkin.parser import Parser
from gherkin.pickles.compiler import Compiler, GherkinDocumentWithURI

from hub.config import features_dir, policy_dir
from hub.policy import Policy, PolicyError, PolicyRegistry, load_policy, load_policy_text
from hub.policy.decision import Decision

from .context import SpecContext, describe_error
from .registry import StepDefinitionError, StepRegistry

Status = Literal["passed", "failed", "skipped"]
#: sees each decision a scenario makes (see hub.specs.boundaries)
Observer = Callable[["CompiledScenario", Decision], None]
SKIP_TAGS = frozenset({"@skip", "@wip"})
# Markers with a meaning of their own in pytest or in this project's test suite. pytest-bdd
# gives an Examples block's tags to pytest as marker names exactly as written (scenario,
# rule and feature tags go through tests/bdd/conftest.py, which renames any tag that cannot
# be a marker), so there such a tag would change how pytest runs the rows.
PYTEST_MARKERS = frozenset(
    {
        "anyio",  # anyio's pytest plugin (installed with schemathesis, a test tool)
        "browser",
        "filterwarnings",
        "hypothesis",
        "latency",
        "parametrize",
        "postgres",
        "skipif",
        "slow",
        "tryfirst",
        "trylast",
        "usefixtures",
        "xdist_group",
        "xfail",
    }
)
#: tests/bdd/conftest.py names the markers of renamed tags ``tag_...`` (@skip is tag_skip).
RENAMED_PREFIX = "tag_"


def version_tag(version: str) -> str:
    """The tag that selects a version's scenarios: 2026.1 -> @v2026.1."""
    return f"@v{version}"


@dataclass(frozen=True)
class CompiledStep:
    keyword: str
    text: str
    line: int
    datatable: list[list[str]] | None = None
    kind: str = "Unknown"  # Gherkin's step type: Context (Given), Action (When), Outcome (Then)


@dataclass(frozen=True)
class CompiledScenario:
    """One concrete scenario: an outline row becomes its own scenario."""

    name: str
    feature: str
    uri: str
    line: int
    tags: tuple[str, ...]
    steps: tuple[CompiledStep, ...]


@dataclass
class ScenarioResult:
    name: str
    feature: str
    uri: str
    line: int
    tags: list[str]
    status: Status
    failing_step: str | None = None
    failing_line: int | None = None
    message: str | None = None


@dataclass
class SpecReport:
    """What a run found: one result per scenario, plus problems reading the features."""

    policy_id: str
    policy_version: str
    policy_digest: str
    tag: str
    scenarios: list[ScenarioResult] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def passed(self) -> int:
        return sum(r.status == "passed" for r in self.scenarios)

    @property
    def failed(self) -> int:
        return sum(r.status == "failed" for r in self.scenarios)

    @property
    def skipped(self) -> int:
        return sum(r.status == "skipped" for r in self.scenarios)

    @property
    def ok(self) -> bool:
        """True only if something ran and nothing failed: an empty run proves nothing."""
        return not self.errors and self.failed == 0 and self.passed > 0

    def summary(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "failed": self.failed,
            "skipped": self.skipped,
            "total": len(self.scenarios),
            "errors": len(self.errors),
            "ok": self.ok,
            "seconds": round(self.seconds, 3),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "policy": {
                "id": self.policy_id,
                "version": self.policy_version,
                "digest": self.policy_digest,
            },
            "tag": self.tag,
            "summary": self.summary(),
            "errors": list(self.errors),
            "scenarios": [asdict(r) for r in self.scenarios],
        }


class SpecSuite:
    """Parsed features, ready to run against any number of policies."""

    def __init__(self, scenarios: Sequence[CompiledScenario], errors: Sequence[str] = ()) -> None:
        self.scenarios = list(scenarios)
        self.errors = list(errors)

    @classmethod
    def from_texts(cls, features: Iterable[tuple[str, str]]) -> SpecSuite:
        """Compile ``(name, text)`` pairs; a feature that does not parse becomes an error."""
        scenarios: list[CompiledScenario] = []
        errors: list[str] = []
        for name, text in features:
            try:
                scenarios.extend(compile_feature(name, text))
            except (CompositeParserException, ParserException) as exc:
                errors.append(f"{name}: {exc}")
            except FeatureError as exc:
                errors.extend(exc.errors)
        return cls(scenarios, errors)

    @classmethod
    def from_path(cls, path: str | os.PathLike[str]) -> SpecSuite:
        """Parse a folder (or file) of features; reused while no file changes (studio calls)."""
        key = ("features", *_stamp(_feature_files(Path(path))))
        hit = _CACHE.get(key)
        if hit is None:
            hit = _remember(key, cls.from_texts(read_features(path)))
        return hit

    def select(self, tag: str) -> list[CompiledScenario]:
        return [s for s in self.scenarios if tag in s.tags]

    @property
    def tags(self) -> set[str]:
        return {t for s in self.scenarios for t in s.tags}

    def run(
        self,
        policy: Policy,
        *,
        catalogue: Sequence[Policy] | PolicyRegistry = (),
        tag: str | None = None,
        fail_fast: bool = False,
        prefer: Collection[str] = (),
        registry: StepRegistry | None = None,
        observe: Observer | None = None,
    ) -> SpecReport:
        """Run the scenarios tagged with the policy's version (or ``tag``) against ``policy``.

        ``catalogue`` holds the other versions that date-selection scenarios choose
        among (a ``PolicyRegistry``: with its retirements); ``policy`` replaces the
        catalogue's version of the same number.
        ``fail_fast`` stops at the first failing scenario and ``prefer`` runs the
        scenarios carrying any of those tags first: the mutation test only needs
        to know that a mutant fails, and the scenarios of the criterion it
        touched usually say so at once. ``observe(scenario, decision)`` is called
        for every decision a scenario makes (boundary coverage).
        """
        from .steps import REGISTRY

        reg = registry or REGISTRY
        tag = tag or version_tag(policy.version)
        report = SpecReport(policy.id, policy.version, policy.digest, tag, errors=list(self.errors))
        start = time.perf_counter()
        selected = self.select(tag)
        if prefer:
            wanted = {t if t.startswith("@") else f"@{t}" for t in prefer}
            selected.sort(key=lambda sc: not wanted.intersection(sc.tags))
        for sc in selected:
            result = run_scenario(sc, policy, catalogue, reg, observe)
            report.scenarios.append(result)
            if fail_fast and result.status == "failed":
                break
        report.seconds = time.perf_counter() - start
        return report


def run_scenario(
    sc: CompiledScenario,
    policy: Policy,
    catalogue: Sequence[Policy] | PolicyRegistry,
    registry: StepRegistry,
    observe: Observer | None = None,
) -> ScenarioResult:
    """Run one scenario's steps in order; the first failure ends it."""
    result = ScenarioResult(sc.name, sc.feature, sc.uri, sc.line, list(sc.tags), "passed")
    if SKIP_TAGS & set(sc.tags):
        result.status = "skipped"
        return result
    if isinstance(catalogue, PolicyRegistry):
        ctx = SpecContext(policy, catalogue.versions(), retired=catalogue.retirements())
    else:
        ctx = SpecContext(policy=policy, catalogue=catalogue)
    if observe is not None:
        ctx.observer = lambda decision: observe(sc, decision)
    for st in sc.steps:
        try:
            registry.run(ctx, st.text, st.datatable)
        except AssertionError as exc:
            msg = str(exc) or "assertion failed"
        except StepDefinitionError as exc:
            msg = str(exc)
        except Exception as exc:  # a step that crashes is a failed scenario, not a crashed run
            msg = f"step raised {describe_error(exc)}"
        else:
            continue
        result.status = "failed"
        result.failing_step = f"{st.keyword}{st.text}"
        result.failing_line = st.line
        result.message = msg
        break
    return result


class FeatureError(ValueError):
    """A feature that parses but that pytest-bdd could not run as the hub does."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


def examples_tag_problem(tag: str) -> str | None:
    """Why ``tag`` (with its '@') cannot stand on an Examples block, or None.

    pytest-bdd makes it a pytest marker of that very name: a marker name cannot hold
    ':' or '(' nor start with '_', a name in PYTEST_MARKERS would change how the rows
    run under pytest, and one starting with RENAMED_PREFIX could be the marker of another
    tag (``tag_skip`` is @skip's). Any tag may stand on a Feature, Rule or Scenario.
    """
    name = tag[1:]
    if not name or ":" in name or "(" in name or name.startswith("_"):
        return (
            f"tag {tag} on an Examples block: pytest-bdd makes an Examples tag a pytest "
            "marker of the same name, which cannot hold ':' or '(' nor start with '_'; "
            "put the tag on the Scenario, or write it with letters, digits, '_', '.' and '-'"
        )
    if name.startswith(RENAMED_PREFIX):
        return (
            f"tag {tag} on an Examples block: pytest-bdd makes an Examples tag a pytest "
            f"marker of the same name, and names that start with '{RENAMED_PREFIX}' are the "
            f"markers of renamed tags (@skip is {RENAMED_PREFIX}skip); put the tag on the "
            "Scenario, or rename it"
        )
    if name in PYTEST_MARKERS:
        return (
            f"tag {tag} on an Examples block: pytest-bdd would apply pytest's own "
            f"'{name}' marker to these rows; put the tag on the Scenario, or rename it"
        )
    return None


def _examples_tag_errors(name: str, node: Mapping[str, Any]) -> list[str]:
    """Gherkin-style errors ("file: (line:column): ...") for Examples tags pytest refuses."""
    out = []
    for child in node.get("children", []):
        if child.get("rule"):
            out += _examples_tag_errors(name, child["rule"])
        for ex in (child.get("scenario") or {}).get("examples", []):
            for tag in ex.get("tags", []):
                problem = examples_tag_problem(tag["name"])
                if problem:
                    loc = tag["location"]
                    out.append(f"{name}: ({loc['line']}:{loc['column']}): {problem}")
    return out


def compile_feature(name: str, text: str) -> list[CompiledScenario]:
    """Parse one feature text into concrete scenarios with their tags and line numbers.

    Raises Gherkin's parser exceptions on a syntax error, and :class:`FeatureError`
    when an Examples block carries a tag pytest-bdd cannot apply (both runners
    refuse such a file alike).
    """
    doc: GherkinDocumentWithURI = {**Parser().parse(text), "uri": name}
    feature = doc.get("feature")
    if not feature:
        return []
    tag_errors = _examples_tag_errors(name, feature)
    if tag_errors:
        raise FeatureError(tag_errors)
    steps_by_id: dict[str, tuple[str, int]] = {}
    rows: dict[str, tuple[list[str], list[str]]] = {}
    _index(feature, steps_by_id, rows)
    out: list[CompiledScenario] = []
    for pickle in Compiler().compile(doc):
        steps = []
        for ps in pickle["steps"]:
            keyword, line = steps_by_id.get(ps["astNodeIds"][0], ("", 0))
            argument = ps.get("argument")
            table = argument.get("dataTable") if argument else None
            datatable = [[c["value"] for c in r["cells"]] for r in table["rows"]] if table else None
            kind = ps.get("type", "Unknown")
            steps.append(CompiledStep(keyword, ps["text"], line, datatable, kind))
        name_ = pickle["name"]
        if len(pickle["astNodeIds"]) > 1 and pickle["astNodeIds"][-1] in rows:
            header, cells = rows[pickle["astNodeIds"][-1]]
            name_ += " [" + ", ".join(f"{h}={c}" for h, c in zip(header, cells, strict=False)) + "]"
        out.append(
            CompiledScenario(
                name=name_,
                feature=feature["name"],
                uri=name,
                line=pickle["location"]["line"],
                tags=tuple(t["name"] for t in pickle["tags"]),
                steps=tuple(steps),
            )
        )
    return out


def _index(
    node: Mapping[str, Any],
    steps: dict[str, tuple[str, int]],
    rows: dict[str, tuple[list[str], list[str]]],
) -> None:
    """Remember each step's keyword and line, and each Examples row's cells, by AST id."""
    for child in node.get("children", []):
        for kind in ("background", "scenario"):
            block = child.get(kind)
            if not block:
                continue
            for st in block.get("steps", []):
                steps[st["id"]] = (st["keyword"], st["location"]["line"])
            for ex in block.get("examples", []):
                header = [c["value"] for c in (ex.get("tableHeader") or {}).get("cells", [])]
                for row in ex.get("tableBody", []):
                    rows[row["id"]] = (header, [c["value"] for c in row["cells"]])
        if child.get("rule"):
            _index(child["rule"], steps, rows)


_CACHE: dict[tuple[object, ...], Any] = {}


def _remember(key: tuple[object, ...], value: Any) -> Any:
    if len(_CACHE) >= 32:  # files changed many times: forget the old versions
        _CACHE.clear()
    _CACHE[key] = value
    return value


def _stamp(files: Iterable[Path]) -> tuple[tuple[str, int, int], ...]:
    """What a file set looks like now: a cache key that changes when any file does."""
    out = []
    for f in files:
        st = f.stat()
        out.append((str(f.resolve()), st.st_mtime_ns, st.st_size))
    return tuple(out)


def _feature_files(p: Path) -> list[Path]:
    if p.is_file():
        return [p]
    if not p.is_dir():
        raise FileNotFoundError(f"no features folder or file at {p}")
    return sorted(p.rglob("*.feature"))


def read_features(path: str | os.PathLike[str]) -> list[tuple[str, str]]:
    """Every ``*.feature`` under a folder (or one file), named relative to it, sorted."""
    p = Path(path)
    base = p.parent if p.is_file() else p
    return [
        (f.relative_to(base).as_posix(), f.read_text(encoding="utf-8")) for f in _feature_files(p)
    ]


def default_features_dir() -> Path:
    """HUB_FEATURES_DIR, else the repository's features/ (not the working directory's)."""
    return features_dir()


def default_policies_dir() -> Path:
    """HUB_POLICY_DIR (the service's own setting), else the repository's policies/."""
    return policy_dir()


def load_catalogue(directory: str | os.PathLike[str] | None = None) -> list[Policy]:
    """Every policy file under a folder, sorted by effective date (date-selection scenarios)."""
    d = Path(directory) if directory is not None else default_policies_dir()
    if not d.is_dir():
        return []
    files = sorted(d.rglob("*.yaml")) + sorted(d.rglob("*.yml"))
    key = ("policies", *_stamp(files))
    hit = _CACHE.get(key)
    if hit is None:
        policies = [load_policy(f) for f in files]
        hit = _remember(key, sorted(policies, key=lambda p: p.effective_from))
    return list(hit)


def as_policy(policy: Policy | str | os.PathLike[str]) -> Policy:
    """A Policy from itself, a file path, or a policy text (a draft from the browser)."""
    if isinstance(policy, Policy):
        return policy
    if isinstance(policy, os.PathLike):
        return load_policy(Path(policy))
    if "\n" not in policy and Path(policy).is_file():
        return load_policy(policy)
    if "\n" not in policy and policy.endswith((".yaml", ".yml")):
        raise PolicyError([f"{policy}: no such policy file"])
    return load_policy_text(policy, source="<draft>")


def as_suite(
    features: SpecSuite | str | os.PathLike[str] | Iterable[tuple[str, str]] | None,
) -> SpecSuite:
    """A SpecSuite from itself, a folder or file path, ``(name, text)`` pairs, or None."""
    if features is None:
        return SpecSuite.from_path(default_features_dir())
    if isinstance(features, SpecSuite):
        return features
    if isinstance(features, str | os.PathLike):
        return SpecSuite.from_path(features)
    return SpecSuite.from_texts(features)


def run_specs(
    policy: Policy | str | os.PathLike[str],
    features: SpecSuite | str | os.PathLike[str] | Iterable[tuple[str, str]] | None = None,
    *,
    catalogue: Sequence[Policy] | PolicyRegistry | None = None,
    tag: str | None = None,
    fail_fast: bool = False,
    prefer: Collection[str] = (),
) -> SpecReport:
    """Run the specs of ``policy``'s version against it; the one entry point for CLI and studio.

    ``policy``: a Policy, a file path (anywhere on disk) or a YAML text.
    ``features``: a folder, a file, ``(name, text)`` pairs (a draft's own
    scenarios) or a SpecSuite; default: the repository's features/.
    ``catalogue``: the versions date-selection scenarios choose among;
    default: the repository's policies/, with ``policy`` in place of its version.
    """
    pol = as_policy(policy)
    suite = as_suite(features)
    cat = load_catalogue() if catalogue is None else catalogue
    return suite.run(pol, catalogue=cat, tag=tag, fail_fast=fail_fast, prefer=prefer)
