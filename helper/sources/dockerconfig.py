"""Docker's own ``auths`` entries: ``DOCKER_AUTH_CONFIG`` first, then ``$DOCKER_CONFIG/config.json``.

Helpers named in the file (``credsStore``/``credHelpers``) are never called: that could recurse into us.
"""

from __future__ import annotations

import os

from ..address import Target
from ..authfile import AuthIndex, decode_entry
from ..errors import HelperError
from ..files import read_small_file

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from .base import Answer, Trace


def docker_config_path(environ: Mapping[str, str]) -> str:
    directory = environ.get("DOCKER_CONFIG", "") or os.path.join(os.path.expanduser("~"), ".docker")
    return os.path.join(directory, "config.json")


class DockerConfigSource:
    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self._indexes: list[tuple[str, AuthIndex]] | None = None
        self._absent = ""  # the config file's path when it does not exist, for the debug trace

    def indexes(self) -> list[tuple[str, AuthIndex]]:
        """(description, index) for DOCKER_AUTH_CONFIG and the config file, in lookup order; read lazily."""
        if self._indexes is None:
            found = []
            inline = self.environ.get("DOCKER_AUTH_CONFIG", "")
            if inline.strip():
                found.append(("DOCKER_AUTH_CONFIG", _auths_of(inline.encode("utf-8"), "DOCKER_AUTH_CONFIG")))
            path = docker_config_path(self.environ)
            data = read_small_file(path, MAX_CONFIG_BYTES, f"docker config {path}")
            if data is not None:
                found.append((path, _auths_of(data, f"docker config {path}")))
            else:
                self._absent = path
            self._indexes = [(where, AuthIndex(auths)) for where, auths in found]
        return self._indexes

    def get(self, address: str, target: Target, trace: Trace) -> Answer:
        for where, index in self.indexes():
            key = index.find(address, target)
            if key is None:
                trace(f"docker config: {where} has no entry for {address}")
                continue
            creds = decode_entry(address, index.auths[key], f"{where}, entry {key!r}")
            if creds is None:
                trace(f"docker config: {where} entry {key!r} is a placeholder (credentials live in a helper)")
                continue
            trace(f"docker config: {where} entry {key!r} answers (username {creds.username!r}, secret ***)")
            return creds
        if self._absent:
            trace(f"docker config: {self._absent} does not exist")
        return None

    def list_keys(self) -> list[str]:
        keys: list[str] = []
        for _, index in self.indexes():
            keys.extend(index.normal_keys())
        return keys


MAX_CONFIG_BYTES = 16 << 20


def _auths_of(data: bytes, where: str) -> dict[str, object]:
    import json

    if not data.strip():
        return {}
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError):
        raise HelperError(f"{where}: not valid JSON") from None
    if not isinstance(doc, dict):
        raise HelperError(f"{where}: expected a JSON object")
    auths = next((v for k, v in doc.items() if k.lower() == "auths"), None)
    if auths is None:
        return {}
    if not isinstance(auths, dict):
        raise HelperError(f'{where}: "auths" must be a JSON object')
    return auths
