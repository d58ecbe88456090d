"""What the kubelet provider suites share: requests, reading a response the way the kubelet's strict decoder
does, fake programs, service-account tokens, and the kubelet harness (tests/kubelet/harness, see README.md)
with its view of a node. Everything runs the program under test (``helper``) as a subprocess, as the kubelet
does."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

V1 = "credentialprovider.kubelet.k8s.io/v1"
V1BETA1 = "credentialprovider.kubelet.k8s.io/v1beta1"
CACHE_VAR = "DOCKER_CREDENTIAL_IMGPKG_KUBELET_CACHE"
PROVIDER = "docker-credential-imgpkg"
TOKEN_PROVIDER = "docker-credential-imgpkg-token"
RESPONSE_FIELDS = {"apiVersion", "kind", "cacheKeyType", "cacheDuration", "auth"}
KUBELET_DIR = Path(__file__).resolve().parent
BUILD = KUBELET_DIR / "build.sh"
FIND_GO = KUBELET_DIR.parent.parent / "packaging" / "find-go.sh"


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


def answer(key: str, username: str, password: str, cache_key_type: str, version: str = V1) -> dict:
    """The whole response for one credential under ``key``, no cacheDuration."""
    return {
        "apiVersion": version,
        "kind": "CredentialProviderResponse",
        "cacheKeyType": cache_key_type,
        "auth": {key: {"username": username, "password": password}},
    }


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


# --------------------------------------------------------------------------------------------------------------
# service-account tokens

ISSUER = "https://kubernetes.default.svc.cluster.local"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt_claims(token: str) -> dict:
    """The payload of a JWT (not verified)."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def sa_claims(namespace: str, name: str, audience: object, expires_in: int = 3600, not_before: int = 0) -> dict:
    """The claims of a projected service-account token for a pod of NAMESPACE running as NAME."""
    now = int(time.time())
    return {
        "aud": audience,
        "exp": now + expires_in,
        "iat": now - 60,
        "nbf": now + not_before if not_before else now - 60,
        "iss": ISSUER,
        "sub": f"system:serviceaccount:{namespace}:{name}",
        "kubernetes.io": {
            "namespace": namespace,
            "serviceaccount": {"name": name, "uid": "5f6c2d4e-0000-4000-8000-000000000001"},
            "pod": {"name": "app-7d9f", "uid": "5f6c2d4e-0000-4000-8000-000000000002"},
            "node": {"name": "node-1", "uid": "5f6c2d4e-0000-4000-8000-000000000003"},
        },
    }


def make_token(claims: dict) -> str:
    """A JWT shaped like the API server's (ES256 header, 64-byte signature). The plugin does not verify the
    signature (the kubelet got the token from the API server), so tests that run the program directly build
    their own; the harness mints really signed ones."""
    header = b64url(json.dumps({"alg": "ES256", "kid": "test-key"}).encode())
    return f"{header}.{b64url(json.dumps(claims).encode())}.{b64url(os.urandom(64))}"


def sa_token(namespace: str, name: str, audience: object, **kwargs: int) -> str:
    return make_token(sa_claims(namespace, name, audience, **kwargs))


def token_parts(token: str) -> tuple[str, ...]:
    """The token and each of its parts: none may appear in any output but a pass-through answer."""
    return (token, *token.split("."))


# --------------------------------------------------------------------------------------------------------------
# the kubelet harness


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set: the kubelet harness must run)")
    pytest.skip(reason)


def build_harness() -> Path:
    """tests/kubelet/build.sh's binary (built once, then reused from its cache while the sources are unchanged);
    ``KUBELET_HARNESS=path`` uses an already built one. Without Go: skipped, or failed under CI."""
    chosen = os.environ.get("KUBELET_HARNESS")
    if chosen:
        return Path(chosen).resolve()
    if subprocess.run(["bash", str(FIND_GO)], capture_output=True, timeout=60).returncode != 0:
        _unavailable("no Go >= 1.26 (packaging/find-go.sh): tests/kubelet/harness cannot be built")
    if not BUILD.exists():
        _unavailable(f"{BUILD} is missing")
    proc = subprocess.run(["bash", str(BUILD)], capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        pytest.fail(f"tests/kubelet/build.sh failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
    built = Path(proc.stdout.strip().splitlines()[-1]) if proc.stdout.strip() else None
    if built is None or not os.access(built, os.X_OK):
        pytest.fail(f"tests/kubelet/build.sh printed no executable path:\n{proc.stdout}{proc.stderr[-2000:]}")
    return built


@dataclass
class Pod:
    """The pod a pull is for, as the harness's pod flags describe it (README.md): its namespace, name and
    service account, the account's annotations, and how the API server mints its tokens."""

    namespace: str
    service_account: str = "default"
    name: str = "harness-pod"
    annotations: dict[str, str] = field(default_factory=dict)
    token_ttl: str = ""  # a Go duration; zero or negative: expired that long ago
    token_audience: str = ""  # mint for this audience instead of the one the kubelet asks for
    token_not_before: str = ""

    def flags(self) -> list[str]:
        out = ["--pod-namespace", self.namespace, "--pod-name", self.name]
        out += ["--pod-service-account", self.service_account]
        for key, value in self.annotations.items():
            out += ["--sa-annotation", f"{key}={value}"]
        for flag, value in (
            ("--token-ttl", self.token_ttl),
            ("--token-audience", self.token_audience),
            ("--token-not-before", self.token_not_before),
        ):
            if value:
                out += [flag, value]
        return out


class Node:
    """A kubelet's view: a bin dir holding the program under test under the providers' names, and the kubelet's
    environment (the helper's isolated one plus the test's variables), which the plugin inherits."""

    def __init__(self, harness: Path, helper, root: Path) -> None:
        self.harness = harness
        self.helper = helper
        self.bin_dir = root / "plugins"
        self.bin_dir.mkdir()
        for name in (PROVIDER, TOKEN_PROVIDER):
            (self.bin_dir / name).symlink_to(helper.program)
        self.config = root / "credential-providers.json"

    def run(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(self.harness), *args],
            capture_output=True,
            text=True,
            timeout=300,
            env={**self.helper.env, **(env or {})},
        )

    def configure(self, env: dict[str, str], *extra: str) -> subprocess.CompletedProcess:
        result = self.helper.run("configure", "kubelet", "--config", str(self.config), *extra, env=env)
        assert result.returncode == 0, result
        return result

    def validate(self, *args: str) -> dict:
        """The kubelet's start-up registration of the config (``validate``): must succeed."""
        proc = self.run("validate", *args, str(self.config))
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return json.loads(proc.stdout)

    def providers(self) -> dict[str, dict]:
        return {p["name"]: p for p in self.validate()["providers"]}

    def lookup(self, env: dict[str, str], *items: str | Pod, flags: tuple[str, ...] = ()) -> list[dict]:
        """One line per image. A Pod among the images makes the images after it pulls for that pod."""
        args: list[str] = []
        images: list[str] = []
        for item in items:
            if isinstance(item, Pod):
                args += item.flags()
            else:
                args.append(item)
                images.append(item)
        common = ["lookup", *flags, "--config", str(self.config), "--bin-dir", str(self.bin_dir)]
        proc = self.run(*common, *args, env=env)
        assert proc.returncode == 0, proc.stderr
        lines = [json.loads(line) for line in proc.stdout.splitlines()]
        assert [line["image"] for line in lines] == images
        return lines

    def exec(
        self,
        image: str,
        env: dict[str, str],
        version: str = V1,
        args: tuple[str, ...] = ("kubelet",),
        pod: Pod | None = None,
    ) -> tuple[int, dict]:
        """One run of the plugin through the kubelet's exec (a one-provider config from ARGS), for POD if given."""
        cmd = ["exec", "--bin-dir", str(self.bin_dir), "--name", PROVIDER, "--api-version", version]
        for arg in args:
            cmd += ["--arg", arg]
        if pod is not None:
            cmd += pod.flags()
        proc = self.run(*cmd, image, env=env)
        return proc.returncode, json.loads(proc.stdout.splitlines()[-1])


def creds(line: dict) -> list[tuple[str, str]]:
    """What the kubelet hands the runtime for one lookup line."""
    return [(a["username"], a["password"]) for a in line["auths"]]
