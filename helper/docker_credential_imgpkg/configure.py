"""``docker-credential-imgpkg configure``: point docker, skopeo and podman at this helper without hand-editing JSON.

Peers do the same (``docker-credential-gcr configure-docker``); the rules here are the ones clients apply:

* docker reads ``credsStore`` (every registry) and ``credHelpers`` (per host, exact key) from
  ``$DOCKER_CONFIG/config.json`` or ``~/.docker/config.json``; for Docker Hub it looks up
  ``https://index.docker.io/v1/``.
* skopeo/podman (containers/image) ignore ``credsStore`` and read ``credHelpers`` from their auth files, keyed by
  the bare ``host[:port]``; for Docker Hub they look up ``docker.io``. Hub is therefore always written under both.

The edit preserves every key it does not own and their order, the file's indentation style and mode (new files
0600 in a 0700 directory), follows a symlinked config to its target, and replaces the file atomically (temp file
in the same directory, fsync, rename). A file that is not a JSON object is never touched. Running it twice
changes nothing the second time.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import stat
import sys
import urllib.parse
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from . import HELPER_NAME, PROGRAM
from .address import HUB_ALIASES, HUB_KEY
from .errors import HelperError
from .programs import find_program
from .safe_files import load_json_object, read_small_file, write_atomically
from .sources.dockerconfig import MAX_CONFIG_BYTES
from .sources.dockerconfig import docker_config_path as docker_config_file

HUB_KEYS = (HUB_KEY, "docker.io")  # what docker / what skopeo+podman look up for Hub
_HOST_RE = re.compile(r"^(?:\[[0-9a-f:.]+\]|[a-z0-9](?:[a-z0-9._-]*[a-z0-9])?)(?::[0-9]{1,5})?$")


class ConfigureError(Exception):
    """Refusal with a message for the user; nothing was written."""


def refuse(err: ConfigureError | OSError, path: Path) -> int:
    """Say why ``configure`` stopped, on stderr; exit status 1."""
    if isinstance(err, OSError):
        err = ConfigureError(f"cannot write {path}: {err.strerror or err}")
    print(f"{PROGRAM} configure: {err}", file=sys.stderr)
    return 1


# --------------------------------------------------------------------------------------------------------------
# registry names → credHelpers keys


def credhelper_keys(registry: str) -> list[str]:
    """The ``credHelpers`` keys that make clients use this helper for ``registry``.

    ``https://Host:5000/v2/`` → ``host:5000``; any Docker Hub spelling → both Hub keys.
    """
    value = registry.strip()
    if not value:
        raise ConfigureError("--registry: empty registry name")
    if "@" in value:  # checked first: the value must not be echoed, it may hold a password
        raise ConfigureError("--registry: leave credentials out of the registry name (user@host)")
    if "://" in value:
        parts = urllib.parse.urlsplit(value)
        if parts.scheme.lower() not in ("http", "https"):
            raise ConfigureError(f"--registry {registry}: only http:// or https:// URLs are understood")
        netloc, path = parts.netloc, parts.path
        if parts.query or parts.fragment:
            raise ConfigureError(f"--registry {registry}: a registry name has no query or fragment")
    else:
        netloc, _, rest = value.partition("/")
        path = "/" + rest if rest else ""
    if path.rstrip("/") not in ("", "/v1", "/v2"):
        raise ConfigureError(
            f"--registry {registry}: clients choose a credential helper per registry host, so a repository "
            f"path cannot have its own; use {netloc.lower() or 'the host'}"
        )
    host = netloc.lower()
    if not _HOST_RE.match(host):
        raise ConfigureError(f"--registry {registry}: {host!r} is not a registry host[:port]")
    if host in HUB_ALIASES:
        return list(HUB_KEYS)
    return [host]


def credhelper_keys_for(registries: Sequence[str]) -> list[str]:
    keys: list[str] = []
    for registry in registries:
        for key in credhelper_keys(registry):
            if key not in keys:
                keys.append(key)
    return keys


# --------------------------------------------------------------------------------------------------------------
# reading and writing a client's JSON file


@dataclass
class ConfigFile:
    path: Path  # what the user named (may be a symlink)
    target: Path  # where the bytes live
    text: str | None  # None: the file does not exist yet
    data: dict = field(default_factory=dict)

    @property
    def exists(self) -> bool:
        return self.text is not None


def load(path: Path) -> ConfigFile:
    target = Path(os.path.realpath(path))
    try:  # bounded, and a FIFO planted at the path is refused rather than waited on
        raw = read_small_file(str(target), MAX_CONFIG_BYTES, f"cannot read {path}")
    except HelperError as err:
        raise ConfigureError(str(err)) from None
    if raw is None:
        return ConfigFile(path, target, None, {})
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigureError(f"refusing to edit {path}: it is not UTF-8 text; fix or move it first") from None
    try:  # docker treats an empty config.json as {}
        data = load_json_object(text.encode("utf-8"), f"refusing to edit {path}", hint="; fix or move it first")
    except HelperError as err:
        raise ConfigureError(str(err)) from None
    return ConfigFile(path, target, text, data)


def _indent_of(text: str | None) -> str | int:
    """The file's indentation unit (docker writes tabs), so an edit changes only the lines it must."""
    if text:
        for line in text.splitlines()[1:]:
            stripped = line.lstrip(" \t")
            if stripped and stripped != line:
                return line[: len(line) - len(stripped)]
    return "\t"


def render(data: dict, previous: str | None) -> str:
    return json.dumps(data, indent=_indent_of(previous), ensure_ascii=False) + "\n"


def _mkdirs(directory: Path) -> None:
    missing = []
    current = directory
    while not current.exists():
        missing.append(current)
        current = current.parent
    for d in reversed(missing):
        try:
            d.mkdir(mode=0o700)
        except FileExistsError:
            pass


def write_atomic(config: ConfigFile, text: str) -> None:
    """Replace ``config.target`` with ``text`` atomically, keeping its mode and owner (new files: 0600)."""
    target = config.target
    _mkdirs(target.parent)
    try:
        st = target.stat()
        mode, owner = stat.S_IMODE(st.st_mode), (st.st_uid, st.st_gid)
    except FileNotFoundError:
        mode, owner = 0o600, None
    if owner == (os.getuid(), os.getgid()) or os.getuid() != 0:
        owner = None  # only root can give a file away, and only a file that was someone else's needs it
    write_atomically(str(target), text.encode("utf-8"), mode=mode, owner=owner)


def redacted_diff(path: Path, before: str | None, after: str) -> str:
    """A unified diff of the change with every secret masked, in the removed, added and context lines alike.

    What is secret is decided from each document's structure (``redact_json``), never by a pattern over its
    text: an escaped quote inside a password cannot end the masking early.
    """
    lines = difflib.unified_diff(
        redact_json(before or "").splitlines(keepends=True),
        redact_json(after).splitlines(keepends=True),
        fromfile=str(path) if before is not None else "/dev/null",
        tofile=str(path),
    )
    return "".join(lines)


MASK = '"***"'
# Members whose value is a secret wherever they appear; every value under a top-level "auths" or "HttpHeaders"
# (docker's own and the containers auth.json) is one too, and so is each "value" of a kubelet provider's "env".
_SECRET_MEMBERS = frozenset({"auth", "password", "identitytoken", "registrytoken", "secret", "token"})
_SECRET_SECTIONS = frozenset({"auths", "httpheaders"})


def redact_json(text: str) -> str:
    """``text``, a JSON document that parsed, with each secret value replaced by ``"***"`` and the userinfo of any
    URL-like string (``http://user:pass@proxy``) by ``***``; everything else, line breaks included, as it was."""
    try:
        return "".join(_redacted_tokens(text))
    except (ValueError, IndexError):  # not the JSON it parsed as: show nothing rather than guess
        return "(contents withheld: could not be masked)\n" if text.strip() else text


def _secret_at(path: list[str | int]) -> bool:
    keys = [k.lower() for k in path if isinstance(k, str)]
    if path and isinstance(path[0], str) and keys[0] in _SECRET_SECTIONS:
        return True
    if any(k in _SECRET_MEMBERS for k in keys):
        return True
    return len(keys) >= 2 and keys[-1] == "value" and isinstance(path[-2], int) and keys[-2] == "env"


def _without_userinfo(value: str) -> str | None:
    """``value`` with what precedes the last ``@`` of its authority masked, None when it has no ``@``."""
    scheme, sep, rest = value.partition("://")
    if not sep:
        scheme, rest = "", value
    if "@" not in rest:
        return None
    return scheme + sep + "***" + rest[rest.rindex("@") :]


def _redacted_tokens(text: str) -> Iterator[str]:
    from json.decoder import scanstring

    stack: list[list] = []  # per open container: [is_object, key or index, expecting a key]
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in " \t\r\n":
            j = i + 1
            while j < n and text[j] in " \t\r\n":
                j += 1
            yield text[i:j]
            i = j
            continue
        top = stack[-1] if stack else None
        if c in "{[":
            stack.append([c == "{", None if c == "{" else 0, c == "{"])
            yield c
            i += 1
        elif c in "}]":
            stack.pop()
            yield c
            i += 1
        elif c == ",":
            if top[0]:
                top[2] = True
            else:
                top[1] += 1
            yield c
            i += 1
        elif c == ":":
            top[2] = False
            yield c
            i += 1
        elif c == '"':
            value, end = scanstring(text, i + 1)
            if top is not None and top[0] and top[2]:  # a member name
                top[1] = value
                masked = _without_userinfo(value)
                yield text[i:end] if masked is None else json.dumps(masked, ensure_ascii=False)
            elif _secret_at([frame[1] for frame in stack]):
                yield MASK
            else:
                masked = _without_userinfo(value)
                yield text[i:end] if masked is None else json.dumps(masked, ensure_ascii=False)
            i = end
        else:  # a number, true, false or null
            j = i
            while j < n and text[j] not in ",]} \t\r\n":
                j += 1
            yield MASK if _secret_at([frame[1] for frame in stack]) else text[i:j]
            i = j


# --------------------------------------------------------------------------------------------------------------
# the edits


@dataclass
class Plan:
    data: dict
    notes: list[str] = field(default_factory=list)  # what changed, for the user
    warnings: list[str] = field(default_factory=list)
    keep: str | None = None  # docker's previous credsStore, to become this helper's backend (--keep-store)


def _set_cred_helpers(data: dict, keys: Sequence[str], path: Path, plan: Plan) -> None:
    helpers = data.get("credHelpers")
    if helpers is None:
        helpers = {}
    elif not isinstance(helpers, dict):
        raise ConfigureError(f'refusing to edit {path}: "credHelpers" is not a JSON object')
    for key in keys:
        current = helpers.get(key)
        if current == HELPER_NAME:
            continue
        if current is not None:
            plan.warnings.append(f"credHelpers[{key!r}] was {current!r}; it now names {HELPER_NAME!r}")
        helpers[key] = HELPER_NAME
        plan.notes.append(f"credHelpers[{key!r}] = {HELPER_NAME!r}")
    data["credHelpers"] = helpers


def plan_docker(config: ConfigFile, registries: Sequence[str], keep_store: bool | None = None) -> Plan:
    """``credsStore`` for everything, or ``credHelpers`` entries for the named registries only.

    ``keep_store``: record the ``credsStore`` found as this helper's backend (None: only when replacing it).
    """
    data = json.loads(json.dumps(config.data))  # a copy with the same key order
    plan = Plan(data)
    current = data.get("credsStore")
    if current is not None and not isinstance(current, str):
        raise ConfigureError(f'refusing to edit {config.path}: "credsStore" is not a string')
    previous = current if current and current != HELPER_NAME else None
    if registries:
        _set_cred_helpers(data, credhelper_keys_for(registries), config.path, plan)
        plan.keep = previous if keep_store else None  # credsStore stays; keep it underneath only if asked
        return plan
    if current != HELPER_NAME:
        if previous and keep_store is not False:
            plan.keep = previous
        elif previous:
            plan.warnings.append(f"credsStore was {current!r}: docker will no longer read credentials kept there")
        data["credsStore"] = HELPER_NAME
        plan.notes.append(f"credsStore = {HELPER_NAME!r}")
    return plan


def plan_backend(settings: ConfigFile, store: str, origin: str) -> Plan:
    """This helper's settings with ``backend`` = ``helper:<store>``: what docker kept there stays reachable."""
    from .backends.program import check_backend_name

    try:
        check_backend_name(store, origin, {})
    except HelperError as err:
        raise ConfigureError(f"cannot keep it as this helper's backend: {err}") from None
    data = json.loads(json.dumps(settings.data))
    plan = Plan(data)
    wanted = f"helper:{store}"
    current = data.get("backend")
    if current == wanted:
        return plan
    if current not in (None, "", "file"):
        raise ConfigureError(
            f"{settings.path} already names the backend {current!r}; not replacing it with {wanted!r} "
            "(edit that file, or run with --no-keep-store)"
        )
    data["backend"] = wanted
    plan.notes.append(f"backend = {wanted!r} (what docker-credential-{store} keeps stays in use)")
    return plan


def plan_containers(config: ConfigFile, registries: Sequence[str]) -> Plan:
    """``credHelpers`` entries (containers/image has no ``credsStore``)."""
    data = json.loads(json.dumps(config.data))
    plan = Plan(data)
    _set_cred_helpers(data, credhelper_keys_for(registries), config.path, plan)
    return plan


# --------------------------------------------------------------------------------------------------------------
# file locations


def docker_config_path(environ: os._Environ[str] | dict[str, str]) -> Path:
    return Path(docker_config_file(environ))


def containers_auth_path(environ: os._Environ[str] | dict[str, str]) -> Path:
    """``$REGISTRY_AUTH_FILE`` when set (skopeo/podman then read nothing else), else the user's persistent file."""
    explicit = environ.get("REGISTRY_AUTH_FILE")
    if explicit:
        return Path(explicit).expanduser()
    xdg = environ.get("XDG_CONFIG_HOME")
    base = Path(xdg).expanduser() if xdg else _home(environ) / ".config"
    return base / "containers" / "auth.json"


def _home(environ: os._Environ[str] | dict[str, str]) -> Path:
    home = environ.get("HOME")
    return Path(home) if home else Path.home()


# --------------------------------------------------------------------------------------------------------------
# command line


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=f"{PROGRAM} configure",
        description="Set clients up to use this helper. Edits only the keys it owns; --dry-run shows the diff.",
    )
    sub = parser.add_subparsers(dest="client", metavar="{docker,containers,kubelet}")
    docker = sub.add_parser(
        "docker",
        help="docker CLI, docker-py, crane: credsStore, or credHelpers for --registry hosts",
        description='Without --registry: set "credsStore": "imgpkg" (every registry). With --registry: add '
        '"credHelpers" entries for those hosts only. File: $DOCKER_CONFIG/config.json, else ~/.docker/config.json.',
    )
    containers = sub.add_parser(
        "containers",
        help="skopeo, podman, buildah: credHelpers for --registry hosts in containers auth.json",
        description='Add "credHelpers" entries (skopeo/podman ignore credsStore). File: $REGISTRY_AUTH_FILE, '
        "else ${XDG_CONFIG_HOME:-~/.config}/containers/auth.json.",
    )
    for p in (docker, containers):
        p.add_argument(
            "--registry",
            action="append",
            default=[],
            metavar="HOST",
            help="registry host[:port] or URL (repeatable); any Docker Hub name writes both Hub keys",
        )
        p.add_argument("--file", type=Path, help="edit this file instead of the default location")
        p.add_argument("--dry-run", action="store_true", help="print the change as a unified diff; write nothing")
    docker.add_argument(
        "--keep-store",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="keep the credsStore found in the file underneath this helper: record it as the backend "
        '("helper:NAME" in ${XDG_CONFIG_HOME:-~/.config}/docker-credential-imgpkg/config.json) so what it stores '
        "stays in use. Default: on when credsStore is replaced, off with --registry",
    )
    from .configure_kubelet import add_parser as add_kubelet

    add_kubelet(sub)
    return parser


def _plan_keep_store(plan: Plan, path: Path, environ: os._Environ[str]) -> tuple[ConfigFile, str, Plan] | None:
    """The settings-file edit that keeps ``plan.keep`` as the backend, or None when it is already recorded."""
    from .settings import BACKEND_VAR, settings_path

    store = plan.keep
    assert store is not None
    settings = load(Path(settings_path(environ)))
    backend = plan_backend(settings, store, f"credsStore {store!r} in {path}")
    if _on_path(f"docker-credential-{store}") is None:
        plan.warnings.append(
            f"docker-credential-{store} is not on PATH: the credentials it kept stay unreachable until it is"
        )
    override = environ.get(BACKEND_VAR, "").strip()
    if override and override != f"helper:{store}":
        plan.warnings.append(f"{BACKEND_VAR}={override} is set and wins over the settings file")
    return (settings, render(backend.data, settings.text), backend) if backend.notes else None


def main(args: list[str]) -> int:
    parser = _parser()
    try:
        opts = parser.parse_args(args)
    except SystemExit as exit_:  # argparse has printed usage or help
        return int(exit_.code or 0)
    if opts.client is None:
        parser.print_usage(sys.stderr)
        print(f"{PROGRAM} configure: name a client: docker, containers or kubelet", file=sys.stderr)
        return 2
    if opts.client == "kubelet":
        from .configure_kubelet import run as configure_kubelet

        return configure_kubelet(opts, os.environ)
    if opts.client == "containers" and not opts.registry:
        print(
            f"{PROGRAM} configure containers: give at least one --registry HOST "
            "(skopeo and podman have no catch-all credsStore)",
            file=sys.stderr,
        )
        return 2
    environ = os.environ
    path = opts.file or (docker_config_path(environ) if opts.client == "docker" else containers_auth_path(environ))
    try:
        config = load(path)
        if opts.client == "docker":
            plan = plan_docker(config, opts.registry, opts.keep_store)
        else:
            plan = plan_containers(config, opts.registry)
        new_text = render(plan.data, config.text)
        kept = _plan_keep_store(plan, path, environ) if plan.keep else None
        for warning in plan.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        if not plan.notes and config.exists and not kept:
            print(f"{path}: already configured, nothing to change")
            return 0
        if opts.dry_run:
            diff = redacted_diff(path, config.text, new_text) if plan.notes or not config.exists else ""
            if kept:
                diff += redacted_diff(kept[0].path, kept[0].text, kept[1])
            sys.stdout.write(diff or f"{path}: no change\n")
            return 0
        if kept:  # first: docker is pointed at this helper only once the old store is reachable through it
            write_atomic(kept[0], kept[1])
        if plan.notes or not config.exists:
            write_atomic(config, new_text)
    except (ConfigureError, OSError) as err:
        return refuse(err, path)
    if kept:
        print(f"{kept[0].path}: " + "; ".join(kept[2].notes))
    if plan.notes or not config.exists:
        print(f"{path}: " + ("; ".join(plan.notes) if plan.notes else "created"))
    if _on_path(PROGRAM) is None:
        print(
            f"warning: {PROGRAM} is not on PATH; clients will fail with 'executable file not found' until it is",
            file=sys.stderr,
        )
    return 0


def _on_path(name: str) -> str | None:
    try:
        return find_program(name)
    except HelperError:
        return None
