"""``docker-credential-imgpkg configure kubelet --config FILE [--dry-run]``, through the real program."""

from __future__ import annotations

import json
import stat
import subprocess

import pytest

from .provider_support import PROVIDER, b64, env_entry, seed_store

ENV = {
    **env_entry("reg.example.com:5000", "ci", "reg-secret"),
    **env_entry("https://Reg.Example.com:5000/v2/team/", "team", "team-secret", "1"),
    **env_entry("*.corp.example", "corp", "corp-secret", "2"),
    **env_entry("index.docker.io/ubuntu", "ubu", "ubu-secret", "3"),
}
ENV_PATTERNS = [
    "*.corp.example",
    "docker.io/library/ubuntu",
    "docker.io/ubuntu",
    "reg.example.com:5000",
    "reg.example.com:5000/team",
]
SECRETS = ("reg-secret", "team-secret", "corp-secret", "ubu-secret")
OTHER = {
    "name": "ecr-credential-provider",
    "matchImages": ["*.dkr.ecr.*.amazonaws.com"],
    "defaultCacheDuration": "12h",
    "apiVersion": "credentialprovider.kubelet.k8s.io/v1",
}


def configure(helper, path, *extra, env=None):
    return helper.run("configure", "kubelet", "--config", str(path), *extra, env=env)


def ours(doc: dict) -> dict:
    [provider] = [p for p in doc["providers"] if p["name"] == PROVIDER]
    return provider


def test_new_file(helper, tmp_path):
    path = tmp_path / "etc" / "credential-providers.json"
    result = configure(helper, path, env=ENV)
    assert result.returncode == 0, result
    assert json.loads(path.read_text()) == {
        "apiVersion": "kubelet.config.k8s.io/v1",
        "kind": "CredentialProviderConfig",
        "providers": [
            {
                "name": PROVIDER,
                "matchImages": ENV_PATTERNS,
                "defaultCacheDuration": "5m",
                "apiVersion": "credentialprovider.kubelet.k8s.io/v1",
                "args": ["kubelet"],
            }
        ],
    }
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert f"{path}: added provider" in result.stdout


def test_no_secret_in_the_file_or_the_output(helper, tmp_path):
    path = tmp_path / "cp.json"
    result = configure(helper, path, env=ENV)
    for secret in SECRETS:
        assert secret not in path.read_text() + result.stdout + result.stderr
        for name in ENV:
            assert name not in path.read_text()


def test_patterns_from_the_store_and_docker_config(helper, tmp_path):
    seed_store(
        helper, {"quay.io": ("s", "1"), "quay.io/ns/repo": ("s", "2"), "https://index.docker.io/v1/": ("h", "3")}
    )
    helper.write_docker_config(
        {"auths": {"https://ghcr.io/v2/": {"auth": b64("a:b")}, "https://index.docker.io/v1/access-token": {}}}
    )
    inline = json.dumps({"auths": {"inline.example:8443": {"auth": b64("c:d")}}})
    path = tmp_path / "cp.json"
    assert configure(helper, path, env={"DOCKER_AUTH_CONFIG": inline}).returncode == 0
    assert ours(json.loads(path.read_text()))["matchImages"] == [
        "docker.io",
        "ghcr.io",
        "inline.example:8443",
        "quay.io",
        "quay.io/ns/repo",
    ]


def test_match_image_option_adds_normalised_patterns(helper, tmp_path):
    path = tmp_path / "cp.json"
    extra = ("--match-image", "https://Mirror.Example.com/v2/", "--match-image", "*.internal.example/team")
    assert configure(helper, path, *extra).returncode == 0
    assert ours(json.loads(path.read_text()))["matchImages"] == ["*.internal.example/team", "mirror.example.com"]


def test_bad_match_image_is_refused(helper, tmp_path):
    result = configure(helper, tmp_path / "cp.json", "--match-image", "reg.example.com:port")
    assert result.returncode == 1 and "--match-image" in result.stderr
    assert not (tmp_path / "cp.json").exists()


def test_nothing_to_match_is_refused_with_a_hint(helper, tmp_path):
    result = configure(helper, tmp_path / "cp.json")
    assert result.returncode == 1
    assert "--match-image" in result.stderr and "IMGPKG_REGISTRY_HOSTNAME" in result.stderr
    assert not (tmp_path / "cp.json").exists()


def test_second_run_changes_nothing(helper, tmp_path):
    path = tmp_path / "cp.json"
    assert configure(helper, path, env=ENV).returncode == 0
    before, stamp = path.read_bytes(), path.stat().st_mtime_ns
    result = configure(helper, path, env=ENV)
    assert result.returncode == 0 and "already configured, nothing to change" in result.stdout
    assert (path.read_bytes(), path.stat().st_mtime_ns) == (before, stamp)
    dry = configure(helper, path, "--dry-run", env=ENV)
    assert dry.stdout == f"{path}: no change\n"


def test_other_providers_and_fields_are_kept(helper, tmp_path):
    path = tmp_path / "cp.json"
    doc = {"kind": "CredentialProviderConfig", "apiVersion": "kubelet.config.k8s.io/v1", "providers": [OTHER]}
    path.write_text(json.dumps(doc, indent=4))
    path.chmod(0o644)
    assert configure(helper, path, env=ENV).returncode == 0
    written = json.loads(path.read_text())
    assert list(written) == ["kind", "apiVersion", "providers"]
    assert written["providers"][0] == OTHER
    assert [p["name"] for p in written["providers"]] == ["ecr-credential-provider", PROVIDER]
    assert path.read_text().startswith('{\n    "kind"')  # the file's own indentation
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_existing_provider_gets_new_patterns_and_keeps_the_users_choices(helper, tmp_path):
    path = tmp_path / "cp.json"
    mine = {
        "name": PROVIDER,
        "matchImages": ["hand.example", "reg.example.com:5000"],
        "defaultCacheDuration": "1h",
        "apiVersion": "credentialprovider.kubelet.k8s.io/v1beta1",
        "args": ["wrong"],
    }
    doc = {"apiVersion": "kubelet.config.k8s.io/v1", "kind": "CredentialProviderConfig", "providers": [mine, OTHER]}
    path.write_text(json.dumps(doc))
    result = configure(helper, path, env=ENV)
    assert result.returncode == 0, result
    provider = ours(json.loads(path.read_text()))
    assert provider["matchImages"] == [
        "hand.example",
        "reg.example.com:5000",
        "*.corp.example",
        "docker.io/library/ubuntu",
        "docker.io/ubuntu",
        "reg.example.com:5000/team",
    ]
    assert provider["args"] == ["kubelet"]
    assert provider["defaultCacheDuration"] == "1h"
    assert provider["apiVersion"] == "credentialprovider.kubelet.k8s.io/v1beta1"  # the plugin speaks it too
    assert "tokenAttributes" not in provider
    assert json.loads(path.read_text())["providers"][1] == OTHER


def test_new_registry_is_added_on_a_later_run(helper, tmp_path):
    path = tmp_path / "cp.json"
    assert configure(helper, path, env=env_entry("a.example", "u", "p")).returncode == 0
    env = {**env_entry("a.example", "u", "p"), **env_entry("b.example", "u", "p", "B")}
    result = configure(helper, path, env=env)
    assert "matchImages += b.example" in result.stdout
    assert ours(json.loads(path.read_text()))["matchImages"] == ["a.example", "b.example"]


def test_unsupported_plugin_api_version_is_replaced(helper, tmp_path):
    path = tmp_path / "cp.json"
    mine = {"name": PROVIDER, "matchImages": ["a.example"], "defaultCacheDuration": "5m", "args": ["kubelet"]}
    mine["apiVersion"] = "credentialprovider.kubelet.k8s.io/v1alpha1"
    doc = {"apiVersion": "kubelet.config.k8s.io/v1", "kind": "CredentialProviderConfig", "providers": [mine]}
    path.write_text(json.dumps(doc))
    assert configure(helper, path, env=env_entry("a.example", "u", "p")).returncode == 0
    assert ours(json.loads(path.read_text()))["apiVersion"] == "credentialprovider.kubelet.k8s.io/v1"


def test_empty_file_is_filled(helper, tmp_path):
    path = tmp_path / "cp.json"
    path.write_text("")
    assert configure(helper, path, env=env_entry("a.example", "u", "p")).returncode == 0
    assert json.loads(path.read_text())["kind"] == "CredentialProviderConfig"


YAML = """apiVersion: kubelet.config.k8s.io/v1
kind: CredentialProviderConfig
providers:
  - name: ecr-credential-provider
    matchImages: ["*.dkr.ecr.*.amazonaws.com"]
    defaultCacheDuration: 12h
    apiVersion: credentialprovider.kubelet.k8s.io/v1
"""


@pytest.mark.parametrize("text", [YAML, '{"apiVersion": "kubelet.config.k8s.io/v1", "providers": [', "[]"])
def test_file_that_is_not_a_json_object_is_refused_with_the_block_to_paste(helper, tmp_path, text):
    path = tmp_path / "cp.yaml"
    path.write_text(text)
    result = configure(helper, path, env=ENV)
    assert result.returncode == 1
    assert path.read_text() == text
    assert str(path) in result.stderr
    assert f'  - name: "{PROVIDER}"' in result.stdout and '      - "reg.example.com:5000/team"' in result.stdout
    block = json.loads(result.stdout.strip().splitlines()[-1])
    assert block["name"] == PROVIDER and block["args"] == ["kubelet"]
    assert "reg.example.com:5000/team" in block["matchImages"]
    for secret in SECRETS:
        assert secret not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("doc", "fragment"),
    [
        ({"apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration"}, "not a CredentialProvider"),
        ({"kind": "CredentialProviderConfig"}, "not a CredentialProviderConfig"),
        ({"apiVersion": "kubelet.config.k8s.io/v1", "kind": "CredentialProviderConfig", "providers": {}}, "providers"),
        ({"apiVersion": "kubelet.config.k8s.io/v1", "kind": "CredentialProviderConfig", "providers": [1]}, "providers"),
        (
            {
                "apiVersion": "kubelet.config.k8s.io/v1",
                "kind": "CredentialProviderConfig",
                "providers": [{"name": PROVIDER, "matchImages": "a.example"}],
            },
            "matchImages",
        ),
        (
            {
                "apiVersion": "kubelet.config.k8s.io/v1",
                "kind": "CredentialProviderConfig",
                "providers": [{"name": PROVIDER}, {"name": PROVIDER}],
            },
            "2 times",
        ),
    ],
)
def test_json_that_is_not_a_usable_config_is_refused(helper, tmp_path, doc, fragment):
    path = tmp_path / "cp.json"
    text = json.dumps(doc)
    path.write_text(text)
    result = configure(helper, path, env=ENV)
    assert result.returncode == 1 and fragment in result.stderr, result
    assert path.read_text() == text


def test_dry_run_shows_the_diff_and_writes_nothing(helper, tmp_path):
    path = tmp_path / "cp.json"
    result = configure(helper, path, "--dry-run", env=ENV)
    assert result.returncode == 0
    assert not path.exists()
    assert result.stdout.startswith(f"--- /dev/null\n+++ {path}\n")
    assert '+      "name": "docker-credential-imgpkg",' in result.stdout
    assert "--image-credential-provider-config" not in result.stdout  # the next steps went to stderr
    assert "--image-credential-provider-config" in result.stderr


def test_dry_run_on_an_existing_file(helper, tmp_path):
    path = tmp_path / "cp.json"
    assert configure(helper, path, env=env_entry("a.example", "u", "p")).returncode == 0
    before = path.read_text()
    env = {**env_entry("a.example", "u", "p"), **env_entry("b.example", "u", "p", "B")}
    result = configure(helper, path, "--dry-run", env=env)
    assert '+        "b.example"' in result.stdout
    assert path.read_text() == before


def test_prints_the_kubelet_flags_and_a_safe_environment_file(helper, tmp_path):
    path = tmp_path / "cp.json"
    result = configure(helper, path, "--bin-dir", "/opt/kubelet-plugins", env=ENV)
    out = result.stdout
    assert f"--image-credential-provider-config={path}" in out
    assert "--image-credential-provider-bin-dir=/opt/kubelet-plugins" in out
    assert f"/opt/kubelet-plugins/{PROVIDER}" in out
    assert "EnvironmentFile=" in out and "0600" in out and "kubelet.service.d" in out
    assert '"env"' in out  # says why not the config's env


def test_relative_config_path_is_printed_absolute(helper, tmp_path):
    env = {**helper.env, **env_entry("a.example", "u", "p")}
    args = [helper.program, "configure", "kubelet", "--config", "cp.json"]
    result = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result
    assert f"--image-credential-provider-config={tmp_path / 'cp.json'}" in result.stdout
    assert (tmp_path / "cp.json").exists()


def test_warns_about_secrets_in_the_providers_env(helper, tmp_path):
    path = tmp_path / "cp.json"
    mine = {
        "name": PROVIDER,
        "matchImages": ["a.example"],
        "defaultCacheDuration": "5m",
        "apiVersion": "credentialprovider.kubelet.k8s.io/v1",
        "args": ["kubelet"],
        "env": [{"name": "IMGPKG_REGISTRY_PASSWORD", "value": "plain-secret"}],
    }
    path.write_text(
        json.dumps({"apiVersion": "kubelet.config.k8s.io/v1", "kind": "CredentialProviderConfig", "providers": [mine]})
    )
    result = configure(helper, path, env=env_entry("a.example", "u", "p"))
    assert "IMGPKG_REGISTRY_PASSWORD" in result.stderr and "plain text" in result.stderr
    assert "plain-secret" not in result.stderr + result.stdout


def test_global_credentials_warn_that_matchimages_cannot_say_every_registry(helper, tmp_path):
    env = {"IMGPKG_USERNAME": "g", "IMGPKG_PASSWORD": "p", **env_entry("a.example", "u", "p")}
    result = configure(helper, tmp_path / "cp.json", env=env)
    assert result.returncode == 0 and "IMGPKG_USERNAME" in result.stderr


def test_unusable_env_is_refused(helper, tmp_path):
    result = configure(helper, tmp_path / "cp.json", env={"IMGPKG_REGISTRY_HOSTNAMEX": "a.example"})
    assert result.returncode == 1 and "Unknown env variable" in result.stderr


def test_configure_without_client_names_kubelet(helper):
    result = helper.run("configure")
    assert result.returncode == 2 and "kubelet" in result.stderr
