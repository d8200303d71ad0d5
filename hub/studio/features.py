"""A draft's own Gherkin scenarios: one editable text holding several feature files.

The studio shows a draft's scenarios in one editor beside the rules, so they
are stored as one text in which each feature file starts with a marker line::

    # ==== clients_aml.feature ====

(a Gherkin comment, so nothing else is needed to read it). When the text is
run (:func:`spec_suite`), each file is parsed on its own and the line numbers
the runner reports are moved to the editor's lines: splitting and parsing are
linear in the text (padding each file with the blank lines before it, as once
done, made 1,000 files take 21 s).

The text is bounded: at most ``MAX_FEATURES_BYTES`` of UTF-8 and
``MAX_SCENARIOS`` scenarios, each Examples row counted as one
(:func:`check_features_text`), so no draft can make a run, a job page or an
editor page without end.

A new draft's scenarios are a copy of its base version's: every scenario (or
Examples block) tagged with the base's version tag, re-tagged with the
draft's, and nothing tagged only for other versions. Scenarios tagged
``@versions`` or whose steps name a version ("assessed under version
2027.1") are left out: they state how *published* versions relate, so they
belong to the catalogue in features/, not to one draft.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, NamedTuple

from gherkin.dialect import Dialect
from gherkin.errors import CompositeParserException, ParserException
from gherkin.parser import Parser

from hub.services.errors import Invalid
from hub.specs import SpecSuite, version_tag

MARKER_RE = re.compile(r"^# =+ (?P<name>[A-Za-z0-9_./-]+\.feature) =+\s*$")
VERSION_TAG_RE = re.compile(r"@v\d{4}\.\d+(?:[-.][A-Za-z0-9]+)*(?=\s|$)")
CATALOGUE_TAG = "@versions"
NAMED_VERSION_RE = re.compile(r"\bversion \d{4}\.\d+")
LANGUAGE_RE = re.compile(r"^\s*#\s*language\s*:\s*(?P<lang>[A-Za-z-]+)\s*$")
GHERKIN_PLACE_RE = re.compile(r"\((?P<line>[0-9]+):(?P<column>[0-9]+)\)")

#: The longest scenario text a draft may hold, in UTF-8 bytes (the shipped ones: ~100 KB).
MAX_FEATURES_BYTES = 512 * 1024
#: The most scenarios a draft may hold, each Examples row counted as one (shipped: ~400).
MAX_SCENARIOS = 5_000


class FeatureFile(NamedTuple):
    """One feature file of a features text: its name, its text, and the editor's line
    number of its first line."""

    name: str
    text: str
    first_line: int


def marker(name: str) -> str:
    return f"# ==== {name} ===="


def features_digest(text: str | None) -> str:
    return "sha256:" + hashlib.sha256((text or "").encode("utf-8")).hexdigest()


def join_features(files: Iterable[tuple[str, str]]) -> str:
    """Several ``(name, text)`` feature files as one editable text."""
    parts = []
    for name, text in files:
        parts.append(marker(name) + "\n" + text.rstrip("\n") + "\n")
    return "\n".join(parts)


def feature_files(text: str | None) -> list[FeatureFile]:
    """The files of a features text, each with the editor's line of its first line.

    Text before the first marker (if it holds anything but comments and blank
    lines) is a file of its own named ``scenarios.feature``. Linear in the text.
    """
    if not text:
        return []
    lines = text.split("\n")
    out: list[FeatureFile] = []
    name, start = "scenarios.feature", 0

    def flush(end: int) -> None:
        body = lines[start:end]
        if any(ln.strip() and not ln.lstrip().startswith("#") for ln in body):
            out.append(FeatureFile(name, "\n".join(body) + "\n", start + 1))

    for i, line in enumerate(lines):
        if line.startswith("# =") and (m := MARKER_RE.match(line)):
            flush(i)
            name, start = m.group("name"), i + 1
    flush(len(lines))
    return out


def split_features(text: str | None) -> list[tuple[str, str]]:
    """The ``(name, text)`` files of a features text (see :func:`feature_files`)."""
    return [(f.name, f.text) for f in feature_files(text)]


def spec_suite(text: str | None) -> SpecSuite:
    """The scenarios of a features text, parsed file by file, every line number (of a
    scenario, a step, a Gherkin error) the editor's."""
    scenarios = []
    errors: list[str] = []
    for file in feature_files(text):
        suite = SpecSuite.from_texts([(file.name, file.text)])
        shift = file.first_line - 1
        for sc in suite.scenarios:
            steps = tuple(replace(st, line=st.line + shift) for st in sc.steps)
            scenarios.append(replace(sc, line=sc.line + shift, steps=steps))
        errors.extend(_shifted(e, shift) for e in suite.errors)
    return SpecSuite(scenarios, errors)


def _shifted(error: str, shift: int) -> str:
    """A Gherkin error's ``(line:column)`` places moved down by ``shift`` lines."""
    return GHERKIN_PLACE_RE.sub(
        lambda m: f"({int(m.group('line')) + shift}:{m.group('column')})", error
    )


def count_scenarios(text: str | None) -> int:
    """How many scenarios a features text holds, each Examples row counted as one.

    A linear scan of the lines by the keywords of each file's Gherkin language
    (``# language: xx``; English otherwise), so a text too large to run is refused
    before anything parses it.
    """
    if not text:
        return 0
    count = 0
    scenario_words, examples_words = _keywords("en")
    in_examples = header_seen = False
    for raw in text.split("\n"):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            lang = LANGUAGE_RE.match(line)
            if lang:
                scenario_words, examples_words = _keywords(lang.group("lang"))
            continue
        if line.startswith("|"):
            if in_examples:
                if header_seen:
                    count += 1
                header_seen = True
            continue
        in_examples = header_seen = False
        keyword = line.split(":", 1)[0].strip() if ":" in line else ""
        if keyword in scenario_words:
            count += 1
        elif keyword in examples_words:
            in_examples = True
    return count


def _keywords(language: str) -> tuple[frozenset[str], frozenset[str]]:
    """The scenario keywords and the Examples keywords of a language."""
    # An unknown language is counted as English (Gherkin refuses the file when it is run).
    dialect = Dialect.for_name(language) or Dialect.for_name("en")
    assert dialect is not None  # English is always known
    # An outline is counted by its Examples rows (without them it makes no scenario).
    return frozenset(w.strip() for w in dialect.scenario_keywords), frozenset(
        w.strip() for w in dialect.examples_keywords
    )


def check_features_text(text: str | None) -> None:
    """Refuse a features text longer than ``MAX_FEATURES_BYTES`` or holding more than
    ``MAX_SCENARIOS`` scenarios (Examples rows counted): ``Invalid`` on ``features_text``."""
    if not text:
        return
    if len(text) * 4 > MAX_FEATURES_BYTES:
        size = len(text.encode("utf-8", "surrogatepass"))
        if size > MAX_FEATURES_BYTES:
            raise Invalid(
                f"The scenarios are {size:,} bytes long, more than the {MAX_FEATURES_BYTES:,} "
                f"bytes ({MAX_FEATURES_BYTES // 1024} KB) a draft may hold: keep the scenarios "
                "that specify this version, and move the rest to features/.",
                field="features_text",
            )
    count = count_scenarios(text)
    if count > MAX_SCENARIOS:
        raise Invalid(
            f"The scenarios hold {count:,} scenarios (each Examples row counts as one), more "
            f"than the {MAX_SCENARIOS:,} a draft may hold: keep the boundary cases, not "
            "every value.",
            field="features_text",
        )


def _effective_tags(*nodes: Mapping[str, Any]) -> set[str]:
    return {t["name"] for n in nodes for t in n.get("tags", [])}


def _first_line(node: dict[str, Any]) -> int:
    lines = [node["location"]["line"]] + [t["location"]["line"] for t in node.get("tags", [])]
    return min(lines)


def _last_line(node: dict[str, Any], text_lines: list[str]) -> int:
    """The last line that belongs to a scenario, background, examples block or rule."""
    last = node["location"]["line"]
    for st in node.get("steps", []):
        last = max(last, st["location"]["line"])
        table = st.get("dataTable")
        if table:
            last = max(last, *(r["location"]["line"] for r in table["rows"]))
        doc = st.get("docString")
        if doc:
            delim = doc.get("delimiter", '"""')
            i = doc["location"]["line"]  # opening delimiter, 1-based
            while i < len(text_lines) and text_lines[i].strip() != delim:
                i += 1
            last = max(last, i + 1)
    for ex in node.get("examples", []):
        last = max(last, _last_line(ex, text_lines))
    if node.get("tableHeader"):
        last = max(last, node["tableHeader"]["location"]["line"])
    for row in node.get("tableBody", []):
        last = max(last, row["location"]["line"])
    for child in node.get("children", []):
        for kind in ("background", "scenario", "rule"):
            if child.get(kind):
                last = max(last, _last_line(child[kind], text_lines))
    return last


def select_version(text: str, base: str, target: str) -> str | None:
    """The part of one feature file that specifies version ``base``, re-tagged ``target``.

    None when nothing in the file is tagged for ``base``.
    """
    base_tag, target_tag = version_tag(base), version_tag(target)
    doc = Parser().parse(text)
    feature = doc.get("feature")
    if not feature:
        return None
    lines = text.split("\n")
    drop: list[tuple[int, int]] = []  # 1-based inclusive ranges
    kept = 0

    def scenario_kept(sc: dict[str, Any], inherited: set[str]) -> bool:
        nonlocal kept
        tags = inherited | _effective_tags(sc)
        if CATALOGUE_TAG in tags or any(
            NAMED_VERSION_RE.search(st["text"]) for st in sc.get("steps", [])
        ):
            return False
        examples = sc.get("examples", [])
        if not examples:
            if base_tag in tags:
                kept += 1
                return True
            return False
        any_kept = False
        for ex in examples:
            if base_tag in tags | _effective_tags(ex):
                any_kept = True
                kept += 1
            else:
                drop.append((_first_line(ex), _last_line(ex, lines)))
        return any_kept

    def walk(container: Mapping[str, Any], inherited: set[str]) -> bool:
        any_kept = False
        for child in container.get("children", []):
            if child.get("scenario"):
                sc = child["scenario"]
                if scenario_kept(sc, inherited):
                    any_kept = True
                else:
                    drop.append((_first_line(sc), _last_line(sc, lines)))
            elif child.get("rule"):
                rule = child["rule"]
                if walk(rule, inherited | _effective_tags(rule)):
                    any_kept = True
                else:
                    drop.append((_first_line(rule), _last_line(rule, lines)))
        return any_kept

    walk(feature, _effective_tags(feature))
    if not kept:
        return None
    dropped: set[int] = set()
    for a, b in drop:
        dropped.update(range(a, b + 1))
    out: list[str] = []
    for n, line in enumerate(lines, start=1):
        if n in dropped:
            continue
        if line.lstrip().startswith("@"):
            line = _retag(line, base_tag, target_tag)
            if not line.strip():
                continue
        if not line.strip() and out and not out[-1].strip():
            continue  # one blank line where a block went
        out.append(line)
    return "\n".join(out).rstrip("\n") + "\n"


def _retag(line: str, base_tag: str, target_tag: str) -> str:
    indent = line[: len(line) - len(line.lstrip())]
    tags = []
    for token in line.split():
        if VERSION_TAG_RE.fullmatch(token):
            if token == base_tag and target_tag not in tags:
                tags.append(target_tag)
            continue
        tags.append(token)
    return indent + " ".join(tags) if tags else ""


def copy_for_draft(
    files: Iterable[tuple[str, str]], base: str, target: str
) -> tuple[str, list[str]]:
    """The features text a new draft starts with, and the files that did not parse."""
    selected: list[tuple[str, str]] = []
    problems: list[str] = []
    for name, text in files:
        try:
            part = select_version(text, base, target)
        except (CompositeParserException, ParserException) as exc:
            problems.append(f"{name}: {exc}")
            continue
        if part is not None:
            selected.append((Path(name).name, part))
    return join_features(selected), problems


def retag_text(text: str, base: str, target: str) -> str:
    """A stored features text moved from one version's tag to another's."""
    base_tag, target_tag = version_tag(base), version_tag(target)
    return "\n".join(
        _retag(line, base_tag, target_tag) if line.lstrip().startswith("@") else line
        for line in text.split("\n")
    )
