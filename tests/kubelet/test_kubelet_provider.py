"""``docker-credential-imgpkg kubelet``: the kubelet's image credential provider protocol, through the real program.

A request in, a response out, every rule of issue 10; tests/kubelet/test_kubelet_harness.py runs the same
program through the kubelet's own code.
"""

from __future__ import annotations

import json

import pytest

from .provider_support import (
    CACHE_VAR,
    V1,
    V1BETA1,
    answer,
    ask,
    assert_failure,
    auth,
    b64,
    creds_json,
    env_entry,
    fake_program,
    request,
    response,
    seed_store,
)

REG = env_entry("reg.example.com:5000", "ci", "reg-secret")
TEAM = env_entry("reg.example.com:5000/team", "team-robot", "team-secret", "1")
GLOB = env_entry("*.corp.example", "corp", "corp-secret", "2")
HUB = env_entry("docker.io", "hubuser", "hub-secret", "3")
SECRETS = ("reg-secret", "team-secret", "corp-secret", "hub-secret")


# --- the request ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", [V1, V1BETA1])
def test_answers_in_the_requests_api_version(helper, version):
    result = ask(helper, "reg.example.com:5000/team/app:1", env=REG, version=version)
    assert auth(result, version) == {"reg.example.com:5000": ("ci", "reg-secret")}
    assert result.stderr == ""


def test_service_account_fields_accepted_and_ignored(helper):
    extra = {"serviceAccountToken": "SA-TOKEN-xyz", "serviceAccountAnnotations": {"a.example/role": "puller"}}
    result = ask(helper, "reg.example.com:5000/app", env=REG, **extra)
    assert auth(result) == {"reg.example.com:5000": ("ci", "reg-secret")}
    assert "SA-TOKEN-xyz" not in result.stdout + result.stderr


def test_unknown_request_fields_are_ignored(helper):
    result = ask(helper, "reg.example.com:5000/app", env=REG, somethingNew=True)
    assert auth(result) == {"reg.example.com:5000": ("ci", "reg-secret")}


@pytest.mark.parametrize(
    ("stdin", "fragment"),
    [
        ("", "empty standard input"),
        ("   \n", "empty standard input"),
        ("not json", "not valid JSON"),
        ('{"apiVersion": ', "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ('"reg.example.com/app"', "JSON object"),
        (json.dumps({"apiVersion": V1, "image": "r.example.com/a"}), "kind is missing"),
        (json.dumps({"apiVersion": V1, "kind": "CredentialProviderResponse", "image": "r.example.com/a"}), "kind"),
        (json.dumps({"kind": "CredentialProviderRequest", "image": "r.example.com/a"}), "apiVersion is missing"),
        (request("r.example.com/a", "credentialprovider.kubelet.k8s.io/v1alpha1"), "v1alpha1"),
        (request("r.example.com/a", "v1"), "apiVersion"),
        (request("r.example.com/a", "credentialprovider.kubelet.k8s.io/v2"), "apiVersion"),
        (json.dumps({"apiVersion": V1, "kind": "CredentialProviderRequest"}), "no image"),
        (request(""), "no image"),
        (json.dumps({"apiVersion": V1, "kind": "CredentialProviderRequest", "image": 5}), "must be a string"),
        (json.dumps({"apiVersion": V1, "kind": "CredentialProviderRequest", "image": None}), "no image"),
        (request("reg.example.com/team app"), "not an image reference"),
        (request("reg.example.com/app\nx"), "not an image reference"),
        (request("reg.example.com//app"), "not an image reference"),
        (request("/app"), "not an image reference"),
        (request("reg.example.com/app@"), "empty digest"),
        (request("https://reg.example.com/app"), "not an image reference"),
    ],
)
def test_bad_requests_fail_with_one_line_on_stderr_and_nothing_on_stdout(helper, stdin, fragment):
    assert_failure(helper.run("kubelet", stdin=stdin, env=REG), "docker-credential-imgpkg kubelet: ", fragment)


def test_duplicate_keys_are_refused(helper):
    stdin = request("a.example/x")[:-1] + ', "image": "b.example/y"}'
    assert_failure(helper.run("kubelet", stdin=stdin), "twice")


def test_oversized_request_is_refused(helper):
    huge = request("reg.example.com:5000/app", padding="x" * (2 << 20))
    assert_failure(helper.run("kubelet", stdin=huge, env=REG), "larger than 1 MiB")


def test_stray_argument_is_a_usage_error(helper):
    assert_failure(helper.run("kubelet", "get", stdin=request("reg.example.com:5000/app")), "Usage", status=2)


def test_help(helper):
    result = helper.run("kubelet", "--help")
    assert result.returncode == 0 and "CredentialProviderRequest" in result.stdout


def test_kubelet_verb_is_in_the_main_help(helper):
    assert "kubelet" in helper.run("--help").stdout


# --- image references -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "image",
    [
        "reg.example.com:5000/team/app",
        "reg.example.com:5000/team/app:1",
        "reg.example.com:5000/team/app@sha256:" + "a" * 64,
        "reg.example.com:5000/team/app:1@sha256:" + "a" * 64,
        "reg.example.com:5000/team/sub/app:v1.2-rc",
    ],
)
def test_tag_and_digest_are_stripped_and_the_repository_looked_up(helper, image):
    result = ask(helper, image, env={**REG, **TEAM})
    assert auth(result) == {"reg.example.com:5000/team": ("team-robot", "team-secret")}


@pytest.mark.parametrize(
    "image", ["nginx", "nginx:1.27", "library/nginx", "docker.io/nginx", "docker.io/library/nginx@sha256:" + "b" * 64]
)
def test_docker_hub_names(helper, image):
    result = ask(helper, image, env=HUB)
    assert list(auth(result).values()) == [("hubuser", "hub-secret")]


def test_docker_hub_key_is_docker_io_for_the_kubelets_spelling(helper):
    result = ask(helper, "docker.io/library/nginx", env=HUB)
    assert response(result) == answer("docker.io", "hubuser", "hub-secret", "Registry")


def test_docker_hub_namespace_is_not_a_registry(helper):
    # "team/app" is docker.io/team/app: the first component is a registry only with "." or ":" or "localhost".
    env = {**HUB, **env_entry("team", "wrong", "w", "9")}
    assert list(auth(ask(helper, "team/app", env=env)).values()) == [("hubuser", "hub-secret")]


@pytest.mark.parametrize(
    ("image", "host"),
    [
        ("localhost/app", "localhost"),
        ("localhost:5000/app", "localhost:5000"),
        ("127.0.0.1:5000/team/app", "127.0.0.1:5000"),
        ("registry.local/app:1", "registry.local"),
    ],
)
def test_registry_part(helper, image, host):
    result = ask(helper, image, env=env_entry(host, "u", "p"))
    assert auth(result) == {host: ("u", "p")}


def test_single_name_with_port_like_tag_is_a_docker_hub_image(helper):
    # "localhost:5000" alone is the Hub image library/localhost, tag 5000 (the reference grammar).
    env = {**HUB, **env_entry("localhost:5000", "local", "l", "8")}
    assert list(auth(ask(helper, "localhost:5000", env=env)).values()) == [("hubuser", "hub-secret")]


# --- the answer: key, cacheKeyType, cacheDuration ---------------------------------------------------------------


def test_registry_entry_keyed_by_registry_and_cached_per_registry(helper):
    result = ask(helper, "reg.example.com:5000/other/app", env=REG)
    assert response(result) == answer("reg.example.com:5000", "ci", "reg-secret", "Registry")


def test_path_scoped_entry_keyed_by_its_path_and_cached_per_image(helper):
    result = ask(helper, "reg.example.com:5000/team/app", env={**REG, **TEAM})
    obj = response(result)
    assert obj["cacheKeyType"] == "Image"
    assert obj["auth"] == {"reg.example.com:5000/team": {"username": "team-robot", "password": "team-secret"}}


def test_path_scoped_entry_does_not_answer_another_repository(helper):
    assert auth(ask(helper, "reg.example.com:5000/teamx/app", env=TEAM)) == {}
    assert auth(ask(helper, "reg.example.com:5000/other/app", env=TEAM)) == {}


def test_registry_answer_is_per_image_when_a_repository_of_that_registry_has_its_own_entry(helper):
    # Cached per registry, this answer would be served for reg.example.com:5000/team/app too (the kubelet looks
    # its cache up by image, then by registry) and hide the team's own credentials.
    obj = response(ask(helper, "reg.example.com:5000/other/app", env={**REG, **TEAM}))
    assert obj["auth"] == {"reg.example.com:5000": {"username": "ci", "password": "reg-secret"}}
    assert obj["cacheKeyType"] == "Image"


@pytest.mark.parametrize("where", ["store", "docker config"])
def test_repository_entries_of_later_sources_also_make_the_registry_answer_per_image(helper, where):
    if where == "store":
        seed_store(helper, {"reg.example.com:5000/ns": ("stored", "s")})
    else:
        helper.write_docker_config({"auths": {"reg.example.com:5000/ns": {"auth": b64("cfg:c")}}})
    assert response(ask(helper, "reg.example.com:5000/other/app", env=REG))["cacheKeyType"] == "Image"


def test_repository_entries_of_other_registries_do_not_matter(helper):
    env = {**REG, **env_entry("elsewhere.example/team", "x", "y", "7")}
    assert response(ask(helper, "reg.example.com:5000/other/app", env=env))["cacheKeyType"] == "Registry"


def test_glob_entry_keyed_as_written(helper):
    result = ask(helper, "a.corp.example/team/app", env=GLOB)
    obj = response(result)
    assert obj["auth"] == {"*.corp.example": {"username": "corp", "password": "corp-secret"}}
    assert obj["cacheKeyType"] == "Registry"


def test_glob_matches_one_label(helper):
    assert auth(ask(helper, "b.a.corp.example/app", env=GLOB)) == {}
    assert auth(ask(helper, "corp.example/app", env=GLOB)) == {}


def test_hub_single_name_entry_is_keyed_so_the_kubelet_applies_it(helper):
    # imgpkg applies docker.io/ubuntu to the official image library/ubuntu; the kubelet would not apply a key
    # "docker.io/ubuntu" to docker.io/library/ubuntu, so the answer is keyed by the repository itself.
    env = env_entry("docker.io/ubuntu", "ubu", "ubu-secret")
    obj = response(ask(helper, "docker.io/library/ubuntu", env=env))
    assert obj["auth"] == {"docker.io/library/ubuntu": {"username": "ubu", "password": "ubu-secret"}}
    assert obj["cacheKeyType"] == "Image"


def test_store_entries(helper):
    seed_store(helper, {"quay.io": ("stored", "s1"), "quay.io/ns": ("nsuser", "s2")})
    obj = response(ask(helper, "quay.io/ns/app:1"))
    assert (obj["auth"], obj["cacheKeyType"]) == ({"quay.io/ns": {"username": "nsuser", "password": "s2"}}, "Image")
    obj = response(ask(helper, "quay.io/other/app"))
    assert (obj["auth"], obj["cacheKeyType"]) == ({"quay.io": {"username": "stored", "password": "s1"}}, "Image")


def test_store_hub_entry_answers_hub_images(helper):
    seed_store(helper, {"https://index.docker.io/v1/": ("hubstored", "s")})
    obj = response(ask(helper, "docker.io/library/nginx"))
    assert (obj["auth"], obj["cacheKeyType"]) == ({"docker.io": {"username": "hubstored", "password": "s"}}, "Registry")


def test_docker_config_entries(helper):
    helper.write_docker_config({"auths": {"https://ghcr.io/v2/": {"auth": b64("cfg:c")}}})
    assert auth(ask(helper, "ghcr.io/org/app")) == {"ghcr.io": ("cfg", "c")}


def test_global_credentials_keyed_by_the_repository_asked(helper):
    env = {"IMGPKG_USERNAME": "global", "IMGPKG_PASSWORD": "g-secret"}
    obj = response(ask(helper, "any.example/ns/app", env=env))
    assert obj["auth"] == {"any.example/ns/app": {"username": "global", "password": "g-secret"}}
    assert obj["cacheKeyType"] == "Image"


@pytest.mark.parametrize("value", ["5m", "1h30m", "0s", "0", "90s", "1.5h", "300ms"])
def test_cache_duration_from_the_environment(helper, value):
    obj = response(ask(helper, "reg.example.com:5000/app", env={**REG, CACHE_VAR: value}))
    assert obj["cacheDuration"] == value


def test_cache_duration_omitted_when_unset_or_empty(helper):
    assert "cacheDuration" not in response(ask(helper, "reg.example.com:5000/app", env=REG))
    assert "cacheDuration" not in response(ask(helper, "reg.example.com:5000/app", env={**REG, CACHE_VAR: ""}))


def test_cache_duration_also_applies_to_empty_answers(helper):
    assert response(ask(helper, "nowhere.example/app", env={CACHE_VAR: "2m"}))["cacheDuration"] == "2m"


@pytest.mark.parametrize("value", ["5", "five", "5M", "5 m", "-5m", "1h-", "m", ".s", "1d", "9999999999h"])
def test_invalid_cache_duration_is_a_clear_error(helper, value):
    result = ask(helper, "reg.example.com:5000/app", env={**REG, CACHE_VAR: value})
    assert_failure(result, CACHE_VAR, secrets=SECRETS)


def test_delegated_keychain_answers_are_never_cached(helper, tmp_path):
    bindir = tmp_path / "bin"
    fake_program(bindir, "docker-credential-gcr", creds_json("oauth2accesstoken", "ya29.short"))
    env = {"PATH": str(bindir), "IMGPKG_ACTIVE_KEYCHAINS": "gke", CACHE_VAR: "1h"}
    obj = response(ask(helper, "us-docker.pkg.dev/proj/repo/app", env=env))
    assert obj["cacheDuration"] == "0s"
    assert obj["auth"] == {"us-docker.pkg.dev": {"username": "oauth2accesstoken", "password": "ya29.short"}}


def test_github_keychain_is_not_short_lived(helper):
    env = {"IMGPKG_ACTIVE_KEYCHAINS": "github", "GITHUB_TOKEN": "ghp_x", "GITHUB_ACTOR": "octo"}
    obj = response(ask(helper, "ghcr.io/octo/app", env=env))
    assert (obj["auth"], "cacheDuration" in obj) == ({"ghcr.io": {"username": "octo", "password": "ghp_x"}}, False)


# --- no credentials ---------------------------------------------------------------------------------------------


def test_no_credentials_is_a_well_formed_empty_answer(helper):
    result = ask(helper, "nowhere.example/app")
    assert response(result) == {"apiVersion": V1, "kind": "CredentialProviderResponse", "cacheKeyType": "Image"}
    assert result.stderr == ""


def test_anonymous_entry_gives_an_empty_answer(helper):
    env = {"IMGPKG_REGISTRY_HOSTNAME": "reg.example.com:5000"}
    seed_store(helper, {"reg.example.com:5000": ("stored", "s")})
    assert auth(ask(helper, "reg.example.com:5000/app", env=env)) == {}


@pytest.mark.parametrize("where", ["env", "store"])
def test_identity_token_is_left_out_and_said_on_stderr(helper, where):
    if where == "env":
        env = {"IMGPKG_REGISTRY_HOSTNAME": "reg.example.com", "IMGPKG_REGISTRY_IDENTITY_TOKEN": "IDTOKEN-secret"}
    else:
        env = {}
        helper.store_path.parent.mkdir(parents=True, mode=0o700)
        doc = {"auths": {"reg.example.com": {"identitytoken": "IDTOKEN-secret"}}}
        helper.store_path.write_text(json.dumps(doc))
        helper.store_path.chmod(0o600)
    result = ask(helper, "reg.example.com/app", env=env)
    assert "auth" not in response(result)
    assert "identity token" in result.stderr and result.stderr.count("\n") == 1
    assert "IDTOKEN-secret" not in result.stderr + result.stdout


# --- errors and secrets -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"IMGPKG_REGISTRY_HOSTNAME": "reg.example.com", "IMGPKG_REGISTRY_REGISTRY_TOKEN": "RT-secret"}, "bearer"),
        ({"IMGPKG_REGISTRY_HOSTNAME_X": "reg.example.com", "IMGPKG_REGISTRY_USERNAMEX": "u"}, "Unknown env variable"),
        ({"IMGPKG_ACTIVE_KEYCHAINS": "nope"}, "Unable to load keychain"),
    ],
)
def test_configuration_errors_fail_with_one_line(helper, env, fragment):
    assert_failure(ask(helper, "reg.example.com/app", env=env), fragment, secrets=("RT-secret",), status=1)


def test_secrets_never_on_stderr_even_with_the_debug_trace(helper):
    env = {**REG, **TEAM, **GLOB, **HUB, "DOCKER_CREDENTIAL_IMGPKG_DEBUG": "1"}
    for image in ("reg.example.com:5000/team/app", "reg.example.com:5000/x", "a.corp.example/y", "nginx", "no.pe/z"):
        result = ask(helper, image, env=env)
        response(result)
        assert "kubelet" in result.stderr or "debug" in result.stderr
        for secret in SECRETS:
            assert secret not in result.stderr


def test_stdout_carries_only_the_response(helper):
    env = {**REG, "DOCKER_CREDENTIAL_IMGPKG_DEBUG": "1"}
    result = ask(helper, "reg.example.com:5000/app", env=env)
    assert json.loads(result.stdout)["auth"]  # the trace went to stderr
    assert result.stdout.count("\n") == 1


def test_secret_with_unusual_characters_round_trips(helper):
    secret = 'p"a\\s\ts\u00e9\u2028\U0001f511'
    result = ask(helper, "reg.example.com:5000/app", env=env_entry("reg.example.com:5000", "user", secret))
    assert auth(result) == {"reg.example.com:5000": ("user", secret)}
    assert result.stdout.isascii()
