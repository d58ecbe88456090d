"""Per-service-account credentials in the kubelet provider (issue 17 part 2; the design: service-account tokens in
docs/kubernetes.md). Through the real program, and through the kubelet's own code with the harness: its token
manager, the TokenRequest for the provider's audience, its annotation rules, its caches per ``cacheType`` and
its rejection of a token echoed as the password.

- ``DOCKER_CREDENTIAL_IMGPKG_KUBELET_SERVICE_ACCOUNTS[_SFX]`` limits the ``IMGPKG_REGISTRY_*[_SFX]`` group to
  the pods of the accounts it names (``ns/name``, ``ns/*``): only the kubelet provider with ``--audience`` answers
  from it, only for a request whose token passes the checks; nothing else ever sees it.
- ``DOCKER_CREDENTIAL_IMGPKG_KUBELET_TOKEN_REGISTRY[_SFX]`` / ``..._TOKEN_USERNAME[_SFX]``: registries that take the
  pod's token itself, answered only by the second provider (``--token-pass-through``, cacheType ``Token``).
"""

from __future__ import annotations

import json
import re
import time

import pytest

from .provider_support import (
    CACHE_VAR,
    PROVIDER,
    TOKEN_PROVIDER,
    V1,
    Pod,
    assert_failure,
    auth,
    b64url,
    creds,
    env_entry,
    jwt_claims,
    make_token,
    request,
    response,
    sa_claims,
    sa_token,
    token_parts,
)

AUD = "pull.example.com"
SA_VAR = "DOCKER_CREDENTIAL_IMGPKG_KUBELET_SERVICE_ACCOUNTS"
TOKEN_REGISTRY = "DOCKER_CREDENTIAL_IMGPKG_KUBELET_TOKEN_REGISTRY"
TOKEN_USERNAME = "DOCKER_CREDENTIAL_IMGPKG_KUBELET_TOKEN_USERNAME"
REG = "reg.example.com:5000"
ZOT = "zot.example.com:5000"

TEAM_A = {**env_entry(REG, "team-a-robot", "team-a-secret", "A"), f"{SA_VAR}_A": "team-a/*"}
BUILDER = {**env_entry(REG, "builder-robot", "builder-secret", "B"), f"{SA_VAR}_B": "team-b/builder"}
SHARED = env_entry(REG, "shared", "shared-secret", "S")
PRIVATE = {**env_entry("private.example.com", "priv", "priv-secret", "C"), f"{SA_VAR}_C": "team-c/*"}
TOKEN_GROUP = {f"{TOKEN_REGISTRY}_Z": ZOT, f"{TOKEN_USERNAME}_Z": "kubelet-token"}
SECRETS = ("team-a-secret", "builder-secret", "shared-secret", "priv-secret")

ACCOUNTS = ("--audience", AUD)
PASS_THROUGH = ("--audience", AUD, "--token-pass-through")
TEAM_A_CREDS = {REG: ("team-a-robot", "team-a-secret")}
BUILDER_CREDS = {REG: ("builder-robot", "builder-secret")}
SHARED_CREDS = {REG: ("shared", "shared-secret")}


def kubelet(helper, image: str, env: dict[str, str], *args: str, token: str | None = None, **extra: object):
    """One request to ``docker-credential-imgpkg kubelet ARGS``, with the pod's token when given."""
    if token is not None:
        extra["serviceAccountToken"] = token
    return helper.run("kubelet", *args, stdin=request(image, **extra), env=env)


def iso(epoch: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def seconds(duration: str) -> float:
    """A Go duration string's length in seconds (h, m, s, ms parts)."""
    parts = re.findall(r"(\d+(?:\.\d+)?)(h|ms|m|s)", duration)
    assert parts and "".join(n + u for n, u in parts) == duration, duration
    return sum(float(n) * {"h": 3600, "m": 60, "s": 1, "ms": 0.001}[u] for n, u in parts)


# --- limited groups, through the program ------------------------------------------------------------------------


@pytest.mark.parametrize("account", ["default", "builder", "ci-runner"])
def test_group_limited_to_a_namespace_answers_its_pods(helper, account):
    token = sa_token("team-a", account, [AUD])
    result = kubelet(helper, f"{REG}/team/app", TEAM_A, *ACCOUNTS, token=token)
    assert auth(result) == TEAM_A_CREDS
    for part in token_parts(token):
        assert part not in result.stdout + result.stderr


def test_pod_of_another_namespace_gets_what_it_would_without_the_group(helper):
    token = sa_token("team-x", "default", [AUD])
    assert auth(kubelet(helper, f"{REG}/app", TEAM_A, *ACCOUNTS, token=token)) == {}
    assert auth(kubelet(helper, f"{REG}/app", {**TEAM_A, **SHARED}, *ACCOUNTS, token=token)) == SHARED_CREDS


@pytest.mark.parametrize(("namespace", "account", "expected"), [
    ("team-b", "builder", BUILDER_CREDS),
    ("team-b", "default", SHARED_CREDS),
    ("team-a", "builder", SHARED_CREDS),
    ("team-b", "Builder", SHARED_CREDS),
    ("team-b", "builder-2", SHARED_CREDS),
    ("team-bb", "builder", SHARED_CREDS),
])  # fmt: skip
def test_group_limited_to_one_service_account(helper, namespace, account, expected):
    token = sa_token(namespace, account, [AUD])
    assert auth(kubelet(helper, f"{REG}/app", {**BUILDER, **SHARED}, *ACCOUNTS, token=token)) == expected


@pytest.mark.parametrize("shared_suffix", ["0", "Z9"])
def test_on_a_tie_the_limited_group_that_applies_wins(helper, shared_suffix):
    env = {**TEAM_A, **env_entry(REG, "shared", "shared-secret", shared_suffix)}
    token = sa_token("team-a", "default", [AUD])
    assert auth(kubelet(helper, f"{REG}/app", env, *ACCOUNTS, token=token)) == TEAM_A_CREDS


def test_a_more_specific_unlimited_entry_still_comes_first(helper):
    env = {**TEAM_A, **env_entry(f"{REG}/app", "app-robot", "app-secret", "P")}
    token = sa_token("team-a", "default", [AUD])
    assert auth(kubelet(helper, f"{REG}/app/web", env, *ACCOUNTS, token=token)) == {
        f"{REG}/app": ("app-robot", "app-secret")
    }
    assert auth(kubelet(helper, f"{REG}/other", env, *ACCOUNTS, token=token)) == TEAM_A_CREDS


def test_unsuffixed_variable_limits_the_unsuffixed_group(helper):
    env = {**env_entry(REG, "plain", "plain-secret"), SA_VAR: "team-a/*"}
    token = sa_token("team-a", "default", [AUD])
    assert auth(kubelet(helper, f"{REG}/app", env, *ACCOUNTS, token=token)) == {REG: ("plain", "plain-secret")}
    assert auth(kubelet(helper, f"{REG}/app", env, *ACCOUNTS, token=sa_token("team-x", "default", [AUD]))) == {}
    assert auth(kubelet(helper, f"{REG}/app", env)) == {}


def test_list_items_are_trimmed_and_empty_items_ignored(helper):
    env = {**env_entry(REG, "robot", "robot-secret", "A"), f"{SA_VAR}_A": " team-a/* , ,team-b/builder ,"}
    for namespace, account in (("team-a", "x"), ("team-b", "builder")):
        token = sa_token(namespace, account, [AUD])
        assert auth(kubelet(helper, f"{REG}/app", env, *ACCOUNTS, token=token)) == {REG: ("robot", "robot-secret")}


def test_plain_kubelet_provider_never_answers_from_a_limited_group(helper):
    # `kubelet` without --audience is the provider whose cache every pod shares: a token sent anyway is ignored.
    token = sa_token("team-a", "default", [AUD])
    assert auth(kubelet(helper, f"{REG}/app", TEAM_A, token=token)) == {}
    result = kubelet(helper, f"{REG}/app", {**TEAM_A, **SHARED, "DOCKER_CREDENTIAL_IMGPKG_DEBUG": "1"}, token=token)
    assert auth(result) == SHARED_CREDS
    assert "token" in result.stderr.lower()  # the trace says the token was ignored
    for part in token_parts(token):
        assert part not in result.stdout + result.stderr


def test_plain_kubelet_provider_ignores_even_a_bad_token(helper):
    token = sa_token("team-a", "default", ["someone-else"], expires_in=-600)
    assert auth(kubelet(helper, f"{REG}/app", {**TEAM_A, **SHARED}, token=token)) == SHARED_CREDS


def test_accounts_provider_without_a_token_answers_as_the_plain_one(helper):
    assert auth(kubelet(helper, f"{REG}/app", TEAM_A, *ACCOUNTS)) == {}
    assert auth(kubelet(helper, f"{REG}/app", {**TEAM_A, **SHARED}, *ACCOUNTS)) == SHARED_CREDS


def test_annotations_in_the_request_are_accepted(helper):
    token = sa_token("team-a", "default", [AUD])
    result = kubelet(
        helper, f"{REG}/app", TEAM_A, *ACCOUNTS, token=token, serviceAccountAnnotations={"imgpkg.example/pull": "y"}
    )
    assert auth(result) == TEAM_A_CREDS


# --- limited groups are invisible to docker clients -------------------------------------------------------------


@pytest.mark.parametrize("address", [REG, f"{REG}/team/app", f"https://{REG}/v2/"])
def test_limited_group_never_answers_get(helper, address):
    result = helper.get(address, env=TEAM_A)
    assert result.returncode == 1 and "team-a-secret" not in result.stdout + result.stderr, result
    shared = helper.get(address, env={**TEAM_A, **SHARED})
    assert shared.returncode == 0 and json.loads(shared.stdout)["Secret"] == "shared-secret", shared


def test_limited_group_never_appears_in_list(helper):
    env = {**TEAM_A, **PRIVATE, **env_entry("open.example.com", "open", "open-secret", "O")}
    result = helper.list(env=env)
    assert result.returncode == 0, result
    assert json.loads(result.stdout) == {"open.example.com": "open"}


def test_a_malformed_limit_is_an_error_for_get_and_list(helper):
    # Never "unlimited": a limit that cannot be read is a configuration error for every verb (amendment 5).
    env = {**TEAM_A, **SHARED, f"{SA_VAR}_A": "team-a"}
    for result in (helper.get(REG, env=env), helper.list(env=env)):
        assert result.returncode == 1, result
        assert f"{SA_VAR}_A" in result.stdout and f"{SA_VAR}_A" in result.stderr, result
        for secret in SECRETS:
            assert secret not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("variables", "fragment"),
    [
        ({f"{SA_VAR}_A": " , "}, f"{SA_VAR}_A names no service account"),
        ({"DOCKER_CREDENTIAL_IMGPKG_KUBELET_SERVICE_ACCOUNT_A": "team-a/*"}, "Unknown env variable"),
        ({f"{SA_VAR}A": "team-a/*"}, "Unknown env variable"),
    ],
    ids=["empty", "misspelt", "no-underscore"],
)
def test_a_limit_that_could_be_mistaken_for_none_is_an_error(helper, variables, fragment):
    # An empty list or a misspelt name must not leave the group open to every client.
    result = helper.get(REG, env={**TEAM_A, **variables, f"{SA_VAR}_A": TEAM_A[f"{SA_VAR}_A"], **variables})
    assert result.returncode == 1 and fragment in result.stdout, result
    assert "team-a-secret" not in result.stdout + result.stderr


def test_the_cache_setting_alone_is_not_a_limit_variable(helper):
    result = helper.get(REG, env={**SHARED, CACHE_VAR: "5m"})
    assert result.returncode == 0 and json.loads(result.stdout)["Secret"] == "shared-secret", result


def test_explain_shows_the_limit_and_passes_the_group_over_for_docker_forms(helper):
    env = {**env_entry(REG, "team-a-robot", "team-a-secret", "A"), f"{SA_VAR}_A": "team-a/*, team-b/builder"}
    result = helper.run("explain", "--json", f"{REG}/team/app", env=env)
    assert result.returncode == 0, result
    report = json.loads(result.stdout)
    [entry] = report["addresses"]
    assert entry["forms"]
    for form in entry["forms"]:
        assert form["found"] is False, form
        reasons = "\n".join(form["reasons"])
        assert f"IMGPKG_REGISTRY_HOSTNAME_A={REG} passed over: limited to service accounts" in reasons, reasons
    text = helper.run("explain", f"{REG}/team/app", env=env)
    assert (
        "limited to service accounts team-a/*, team-b/builder: answers only the kubelet provider for their pods"
        in text.stdout
    ), text.stdout
    for secret in SECRETS:
        assert secret not in result.stdout + text.stdout + text.stderr


def test_explain_shows_token_pass_through_groups(helper):
    result = helper.run("explain", ZOT, env=TOKEN_GROUP)
    assert result.returncode == 0, result
    assert f"{TOKEN_REGISTRY}_Z" in result.stdout and ZOT in result.stdout
    report = json.loads(helper.run("explain", "--json", env={**TOKEN_GROUP, **TEAM_A}).stdout)
    groups = {g["group"]: g for g in report["kubelet"]}
    assert groups[f"{TOKEN_REGISTRY}_Z={ZOT}"]["username"] == "kubelet-token"
    assert groups[f"IMGPKG_REGISTRY_HOSTNAME_A={REG}"]["variable"] == f"{SA_VAR}_A"
    assert [a["address"] for a in report["addresses"]] == [REG]  # the limited group's registry, passed over
    assert all(not f["found"] for f in report["addresses"][0]["forms"])


def test_explain_reports_a_broken_token_group(helper):
    result = helper.run("explain", "--json", env={f"{TOKEN_REGISTRY}_Z": ZOT})
    assert result.returncode == 1 and f"{TOKEN_USERNAME}_Z" in "".join(json.loads(result.stdout)["errors"])


# --- limit syntax -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["team-a", "team-a/b/c", "/x", "team-a/", "*/builder", "team-a/*x"])
def test_bad_limit_is_a_clear_error_naming_the_variable(helper, value):
    # The only glob is a whole name: `ns/*`.
    env = {**TEAM_A, f"{SA_VAR}_A": value}
    token = sa_token("team-a", "default", [AUD])
    result = kubelet(helper, f"{REG}/app", env, *ACCOUNTS, token=token)
    err = assert_failure(result, f"{SA_VAR}_A", "is not NAMESPACE/NAME or NAMESPACE/*", secrets=SECRETS, status=1)
    assert err.startswith("docker-credential-imgpkg kubelet: ")
    for part in token_parts(token):
        assert part not in err


def test_bad_limit_message_quotes_the_item(helper):
    result = kubelet(helper, f"{REG}/app", {**TEAM_A, f"{SA_VAR}_A": "team-a"}, *ACCOUNTS)
    assert_failure(result, f'{SA_VAR}_A: "team-a" is not NAMESPACE/NAME or NAMESPACE/*', status=1)


def test_bad_limit_is_an_error_for_explain_and_configure_too(helper, tmp_path):
    env = {**TEAM_A, f"{SA_VAR}_A": "team-a"}
    explained = helper.run("explain", "--json", REG, env=env)
    assert explained.returncode == 1, explained
    assert any(f"{SA_VAR}_A" in e for e in json.loads(explained.stdout)["errors"]), explained.stdout
    path = tmp_path / "cp.json"
    configured = helper.run("configure", "kubelet", "--config", str(path), "--service-account-audience", AUD, env=env)
    assert configured.returncode == 1 and f"{SA_VAR}_A" in configured.stderr, configured
    assert not path.exists()
    for secret in SECRETS:
        assert secret not in explained.stdout + configured.stdout + configured.stderr


def test_limit_without_its_group_is_an_error(helper):
    env = {**SHARED, f"{SA_VAR}_Q": "team-a/*"}
    assert_failure(kubelet(helper, f"{REG}/app", env, *ACCOUNTS), f"{SA_VAR}_Q", secrets=SECRETS, status=1)


# --- token checks -----------------------------------------------------------------------------------------------


def _claims(**changes: object) -> dict:
    """A good token's claims for team-a/default, with CHANGES (None: the claim left out)."""
    claims = sa_claims("team-a", "default", [AUD])
    for key, value in changes.items():
        if value is None:
            claims.pop(key)
        else:
            claims[key] = value
    return claims


# Each case: the claims' changes and the fragments of the one line (a tuple: any one of them), given now.
BAD_TOKENS = {
    "other-audience": lambda now: ({"aud": ["someone-else"]}, ("audience", f'"{AUD}"')),
    "other-audience-string": lambda now: ({"aud": "someone-else"}, ("audience", f'"{AUD}"')),
    "no-audience": lambda now: ({"aud": None}, ("audience",)),
    "expired": lambda now: ({"exp": now - 600}, (f"expired at {iso(now - 600)}",)),
    "no-exp": lambda now: ({"exp": None}, ("exp",)),
    "exp-not-a-number": lambda now: ({"exp": "tomorrow"}, ("exp",)),
    "not-yet-valid": lambda now: ({"nbf": now + 3000}, (("not valid before", "nbf", "not before"),)),
    "no-namespace": lambda now: ({"kubernetes.io": None}, ("namespace",)),
    "no-account-name": lambda now: (
        {"kubernetes.io": {"namespace": "team-a", "serviceaccount": {}}},
        (("service account name", "serviceaccount.name"),),
    ),
}


@pytest.mark.parametrize("mode", [ACCOUNTS, PASS_THROUGH], ids=["accounts", "pass-through"])
@pytest.mark.parametrize("case", list(BAD_TOKENS))
def test_a_token_failing_a_check_is_one_clear_line_and_exit_1(helper, mode, case):
    changes, fragments = BAD_TOKENS[case](int(time.time()))
    token = make_token(_claims(**changes))
    image = f"{ZOT}/app" if mode == PASS_THROUGH else f"{REG}/app"
    result = kubelet(helper, image, {**TEAM_A, **SHARED, **TOKEN_GROUP}, *mode, token=token)
    err = assert_failure(result, "docker-credential-imgpkg kubelet: ", "token", status=1)
    for fragment in fragments:
        alternatives = fragment if isinstance(fragment, tuple) else (fragment,)
        assert any(a in err for a in alternatives), f"none of {alternatives!r} in {err!r}"
    for part in token_parts(token):
        assert part not in err
    for secret in SECRETS:
        assert secret not in err


@pytest.mark.parametrize(
    "token",
    ["not-a-jwt", "a.b", "a.!!!.c", f"x.{b64url(b'{not json')}.y", f"x.{b64url(b'[1, 2]')}.y"],
    ids=["no-dots", "two-parts", "bad-base64", "bad-json", "payload-not-an-object"],
)
def test_a_token_that_is_not_a_jwt_is_refused(helper, token):
    result = kubelet(helper, f"{REG}/app", TEAM_A, *ACCOUNTS, token=token)
    err = assert_failure(result, "docker-credential-imgpkg kubelet: ", "token", status=1)
    for part in token_parts(token):
        if len(part) > 2:
            assert part not in err


@pytest.mark.parametrize("aud", [AUD, [AUD], ["other", AUD, "third"]], ids=["string", "list", "one-of-several"])
def test_audience_claim_as_a_string_or_a_list(helper, aud):
    token = make_token(_claims(aud=aud))
    assert auth(kubelet(helper, f"{REG}/app", TEAM_A, *ACCOUNTS, token=token)) == TEAM_A_CREDS


def test_a_token_without_nbf_is_accepted(helper):
    token = make_token(_claims(nbf=None))
    assert auth(kubelet(helper, f"{REG}/app", TEAM_A, *ACCOUNTS, token=token)) == TEAM_A_CREDS


@pytest.mark.parametrize("mode", [ACCOUNTS, PASS_THROUGH], ids=["accounts", "pass-through"])
def test_the_token_is_never_on_stderr_even_with_the_debug_trace(helper, mode):
    env = {**TEAM_A, **TOKEN_GROUP, "DOCKER_CREDENTIAL_IMGPKG_DEBUG": "1"}
    for claims in (_claims(), _claims(exp=int(time.time()) - 60), _claims(aud=["x"])):
        token = make_token(claims)
        for image in (f"{REG}/app", f"{ZOT}/app", "nowhere.example/app"):
            result = kubelet(helper, image, env, *mode, token=token)
            assert result.stderr, "the debug trace is on"
            for part in token_parts(token):
                assert part not in result.stderr
            for secret in SECRETS:
                assert secret not in result.stderr


# --- token pass-through, through the program --------------------------------------------------------------------


def test_pass_through_answers_the_token_with_the_fixed_username(helper):
    token = sa_token("team-a", "default", [AUD], expires_in=3600)
    exp = jwt_claims(token)["exp"]
    before = time.time()
    result = kubelet(helper, f"{ZOT}/team/app", TOKEN_GROUP, *PASS_THROUGH, token=token)
    after = time.time()
    obj = response(result)
    assert obj["auth"] == {ZOT: {"username": "kubelet-token", "password": token}}
    assert obj["cacheKeyType"] == "Registry"
    assert re.fullmatch(r"\d+s", obj["cacheDuration"]), obj  # whole seconds
    assert exp - after - 1 <= seconds(obj["cacheDuration"]) <= exp - before + 1
    assert token not in result.stderr


@pytest.mark.parametrize(
    ("pattern", "image", "cache_key_type"),
    [
        (f"{ZOT}/team", f"{ZOT}/team/app", "Image"),
        ("*.zot.example", "a.zot.example/app", "Registry"),
        ("zot.example", "zot.example/x/y", "Registry"),
    ],
)
def test_pass_through_key_is_the_pattern(helper, pattern, image, cache_key_type):
    env = {f"{TOKEN_REGISTRY}_Z": pattern, f"{TOKEN_USERNAME}_Z": "kubelet-token"}
    token = sa_token("team-a", "default", [AUD])
    obj = response(kubelet(helper, image, env, *PASS_THROUGH, token=token))
    assert obj["auth"] == {pattern: {"username": "kubelet-token", "password": token}}
    assert obj["cacheKeyType"] == cache_key_type


@pytest.mark.parametrize(("cache", "expected"), [("5m", 300), ("2h", None)])
def test_pass_through_cache_duration_is_the_shorter_of_the_token_and_the_setting(helper, cache, expected):
    token = sa_token("team-a", "default", [AUD], expires_in=3600)
    obj = response(kubelet(helper, f"{ZOT}/app", {**TOKEN_GROUP, CACHE_VAR: cache}, *PASS_THROUGH, token=token))
    left = seconds(obj["cacheDuration"])
    if expected is not None:
        assert left == expected
    else:
        assert 0 < left <= 3600


def test_pass_through_cache_duration_never_outlives_the_token(helper):
    # Amendment 3: whatever the setting, the answer is not cached past the token's exp.
    token = sa_token("team-a", "default", [AUD], expires_in=120)
    obj = response(kubelet(helper, f"{ZOT}/app", {**TOKEN_GROUP, CACHE_VAR: "5m"}, *PASS_THROUGH, token=token))
    assert 0 < seconds(obj["cacheDuration"]) <= 120


def test_pass_through_answers_only_from_token_groups(helper):
    token = sa_token("team-a", "default", [AUD])
    env = {**TEAM_A, **SHARED, **TOKEN_GROUP}
    assert auth(kubelet(helper, f"{REG}/app", env, *PASS_THROUGH, token=token)) == {}
    assert auth(kubelet(helper, "nowhere.example/app", env, *PASS_THROUGH, token=token)) == {}


def test_pass_through_without_a_token_answers_no_credentials(helper):
    result = kubelet(helper, f"{ZOT}/app", TOKEN_GROUP, *PASS_THROUGH)
    assert "auth" not in response(result)


def test_token_groups_answer_nothing_else(helper):
    token = sa_token("team-a", "default", [AUD])
    assert auth(kubelet(helper, f"{ZOT}/app", TOKEN_GROUP, *ACCOUNTS, token=token)) == {}
    assert auth(kubelet(helper, f"{ZOT}/app", TOKEN_GROUP, token=token)) == {}
    assert helper.get(ZOT, env=TOKEN_GROUP).returncode == 1
    assert json.loads(helper.list(env=TOKEN_GROUP).stdout) == {}


def test_token_group_without_username_is_an_error_naming_the_variable(helper):
    env = {f"{TOKEN_REGISTRY}_Z": ZOT}
    token = sa_token("team-a", "default", [AUD])
    assert_failure(kubelet(helper, f"{ZOT}/app", env, *PASS_THROUGH, token=token), f"{TOKEN_USERNAME}_Z", status=1)


def test_token_group_with_a_bad_pattern_is_an_error_naming_the_variable(helper):
    env = {f"{TOKEN_REGISTRY}_Z": "zot.example.com:port", f"{TOKEN_USERNAME}_Z": "u"}
    token = sa_token("team-a", "default", [AUD])
    assert_failure(kubelet(helper, f"{ZOT}/app", env, *PASS_THROUGH, token=token), f"{TOKEN_REGISTRY}_Z", status=1)


@pytest.mark.parametrize(
    "args",
    [("--token-pass-through",), ("--audience",), ("--audience", AUD, "--bogus"), ("--audience", AUD, "get")],
    ids=["pass-through-without-audience", "audience-without-value", "unknown-flag", "stray-argument"],
)
def test_usage_errors(helper, args):
    token = sa_token("team-a", "default", [AUD])
    result = kubelet(helper, f"{REG}/app", TEAM_A, *args, token=token)
    assert_failure(result, status=2, secrets=token_parts(token))


# --- through the kubelet: configure kubelet's file, validated ---------------------------------------------------


def test_configure_with_an_audience_gives_the_provider_token_attributes(node):
    env = {**TEAM_A, **BUILDER, **SHARED, **PRIVATE}
    node.configure(env, "--service-account-audience", AUD)
    providers = node.providers()
    assert list(providers) == [PROVIDER]
    ours = providers[PROVIDER]
    assert ours["args"] == ["kubelet", "--audience", AUD]
    assert ours["tokenAttributes"] == {
        "serviceAccountTokenAudience": AUD,
        "cacheType": "ServiceAccount",
        "requireServiceAccount": False,
        "requiredServiceAccountAnnotationKeys": [],
        "optionalServiceAccountAnnotationKeys": [],
    }
    assert ours["apiVersion"] == V1  # tokenAttributes need v1
    assert "private.example.com" in ours["matchImages"] and REG in ours["matchImages"]


def test_configure_annotation_keys_and_require_service_account(node):
    extra = ["--service-account-audience", AUD, "--require-service-account"]
    extra += ["--required-annotation", "imgpkg.example/pull", "--optional-annotation", "imgpkg.example/team"]
    node.configure(TEAM_A, *extra)
    attributes = node.providers()[PROVIDER]["tokenAttributes"]
    assert attributes["requireServiceAccount"] is True
    assert attributes["requiredServiceAccountAnnotationKeys"] == ["imgpkg.example/pull"]
    assert attributes["optionalServiceAccountAnnotationKeys"] == ["imgpkg.example/team"]


def test_required_annotation_implies_require_service_account(node):
    # The kubelet refuses requiredServiceAccountAnnotationKeys with requireServiceAccount false (amendment 1).
    extra = ("--service-account-audience", AUD, "--required-annotation", "imgpkg.example/pull")
    result = node.configure(TEAM_A, *extra)
    assert node.providers()[PROVIDER]["tokenAttributes"]["requireServiceAccount"] is True
    assert "requireServiceAccount = true" in result.stdout  # the notes say why


@pytest.mark.parametrize(
    "extra",
    [
        ("--required-annotation", "not a key"),
        ("--optional-annotation", "bad_prefix.example/x"),
        ("--required-annotation", "a.example/k", "--optional-annotation", "a.example/k"),
    ],
    ids=["space", "bad-prefix", "both"],
)
def test_annotation_keys_the_kubelet_would_refuse_are_refused(node, extra):
    args = ("configure", "kubelet", "--config", str(node.config), "--service-account-audience", AUD, *extra)
    result = node.helper.run(*args, env=TEAM_A)
    assert result.returncode == 1 and "annotation key" in result.stderr, result
    assert not node.config.exists()


@pytest.mark.parametrize("flag", [("--require-service-account",), ("--required-annotation", "a.example/k")])
def test_token_options_need_an_audience(node, flag):
    result = node.helper.run("configure", "kubelet", "--config", str(node.config), *flag, env={**TEAM_A, **SHARED})
    assert result.returncode == 1 and "--service-account-audience" in result.stderr, result
    assert not node.config.exists()


def test_without_the_flag_existing_token_attributes_are_kept_and_new_providers_get_none(node):
    node.configure({**TEAM_A, **SHARED})
    assert node.providers()[PROVIDER]["tokenAttributes"] is None
    node.configure(TEAM_A, "--service-account-audience", AUD)
    node.configure({**TEAM_A, **env_entry("new.example.com", "n", "n", "N")})
    assert node.providers()[PROVIDER]["tokenAttributes"]["serviceAccountTokenAudience"] == AUD


def test_kept_token_attributes_decide_the_args(node):
    # Amendment 6: args always follow tokenAttributes, so the plugin checks the tokens the kubelet sends.
    main = {
        "name": PROVIDER,
        "matchImages": [REG],
        "defaultCacheDuration": "1h",
        "apiVersion": "credentialprovider.kubelet.k8s.io/v1beta1",
        "args": ["kubelet"],
        "tokenAttributes": {"serviceAccountTokenAudience": "kept.example", "cacheType": "ServiceAccount",
                            "requireServiceAccount": False},
    }  # fmt: skip
    token = {
        "name": TOKEN_PROVIDER,
        "matchImages": [ZOT],
        "defaultCacheDuration": "5m",
        "apiVersion": V1,
        "tokenAttributes": {"serviceAccountTokenAudience": "zot.kept", "cacheType": "Token",
                            "requireServiceAccount": True},
    }  # fmt: skip
    node.config.write_text(_config_doc(main, token))
    result = node.configure({**TEAM_A, **TOKEN_GROUP})
    providers = node.providers()
    assert providers[PROVIDER]["args"] == ["kubelet", "--audience", "kept.example"]
    assert providers[PROVIDER]["apiVersion"] == V1  # the kubelet refuses tokenAttributes under v1beta1
    assert providers[PROVIDER]["tokenAttributes"]["serviceAccountTokenAudience"] == "kept.example"
    assert providers[PROVIDER]["defaultCacheDuration"] == "1h0m0s"
    assert REG in providers[PROVIDER]["matchImages"]  # the limited group: the provider has an audience
    assert providers[TOKEN_PROVIDER]["args"] == ["kubelet", "--audience", "zot.kept", "--token-pass-through"]
    assert "kept.example" in result.stdout and "zot.kept" in result.stdout  # the RBAC for both audiences
    again = node.configure({**TEAM_A, **TOKEN_GROUP})
    assert "nothing to change" in again.stdout, again


def test_a_limited_group_added_later_joins_a_provider_with_an_audience(node):
    node.configure(TEAM_A, "--service-account-audience", AUD)
    node.configure({**TEAM_A, **PRIVATE})  # no flag: the kept tokenAttributes say the provider gets tokens
    assert "private.example.com" in node.providers()[PROVIDER]["matchImages"]


def test_limited_groups_alone_need_an_audience(node):
    result = node.helper.run("configure", "kubelet", "--config", str(node.config), env=TEAM_A)
    assert result.returncode == 1 and "--service-account-audience" in result.stderr, result
    assert f"IMGPKG_REGISTRY_HOSTNAME_A={REG}" in result.stderr
    assert not node.config.exists()


def test_a_limited_group_left_out_without_an_audience_is_warned_about(node):
    result = node.configure({**TEAM_A, **PRIVATE, **SHARED})
    assert node.providers()[PROVIDER]["matchImages"] == [REG]
    assert "private.example.com" in result.stderr and "--service-account-audience" in result.stderr


def test_two_providers_when_token_registry_groups_exist(node):
    result = node.configure({**TEAM_A, **TOKEN_GROUP}, "--service-account-audience", AUD, "--bin-dir", "/opt/cp")
    providers = node.providers()
    assert list(providers) == [PROVIDER, TOKEN_PROVIDER]
    token = providers[TOKEN_PROVIDER]
    assert token["args"] == ["kubelet", "--audience", AUD, "--token-pass-through"]
    assert token["matchImages"] == [ZOT]
    assert token["tokenAttributes"] == {
        "serviceAccountTokenAudience": AUD,
        "cacheType": "Token",
        "requireServiceAccount": True,
        "requiredServiceAccountAnnotationKeys": [],
        "optionalServiceAccountAnnotationKeys": [],
    }
    assert ZOT not in providers[PROVIDER]["matchImages"]
    assert f"/opt/cp/{TOKEN_PROVIDER}" in result.stdout  # how to install the second name
    assert node.validate("--bin-dir", str(node.bin_dir))["valid"] is True


def test_token_match_image_makes_the_second_provider(node):
    node.configure(TEAM_A, "--service-account-audience", AUD, "--token-match-image", "harbor.example.com/team")
    assert node.providers()[TOKEN_PROVIDER]["matchImages"] == ["harbor.example.com/team"]


def test_token_provider_needs_an_audience(node):
    result = node.helper.run("configure", "kubelet", "--config", str(node.config), env={**TEAM_A, **TOKEN_GROUP})
    assert result.returncode == 1 and "--service-account-audience" in result.stderr, result
    assert not node.config.exists()


OTHER = {
    "name": "ecr-credential-provider",
    "matchImages": ["*.dkr.ecr.*.amazonaws.com"],
    "defaultCacheDuration": "12h",
    "apiVersion": V1,
}


def _config_doc(*providers: dict) -> str:
    return json.dumps(
        {"apiVersion": "kubelet.config.k8s.io/v1", "kind": "CredentialProviderConfig", "providers": list(providers)}
    )


def test_drop_in_directory_gets_a_file_of_our_providers(node, tmp_path):
    conf_dir = tmp_path / "credential-providers.d"
    conf_dir.mkdir()
    (conf_dir / "10-ecr.json").write_text(_config_doc(OTHER))
    args = ("configure", "kubelet", "--config", str(conf_dir), "--service-account-audience", AUD)
    result = node.helper.run(*args, env={**TEAM_A, **TOKEN_GROUP})
    assert result.returncode == 0, result
    ours = conf_dir / "docker-credential-imgpkg.json"
    assert [p["name"] for p in json.loads(ours.read_text())["providers"]] == [PROVIDER, TOKEN_PROVIDER]
    assert json.loads((conf_dir / "10-ecr.json").read_text())["providers"] == [OTHER]
    proc = node.run("validate", str(conf_dir))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert [p["name"] for p in json.loads(proc.stdout)["providers"]] == [
        "ecr-credential-provider",
        PROVIDER,
        TOKEN_PROVIDER,
    ]
    again = node.helper.run(*args, env={**TEAM_A, **TOKEN_GROUP})
    assert again.returncode == 0 and "nothing to change" in again.stdout, again


def test_drop_in_directory_already_defining_our_provider_elsewhere_is_refused(node, tmp_path):
    conf_dir = tmp_path / "credential-providers.d"
    conf_dir.mkdir()
    mine = {"name": PROVIDER, "matchImages": [REG], "defaultCacheDuration": "5m", "apiVersion": V1}
    (conf_dir / "50-by-hand.json").write_text(_config_doc(mine))
    result = node.helper.run("configure", "kubelet", "--config", str(conf_dir), env=TEAM_A)
    assert result.returncode == 1 and "50-by-hand.json" in result.stderr, result
    assert not (conf_dir / "docker-credential-imgpkg.json").exists()


def test_rbac_for_the_audience_is_printed(node):
    out = node.configure(TEAM_A, "--service-account-audience", AUD).stdout
    assert "kind: ClusterRole" in out and "kind: ClusterRoleBinding" in out
    assert "request-serviceaccounts-token-audience" in out
    assert re.search(r"resources:[\s\[\-\"']*" + re.escape(AUD), out), out  # flow or block style
    assert re.search(r"apiGroups:\s*\[\s*\"\"\s*\]", out), out  # the core group (amendment 4)
    assert "kind: Group" in out and "system:nodes" in out
    # Printed whenever an audience is configured, also when kept from the file (amendment 4).
    again = node.configure(TEAM_A)
    assert "request-serviceaccounts-token-audience" in again.stdout and AUD in again.stdout


def test_no_rbac_without_an_audience(node):
    out = node.configure({**TEAM_A, **SHARED}).stdout
    assert "request-serviceaccounts-token-audience" not in out and "ClusterRole" not in out


def test_drop_in_directory_with_a_yaml_file_naming_our_provider_is_refused(node, tmp_path):
    conf_dir = tmp_path / "credential-providers.d"
    conf_dir.mkdir()
    (conf_dir / "20-hand.yaml").write_text(
        "apiVersion: kubelet.config.k8s.io/v1\nkind: CredentialProviderConfig\nproviders:\n"
        f'  - name: "{TOKEN_PROVIDER}"\n    matchImages: ["{ZOT}"]\n    defaultCacheDuration: 5m\n'
    )
    args = ("configure", "kubelet", "--config", str(conf_dir), "--service-account-audience", AUD)
    result = node.helper.run(*args, env={**TEAM_A, **TOKEN_GROUP})
    assert result.returncode == 1 and "20-hand.yaml" in result.stderr, result
    assert not (conf_dir / "docker-credential-imgpkg.json").exists()


# --- through the kubelet: pods ----------------------------------------------------------------------------------


def test_pods_get_their_accounts_credentials_through_the_kubelet(node):
    env = {**TEAM_A, **BUILDER, **SHARED}
    node.configure(env, "--service-account-audience", AUD)
    image = f"{REG}/team/app:1"
    team_a, other_ns, builder, team_b = node.lookup(
        env,
        Pod("team-a"), image,
        Pod("team-x"), image,
        Pod("team-b", "builder"), image,
        Pod("team-b"), image,
    )  # fmt: skip
    assert creds(team_a) == [("team-a-robot", "team-a-secret")]
    assert creds(other_ns) == [("shared", "shared-secret")]
    assert creds(builder) == [("builder-robot", "builder-secret")]
    assert creds(team_b) == [("shared", "shared-secret")]
    for line in (team_a, other_ns, builder, team_b):
        assert [t["audiences"] for t in line["tokenRequests"]] == [[AUD]]
        [run] = line["execs"]  # the kubelet's cache is per service account: each ran the plugin
        assert run["serviceAccountToken"] == line["tokenRequests"][0]["token"]
        assert jwt_claims(run["serviceAccountToken"])["kubernetes.io"]["namespace"] == line["pod"]["namespace"]


def test_another_pod_of_the_same_account_is_served_from_the_kubelets_cache(node):
    node.configure(TEAM_A, "--service-account-audience", AUD)
    first, second = node.lookup(
        TEAM_A, Pod("team-a", name="web-1"), f"{REG}/app", Pod("team-a", name="web-2"), f"{REG}/app"
    )
    assert creds(first) == creds(second) == [("team-a-robot", "team-a-secret")]
    assert second["execs"] == []  # cacheType ServiceAccount: keyed by namespace, name, UID, annotations


def test_plain_provider_never_answers_a_limited_group_even_for_its_pods(node):
    env = {**TEAM_A, **SHARED}
    node.configure(env)
    [line] = node.lookup(env, Pod("team-a"), f"{REG}/app")
    assert line["execs"] and "serviceAccountToken" not in line["execs"][0]
    assert creds(line) == [("shared", "shared-secret")]


def test_pod_without_a_service_account_gets_no_limited_credentials(node):
    env = {**TEAM_A, **SHARED}
    node.configure(env, "--service-account-audience", AUD)
    [line] = node.lookup(env, Pod("team-a", service_account=""), f"{REG}/app")  # a static pod
    assert "tokenRequests" not in line
    assert "serviceAccountToken" not in line["execs"][0]
    assert creds(line) == [("shared", "shared-secret")]


def test_missing_required_annotation_means_the_plugin_is_not_run(node):
    key = "imgpkg.example/pull"
    node.configure(TEAM_A, "--service-account-audience", AUD, "--require-service-account", "--required-annotation", key)
    without, with_it = node.lookup(
        TEAM_A,
        Pod("team-a"),
        f"{REG}/app",
        Pod("team-a", "puller", annotations={key: "yes"}),
        f"{REG}/app",
        flags=("-v", "5"),
    )
    assert without["execs"] == [] and not without["found"]
    assert any(f"required annotation {key} not found" in (e.get("error") or "") for e in without["log"])
    assert with_it["execs"][0]["serviceAccountAnnotations"] == {key: "yes"}
    assert creds(with_it) == [("team-a-robot", "team-a-secret")]


@pytest.mark.parametrize(
    ("pod", "fragment"),
    [
        (Pod("team-a", token_ttl="-10m"), "expired at"),
        (Pod("team-a", token_audience="someone-else"), "audience"),
    ],
    ids=["expired", "wrong-audience"],
)
def test_a_bad_token_from_the_kubelet_gives_no_credentials_and_is_not_cached(node, pod, fragment):
    env = {**TEAM_A, **SHARED}
    node.configure(env, "--service-account-audience", AUD)
    first, again = node.lookup(env, pod, f"{REG}/app", f"{REG}/app")
    for line in (first, again):
        assert not line["found"] and line["auths"] == []
        [run] = line["execs"]  # a failure is not cached: the next pull asks again
        assert "exit status 1" in run["error"]
        stderr = run["stderr"]
        assert stderr.count("\n") == 1 and fragment in stderr, stderr
        for part in token_parts(run["serviceAccountToken"]):
            assert part not in stderr
        for secret in SECRETS:
            assert secret not in stderr


def test_token_pass_through_through_the_kubelet(node):
    env = {**TEAM_A, **TOKEN_GROUP}
    node.configure(env, "--service-account-audience", AUD)
    first, same_pod, other_pod = node.lookup(
        env, Pod("team-a", name="web-1"), f"{ZOT}/app", f"{ZOT}/other", Pod("team-a", name="web-2"), f"{ZOT}/app"
    )
    token = first["tokenRequests"][0]["token"]
    assert [r["provider"] for r in first["execs"]] == [TOKEN_PROVIDER]
    assert creds(first) == [("kubelet-token", token)]
    assert first["log"] == []  # the kubelet accepted the token as the password (cacheType Token)
    response_ = first["execs"][0]["response"]
    assert response_["cacheKeyType"] == "Registry" and 0 < seconds(response_["cacheDuration"]) <= 3600
    # The same pod's token is the token manager's cached one: the answer comes from the kubelet's cache.
    assert same_pod["execs"] == [] and creds(same_pod) == [("kubelet-token", token)]
    # Another pod has its own token, so the cache (per token) does not serve it.
    other_token = other_pod["tokenRequests"][0]["token"]
    assert other_token != token and creds(other_pod) == [("kubelet-token", other_token)]


def test_the_same_answer_under_cache_type_service_account_is_rejected_by_the_kubelet(node):
    # Why the token needs a second provider: the kubelet accepts the token as a password only with cacheType Token.
    provider = {
        "name": TOKEN_PROVIDER,
        "matchImages": [ZOT],
        "defaultCacheDuration": "5m",
        "apiVersion": V1,
        "args": ["kubelet", "--audience", AUD, "--token-pass-through"],
        "tokenAttributes": {
            "serviceAccountTokenAudience": AUD,
            "cacheType": "ServiceAccount",
            "requireServiceAccount": True,
        },
    }
    node.config.write_text(_config_doc(provider))
    [line] = node.lookup(TOKEN_GROUP, Pod("team-a"), f"{ZOT}/app")
    [run] = line["execs"]
    assert run["response"]["auth"][ZOT]["password"] == run["serviceAccountToken"]  # the plugin answered it
    assert not line["found"] and line["auths"] == []
    errors = [entry.get("error", "") for entry in line["log"]]
    assert any("service account token as the password" in e for e in errors), line["log"]


def test_pass_through_response_decodes_strictly(node):
    code, record = node.exec(
        f"{ZOT}/app", TOKEN_GROUP, args=("kubelet", *PASS_THROUGH), pod=Pod("team-a", token_audience=AUD)
    )
    assert code == 0 and "error" not in record, record
    assert record["response"]["auth"][ZOT] == {"username": "kubelet-token", "password": record["serviceAccountToken"]}
    assert 0 < seconds(record["response"]["cacheDuration"]) <= 3600
