"""skopeo (containers/image) with the helper named by ``credHelpers`` or by registries.conf.

skopeo ignores ``credsStore``; it reads ``credHelpers`` from ``$REGISTRY_AUTH_FILE`` (then nothing else), or
from ``$XDG_RUNTIME_DIR/containers/auth.json``, ``${XDG_CONFIG_HOME}/containers/auth.json`` and
``$DOCKER_CONFIG/config.json``; registries.conf ``credential-helpers`` applies to every registry.
"""

from __future__ import annotations

import json

import pytest

from .support import PASSWORD, USER, Clients, Registry, denied, tls_args

pytestmark = pytest.mark.e2e

SEED_MANIFEST = "/v2/e2e/seed/manifests/1"


def env_credentials(registry: Registry, password: str = PASSWORD) -> dict[str, str]:
    return {
        "IMGPKG_REGISTRY_HOSTNAME": registry.host,
        "IMGPKG_REGISTRY_USERNAME": USER,
        "IMGPKG_REGISTRY_PASSWORD": password,
    }


def inspect(clients: Clients, registry: Registry, image: str, *extra: str, env=None):
    return clients.skopeo(*extra, "inspect", *tls_args(registry), f"docker://{image}", env=env)


def assert_inspect_denied(clients: Clients, registry: Registry, image: str, *extra: str, env=None) -> None:
    mark = registry.mark()
    result = inspect(clients, registry, image, *extra, env=env)
    assert denied(result), result.describe()
    registry.assert_denied(mark)


def assert_inspect_ok(clients: Clients, registry: Registry, image: str, *extra: str, env=None) -> None:
    mark = registry.mark()
    result = inspect(clients, registry, image, *extra, env=env)
    assert result.returncode == 0, result.describe()
    assert json.loads(result.stdout)["Name"] == image.rsplit(":", 1)[0]
    registry.assert_authorized(mark, SEED_MANIFEST)


def push(clients: Clients, registry: Registry, repo: str, env=None):
    mark = registry.mark()
    args = ["--policy", str(clients.policy), "copy", "--format", "v2s2", *tls_args(registry, "dest")]
    result = clients.skopeo(*args, f"oci:{clients.image}:v1", f"docker://{registry.host}/{repo}:1", env=env)
    return result, mark


def test_registry_auth_file_credhelpers_push_and_inspect_with_env_credentials(
    clients: Clients, http_registry: Registry, http_image: str
) -> None:
    auth_file = clients.root / "registry-auth.json"
    clients.extra_env["REGISTRY_AUTH_FILE"] = str(auth_file)
    assert clients.configure("containers", "--registry", http_registry.host).returncode == 0
    assert clients.read_json(auth_file) == {"credHelpers": {http_registry.host: "imgpkg"}}

    # the helper is asked, has nothing: the registry's 401 reaches the user
    assert_inspect_denied(clients, http_registry, http_image)
    result, mark = push(clients, http_registry, "e2e/skopeo-push")
    assert denied(result), result.describe()

    # credentials from IMGPKG_REGISTRY_* only: nothing stored anywhere
    clients.extra_env.update(env_credentials(http_registry))
    result, mark = push(clients, http_registry, "e2e/skopeo-push")
    assert result.returncode == 0, result.describe()
    http_registry.assert_authorized(mark, "/v2/e2e/skopeo-push/manifests/1")
    assert_inspect_ok(clients, http_registry, http_image)
    assert not clients.store_path.exists()
    assert "auths" not in clients.read_json(auth_file)


def test_docker_config_credhelpers(clients: Clients, http_registry: Registry, http_image: str) -> None:
    assert clients.configure("docker", "--registry", http_registry.host).returncode == 0
    assert_inspect_denied(clients, http_registry, http_image)
    assert_inspect_ok(clients, http_registry, http_image, env=env_credentials(http_registry))


def test_docker_config_credsstore_is_ignored_by_skopeo(
    clients: Clients, http_registry: Registry, http_image: str
) -> None:
    """Why ``configure containers`` writes credHelpers: containers/image has no credsStore."""
    assert clients.configure("docker").returncode == 0
    assert_inspect_denied(clients, http_registry, http_image, env=env_credentials(http_registry))


def test_containers_auth_json_credhelpers(clients: Clients, http_registry: Registry, http_image: str) -> None:
    assert clients.configure("containers", "--registry", http_registry.host).returncode == 0
    assert clients.containers_auth.exists()
    assert_inspect_denied(clients, http_registry, http_image)
    assert_inspect_ok(clients, http_registry, http_image, env=env_credentials(http_registry))


def test_registries_conf_credential_helpers(clients: Clients, http_registry: Registry, http_image: str) -> None:
    conf = clients.registries_conf(["imgpkg"])
    assert_inspect_denied(clients, http_registry, http_image, "--registries-conf", str(conf))
    assert_inspect_ok(
        clients, http_registry, http_image, "--registries-conf", str(conf), env=env_credentials(http_registry)
    )


def _setup_registry_auth_file(clients: Clients, host: str) -> list[str]:
    """``$REGISTRY_AUTH_FILE`` names the one file skopeo reads and writes; configure follows it."""
    clients.extra_env["REGISTRY_AUTH_FILE"] = str(clients.root / "registry-auth.json")
    assert clients.configure("containers", "--registry", host).returncode == 0
    return []


def _setup_docker_config(clients: Clients, host: str) -> list[str]:
    """With ``$DOCKER_CONFIG`` set, skopeo login/logout use ``$DOCKER_CONFIG/config.json`` as their auth file."""
    assert clients.configure("docker", "--registry", host).returncode == 0
    return []


def _setup_registries_conf(clients: Clients, host: str) -> list[str]:
    """registries.conf ``credential-helpers``: login stores into the first helper listed."""
    clients.extra_env["DOCKER_CONFIG"] = None  # else logout insists on $DOCKER_CONFIG/config.json existing
    return ["--registries-conf", str(clients.registries_conf(["imgpkg", "containers-auth.json"]))]


@pytest.mark.parametrize("setup", [_setup_registry_auth_file, _setup_docker_config, _setup_registries_conf])
def test_login_logout_round_trip(clients: Clients, http_registry: Registry, http_image: str, setup) -> None:
    host = http_registry.host
    flags = setup(clients, host)
    assert_inspect_denied(clients, http_registry, http_image, *flags)

    mark = http_registry.mark()
    result = clients.skopeo(
        *flags, "login", "--tls-verify=false", "-u", USER, "--password-stdin", host, input=PASSWORD + "\n"
    )
    assert result.returncode == 0 and "Login Succeeded" in result.output, result.describe()
    http_registry.assert_authorized(mark)
    assert clients.helper_get(host) == {"ServerURL": host, "Username": USER, "Secret": PASSWORD}
    for path in (clients.root / "registry-auth.json", clients.docker_config, clients.runtime_auth):
        if path.exists():  # stored by the helper, never base64 in an auth file
            assert 'auth"' not in path.read_text() and PASSWORD not in path.read_text(), path
    assert_inspect_ok(clients, http_registry, http_image, *flags)

    result = clients.skopeo(*flags, "logout", host)
    assert result.returncode == 0, result.describe()
    assert clients.helper_get(host) is None
    assert_inspect_denied(clients, http_registry, http_image, *flags)

    # logout of what is already gone: skopeo crashes if the helper's erase fails; it must not
    result = clients.skopeo(*flags, "logout", host)
    assert "goroutine" not in result.output and "stack overflow" not in result.output, result.describe()


def test_https_registry_with_the_suite_ca(clients: Clients, https_registry: Registry, https_image: str) -> None:
    host = https_registry.host
    assert clients.configure("containers", "--registry", f"https://{host}/v2/").returncode == 0
    assert clients.read_json(clients.containers_auth) == {"credHelpers": {host: "imgpkg"}}
    assert_inspect_denied(clients, https_registry, https_image)
    clients.extra_env.update(env_credentials(https_registry))
    assert_inspect_ok(clients, https_registry, https_image)
    result, mark = push(clients, https_registry, "e2e/skopeo-tls")
    assert result.returncode == 0, result.describe()
    https_registry.assert_authorized(mark, "/v2/e2e/skopeo-tls/manifests/1")


def test_wrong_password_surfaces_the_registry_401(clients: Clients, http_registry: Registry, http_image: str) -> None:
    assert clients.configure("containers", "--registry", http_registry.host).returncode == 0
    mark = http_registry.mark()
    result = inspect(clients, http_registry, http_image, env=env_credentials(http_registry, "wrong-password"))
    assert denied(result), result.describe()
    assert "error getting credentials" not in result.output, result.describe()  # the helper answered fine
    assert "internal error" not in result.output and "Traceback" not in result.output, result.describe()
    http_registry.assert_denied(mark)


def test_registry_token_alone_gives_a_clear_error(clients: Clients, http_registry: Registry, http_image: str) -> None:
    assert clients.configure("containers", "--registry", http_registry.host).returncode == 0
    mark = http_registry.mark()
    result = inspect(
        clients,
        http_registry,
        http_image,
        env={"IMGPKG_REGISTRY_HOSTNAME": http_registry.host, "IMGPKG_REGISTRY_REGISTRY_TOKEN": "bearer-only"},
    )
    assert result.returncode != 0, result.describe()
    # skopeo prints the helper's stdout in its error: the user learns which variable cannot be used
    assert "IMGPKG_REGISTRY_REGISTRY_TOKEN" in result.output, result.describe()
    assert "bearer-only" not in result.output, result.describe()
    assert "internal error" not in result.output and "Traceback" not in result.output, result.describe()
    assert not [a for a in http_registry.answered(mark) if a.authorized]
