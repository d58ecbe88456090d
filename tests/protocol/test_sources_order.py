"""Lookup order: env → keychains → globals → store → docker config. First match wins; later sources are not asked."""

from __future__ import annotations

import time

import pytest

from .support import (
    assert_creds,
    assert_error,
    assert_not_found,
    b64,
    calls,
    creds_json,
    fake_program,
    seed_store,
)

GHCR_ENV = {"IMGPKG_REGISTRY_HOSTNAME": "ghcr.io", "IMGPKG_REGISTRY_USERNAME": "env", "IMGPKG_REGISTRY_PASSWORD": "e"}
GITHUB = {"IMGPKG_ACTIVE_KEYCHAINS": "github", "GITHUB_TOKEN": "gh-token", "GITHUB_ACTOR": "octocat"}
GLOBALS = {"IMGPKG_USERNAME": "global", "IMGPKG_PASSWORD": "g"}


@pytest.fixture
def everywhere(helper):
    """ghcr.io credentials in the store and in config.json (and DOCKER_AUTH_CONFIG, via ``helper.env``)."""
    seed_store(helper, {"ghcr.io": ("stored", "s")})
    helper.write_docker_config({"auths": {"ghcr.io": {"auth": b64("config:c")}}})
    return helper


SOURCES = [
    ("env", GHCR_ENV, ("env", "e")),
    ("keychain", GITHUB, ("octocat", "gh-token")),
    ("globals", GLOBALS, ("global", "g")),
]


@pytest.mark.parametrize("upto", range(len(SOURCES) + 1))
def test_first_source_wins(everywhere, upto):
    # Enable every source from `upto` on: the first enabled one answers.
    env = {}
    for _, values, _ in SOURCES[upto:]:
        env.update(values)
    expected = SOURCES[upto][2] if upto < len(SOURCES) else ("stored", "s")
    assert_creds(everywhere.get("ghcr.io", env=env), "ghcr.io", *expected)


def test_store_beats_docker_config(helper):
    helper.write_docker_config({"auths": {"quay.io": {"auth": b64("config:c")}, "gcr.io": {"auth": b64("cfg2:c")}}})
    assert helper.store("quay.io", "stored", "s").returncode == 0
    assert_creds(helper.get("quay.io"), "quay.io", "stored", "s")
    assert_creds(helper.get("gcr.io"), "gcr.io", "cfg2", "c")


def test_store_host_entry_beats_docker_config_repository_entry(helper):
    # First source with any match wins, even if a later source has a more specific key.
    helper.write_docker_config({"auths": {"quay.io/ns/repo": {"auth": b64("config:c")}}})
    assert helper.store("quay.io", "stored", "s").returncode == 0
    assert_creds(helper.get("quay.io/ns/repo"), "quay.io/ns/repo", "stored", "s")


# --- a matching entry without credentials stops the lookup ---------------------------------------------------


@pytest.mark.parametrize(
    "env",
    [
        {"IMGPKG_REGISTRY_HOSTNAME": "ghcr.io"},
        {"IMGPKG_REGISTRY_HOSTNAME_0": "gh*.io"},
        {"IMGPKG_REGISTRY_HOSTNAME_x": "ghcr.io", "IMGPKG_REGISTRY_PASSWORD_x": "p"},  # lead: password alone
        {"IMGPKG_REGISTRY_HOSTNAME": "ghcr.io", "IMGPKG_REGISTRY_USERNAME": "", "IMGPKG_REGISTRY_PASSWORD": ""},
    ],
    ids=["hostname-only", "glob-only", "password-only", "empty-values"],
)
def test_matching_entry_without_credentials_stops_the_lookup(everywhere, env):
    assert_not_found(everywhere.get("ghcr.io", env={**env, **GITHUB, **GLOBALS}))
    # ...for the registries it matches only
    assert_creds(everywhere.get("quay.io", env={**env, **GLOBALS}), "quay.io", "global", "g")


def test_username_alone_gives_empty_secret(helper):
    env = {"IMGPKG_REGISTRY_HOSTNAME": "ghcr.io", "IMGPKG_REGISTRY_USERNAME": "u", **GLOBALS}
    assert_creds(helper.get("ghcr.io", env=env), "ghcr.io", "u", "")


# --- globals ----------------------------------------------------------------------------------------------------


def test_globals_answer_every_registry(helper):
    for request_ in ("quay.io", "gcr.io/p/i", "localhost:5000", "https://index.docker.io/v1/"):
        assert_creds(helper.get(request_, env=GLOBALS), request_, "global", "g")


def test_global_username_without_password(helper):
    assert_creds(helper.get("quay.io", env={"IMGPKG_USERNAME": "global"}), "quay.io", "global", "")


def test_global_password_without_username_is_ignored(everywhere):
    assert_creds(everywhere.get("ghcr.io", env={"IMGPKG_PASSWORD": "g"}), "ghcr.io", "stored", "s")


def test_global_token_is_a_clear_error(everywhere):
    out = assert_error(
        everywhere.get("ghcr.io", env={"IMGPKG_TOKEN": "bearer-secret"}), "IMGPKG_TOKEN", secrets=("bearer-secret",)
    )
    assert "IMGPKG_USERNAME" in out


def test_global_username_beats_token_and_anon(helper):
    env = {**GLOBALS, "IMGPKG_TOKEN": "t", "IMGPKG_ANON": "true"}
    assert_creds(helper.get("quay.io", env=env), "quay.io", "global", "g")


def test_global_token_beats_anon(helper):
    assert_error(helper.get("quay.io", env={"IMGPKG_TOKEN": "t", "IMGPKG_ANON": "true"}), "IMGPKG_TOKEN")


def test_env_beats_global_token(helper):
    assert_creds(helper.get("ghcr.io", env={**GHCR_ENV, "IMGPKG_TOKEN": "t"}), "ghcr.io", "env", "e")


def test_anon_skips_store_and_docker_config(everywhere):
    assert_not_found(everywhere.get("ghcr.io", env={"IMGPKG_ANON": "true"}))


def test_anon_does_not_affect_env_or_keychains(everywhere):
    assert_creds(everywhere.get("ghcr.io", env={**GHCR_ENV, "IMGPKG_ANON": "true"}), "ghcr.io", "env", "e")
    assert_creds(everywhere.get("ghcr.io", env={**GITHUB, "IMGPKG_ANON": "true"}), "ghcr.io", "octocat", "gh-token")


@pytest.mark.parametrize("value", ["TRUE", "True", "1", "yes", " true", "true ", "false", ""])
def test_anon_is_exactly_true(everywhere, value):
    assert_creds(everywhere.get("ghcr.io", env={"IMGPKG_ANON": value}), "ghcr.io", "stored", "s")


# --- github keychain -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("request_", ["ghcr.io", "ghcr.io/owner/repo", "https://ghcr.io/v2/", "GHCR.IO"])
def test_github_keychain_answers_ghcr(helper, request_):
    assert_creds(helper.get(request_, env=GITHUB), request_, "octocat", "gh-token")


def test_github_keychain_user_defaults_to_unset(helper):
    env = {"IMGPKG_ACTIVE_KEYCHAINS": "github", "GITHUB_TOKEN": "gh-token"}
    assert_creds(helper.get("ghcr.io", env=env), "ghcr.io", "unset", "gh-token")
    assert_creds(helper.get("ghcr.io", env={**env, "GITHUB_ACTOR": ""}), "ghcr.io", "unset", "gh-token")


@pytest.mark.parametrize(
    "request_", ["quay.io", "docker.pkg.github.com", "ghcr.io.evil.com", "ghcr.io:5000", "github.com"]
)
def test_github_keychain_answers_only_ghcr(helper, request_):
    assert_creds(helper.get(request_, env={**GITHUB, **GLOBALS}), request_, "global", "g")


def test_github_keychain_without_token_falls_through(everywhere):
    env = {"IMGPKG_ACTIVE_KEYCHAINS": "github", "GITHUB_ACTOR": "octocat"}
    assert_creds(everywhere.get("ghcr.io", env=env), "ghcr.io", "stored", "s")
    assert_creds(everywhere.get("ghcr.io", env={**env, "GITHUB_TOKEN": ""}), "ghcr.io", "stored", "s")


def test_github_token_unused_unless_keychain_active(everywhere):
    env = {"GITHUB_TOKEN": "gh-token", "GITHUB_ACTOR": "octocat"}
    assert_creds(everywhere.get("ghcr.io", env=env), "ghcr.io", "stored", "s")


@pytest.mark.parametrize("value", ["true", "TRUE", "True", "tRuE"])
def test_enable_iaas_auth_activates_all_keychains(helper, value):
    env = {"IMGPKG_ENABLE_IAAS_AUTH": value, "GITHUB_TOKEN": "gh-token", "GITHUB_ACTOR": "octocat"}
    assert_creds(helper.get("ghcr.io", env=env), "ghcr.io", "octocat", "gh-token")


@pytest.mark.parametrize("value", ["1", "yes", "false", "", " true"])
def test_enable_iaas_auth_other_values_do_nothing(everywhere, value):
    env = {"IMGPKG_ENABLE_IAAS_AUTH": value, "GITHUB_TOKEN": "gh-token", "GITHUB_ACTOR": "octocat"}
    assert_creds(everywhere.get("ghcr.io", env=env), "ghcr.io", "stored", "s")


def test_enable_iaas_auth_ignores_active_keychains(helper):
    env = {"IMGPKG_ENABLE_IAAS_AUTH": "true", "IMGPKG_ACTIVE_KEYCHAINS": "bogus", "GITHUB_TOKEN": "t"}
    assert_creds(helper.get("ghcr.io", env=env), "ghcr.io", "unset", "t")


@pytest.mark.parametrize("value", [",github", "github,", " github , ", ",,github,,", "gke,,github"])
def test_active_keychains_empty_items_ignored(helper, value):
    env = {**GITHUB, "IMGPKG_ACTIVE_KEYCHAINS": value}
    assert_creds(helper.get("ghcr.io", env=env), "ghcr.io", "octocat", "gh-token")


@pytest.mark.parametrize(
    ("value", "name"),
    [("gke,random-name", "random-name"), ("GitHub", "GitHub"), ("github,acr", "acr"), ("iaas", "iaas")],
)
def test_unknown_keychain_fails_with_imgpkgs_message(everywhere, value, name):
    result = everywhere.get("ghcr.io", env={"IMGPKG_ACTIVE_KEYCHAINS": value})
    assert (result.returncode, result.stdout) == (
        1,
        f"Unable to load keychain for {name}, available keychains [aks, ecr, gke, github]\n",
    )


@pytest.mark.parametrize("value", ["", ",", " , "])
def test_empty_active_keychains(everywhere, value):
    assert_creds(everywhere.get("ghcr.io", env={"IMGPKG_ACTIVE_KEYCHAINS": value}), "ghcr.io", "stored", "s")


# --- delegated keychains ----------------------------------------------------------------------------------------

DELEGATES = {"gke": "docker-credential-gcr", "ecr": "docker-credential-ecr-login", "aks": "docker-credential-acr-env"}
PROVIDER_HOSTS = {
    "gke": ["gcr.io", "us.gcr.io", "eu.gcr.io", "europe-west1-docker.pkg.dev", "us-docker.pkg.dev"],
    "ecr": ["123456789012.dkr.ecr.us-east-1.amazonaws.com", "public.ecr.aws"],
    "aks": ["myregistry.azurecr.io"],
}
FOREIGN_HOSTS = {
    "gke": ["ghcr.io", "quay.io", "gcr.io.evil.com", "evilgcr.io", "pkg.dev.evil.com", "notgcr.io"],
    "ecr": ["dkr.ecr.us-east-1.amazonaws.com.evil.io", "ecr.aws", "quay.io", "evil.public.ecr.aws.io"],
    "aks": ["azurecr.io.evil.com", "quay.io", "myazurecr.io"],
}


@pytest.fixture
def bindir(helper, tmp_path):
    directory = tmp_path / "bin"
    directory.mkdir()
    helper.env["PATH"] = str(directory)  # nothing else: no real cloud helper can sneak in
    return directory


def _delegate_cases(table):
    return [(name, host) for name, hosts in table.items() for host in hosts]


@pytest.mark.parametrize(("keychain", "host"), _delegate_cases(PROVIDER_HOSTS))
def test_delegated_keychain_called_for_its_hosts_with_host_on_stdin(helper, bindir, keychain, host):
    log = fake_program(bindir, DELEGATES[keychain], reply=creds_json("cloud-user", "cloud-token"))
    request_ = f"{host}/proj/img"
    assert_creds(helper.get(request_, env={"IMGPKG_ACTIVE_KEYCHAINS": keychain}), request_, "cloud-user", "cloud-token")
    assert calls(log) == [{"argv": ["get"], "stdin": host}]


@pytest.mark.parametrize(("keychain", "host"), _delegate_cases(FOREIGN_HOSTS))
def test_delegated_keychain_never_called_for_other_hosts(helper, bindir, keychain, host):
    log = fake_program(bindir, DELEGATES[keychain], reply=creds_json("cloud-user", "cloud-token"))
    env = {"IMGPKG_ACTIVE_KEYCHAINS": keychain, **GLOBALS}
    assert_creds(helper.get(host, env=env), host, "global", "g")
    assert calls(log) == []


def test_iaas_order_is_gke_ecr_aks_github(helper, bindir):
    logs = {name: fake_program(bindir, prog, reply=creds_json(name, "t")) for name, prog in DELEGATES.items()}
    env = {"IMGPKG_ENABLE_IAAS_AUTH": "true", "GITHUB_TOKEN": "gh"}
    for host, name in (("gcr.io", "gke"), ("public.ecr.aws", "ecr"), ("r.azurecr.io", "aks"), ("ghcr.io", "unset")):
        assert_creds(helper.get(host, env=env), host, name, "t" if name != "unset" else "gh")
    assert [len(calls(log)) for log in logs.values()] == [1, 1, 1]


def test_env_entry_beats_delegated_keychain(helper, bindir):
    log = fake_program(bindir, "docker-credential-gcr", reply=creds_json("cloud-user", "cloud-token"))
    env = {"IMGPKG_ACTIVE_KEYCHAINS": "gke", "IMGPKG_REGISTRY_HOSTNAME": "gcr.io", "IMGPKG_REGISTRY_USERNAME": "env"}
    assert_creds(helper.get("gcr.io", env=env), "gcr.io", "env", "")
    assert calls(log) == []


def test_delegated_keychain_beats_globals(helper, bindir):
    fake_program(bindir, "docker-credential-gcr", reply=creds_json("cloud-user", "cloud-token"))
    env = {"IMGPKG_ACTIVE_KEYCHAINS": "gke", **GLOBALS}
    assert_creds(helper.get("gcr.io", env=env), "gcr.io", "cloud-user", "cloud-token")


def test_missing_delegate_is_a_note_on_stderr_and_falls_through(helper, bindir):
    seed_store(helper, {"gcr.io": ("stored", "s")})
    result = helper.get("gcr.io", env={"IMGPKG_ACTIVE_KEYCHAINS": "gke"})
    assert_creds(result, "gcr.io", "stored", "s")
    assert "docker-credential-gcr" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("reply", "code"),
    [
        ("credentials not found in native keychain\n", 1),
        (creds_json("", ""), 0),
    ],
    ids=["not-found", "empty"],
)
def test_delegate_without_credentials_falls_through(helper, bindir, reply, code):
    fake_program(bindir, "docker-credential-gcr", reply=reply, code=code)
    seed_store(helper, {"gcr.io": ("stored", "s")})
    assert_creds(helper.get("gcr.io", env={"IMGPKG_ACTIVE_KEYCHAINS": "gke"}), "gcr.io", "stored", "s")


def test_delegate_failure_is_a_clear_error(helper, bindir):
    fake_program(bindir, "docker-credential-gcr", reply="could not retrieve GCR's access token\n", code=1)
    assert_error(helper.get("gcr.io", env={"IMGPKG_ACTIVE_KEYCHAINS": "gke"}), "docker-credential-gcr")


def test_delegate_garbage_answer_is_a_clear_error(helper, bindir):
    fake_program(bindir, "docker-credential-gcr", reply="not json secret-ish\n")
    assert_error(
        helper.get("gcr.io", env={"IMGPKG_ACTIVE_KEYCHAINS": "gke"}), "docker-credential-gcr", secrets=("secret-ish",)
    )


def test_hung_delegate_is_cut_off(helper, bindir):
    fake_program(bindir, "docker-credential-gcr", reply=creds_json("late", "late"), sleep=30)
    start = time.monotonic()
    result = helper.get("gcr.io", env={"IMGPKG_ACTIVE_KEYCHAINS": "gke", "DOCKER_CREDENTIAL_IMGPKG_TIMEOUT": "1"})
    elapsed = time.monotonic() - start
    out = assert_error(result, "docker-credential-gcr")
    assert "1" in out and ("time" in out or "answer" in out), out
    assert elapsed < 8, elapsed
