"""Fuzzing, the fast share (``make test``): a few hundred generated cases in-process and a few dozen through the
real program. ``tests/stress/test_fuzz_stress.py`` runs the same properties on more than 10,000 cases."""

from __future__ import annotations

import pytest

from .fuzzing import InProcess, Subprocess, fuzz, install_fakes


@pytest.fixture(scope="module")
def search_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    return install_fakes(tmp_path_factory.mktemp("fakes"))


def test_fuzz_in_process(search_path: str) -> None:
    counter = fuzz(InProcess(search_path), 250)
    assert counter.cases >= 200, counter


def test_fuzz_subprocess(search_path: str, helper) -> None:
    counter = fuzz(Subprocess(helper.program, search_path), 25)
    assert counter.cases >= 20, counter
