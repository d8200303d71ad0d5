"""The README stays true to the code (datasette's test_docs.py is the model).

Everything is found in the code, never from a hand-written list: the ``HUB_*`` settings
by scanning hub/'s source, the commands and options by walking the ``hub`` click tree,
the modules and packages by listing hub/. A failure names what the README lacks (or
names but the code does not have).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from hub.cli import main
from hub.config import NOT_SETTINGS

ROOT = Path(__file__).resolve().parents[2]
HUB = ROOT / "hub"
README = (ROOT / "README.md").read_text(encoding="utf-8")
SETTING = re.compile(r"HUB_[A-Z0-9_]+")


def section(title: str) -> str:
    """The README's text under a level-two heading, up to the next one."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", README, re.M | re.S)
    assert match, f"the README has no section '## {title}'"
    return match.group(1)


# --- settings ------------------------------------------------------------------------------


def settings_in_source() -> dict[str, str]:
    """Every ``HUB_*`` name hub/ holds as a whole string (what it reads from the
    environment, ``env.get("HUB_X")`` or a constant naming it) -> where it was first seen."""
    found: dict[str, str] = {}
    for path in sorted(HUB.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and SETTING.fullmatch(str(node.value)):
                found.setdefault(node.value, f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def documented_settings() -> set[str]:
    """The variables of the README's configuration table (a row's first cell)."""
    table = section("Configuration")
    return set(re.findall(r"^\| `(HUB_[A-Z0-9_]+)` \|", table, re.M))


def test_the_scan_finds_settings_read_in_several_ways() -> None:
    found = settings_in_source()
    # env.get in config.py, os.environ.get in __init__.py, a module constant in passwords.py
    assert {"HUB_DATABASE_URL", "HUB_TRUSTED_PROXIES", "HUB_PASSWORD_HASH"} <= set(found)


def test_every_setting_is_in_the_configuration_table() -> None:
    found = settings_in_source()
    settings = {name: where for name, where in found.items() if name not in NOT_SETTINGS}
    missing = sorted(f"{name} (read at {where})" for name, where in settings.items()
                     if name not in documented_settings())  # fmt: skip
    assert not missing, "settings the README's configuration table lacks: " + ", ".join(missing)


def test_the_configuration_table_names_only_settings() -> None:
    found = settings_in_source()
    stale = sorted(documented_settings() - set(found))
    assert not stale, f"the README documents settings hub/ never reads: {stale}"
    wrong = sorted(documented_settings() & set(NOT_SETTINGS))
    assert not wrong, f"the README documents names start-up refuses: {wrong}"


def test_one_setting_for_one_thing() -> None:
    # A refused name's replacement is a setting, documented; the refused one is not read
    # anywhere but in the refusal itself.
    for wrong, right in NOT_SETTINGS.items():
        assert right in documented_settings()
        readers = [
            str(p.relative_to(ROOT))
            for p in HUB.rglob("*.py")
            if f'"{wrong}"' in p.read_text(encoding="utf-8")
        ]
        assert readers == ["hub/config.py"], readers


# --- commands ------------------------------------------------------------------------------


def commands(
    command: click.Command = main, path: tuple[str, ...] = ("hub",)
) -> Iterator[tuple[str, click.Command]]:
    """Every command and group of the ``hub`` tree, by its words: ``hub policy test``."""
    yield " ".join(path), command
    if isinstance(command, click.Group):
        for name, sub in sorted(command.commands.items()):
            if not sub.hidden:
                yield from commands(sub, (*path, name))


def usages(words: str) -> list[str]:
    """The README's code spans and code-block lines that start with the command's words
    (``hub policy test [--policy FILE]``): the words, then a space or the end."""
    spans = re.findall(r"`([^`\n]+)`", README)
    lines = [
        line.strip()
        for block in re.findall(r"^```[a-z]*\n(.*?)^```", README, re.M | re.S)
        for line in block.splitlines()
    ]
    head = re.compile(rf"(?:^|\s){re.escape(words)}(?:\s|$)")
    return [text for text in spans + lines if head.search(text)]


ALL_COMMANDS = list(commands())


@pytest.mark.parametrize(("words", "command"), ALL_COMMANDS, ids=[w for w, _ in ALL_COMMANDS])
def test_every_command_and_option_is_in_the_readme(words: str, command: click.Command) -> None:
    found = usages(words)
    assert found, f"the README never shows `{words}`"
    shown = " ".join(found)
    lacking = []
    for param in command.params:
        if not isinstance(param, click.Option) or param.hidden:
            continue
        names = [*param.opts, *param.secondary_opts]
        if "--help" in names:
            continue
        if not any(re.search(rf"(?<![\w-]){re.escape(n)}(?![\w-])", shown) for n in names):
            lacking.append("/".join(names))
    assert not lacking, f"the README's `{words} ...` never shows {lacking}; it shows: {found}"


def test_the_command_walk_sees_nested_commands_and_their_options() -> None:
    found = dict(ALL_COMMANDS)
    assert {"hub", "hub policy", "hub policy test", "hub db upgrade"} <= set(found)
    options = {o for p in found["hub policy test"].params for o in getattr(p, "opts", [])}
    assert "--features" in options


# --- architecture --------------------------------------------------------------------------


def picture() -> list[str]:
    """The lines of the architecture section's code block."""
    blocks = re.findall(r"^```\n(.*?)^```", section("Architecture"), re.M | re.S)
    assert blocks, "the architecture section has no picture"
    return blocks[0].splitlines()


NAME = re.compile(r"[\w.-]+/?")


def pictured() -> dict[str, set[str]]:
    """Folder (``""`` for the repository, ``hub/``, ``hub/policy/``...) -> the names the
    picture lists in it. An entry line starts with its name(s) at its folder's
    indentation (two spaces a level), one space between names, two before the words."""
    listed: dict[str, set[str]] = {}
    stack: list[str] = []  # the folders open at each level
    for line in picture():
        indent = len(line) - len(line.lstrip(" "))
        if indent % 2 or indent // 2 > len(stack):
            continue  # a continuation of the words
        level = indent // 2
        names = []
        for token in line.strip().split("  ")[0].split(" "):
            if not NAME.fullmatch(token):
                break
            names.append(token)
        if not names:
            continue
        del stack[level:]
        folder = "".join(stack)
        listed.setdefault(folder, set()).update(names)
        if len(names) == 1 and names[0].endswith("/"):
            stack.append(names[0])
    return listed


def on_disk(folder: str) -> set[str]:
    """What the picture must list in a folder: its modules and packages (``x.py``,
    ``pkg/``; a package's ``__init__.py`` only for hub/ itself) and its other folders;
    for the repository itself, its top-level folders."""
    base = ROOT / folder
    names = set()
    for entry in base.iterdir():
        if entry.name.startswith((".", "__pycache__")) or entry.name.endswith(".egg-info"):
            continue
        if entry.is_dir():
            names.add(entry.name + "/")
        elif entry.suffix == ".py" and folder and (folder == "hub/" or entry.stem != "__init__"):
            names.add(entry.name)
    return names


def test_the_picture_lists_the_modules_and_packages_that_exist() -> None:
    listed = pictured()
    assert "hub/" in listed.get("", set()), "the picture does not start at hub/"
    problems = []
    for folder, names in sorted(listed.items()):
        if not (ROOT / folder).is_dir():
            continue
        here = on_disk(folder)
        for name in sorted(names - here):
            problems.append(f"{folder}{name} is pictured but does not exist")
        if (ROOT / folder / "__init__.py").exists():
            for name in sorted(here - names):
                problems.append(f"{folder}{name} exists but is not pictured")
    packages = sorted(
        str(p.parent.relative_to(ROOT)) + "/"
        for p in HUB.rglob("__init__.py")
        if "migrations" not in p.parts
    )
    for package in packages:
        if package not in listed:
            problems.append(f"{package}: the picture does not list its modules")
    assert not problems, "\n".join(problems)
