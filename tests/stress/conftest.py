"""The stress suite's figures: each test records what it ran, and the session prints them at the end
(the numbers the README's "Reliability" section quotes)."""

from __future__ import annotations

import json
import os
import time

import pytest

_FIGURES: dict[str, dict[str, object]] = {}


@pytest.fixture
def record(request: pytest.FixtureRequest):
    """``record(**figures)`` files figures under the test's name; the duration is added automatically."""
    started = time.monotonic()
    name = request.node.name
    entry: dict[str, object] = {}
    _FIGURES[name] = entry

    def add(**figures: object) -> None:
        entry.update(figures)

    yield add
    entry["seconds"] = round(time.monotonic() - started, 1)


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    if not _FIGURES:
        return
    terminalreporter.section("reliability figures")
    for name, figures in _FIGURES.items():
        terminalreporter.write_line(f"{name}: {json.dumps(figures, sort_keys=True)}")
    target = os.environ.get("STRESS_FIGURES")
    if target:
        with open(target, "w") as out:
            json.dump(_FIGURES, out, indent=2, sort_keys=True)
