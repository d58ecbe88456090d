"""Issue 15's standard for every verb and sub-command, as data: how each one is run (:data:`VERBS`), which files
each one reads (:data:`READERS`), where those files live (:func:`file_at`), hostile things to put there, and the
contract every run keeps whatever its input (:func:`check`).

The contract, per family of verbs (the exit statuses are the README's, "Troubleshooting"):

* every run: an exit status of the family, stdout and stderr valid UTF-8 (undecodable input is escaped, never
  echoed raw), no traceback, no "internal error", no ``RecursionError``/``MemoryError``, and no secret (the
  planted ones, matched case-insensitively since hosts are lowercased) anywhere but the one place a verb must
  give it (``get``'s ``Secret``, the kubelet response's ``password``);
* ``get/store/erase/list/version``: exit 0 or 1, the protocol answer or exactly one error line on stdout
  (:func:`support.check_outcome`);
* ``explain``: exit 0, or 1 when the report holds a configuration error (2: usage); ``--json`` is one JSON document of
  valid Unicode (I-JSON: no lone surrogate either), exit 1 exactly when its ``errors`` is not empty;
* ``configure``: exit 0, 1 with exactly one ``docker-credential-imgpkg configure: ...`` line on stderr
  (besides ``warning:`` lines), or 2 for a command line argparse refuses;
* ``kubelet``: exit 0 with one CredentialProviderResponse line on stdout, or 1/2 with nothing on stdout and
  exactly one ``docker-credential-imgpkg kubelet: ...`` line on stderr.
"""

from __future__ import annotations

import json
import os
import resource
import stat
from dataclasses import dataclass
from pathlib import Path

from common import PROGRAM_NAME

from .support import Raw, auth_entry, b64, check_outcome, run

ADDRESS = "reg.example"
SECRET = "S3CR3T-every-verb-51d2"  # what the environment, the store and config.json hold for ADDRESS
URL_PASSWORD = "S3CR3T-url-userinfo-9e7a"  # the password of a URL's user-info
USERINFO_URL = f"https://robot:{URL_PASSWORD}@{ADDRESS}"
MEMORY_CAP = 2 << 30  # of each run's address space: a reader that does not stop at /dev/zero fails fast
TIMEOUT = 10  # seconds: only ever reached by a run that hangs (a FIFO opened for reading); a run takes < 1 s
KUBELET_API = "credentialprovider.kubelet.k8s.io/v1"


@dataclass(frozen=True)
class Verb:
    id: str
    family: str  # protocol, explain, configure, kubelet
    args: tuple[str, ...]  # "{address}", "{kubelet}" and "{file}" are filled in by :func:`command`
    stdin: str = ""  # "address", "store" or "kubelet": what goes to standard input

    @property
    def json(self) -> bool:
        return "--json" in self.args

    @property
    def takes_address(self) -> bool:
        return "{address}" in self.args or self.stdin in ("address", "store", "kubelet")


def _configure(name: str, *args: str) -> list[Verb]:
    """A configure sub-command, and the same with --dry-run."""
    return [
        Verb(name, "configure", ("configure", *args)),
        Verb(f"{name}-dry", "configure", ("configure", *args, "--dry-run")),
    ]


VERBS: dict[str, Verb] = {
    v.id: v
    for v in [
        Verb("get", "protocol", ("get",), "address"),
        Verb("store", "protocol", ("store",), "store"),
        Verb("erase", "protocol", ("erase",), "address"),
        Verb("list", "protocol", ("list",)),
        Verb("version", "protocol", ("version",)),
        Verb("explain", "explain", ("explain", "{address}")),
        Verb("explain-json", "explain", ("explain", "--json", "{address}")),
        Verb("explain-all", "explain", ("explain",)),
        Verb("explain-all-json", "explain", ("explain", "--json")),
        *_configure("configure-docker", "docker"),
        *_configure("configure-docker-registry", "docker", "--registry", "{address}"),
        *_configure("configure-docker-file", "docker", "--file", "{file}"),
        *_configure("configure-containers", "containers", "--registry", "{address}"),
        *_configure("configure-containers-file", "containers", "--registry", ADDRESS, "--file", "{file}"),
        *_configure("configure-kubelet", "kubelet", "--config", "{kubelet}", "--match-image", "{address}"),
        Verb("kubelet", "kubelet", ("kubelet",), "kubelet"),
    ]
}
FILE_VERBS = (
    "configure-docker-file",
    "configure-docker-file-dry",
    "configure-containers-file",
    "configure-containers-file-dry",
)
EVERY = tuple(v for v in VERBS if v not in FILE_VERBS)  # --file only where the file it names is the subject
WITH_ADDRESS = tuple(v for v in EVERY if VERBS[v].takes_address)
EXPLAIN = ("explain", "explain-json", "explain-all", "explain-all-json")
CONFIGURE_KUBELET = ("configure-kubelet", "configure-kubelet-dry")
LOOKUPS = ("get", "list", *EXPLAIN, *CONFIGURE_KUBELET, "kubelet")  # every verb that asks all the sources

# The files each verb reads, as set up by file_at(): the ones it must refuse, with a reason, when they are hostile.
READERS: dict[str, tuple[str, ...]] = {
    "config.json": (
        *LOOKUPS,
        "configure-docker",
        "configure-docker-dry",
        "configure-docker-registry",
        "configure-docker-registry-dry",
    ),
    "store": (*LOOKUPS, "store", "erase"),
    "settings": (*LOOKUPS, "store", "erase", "configure-docker", "configure-docker-dry"),  # docker: --keep-store
    "auth.json": (*EXPLAIN, "configure-containers", "configure-containers-dry"),
    "registries.conf": EXPLAIN,
    "kubelet-config": CONFIGURE_KUBELET,
    "configure-file": FILE_VERBS,
}
JSON_FILES = ("config.json", "store", "settings", "auth.json", "kubelet-config", "configure-file")


def file_at(helper, name: str) -> Path:
    """Where the file called ``name`` in :data:`READERS` lives for ``helper`` (directories created)."""
    paths = {
        "config.json": helper.docker_config_path,
        "store": helper.store_path,
        "settings": helper.store_path.parent / "config.json",
        "auth.json": helper.config_home / "containers" / "auth.json",
        "registries.conf": helper.config_home / "containers" / "registries.conf",
        "kubelet-config": helper.root / "kubelet" / "credential-providers.json",
        "configure-file": helper.root / "edited" / "config.json",
    }
    path = paths[name]
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.parent.chmod(0o700)  # the store's directory must be private
    return path


def isolate(helper) -> None:
    """Keep explain off the machine's own files where a variable can: XDG_RUNTIME_DIR's auth.json."""
    runtime = helper.root / "run"
    runtime.mkdir(mode=0o700, exist_ok=True)
    helper.env["XDG_RUNTIME_DIR"] = str(runtime)


# --- building and running one command ---------------------------------------------------------------------------


def _bytes(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode()


def kubelet_request(image: bytes) -> bytes:
    return b'{"apiVersion":"%s","kind":"CredentialProviderRequest","image":"%s"}' % (KUBELET_API.encode(), image)


def command(
    helper, verb: Verb, address: str | bytes = ADDRESS, paths: dict[str, bytes] | None = None
) -> tuple[list[bytes], bytes]:
    """argv (after the program) and stdin for ``verb`` with ``address`` where that verb takes one; ``paths``
    replaces the files named on the command line ("kubelet-config", "configure-file")."""
    paths = paths or {}
    where = {
        "{address}": _bytes(address),
        "{kubelet}": paths.get("kubelet-config") or bytes(file_at(helper, "kubelet-config")),
        "{file}": paths.get("configure-file") or bytes(file_at(helper, "configure-file")),
    }
    args = [where.get(a, _bytes(a)) for a in verb.args]
    data = _bytes(address)
    stdin = {
        "": b"",
        "address": data,
        "store": b'{"ServerURL":"%s","Username":"u","Secret":"%s"}' % (data, SECRET.encode()),
        "kubelet": kubelet_request(data + b"/app:1"),
    }[verb.stdin]
    return args, stdin


def bounded_memory() -> None:
    """preexec_fn: cap the run's address space, so reading /dev/zero to the end is a quick MemoryError, not a
    machine out of memory."""
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def invoke(
    helper,
    verb: Verb,
    address: str | bytes = ADDRESS,
    env: dict | None = None,
    *,
    extra: tuple[bytes, ...] = (),
    stdin: bytes | None = None,
    paths: dict[str, bytes] | None = None,
    timeout: float = TIMEOUT,
) -> Raw:
    """Run ``verb`` with the debug trace on (it is held to the same standard); ``stdin`` replaces its input."""
    args, data = command(helper, verb, address, paths)
    env = {"DOCKER_CREDENTIAL_IMGPKG_DEBUG": "1", **(env or {})}
    data = data if stdin is None else stdin
    return run(helper, *args, *extra, stdin=data, env=env, timeout=timeout, preexec_fn=bounded_memory)


# --- the contract -----------------------------------------------------------------------------------------------

FORBIDDEN = ("Traceback", "internal error", "RecursionError", "MemoryError")


def _utf8(data: bytes, stream: str, where: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        around = data[max(0, err.start - 20) : err.start + 20]
        raise AssertionError(f"{stream} is not UTF-8 (byte {err.start}: {around!r})\n{where}") from None


def _valid_unicode(value: object, where: str) -> None:
    """Every string of a parsed JSON document encodes as UTF-8: no lone surrogate, escaped or not."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise AssertionError(f"the JSON holds a lone surrogate: {value[:200]!r}\n{where}") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _valid_unicode(key, where)
            _valid_unicode(item, where)
    elif isinstance(value, list):
        for item in value:
            _valid_unicode(item, where)


def _one_line(err: str, prefix: str, where: str) -> None:
    lines = [line for line in err.splitlines() if not line.startswith(("warning: ", f"{PROGRAM_NAME}: debug: "))]
    assert len(lines) == 1 and lines[0].startswith(prefix) and len(lines[0]) > len(prefix), (
        f"expected one error line starting {prefix!r}\n{where}"
    )


def check(verb: Verb, result: Raw, secrets: tuple[str, ...] = (SECRET, URL_PASSWORD), *, usage: bool = False) -> str:
    """Raise unless ``result`` keeps :data:`verb`'s contract (module docstring); the output as text.
    ``usage``: the command line itself is wrong, so the family's usage status is allowed too."""
    where = f"{verb.id}: {result}"
    out, err = _utf8(result.out, "stdout", where), _utf8(result.err, "stderr", where)
    for word in FORBIDDEN:
        assert word not in out and word not in err, f"{word!r} in the output\n{where}"
    status = result.returncode
    visible = out + err
    if verb.family == "protocol":
        check_outcome(verb.id, status, out, err, secrets, describe=where)
        if verb.id == "get" and status == 0:
            answer = json.loads(out)
            visible = err + answer["ServerURL"] + "\n" + answer["Username"]
        if verb.id == "version" and not usage:
            assert status == 0 and out.startswith(PROGRAM_NAME), where
    elif verb.family == "explain":
        assert status in (0, 1), where
        if verb.json:
            report = json.loads(out)
            _valid_unicode(report, where)
            assert isinstance(report, dict) and {"addresses", "warnings", "errors"} <= set(report), where
            assert status == (1 if report["errors"] else 0), where
        else:
            assert out.endswith("\n"), where
    elif verb.family == "configure":
        assert status in ((0, 1, 2) if usage else (0, 1)), where
        if status == 1:
            _one_line(err, f"{PROGRAM_NAME} configure: ", where)
        elif status == 2:
            assert ": error: " in err.splitlines()[-1], where
    else:  # kubelet
        assert status in ((0, 1, 2) if usage else (0, 1)), where
        if status == 0:
            assert out.endswith("}\n") and out.count("\n") == 1, where
            response = json.loads(out)
            assert response["kind"] == "CredentialProviderResponse", where
            auth = response.get("auth", {})
            visible = err + json.dumps({k: v.get("username") for k, v in auth.items()})
        else:
            assert out == "", where
            _one_line(err, f"{PROGRAM_NAME} kubelet: ", where)
    lowered = visible.lower()
    for secret in secrets:
        assert secret.lower() not in lowered, f"secret {secret!r} shown\n{where}"
    return visible


# --- hostile things to put at a file's path ------------------------------------------------------------------------


def make_fifo(path: Path) -> None:
    os.mkfifo(path, 0o600)


def make_fifo_symlink(path: Path) -> None:
    target = path.parent.parent / f"{path.name}.fifo"
    os.mkfifo(target, 0o600)
    path.symlink_to(target)


def make_dev_zero(path: Path) -> None:
    """A character device like /dev/zero (1, 5) at the path itself (tests run as root: mknod is allowed)."""
    os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(1, 5))


def make_dev_zero_symlink(path: Path) -> None:
    path.symlink_to("/dev/zero")


SPECIAL_FILES = {
    "fifo": make_fifo,
    "symlink-to-fifo": make_fifo_symlink,
    "dev-zero": make_dev_zero,
    "symlink-to-dev-zero": make_dev_zero_symlink,
}


def kind_of(path: Path) -> tuple[bool, int]:
    """(is a symlink, file type) of what is at ``path``: a hostile file must still be there, untouched."""
    return path.is_symlink(), stat.S_IFMT(os.stat(path).st_mode)


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


# --- documents of each file, with a chosen key and an extra member spliced in as bytes ---------------------------


def json_document(name: str, key: bytes = ADDRESS.encode(), more: bytes = b"") -> bytes:
    """A document of the file ``name`` holding ``key`` where that file keys a registry (as raw bytes: it may be
    undecodable, or hold a ``\\u`` escape) and SECRET where it holds a secret; ``more``, if given, is one more
    top-level member's value (a deeply nested array, say)."""
    entry = b'{"auth": "%s"}' % b64(f"u:{SECRET}").encode()
    tail = b', "x": ' + more if more else b""
    secret = SECRET.encode()
    if name in ("config.json", "configure-file"):
        return b'{"auths": {"%s": %s, "cfg.example": %s}, "credHelpers": {"%s": "pass"}%s}' % (
            key,
            entry,
            entry,
            key,
            tail,
        )
    if name == "store":
        return b'{"auths": {"%s": %s, "stored.example": %s}%s}' % (key, entry, entry, tail)
    if name == "settings":
        return b'{"backend": "file", "%s": "x"%s}' % (key, tail)  # no secret: the file holds none
    if name == "auth.json":
        return b'{"auths": {"%s": %s}, "credHelpers": {"%s": "imgpkg"}%s}' % (key, entry, key, tail)
    if name == "kubelet-config":
        ours = b'{"name": "%s", "matchImages": ["%s"], "defaultCacheDuration": "1m", "apiVersion": "%s", "args": []}'
        other = (
            b'{"name": "other", "matchImages": ["%s"], "apiVersion": "%s", "env": [{"name": "TOKEN", "value": "%s"}]}'
        )
        api = KUBELET_API.encode()
        providers = (ours % (PROGRAM_NAME.encode(), key, api), other % (key, api, secret))
        return (
            b'{"apiVersion": "kubelet.config.k8s.io/v1", "kind": "CredentialProviderConfig", "providers": [%s]%s}'
            % (b", ".join(providers), tail)
        )
    raise ValueError(name)


def registries_conf(key: bytes = ADDRESS.encode()) -> bytes:
    return b'# mirrors for %s\n[[registry]]\nlocation = "%s"\ncredential-helpers = ["%s"]\n' % (key, key, key)


def write_file(helper, name: str, data: bytes) -> Path:
    path = file_at(helper, name)
    path.write_bytes(data)
    path.chmod(0o600)
    return path


# --- sizes large CI organisations have ------------------------------------------------------------------------


def groups(count: int) -> dict[str, str]:
    """``count`` IMGPKG_REGISTRY_* groups: host{i}.example, user{i}, SECRET-{i}."""
    env = {}
    for i in range(count):
        env[f"IMGPKG_REGISTRY_HOSTNAME_G{i}"] = f"host{i}.example"
        env[f"IMGPKG_REGISTRY_USERNAME_G{i}"] = f"user{i}"
        env[f"IMGPKG_REGISTRY_PASSWORD_G{i}"] = f"{SECRET}-{i}"
    return env


def config_entries(helper, count: int) -> None:
    """A config.json with ``count`` entries: r{i}.example, c{i}, SECRET-{i}."""
    helper.write_docker_config({"auths": {f"r{i}.example": auth_entry(f"c{i}", f"{SECRET}-{i}") for i in range(count)}})
