"""Concurrency and crash safety, the fast share (``make test``); ``tests/stress/test_races_stress.py`` runs the
same drivers at full size (50 concurrent processes per round, hundreds of SIGKILLs)."""

from __future__ import annotations

import random

from .races import Figures, distinct_hosts, kill_writers, same_host


def test_concurrent_distinct_hosts_lose_nothing(helper):
    distinct_hosts(helper, random.Random(1), Figures(), stores=12, erases=4, gets=6)


def test_concurrent_same_host_leaves_one_written_value(helper):
    same_host(helper, random.Random(2), Figures(), stores=10, gets=4)


def test_killed_writers_leave_old_or_new_content(helper):
    kill_writers(helper, random.Random(3), Figures(), kills=20, entries=200)


def test_killed_writers_behind_a_symlink(helper):
    kill_writers(helper, random.Random(4), Figures(), kills=10, entries=50, symlinked=True)
