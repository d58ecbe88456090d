"""DOCKER_CREDENTIAL_IMGPKG_DEBUG tracing (stderr, secrets hidden) and bad input (short error, nothing touched)."""

from __future__ import annotations

import json

import pytest

from .support import assert_creds, assert_error, assert_not_found, b64, creds_json, fake_program

SECRETS = ("SEKRIT-env", "SEKRIT-store", "SEKRIT-config", "SEKRIT-id", "SEKRIT-gh", "SEKRIT-new", "SEKRIT-cloud")
DEBUG = {"DOCKER_CREDENTIAL_IMGPKG_DEBUG": "1"}


def no_secret(result) -> None:
    for secret in SECRETS:
        assert secret not in result.stderr, f"{secret} on stderr: {result.stderr!r}"


@pytest.mark.parametrize("value", ["1", "true", "TRUE", "True", "yes", "YES", "Yes"])
def test_debug_switch_accepts_1_true_yes_any_case(helper, value):
    result = helper.get("quay.io", env={"DOCKER_CREDENTIAL_IMGPKG_DEBUG": value})
    assert_not_found(result)
    assert result.stderr.strip()


@pytest.mark.parametrize("value", ["", "0", "false", "no", "FALSE"])
def test_debug_off(helper, value):
    assert helper.store("quay.io", "alice", "s").returncode == 0
    result = helper.get("quay.io", env={"DOCKER_CREDENTIAL_IMGPKG_DEBUG": value})
    assert_creds(result, "quay.io", "alice", "s")
    assert result.stderr == ""


def test_debug_env_match_names_the_entry_and_hides_the_secret(helper):
    env = {
        **DEBUG,
        "IMGPKG_REGISTRY_HOSTNAME_prod": "*.gcr.io",
        "IMGPKG_REGISTRY_USERNAME_prod": "robot",
        "IMGPKG_REGISTRY_PASSWORD_prod": "SEKRIT-env",
    }
    result = helper.get("us.gcr.io/p/i", env=env)
    assert_creds(result, "us.gcr.io/p/i", "robot", "SEKRIT-env")
    assert "IMGPKG_REGISTRY_HOSTNAME_prod" in result.stderr
    assert "*.gcr.io" in result.stderr
    assert "***" in result.stderr
    no_secret(result)


def test_debug_identity_token_hidden(helper):
    env = {**DEBUG, "IMGPKG_REGISTRY_HOSTNAME": "gcr.io", "IMGPKG_REGISTRY_IDENTITY_TOKEN": "SEKRIT-id"}
    result = helper.get("gcr.io", env=env)
    assert_creds(result, "gcr.io", "<token>", "SEKRIT-id")
    assert result.stderr and "***" in result.stderr
    no_secret(result)


def test_debug_store_match(helper):
    assert helper.store("gcr.io", "alice", "SEKRIT-store").returncode == 0
    result = helper.get("gcr.io/proj/img", env=DEBUG)
    assert_creds(result, "gcr.io/proj/img", "alice", "SEKRIT-store")
    assert "store" in result.stderr and "gcr.io" in result.stderr
    no_secret(result)


def test_debug_docker_config_match_names_the_file(helper):
    path = helper.write_docker_config({"auths": {"https://gcr.io/v2/": {"auth": b64("carol:SEKRIT-config")}}})
    result = helper.get("gcr.io", env=DEBUG)
    assert_creds(result, "gcr.io", "carol", "SEKRIT-config")
    assert str(path) in result.stderr and "https://gcr.io/v2/" in result.stderr
    no_secret(result)


def test_debug_keychains_hide_secrets(helper, tmp_path):
    bindir = tmp_path / "bin"
    fake_program(bindir, "docker-credential-gcr", reply=creds_json("oauth2accesstoken", "SEKRIT-cloud"))
    helper.env["PATH"] = str(bindir)
    env = {**DEBUG, "IMGPKG_ACTIVE_KEYCHAINS": "gke,github", "GITHUB_TOKEN": "SEKRIT-gh"}
    for host in ("gcr.io", "ghcr.io"):
        result = helper.get(host, env=env)
        assert result.returncode == 0 and "keychain" in result.stderr.lower()
        no_secret(result)


def test_debug_not_found_says_what_was_consulted(helper):
    helper.write_docker_config({"auths": {}})
    env = {**DEBUG, "IMGPKG_REGISTRY_HOSTNAME": "gcr.io", "IMGPKG_REGISTRY_USERNAME": "u"}
    result = helper.get("quay.io", env=env)
    assert_not_found(result)
    err = result.stderr
    assert "env" in err and "store" in err and str(helper.docker_config_path) in err


def test_debug_not_found_mentions_docker_config_even_when_absent(helper):
    result = helper.get("quay.io", env=DEBUG)
    assert_not_found(result)
    assert "docker config" in result.stderr or "config.json" in result.stderr


def test_debug_store_erase_list_hide_secrets(helper):
    result = helper.store("gcr.io", "alice", "SEKRIT-new", env=DEBUG)
    assert result.returncode == 0 and result.stderr
    no_secret(result)
    for result in (helper.list(env=DEBUG), helper.erase("gcr.io", env=DEBUG)):
        assert result.returncode == 0
        no_secret(result)


# --- bad input ---------------------------------------------------------------------------------------------------

MIB = 1 << 20


@pytest.fixture
def populated(helper):
    assert helper.store("quay.io", "alice", "SEKRIT-store").returncode == 0
    return helper


def _unchanged(helper, before: bytes) -> None:
    assert helper.store_path.read_bytes() == before
    assert_creds(helper.get("quay.io"), "quay.io", "alice", "SEKRIT-store")


def _refused_untouched(populated, action: str, data: bytes, *fragments: str) -> str:
    """``action`` with ``data`` on stdin is a protocol error naming every fragment, with no secret, and the
    populated store is as it was. Returns the error line."""
    before = populated.store_path.read_bytes()
    out = assert_error(populated.run(action, stdin=data), *fragments, secrets=SECRETS)
    _unchanged(populated, before)
    return out


BAD_INPUT = [
    ("get", b"x" * (MIB + 1), "MiB"),
    ("erase", b"quay.io" + b" " * MIB, "MiB"),
    ("store", b'{"ServerURL":"quay.io","Username":"u","Secret":"' + b"S" * MIB + b'"}', "MiB"),
    ("get", b"qu\xffay.io", "UTF-8"),
    ("erase", b"\xc3(", "UTF-8"),
    ("store", b'{"ServerURL":"quay.io","Username":"u","Secret":"SEKRIT-new\xff"}', "UTF-8"),
    ("store", b'{"ServerURL":"quay.io","Username":"u","Secret":"SEKRIT-new"', "JSON"),
    ("store", b'{"ServerURL":"quay.io","Username":"u","Secret":SEKRIT-new}', "JSON"),
    ("store", b"SEKRIT-new", "JSON"),
    ("store", b'["quay.io","u","SEKRIT-new"]', "object"),
    ("store", b'"SEKRIT-new"', "object"),
    ("store", b"null", "object"),
    ("store", b'{"ServerURL":"quay.io","Username":"u","Secret":["SEKRIT-new"]}', "Secret"),
    ("store", b'{"ServerURL":"quay.io","Username":"u","Secret":12345}', "Secret"),
    ("store", b'{"ServerURL":"quay.io","Username":{"SEKRIT-new":1},"Secret":"x"}', "Username"),
    ("store", b'{"ServerURL":["quay.io"],"Username":"u","Secret":"SEKRIT-new"}', "ServerURL"),
    ("store", b'{"ServerURL":"quay.io","Username":true,"Secret":"SEKRIT-new"}', "Username"),
    ("store", b'{"ServerURL":"quay.io","Username":"u","Secret":NaN}', "Secret"),
]


@pytest.mark.parametrize(
    ("action", "data", "fragment"),
    BAD_INPUT,
    ids=[
        "get-too-big",
        "erase-too-big",
        "store-too-big",
        "get-not-utf8",
        "erase-not-utf8",
        "store-not-utf8",
        "store-truncated",
        "store-bare-word",
        "store-not-json",
        "store-array",
        "store-string",
        "store-null",
        "secret-list",
        "secret-number",
        "username-object",
        "serverurl-list",
        "username-bool",
        "secret-nan",
    ],
)
def test_bad_input_is_a_short_error_and_touches_nothing(populated, action, data, fragment):
    _refused_untouched(populated, action, data, fragment)


@pytest.mark.parametrize(
    "data",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"ServerURL":"quay.io","Username":"u","Secret":' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    ],
    ids=["deep-array", "deep-secret"],
)
def test_deeply_nested_json_is_a_specific_input_error(populated, data):
    assert "internal error" not in _refused_untouched(populated, "store", data)


@pytest.mark.parametrize(
    "data",
    [
        b'{"ServerURL":"quay.io","Username":"u","Secret":"SEKRIT-new\\ud800"}',
        b'{"ServerURL":"quay.io","Username":"u\\udfff","Secret":"SEKRIT-new"}',
    ],
    ids=["surrogate-secret", "surrogate-username"],
)
def test_lone_surrogate_is_a_specific_input_error(populated, data):
    assert "internal error" not in _refused_untouched(populated, "store", data)


def test_input_of_exactly_1_mib_is_accepted(helper):
    data = b"quay.io" + b" " * (MIB - len(b"quay.io"))
    assert len(data) == MIB
    assert_not_found(helper.run("get", stdin=data))
    secret = "s" * (MIB - 100)
    payload = json.dumps({"ServerURL": "quay.io", "Username": "u", "Secret": secret}).encode()
    payload += b" " * (MIB - len(payload))
    assert len(payload) == MIB
    assert helper.run("store", stdin=payload).returncode == 0
    assert_creds(helper.get("quay.io"), "quay.io", "u", secret)


@pytest.mark.parametrize(
    ("doc", "fragment"),
    [
        ('{"auths": {"quay.io": {"auth": "SEKRIT-config"', "JSON"),
        ({"auths": {"gcr.io": {"auth": "SEKRIT-config!!"}}}, "base64"),
        ({"auths": {"gcr.io": {"auth": b64("SEKRIT-config")}}}, "auth"),
        ({"auths": {"gcr.io": {"password": "SEKRIT-config", "username": 7}}}, "username"),
    ],
    ids=["malformed-json", "bad-base64", "no-colon", "wrong-type"],
)
def test_bad_docker_config_is_a_short_error_and_touches_nothing(populated, doc, fragment):
    populated.write_docker_config(doc)
    config_before = populated.docker_config_path.read_bytes()
    before = populated.store_path.read_bytes()
    assert_error(populated.get("gcr.io"), fragment, str(populated.docker_config_path), secrets=SECRETS)
    assert populated.docker_config_path.read_bytes() == config_before
    _unchanged(populated, before)


def test_bad_input_with_debug_still_never_shows_a_traceback_or_secret(helper):
    env = {**DEBUG, "IMGPKG_REGISTRY_HOSTNAME": "gcr.io", "IMGPKG_REGISTRY_REGISTRY_TOKEN": "SEKRIT-env"}
    result = helper.get("gcr.io", env=env)
    assert_error(result, "IMGPKG_REGISTRY_REGISTRY_TOKEN", secrets=SECRETS)
    result = helper.run("store", stdin=b'{"ServerURL":"q.io","Username":"u","Secret":"SEKRIT-new"', env=DEBUG)
    assert_error(result, secrets=SECRETS)
