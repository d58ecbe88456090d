"""The seed's flows against real registries: a gcr-style ``_json_key`` login and identity tokens.

* ``_json_key``: the password is a ~2.3 KB multi-line service-account key. It must go through ``docker login``,
  the helper's store and back to the client byte for byte. (bcrypt, which the registry uses, reads the first
  72 bytes only, so the key carries a per-run random ``project_id`` inside them; the helper's answer is compared
  in full.)
* identity tokens: an entry whose username is ``<token>`` is an OAuth2 refresh token. The token registry only
  accepts bearer tokens, which clients get from the token server with ``grant_type=refresh_token`` when the
  helper hands them an identity token, and with a password grant otherwise.
"""

from __future__ import annotations

import json
import secrets
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from .fixtures import IDENTITY_TOKEN
from .support import PASSWORD, USER, Clients, Registry, TokenServer, denied, tls_args

pytestmark = pytest.mark.e2e

SEED = "/v2/e2e/seed/manifests/1"


def make_json_key() -> str:
    """A service-account key shaped like the ones ``gcloud iam service-accounts keys create`` writes."""
    project = "e2e-" + secrets.token_hex(4)  # inside bcrypt's first 72 bytes: a different key is a wrong password
    body = secrets.token_bytes(1190)
    import base64

    pem = "\\n".join(textwrap.wrap(base64.b64encode(body).decode(), 64))
    key = {
        "type": "service_account",
        "project_id": project,
        "private_key_id": secrets.token_hex(20),
        "private_key": f"-----BEGIN PRIVATE KEY-----\\n{pem}\\n-----END PRIVATE KEY-----\\n",
        "client_email": f"pusher@{project}.iam.gserviceaccount.com",
        "client_id": str(secrets.randbelow(10**21)),
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": "https://oauth2.googleapis.com/token",
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_x509_cert_url": f"https://www.googleapis.com/robot/v1/metadata/x509/pusher%40{project}.iam.gserviceaccount.com",
        "universe_domain": "googleapis.com",
    }
    # json.dumps would escape the PEM's backslashes again; lay the file out by hand like gcloud does
    lines = [f'  "{k}": "{v}"' for k, v in key.items()]
    return "{\n" + ",\n".join(lines) + "\n}"


JSON_KEY = make_json_key()


@pytest.fixture(scope="module")
def gcr_registry(e2e_root: Path) -> Iterator[Registry]:
    registry = Registry(e2e_root / "registry-gcr", "gcr", users={"_json_key": JSON_KEY}).start()
    yield registry
    registry.stop()


@pytest.fixture(scope="module")
def gcr_image(gcr_registry: Registry, oci_image: Path, e2e_root: Path, helper_bin: Path) -> str:
    seeder = Clients(e2e_root / "seed-gcr", helper_bin, oci_image)
    result = seeder.skopeo(
        "--policy", str(seeder.policy), "copy", "--format", "v2s2", "--dest-tls-verify=false",
        "--dest-creds", f"_json_key:{JSON_KEY}",
        f"oci:{oci_image}:v1", f"docker://{gcr_registry.host}/e2e/seed:1",
    )  # fmt: skip
    assert result.returncode == 0, result.describe()
    return f"{gcr_registry.host}/e2e/seed:1"


def test_json_key_is_realistic() -> None:
    assert 2100 <= len(JSON_KEY) <= 2600
    assert JSON_KEY.count("\n") >= 10
    assert json.loads(JSON_KEY)["type"] == "service_account"


def test_json_key_docker_login_round_trip_byte_exact(clients: Clients, gcr_registry: Registry, gcr_image: str) -> None:
    host = gcr_registry.host
    assert clients.configure("docker").returncode == 0

    mark = gcr_registry.mark()
    result = clients.docker("manifest", "inspect", "--insecure", gcr_image)
    assert result.returncode != 0, result.describe()
    gcr_registry.assert_denied(mark)

    mark = gcr_registry.mark()
    result = clients.docker("login", "-u", "_json_key", "--password-stdin", host, input=JSON_KEY + "\n")
    assert result.returncode == 0, result.describe()
    gcr_registry.assert_authorized(mark)

    answer = clients.helper_get(host)
    assert answer is not None
    assert answer["Username"] == "_json_key"
    assert answer["Secret"] == JSON_KEY  # byte-exact, newlines and backslashes included
    assert "PRIVATE KEY" not in clients.docker_config.read_text()

    mark = gcr_registry.mark()
    result = clients.docker("manifest", "inspect", "--insecure", gcr_image)
    assert result.returncode == 0, result.describe()
    gcr_registry.assert_authorized(mark, SEED)

    # docker-py reads the same entry back unchanged
    script = (
        "import docker.auth, json, sys; cfg = docker.auth.load_config(config_path=sys.argv[1]); "
        "print(json.dumps(docker.auth.resolve_authconfig(cfg, sys.argv[2])))"
    )
    pytest.importorskip("docker")
    result = clients.run([sys.executable, "-c", script, str(clients.docker_config), host])
    assert result.returncode == 0, result.describe()
    assert json.loads(result.stdout)["Password"] == JSON_KEY


def test_json_key_from_env_with_skopeo(clients: Clients, gcr_registry: Registry, gcr_image: str) -> None:
    assert clients.configure("containers", "--registry", gcr_registry.host).returncode == 0
    env = {
        "IMGPKG_REGISTRY_HOSTNAME": gcr_registry.host,
        "IMGPKG_REGISTRY_USERNAME": "_json_key",
        "IMGPKG_REGISTRY_PASSWORD": JSON_KEY,
    }
    answer = clients.helper_get(gcr_registry.host, env=env)
    assert answer is not None and answer["Secret"] == JSON_KEY
    mark = gcr_registry.mark()
    result = clients.skopeo("inspect", *tls_args(gcr_registry), f"docker://{gcr_image}", env=env)
    assert result.returncode == 0, result.describe()
    gcr_registry.assert_authorized(mark, SEED)


def test_json_key_of_another_account_is_refused(clients: Clients, gcr_registry: Registry) -> None:
    assert clients.configure("docker").returncode == 0
    mark = gcr_registry.mark()
    other = make_json_key()
    result = clients.docker("login", "-u", "_json_key", "--password-stdin", gcr_registry.host, input=other + "\n")
    assert result.returncode != 0, result.describe()
    assert "unauthorized" in result.output.lower() or "401" in result.output, result.describe()
    gcr_registry.assert_denied(mark)
    assert clients.helper_get(gcr_registry.host) is None


# -- identity tokens against a token-auth registry ------------------------------------------------------------


def grants_since(server: TokenServer, mark: int) -> list[tuple[str, str]]:
    return server.grants[mark:]


def inspect_token_registry(clients: Clients, client: str, registry: Registry, image: str):
    if client == "docker":
        return clients.docker("manifest", "inspect", "--insecure", image)
    return clients.skopeo("inspect", *tls_args(registry), f"docker://{image}")


def configure_for(clients: Clients, client: str, registry: Registry) -> None:
    if client == "docker":
        assert clients.configure("docker").returncode == 0
    else:
        assert clients.configure("containers", "--registry", registry.host).returncode == 0


@pytest.mark.parametrize("client", ["docker", "skopeo"])
@pytest.mark.parametrize("origin", ["env", "store"])
def test_identity_token_reaches_the_client_as_an_identity_token(
    clients: Clients, token_registry: Registry, token_server: TokenServer, token_image: str, client: str, origin: str
) -> None:
    host = token_registry.host
    configure_for(clients, client, token_registry)

    mark, granted = token_registry.mark(), len(token_server.grants)
    result = inspect_token_registry(clients, client, token_registry, token_image)
    assert denied(result), result.describe()
    assert not [a for a in token_registry.answered(mark) if a.authorized]

    if origin == "env":
        clients.extra_env.update(IMGPKG_REGISTRY_HOSTNAME=host, IMGPKG_REGISTRY_IDENTITY_TOKEN=IDENTITY_TOKEN)
    else:
        stored = clients.helper(
            "store", json.dumps({"ServerURL": host, "Username": "<token>", "Secret": IDENTITY_TOKEN})
        )
        assert stored.returncode == 0, stored.describe()
    assert clients.helper_get(host) == {"ServerURL": host, "Username": "<token>", "Secret": IDENTITY_TOKEN}

    mark, granted = token_registry.mark(), len(token_server.grants)
    result = inspect_token_registry(clients, client, token_registry, token_image)
    assert result.returncode == 0, result.describe()
    token_registry.assert_authorized(mark, SEED)
    grants = grants_since(token_server, granted)
    # the client used the secret as an OAuth2 refresh token, never as a password
    assert ("refresh_token", USER) in grants, grants
    assert all(kind == "refresh_token" for kind, _ in grants), grants


@pytest.mark.parametrize("client", ["docker", "skopeo"])
def test_password_login_still_works_on_the_token_registry(
    clients: Clients, token_registry: Registry, token_server: TokenServer, token_image: str, client: str
) -> None:
    configure_for(clients, client, token_registry)
    clients.extra_env.update(
        IMGPKG_REGISTRY_HOSTNAME=token_registry.host, IMGPKG_REGISTRY_USERNAME=USER, IMGPKG_REGISTRY_PASSWORD=PASSWORD
    )
    mark, granted = token_registry.mark(), len(token_server.grants)
    result = inspect_token_registry(clients, client, token_registry, token_image)
    assert result.returncode == 0, result.describe()
    token_registry.assert_authorized(mark, SEED)
    assert ("password", USER) in grants_since(token_server, granted)


def test_revoked_identity_token_is_refused(
    clients: Clients, token_registry: Registry, token_server: TokenServer, token_image: str
) -> None:
    configure_for(clients, "skopeo", token_registry)
    clients.extra_env.update(
        IMGPKG_REGISTRY_HOSTNAME=token_registry.host, IMGPKG_REGISTRY_IDENTITY_TOKEN="revoked-refresh-token"
    )
    mark = token_registry.mark()
    result = inspect_token_registry(clients, "skopeo", token_registry, token_image)
    assert result.returncode != 0, result.describe()
    assert "internal error" not in result.output and "Traceback" not in result.output, result.describe()
    assert not [a for a in token_registry.answered(mark) if a.authorized]
