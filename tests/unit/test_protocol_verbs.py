"""The protocol verbs in process, through ``commands.protocol_verbs.run(action, data, environ)``: the same code
the program runs, with the environment passed as a dict (the subprocess suites in tests/protocol stay the
contract with clients)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from docker_credential_imgpkg.commands import protocol_verbs
from docker_credential_imgpkg.errors import HelperError
from docker_credential_imgpkg.protocol import NotFound


@pytest.fixture
def environ(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir()
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "DOCKER_CONFIG": str(tmp_path / "docker"),
    }


def run(action: str, data: str, environ: dict[str, str]) -> str:
    return protocol_verbs.run(action, data.encode(), environ)


def test_get_answers_from_the_environment_passed_not_the_process(environ: dict[str, str]) -> None:
    environ |= {"IMGPKG_REGISTRY_HOSTNAME": "reg.example.com", "IMGPKG_REGISTRY_USERNAME": "ci"}
    environ["IMGPKG_REGISTRY_PASSWORD"] = "s3cret"
    assert "IMGPKG_REGISTRY_HOSTNAME" not in os.environ
    answer = json.loads(run("get", "https://REG.example.com/v2/\n", environ))
    assert answer == {"ServerURL": "https://REG.example.com/v2/", "Username": "ci", "Secret": "s3cret"}


def test_store_get_list_erase_round_trip_through_the_file_store(environ: dict[str, str]) -> None:
    payload = json.dumps({"ServerURL": "https://myreg.example:5000/v1/", "Username": "alice", "Secret": "pw"})
    assert run("store", payload, environ) == ""
    store = Path(environ["XDG_CONFIG_HOME"]) / "docker-credential-imgpkg" / "credentials.json"
    assert store.stat().st_mode & 0o777 == 0o600
    assert json.loads(run("get", "myreg.example:5000", environ))["Username"] == "alice"
    assert json.loads(run("list", "", environ)) == {"myreg.example:5000": "alice"}
    assert run("erase", "https://myreg.example:5000", environ) == ""
    with pytest.raises(NotFound):
        run("get", "myreg.example:5000", environ)
    assert json.loads(run("list", "", environ)) == {}


def test_a_miss_raises_not_found_with_the_protocols_message(environ: dict[str, str]) -> None:
    with pytest.raises(NotFound) as caught:
        run("get", "nowhere.example", environ)
    assert str(caught.value) == "credentials not found in native keychain"


@pytest.mark.parametrize(
    ("action", "data", "fragment"),
    [
        ("get", "", "no credentials server URL"),
        ("store", '{"ServerURL": "a.example"}', "no credentials username"),
        ("store", "[1]", "expected a JSON object"),
        ("store", "[" * 100_000, "levels deep"),
        ("frobnicate", "", "unknown action"),
    ],
)
def test_bad_input_raises_a_helper_error_naming_the_problem(environ, action, data, fragment) -> None:
    with pytest.raises(HelperError) as caught:
        run(action, data, environ)
    assert fragment in str(caught.value)


def test_read_only_mode_keeps_nothing(environ: dict[str, str]) -> None:
    environ["DOCKER_CREDENTIAL_IMGPKG_READONLY"] = "true"
    run("store", json.dumps({"ServerURL": "a.example", "Username": "u", "Secret": "p"}), environ)
    assert not (Path(environ["XDG_CONFIG_HOME"]) / "docker-credential-imgpkg").exists()
    with pytest.raises(NotFound):
        run("get", "a.example", environ)


def test_docker_config_is_found_through_the_passed_home(environ: dict[str, str]) -> None:
    """DOCKER_CONFIG unset: ~/.docker/config.json of the HOME passed in, not the process's HOME."""
    del environ["DOCKER_CONFIG"]
    config = Path(environ["HOME"]) / ".docker" / "config.json"
    config.parent.mkdir()
    config.write_text(json.dumps({"auths": {"cfg.example": {"auth": "Y2Fyb2w6cHc="}}}))
    assert json.loads(run("get", "cfg.example", environ))["Username"] == "carol"
