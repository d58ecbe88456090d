"""docker CLI (no daemon) with the helper as ``credsStore`` and as a ``credHelpers`` entry.

``docker login`` checks the password against the registry itself before it stores it through the helper;
``docker manifest inspect`` asks the helper (``get``) and talks to the registry; ``docker logout`` erases four
spellings of the address through the helper.
"""

from __future__ import annotations

import json

import pytest

from .support import PASSWORD, USER, Clients, Registry

pytestmark = pytest.mark.e2e

SEED = "/v2/e2e/seed/manifests/1"


def inspect(clients: Clients, image: str, env=None):
    return clients.docker("manifest", "inspect", "--insecure", image, env=env)


def assert_inspect_denied(clients: Clients, registry: Registry, image: str) -> None:
    mark = registry.mark()
    result = inspect(clients, image)
    assert result.returncode != 0, result.describe()
    assert "unauthorized" in result.output.lower() or "no basic auth" in result.output.lower(), result.describe()
    registry.assert_denied(mark)  # docker stops at the /v2/ ping's 401 when it has nothing to send


def assert_inspect_ok(clients: Clients, registry: Registry, image: str) -> None:
    mark = registry.mark()
    result = inspect(clients, image)
    assert result.returncode == 0, result.describe()
    assert json.loads(result.stdout)["schemaVersion"] == 2
    registry.assert_authorized(mark, SEED)


def login(clients: Clients, registry: Registry, address: str | None = None, user: str = USER, password: str = PASSWORD):
    mark = registry.mark()
    result = clients.docker("login", "-u", user, "--password-stdin", address or registry.host, input=password + "\n")
    return result, mark


def test_credsstore_login_inspect_logout(clients: Clients, http_registry: Registry, http_image: str) -> None:
    host = http_registry.host
    assert clients.configure("docker").returncode == 0
    assert clients.read_json(clients.docker_config) == {"credsStore": "imgpkg"}

    assert_inspect_denied(clients, http_registry, http_image)

    result, mark = login(clients, http_registry)
    assert result.returncode == 0 and "Login Succeeded" in result.output, result.describe()
    http_registry.assert_authorized(mark, "/v2/")
    assert clients.helper_get(host) == {"ServerURL": host, "Username": USER, "Secret": PASSWORD}
    # docker keeps only a placeholder: the secret went to the helper, not into config.json
    config = clients.read_json(clients.docker_config)
    assert config["credsStore"] == "imgpkg"
    assert config.get("auths", {}).get(host, {}) == {}
    assert PASSWORD not in clients.docker_config.read_text()

    assert_inspect_ok(clients, http_registry, http_image)

    result = clients.docker("logout", host)
    assert result.returncode == 0, result.describe()
    assert "WARNING" not in result.output and "could not erase" not in result.output, result.describe()
    assert clients.helper_get(host) is None
    assert_inspect_denied(clients, http_registry, http_image)


@pytest.mark.parametrize("spelling", ["https://{host}/v2/", "http://{host}", "{host}"])
def test_logout_spellings_erase_what_login_stored(
    clients: Clients, http_registry: Registry, http_image: str, spelling: str
) -> None:
    host = http_registry.host
    assert clients.configure("docker").returncode == 0
    result, _ = login(clients, http_registry, spelling.format(host=host))
    assert result.returncode == 0, result.describe()
    assert clients.helper_get(host) is not None
    result = clients.docker("logout", spelling.format(host=host))
    assert result.returncode == 0 and "WARNING" not in result.output, result.describe()
    for form in (host, f"http://{host}", f"https://{host}", f"https://{host}/v2/"):
        assert clients.helper_get(form) is None, form
    assert json.loads(clients.helper("list").stdout) == {}
    assert_inspect_denied(clients, http_registry, http_image)


def test_credhelpers_entry(clients: Clients, http_registry: Registry, http_image: str) -> None:
    host = http_registry.host
    assert clients.configure("docker", "--registry", f"http://{host}/v2/").returncode == 0
    config = clients.read_json(clients.docker_config)
    assert config == {"credHelpers": {host: "imgpkg"}}

    assert_inspect_denied(clients, http_registry, http_image)
    result, mark = login(clients, http_registry)
    assert result.returncode == 0, result.describe()
    http_registry.assert_authorized(mark, "/v2/")
    assert clients.helper_get(host) == {"ServerURL": host, "Username": USER, "Secret": PASSWORD}
    assert "credsStore" not in clients.read_json(clients.docker_config)
    assert_inspect_ok(clients, http_registry, http_image)

    result = clients.docker("logout", host)
    assert result.returncode == 0 and "WARNING" not in result.output, result.describe()
    assert clients.helper_get(host) is None
    assert_inspect_denied(clients, http_registry, http_image)


def test_env_credentials_reach_docker_without_login(clients: Clients, http_registry: Registry, http_image: str) -> None:
    assert clients.configure("docker").returncode == 0
    assert_inspect_denied(clients, http_registry, http_image)
    clients.extra_env.update(
        IMGPKG_REGISTRY_HOSTNAME=http_registry.host, IMGPKG_REGISTRY_USERNAME=USER, IMGPKG_REGISTRY_PASSWORD=PASSWORD
    )
    assert_inspect_ok(clients, http_registry, http_image)


def test_wrong_password_login_is_refused_by_the_registry(clients: Clients, http_registry: Registry) -> None:
    assert clients.configure("docker").returncode == 0
    result, mark = login(clients, http_registry, password="wrong-password")
    assert result.returncode != 0, result.describe()
    assert "unauthorized" in result.output.lower() or "401" in result.output, result.describe()
    assert "internal error" not in result.output and "Traceback" not in result.output, result.describe()
    http_registry.assert_denied(mark, "/v2/")
    assert clients.helper_get(http_registry.host) is None  # nothing stored


def test_wrong_password_from_the_helper_surfaces_the_registry_401(
    clients: Clients, http_registry: Registry, http_image: str
) -> None:
    assert clients.configure("docker").returncode == 0
    stored = clients.helper(
        "store", json.dumps({"ServerURL": http_registry.host, "Username": USER, "Secret": "stale-password"})
    )
    assert stored.returncode == 0, stored.describe()
    mark = http_registry.mark()
    result = inspect(clients, http_image)
    assert result.returncode != 0, result.describe()
    # docker's manifest command reports a 401 on the manifest as "no such manifest"; the registry's log is
    # the ground truth that it was the password that was refused
    text = result.output.lower()
    assert "unauthorized" in text or "no such manifest" in text, result.describe()
    assert "internal error" not in result.output and "Traceback" not in result.output, result.describe()
    http_registry.assert_denied(mark, SEED)
    assert any("authentication failure" in str(e.get("msg", "")) for e in http_registry.events(mark)), (
        "the registry did not check (and refuse) a password"
    )


def test_registry_token_alone_error_reaches_the_docker_user(
    clients: Clients, http_registry: Registry, http_image: str
) -> None:
    assert clients.configure("docker").returncode == 0
    mark = http_registry.mark()
    result = inspect(
        clients,
        http_image,
        env={"IMGPKG_REGISTRY_HOSTNAME": http_registry.host, "IMGPKG_REGISTRY_REGISTRY_TOKEN": "bearer-only"},
    )
    assert result.returncode != 0, result.describe()
    assert not [a for a in http_registry.answered(mark) if a.authorized]
    assert "bearer-only" not in result.output, result.describe()
    assert "IMGPKG_REGISTRY_REGISTRY_TOKEN" in result.output, result.describe()
