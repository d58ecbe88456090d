"""Fuzzing at full size: more than 10,000 generated cases in-process plus several hundred through the real
program (see ``tests/hardening/fuzzing.py`` for what is generated and what every run must satisfy)."""

from __future__ import annotations

import pytest
from hardening.fuzzing import Counter, InProcess, Subprocess, fuzz, install_fakes

pytestmark = pytest.mark.stress

IN_PROCESS_CASES = 10_000
SUBPROCESS_CASES = 400


@pytest.fixture(scope="module")
def search_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    return install_fakes(tmp_path_factory.mktemp("fakes"))


def _fuzz(runner, examples: int, record) -> Counter:
    counter = Counter()
    try:
        fuzz(runner, examples, counter)
    finally:
        record(
            cases=counter.cases,
            runs=counter.runs,
            exit_status=counter.exits,
            runs_by_argv=counter.by_verb,
        )
    return counter


def test_fuzz_in_process_10k(search_path: str, record) -> None:
    counter = _fuzz(InProcess(search_path), IN_PROCESS_CASES, record)
    assert counter.cases >= IN_PROCESS_CASES * 0.95, counter


def test_fuzz_subprocess(search_path: str, helper, record) -> None:
    counter = _fuzz(Subprocess(helper.program, search_path), SUBPROCESS_CASES, record)
    assert counter.cases >= SUBPROCESS_CASES * 0.95, counter
