"""``list``: server → username over every source; keys are ones ``get`` answers; never a secret."""

from __future__ import annotations

import json

import pytest

from .support import ACCESS_TOKEN, HUB, answer, assert_error, b64


def listed(helper, env=None) -> dict[str, str]:
    result = helper.list(env=env)
    assert result.returncode == 0, result
    assert result.stdout.endswith("\n") and result.stdout.count("\n") == 1, result.stdout
    value = json.loads(result.stdout)
    assert isinstance(value, dict) and all(isinstance(v, str) for v in value.values())
    return value


def env_entry(suffix: str, hostname: str, **values: str) -> dict[str, str]:
    tail = f"_{suffix}" if suffix else ""
    return {f"IMGPKG_REGISTRY_HOSTNAME{tail}": hostname} | {
        f"IMGPKG_REGISTRY_{k.upper()}{tail}": v for k, v in values.items()
    }


def test_empty_is_an_empty_object(helper):
    result = helper.list()
    assert (result.returncode, result.stdout) == (0, "{}\n")


def test_list_ignores_whatever_is_on_stdin(helper):
    # Go clients write `unused`; it must not be taken as anything.
    assert helper.store("quay.io", "alice", "s").returncode == 0
    result = helper.run("list", stdin="unused")
    assert (result.returncode, json.loads(result.stdout)) == (0, {"quay.io": "alice"})


@pytest.mark.parametrize(
    ("hostname", "key"),
    [
        ("gcr.io", "gcr.io"),
        ("https://GCR.io/v2/", "gcr.io"),
        ("http://gcr.io/", "gcr.io"),
        ("localhost:5000", "localhost:5000"),
        ("https://myreg.example.com:5000/v1/", "myreg.example.com:5000"),
        ("docker.io", HUB),
        ("index.docker.io", HUB),
        ("registry-1.docker.io", HUB),
        (HUB, HUB),
    ],
)
def test_env_plain_host_entries_are_listed_by_normalised_host(helper, hostname, key):
    env = env_entry("0", hostname, username="u0", password="env-secret")
    assert listed(helper, env) == {key: "u0"}
    assert answer(helper.get(key, env=env))["Username"] == "u0"


@pytest.mark.parametrize("hostname", ["*.gcr.io", "*:5000", ""])
def test_env_wildcard_entries_are_not_listed(helper, hostname):
    assert listed(helper, env_entry("0", hostname, username="u0", password="p")) == {}


@pytest.mark.parametrize(
    ("hostname", "key"),
    [("gcr.io/proj", "gcr.io"), ("docker.io/library/ubuntu", "https://index.docker.io/v1/"), ("gcr.io/v2", "gcr.io")],
)
def test_env_path_entries_list_their_registry_as_a_host_only_get_answers_it(helper, hostname, key):
    env = env_entry("0", hostname, username="u0", password="p")
    assert listed(helper, env) == {key: "u0"}
    assert answer(helper.get(key, env=env))["Username"] == "u0"


def test_env_path_entries_with_different_credentials_are_not_listed(helper):
    env = env_entry("0", "gcr.io/a", username="u0", password="p") | env_entry(
        "1", "gcr.io/b", username="u1", password="p"
    )
    assert listed(helper, env) == {}


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({}, {}),
        ({"password": "p"}, {}),  # lead: password alone is no usable credential
        ({"registry_token": "rt"}, {}),  # get would fail for this key: left out, list still succeeds
        ({"identity_token": "idt"}, {"gcr.io": "<token>"}),
        ({"username": "u"}, {"gcr.io": "u"}),
        ({"username": "u", "registry_token": "rt"}, {"gcr.io": "u"}),
    ],
    ids=["no-credentials", "password-only", "registry-token", "identity-token", "username-only", "username+rt"],
)
def test_env_entries_listed_only_with_usable_credentials(helper, values, expected):
    assert listed(helper, env_entry("", "gcr.io", **values)) == expected


def test_store_and_docker_config_entries(helper):
    assert helper.store("quay.io", "alice", "store-secret").returncode == 0
    assert helper.store("https://index.docker.io/v1/", "hubuser", "store-secret").returncode == 0
    assert helper.store("gcr.io/proj", "nsuser", "store-secret").returncode == 0
    helper.write_docker_config(
        {
            "auths": {
                "https://myreg.example.com:5000/v2/": {"auth": b64("bob:config-secret")},
                "ghcr.io": {"identitytoken": "config-secret"},
                "placeholder.io": {},
                "bad.io": {"auth": "!!config-secret"},
                "rt.io": {"registrytoken": "config-secret"},
                "plain.io": {"username": "carol", "password": "config-secret"},
            }
        }
    )
    result = helper.list()
    assert "secret" not in result.stdout
    assert listed(helper) == {
        "quay.io": "alice",
        HUB: "hubuser",
        "gcr.io/proj": "nsuser",
        "myreg.example.com:5000": "bob",
        "ghcr.io": "<token>",
        "plain.io": "carol",
    }


def test_docker_config_hub_alias_key_listed_as_hub(helper):
    helper.write_docker_config({"auths": {"docker.io": {"auth": b64("hubuser:pw")}}})
    assert listed(helper) == {HUB: "hubuser"}


def test_docker_auth_config_entries(helper):
    env = {"DOCKER_AUTH_CONFIG": json.dumps({"auths": {"quay.io": {"auth": b64("inline:pw")}}})}
    assert listed(helper, env) == {"quay.io": "inline"}


def test_each_key_shows_the_username_get_returns(helper):
    assert helper.store("gcr.io", "stored", "s").returncode == 0
    assert helper.store("quay.io", "stored", "s").returncode == 0
    helper.write_docker_config({"auths": {"quay.io": {"auth": b64("config:pw")}, "ghcr.io": {"auth": b64("c:p")}}})
    env = {
        **env_entry("a", "gcr.io", username="env-a"),
        **env_entry("b", "https://gcr.io/v2/", username="env-b"),  # same key, loses the tie to suffix "a"
        "IMGPKG_ACTIVE_KEYCHAINS": "github",
        "GITHUB_TOKEN": "gh",
        "GITHUB_ACTOR": "octocat",
    }
    assert listed(helper, env) == {"gcr.io": "env-a", "quay.io": "stored", "ghcr.io": "octocat"}


def test_globals_show_on_every_key(helper):
    assert helper.store("quay.io", "stored", "s").returncode == 0
    env = {"IMGPKG_USERNAME": "global", "IMGPKG_PASSWORD": "g", **env_entry("", "gcr.io", username="env")}
    assert listed(helper, env) == {"quay.io": "global", "gcr.io": "env"}


def test_anon_hides_store_and_config_entries(helper):
    assert helper.store("quay.io", "stored", "s").returncode == 0
    helper.write_docker_config({"auths": {"ghcr.io": {"auth": b64("c:p")}}})
    env = {"IMGPKG_ANON": "true", **env_entry("", "gcr.io", username="env")}
    assert listed(helper, env) == {"gcr.io": "env"}


def test_env_entry_without_credentials_hides_store_entry(helper):
    assert helper.store("quay.io", "stored", "s").returncode == 0
    assert listed(helper, env_entry("", "quay.io")) == {}


def test_global_token_hides_keys_get_would_fail_for(helper):
    assert helper.store("quay.io", "stored", "s").returncode == 0
    assert helper.store(ACCESS_TOKEN, "hub", "at").returncode == 0
    # get quay.io fails (IMGPKG_TOKEN cannot travel); the token key skips the globals and is answered.
    assert listed(helper, {"IMGPKG_TOKEN": "t"}) == {ACCESS_TOKEN: "hub"}


def test_every_listed_key_is_answered_by_get_with_that_username(helper):
    assert helper.store("quay.io", "alice", "s").returncode == 0
    assert helper.store("docker.io", "hubuser", "s").returncode == 0
    assert helper.store(ACCESS_TOKEN, "hubuser", "at").returncode == 0
    assert helper.store("gcr.io/proj/img", "repo", "s").returncode == 0
    helper.write_docker_config({"auths": {"https://localhost:5000/v2/": {"auth": b64("local:p")}}})
    env = {**env_entry("", "MyReg.io:443", username="env"), **env_entry("x", "docker.io/ns", username="ns")}
    keys = listed(helper, env)
    assert len(keys) == 6
    for key, username in keys.items():
        got = answer(helper.get(key, env=env))
        assert (got["ServerURL"], got["Username"]) == (key, username)


@pytest.mark.parametrize(
    "env",
    [{"IMGPKG_REGISTRY_FOO": "x"}, {"IMGPKG_REGISTRY_HOSTNAME": "[gq]cr.io"}],
    ids=["unknown-variable", "bad-hostname"],
)
def test_configuration_error_fails_list_with_the_same_message(helper, env):
    assert helper.store("quay.io", "alice", "s").returncode == 0
    message = helper.get("quay.io", env=env).stdout
    assert_error(helper.list(env=env))
    assert helper.list(env=env).stdout == message


def test_unknown_keychain_fails_list(helper):
    assert_error(helper.list(env={"IMGPKG_ACTIVE_KEYCHAINS": "nope"}), "Unable to load keychain for nope")


def test_list_never_prints_secrets(helper):
    assert helper.store("quay.io", "alice", "SECRET-1").returncode == 0
    assert helper.store("ghcr.io", "<token>", "SECRET-2").returncode == 0
    helper.write_docker_config({"auths": {"b.io": {"auth": b64("bob:SECRET-3")}}})
    env = {**env_entry("", "gcr.io", username="env", password="SECRET-4", identity_token="SECRET-5")}
    result = helper.list(env={**env, "DOCKER_CREDENTIAL_IMGPKG_DEBUG": "1"})
    assert "SECRET" not in result.stdout + result.stderr
    assert json.loads(result.stdout) == {"quay.io": "alice", "ghcr.io": "<token>", "b.io": "bob", "gcr.io": "<token>"}


@pytest.mark.parametrize("server", ["https://", "/"])
def test_listed_keys_stay_answerable_after_a_hostless_store(helper, server):
    helper.run("store", stdin=json.dumps({"ServerURL": server, "Username": "u", "Secret": "s"}))
    for key in listed(helper):
        assert answer(helper.get(key))["Username"] == "u"
