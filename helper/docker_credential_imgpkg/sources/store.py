"""The helper's own store: what ``docker login`` kept through us. One object owns it: the lookup source
(``get``/``list_keys``), the ``store``/``erase`` verbs, the choice of backend and read-only mode, all decided
once, here."""

from __future__ import annotations

from ..address import match_key, parse_target
from ..errors import HelperError
from ..protocol import Credentials
from ..settings import READONLY_VAR, env_flag
from . import Match

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from ..address import Target
    from ..backends import Backend
    from ..debug import Trace
    from . import Answer


class Store:
    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self.readonly = env_flag(environ, READONLY_VAR)
        self._backend: Backend | None = None
        self._by_host: dict[str, _HostKeys] | None = None  # stored keys by registry, listed once per process

    @property
    def backend(self) -> Backend:
        """Chosen on first use: a lookup the environment answers never reads the settings file."""
        if self._backend is None:
            from ..backends import select_backend

            self._backend = select_backend(self.environ)
        return self._backend

    # --- the lookup source ------------------------------------------------------------------------------------

    def get(self, target: Target, trace: Trace) -> Answer:
        """The repository's own entry, the nearest enclosing namespace's, the registry's; for a bare host with
        none of these, the first namespaced entry of that host (docker's fallback)."""
        backend = self.backend
        key = target.key
        creds = backend.get(key)
        if creds is None and not target.web_login_key:
            listed = self._host_keys(target, trace) if len(target.segments) > 1 or not target.segments else _NONE
            key = listed.enclosing_namespace(target)
            if not key and target.segments:
                key = target.host_key
            elif not key:
                key = listed.first_namespaced
                if key:
                    trace(f"store: no entry for the registry itself; namespaced entry {key!r} answers")
            creds = backend.get(key) if key else None
        if creds is None:
            trace(f"store: no entry for {target.key!r} or any namespace above it")
            return None
        trace(f"store: entry {key!r} answers (username {creds.username!r}, secret ***)")
        where = getattr(self.backend, "path", "") or getattr(self.backend, "program", "")
        pattern = match_key(parse_target(key))
        return Match(creds, "store", f"{where}, entry {key!r}", pattern, per_repository="/" in pattern)

    def _host_keys(self, target: Target, trace: Trace) -> _HostKeys:
        """The stored keys of ``target``'s registry (``host/…``). Listed and grouped once per process: ``list``
        asks about every key it found, and must not list the store again, nor scan every key, for each."""
        if self._by_host is None:
            try:
                listed = self.backend.list()
            except HelperError as err:  # a backend helper that cannot list still answers get, as for docker
                trace(f"store: cannot list other entries: {err}")
                listed = {}
            self._by_host = {}
            for key in listed:
                host = key.partition("/")[0]
                found = self._by_host.get(host)
                if found is None:
                    found = self._by_host[host] = _HostKeys()
                found.add(key)
        return self._by_host.get(target.host, _NONE)

    def list_keys(self) -> list[str]:
        return list(self.backend.list())

    # --- the store and erase verbs ----------------------------------------------------------------------------

    def save(self, creds: Credentials, trace: Trace) -> None:
        """Keep ``creds`` under the normal form of its server address (one entry for every spelling)."""
        target = parse_target(creds.server_url)
        if not target.host:
            raise HelperError(f"store: server URL {creds.server_url!r} names no registry host")
        key = target.key
        if self.readonly:
            from ..authfile import encode_entry

            encode_entry(creds)  # what could not be stored is refused all the same
            trace(f"store {creds.server_url!r} as {key!r}: read-only mode ({READONLY_VAR}), nothing persisted")
            return
        self._by_host = None
        self.backend.add(Credentials(key, creds.username, creds.secret))
        trace(f"store {creds.server_url!r} as {key!r} (username {creds.username!r}, secret ***)")

    def erase(self, address: str, trace: Trace) -> None:
        """Remove exactly the entry for ``address`` (never a fallback); absent is success."""
        key = parse_target(address).key
        if self.readonly:
            trace(f"erase {address!r}: read-only mode ({READONLY_VAR}), nothing changed")
            return
        self._by_host = None
        removed = self.backend.delete(key)
        trace(f"erase {address!r}: entry {key!r} " + ("removed" if removed else "not present (nothing to do)"))


class _HostKeys:
    """One registry's stored keys, by length, so that the nearest enclosing namespace of an address is found in
    time linear in the address and the keys, never in their product: only lengths that some key has are tried
    as ``/`` boundaries (``address.Target.enclosing_namespace``'s rule, without scanning every key per lookup)."""

    __slots__ = ("_lengths", "by_length", "first_namespaced")

    def __init__(self) -> None:
        self.by_length: dict[int, set[str]] = {}
        self.first_namespaced = ""  # docker's fallback for a bare host: the first of its namespaced keys
        self._lengths: list[int] | None = None

    def add(self, key: str) -> None:
        self.by_length.setdefault(len(key), set()).add(key)
        self._lengths = None
        if "/" in key and (not self.first_namespaced or key < self.first_namespaced):
            self.first_namespaced = key

    def enclosing_namespace(self, target: Target) -> str:
        """The longest key that is a namespace (``host/ns…``) strictly above ``target``'s repository, or ""."""
        own = target.key
        if len(target.segments) < 2 or target.web_login_key:
            return ""
        if self._lengths is None:
            self._lengths = sorted(self.by_length, reverse=True)
        for size in self._lengths:
            if size < len(own) and own[size] == "/":
                candidate = own[:size]
                if "/" in candidate and candidate in self.by_length[size]:
                    return candidate
        return ""


_NONE = _HostKeys()
