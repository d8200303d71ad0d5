"""Every public class and function of the domain core says what it is (issue 12 item 8):
a docstring, not the signature dataclasses write in its place."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import hub.policy


def _public_objects() -> list[tuple[str, object]]:
    found = []
    for info in pkgutil.iter_modules(hub.policy.__path__):
        module = importlib.import_module(f"hub.policy.{info.name}")
        for name, obj in vars(module).items():
            if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
                continue
            if inspect.isclass(obj) or inspect.isfunction(obj):
                found.append((f"{module.__name__}.{name}", obj))
    return found


def test_every_public_class_and_function_of_the_core_has_a_docstring() -> None:
    undocumented = [
        name
        for name, obj in _public_objects()
        if not (doc := (obj.__doc__ or "").strip())
        or (inspect.isclass(obj) and doc.startswith(obj.__name__ + "("))
    ]
    assert undocumented == []


def test_the_policy_data_classes_say_units_and_bounds() -> None:
    from hub.policy.model import Benefit, InputSpec

    assert "inclusive" in (InputSpec.__doc__ or "")
    assert "KZT" in (Benefit.__doc__ or "")
