"""Every feature under features/ as pytest tests (the steps are bound in conftest.py)."""

from pytest_bdd import scenarios

scenarios(".")
