"""The suites' shared fixture: ``helper``, the program under test run as a subprocess exactly as clients run it.

``HELPER_BIN=path`` selects the program (the single executable, say); otherwise the console script installed
beside the test interpreter (see :func:`common.program_under_test`). Every run gets an isolated HOME,
XDG_CONFIG_HOME and DOCKER_CONFIG and an environment with nothing inherited but PATH.

The program is resolved when a test first needs it (the session fixture ``helper_bin``), not at import: the unit
tests run in-process and need no installed program (``PYTHONPATH=helper python -m pytest tests/unit``).

The end-to-end fixtures (registries, the test image, isolated clients) live in the plugin ``e2e.fixtures``,
registered here for tests/e2e and tests/backend alike: pytest honours ``pytest_plugins`` only in the top conftest.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from common import Helper

pytest_plugins = ("e2e.fixtures",)


@pytest.fixture(scope="session")
def binary_cache(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The single executable unpacks its bundle once per user cache; with a fresh HOME per test it would unpack
    ~900 times. One cache for the session keeps the suite fast; tests/packaging covers first runs."""
    return str(tmp_path_factory.mktemp("helper-cache")) if os.environ.get("HELPER_BIN") else ""


@pytest.fixture
def helper(tmp_path: Path, helper_bin: Path, binary_cache: str) -> Helper:
    return Helper(tmp_path, str(helper_bin), binary_cache)
