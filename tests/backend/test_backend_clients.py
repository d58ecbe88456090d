"""Real clients through the layer with ``pass`` underneath: docker CLI and skopeo log in, read and log out while
the secret lives only in the GPG-encrypted password store; and the migration ``configure docker`` offers to a
user whose ``credsStore`` was ``pass``.
"""

from __future__ import annotations

import json

import pytest
from e2e.support import PASSWORD, USER, Clients, Registry

from .conftest import PassStore

pytestmark = pytest.mark.e2e

SEED = "/v2/e2e/seed/manifests/1"
BACKEND = "DOCKER_CREDENTIAL_IMGPKG_BACKEND"


@pytest.fixture
def world(clients: Clients, pass_store: PassStore) -> Clients:
    clients.extra_env.update(pass_store.env)
    return clients


def docker_inspect(clients: Clients, registry: Registry, image: str) -> bool:
    """``docker manifest inspect`` (a ``get`` through the helper); True when the registry served it with auth."""
    mark = registry.mark()
    result = clients.docker("manifest", "inspect", "--insecure", image)
    if result.returncode != 0:
        assert "unauthorized" in result.output.lower() or "no basic auth" in result.output.lower(), result.describe()
        registry.assert_denied(mark)
        return False
    registry.assert_authorized(mark, SEED)
    return True


def skopeo_inspect(clients: Clients, registry: Registry, image: str) -> bool:
    mark = registry.mark()
    result = clients.skopeo("inspect", "--tls-verify=false", f"docker://{image}")
    if result.returncode != 0:
        assert "unauthorized" in result.output.lower() or "authentication required" in result.output.lower(), (
            result.describe()
        )
        return False
    registry.assert_authorized(mark, SEED)
    return True


def assert_no_plaintext(clients: Clients) -> None:
    assert not clients.store_path.exists()  # the helper's own file store was never used
    for path in (clients.docker_config, clients.runtime_auth, clients.root / "registry-auth.json"):
        if path.exists():
            assert PASSWORD not in path.read_text() and '"auth"' not in path.read_text(), path


def test_docker_login_inspect_logout_with_pass_underneath(
    world: Clients, pass_store: PassStore, http_registry: Registry, http_image: str
) -> None:
    host = http_registry.host
    world.extra_env[BACKEND] = "helper:pass"
    world.write_json(world.docker_config, {"credsStore": "imgpkg"})
    assert not docker_inspect(world, http_registry, http_image)

    result = world.docker("login", "-u", USER, "--password-stdin", f"https://{host}/v2/", input=PASSWORD + "\n")
    assert result.returncode == 0 and "Login Succeeded" in result.output, result.describe()
    assert pass_store.raw_list() == {host: USER}
    assert_no_plaintext(world)
    assert docker_inspect(world, http_registry, http_image)

    result = world.docker("logout", host)  # four erases, three of them of absent spellings
    assert result.returncode == 0, result.describe()
    assert "WARNING" not in result.output and "could not erase" not in result.output, result.describe()
    assert pass_store.raw_list() == {}
    assert not docker_inspect(world, http_registry, http_image)


def test_skopeo_login_inspect_logout_with_pass_underneath(
    world: Clients, pass_store: PassStore, http_registry: Registry, http_image: str
) -> None:
    host = http_registry.host
    world.extra_env[BACKEND] = "helper:pass"
    world.extra_env["REGISTRY_AUTH_FILE"] = str(world.root / "registry-auth.json")
    assert world.configure("containers", "--registry", host).returncode == 0
    assert not skopeo_inspect(world, http_registry, http_image)

    result = world.skopeo("login", "--tls-verify=false", "-u", USER, "--password-stdin", host, input=PASSWORD + "\n")
    assert result.returncode == 0 and "Login Succeeded" in result.output, result.describe()
    assert pass_store.raw_list() == {host: USER}
    assert_no_plaintext(world)
    assert skopeo_inspect(world, http_registry, http_image)

    result = world.skopeo("logout", host)
    assert result.returncode == 0, result.describe()
    assert pass_store.raw_list() == {}
    assert not skopeo_inspect(world, http_registry, http_image)
    # Logout again: pass itself fails to erase what is not there; the layer must still exit 0 (skopeo crashes
    # with a Go stack overflow when a helper's erase fails).
    result = world.skopeo("logout", host)
    assert "goroutine" not in result.output and "stack overflow" not in result.output, result.describe()


def test_migrating_from_credsstore_pass_keeps_what_docker_stored(
    world: Clients, pass_store: PassStore, http_registry: Registry, http_image: str
) -> None:
    host = http_registry.host
    # Before: docker talks to docker-credential-pass directly.
    world.write_json(world.docker_config, {"credsStore": "pass"})
    result = world.docker("login", "-u", USER, "--password-stdin", host, input=PASSWORD + "\n")
    assert result.returncode == 0, result.describe()
    assert pass_store.raw_list() == {host: USER}

    # The migration: pass becomes the layer's backend (recorded in the helper's settings file), imgpkg the store.
    dry = world.configure("docker", "--dry-run")
    assert dry.returncode == 0, dry.describe()
    assert '"credsStore": "imgpkg"' in dry.stdout and '"backend": "helper:pass"' in dry.stdout, dry.describe()
    assert world.read_json(world.docker_config)["credsStore"] == "pass"  # a dry run writes nothing
    result = world.configure("docker")
    assert result.returncode == 0, result.describe()
    assert world.read_json(world.docker_config)["credsStore"] == "imgpkg"
    settings = world.xdg_config / "docker-credential-imgpkg" / "config.json"
    assert json.loads(settings.read_text()) == {"backend": "helper:pass"}

    # After: what docker stored before is still there and still used, now through the layer.
    assert docker_inspect(world, http_registry, http_image)
    assert world.helper_get(host) == {"ServerURL": host, "Username": USER, "Secret": PASSWORD}
    assert world.run(["docker-credential-imgpkg", "list"]).stdout.strip() == json.dumps({host: USER}).replace(" ", "")
    result = world.docker("logout", host)
    assert result.returncode == 0 and "WARNING" not in result.output, result.describe()
    assert pass_store.raw_list() == {}
    # A new login lands in pass, not in a plaintext file.
    result = world.docker("login", "-u", USER, "--password-stdin", host, input=PASSWORD + "\n")
    assert result.returncode == 0, result.describe()
    assert pass_store.raw_list() == {host: USER}
    assert_no_plaintext(world)
