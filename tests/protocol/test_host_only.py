"""Path-scoped env entries and clients that send only the host (docker, skopeo, podman, buildah).

A request with a repository path follows imgpkg's rules unchanged; a host-only request that no host-level entry
answers is answered by the host's path-scoped entries when they all carry the same credentials, and by none of
them when they differ (the trace says why).
"""

from __future__ import annotations

import pytest

from .support import assert_creds, assert_not_found, b64, seed_store


def scoped(*entries: tuple[str, str, str], base: int = 1) -> dict[str, str]:
    env = {}
    for n, (hostname, user, password) in enumerate(entries, start=base):
        env |= {
            f"IMGPKG_REGISTRY_HOSTNAME_{n}": hostname,
            f"IMGPKG_REGISTRY_USERNAME_{n}": user,
            f"IMGPKG_REGISTRY_PASSWORD_{n}": password,
        }
    return env


DEBUG = {"DOCKER_CREDENTIAL_IMGPKG_DEBUG": "1"}


@pytest.mark.parametrize("address", ["reg.example.com", "https://reg.example.com", "https://reg.example.com/v2/"])
def test_one_scoped_entry_answers_the_host(helper, address):
    env = scoped(("reg.example.com/team", "robot", "pw"))
    assert_creds(helper.get(address, env=env), address, "robot", "pw")


def test_scoped_entries_with_the_same_credentials_answer_the_host(helper):
    env = scoped(("reg.example.com/team", "robot", "pw"), ("reg.example.com/other/app", "robot", "pw"))
    result = helper.get("reg.example.com", env=env | DEBUG)
    assert_creds(result, "reg.example.com", "robot", "pw")
    assert "sent only the host" in result.stderr
    assert "IMGPKG_REGISTRY_HOSTNAME_1=reg.example.com/team" in result.stderr
    assert "IMGPKG_REGISTRY_HOSTNAME_2=reg.example.com/other/app" in result.stderr


def test_scoped_entries_with_different_credentials_answer_nothing(helper):
    env = scoped(("reg.example.com/team", "robot", "pw"), ("reg.example.com/other", "robot", "other-pw"))
    result = helper.get("reg.example.com", env=env | DEBUG)
    assert_not_found(result)
    assert "carry different credentials" in result.stderr
    assert "IMGPKG_REGISTRY_HOSTNAME_1=reg.example.com/team" in result.stderr
    assert "IMGPKG_REGISTRY_HOSTNAME_2=reg.example.com/other" in result.stderr
    assert "pw" not in result.stderr.replace("different credentials", "")


def test_different_credentials_leave_the_host_to_later_sources(helper):
    env = scoped(("reg.example.com/team", "robot", "pw"), ("reg.example.com/other", "robot", "other-pw"))
    seed_store(helper, {"reg.example.com": ("stored", "s")})
    assert_creds(helper.get("reg.example.com", env=env), "reg.example.com", "stored", "s")


def test_a_host_level_entry_wins_over_scoped_ones(helper):
    env = scoped(("reg.example.com/team", "robot", "pw"), ("reg.example.com", "hostuser", "hp"))
    assert_creds(helper.get("reg.example.com", env=env), "reg.example.com", "hostuser", "hp")


def test_repository_requests_keep_imgpkgs_rules(helper):
    env = scoped(("reg.example.com/team", "robot", "pw"))
    assert_creds(helper.get("reg.example.com/team/app", env=env), "reg.example.com/team/app", "robot", "pw")
    result = helper.get("reg.example.com/elsewhere/app", env=env | DEBUG)
    assert_not_found(result)
    assert "scoped to the repository path /team" in result.stderr


@pytest.mark.parametrize(
    ("hostname", "address"),
    [
        ("reg.example.com:5000/team", "reg.example.com"),  # another port
        ("reg.example.com/team", "reg.example.com:5000"),
        ("other.example.com/team", "reg.example.com"),  # another host
        ("*.example.com/team", "a.b.example.com"),  # a glob matches one label per label
    ],
)
def test_scoped_entries_of_other_hosts_or_ports_do_not_answer(helper, hostname, address):
    assert_not_found(helper.get(address, env=scoped((hostname, "robot", "pw"))))


def test_glob_scoped_entries_answer_matching_hosts(helper):
    env = scoped(("*.example.com/team", "robot", "pw"))
    assert_creds(helper.get("reg.example.com", env=env), "reg.example.com", "robot", "pw")


def test_an_anonymous_scoped_entry_is_not_the_same_credentials(helper):
    env = scoped(("reg.example.com/team", "robot", "pw")) | {"IMGPKG_REGISTRY_HOSTNAME_9": "reg.example.com/pub"}
    assert_not_found(helper.get("reg.example.com", env=env))


def test_docker_hub_scoped_entries_answer_dockers_hub_key(helper):
    env = scoped(("docker.io/myorg", "hubuser", "hp"), ("index.docker.io/myorg/app", "hubuser", "hp"))
    for address in ("https://index.docker.io/v1/", "docker.io"):
        assert_creds(helper.get(address, env=env), address, "hubuser", "hp")
    # docker's web-login keys are never answered from the env
    assert_not_found(helper.get("https://index.docker.io/v1/access-token", env=env))


def test_store_and_config_keep_their_namespaced_fallback(helper):
    seed_store(helper, {"quay.io/ns/a": ("first", "1"), "quay.io/ns/b": ("second", "2")})
    assert_creds(helper.get("quay.io"), "quay.io", "first", "1")
    helper.write_docker_config({"auths": {"ghcr.io/org/x": {"auth": b64("cfg:c")}}})
    assert_creds(helper.get("ghcr.io"), "ghcr.io", "cfg", "c")
