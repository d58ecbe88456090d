"""docs/clients.md stays in step with what is installed and tested: its address-form table is well formed and
covers every Go client, and its version table names the versions .ci/install-go-clients.sh pins. (Each row's
content is checked against real traffic by the flows themselves, through ``assert_documented``.)
"""

from __future__ import annotations

import re
from collections import Counter

import pytest

from .goclients import DOCS, documented_rows, format_calls, pinned_versions

pytestmark = pytest.mark.e2e


def test_address_form_table_is_well_formed_and_covers_every_client() -> None:
    rows = documented_rows()
    keys = Counter((r.client, r.command, r.config) for r in rows)
    assert [k for k, n in keys.items() if n > 1] == [], "one row per client, command and config"
    assert {r.config for r in rows} == {"credsStore", "credHelpers"}
    covered = {r.client for r in rows}
    for client in ("crane", "imgpkg", "regctl", "oras", "helm", "buildctl"):
        assert client in covered, f"{DOCS}: no address-form rows for {client}"
        assert client == "buildctl" or client in pinned_versions()
    for row in rows:
        assert all(verb in ("get", "store", "erase", "list") for verb, _ in row.calls)
        assert format_calls(row.calls)  # every row spells back


def test_version_table_matches_the_install_script() -> None:
    text = DOCS.read_text()
    for name, version in pinned_versions().items():
        line = next((ln for ln in text.splitlines() if re.match(rf"\|\s*[^|]*\b{re.escape(name)}\b", ln)), "")
        assert version in line, f"{DOCS}: the version table should say {name} {version}"
