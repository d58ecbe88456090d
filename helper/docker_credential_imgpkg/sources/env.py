"""imgpkg's ``IMGPKG_REGISTRY_*`` variables: grouping by suffix, matching, precedence (imgpkg's env keychain)."""

from __future__ import annotations

from ..address import HUB_ALIASES, HUB_HOST, HUB_KEY, Target, split_port
from ..errors import HelperError, shown, without_userinfo
from ..protocol import TOKEN_USERNAME, Credentials
from ..variables import utf8_value
from . import STOP, Match, Source
from .env_hostnames import HostPattern, parse_host_pattern, quick_host

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from ..debug import Trace
    from . import Stop

PREFIX = "IMGPKG_REGISTRY_"
IGNORED = "IMGPKG_REGISTRY_AZURE_CR_CONFIG"
FIELDS = ("HOSTNAME", "USERNAME", "PASSWORD", "IDENTITY_TOKEN", "REGISTRY_TOKEN")


class EnvEntry:
    """One suffix group of ``IMGPKG_REGISTRY_*`` variables (only groups that might match become entries)."""

    __slots__ = ("pattern", "suffix", "variables")

    def __init__(self, suffix: str | None, variables: Mapping[bytes, bytes]) -> None:
        self.suffix = suffix
        self.variables = variables  # every IMGPKG_REGISTRY_* variable, undecoded
        self.pattern: HostPattern | None = None

    def value(self, field: str) -> str:
        name = self.variable(field)
        return utf8_value(name, self.variables.get(_encode(name), b""))

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
        """``IMGPKG_REGISTRY_HOSTNAME_X=value`` for people: user-info in the value masked."""
        return self.variable("HOSTNAME") + "=" + without_userinfo(self.value("HOSTNAME"))

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


class EnvSource(Source):
    """Answers from ``IMGPKG_REGISTRY_*``; a matching entry without credentials stops the lookup (anonymous).

    Every name and hostname is validated up front (a bad one fails every lookup, as in imgpkg), but only the
    groups that can match the request become entries, are fully parsed and ranked: CI systems export
    hundreds of these variables and every client pays this per call.
    """

    name = "env"

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.variables, names = _registry_variables(environ)
        unknown = _first_unknown(names)
        if unknown is not None:
            raise HelperError(f"Unknown env variable {shown(_decode(unknown))}")
        self._hostnames = _hostnames(self.variables, names)  # raw suffix -> raw value
        self._by_host: dict[str, list[bytes | None]] = {}  # the unusual spellings, by lowercase host[:port]
        self._globbed: dict[int, list[bytes | None]] = {}  # glob entries, by their host's label count
        self._by_value: dict[bytes, list[bytes | None]] | None = None  # every entry by its raw HOSTNAME value
        self._by_name: dict[str, list[bytes | None]] | None = None  # non-glob entries by host name (for traces)
        self._entries: dict[bytes | None, EnvEntry] = {}
        # Lowercase host names without port, path or glob (nearly all) are compared as raw bytes.
        unusual = [s for s, v in self._hostnames.items() if v.translate(None, _PLAIN_HOST) or v in _HUB_ALIASES]
        for suffix in unusual:
            host = quick_host(_decode(self._hostnames[suffix]))
            if host is None:  # parse now: an unparsable hostname fails every lookup (imgpkg)
                pattern = self._entry(suffix).parsed()
                host = pattern.host + (":" + pattern.port if pattern.port else "")
            if "*" in host:
                self._globbed.setdefault(_labels(host), []).append(suffix)
            else:
                self._by_host.setdefault(host, []).append(suffix)

    def _entry(self, suffix: bytes | None) -> EnvEntry:
        entry = self._entries.get(suffix)
        if entry is None:
            entry = self._entries[suffix] = EnvEntry(None if suffix is None else _decode(suffix), self.variables)
        return entry

    def _candidates(self, target: Target) -> list[EnvEntry]:
        """Entries whose host could match ``target`` (same host[:port], or a glob with as many labels), not yet
        checked. Indexed, so that ``list`` (a lookup per key) stays linear in the number of groups."""
        if self._by_value is None:
            self._by_value = {}
            for suffix, value in self._hostnames.items():
                self._by_value.setdefault(value, []).append(suffix)
        suffixes = self._by_value.get(_encode(target.host), []) + self._by_host.get(target.host, [])
        suffixes += self._globbed.get(_labels(target.host), [])
        return list(map(self._entry, suffixes))

    def match(self, target: Target) -> EnvEntry | None:
        """The winning entry for ``target`` (imgpkg's reverse key order, ties broken deterministically)."""
        candidates = [e for e in self._candidates(target) if e.parsed().matches(target)]
        return max(candidates, key=lambda e: e.rank, default=None)

    def get(self, target: Target, trace: Trace) -> Match | Stop | None:
        entry = self.match(target)
        if entry is None and not target.segments and not target.web_login_key:
            return self._host_only(target, trace)
        if entry is None:
            self._trace_passed_over(target, trace)
            trace(f"env: no IMGPKG_REGISTRY_HOSTNAME* matches {shown(target.host + target.path)}")
            return None
        creds = entry.credentials(target.key)
        if creds is None:
            trace(f"env: {entry.label} matches but carries no credentials: anonymous, lookup stops")
            return STOP
        trace(f"env: {entry.label} matches (username {shown(creds.username)}, secret ***)")
        pattern = entry.parsed()
        return Match(creds, "env", entry.label, pattern.match_key, per_repository=bool(pattern.path))

    def _host_only(self, target: Target, trace: Trace) -> Match | Stop | None:
        """A client that sends only the host (docker, skopeo, podman, buildah) cannot name a repository: when
        every path-scoped entry of that host carries the same credentials, those answer; otherwise none does."""
        scoped = [e for e in self._candidates(target) if e.parsed().path and e.parsed().matches_host(target)]
        if not scoped:
            self._trace_passed_over(target, trace)
            trace(f"env: no IMGPKG_REGISTRY_HOSTNAME* matches {shown(target.host)}")
            return None
        scoped.sort(key=lambda e: e.rank, reverse=True)
        answers = [e.credentials(target.key) for e in scoped]
        labels = ", ".join(e.label for e in scoped)
        first = answers[0]
        if first is None or any(a != first for a in answers[1:]):
            trace(
                f"env: the client sent only the host {shown(target.host)}; the entries scoped to its repositories "
                f"({labels}) carry different credentials, so none answers"
            )
            return None
        trace(
            f"env: the client sent only the host {shown(target.host)}; every entry scoped to its repositories "
            f"({labels}) carries the same credentials (username {shown(first.username)}, secret ***), so they answer"
        )
        return Match(first, "env", labels, scoped[0].parsed().match_key.partition("/")[0])

    def _trace_passed_over(self, target: Target, trace: Trace) -> None:
        """Say why each entry of the same host name (any port) or glob does not answer (debug and explain)."""
        if not trace:
            return
        if self._by_name is None:  # parsed once, so that explain's lookups stay linear in the number of groups
            self._by_name = {}
            for suffix in self._hostnames:
                host = self._entry(suffix).parsed().host
                if "*" not in host:
                    self._by_name.setdefault(host, []).append(suffix)
        globs = [suffix for group in self._globbed.values() for suffix in group]
        for suffix in self._by_name.get(split_port(target.host)[0], []) + globs:
            entry = self._entry(suffix)
            pattern = entry.parsed()
            why = pattern.mismatch(target)
            if why is not None:
                trace(f"env: {entry.label} passed over: {why}")

    def list_keys(self, trace: Trace) -> list[str]:
        """The registries of entries without a glob, keyed as ``get`` expects them. A path-scoped entry offers its
        registry too: ``list`` keeps it only if a host-only ``get`` answers (clients such as regctl ask a helper
        only about the registries its ``list`` names)."""
        keys = []
        for suffix in self._hostnames:
            pattern = self._entry(suffix).parsed()
            if "*" not in pattern.host:
                keys.append(HUB_KEY if pattern.host == HUB_HOST and not pattern.port else pattern.host_key)
        return list(dict.fromkeys(keys))

    def patterns(self, trace: Trace) -> list[str]:
        """Every entry as the kubelet's ``matchImages`` writes it (globs and paths kept), in environment order."""
        return [self._entry(suffix).parsed().match_key for suffix in self._hostnames]


_PLAIN_HOST = b"abcdefghijklmnopqrstuvwxyz0123456789.-"  # what bytes.translate deletes: left over = unusual
_HUB_ALIASES = frozenset(a.encode() for a in HUB_ALIASES)
# Names are checked as bytes: with thousands of variables set, decoding only what is used is what keeps
# ``get`` cheap (os.environ keeps bytes and would decode every name and value on access).
_EXACT_NAMES = frozenset(s.encode() for s in [PREFIX + f for f in FIELDS] + [IGNORED])
_SUFFIXED_PREFIXES = tuple((PREFIX + f + "_").encode() for f in FIELDS)
# The same rule as line patterns over the names joined by newlines, for counting in one C-level pass.
_LINE_PATTERNS = tuple(b"\n" + n + b"\n" for n in _EXACT_NAMES) + tuple(b"\n" + p for p in _SUFFIXED_PREFIXES)
_HOSTNAME = (PREFIX + "HOSTNAME").encode()


def _labels(host: str) -> int:
    """How many dot-separated labels ``host[:port]``'s name has (a glob matches only as many)."""
    return split_port(host)[0].count(".") + 1


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _decode(raw: bytes) -> str:
    """A variable's name or a HOSTNAME value, for matching and messages."""
    return raw.decode("utf-8", "surrogateescape")


def _registry_variables(environ: Mapping[str, str]) -> tuple[Mapping[bytes, bytes], list[bytes]]:
    """The environment as bytes and the ``IMGPKG_REGISTRY_*`` names in it (only those are ever decoded)."""
    import os

    prefix = _encode(PREFIX)
    if environ is os.environ:
        data: Mapping[bytes, bytes] = os.environb
    else:
        data = {_encode(k): _encode(v) for k, v in environ.items() if k.startswith(PREFIX)}
    return data, [k for k in data if k.startswith(prefix)]


def _first_unknown(names: list[bytes]) -> bytes | None:
    """The first name that is not one of imgpkg's five fields (optionally ``_<suffix>``), in environment order.

    Counted over the joined names first (one pass in C); only a mismatch looks at names one by one.
    """
    joined = b"\n" + b"\n".join(names) + b"\n"
    if joined.count(b"\n") == len(names) + 1 and sum(joined.count(p) for p in _LINE_PATTERNS) == len(names):
        return None
    for name in names:
        if name not in _EXACT_NAMES and not name.startswith(_SUFFIXED_PREFIXES):
            return name
    return None


def _hostnames(variables: Mapping[bytes, bytes], names: list[bytes]) -> dict[bytes | None, bytes]:
    """Suffix (None for the unsuffixed group) -> HOSTNAME value, undecoded; groups without one never match."""
    cut = len(_HOSTNAME) + 1
    return {
        (None if name == _HOSTNAME else name[cut:]): variables[name]
        for name in names
        if name.startswith(_HOSTNAME) and (name == _HOSTNAME or name[cut - 1 : cut] == b"_")
    }
