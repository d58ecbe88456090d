"""docker-py: ``docker.auth.resolve_authconfig`` and ``docker.credentials.Store`` against the helper.

docker-py runs in a child interpreter with the test's isolated environment (it finds the helper with
``shutil.which`` on its own PATH). There is no daemon to hand the answer to, so the test presents the
credentials docker-py resolved to the registry itself: that answer is the registry's.
"""

from __future__ import annotations

import json
import sys

import pytest

from .support import PASSWORD, USER, Clients, Registry

pytestmark = pytest.mark.e2e
docker = pytest.importorskip("docker", reason="docker-py is not installed (pip install docker)")

SEED = "/v2/e2e/seed/manifests/1"

SCRIPT = r"""
import json, sys
import docker.auth, docker.credentials
request = json.loads(sys.stdin.read())
out = {}
for step in request:
    kind = step[0]
    if kind == "store":
        docker.credentials.Store("imgpkg").store(server=step[1], username=step[2], secret=step[3])
        out[f"store {step[1]}"] = "ok"
    elif kind == "erase":
        docker.credentials.Store("imgpkg").erase(step[1])
        out[f"erase {step[1]}"] = "ok"
    elif kind == "list":
        out["list"] = docker.credentials.Store("imgpkg").list()
    elif kind == "resolve":
        cfg = docker.auth.load_config(config_path=step[1])
        out[f"resolve {step[2]}"] = docker.auth.resolve_authconfig(cfg, step[2])
print(json.dumps(out))
"""


def docker_py(clients: Clients, *steps: list) -> dict:
    result = clients.run([sys.executable, "-c", SCRIPT], input=json.dumps(list(steps)))
    assert result.returncode == 0, result.describe()
    return json.loads(result.stdout)


def assert_registry_accepts(registry: Registry, auth: dict) -> None:
    mark = registry.mark()
    assert registry.probe(SEED, auth["Username"], auth["Password"]) == 200
    registry.assert_authorized(mark, SEED)


def test_credsstore_store_resolve_erase(clients: Clients, http_registry: Registry, http_image: str) -> None:
    host = http_registry.host
    assert clients.configure("docker").returncode == 0
    config = str(clients.docker_config)
    assert http_registry.probe(SEED) == 401

    out = docker_py(clients, ["resolve", config, host])
    assert out[f"resolve {host}"] is None  # not found: docker-py goes anonymous, the registry says 401

    out = docker_py(clients, ["store", host, USER, PASSWORD], ["resolve", config, host], ["list"])
    auth = out[f"resolve {host}"]
    assert auth == {"ServerAddress": host, "Username": USER, "Password": PASSWORD}
    assert out["list"].get(host) == USER
    assert_registry_accepts(http_registry, auth)

    out = docker_py(clients, ["erase", host], ["resolve", config, host])
    assert out[f"resolve {host}"] is None
    assert clients.helper_get(host) is None


def test_credhelpers_with_env_credentials(clients: Clients, http_registry: Registry, http_image: str) -> None:
    host = http_registry.host
    assert clients.configure("docker", "--registry", host).returncode == 0
    clients.extra_env.update(
        IMGPKG_REGISTRY_HOSTNAME=host, IMGPKG_REGISTRY_USERNAME=USER, IMGPKG_REGISTRY_PASSWORD=PASSWORD
    )
    out = docker_py(clients, ["resolve", str(clients.docker_config), host])
    auth = out[f"resolve {host}"]
    assert auth == {"ServerAddress": host, "Username": USER, "Password": PASSWORD}
    assert_registry_accepts(http_registry, auth)


def test_docker_hub_default_resolves_through_the_hub_key(clients: Clients) -> None:
    """``resolve_authconfig(cfg, None)`` asks the helper for ``https://index.docker.io/v1/``."""
    assert clients.configure("docker", "--registry", "docker.io").returncode == 0
    clients.extra_env.update(
        IMGPKG_REGISTRY_HOSTNAME="index.docker.io", IMGPKG_REGISTRY_USERNAME="hubuser", IMGPKG_REGISTRY_PASSWORD="hubpw"
    )
    out = docker_py(clients, ["resolve", str(clients.docker_config), None])
    assert out["resolve None"]["Username"] == "hubuser"
    assert out["resolve None"]["Password"] == "hubpw"


def test_identity_token_from_store_and_env(clients: Clients, http_registry: Registry) -> None:
    host = http_registry.host
    assert clients.configure("docker").returncode == 0
    config = str(clients.docker_config)
    out = docker_py(clients, ["store", host, "<token>", "stored-refresh-token"], ["resolve", config, host])
    auth = out[f"resolve {host}"]
    assert auth["IdentityToken"] == "stored-refresh-token"
    assert "Username" not in auth and "Password" not in auth

    clients.extra_env.update(
        IMGPKG_REGISTRY_HOSTNAME="tokens.example", IMGPKG_REGISTRY_IDENTITY_TOKEN="env-refresh-token"
    )
    out = docker_py(clients, ["resolve", config, "tokens.example"])
    auth = out["resolve tokens.example"]
    assert auth["IdentityToken"] == "env-refresh-token"
    assert "Username" not in auth and "Password" not in auth


def test_registry_token_alone_error_reaches_docker_py(clients: Clients, http_registry: Registry) -> None:
    host = http_registry.host
    assert clients.configure("docker").returncode == 0
    clients.extra_env.update(IMGPKG_REGISTRY_HOSTNAME=host, IMGPKG_REGISTRY_REGISTRY_TOKEN="bearer-only")
    result = clients.run(
        [sys.executable, "-c", SCRIPT], input=json.dumps([["resolve", str(clients.docker_config), host]])
    )
    assert result.returncode != 0, result.describe()
    assert "DockerException" in result.stderr and "Credentials store error" in result.stderr, result.describe()
    assert "IMGPKG_REGISTRY_REGISTRY_TOKEN" in result.stderr, result.describe()
    assert "bearer-only" not in result.output, result.describe()
