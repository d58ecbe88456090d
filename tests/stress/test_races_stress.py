"""Concurrency and crash safety at full size: rounds of 50 concurrent writers (distinct hosts, with erases
and reads interleaved; then all on one host), and 300 SIGKILLed writers over small, large and symlinked
stores. Drivers and their assertions: ``tests/hardening/races.py``."""

from __future__ import annotations

import random

import pytest
from hardening.races import Figures, distinct_hosts, kill_writers, same_host

pytestmark = pytest.mark.stress

ROUNDS = 5


def test_50_concurrent_writers_distinct_hosts(helper, record) -> None:
    figures, rng = Figures(), random.Random()
    try:
        for _ in range(ROUNDS):
            distinct_hosts(helper, rng, figures, stores=50, erases=25, gets=25)
    finally:
        record(
            rounds=figures.rounds, processes=figures.processes, watcher_snapshots=figures.snapshots, **figures.details
        )


def test_50_concurrent_writers_same_host(helper, record) -> None:
    figures, rng = Figures(), random.Random()
    try:
        for _ in range(ROUNDS):
            same_host(helper, rng, figures, stores=50, gets=20)
    finally:
        record(
            rounds=figures.rounds, processes=figures.processes, watcher_snapshots=figures.snapshots, **figures.details
        )


@pytest.mark.parametrize(
    "kills, entries, symlinked",
    [(150, 200, False), (100, 5000, False), (50, 200, True)],
    ids=["small-store", "large-store", "symlinked-store"],
)
def test_sigkill_writers(helper, record, kills: int, entries: int, symlinked: bool) -> None:
    figures = Figures()
    try:
        kill_writers(helper, random.Random(), figures, kills=kills, entries=entries, symlinked=symlinked)
    finally:
        record(kills=figures.processes, entries=entries, **figures.details)
