"""``configure docker --keep-store``: replacing a ``credsStore`` records it as this helper's backend first, so
nothing stored before is lost. The program runs as a subprocess (the guard against naming this very program
looks at how it was started).
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from common import Helper

from .conftest import PassStore


def settings(helper: Helper) -> Path:
    return helper.config_home / "docker-credential-imgpkg" / "config.json"


def configure(helper: Helper, *args: str, env: dict[str, str] | None = None):
    return helper.run("configure", "docker", *args, env=env)


def docker_config(helper: Helper) -> dict:
    return json.loads(helper.docker_config_path.read_text())


def test_replacing_a_credsstore_keeps_it_as_the_backend_by_default(helper: Helper) -> None:
    helper.write_docker_config({"auths": {"ghcr.io": {}}, "credsStore": "pass"})
    result = configure(helper)
    assert result.returncode == 0, result
    assert docker_config(helper) == {"auths": {"ghcr.io": {}}, "credsStore": "imgpkg"}
    assert json.loads(settings(helper).read_text()) == {"backend": "helper:pass"}
    assert stat.S_IMODE(settings(helper).stat().st_mode) == 0o600
    assert stat.S_IMODE(settings(helper).parent.stat().st_mode) == 0o700
    assert f"{settings(helper)}: backend = 'helper:pass'" in result.stdout
    assert f"{helper.docker_config_path}: credsStore = 'imgpkg'" in result.stdout
    assert "no longer read" not in result.stderr
    again = configure(helper)  # idempotent
    assert again.returncode == 0 and "already configured" in again.stdout


def test_dry_run_shows_both_changes_and_writes_nothing(helper: Helper) -> None:
    before = helper.write_docker_config({"credsStore": "secretservice"}).read_text()
    result = configure(helper, "--dry-run")
    assert result.returncode == 0, result
    assert '-{"credsStore": "secretservice"}' in result.stdout
    assert '+\t"credsStore": "imgpkg"' in result.stdout
    assert f"--- /dev/null\n+++ {settings(helper)}\n" in result.stdout
    assert '+\t"backend": "helper:secretservice"' in result.stdout
    assert helper.docker_config_path.read_text() == before
    assert not settings(helper).exists()


def test_no_keep_store_warns_and_records_nothing(helper: Helper) -> None:
    helper.write_docker_config({"credsStore": "pass"})
    result = configure(helper, "--no-keep-store")
    assert result.returncode == 0, result
    assert "credsStore was 'pass': docker will no longer read credentials kept there" in result.stderr
    assert docker_config(helper) == {"credsStore": "imgpkg"}
    assert not settings(helper).exists()


def test_other_settings_are_preserved(helper: Helper) -> None:
    settings(helper).parent.mkdir(parents=True)
    settings(helper).write_text('{\n  "future": [1, 2]\n}\n')
    helper.write_docker_config({"credsStore": "pass"})
    assert configure(helper).returncode == 0
    assert settings(helper).read_text() == '{\n  "future": [\n    1,\n    2\n  ],\n  "backend": "helper:pass"\n}\n'


def test_a_different_recorded_backend_is_not_replaced(helper: Helper) -> None:
    settings(helper).parent.mkdir(parents=True)
    settings(helper).write_text('{"backend": "helper:secretservice"}')
    before = helper.write_docker_config({"credsStore": "pass"}).read_text()
    result = configure(helper)
    assert result.returncode == 1
    assert "already names the backend 'helper:secretservice'" in result.stderr and "--no-keep-store" in result.stderr
    assert helper.docker_config_path.read_text() == before  # nothing written
    assert json.loads(settings(helper).read_text()) == {"backend": "helper:secretservice"}


def test_the_same_recorded_backend_needs_no_change(helper: Helper) -> None:
    settings(helper).parent.mkdir(parents=True)
    settings(helper).write_text('{"backend": "helper:pass"}')
    helper.write_docker_config({"credsStore": "pass"})
    result = configure(helper)
    assert result.returncode == 0, result
    assert str(settings(helper)) not in result.stdout
    assert docker_config(helper) == {"credsStore": "imgpkg"}


def test_nothing_to_keep_without_a_credsstore(helper: Helper) -> None:
    helper.write_docker_config({"credsStore": "imgpkg"})
    assert configure(helper, "--keep-store").stdout.endswith("already configured, nothing to change\n")
    helper.write_docker_config({})
    assert configure(helper).returncode == 0
    assert not settings(helper).exists()


def test_with_registry_the_credsstore_is_kept_underneath_only_when_asked(helper: Helper) -> None:
    helper.write_docker_config({"credsStore": "pass"})
    assert configure(helper, "--registry", "ghcr.io").returncode == 0
    assert docker_config(helper) == {"credsStore": "pass", "credHelpers": {"ghcr.io": "imgpkg"}}
    assert not settings(helper).exists()
    result = configure(helper, "--registry", "ghcr.io", "--keep-store")
    assert result.returncode == 0, result
    assert json.loads(settings(helper).read_text()) == {"backend": "helper:pass"}
    assert docker_config(helper)["credsStore"] == "pass"


@pytest.mark.parametrize("store", ["../bin/x", "a b"])
def test_a_credsstore_that_cannot_be_a_backend_is_refused(helper: Helper, store: str) -> None:
    before = helper.write_docker_config({"credsStore": store}).read_text()
    result = configure(helper)
    assert result.returncode == 1
    assert "cannot keep it as this helper's backend" in result.stderr
    assert helper.docker_config_path.read_text() == before
    assert not settings(helper).exists()


def test_a_credsstore_that_is_this_program_under_another_name_is_refused(helper: Helper, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "docker-credential-mine").symlink_to(helper.program)
    helper.write_docker_config({"credsStore": "mine"})
    result = configure(helper, env={"PATH": f"{bin_dir}:{helper.env['PATH']}"})
    assert result.returncode == 1
    assert "is this helper" in result.stderr
    assert not settings(helper).exists()


def test_warnings_for_a_missing_store_program_and_an_overriding_variable(helper: Helper) -> None:
    helper.write_docker_config({"credsStore": "nosuch"})
    result = configure(helper, env={"DOCKER_CREDENTIAL_IMGPKG_BACKEND": "file"})
    assert result.returncode == 0, result
    assert "docker-credential-nosuch is not on PATH" in result.stderr
    assert "DOCKER_CREDENTIAL_IMGPKG_BACKEND=file is set and wins over the settings file" in result.stderr
    assert json.loads(settings(helper).read_text()) == {"backend": "helper:nosuch"}


def test_after_the_migration_the_helper_reads_what_pass_kept(helper: Helper, pass_store: PassStore) -> None:
    helper.env.update(pass_store.env)
    pass_store.raw_store("https://index.docker.io/v1/", "hubuser", "hub-pw")  # stored by docker, credsStore pass
    pass_store.raw_store("myreg.example:5000", "reguser", "reg-pw")
    helper.write_docker_config({"auths": {"myreg.example:5000": {}}, "credsStore": "pass"})
    assert configure(helper).returncode == 0
    assert json.loads(helper.list().stdout) == {
        "https://index.docker.io/v1/": "hubuser",
        "myreg.example:5000": "reguser",
    }
    assert json.loads(helper.get("docker.io").stdout)["Secret"] == "hub-pw"
    assert json.loads(helper.get("myreg.example:5000").stdout)["Secret"] == "reg-pw"
    assert helper.store("new.example", "n", "new-pw").returncode == 0
    assert pass_store.raw_list()["new.example"] == "n"
    assert not helper.store_path.exists()
