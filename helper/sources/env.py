"""imgpkg's ``IMGPKG_REGISTRY_*`` variables: grouping by suffix, matching, precedence (imgpkg's env keychain)."""

from __future__ import annotations

from ..address import HUB_ALIASES, HUB_HOST, HUB_KEY, HostPattern, Target, parse_host_pattern, quick_host
from ..errors import HelperError
from ..protocol import TOKEN_USERNAME, Credentials
from .base import STOP

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from .base import Answer, Trace

PREFIX = "IMGPKG_REGISTRY_"
IGNORED = "IMGPKG_REGISTRY_AZURE_CR_CONFIG"
FIELDS = ("HOSTNAME", "USERNAME", "PASSWORD", "IDENTITY_TOKEN", "REGISTRY_TOKEN")
DEFAULT_GROUP = None  # the unsuffixed group, distinct from the empty suffix ("IMGPKG_REGISTRY_HOSTNAME_")


class EnvEntry:
    """One suffix group of ``IMGPKG_REGISTRY_*`` variables (only groups that might match become entries)."""

    __slots__ = ("pattern", "suffix", "variables")

    def __init__(self, suffix: str | None, variables: dict[str, str]) -> None:
        self.suffix = suffix
        self.variables = variables  # every IMGPKG_REGISTRY_* variable, by name
        self.pattern: HostPattern | None = None

    def value(self, field: str) -> str:
        return self.variables.get(self.variable(field), "")

    def variable(self, name: str) -> str:
        return PREFIX + name + ("" if self.suffix is None else "_" + self.suffix)

    def parsed(self) -> HostPattern:
        if self.pattern is None:
            self.pattern = parse_host_pattern(self.value("HOSTNAME"))
        return self.pattern

    @property
    def rank(self) -> tuple[bytes, bool, str]:
        """Sort key of imgpkg's precedence, reversed by the caller; ties: unsuffixed, then suffix order."""
        return (self.parsed().key.encode("utf-8"), self.suffix is None, _Reversed(self.suffix or ""))

    @property
    def label(self) -> str:
        return self.variable("HOSTNAME") + "=" + self.value("HOSTNAME")

    def credentials(self, server_url: str) -> Credentials | None:
        """imgpkg's AuthConfig mapped onto the helper protocol; None when the entry carries no usable credential."""
        identity = self.value("IDENTITY_TOKEN")
        if identity:
            return Credentials(server_url, TOKEN_USERNAME, identity)
        username = self.value("USERNAME")
        if username:
            return Credentials(server_url, username, self.value("PASSWORD"))
        if self.value("REGISTRY_TOKEN"):
            raise HelperError(
                f"{self.variable('REGISTRY_TOKEN')} is a registry (bearer) token, which the credential-helper "
                f"protocol cannot carry; set {self.variable('USERNAME')}/{self.variable('PASSWORD')} or "
                f"{self.variable('IDENTITY_TOKEN')} for this registry instead"
            )
        return None


class _Reversed(str):
    """Sorts in the opposite order, so one descending sort gives "suffix ascending" among equal keys."""

    __slots__ = ()

    def __lt__(self, other: str) -> bool:
        return str.__gt__(self, other)

    def __gt__(self, other: str) -> bool:
        return str.__lt__(self, other)


class EnvSource:
    """Answers from ``IMGPKG_REGISTRY_*``; a matching entry without credentials stops the lookup (anonymous).

    Every name and hostname is validated up front (a bad one fails every lookup, as in imgpkg), but only the
    groups that can match the request become entries, are fully parsed and ranked: CI systems export
    hundreds of these variables and every client pays this per call.
    """

    name = "env"

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.variables = _registry_variables(environ)
        unknown = [n for n in self.variables if n not in _EXACT_NAMES and not n.startswith(_SUFFIXED_PREFIXES)]
        if unknown:
            raise HelperError(f"Unknown env variable '{unknown[0]}'")
        self._by_host: dict[str, list[str | None]] = {}  # literal lowercase host[:port] -> suffixes
        self._globbed: list[str | None] = []
        self._entries: dict[str | None, EnvEntry] = {}
        for suffix, value in _hostnames(self.variables).items():
            if _PLAIN_HOST.issuperset(value) and value not in HUB_ALIASES:
                host: str | None = value  # the common case, decided by one set test
            else:
                host = quick_host(value)
            if host is None:  # unusual spelling: parse now (errors surface here)
                pattern = self._entry(suffix).parsed()
                host = pattern.host + (":" + pattern.port if pattern.port else "")
            if "*" in host:
                self._globbed.append(suffix)
            else:
                self._by_host.setdefault(host, []).append(suffix)

    def _entry(self, suffix: str | None) -> EnvEntry:
        entry = self._entries.get(suffix)
        if entry is None:
            entry = self._entries[suffix] = EnvEntry(suffix, self.variables)
        return entry

    def match(self, target: Target) -> EnvEntry | None:
        """The winning entry for ``target`` (imgpkg's reverse key order, ties broken deterministically)."""
        suffixes = self._by_host.get(target.host, []) + self._globbed
        candidates = [e for e in map(self._entry, suffixes) if e.parsed().matches(target)]
        return max(candidates, key=lambda e: e.rank, default=None)

    def get(self, address: str, target: Target, trace: Trace) -> Answer:
        entry = self.match(target)
        if entry is None:
            trace(f"env: no IMGPKG_REGISTRY_HOSTNAME* matches {target.host}{target.path}")
            return None
        creds = entry.credentials(address)
        if creds is None:
            trace(f"env: {entry.label} matches but carries no credentials: anonymous, lookup stops")
            return STOP
        trace(f"env: {entry.label} matches (username {creds.username!r}, secret ***)")
        return creds

    def list_keys(self) -> list[str]:
        """Plain-host entries (no glob, no path), keyed as ``get`` expects them."""
        keys = []
        for suffix in _hostnames(self.variables):
            pattern = self._entry(suffix).parsed()
            if pattern.is_plain_host:
                keys.append(HUB_KEY if pattern.host == HUB_HOST and not pattern.port else pattern.key)
        return keys


_EXACT_NAMES = frozenset([PREFIX + f for f in FIELDS] + [IGNORED])
_SUFFIXED_PREFIXES = tuple(PREFIX + f + "_" for f in FIELDS)
_PLAIN_HOST = frozenset("abcdefghijklmnopqrstuvwxyz0123456789.-")
_HOSTNAME = PREFIX + "HOSTNAME"


def _registry_variables(environ: Mapping[str, str]) -> dict[str, str]:
    """The ``IMGPKG_REGISTRY_*`` variables (less imgpkg's one exception), without decoding the rest.

    ``os.environ`` keeps bytes and decodes on every access; filtering its bytes first saves ~2 ms per
    thousand unrelated or non-matching variables, on every call.
    """
    import os
    import sys

    data = getattr(environ, "_data", None) if environ is os.environ else None
    if isinstance(data, dict):
        prefix, codec = PREFIX.encode(), sys.getfilesystemencoding()  # what os.environ itself decodes with
        found = {
            k.decode(codec, "surrogateescape"): v.decode(codec, "surrogateescape")
            for k, v in data.items()
            if k.startswith(prefix)
        }
    else:
        found = {k: v for k, v in environ.items() if k.startswith(PREFIX)}
    found.pop(IGNORED, None)
    return found


def _hostnames(variables: dict[str, str]) -> dict[str | None, str]:
    """Suffix (None for the unsuffixed group) -> HOSTNAME value; groups without one never match anything."""
    cut = len(_HOSTNAME) + 1
    return {
        (None if name == _HOSTNAME else name[cut:]): value
        for name, value in variables.items()
        if name == _HOSTNAME or name.startswith(_HOSTNAME + "_")
    }
