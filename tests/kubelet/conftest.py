"""Fixtures of the kubelet suites: the harness (built once per session) and a node around it."""

from __future__ import annotations

from pathlib import Path

import pytest

from .provider_support import Node, build_harness


@pytest.fixture(scope="session")
def harness() -> Path:
    return build_harness()


@pytest.fixture
def node(harness, helper, tmp_path) -> Node:
    return Node(harness, helper, tmp_path)
