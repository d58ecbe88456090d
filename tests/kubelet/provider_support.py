"""What the kubelet provider suites share: requests, reading a response the way the kubelet's strict decoder
does, fake programs. Everything runs the program under test (``helper``) as a subprocess, as the kubelet does."""

from __future__ import annotations

import base64
import json
import stat
import sys
from pathlib import Path

V1 = "credentialprovider.kubelet.k8s.io/v1"
V1BETA1 = "credentialprovider.kubelet.k8s.io/v1beta1"
CACHE_VAR = "DOCKER_CREDENTIAL_IMGPKG_KUBELET_CACHE"
PROVIDER = "docker-credential-imgpkg"
RESPONSE_FIELDS = {"apiVersion", "kind", "cacheKeyType", "cacheDuration", "auth"}


def request(image: str, version: str = V1, **extra: object) -> str:
    return json.dumps({"apiVersion": version, "kind": "CredentialProviderRequest", "image": image, **extra})


def ask(helper, image: str, env: dict[str, str] | None = None, version: str = V1, **extra: object):
    return helper.run("kubelet", stdin=request(image, version, **extra), env=env)


def response(result, version: str = V1) -> dict:
    """The parsed response, checked as the kubelet's strict decoder would: exit 0, one JSON line on stdout and
    nothing else, no unknown field, the request's apiVersion, a valid cacheKeyType, auth entries of exactly
    username and password."""
    assert result.returncode == 0, f"exit {result.returncode}: stdout={result.stdout!r} stderr={result.stderr!r}"
    assert result.stdout.endswith("}\n") and result.stdout.count("\n") == 1, result.stdout
    obj = json.loads(result.stdout)
    assert set(obj) <= RESPONSE_FIELDS, obj
    assert (obj["apiVersion"], obj["kind"]) == (version, "CredentialProviderResponse"), obj
    assert obj["cacheKeyType"] in ("Image", "Registry"), obj
    for entry in (obj.get("auth") or {}).values():
        assert set(entry) == {"username", "password"}, obj
    return obj


def auth(result, version: str = V1) -> dict[str, tuple[str, str]]:
    """``{key: (username, password)}`` of a response ({} without auth)."""
    entries = response(result, version).get("auth") or {}
    return {key: (value["username"], value["password"]) for key, value in entries.items()}


def assert_failure(result, *fragments: str, secrets: tuple[str, ...] = (), status: int | None = None) -> str:
    """A refusal: non-zero exit, nothing on stdout, one short line on stderr with every fragment, no secret."""
    assert result.returncode != 0, result
    if status is not None:
        assert result.returncode == status, result
    assert result.stdout == "", result
    err = result.stderr
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert len(err) < 500, err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, f"{fragment!r} not in {err!r}"
    for secret in secrets:
        assert secret not in err, f"secret {secret!r} leaked: {err!r}"
    return err


def env_entry(host: str, user: str, secret: str, suffix: str = "") -> dict[str, str]:
    tail = f"_{suffix}" if suffix else ""
    return {
        f"IMGPKG_REGISTRY_HOSTNAME{tail}": host,
        f"IMGPKG_REGISTRY_USERNAME{tail}": user,
        f"IMGPKG_REGISTRY_PASSWORD{tail}": secret,
    }


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def seed_store(helper, entries: dict[str, tuple[str, str]]) -> None:
    """The helper's store file as ``store`` writes it (docker config format, 0700/0600)."""
    auths = {key: {"auth": b64(f"{user}:{secret}")} for key, (user, secret) in entries.items()}
    helper.store_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    helper.store_path.parent.chmod(0o700)
    helper.store_path.write_text(json.dumps({"auths": auths}))
    helper.store_path.chmod(0o600)


def fake_program(directory: Path, name: str, reply: str) -> Path:
    """A stand-in ``docker-credential-*`` program answering ``reply``; each call appends a line to NAME.log."""
    directory.mkdir(parents=True, exist_ok=True)
    log = directory / f"{name}.log"
    script = directory / name
    script.write_text(
        f"#!{sys.executable}\nimport sys\nsys.stdin.read()\n"
        f"open({str(log)!r}, 'a').write('call\\n')\nsys.stdout.write({reply!r})\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return log


def creds_json(username: str, secret: str) -> str:
    return json.dumps({"ServerURL": "", "Username": username, "Secret": secret}) + "\n"
