"""crane (go-containerregistry) through the helper: ``crane auth login`` stores through it, push / pull / copy
between two registries with different accounts read from it, ``crane auth get`` answers from it, ``crane auth
logout`` erases. Credentials live in the helper's own store; HTTPS with the suite's CA (``SSL_CERT_FILE``) on one
side, plain HTTP on the other. Each step's helper calls are checked against docs/clients.md.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .goclients import TwoRegistryClient, assert_no_secret, assert_refused_without_helper, helper_config
from .support import OTHER_PASSWORD, OTHER_USER, PASSWORD, USER, Clients, Registry

pytestmark = pytest.mark.e2e

REPO = "e2e/crane"
COPY_REPO = "e2e/crane-copy"


class Crane(TwoRegistryClient):
    name = "crane"
    repos = (("HOST/REPO", REPO), ("HOST2/REPO2", COPY_REPO))
    ca_in_env = True

    @property
    def image(self) -> str:
        return f"{self.src.host}/{REPO}:1"

    @property
    def copy(self) -> str:
        return f"{self.dst.host}/{COPY_REPO}:1"


@pytest.mark.parametrize("mode", ["credsStore", "credHelpers"])
def test_crane_login_push_pull_copy_get_logout(
    mode: str, clients: Clients, https_registry: Registry, other_registry: Registry, tmp_path: Path
) -> None:
    crane = Crane(clients, https_registry, other_registry)
    layout = str(clients.image)

    # negative control: the same commands while no config names the helper are refused by the registries
    clients.write_json(clients.docker_config, {})
    assert_refused_without_helper(
        crane.log,
        https_registry,
        lambda: crane("push", layout, crane.image),
        lambda: crane("pull", "--format", "oci", crane.image, str(tmp_path / "denied")),
    )

    clients.write_json(clients.docker_config, helper_config(mode, [https_registry.host, other_registry.host]))
    crane.step(
        "crane auth login HOST", mode,
        "auth", "login", https_registry.host, "-u", USER, "--password-stdin", input=PASSWORD,
    )  # fmt: skip
    crane.step(
        "crane auth login HOST2", mode,
        "auth", "login", other_registry.host, "-u", OTHER_USER, "-p", OTHER_PASSWORD,
    )  # fmt: skip
    assert_no_secret(clients.docker_config, PASSWORD)
    assert clients.helper_get(https_registry.host) == {
        "ServerURL": https_registry.host, "Username": USER, "Secret": PASSWORD,
    }  # fmt: skip
    assert (clients.helper_get(other_registry.host) or {}).get("Username") == OTHER_USER

    mark = https_registry.mark()
    crane.step("crane push DIR HOST/REPO:1", mode, "push", layout, crane.image)
    https_registry.assert_authorized(mark, f"/v2/{REPO}/manifests/1")

    mark = https_registry.mark()
    crane.step("crane pull HOST/REPO:1", mode, "pull", "--format", "oci", crane.image, str(tmp_path / "pulled"))
    https_registry.assert_authorized(mark, f"/v2/{REPO}/manifests/1")
    assert (tmp_path / "pulled" / "index.json").is_file()

    src_mark, dst_mark = https_registry.mark(), other_registry.mark()
    crane.step("crane copy HOST/REPO:1 HOST2/REPO2:1", mode, "copy", crane.image, crane.copy)
    https_registry.assert_authorized(src_mark, f"/v2/{REPO}/manifests/1")
    other_registry.assert_authorized(dst_mark, f"/v2/{COPY_REPO}/manifests/1")

    # crane auth get is itself a get-only helper: it answers with what the keychain (our helper) gave it
    result = crane.step("crane auth get HOST", mode, "auth", "get", https_registry.host)
    assert json.loads(result.stdout) == {"Username": USER, "Secret": PASSWORD}

    crane.step("crane auth logout HOST", mode, "auth", "logout", https_registry.host)
    assert clients.helper_get(https_registry.host) is None
    mark = https_registry.mark()
    crane.step("crane push DIR HOST/REPO:1 (after logout)", mode, "push", layout, crane.image, ok=False)
    https_registry.assert_denied(mark)
    assert clients.helper_get(other_registry.host) is not None  # logout erased one registry only
