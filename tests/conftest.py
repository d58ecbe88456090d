"""The suites' shared fixture: ``helper``, the program under test run as a subprocess exactly as clients run it.

``HELPER_BIN=path`` selects the program (the single executable, say); otherwise the console script installed
beside the test interpreter (see :func:`common.program_under_test`). Every run gets an isolated HOME,
XDG_CONFIG_HOME and DOCKER_CONFIG and an environment with nothing inherited but PATH.

The end-to-end fixtures (registries, the test image, isolated clients) live in the plugin ``e2e.fixtures``,
registered here for tests/e2e and tests/backend alike: pytest honours ``pytest_plugins`` only in the top conftest.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from common import Helper, program_under_test

pytest_plugins = ("e2e.fixtures",)

PROGRAM = str(program_under_test())
# The single executable unpacks its bundle once per user cache; with a fresh HOME per test it would unpack
# ~900 times. One cache for the session keeps the suite fast; tests/packaging covers first runs.
BINARY_CACHE = tempfile.mkdtemp(prefix="helper-cache-") if os.environ.get("HELPER_BIN") else ""


@pytest.fixture
def helper(tmp_path: Path) -> Helper:
    return Helper(tmp_path, PROGRAM, BINARY_CACHE)
