"""imgpkg's ``IMGPKG_REGISTRY_*`` variables: grouping by suffix, matching, precedence (imgpkg's env keychain)."""

from __future__ import annotations

from ..address import HUB_HOST, HUB_KEY, HostPattern, Target, parse_host_pattern
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
_FIELD_BY_INITIAL = {name[0]: name for name in FIELDS}  # the five initials differ: one lookup per variable
DEFAULT_GROUP = None  # the unsuffixed group, distinct from the empty suffix ("IMGPKG_REGISTRY_HOSTNAME_")


class EnvEntry:
    """One suffix group of ``IMGPKG_REGISTRY_*`` variables."""

    __slots__ = ("pattern", "suffix", "values")

    def __init__(self, suffix: str | None) -> None:
        self.suffix = suffix
        self.values: dict[str, str] = {}
        self.pattern: HostPattern | None = None

    def variable(self, name: str) -> str:
        return PREFIX + name + ("" if self.suffix is None else "_" + self.suffix)

    @property
    def label(self) -> str:
        return self.variable("HOSTNAME") + "=" + self.values.get("HOSTNAME", "")

    def credentials(self, server_url: str) -> Credentials | None:
        """imgpkg's AuthConfig mapped onto the helper protocol; None when the entry carries no usable credential."""
        values = self.values
        if values.get("IDENTITY_TOKEN"):
            return Credentials(server_url, TOKEN_USERNAME, values["IDENTITY_TOKEN"])
        if values.get("USERNAME"):
            return Credentials(server_url, values["USERNAME"], values.get("PASSWORD", ""))
        if values.get("REGISTRY_TOKEN"):
            raise HelperError(
                f"{self.variable('REGISTRY_TOKEN')} is a registry (bearer) token, which the credential-helper "
                f"protocol cannot carry; set {self.variable('USERNAME')}/{self.variable('PASSWORD')} or "
                f"{self.variable('IDENTITY_TOKEN')} for this registry instead"
            )
        return None


class EnvSource:
    """Answers from ``IMGPKG_REGISTRY_*``; a matching entry without credentials stops the lookup (anonymous)."""

    name = "env"

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.entries = _collect(environ)
        self._literal: dict[str, list[tuple[int, EnvEntry]]] = {}
        self._globbed: list[tuple[int, EnvEntry]] = []
        for rank, entry in enumerate(self.entries):
            assert entry.pattern is not None
            if "*" in entry.pattern.host:
                self._globbed.append((rank, entry))
            else:
                self._literal.setdefault(entry.pattern.host, []).append((rank, entry))

    def match(self, target: Target) -> EnvEntry | None:
        """The winning entry for ``target`` (imgpkg's reverse key order, ties broken deterministically)."""
        name = target.host.rsplit(":", 1)[0] if target.port else target.host
        candidates = self._literal.get(name, [])
        if self._globbed:
            candidates = sorted(candidates + self._globbed, key=lambda item: item[0])
        for _, entry in candidates:
            assert entry.pattern is not None
            if entry.pattern.matches(target):
                return entry
        return None

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
        for entry in self.entries:
            pattern = entry.pattern
            assert pattern is not None
            if pattern.is_plain_host:
                keys.append(HUB_KEY if pattern.host == HUB_HOST and not pattern.port else pattern.key)
        return keys


def _collect(environ: Mapping[str, str]) -> list[EnvEntry]:
    groups: dict[str | None, EnvEntry] = {}
    start = len(PREFIX)
    for name, value in environ.items():
        if not name.startswith(PREFIX) or name == IGNORED:
            continue
        fld = _FIELD_BY_INITIAL.get(name[start : start + 1], "")
        end = start + len(fld)
        if fld and name.startswith(fld, start) and len(name) == end:
            suffix: str | None = DEFAULT_GROUP
        elif fld and name.startswith(fld + "_", start):
            suffix = name[end + 1 :]
        else:
            raise HelperError(f"Unknown env variable '{name}'")
        entry = groups.get(suffix)
        if entry is None:
            entry = groups[suffix] = EnvEntry(suffix)
        entry.values[fld] = value
    entries = []
    for entry in groups.values():
        if "HOSTNAME" not in entry.values:
            continue  # credentials without a hostname never match anything (imgpkg: URL "")
        entry.pattern = parse_host_pattern(entry.values["HOSTNAME"])
        entries.append(entry)
    # imgpkg: reverse byte order of the normalised key; identical keys: unsuffixed first, then suffix order.
    entries.sort(key=lambda e: (e.suffix is not None, e.suffix or ""))
    entries.sort(key=lambda e: e.pattern.key.encode("utf-8") if e.pattern else b"", reverse=True)
    return entries
