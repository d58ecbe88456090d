"""oras through the helper with ``pass`` underneath (``DOCKER_CREDENTIAL_IMGPKG_BACKEND=helper:pass``): ``oras
login`` checks the password with the registry and stores it through the helper, which keeps it in the
GPG-encrypted password store; ``oras push`` / ``oras pull`` of an artifact read it back; ``oras logout`` erases it.
HTTPS with the suite's CA (``--ca-file``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .goclients import (
    CLIENT_TIMEOUT,
    GoClient,
    assert_documented,
    assert_no_secret,
    assert_refused_without_helper,
    helper_config,
    pass_entries,
    pass_store,
)
from .support import PASSWORD, USER, Clients, Registry

pytestmark = pytest.mark.e2e

REPO = "e2e/oras"
ARTIFACT = b"an artifact pushed by oras through docker-credential-imgpkg\n"


@pytest.fixture
def pass_env() -> Iterator[dict[str, str]]:
    with pass_store() as reach:
        yield reach


class Oras(GoClient):
    name = "oras"

    def __init__(self, clients: Clients, registry: Registry):
        super().__init__(clients)
        assert registry.tls is not None
        self.registry = registry
        self.ca = str(registry.tls.ca_cert)
        self.placeholders = {f"{registry.host}/{REPO}": "HOST/REPO", registry.host: "HOST"}

    def __call__(self, *args: str, input: str | None = None):
        tls = [] if args[0] == "logout" else ["--ca-file", self.ca]  # logout talks to no registry
        return self.clients.run([self.exe, *args, *tls], input=input, timeout=CLIENT_TIMEOUT)


@pytest.mark.parametrize("mode", ["credsStore", "credHelpers"])
def test_oras_login_push_pull_logout_with_pass_underneath(
    mode: str, clients: Clients, https_registry: Registry, pass_env: dict[str, str], tmp_path: Path
) -> None:
    oras = Oras(clients, https_registry)
    clients.extra_env.update(pass_env)
    clients.extra_env["DOCKER_CREDENTIAL_IMGPKG_BACKEND"] = "helper:pass"
    host = https_registry.host
    ref = f"{host}/{REPO}:1"
    work = tmp_path / "artifact"
    work.mkdir()
    (work / "hello.txt").write_bytes(ARTIFACT)

    def push():  # oras push names files relative to its working directory
        argv = [oras.exe, "push", "--ca-file", oras.ca, ref, "hello.txt:text/plain"]
        return clients.run(["sh", "-c", 'cd "$0" && exec "$@"', str(work), *argv], timeout=CLIENT_TIMEOUT)

    # negative control: no config names the helper
    clients.write_json(clients.docker_config, {})
    assert_refused_without_helper(
        oras.log, https_registry, push, lambda: oras("pull", "-o", str(tmp_path / "denied"), ref)
    )

    clients.write_json(clients.docker_config, helper_config(mode, [host]))
    mark = https_registry.mark()
    oras.step("oras login HOST", mode, "login", host, "-u", USER, "--password-stdin", input=PASSWORD)
    https_registry.assert_authorized(mark, "/v2/")
    assert_no_secret(clients.docker_config, PASSWORD)
    assert pass_entries(pass_env) == {host: USER}  # the secret went through the helper into pass
    assert not clients.store_path.exists()

    mark = https_registry.mark()
    since = oras.log.mark()
    result = push()
    assert result.returncode == 0, result.describe()
    assert_documented(oras.log, since, "oras", "oras push HOST/REPO:1 FILE", mode, oras.placeholders)
    https_registry.assert_authorized(mark, f"/v2/{REPO}/manifests/1")

    mark = https_registry.mark()
    out = tmp_path / "pulled"
    oras.step("oras pull HOST/REPO:1", mode, "pull", "-o", str(out), ref)
    https_registry.assert_authorized(mark, f"/v2/{REPO}/manifests/1")
    assert (out / "hello.txt").read_bytes() == ARTIFACT

    oras.step("oras logout HOST", mode, "logout", host)
    assert pass_entries(pass_env) == {}
    mark = https_registry.mark()
    oras.step("oras pull HOST/REPO:1 (after logout)", mode, "pull", "-o", str(tmp_path / "again"), ref, ok=False)
    https_registry.assert_denied(mark)
