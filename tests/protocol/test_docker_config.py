"""Docker's own ``auths``: ``DOCKER_AUTH_CONFIG``, then ``$DOCKER_CONFIG/config.json`` or ``~/.docker/config.json``."""

from __future__ import annotations

import json

import pytest

from .support import assert_creds, assert_error, assert_not_found, b64, calls, fake_program


def cfg(**auths: object) -> dict:
    return {"auths": auths}


def test_auth_field_split_at_first_colon(helper):
    helper.write_docker_config({"auths": {"quay.io": {"auth": b64("alice:pa:ss:")}}})
    assert_creds(helper.get("quay.io"), "quay.io", "alice", "pa:ss:")


def test_plain_username_password(helper):
    helper.write_docker_config({"auths": {"quay.io": {"username": "alice", "password": "pw"}}})
    assert_creds(helper.get("quay.io"), "quay.io", "alice", "pw")


def test_auth_overrides_plain_fields(helper):
    helper.write_docker_config({"auths": {"quay.io": {"auth": b64("a:b"), "username": "x", "password": "y"}}})
    assert_creds(helper.get("quay.io"), "quay.io", "a", "b")


def test_identitytoken(helper):
    helper.write_docker_config({"auths": {"quay.io": {"identitytoken": "refresh"}}})
    assert_creds(helper.get("quay.io"), "quay.io", "<token>", "refresh")


def test_placeholder_is_not_a_credential(helper):
    helper.write_docker_config({"auths": {"quay.io": {}}, "credsStore": "imgpkg"})
    assert_not_found(helper.get("quay.io"))


def test_docker_config_dir_env(helper):
    helper.write_docker_config({"auths": {"quay.io": {"auth": b64("dc:pw")}}})
    home_config = helper.home / ".docker" / "config.json"
    home_config.parent.mkdir()
    home_config.write_text(json.dumps({"auths": {"quay.io": {"auth": b64("home:pw")}}}))
    assert_creds(helper.get("quay.io"), "quay.io", "dc", "pw")
    del helper.env["DOCKER_CONFIG"]
    assert_creds(helper.get("quay.io"), "quay.io", "home", "pw")


def test_docker_config_dir_without_file_does_not_fall_back_to_home(helper):
    helper.docker_config_dir.mkdir()
    home_config = helper.home / ".docker" / "config.json"
    home_config.parent.mkdir()
    home_config.write_text(json.dumps({"auths": {"quay.io": {"auth": b64("home:pw")}}}))
    assert_not_found(helper.get("quay.io"))


def test_docker_auth_config_is_consulted_before_the_file(helper):
    helper.write_docker_config({"auths": {"quay.io": {"auth": b64("file:pw")}, "gcr.io": {"auth": b64("f2:pw")}}})
    env = {"DOCKER_AUTH_CONFIG": json.dumps({"auths": {"quay.io": {"auth": b64("inline:pw")}}})}
    assert_creds(helper.get("quay.io", env=env), "quay.io", "inline", "pw")
    assert_creds(helper.get("gcr.io", env=env), "gcr.io", "f2", "pw")


def test_docker_auth_config_alone(helper):
    env = {"DOCKER_AUTH_CONFIG": json.dumps({"auths": {"https://quay.io/v2/": {"auth": b64("inline:pw")}}})}
    assert_creds(helper.get("quay.io", env=env), "quay.io", "inline", "pw")


def test_docker_auth_config_placeholder_falls_through_to_file(helper):
    helper.write_docker_config({"auths": {"quay.io": {"auth": b64("file:pw")}}})
    env = {"DOCKER_AUTH_CONFIG": json.dumps({"auths": {"quay.io": {}}})}
    assert_creds(helper.get("quay.io", env=env), "quay.io", "file", "pw")


def test_malformed_docker_auth_config(helper):
    env = {"DOCKER_AUTH_CONFIG": '{"auths": {"quay.io": {"auth": "c2VjcmV0OnRvcHNlY3JldA=="}'}
    assert_error(helper.get("quay.io", env=env), "DOCKER_AUTH_CONFIG", secrets=("c2VjcmV0OnRvcHNlY3JldA==",))


@pytest.mark.parametrize(
    ("key", "request_"),
    [
        ("quay.io", "quay.io"),
        ("https://quay.io", "quay.io"),
        ("https://quay.io/v2/", "quay.io"),
        ("http://quay.io/v1/", "quay.io"),
        ("http://localhost:9999/v1/", "localhost:9999/imgpkg_test"),  # upstream imgpkg keychain test
        ("myreg.example.com:5000", "https://myreg.example.com:5000/v2/"),
        ("https://MyReg.Example.com:5000", "myreg.example.com:5000"),
        ("quay.io", "quay.io/ns/repo"),
        ("quay.io/ns", "quay.io/ns/repo"),
        ("quay.io/ns/repo", "quay.io/ns/repo"),
        ("quay.io/ns/", "quay.io/ns/repo"),
        ("weird key that is not a host", "weird key that is not a host"),  # exact match first
    ],
)
def test_key_matching(helper, key, request_):
    helper.write_docker_config({"auths": {key: {"auth": b64("alice:pw")}}})
    assert_creds(helper.get(request_), request_, "alice", "pw")


@pytest.mark.parametrize(
    ("key", "request_"),
    [
        ("quay.io", "quay.io:5000"),
        ("quay.io:5000", "quay.io"),
        ("quay.io/ns", "quay.io/other/repo"),
        ("quay.io/ns", "quay.io/nsx/repo"),
        ("quay.io", "sub.quay.io"),
        ("quay.io.evil.com", "quay.io"),
    ],
)
def test_key_non_matching(helper, key, request_):
    helper.write_docker_config({"auths": {key: {"auth": b64("alice:pw")}}})
    assert_not_found(helper.get(request_))


def test_most_specific_key_wins(helper):
    helper.write_docker_config(
        cfg(
            **{
                "quay.io": {"auth": b64("host:pw")},
                "quay.io/ns": {"auth": b64("ns:pw")},
                "quay.io/ns/repo": {"auth": b64("repo:pw")},
            }
        )
    )
    assert_creds(helper.get("quay.io/ns/repo"), "quay.io/ns/repo", "repo", "pw")
    assert_creds(helper.get("quay.io/ns/other"), "quay.io/ns/other", "ns", "pw")
    assert_creds(helper.get("quay.io/other/x"), "quay.io/other/x", "host", "pw")
    assert_creds(helper.get("quay.io"), "quay.io", "host", "pw")


def test_bare_host_falls_back_to_first_namespaced_key_in_sort_order(helper):
    helper.write_docker_config(
        cfg(**{"quay.io/zeta": {"auth": b64("z:pw")}, "quay.io/alpha": {"auth": b64("a:pw")}, "b.io": {}})
    )
    assert_creds(helper.get("quay.io"), "quay.io", "a", "pw")
    assert_not_found(helper.get("quay.io/beta/x"))


def test_exact_spelling_wins_over_normalised_alias(helper):
    helper.write_docker_config(
        cfg(**{"https://quay.io": {"auth": b64("scheme:pw")}, "quay.io": {"auth": b64("plain:pw")}})
    )
    assert_creds(helper.get("https://quay.io"), "https://quay.io", "scheme", "pw")
    assert_creds(helper.get("quay.io"), "quay.io", "plain", "pw")


def test_bad_entry_elsewhere_does_not_break_the_lookup(helper):
    helper.write_docker_config(
        cfg(
            **{
                "quay.io": {"auth": b64("alice:pw")},
                "bad.io": {"auth": "!!!not-base64"},
                "nocolon.io": {"auth": b64("nocolon")},
                "wrongtype.io": {"auth": 42},
                "notobject.io": "x",
                "rt.io": {"registrytoken": "rt"},
            }
        )
    )
    assert_creds(helper.get("quay.io"), "quay.io", "alice", "pw")


@pytest.mark.parametrize(
    ("entry", "fragment"),
    [
        ({"auth": "!!!c2VjcmV0"}, "base64"),
        ({"auth": "c2VjcmV0"}, "auth"),  # "secret": no colon
        ({"auth": b64(":secret-pw")}, "auth"),  # empty username
        ({"auth": "c2VjcmV0OnB3"[:-1]}, "base64"),  # bad padding
        ({"auth": "/w=="}, "auth"),  # not UTF-8
        ({"auth": 42}, "auth"),
        ({"identitytoken": ["secret-id"]}, "identitytoken"),
        ("secret-string-entry", "quay.io"),
    ],
    ids=["not-base64", "no-colon", "empty-user", "padding", "not-utf8", "number", "token-list", "not-object"],
)
def test_bad_answering_entry_is_a_specific_error(helper, entry, fragment):
    path = helper.write_docker_config({"auths": {"quay.io": entry}})
    out = assert_error(
        helper.get("quay.io"), fragment, secrets=("c2VjcmV0", "secret-pw", "secret-id", "secret-string-entry")
    )
    assert str(path) in out and "quay.io" in out


def test_registrytoken_only_entry_gets_a_clear_error(helper):
    helper.write_docker_config({"auths": {"quay.io": {"registrytoken": "bearer-secret"}}})
    out = assert_error(helper.get("quay.io"), "registry", secrets=("bearer-secret",))
    assert "identity token" in out or "identitytoken" in out


def test_registrytoken_with_basic_answers_basic(helper):
    helper.write_docker_config({"auths": {"quay.io": {"registrytoken": "rt", "auth": b64("alice:pw")}}})
    assert_creds(helper.get("quay.io"), "quay.io", "alice", "pw")


@pytest.mark.parametrize(
    "text",
    ['{"auths": {"quay.io": {"auth": "c2VjcmV0OnB3"}', "[]", '{"auths": []}', "\xff not json"],
    ids=["truncated", "array", "auths-array", "garbage"],
)
def test_malformed_config_json_is_a_short_error_naming_the_file(helper, text):
    path = helper.write_docker_config(text)
    assert_error(helper.get("quay.io"), str(path), secrets=("c2VjcmV0OnB3",))


def test_malformed_config_json_does_not_matter_when_an_earlier_source_answers(helper):
    helper.write_docker_config("{not json")
    assert helper.store("quay.io", "stored", "s").returncode == 0
    assert_creds(helper.get("quay.io"), "quay.io", "stored", "s")


def test_empty_config_file_is_no_credentials(helper):
    helper.write_docker_config("")
    assert_not_found(helper.get("quay.io"))


def test_other_helpers_named_in_the_file_are_never_called(helper, tmp_path):
    bindir = tmp_path / "bin"
    logs = [
        fake_program(bindir, name, reply='{"Username":"evil","Secret":"evil"}')
        for name in ("docker-credential-desktop", "docker-credential-gcloud", "docker-credential-imgpkg")
    ]
    helper.env["PATH"] = f"{bindir}:{helper.env['PATH']}"
    helper.write_docker_config(
        {
            "auths": {"quay.io": {}},
            "credsStore": "desktop",
            "credHelpers": {"gcr.io": "gcloud", "quay.io": "imgpkg", "https://index.docker.io/v1/": "imgpkg"},
        }
    )
    for request_ in ("quay.io", "gcr.io", "https://index.docker.io/v1/", "ghcr.io"):
        assert_not_found(helper.get(request_))
    assert helper.list().stdout == "{}\n"
    assert [calls(log) for log in logs] == [[], [], []]


def test_recursion_through_this_helper_does_not_happen(helper, tmp_path):
    # config.json names this very program as the credential store: the lookup must not call itself.
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "docker-credential-imgpkg").symlink_to(helper.program)
    helper.env["PATH"] = f"{bindir}:{helper.env['PATH']}"
    helper.write_docker_config({"auths": {"quay.io": {}}, "credsStore": "imgpkg", "credHelpers": {"gcr.io": "imgpkg"}})
    assert_not_found(helper.run("get", stdin="quay.io", timeout=10))
    assert_not_found(helper.run("get", stdin="gcr.io", timeout=10))
