"""The engine wrapper has no process-wide effect at import (issue 12): importing the core
neither loads durable-rules nor tunes the C allocator; the first decision loads it."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import sys
import hub.policy
from hub.policy import engine
print("durable_rules_engine" in sys.modules)
engine().loaded()
print("durable_rules_engine" in sys.modules)
"""


def test_importing_the_core_loads_no_engine_and_the_first_use_does() -> None:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["False", "True"]
