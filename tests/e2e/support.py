"""Machinery for the end-to-end suite: real registries on loopback, a daemonless test image, isolated clients.

Everything here drives real programs (Debian's ``docker-registry``, ``openssl``, ``htpasswd``, the docker CLI,
skopeo, podman). The one piece written here is :class:`TokenServer`, a minimal Docker token-auth issuer
(distribution ships none): it lets the real registry check the bearer tokens that clients obtain with the
identity (OAuth2 refresh) tokens the helper hands them.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import hashlib
import io
import json
import os
import platform
import secrets
import shlex
import shutil
import socket
import ssl
import subprocess
import tarfile
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from common import NOT_FOUND, PROGRAM_NAME, stop_pid

HELPER_NAME = PROGRAM_NAME  # what clients run, found through PATH
USER = "testuser"
PASSWORD = "testpass"
# The second registry's account (the fixture ``other_registry``): copies between registries need different
# credentials on each side.
OTHER_USER = "otheruser"
OTHER_PASSWORD = "otherpass-e2e-2"

# Variables a test must never inherit: they would point a client or the helper at the developer's own setup.
_STRIPPED_PREFIXES = ("IMGPKG_", "DOCKER_")
_STRIPPED_NAMES = (
    "REGISTRY_AUTH_FILE",
    "CONTAINERS_REGISTRIES_CONF",
    "CONTAINERS_CONF",
    "CONTAINERS_STORAGE_CONF",
    "CONTAINER_HOST",
    "CONTAINER_CONNECTION",
    "XDG_CONFIG_HOME",
    "XDG_RUNTIME_DIR",
    "XDG_DATA_HOME",
    "XDG_CACHE_HOME",
    "HOME",
    "TMPDIR",
)


# --------------------------------------------------------------------------------------------------------------
# processes


@dataclass
class Result:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def describe(self) -> str:
        return (
            f"$ {shlex.join(self.argv)}  -> rc={self.returncode} ({self.seconds:.2f}s)\n"
            f"--- stdout\n{self.stdout}--- stderr\n{self.stderr}"
        )


def run(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    input: str | bytes | None = None,
    cwd: Path | None = None,
    timeout: float = 120,
) -> Result:
    data = input.encode() if isinstance(input, str) else input
    started = time.monotonic()
    proc = subprocess.run(
        list(argv),
        input=data if data is not None else b"",
        capture_output=True,
        env=dict(env) if env is not None else None,
        cwd=cwd,
        timeout=timeout,
        check=False,
    )
    return Result(
        list(argv),
        proc.returncode,
        proc.stdout.decode("utf-8", "replace"),
        proc.stderr.decode("utf-8", "replace"),
        time.monotonic() - started,
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --------------------------------------------------------------------------------------------------------------
# certificates (openssl) and htpasswd


@dataclass(frozen=True)
class TLSFiles:
    ca_cert: Path
    cert: Path
    key: Path
    cert_dir: Path  # a directory holding only ca.crt: what skopeo/podman take as --cert-dir

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_cert))


def _openssl(*args: str, cwd: Path) -> None:
    result = run(["openssl", *args], cwd=cwd, timeout=60)
    if result.returncode != 0:
        raise RuntimeError("openssl failed\n" + result.describe())


def make_tls(directory: Path) -> TLSFiles:
    """A throw-away CA and a server certificate for 127.0.0.1 / localhost signed by it."""
    directory.mkdir(parents=True, exist_ok=True)
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-keyout", "ca.key", "-out", "ca.crt", "-subj", "/CN=docker-credential-imgpkg e2e CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=directory,
    )  # fmt: skip
    _openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
        "-subj", "/CN=127.0.0.1",
        cwd=directory,
    )  # fmt: skip
    (directory / "server.ext").write_text(
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
        "extendedKeyUsage=serverAuth\n"
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
    )
    _openssl(
        "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-set_serial", str(int.from_bytes(secrets.token_bytes(8), "big")), "-days", "2",
        "-extfile", "server.ext", "-out", "server.crt",
        cwd=directory,
    )  # fmt: skip
    cert_dir = directory / "certs.d"
    cert_dir.mkdir(exist_ok=True)
    shutil.copy(directory / "ca.crt", cert_dir / "ca.crt")
    return TLSFiles(directory / "ca.crt", directory / "server.crt", directory / "server.key", cert_dir)


def write_htpasswd(path: Path, users: Mapping[str, str]) -> None:
    """bcrypt entries made by Apache's ``htpasswd -Bbn`` (distribution reads bcrypt only).

    bcrypt looks at the first 72 bytes of a password: a longer secret (a gcr JSON key) is told apart from a
    wrong one only by those bytes, so tests that need that make the first 72 bytes unique.
    """
    lines = []
    for user, password in users.items():
        # bcrypt's 72-byte limit, applied before htpasswd's own 256-byte cap: the same hash either way
        prefix = password.encode()[:72].decode("utf-8", "ignore")
        result = run(["htpasswd", "-Bbn", user, prefix], timeout=30)
        if result.returncode != 0:
            raise RuntimeError(f"htpasswd failed for user {user!r}: {result.stderr.strip()}")
        lines.append(result.stdout.strip())
    path.write_text("\n".join(lines) + "\n")


# --------------------------------------------------------------------------------------------------------------
# the registry (distribution 2.8, Debian's docker-registry)


@dataclass
class Answer:
    method: str
    uri: str
    status: int = 0
    authorized: bool = False
    user: str = ""


@dataclass
class Registry:
    """One ``docker-registry serve`` process on 127.0.0.1, HTTP or HTTPS, htpasswd or token auth."""

    workdir: Path
    name: str
    users: Mapping[str, str] = field(default_factory=lambda: {USER: PASSWORD})
    tls: TLSFiles | None = None
    token_auth: TokenServer | None = None
    port: int = 0
    pid: int | None = None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "registry.log"

    def _config(self) -> str:
        lines = [
            "version: 0.1",
            "log:",
            "  level: info",
            "  formatter: json",
            "storage:",
            f"  filesystem: {{rootdirectory: {self.workdir / 'data'}}}",
            "  delete: {enabled: true}",
            "http:",
            f"  addr: {self.host}",
            f"  secret: e2e-{self.name}",
        ]
        if self.tls:
            lines += ["  tls:", f"    certificate: {self.tls.cert}", f"    key: {self.tls.key}"]
        lines.append("auth:")
        if self.token_auth:
            t = self.token_auth
            lines += [
                "  token:",
                f"    realm: {t.realm}",
                f"    service: {t.service}",
                f"    issuer: {t.issuer}",
                f"    rootcertbundle: {t.signer_cert}",
            ]
        else:
            lines += ["  htpasswd:", "    realm: e2e-basic-realm", f"    path: {self.workdir / 'htpasswd'}"]
        return "\n".join(lines) + "\n"

    def start(self, attempts: int = 3) -> Registry:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if not self.token_auth:
            write_htpasswd(self.workdir / "htpasswd", self.users)
        last = ""
        for _ in range(attempts):
            self.port = free_port()
            config = self.workdir / "config.yml"
            config.write_text(self._config())
            with open(self.log_path, "ab") as log:
                proc = subprocess.Popen(
                    ["docker-registry", "serve", str(config)],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            self.pid = proc.pid
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    break
                if self.probe("/v2/") == 401:
                    return self
                time.sleep(0.05)
            last = self.log_path.read_text(errors="replace")[-2000:]
            self.stop()
        raise RuntimeError(f"registry {self.name} did not come up; log tail:\n{last}")

    def stop(self) -> None:
        if self.pid is not None:
            stop_pid(self.pid)
            self.pid = None

    def probe(self, path: str, user: str | None = None, password: str | None = None) -> int | None:
        """The registry's HTTP status for GET ``path``, optionally with basic auth (no client, no helper)."""
        request = urllib.request.Request(self.url + path)
        if user is not None:
            token = base64.b64encode(f"{user}:{password or ''}".encode()).decode()
            request.add_header("Authorization", "Basic " + token)
        context = self.tls.ssl_context() if self.tls else None
        try:
            with urllib.request.urlopen(request, timeout=5, context=context) as response:
                return response.status
        except urllib.error.HTTPError as err:
            return err.code
        except (OSError, ssl.SSLError):
            return None

    # -- reading what the registry decided ---------------------------------------------------------------------

    def mark(self) -> int:
        """A position in the log; ``events(mark)`` returns what the registry logged after it."""
        return self.log_path.stat().st_size if self.log_path.exists() else 0

    def events(self, since: int = 0) -> list[dict]:
        with open(self.log_path, "rb") as log:
            log.seek(since)
            data = log.read().decode("utf-8", "replace")
        out = []
        for line in data.splitlines():
            if line.startswith("{"):
                with contextlib.suppress(ValueError):
                    out.append(json.loads(line))
        return out

    def answered(self, since: int) -> list[Answer]:
        """What the registry decided for each request after ``since`` (from its JSON log, joined by request id)."""
        answers: dict[str, Answer] = {}
        for event in self.events(since):
            rid = event.get("http.request.id")
            if not rid:
                continue
            answer = answers.setdefault(
                rid, Answer(event.get("http.request.method", ""), event.get("http.request.uri", ""))
            )
            msg = str(event.get("msg", ""))
            answer.user = answer.user or event.get("auth.user.name", "")
            if msg == "authorized request":
                answer.authorized = True
            elif msg.startswith("error authorizing context"):
                answer.status = 401
            elif msg.startswith("response completed"):
                answer.status = int(event.get("http.response.status", 0))
        return list(answers.values())

    def assert_authorized(self, since: int, uri_part: str = "/v2/") -> None:
        """The registry authenticated a request under ``uri_part`` and answered it with 2xx."""
        answers = self.answered(since)
        ok = [a for a in answers if uri_part in a.uri and a.authorized and 200 <= a.status < 300]
        assert ok, f"registry {self.name}: no authenticated 2xx for {uri_part!r}; saw {answers}"

    def assert_denied(self, since: int, uri_part: str = "/v2/") -> None:
        """The registry answered 401 under ``uri_part`` and authenticated nothing there."""
        answers = self.answered(since)
        denied = [a for a in answers if uri_part in a.uri and a.status == 401]
        served = [a for a in answers if uri_part in a.uri and a.authorized]
        assert denied, f"registry {self.name}: expected a 401 for {uri_part!r}; saw {answers}"
        assert not served, f"registry {self.name}: expected no authenticated request; saw {served}"

    def log_tail(self, since: int = 0, limit: int = 40) -> str:
        """The last requests and errors, one short line each (the full log stays in ``log_path``)."""
        if not self.log_path.exists():
            return "(no log)"
        lines = []
        for e in self.events(since):
            uri = str(e.get("http.request.uri", ""))
            uri = uri if len(uri) <= 90 else uri[:87] + "..."
            status = e.get("http.response.status", "")
            user = e.get("auth.user.name", "")
            agent = str(e.get("http.request.useragent", "")).split(" ")[0]
            level, method = e.get("level", "?"), e.get("http.request.method", "")
            lines.append(f"{level:7} {method:6} {uri} {status} {user} [{agent}] {e.get('msg', '')}")
        return f"(full log: {self.log_path})\n" + "\n".join(lines[-limit:])


# --------------------------------------------------------------------------------------------------------------
# a token issuer for the registry's token auth (identity-token flows)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenServer:
    """Docker token auth (``auth.token`` in distribution) on 127.0.0.1: password grants and OAuth2 refresh grants.

    JWTs are RS256-signed by ``openssl dgst``; the registry verifies them against ``signer_cert``. Every grant is
    recorded in ``grants`` as ``(grant_type, subject)`` so a test can tell a password login from a refresh-token
    (identity-token) exchange.
    """

    service = "e2e-registry"
    issuer = "e2e-token-issuer"

    def __init__(
        self,
        workdir: Path,
        users: Mapping[str, str],
        refresh_tokens: Mapping[str, str],
        acl: Mapping[str, Sequence[str]] | None = None,
    ):
        self.workdir = workdir
        self.users = dict(users)
        self.refresh_tokens = dict(refresh_tokens)  # token -> subject
        self.acl = dict(acl or {})  # subject -> the repositories (and those below them) it may use; others: all
        self.grants: list[tuple[str, str]] = []
        self.access: list[tuple[str, str]] = []  # (subject, repository) for every repository scope granted
        self.denied: list[str] = []
        self._lock = threading.Lock()
        workdir.mkdir(parents=True, exist_ok=True)
        _openssl(
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-keyout", "signer.key", "-out", "signer.crt", "-subj", "/CN=e2e token signer",
            cwd=workdir,
        )  # fmt: skip
        self.signer_key = workdir / "signer.key"
        self.signer_cert = workdir / "signer.crt"
        der = subprocess.run(
            ["openssl", "x509", "-in", str(self.signer_cert), "-pubkey", "-noout"], capture_output=True, check=True
        ).stdout
        spki = subprocess.run(
            ["openssl", "pkey", "-pubin", "-outform", "DER"], input=der, capture_output=True, check=True
        ).stdout
        # libtrust key id: base32 of the first 240 bits of sha256(SPKI DER), in 4-character groups.
        b32 = base64.b32encode(hashlib.sha256(spki).digest()[:30]).decode().rstrip("=")
        self.kid = ":".join(b32[i : i + 4] for i in range(0, len(b32), 4))
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="e2e-token-server", daemon=True)

    @property
    def realm(self) -> str:
        return f"http://127.0.0.1:{self.port}/token"

    def start(self) -> TokenServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def allowed(self, subject: str, repository: str) -> bool:
        if subject not in self.acl:
            return True
        return any(repository == r or repository.startswith(r + "/") for r in self.acl[subject])

    def issue(self, subject: str, scopes: Iterable[str]) -> str:
        access = []
        for scope in scopes:
            parts = scope.split(":")
            if len(parts) >= 3:
                kind, name, actions = parts[0], ":".join(parts[1:-1]), parts[-1]
                if kind == "repository" and not self.allowed(subject, name):
                    continue  # the registry then refuses the request: the token grants nothing there
                if kind == "repository":
                    with self._lock:
                        self.access.append((subject, name))
                access.append({"type": kind, "name": name, "actions": [a for a in actions.split(",") if a]})
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "kid": self.kid}
        claims = {
            "iss": self.issuer,
            "sub": subject,
            "aud": self.service,
            "exp": now + 600,
            "nbf": now - 30,
            "iat": now,
            "jti": secrets.token_hex(8),
            "access": access,
        }
        signing_input = _b64url(json.dumps(header).encode()) + "." + _b64url(json.dumps(claims).encode())
        signature = subprocess.run(
            ["openssl", "dgst", "-sha256", "-sign", str(self.signer_key)],
            input=signing_input.encode(),
            capture_output=True,
            check=True,
        ).stdout
        return signing_input + "." + _b64url(signature)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:  # keep pytest output clean
                return

            def _reply(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _grant(self, grant: str, subject: str, scopes: list[str], refresh: str | None) -> None:
                with server._lock:
                    server.grants.append((grant, subject))
                token = server.issue(subject, scopes)
                issued = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
                body = {"token": token, "access_token": token, "expires_in": 600, "issued_at": issued}
                if refresh:
                    body["refresh_token"] = refresh
                self._reply(200, body)

            def _deny(self, why: str) -> None:
                with server._lock:
                    server.denied.append(why)
                self._reply(401, {"errors": [{"code": "UNAUTHORIZED", "message": why}]})

            def do_GET(self) -> None:  # password grant via basic auth (docker, containers/image)
                query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
                scopes = query.get("scope", [])
                header = self.headers.get("Authorization", "")
                if not header.startswith("Basic "):
                    return self._deny("anonymous")
                user, _, password = base64.b64decode(header[6:]).decode("utf-8", "replace").partition(":")
                if server.users.get(user) != password:
                    return self._deny(f"bad password for {user}")
                offline = query.get("offline_token", [""])[0] == "true"
                refresh = next((t for t, s in server.refresh_tokens.items() if s == user), None) if offline else None
                self._grant("password", user, scopes, refresh)

            def _body(self) -> bytes:
                if "chunked" in self.headers.get("Transfer-Encoding", "").lower():  # containers/image sends this
                    data = b""
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            while self.rfile.readline().strip():  # trailers
                                pass
                            return data
                        data += self.rfile.read(size)
                        self.rfile.readline()
                return self.rfile.read(int(self.headers.get("Content-Length", "0")))

            def do_POST(self) -> None:  # OAuth2: refresh_token (identity token) or password
                form = urllib.parse.parse_qs(self._body().decode())
                grant = form.get("grant_type", [""])[0]
                scopes = " ".join(form.get("scope", [])).split()
                if grant == "refresh_token":
                    token = form.get("refresh_token", [""])[0]
                    subject = server.refresh_tokens.get(token)
                    if subject is None:
                        return self._deny("unknown refresh token")
                    return self._grant("refresh_token", subject, scopes, token)
                if grant == "password":
                    user = form.get("username", [""])[0]
                    if server.users.get(user) != form.get("password", [""])[0]:
                        return self._deny(f"bad password for {user}")
                    return self._grant("password", user, scopes, None)
                return self._deny(f"unsupported grant {grant!r}")

        return Handler


# --------------------------------------------------------------------------------------------------------------
# a test image without a daemon: an OCI image layout


def _go_arch() -> str:
    machine = platform.machine().lower()
    return {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)


def _blob(layout: Path, data: bytes) -> tuple[str, int]:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    path = layout / "blobs" / "sha256" / digest.split(":", 1)[1]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return digest, len(data)


def write_oci_layout(
    layout: Path,
    tag: str = "v1",
    files: Mapping[str, bytes] | None = None,
    *,
    executables: Collection[str] = (),
    cmd: Sequence[str] = ("/hello.txt",),
    annotations: Mapping[str, str] | None = None,
) -> str:
    """Write a one-layer image as an OCI image layout; returns the manifest digest. Bytes are deterministic.

    ``executables``: the names in ``files`` written with mode 0755 (the rest 0644); ``cmd``: the config's Cmd;
    ``annotations``: added to the index entry (``io.containerd.image.name`` names the image for ``ctr import``).
    """
    files = files or {"hello.txt": b"hello from docker-credential-imgpkg e2e\n"}
    layout.mkdir(parents=True, exist_ok=True)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o755 if name in executables else 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    layer_tar = raw.getvalue()
    layer_gz = gzip.compress(layer_tar, mtime=0)
    layer_digest, layer_size = _blob(layout, layer_gz)
    config = {
        "created": "1970-01-01T00:00:00Z",
        "architecture": _go_arch(),
        "os": "linux",
        "config": {"Cmd": list(cmd)},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer_tar).hexdigest()]},
        "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "tests/e2e/support.py"}],
    }
    config_digest, config_size = _blob(layout, json.dumps(config, sort_keys=True).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest,
            "size": config_size,
        },
        "layers": [
            {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer_digest, "size": layer_size}
        ],
    }
    manifest_digest, manifest_size = _blob(layout, json.dumps(manifest, sort_keys=True).encode())
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": manifest_digest,
                "size": manifest_size,
                "annotations": {"org.opencontainers.image.ref.name": tag, **(annotations or {})},
            }
        ],
    }
    (layout / "index.json").write_text(json.dumps(index))
    (layout / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    return manifest_digest


# --------------------------------------------------------------------------------------------------------------
# isolated clients


class Clients:
    """One test's world: its own HOME, XDG dirs, DOCKER_CONFIG, helper store and a PATH holding the helper.

    ``bin_dir`` holds ``docker-credential-imgpkg`` as a symlink to the program under test, so docker, skopeo,
    podman and docker-py find it exactly as a user's installation would be found.
    """

    def __init__(self, root: Path, helper: Path, image: Path | None = None):
        self.root = root
        self.helper_path = helper
        self.image = image
        self.home = root / "home"
        self.xdg_config = root / "xdg-config"
        self.xdg_runtime = root / "xdg-runtime"
        self.docker_config_dir = root / "docker-config"
        self.store_path = root / "helper-store" / "credentials.json"
        self.bin_dir = root / "bin"
        self.tmp = root / "tmp"
        self.podman_root = root / "podman"
        for d in (self.home, self.xdg_config, self.docker_config_dir, self.bin_dir, self.tmp):
            d.mkdir(parents=True, exist_ok=True)
        self.xdg_runtime.mkdir(mode=0o700, parents=True, exist_ok=True)
        (self.bin_dir / HELPER_NAME).symlink_to(helper)
        self.policy = root / "policy.json"
        self.policy.write_text(json.dumps({"default": [{"type": "insecureAcceptAnything"}]}))
        self.extra_env: dict[str, str | None] = {}
        self.transcript: list[Result] = []
        self._runroot: Path | None = None

    def cleanup(self) -> None:
        if self._runroot is not None:
            shutil.rmtree(self._runroot, ignore_errors=True)

    # -- environment -------------------------------------------------------------------------------------------

    def env(self, extra: Mapping[str, str | None] | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(_STRIPPED_PREFIXES) and k not in _STRIPPED_NAMES}
        env.update(
            {
                "PATH": f"{self.bin_dir}{os.pathsep}{os.environ.get('PATH', os.defpath)}",
                "HOME": str(self.home),
                "XDG_CONFIG_HOME": str(self.xdg_config),
                "XDG_RUNTIME_DIR": str(self.xdg_runtime),
                "XDG_DATA_HOME": str(self.root / "xdg-data"),
                "XDG_CACHE_HOME": str(self.root / "xdg-cache"),
                "DOCKER_CONFIG": str(self.docker_config_dir),
                "DOCKER_CREDENTIAL_IMGPKG_STORE": str(self.store_path),
                "TMPDIR": str(self.tmp),
                "LC_ALL": "C.UTF-8",
            }
        )
        for source in (self.extra_env, extra or {}):
            for key, value in source.items():
                if value is None:
                    env.pop(key, None)
                else:
                    env[key] = value
        return env

    def run(
        self,
        argv: Sequence[str],
        *,
        input: str | bytes | None = None,
        env: Mapping[str, str | None] | None = None,
        timeout: float = 120,
    ) -> Result:
        result = run(argv, env=self.env(env), input=input, cwd=self.root, timeout=timeout)
        self.transcript.append(result)
        with open(self.root / "transcript.log", "a", encoding="utf-8") as log:
            log.write(result.describe() + "\n")
        return result

    # -- the helper --------------------------------------------------------------------------------------------

    def helper(self, verb: str, input: str | bytes = "", env: Mapping[str, str | None] | None = None) -> Result:
        return self.run([HELPER_NAME, verb], input=input, env=env, timeout=30)

    def helper_get(self, server: str, env: Mapping[str, str | None] | None = None) -> dict | None:
        """The helper's ``get`` answer as a dict, ``None`` for not-found; anything else fails the test."""
        result = self.helper("get", server, env=env)
        if result.returncode != 0:
            assert result.stdout == NOT_FOUND, result.describe()
            return None
        return json.loads(result.stdout)

    def configure(self, *args: str, env: Mapping[str, str | None] | None = None) -> Result:
        return self.run([HELPER_NAME, "configure", *args], env=env, timeout=30)

    # -- config files ------------------------------------------------------------------------------------------

    @property
    def docker_config(self) -> Path:
        return self.docker_config_dir / "config.json"

    @property
    def containers_auth(self) -> Path:
        """``${XDG_CONFIG_HOME}/containers/auth.json``: what ``configure containers`` writes."""
        return self.xdg_config / "containers" / "auth.json"

    @property
    def runtime_auth(self) -> Path:
        """``$XDG_RUNTIME_DIR/containers/auth.json``: the file skopeo/podman ``login`` write by default."""
        return self.xdg_runtime / "containers" / "auth.json"

    def write_json(self, path: Path, data: dict) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=2) + "\n")
        return path

    def read_json(self, path: Path) -> dict:
        return json.loads(path.read_text())

    def registries_conf(self, helpers: Sequence[str]) -> Path:
        """A registries.conf naming credential helpers (skopeo needs ``--registries-conf`` or the user file)."""
        path = self.root / "registries.conf"
        path.write_text("credential-helpers = [" + ", ".join(json.dumps(h) for h in helpers) + "]\n")
        return path

    # -- clients -----------------------------------------------------------------------------------------------

    def docker(self, *args: str, input: str | None = None, env: Mapping[str, str | None] | None = None) -> Result:
        return self.run(["docker", *args], input=input, env=env)

    def skopeo(self, *args: str, input: str | None = None, env: Mapping[str, str | None] | None = None) -> Result:
        return self.run(["skopeo", *args], input=input, env=env)

    def podman(self, *args: str, input: str | None = None, env: Mapping[str, str | None] | None = None) -> Result:
        if self._runroot is None:  # podman refuses a runroot path of 50 characters or more
            self._runroot = Path(tempfile.mkdtemp(prefix="e2e-pm-", dir="/tmp"))
        base = [
            "podman",
            "--root", str(self.podman_root / "root"),
            "--runroot", str(self._runroot),
            "--storage-driver", "vfs",
            "--cgroup-manager", "cgroupfs",
            "--events-backend", "file",
        ]  # fmt: skip
        return self.run([*base, *args], input=input, env=env, timeout=180)

    def push_image(self, registry: Registry, repo: str, tag: str = "1", *, tls_verify: bool | None = None) -> Result:
        """Push the test image with skopeo as Docker schema 2 (readable by docker 20.10's manifest inspect)."""
        assert self.image is not None
        args = ["--policy", str(self.policy), "copy", "--format", "v2s2"]
        args += tls_args(registry, "dest", tls_verify)
        return self.skopeo(*args, f"oci:{self.image}:v1", f"docker://{registry.host}/{repo}:{tag}")

    def describe(self) -> str:
        return "\n\n".join(r.describe() for r in self.transcript[-25:])


def tls_args(registry: Registry, side: str = "", verify: bool | None = None) -> list[str]:
    """skopeo/podman flags to reach ``registry``: no TLS for HTTP, the suite's CA for HTTPS."""
    prefix = f"--{side}-" if side else "--"
    if registry.tls is None:
        return [f"{prefix}tls-verify=false"]
    if verify is False:
        return [f"{prefix}tls-verify=false"]
    return [f"{prefix}cert-dir", str(registry.tls.cert_dir)]


def denied(result: Result) -> bool:
    """A client's report that the registry refused it (401), whatever its wording."""
    text = result.output.lower()
    return result.returncode != 0 and any(
        s in text for s in ("unauthorized", "authentication required", "401", "no basic auth credentials")
    )
