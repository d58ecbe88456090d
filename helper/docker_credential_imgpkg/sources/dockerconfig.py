"""Docker's own ``auths`` entries: ``DOCKER_AUTH_CONFIG`` first, then ``$DOCKER_CONFIG/config.json``.

Helpers named in the file (``credsStore``/``credHelpers``) are never called: that could recurse into us.
"""

from __future__ import annotations

import os

from ..address import match_key, parse_target
from ..authfile import AuthIndex, decode_entry
from ..errors import HelperError, shown
from ..paths import docker_config_path
from ..safe_files import load_json_object, read_small_file
from . import Match, Source

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from ..address import Target
    from ..debug import Trace
    from . import Stop

MAX_CONFIG_BYTES = 16 << 20
INLINE_VAR = "DOCKER_AUTH_CONFIG"


class DockerConfigSource(Source):
    name = "docker"

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self._indexes: list[tuple[str, AuthIndex | HelperError]] | None = None
        self._absent = ""  # the config file's path when it does not exist, for the debug trace

    def indexes(self) -> list[tuple[str, AuthIndex | HelperError]]:
        """(description, index or why it is unusable) for DOCKER_AUTH_CONFIG and the config file, in lookup
        order; read on first use."""
        if self._indexes is None:
            found: list[tuple[str, AuthIndex | HelperError]] = []
            inline = _inline_config(self.environ)
            if inline.strip():
                found.append((INLINE_VAR, _index(inline, INLINE_VAR)))
            path = docker_config_path(self.environ)
            data = read_small_file(path, MAX_CONFIG_BYTES, f"docker config {path}")
            if data is not None:
                found.append((path, _index(data, f"docker config {path}")))
            else:
                self._absent = path
            self._indexes = found
        return self._indexes

    def get(self, target: Target, trace: Trace) -> Match | Stop | None:
        for where, index in self.indexes():
            if isinstance(index, HelperError):
                raise index
            key = index.find(target)
            if key is None:
                trace(f"docker config: {where} has no entry for {shown(target.key)}")
                continue
            entry = f"{where}, entry {shown(key)}"
            creds = decode_entry(target.key, index.auths[key], entry)
            if creds is None:
                trace(f"docker config: {entry} is a placeholder (credentials live in a helper)")
                continue
            trace(f"docker config: {entry} answers (username {shown(creds.username)}, secret ***)")
            pattern = match_key(parse_target(key))
            return Match(creds, "docker", entry, pattern, per_repository="/" in pattern)
        if self._absent:
            trace(f"docker config: {self._absent} does not exist")
        return None

    def list_keys(self, trace: Trace) -> list[str]:
        keys: list[str] = []
        for where, index in self.indexes():
            if isinstance(index, HelperError):
                if where == INLINE_VAR:  # a broken variable: list leaves it out (get says why)
                    trace(f"list: leaving out {INLINE_VAR}: {index}")
                    continue
                raise index
            keys.extend(index.normal_keys())
        return keys


def _inline_config(environ: Mapping[str, str]) -> bytes:
    if environ is os.environ:
        return os.environb.get(INLINE_VAR.encode(), b"")
    return environ.get(INLINE_VAR, "").encode("utf-8", "surrogateescape")


def _index(data: bytes, where: str) -> AuthIndex | HelperError:
    try:
        doc = load_json_object(data, where)
    except HelperError as err:
        return err
    auths = next((v for k, v in doc.items() if k.lower() == "auths"), None)
    if auths is None:
        return AuthIndex({})
    if not isinstance(auths, dict):
        return HelperError(f'{where}: "auths" must be a JSON object')
    return AuthIndex(auths)
