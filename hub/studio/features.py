"""A draft's own Gherkin scenarios: one editable text holding several feature files.

The studio shows a draft's scenarios in one editor beside the rules, so they
are stored as one text in which each feature file starts with a marker line::

    # ==== clients_aml.feature ====

(a Gherkin comment, so nothing else is needed to read it). When the text is
run, each file is handed to the spec runner padded with blank lines, so the
line numbers the runner reports are the editor's line numbers.

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
from pathlib import Path
from typing import Any

from gherkin.errors import CompositeParserException, ParserException
from gherkin.parser import Parser

from hub.specs import version_tag

MARKER_RE = re.compile(r"^# =+ (?P<name>[A-Za-z0-9_./-]+\.feature) =+\s*$")
VERSION_TAG_RE = re.compile(r"@v\d{4}\.\d+(?:[-.][A-Za-z0-9]+)*(?=\s|$)")
CATALOGUE_TAG = "@versions"
NAMED_VERSION_RE = re.compile(r"\bversion \d{4}\.\d+")


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


def split_features(text: str | None) -> list[tuple[str, str]]:
    """The files of a features text, each padded so that line numbers stay the editor's.

    Text before the first marker (if it holds anything but comments and blank
    lines) is a file of its own named ``scenarios.feature``.
    """
    if not text:
        return []
    lines = text.split("\n")
    out: list[tuple[str, str]] = []
    name, start = "scenarios.feature", 0

    def flush(end: int) -> None:
        body = lines[start:end]
        if any(ln.strip() and not ln.lstrip().startswith("#") for ln in body):
            out.append((name, "\n" * start + "\n".join(body) + "\n"))

    for i, line in enumerate(lines):
        m = MARKER_RE.match(line)
        if m:
            flush(i)
            name, start = m.group("name"), i + 1
    flush(len(lines))
    return out


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
