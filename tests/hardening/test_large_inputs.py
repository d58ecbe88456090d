"""Issue 15: what large CI organisations have, answered right by every verb that reads it: 1,000
``IMGPKG_REGISTRY_*`` groups, and a config.json with 20,000 entries. (How the cost grows with the size, in CPU
time, is measured in tests/stress/test_size_bound.py; here only the answers.)"""

from __future__ import annotations

import json

import pytest

from .every_verb import SECRET, VERBS, check, config_entries, file_at, groups, invoke, isolate

GROUPS = 1_000
ENTRIES = 20_000
LIVENESS = 300  # seconds: a hang detector only (each run takes a few seconds of CPU at most)


@pytest.fixture
def many_groups(helper):
    isolate(helper)
    helper.env.update(groups(GROUPS))
    return helper


@pytest.fixture
def many_entries(helper):
    isolate(helper)
    config_entries(helper, ENTRIES)
    return helper


def ran(helper, verb: str, address: str) -> str:
    result = invoke(helper, VERBS[verb], address, {"DOCKER_CREDENTIAL_IMGPKG_DEBUG": ""}, timeout=LIVENESS)
    check(VERBS[verb], result, (SECRET,))
    assert result.returncode == 0, result
    return result.stdout


# --- 1,000 IMGPKG_REGISTRY groups ----------------------------------------------------------------------------


def test_list_of_1000_groups(many_groups):
    assert json.loads(ran(many_groups, "list", "")) == {f"host{i}.example": f"user{i}" for i in range(GROUPS)}


def test_get_among_1000_groups(many_groups):
    answer = json.loads(ran(many_groups, "get", f"host{GROUPS - 1}.example"))
    assert (answer["Username"], answer["Secret"]) == (f"user{GROUPS - 1}", f"{SECRET}-{GROUPS - 1}")


def test_explain_every_one_of_1000_groups(many_groups):
    report = json.loads(ran(many_groups, "explain-all-json", ""))
    found = {entry["address"]: form.get("username") for entry in report["addresses"] for form in entry["forms"]}
    assert found == {f"host{i}.example": f"user{i}" for i in range(GROUPS)}


def test_configure_kubelet_matches_all_1000_groups(many_groups):
    ran(many_groups, "configure-kubelet", f"host{GROUPS}.example")
    doc = json.loads(file_at(many_groups, "kubelet-config").read_text())
    [provider] = doc["providers"]
    assert sorted(provider["matchImages"]) == sorted(f"host{i}.example" for i in range(GROUPS + 1))


def test_kubelet_among_1000_groups(many_groups):
    response = json.loads(ran(many_groups, "kubelet", f"host{GROUPS - 1}.example"))
    assert response["auth"] == {
        f"host{GROUPS - 1}.example": {"username": f"user{GROUPS - 1}", "password": f"{SECRET}-{GROUPS - 1}"}
    }


# --- 20,000 config.json entries ------------------------------------------------------------------------------


def test_list_of_20000_config_entries(many_entries):
    assert json.loads(ran(many_entries, "list", "")) == {f"r{i}.example": f"c{i}" for i in range(ENTRIES)}


def test_get_among_20000_config_entries(many_entries):
    assert json.loads(ran(many_entries, "get", f"r{ENTRIES - 1}.example"))["Username"] == f"c{ENTRIES - 1}"


@pytest.mark.parametrize("verb", ["explain", "explain-json"])
def test_explain_among_20000_config_entries(many_entries, verb):
    out = ran(many_entries, verb, f"r{ENTRIES - 1}.example")
    if verb == "explain-json":
        [entry] = json.loads(out)["addresses"]
        [form] = entry["forms"]
        assert (form["source"], form["username"]) == ("docker", f"c{ENTRIES - 1}")
    else:
        assert f"(username 'c{ENTRIES - 1}')" in out


def test_explain_every_one_of_20000_config_entries(many_entries):
    report = json.loads(ran(many_entries, "explain-all-json", ""))
    found = {entry["address"]: form.get("username") for entry in report["addresses"] for form in entry["forms"]}
    assert found == {f"r{i}.example": f"c{i}" for i in range(ENTRIES)}


def test_configure_kubelet_matches_all_20000_config_entries(many_entries):
    ran(many_entries, "configure-kubelet", "extra.example")
    doc = json.loads(file_at(many_entries, "kubelet-config").read_text())
    [provider] = doc["providers"]
    assert set(provider["matchImages"]) == {f"r{i}.example" for i in range(ENTRIES)} | {"extra.example"}


def test_kubelet_among_20000_config_entries(many_entries):
    response = json.loads(ran(many_entries, "kubelet", f"r{ENTRIES - 1}.example"))
    assert response["auth"][f"r{ENTRIES - 1}.example"]["username"] == f"c{ENTRIES - 1}"
