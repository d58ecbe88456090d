"""regctl (regclient) through the helper, with the accounts in ``IMGPKG_REGISTRY_*`` variables only (nothing
stored): ``regctl tag ls`` and ``regctl image copy`` between two registries with different accounts (HTTPS with
the suite's CA to plain HTTP). With ``credsStore`` regclient first runs ``list`` to learn which registries the
helper knows, then asks ``get`` for the one it needs; with ``credHelpers`` it asks ``get`` directly.

``regctl registry login`` does not store through a credential helper: it writes the password into regctl's own
``~/.regctl/config.json`` and the helper is never called (regclient v0.11 implements get and list only). The
test pins that down, so docs/clients.md can say it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .goclients import TwoRegistryClient, assert_refused_without_helper, env_credentials, helper_config
from .support import OTHER_PASSWORD, OTHER_USER, PASSWORD, USER, Clients, Registry

pytestmark = pytest.mark.e2e

SEED_REPO = "e2e/seed"
COPY_REPO = "e2e/regctl-copy"


class Regctl(TwoRegistryClient):
    name = "regctl"
    repos = (("HOST/SEED", SEED_REPO), ("HOST2/REPO2", COPY_REPO))
    ca_in_env = True

    @property
    def config(self) -> Path:
        return self.clients.home / ".regctl" / "config.json"


@pytest.mark.parametrize("mode", ["credsStore", "credHelpers"])
def test_regctl_tag_ls_and_image_copy_with_env_credentials(
    mode: str, clients: Clients, https_registry: Registry, https_image: str, other_registry: Registry
) -> None:
    regctl = Regctl(clients, https_registry, other_registry)
    clients.extra_env.update(
        env_credentials([(https_registry.host, USER, PASSWORD), (other_registry.host, OTHER_USER, OTHER_PASSWORD)])
    )
    # regctl's own settings: plain HTTP for the destination (its config file, no credentials in it)
    assert regctl("registry", "set", other_registry.host, "--tls", "disabled", "--skip-check").returncode == 0
    seed = f"{https_registry.host}/{SEED_REPO}"
    copy = f"{other_registry.host}/{COPY_REPO}:1"

    # negative control: the variables alone do nothing while no config names the helper
    clients.write_json(clients.docker_config, {})
    assert_refused_without_helper(
        regctl.log,
        https_registry,
        lambda: regctl("tag", "ls", seed),
        lambda: regctl("image", "copy", f"{seed}:1", copy),
    )

    clients.write_json(clients.docker_config, helper_config(mode, [https_registry.host, other_registry.host]))
    mark = https_registry.mark()
    result = regctl.step("regctl tag ls HOST/SEED", mode, "tag", "ls", seed)
    assert result.stdout.split() == ["1"]
    https_registry.assert_authorized(mark, f"/v2/{SEED_REPO}/tags/list")

    src_mark, dst_mark = https_registry.mark(), other_registry.mark()
    regctl.step("regctl image copy HOST/SEED:1 HOST2/REPO2:1", mode, "image", "copy", f"{seed}:1", copy)
    https_registry.assert_authorized(src_mark, f"/v2/{SEED_REPO}/manifests/1")
    other_registry.assert_authorized(dst_mark, f"/v2/{COPY_REPO}/manifests/1")
    assert not clients.store_path.exists()  # nothing was stored: the variables answered


def test_regctl_registry_login_writes_its_own_file_not_the_helper(
    clients: Clients, https_registry: Registry, https_image: str
) -> None:
    regctl = Regctl(clients, https_registry, https_registry)
    clients.write_json(clients.docker_config, helper_config("credsStore", []))
    host = https_registry.host

    result = regctl.step("regctl registry login HOST", "credsStore", "registry", "login", host, "-u", USER,
                         "--pass-stdin", input=PASSWORD)  # fmt: skip
    assert not clients.store_path.exists()
    stored = json.loads(regctl.config.read_text())["hosts"][host]
    assert (stored["user"], stored["pass"]) == (USER, PASSWORD), "regctl keeps the password in its own file"

    # what it stored is what it uses: tag ls works without the helper answering anything
    assert regctl("tag", "ls", f"{host}/{SEED_REPO}").stdout.split() == ["1"]
    result = regctl.step("regctl registry logout HOST", "credsStore", "registry", "logout", host)
    assert result.returncode == 0
    assert host not in json.loads(regctl.config.read_text()).get("hosts", {})
