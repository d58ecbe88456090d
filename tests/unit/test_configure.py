"""``configure``, in process: client config files edited atomically, minimally, idempotently; unparseable files
refused. (That the program dispatches ``configure`` is in tests/protocol/test_cli.py.)"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from docker_credential_imgpkg.commands.configure import command
from docker_credential_imgpkg.commands.configure.docker import credhelper_keys
from docker_credential_imgpkg.commands.configure.edit import ConfigureError

HUB = ["https://index.docker.io/v1/", "docker.io"]


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith(("IMGPKG_", "DOCKER_")) or name in ("REGISTRY_AUTH_FILE", "XDG_CONFIG_HOME"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
    return tmp_path


def run(*args: str) -> int:
    return command.main(list(args), os.environ)


def docker_file(root: Path) -> Path:
    return root / "docker" / "config.json"


def write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    return path


# -- registry names -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "given",
    ["docker.io", "index.docker.io", "registry-1.docker.io", "https://index.docker.io/v1/", "Docker.IO",
     "https://registry-1.docker.io/v2/", "index.docker.io/"],
)  # fmt: skip
def test_every_hub_spelling_gives_both_hub_keys(given: str) -> None:
    assert credhelper_keys(given) == HUB


@pytest.mark.parametrize(
    ("given", "key"),
    [
        ("127.0.0.1:5000", "127.0.0.1:5000"),
        ("https://Reg.Example.COM:5000/v2/", "reg.example.com:5000"),
        ("http://localhost:5000", "localhost:5000"),
        ("https://gcr.io/v1/", "gcr.io"),
        ("ghcr.io/", "ghcr.io"),
        ("  quay.io  ", "quay.io"),
        ("[::1]:5000", "[::1]:5000"),
        ("https://[::1]:6555/v2/", "[::1]:6555"),
        ("my_registry.local", "my_registry.local"),
    ],
)
def test_other_hosts_are_normalised_to_host_and_port(given: str, key: str) -> None:
    assert credhelper_keys(given) == [key]


@pytest.mark.parametrize(
    "given", ["", "   ", "gcr.io/my-project", "https://gcr.io/proj/img", "ftp://gcr.io", "user:pw@gcr.io",
              "https://user@gcr.io", "*.gcr.io", "gcr io", "https://gcr.io/?x=1", "-bad.example"],
)  # fmt: skip
def test_names_that_cannot_be_a_credhelpers_key_are_refused(given: str) -> None:
    with pytest.raises(ConfigureError):
        credhelper_keys(given)


def test_refusal_of_a_url_with_credentials_does_not_echo_the_password(env: Path, capsys) -> None:
    assert run("docker", "--registry", "https://alice:s3cr3t@gcr.io") == 1
    err = capsys.readouterr().err
    assert "credentials" in err and "s3cr3t" not in err


# -- configure docker -----------------------------------------------------------------------------------------


def test_docker_creates_config_with_credsstore_private_modes(env: Path, capsys) -> None:
    assert run("docker") == 0
    path = docker_file(env)
    assert json.loads(path.read_text()) == {"credsStore": "imgpkg"}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert "credsStore" in capsys.readouterr().out


def test_docker_creates_missing_parent_directories_0700(env: Path, monkeypatch) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(env / "a" / "b" / "c"))
    assert run("docker") == 0
    for d in (env / "a", env / "a" / "b", env / "a" / "b" / "c"):
        assert stat.S_IMODE(d.stat().st_mode) == 0o700


def test_docker_without_docker_config_uses_home(env: Path, monkeypatch) -> None:
    monkeypatch.delenv("DOCKER_CONFIG")
    assert run("docker") == 0
    assert json.loads((env / "home" / ".docker" / "config.json").read_text()) == {"credsStore": "imgpkg"}


def test_docker_preserves_other_keys_order_and_mode(env: Path) -> None:
    original = {
        "auths": {"ghcr.io": {"auth": "dTpw"}, "quay.io": {}},
        "credsStore": "desktop",
        "HttpHeaders": {"User-Agent": "x"},
        "credHelpers": {"gcr.io": "gcloud"},
        "psFormat": "table {{.ID}}",
        "unknownFutureKey": [1, {"nested": True}],
    }
    path = write(docker_file(env), json.dumps(original, indent="\t") + "\n", 0o644)
    assert run("docker") == 0
    result = json.loads(path.read_text())
    assert list(result) == list(original)
    assert result == {**original, "credsStore": "imgpkg"}
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_docker_replacing_another_credsstore_warns(env: Path, capsys) -> None:
    write(docker_file(env), '{"credsStore": "desktop"}')
    assert run("docker") == 0
    assert "desktop" in capsys.readouterr().err


def test_docker_registry_adds_credhelpers_only(env: Path) -> None:
    path = write(docker_file(env), json.dumps({"credsStore": "pass", "credHelpers": {"gcr.io": "gcloud"}}))
    assert run("docker", "--registry", "docker.io", "--registry", "https://127.0.0.1:5000/v2/") == 0
    result = json.loads(path.read_text())
    assert result["credsStore"] == "pass"
    assert result["credHelpers"] == {
        "gcr.io": "gcloud",
        "https://index.docker.io/v1/": "imgpkg",
        "docker.io": "imgpkg",
        "127.0.0.1:5000": "imgpkg",
    }


def test_docker_registry_repeated_spellings_are_one_entry(env: Path) -> None:
    assert run("docker", "--registry", "index.docker.io", "--registry", "docker.io", "--registry", "Q.io",
               "--registry", "https://q.io/v2/") == 0  # fmt: skip
    assert json.loads(docker_file(env).read_text())["credHelpers"] == {**dict.fromkeys(HUB, "imgpkg"), "q.io": "imgpkg"}


def test_docker_is_idempotent_second_run_does_not_write(env: Path, capsys) -> None:
    assert run("docker", "--registry", "docker.io") == 0
    path = docker_file(env)
    before = path.stat()
    text = path.read_text()
    capsys.readouterr()
    assert run("docker", "--registry", "docker.io") == 0
    after = path.stat()
    assert path.read_text() == text
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert "already configured" in capsys.readouterr().out


def test_docker_dry_run_shows_a_diff_and_writes_nothing(env: Path, capsys) -> None:
    assert run("docker", "--dry-run") == 0
    out = capsys.readouterr().out
    assert out.startswith("--- /dev/null\n+++ ")
    assert '+\t"credsStore": "imgpkg"' in out
    assert not docker_file(env).exists()
    assert not docker_file(env).parent.exists()


def test_dry_run_on_an_existing_file_hides_secrets_in_context(env: Path, capsys) -> None:
    text = '{\n  "auths": {\n    "ghcr.io": {\n      "auth": "c2VjcmV0OnBhc3M="\n    }\n  }\n}\n'
    path = write(docker_file(env), text)
    assert run("docker", "--dry-run") == 0
    out = capsys.readouterr().out
    assert '+  "credsStore": "imgpkg"' in out
    assert "c2VjcmV0OnBhc3M=" not in out
    assert path.read_text() == text


def test_existing_indentation_is_kept(env: Path) -> None:
    path = write(docker_file(env), '{\n    "auths": {}\n}\n')
    assert run("docker") == 0
    assert path.read_text() == '{\n    "auths": {},\n    "credsStore": "imgpkg"\n}\n'


def test_empty_file_is_treated_as_an_empty_config(env: Path) -> None:
    path = write(docker_file(env), "")
    assert run("docker") == 0
    assert json.loads(path.read_text()) == {"credsStore": "imgpkg"}


@pytest.mark.parametrize(
    "text",
    ['{"auths": ', "[]", '"x"', "null", '{"credHelpers": ["gcr.io"]}', '{"credsStore": 1}', b"\xff\xfe{}"],
)
def test_unparseable_or_unexpected_files_are_refused_untouched(env: Path, capsys, text: str | bytes) -> None:
    path = docker_file(env)
    path.parent.mkdir(parents=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    before = path.read_bytes()
    registry_args = ["--registry", "gcr.io"] if "credHelpers" in str(text) else []
    assert run("docker", *registry_args) == 1
    err = capsys.readouterr().err
    assert "refusing to edit" in err and str(path) in err
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["config.json"]


def test_parse_error_message_does_not_quote_the_file(env: Path, capsys) -> None:
    write(docker_file(env), '{"auths": {"ghcr.io": {"auth": "c2VjcmV0"}} oops')
    assert run("docker") == 1
    assert "c2VjcmV0" not in capsys.readouterr().err


def test_symlinked_config_is_edited_through_the_link(env: Path) -> None:
    real = write(env / "dotfiles" / "docker.json", '{"auths": {}}', 0o640)
    link = docker_file(env)
    link.parent.mkdir(parents=True)
    link.symlink_to(real)
    assert run("docker") == 0
    assert link.is_symlink()
    assert json.loads(real.read_text()) == {"auths": {}, "credsStore": "imgpkg"}
    assert stat.S_IMODE(real.stat().st_mode) == 0o640


def test_file_option_overrides_the_location(env: Path) -> None:
    target = env / "elsewhere.json"
    assert run("docker", "--file", str(target)) == 0
    assert json.loads(target.read_text()) == {"credsStore": "imgpkg"}
    assert not docker_file(env).exists()


def test_failed_replace_leaves_the_original_and_no_temp_file(env: Path, monkeypatch, capsys) -> None:
    path = write(docker_file(env), '{"auths": {}}')

    def boom(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    assert run("docker") == 1
    assert path.read_text() == '{"auths": {}}'
    assert sorted(p.name for p in path.parent.iterdir()) == ["config.json"]
    assert "No space left" in capsys.readouterr().err


def test_no_temp_files_are_left_after_success(env: Path) -> None:
    assert run("docker") == 0
    assert sorted(p.name for p in docker_file(env).parent.iterdir()) == ["config.json"]


# -- configure containers -------------------------------------------------------------------------------------


def test_containers_writes_credhelpers_in_xdg_auth_json(env: Path) -> None:
    assert run("containers", "--registry", "docker.io", "--registry", "127.0.0.1:5000") == 0
    path = env / "xdg" / "containers" / "auth.json"
    assert json.loads(path.read_text()) == {"credHelpers": {**dict.fromkeys(HUB, "imgpkg"), "127.0.0.1:5000": "imgpkg"}}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not docker_file(env).exists()


def test_containers_without_xdg_config_home_uses_dot_config(env: Path, monkeypatch) -> None:
    monkeypatch.delenv("XDG_CONFIG_HOME")
    assert run("containers", "--registry", "quay.io") == 0
    assert (env / "home" / ".config" / "containers" / "auth.json").exists()


def test_containers_follows_registry_auth_file(env: Path, monkeypatch) -> None:
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(env / "ci-auth.json"))
    assert run("containers", "--registry", "quay.io") == 0
    assert json.loads((env / "ci-auth.json").read_text()) == {"credHelpers": {"quay.io": "imgpkg"}}


def test_containers_keeps_auths_and_never_writes_credsstore(env: Path) -> None:
    path = write(env / "xdg" / "containers" / "auth.json", '{"auths": {"quay.io": {"auth": "dTpw"}}}')
    assert run("containers", "--registry", "ghcr.io") == 0
    assert json.loads(path.read_text()) == {
        "auths": {"quay.io": {"auth": "dTpw"}},
        "credHelpers": {"ghcr.io": "imgpkg"},
    }


def test_containers_requires_a_registry(env: Path, capsys) -> None:
    assert run("containers") == 2
    assert "--registry" in capsys.readouterr().err


def test_containers_is_idempotent(env: Path, capsys) -> None:
    assert run("containers", "--registry", "docker.io") == 0
    capsys.readouterr()
    assert run("containers", "--registry", "registry-1.docker.io") == 0
    assert "already configured" in capsys.readouterr().out


def test_overwriting_another_helper_entry_warns(env: Path, capsys) -> None:
    write(env / "xdg" / "containers" / "auth.json", '{"credHelpers": {"gcr.io": "gcloud"}}')
    assert run("containers", "--registry", "gcr.io") == 0
    assert "gcloud" in capsys.readouterr().err


# -- command line ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("args", [[], ["podman"], ["docker", "--bogus"]])
def test_usage_errors_exit_2(env: Path, args: list[str], capsys) -> None:
    assert run(*args) == 2
    assert "usage:" in capsys.readouterr().err


def test_help_exits_0(env: Path, capsys) -> None:
    assert run("docker", "--help") == 0
    assert "--dry-run" in capsys.readouterr().out
