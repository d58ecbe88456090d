"""podman as root, no daemon, vfs storage: login, pull, push and logout through the helper (credHelpers)."""

from __future__ import annotations

import shutil

import pytest

from .support import PASSWORD, USER, Clients, Registry, denied

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("podman") is None, reason="podman is not installed"),
]


def test_login_pull_push_logout(clients: Clients, http_registry: Registry, http_image: str) -> None:
    host = http_registry.host
    pushed = f"{host}/e2e/podman-push:1"
    clients.extra_env["REGISTRY_AUTH_FILE"] = str(clients.root / "registry-auth.json")
    assert clients.configure("containers", "--registry", host).returncode == 0

    mark = http_registry.mark()
    result = clients.podman("pull", "--tls-verify=false", http_image)
    assert denied(result), result.describe()
    http_registry.assert_denied(mark)

    mark = http_registry.mark()
    result = clients.podman("login", "--tls-verify=false", "-u", USER, "--password-stdin", host, input=PASSWORD + "\n")
    assert result.returncode == 0 and "Login Succeeded" in result.output, result.describe()
    http_registry.assert_authorized(mark)
    assert clients.helper_get(host) == {"ServerURL": host, "Username": USER, "Secret": PASSWORD}

    mark = http_registry.mark()
    result = clients.podman("pull", "--tls-verify=false", http_image)
    assert result.returncode == 0, result.describe()
    http_registry.assert_authorized(mark, "/v2/e2e/seed/manifests/1")

    result = clients.podman("tag", http_image, pushed)
    assert result.returncode == 0, result.describe()
    mark = http_registry.mark()
    result = clients.podman("push", "--tls-verify=false", pushed)
    assert result.returncode == 0, result.describe()
    http_registry.assert_authorized(mark, "/v2/e2e/podman-push/manifests/1")

    result = clients.podman("logout", host)
    assert result.returncode == 0, result.describe()
    assert clients.helper_get(host) is None

    mark = http_registry.mark()
    result = clients.podman("push", "--tls-verify=false", pushed)
    assert denied(result), result.describe()
    http_registry.assert_denied(mark)

    # podman treats a failing erase as an error (and 4.3 can crash on it): logging out twice must be clean
    result = clients.podman("logout", host)
    assert "goroutine" not in result.output and "stack overflow" not in result.output, result.describe()


def test_env_credentials_pull_with_registries_conf(clients: Clients, http_registry: Registry, http_image: str) -> None:
    """podman honours CONTAINERS_REGISTRIES_CONF; credentials come from IMGPKG_REGISTRY_* only."""
    clients.extra_env["CONTAINERS_REGISTRIES_CONF"] = str(clients.registries_conf(["imgpkg"]))
    clients.extra_env["DOCKER_CONFIG"] = None  # podman takes $DOCKER_CONFIG/config.json as its auth file: must exist
    mark = http_registry.mark()
    result = clients.podman("pull", "--tls-verify=false", http_image)
    assert denied(result), result.describe()
    http_registry.assert_denied(mark)

    clients.extra_env.update(
        IMGPKG_REGISTRY_HOSTNAME=http_registry.host, IMGPKG_REGISTRY_USERNAME=USER, IMGPKG_REGISTRY_PASSWORD=PASSWORD
    )
    mark = http_registry.mark()
    result = clients.podman("pull", "--tls-verify=false", http_image)
    assert result.returncode == 0, result.describe()
    http_registry.assert_authorized(mark, "/v2/e2e/seed/manifests/1")
