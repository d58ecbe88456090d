"""The plugin and ``configure kubelet``'s file as the kubelet's own code sees them.

tests/kubelet/build.sh builds the Go harness in tests/kubelet/harness/ (see tests/kubelet/README.md) against
``k8s.io/kubernetes/pkg/credentialprovider/plugin``: it registers providers from a config file as the kubelet
does at start-up (reading and validating it), runs the plugin through the kubelet's exec plugin (request in the
provider's apiVersion, response decoded strictly: an unknown field or a wrong apiVersion fails), keeps the
kubelet's response cache across the images of one run, and looks images up with the kubelet's keyring.

Without Go these tests are skipped; under CI (``CI`` set) they fail instead. ``KUBELET_HARNESS=path`` uses an
already built harness. The fixtures (``harness``, ``node``) are in conftest.py, the node in provider_support.py.
"""

from __future__ import annotations

import json
import os
import stat
import sys

import pytest

from .provider_support import (
    CACHE_VAR,
    PROVIDER,
    V1,
    V1BETA1,
    answer,
    creds,
    creds_json,
    env_entry,
    fake_program,
)

REG = env_entry("reg.example.com:5000", "ci", "reg-secret")
TEAM = env_entry("reg.example.com:5000/team", "team-robot", "team-secret", "1")
GLOB = env_entry("*.corp.example", "corp", "corp-secret", "2")
HUB = env_entry("docker.io", "hubuser", "hub-secret", "3")
UBUNTU = env_entry("docker.io/ubuntu", "ubu", "ubu-secret", "4")


# --- responses, decoded strictly by the kubelet's exec plugin ---------------------------------------------------


@pytest.mark.parametrize("version", [V1, V1BETA1])
@pytest.mark.parametrize(
    ("env", "image", "key", "cache_key_type"),
    [
        (REG, "reg.example.com:5000/other/app", "reg.example.com:5000", "Registry"),
        ({**REG, **TEAM}, "reg.example.com:5000/team/app", "reg.example.com:5000/team", "Image"),
        ({**REG, **TEAM}, "reg.example.com:5000/other/app", "reg.example.com:5000", "Image"),
        (GLOB, "a.corp.example/x/y", "*.corp.example", "Registry"),
        (HUB, "docker.io/library/nginx", "docker.io", "Registry"),
        (UBUNTU, "docker.io/library/ubuntu", "docker.io/library/ubuntu", "Image"),
    ],
)
def test_responses_decode_strictly(node, version, env, image, key, cache_key_type):
    code, record = node.exec(image, env, version)
    assert code == 0 and "error" not in record, record
    response = record["response"]
    assert (response["cacheKeyType"], response["cacheDuration"]) == (cache_key_type, None)
    assert list(response["auth"]) == [key]


@pytest.mark.parametrize("version", [V1, V1BETA1])
def test_empty_answers_decode_strictly(node, version):
    code, record = node.exec("nowhere.example/app", {}, version)
    assert code == 0 and record["response"] == {"cacheKeyType": "Image", "cacheDuration": None, "auth": None}
    identity = {"IMGPKG_REGISTRY_HOSTNAME": "reg.example.com", "IMGPKG_REGISTRY_IDENTITY_TOKEN": "IDTOKEN"}
    code, record = node.exec("reg.example.com/app", identity, version)
    assert code == 0 and record["response"]["auth"] is None


@pytest.mark.parametrize(("value", "parsed"), [("5m", "5m0s"), ("1h30m", "1h30m0s"), ("0s", "0s"), ("1.5h", "1h30m0s")])
def test_cache_duration_is_read_by_the_kubelet(node, value, parsed):
    code, record = node.exec("reg.example.com:5000/app", {**REG, CACHE_VAR: value})
    assert code == 0 and record["response"]["cacheDuration"] == parsed


def test_a_failure_reaches_the_kubelet_as_an_error_with_the_line(node):
    code, record = node.exec("reg.example.com:5000/app", {**REG, CACHE_VAR: "soon"})
    assert code == 1 and CACHE_VAR in record["error"] and "reg-secret" not in record["error"]


# --- configure kubelet's file, validated and registered by the kubelet ------------------------------------------


def test_configured_file_validates(node):
    other = {
        "name": "ecr-credential-provider",
        "matchImages": ["*.dkr.ecr.*.amazonaws.com"],
        "defaultCacheDuration": "12h",
        "apiVersion": "credentialprovider.kubelet.k8s.io/v1",
    }
    node.config.write_text(
        json.dumps({"apiVersion": "kubelet.config.k8s.io/v1", "kind": "CredentialProviderConfig", "providers": [other]})
    )
    node.configure({**REG, **TEAM, **GLOB, **HUB, **UBUNTU}, "--match-image", "mirror.example.com")
    proc = node.run("validate", str(node.config))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(proc.stdout)
    assert result["valid"] is True
    assert [p["name"] for p in result["providers"]] == ["ecr-credential-provider", PROVIDER]
    ours = result["providers"][1]
    assert ours["args"] == ["kubelet"] and ours["env"] == []
    assert ours["apiVersion"] == V1 and ours["defaultCacheDuration"] == "5m0s"
    assert ours["matchImages"] == [
        "*.corp.example",
        "docker.io",
        "docker.io/library/ubuntu",
        "docker.io/ubuntu",
        "mirror.example.com",
        "reg.example.com:5000",
        "reg.example.com:5000/team",
    ]


def test_configured_file_registers_with_the_real_plugin_in_the_bin_dir(node):
    node.configure(REG)
    proc = node.run("validate", "--bin-dir", str(node.bin_dir), str(node.config))
    assert proc.returncode == 0 and json.loads(proc.stdout)["valid"] is True, proc.stdout + proc.stderr


# --- what pods get: the kubelet's keyring, matchImages and response cache ---------------------------------------


def test_path_scoped_entry_serves_its_repository_and_no_other(node):
    env = TEAM
    node.configure(env)
    team, other, prefix_only = node.lookup(
        env, "reg.example.com:5000/team/app:1", "reg.example.com:5000/other/app", "reg.example.com:5000/team-x/app"
    )
    assert team["found"] and creds(team) == [("team-robot", "team-secret")]
    assert team["execs"][0]["response"]["cacheKeyType"] == "Image"
    assert not other["found"] and other["execs"] == []  # matchImages keeps the kubelet from asking
    # The kubelet's matchImages path is a string prefix, so it asks about team-x; imgpkg's rule says no.
    assert not prefix_only["found"] and prefix_only["execs"][0]["response"]["auth"] is None


@pytest.mark.parametrize("first", ["other", "team"])
def test_registry_answer_never_hides_a_repository_entry(node, first):
    env = {**REG, **TEAM}
    node.configure(env)
    images = {"other": "reg.example.com:5000/other/app", "team": "reg.example.com:5000/team/app"}
    order = [first, *(k for k in images if k != first)]
    results = dict(zip(order, node.lookup(env, *(images[k] for k in order)), strict=True))
    assert creds(results["team"])[0] == ("team-robot", "team-secret")
    assert creds(results["other"]) == [("ci", "reg-secret")]


def test_why_registry_answers_are_per_image_here(node, tmp_path):
    # A plugin that answers per registry (the rule without the per-image exception): the kubelet then serves
    # the registry-wide credentials from its cache for the team's repository, and never asks again.
    stub = tmp_path / "stub-bin"
    stub.mkdir()
    reply = json.dumps(answer("reg.example.com:5000", "ci", "reg-secret", "Registry"))
    script = stub / PROVIDER
    script.write_text(f"#!{sys.executable}\nimport sys\nsys.stdin.read()\nprint({reply!r})\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    node.configure({**REG, **TEAM})
    proc = node.run(
        "lookup", "--config", str(node.config), "--bin-dir", str(stub),
        "reg.example.com:5000/other/app", "reg.example.com:5000/team/app",
    )  # fmt: skip
    _other, team = (json.loads(line) for line in proc.stdout.splitlines())
    assert team["execs"] == [] and creds(team) == [("ci", "reg-secret")]


def test_registry_answers_are_cached_per_registry(node):
    node.configure(REG)
    first, second = node.lookup(REG, "reg.example.com:5000/a/app", "reg.example.com:5000/b/app")
    assert first["execs"][0]["response"]["cacheKeyType"] == "Registry"
    assert second["execs"] == [] and creds(second) == [("ci", "reg-secret")]


def test_glob_entry(node):
    node.configure(GLOB)
    one, deeper, bare = node.lookup(GLOB, "a.corp.example/team/app", "b.a.corp.example/app", "corp.example/app")
    assert creds(one) == [("corp", "corp-secret")]
    assert not deeper["found"] and not bare["found"]


@pytest.mark.parametrize(
    "image", ["nginx", "nginx:1.27", "library/nginx", "docker.io/library/nginx", "docker.io/nginx"]
)
def test_docker_hub_images(node, image):
    node.configure(HUB)
    [line] = node.lookup(HUB, image)
    assert line["repository"] == "docker.io/library/nginx"
    assert creds(line) == [("hubuser", "hub-secret")]


def test_docker_hub_single_name_entry(node):
    node.configure(UBUNTU)
    ubuntu, debian = node.lookup(UBUNTU, "ubuntu:24.04", "debian")
    assert creds(ubuntu) == [("ubu", "ubu-secret")]
    assert not debian["found"]


def test_plugin_sees_request_forms_the_kubelet_might_send(node):
    # --raw: the image exactly as given, as a kubelet that did not normalise it would send it.
    env = {**HUB, **REG}
    node.configure(env)
    args = ["lookup", "--raw", "--config", str(node.config), "--bin-dir", str(node.bin_dir)]
    proc = node.run(*args, "docker.io/library/nginx", "reg.example.com:5000/app:1", env=env)
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [creds(line) for line in lines] == [[("hubuser", "hub-secret")], [("ci", "reg-secret")]]


def test_identity_token_gives_no_credentials(node):
    env = {"IMGPKG_REGISTRY_HOSTNAME": "reg.example.com", "IMGPKG_REGISTRY_IDENTITY_TOKEN": "IDTOKEN"}
    node.configure(env)
    [line] = node.lookup(env, "reg.example.com/app")
    assert not line["found"] and line["execs"][0]["response"]["auth"] is None
    assert "IDTOKEN" not in json.dumps(line)


def test_short_lived_answers_are_asked_for_at_every_pull(node, tmp_path):
    bindir = tmp_path / "cloud"
    log = fake_program(bindir, "docker-credential-gcr", creds_json("oauth2accesstoken", "ya29.short"))
    env = {"PATH": f"{bindir}:{os.environ.get('PATH', '/usr/bin:/bin')}", "IMGPKG_ACTIVE_KEYCHAINS": "gke"}
    node.configure(env, "--match-image", "gcr.io")
    first, second = node.lookup(env, "gcr.io/proj/app", "gcr.io/proj/app")
    assert creds(first) == creds(second) == [("oauth2accesstoken", "ya29.short")]
    assert first["execs"][0]["response"]["cacheDuration"] == "0s"
    assert len(second["execs"]) == 1  # not served from the cache
    assert log.read_text().count("call") == 2
