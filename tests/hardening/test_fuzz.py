"""Fuzzing, the fast share (``make test``): a few hundred generated cases in-process and a few dozen through the
real program. ``tests/stress/test_fuzz_stress.py`` runs the same properties on more than 10,000 cases."""

from __future__ import annotations

import pytest
from hypothesis import given

from .fuzzing import Counter, InProcess, Subprocess, cases, fuzz_settings, install_fakes, run_case


@pytest.fixture(scope="module")
def search_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    return install_fakes(tmp_path_factory.mktemp("fakes"))


def test_fuzz_in_process(search_path: str) -> None:
    runner, counter = InProcess(search_path), Counter()

    @fuzz_settings(250)
    @given(cases())
    def prop(case: dict) -> None:
        run_case(runner, case, counter)

    prop()
    assert counter.cases >= 200, counter


def test_fuzz_subprocess(search_path: str, helper) -> None:
    runner, counter = Subprocess(helper.program, search_path), Counter()

    @fuzz_settings(25)
    @given(cases())
    def prop(case: dict) -> None:
        run_case(runner, case, counter)

    prop()
    assert counter.cases >= 20, counter
