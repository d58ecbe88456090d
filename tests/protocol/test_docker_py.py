"""docker-py's ``docker.credentials.Store('imgpkg')`` against the real program, found on PATH as clients find it."""

from __future__ import annotations

import json
import os

import pytest

credentials = pytest.importorskip("docker.credentials")
from docker.credentials import errors  # noqa: E402

from .support import HUB, b64  # noqa: E402


@pytest.fixture
def store(helper, tmp_path, monkeypatch):
    """A docker-py Store whose PATH lookup finds the program under test, with the helper's isolated environment.

    docker-py runs the program with ``os.environ`` plus ``environment``: clear the process environment
    first so that nothing from the outer shell (IMGPKG_*, DOCKER_*) leaks into the runs.
    """
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "docker-credential-imgpkg").symlink_to(helper.program)
    path = f"{bindir}:{helper.env['PATH']}"
    for name in list(os.environ):
        monkeypatch.delenv(name)
    monkeypatch.setenv("PATH", path)
    helper.env["PATH"] = path

    def make(**extra: str) -> credentials.Store:
        return credentials.Store("imgpkg", environment={**helper.env, **extra})

    return make


def test_program_is_found_on_path(store, tmp_path):
    assert store().exe == str(tmp_path / "bin" / "docker-credential-imgpkg")


def test_store_get_erase_round_trip(store, helper):
    s = store()
    s.store("quay.io", "alice", "s3cret")
    assert json.loads(helper.store_path.read_text())["auths"]["quay.io"] == {"auth": b64("alice:s3cret")}
    assert s.get("quay.io") == {"ServerURL": "quay.io", "Username": "alice", "Secret": "s3cret"}
    s.erase("quay.io")
    with pytest.raises(errors.CredentialsNotFound):
        s.get("quay.io")


def test_get_missing_raises_credentials_not_found(store):
    with pytest.raises(errors.CredentialsNotFound):
        store().get("nothing.example.com")


def test_erase_missing_is_fine(store):
    store().erase("nothing.example.com")


def test_list(store):
    s = store()
    assert s.list() == {}
    s.store("quay.io", "alice", "a")
    s.store("https://index.docker.io/v1/", "hubuser", "b")
    s.store("localhost:5000", "<token>", "idt")
    assert s.list() == {"quay.io": "alice", HUB: "hubuser", "localhost:5000": "<token>"}


def test_list_with_env_entries(store):
    s = store(IMGPKG_REGISTRY_HOSTNAME="docker.io", IMGPKG_REGISTRY_USERNAME="envuser", IMGPKG_REGISTRY_PASSWORD="p")
    assert s.list() == {HUB: "envuser"}
    assert s.get(HUB) == {"ServerURL": HUB, "Username": "envuser", "Secret": "p"}


def test_identity_token(store):
    s = store()
    s.store("quay.io", "<token>", "refresh-token")
    assert s.get("quay.io")["Username"] == "<token>"
    assert s.get("quay.io")["Secret"] == "refresh-token"


def test_hub_aliases(store):
    s = store()
    s.store("docker.io", "hubuser", "pw")
    assert s.get(HUB) == {"ServerURL": HUB, "Username": "hubuser", "Secret": "pw"}
    assert s.get("index.docker.io")["Username"] == "hubuser"
    s.erase("registry-1.docker.io")
    with pytest.raises(errors.CredentialsNotFound):
        s.get(HUB)


def test_unicode_and_bytes_server(store):
    s = store()
    s.store("quay.io", "ålice", "pässwörd ✓")
    assert s.get(b"quay.io") == {"ServerURL": "quay.io", "Username": "ålice", "Secret": "pässwörd ✓"}


def test_env_source_through_docker_py(store):
    s = store(
        IMGPKG_REGISTRY_HOSTNAME_x="*.gcr.io", IMGPKG_REGISTRY_USERNAME_x="robot", IMGPKG_REGISTRY_PASSWORD_x="pw"
    )
    assert s.get("us.gcr.io") == {"ServerURL": "us.gcr.io", "Username": "robot", "Secret": "pw"}


def test_configuration_error_is_a_store_error_with_the_message(store):
    s = store(IMGPKG_REGISTRY_FOO="x")
    with pytest.raises(errors.StoreError, match="Unknown env variable 'IMGPKG_REGISTRY_FOO'") as info:
        s.get("quay.io")
    assert not isinstance(info.value, errors.CredentialsNotFound)
    with pytest.raises(errors.StoreError, match="Unknown env variable"):
        s.list()


def test_store_validation_error(store):
    with pytest.raises(errors.StoreError, match="no credentials username"):
        store().store("quay.io", "", "x")


def test_readonly_store(store, helper):
    s = store(DOCKER_CREDENTIAL_IMGPKG_READONLY="true")
    s.store("quay.io", "alice", "a")
    s.erase("quay.io")
    assert not helper.store_path.exists()
    with pytest.raises(errors.CredentialsNotFound):
        s.get("quay.io")
