"""Docker Hub is one registry whatever the spelling; its web-login token keys are separate, verbatim entries."""

from __future__ import annotations

import json

import pytest

from .support import (
    ACCESS_TOKEN,
    HUB,
    REFRESH_TOKEN,
    assert_creds,
    assert_not_found,
    assert_silent_success,
    b64,
    read_store,
    seed_store,
)

HUB_SPELLINGS = [
    "https://index.docker.io/v1/",
    "docker.io",
    "index.docker.io",
    "registry-1.docker.io",
    "https://index.docker.io",
    "https://registry-1.docker.io/v2/",
    "Docker.IO",
]
HUB_REQUESTS = [
    *HUB_SPELLINGS,
    "docker.io/library/ubuntu",
    "index.docker.io/library/ubuntu",  # crane's first try for `ubuntu`
    "registry-1.docker.io/library/ubuntu",
    "docker.io/ubuntu",
    "docker.io/myorg/app",
]
# Single-name Hub repositories are `library/<name>`: these all name one repository.
UBUNTU = [
    "docker.io/ubuntu",
    "docker.io/library/ubuntu",
    "index.docker.io/library/ubuntu",
    "registry-1.docker.io/library/ubuntu",
    "https://index.docker.io/v1/library/ubuntu",
]


def env_for(hostname: str, user: str = "hub") -> dict[str, str]:
    return {"IMGPKG_REGISTRY_HOSTNAME": hostname, "IMGPKG_REGISTRY_USERNAME": user, "IMGPKG_REGISTRY_PASSWORD": "pw"}


def env_for_suffix(suffix: str, hostname: str, user: str) -> dict[str, str]:
    return {f"{name}_{suffix}": value for name, value in env_for(hostname, user).items()}


@pytest.mark.parametrize("hostname", HUB_SPELLINGS)
@pytest.mark.parametrize("request_", [HUB, "docker.io", "registry-1.docker.io/library/ubuntu", "docker.io/ubuntu"])
def test_env_hub_spellings_answer_hub_requests(helper, hostname, request_):
    assert_creds(helper.get(request_, env=env_for(hostname)), request_, "hub", "pw")


@pytest.mark.parametrize("request_", HUB_REQUESTS)
def test_every_hub_request_spelling_is_hub(helper, request_):
    assert_creds(helper.get(request_, env=env_for("docker.io")), request_, "hub", "pw")


@pytest.mark.parametrize("request_", ["docker.io.evil.com", "docker.io:5000", "mydocker.io", "quay.io/library/x"])
def test_hub_aliases_do_not_leak_to_other_hosts(helper, request_):
    assert_not_found(helper.get(request_, env=env_for("docker.io")))


@pytest.mark.parametrize("request_", UBUNTU)
def test_env_library_path_matches_every_spelling_of_the_repository(helper, request_):
    env = {**env_for("docker.io/library/ubuntu", "ubuntu-user"), **env_for_suffix("0", "docker.io", "hub-user")}
    assert_creds(helper.get(request_, env=env), request_, "ubuntu-user", "pw")


@pytest.mark.parametrize("request_", UBUNTU)
def test_env_single_name_hub_repository_is_library(helper, request_):
    env = {**env_for("docker.io/ubuntu", "ubuntu-user"), **env_for_suffix("0", "docker.io", "hub-user")}
    assert_creds(helper.get(request_, env=env), request_, "ubuntu-user", "pw")


def test_env_hub_namespace_path_matches_only_that_namespace(helper):
    env = {**env_for("docker.io/myorg", "org-user"), **env_for_suffix("0", "registry-1.docker.io", "hub-user")}
    assert_creds(helper.get("index.docker.io/myorg/app", env=env), "index.docker.io/myorg/app", "org-user", "pw")
    assert_creds(helper.get("docker.io/myorg/app", env=env), "docker.io/myorg/app", "org-user", "pw")
    assert_creds(helper.get("docker.io/otherorg/app", env=env), "docker.io/otherorg/app", "hub-user", "pw")
    assert_creds(helper.get(HUB, env=env), HUB, "hub-user", "pw")


@pytest.mark.parametrize("spelling", HUB_SPELLINGS)
def test_store_folds_every_hub_spelling_into_one_key(helper, spelling):
    assert helper.store(spelling, "alice", "s3").returncode == 0
    assert list(read_store(helper)["auths"]) == [HUB]
    for request_ in (HUB, "docker.io", "registry-1.docker.io", "index.docker.io/library/ubuntu"):
        assert_creds(helper.get(request_), request_, "alice", "s3")


@pytest.mark.parametrize("spelling", HUB_SPELLINGS)
def test_erase_with_any_hub_spelling_removes_the_hub_entry(helper, spelling):
    seed_store(helper, {HUB: ("alice", "s3")})
    assert_silent_success(helper.erase(spelling))
    assert read_store(helper)["auths"] == {}


def test_store_single_name_repository_is_library(helper):
    assert helper.store("docker.io/ubuntu", "ubuntu-user", "s").returncode == 0
    assert list(read_store(helper)["auths"]) == ["index.docker.io/library/ubuntu"]
    for request_ in UBUNTU:
        assert_creds(helper.get(request_), request_, "ubuntu-user", "s")
    assert_silent_success(helper.erase("index.docker.io/library/ubuntu"))
    assert read_store(helper)["auths"] == {}


@pytest.mark.parametrize("key", ["https://index.docker.io/v1/", "docker.io", "index.docker.io", "registry-1.docker.io"])
@pytest.mark.parametrize("request_", ["https://index.docker.io/v1/", "docker.io", "index.docker.io/library/ubuntu"])
def test_docker_config_hub_keys_are_aliases(helper, key, request_):
    helper.write_docker_config({"auths": {key: {"auth": b64("cfg:pw")}}})
    assert_creds(helper.get(request_), request_, "cfg", "pw")


# --- docker's web-login keys ------------------------------------------------------------------------------


@pytest.mark.parametrize("token_key", [ACCESS_TOKEN, REFRESH_TOKEN])
def test_token_keys_are_separate_verbatim_store_entries(helper, token_key):
    assert helper.store(HUB, "alice", "password").returncode == 0
    assert helper.store(token_key, "alice", "tok..client").returncode == 0
    assert read_store(helper)["auths"].keys() == {HUB, token_key}
    assert_creds(helper.get(token_key), token_key, "alice", "tok..client")
    assert_creds(helper.get(HUB), HUB, "alice", "password")
    assert_creds(helper.get("docker.io"), "docker.io", "alice", "password")
    # erasing one never touches the other
    assert_silent_success(helper.erase(HUB))
    assert_creds(helper.get(token_key), token_key, "alice", "tok..client")
    assert_not_found(helper.get(HUB))
    assert_silent_success(helper.erase(token_key))
    assert read_store(helper)["auths"] == {}


@pytest.mark.parametrize("token_key", [ACCESS_TOKEN, REFRESH_TOKEN])
def test_hub_entry_never_answers_a_token_key(helper, token_key):
    assert helper.store(HUB, "alice", "password").returncode == 0
    assert_not_found(helper.get(token_key))
    helper.write_docker_config({"auths": {HUB: {"auth": b64("cfg:pw")}}})
    assert_not_found(helper.get(token_key))


@pytest.mark.parametrize("token_key", [ACCESS_TOKEN, REFRESH_TOKEN])
def test_token_key_answered_by_docker_config_verbatim(helper, token_key):
    helper.write_docker_config({"auths": {token_key: {"auth": b64("cfg:tok")}, HUB: {"auth": b64("cfg:pw")}}})
    assert_creds(helper.get(token_key), token_key, "cfg", "tok")
    assert_creds(helper.get(HUB), HUB, "cfg", "pw")


TOKEN_KEY_ENVS = {
    "index": env_for("index.docker.io"),
    "glob": env_for("*.docker.io"),
    "hub-key": env_for(HUB),
    "access-token-key": env_for(ACCESS_TOKEN),
    "access-token-path": env_for("index.docker.io/v1/access-token"),
    "globals": {"IMGPKG_USERNAME": "global", "IMGPKG_PASSWORD": "pw"},
    "token": {"IMGPKG_TOKEN": "bearer"},
    "bogus": {"IMGPKG_REGISTRY_BOGUS": "1"},  # lead's decision: no env configuration error for these keys
    "keychain": {"IMGPKG_ACTIVE_KEYCHAINS": "nope"},
    "iaas": {"IMGPKG_ENABLE_IAAS_AUTH": "true", "GITHUB_TOKEN": "t"},
}


@pytest.mark.parametrize("env", TOKEN_KEY_ENVS.values(), ids=TOKEN_KEY_ENVS.keys())
def test_env_keychains_and_globals_never_answer_token_keys(helper, env):
    for token_key in (ACCESS_TOKEN, REFRESH_TOKEN):
        assert_not_found(helper.get(token_key, env=env))
    seed_store(helper, {ACCESS_TOKEN: ("alice", "at"), REFRESH_TOKEN: ("alice", "rt")})
    assert_creds(helper.get(ACCESS_TOKEN, env=env), ACCESS_TOKEN, "alice", "at")
    assert_creds(helper.get(REFRESH_TOKEN, env=env), REFRESH_TOKEN, "alice", "rt")


def test_anon_does_not_hide_stored_token_keys(helper):
    # IMGPKG_ANON belongs to the globals, which these keys skip entirely (lead's decision).
    seed_store(helper, {ACCESS_TOKEN: ("alice", "tok")})
    assert_creds(helper.get(ACCESS_TOKEN, env={"IMGPKG_ANON": "true"}), ACCESS_TOKEN, "alice", "tok")


def test_list_shows_hub_and_token_keys(helper):
    for key, user in ((HUB, "alice"), (ACCESS_TOKEN, "alice-at"), (REFRESH_TOKEN, "alice-rt")):
        assert helper.store(key, user, "s").returncode == 0
    assert json.loads(helper.list().stdout) == {HUB: "alice", ACCESS_TOKEN: "alice-at", REFRESH_TOKEN: "alice-rt"}


@pytest.mark.parametrize(
    "spelling", ["docker.io", "registry-1.docker.io", "index.docker.io", HUB, "https://registry-1.docker.io/v2/"]
)
def test_list_shows_env_hub_entry_as_the_hub_key(helper, spelling):
    assert json.loads(helper.list(env=env_for(spelling)).stdout) == {HUB: "hub"}
