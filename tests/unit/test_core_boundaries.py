"""The architecture's promises about the core, checked on the source itself."""

from __future__ import annotations

import ast
from pathlib import Path

HUB = Path(__file__).resolve().parents[2] / "hub"


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_only_the_engine_wrapper_touches_durable_rules() -> None:
    users = sorted(
        str(p.relative_to(HUB))
        for p in HUB.rglob("*.py")
        if imports(p) & {"durable", "durable_rules_engine"}
    )
    assert users == ["policy/engine.py"]


def test_the_domain_core_is_pure() -> None:
    for path in (HUB / "policy").glob("*.py"):
        impure = imports(path) & {"flask", "sqlmodel", "sqlalchemy", "werkzeug", "hub"}
        assert not impure, f"{path.name} imports {impure}"
