"""The helper's own store: what ``docker login`` kept through us. One object owns it: the lookup source
(``get``/``list_keys``), the ``store``/``erase`` verbs, the choice of backend and read-only mode, all decided
once, here."""

from __future__ import annotations

from ..address import KeyIndex, match_key, parse_target
from ..errors import HelperError, shown
from ..protocol import Credentials
from ..settings import READONLY_VAR, backend_setting
from ..variables import env_flag
from . import Match, Source

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from ..address import Target
    from ..backends import Backend
    from ..debug import Trace
    from . import Stop

_NO_KEYS = KeyIndex(())


class StoreSource(Source):
    name = "store"

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self.readonly = env_flag(environ, READONLY_VAR)
        self._backend: Backend | None = None
        self._index: KeyIndex | None = None  # the stored keys, listed once per process

    @property
    def backend(self) -> Backend:
        """Chosen on first use: a lookup the environment answers never reads the settings file."""
        if self._backend is None:
            self._backend = select_backend(self.environ)
        return self._backend

    # --- the lookup source ------------------------------------------------------------------------------------

    def get(self, target: Target, trace: Trace) -> Match | Stop | None:
        """The repository's own entry, else ``KeyIndex.fallback_key``'s. The store is listed only when the
        cascade needs it (a repository one segment deep falls back to the registry's key without it)."""
        backend = self.backend
        key: str | None = target.key
        creds = backend.get(target.key)
        if creds is None:
            needs_listing = len(target.segments) != 1 and not target.web_login_key
            index = self._listed(trace) if needs_listing else _NO_KEYS
            key = index.fallback_key(target)
            creds = backend.get(key) if key else None
            if creds is not None and not target.segments:
                trace(f"store: no entry for the registry itself; namespaced entry {shown(key or '')} answers")
        if creds is None or key is None:
            trace(f"store: no entry for {shown(target.key)} or any namespace above it")
            return None
        entry = f"{backend.location}, entry {shown(key)}"
        trace(f"store: entry {shown(key)} answers (username {shown(creds.username)}, secret ***)")
        pattern = match_key(parse_target(key))
        return Match(creds, "store", entry, pattern, per_repository="/" in pattern)

    def _listed(self, trace: Trace) -> KeyIndex:
        """The stored keys, listed once per process: ``list`` asks about every key and must not list again."""
        if self._index is None:
            try:
                listed = self.backend.list()
            except HelperError as err:  # a backend helper that cannot list still answers get, as for docker
                trace(f"store: cannot list other entries: {err}")
                listed = {}
            self._index = KeyIndex(listed)
        return self._index

    def list_keys(self, trace: Trace) -> list[str]:
        return list(self.backend.list())

    # --- the store and erase verbs ----------------------------------------------------------------------------

    def save(self, creds: Credentials, trace: Trace) -> None:
        """Keep ``creds`` under the normal form of its server address (one entry for every spelling)."""
        target = parse_target(creds.server_url)
        if not target.host:
            raise HelperError(f"store: server URL {shown(creds.server_url)} names no registry host")
        key = target.key
        if self.readonly:
            from ..authfile import encode_entry

            encode_entry(creds)  # what could not be stored is refused all the same
            trace(
                f"store {shown(creds.server_url)} as {shown(key)}: read-only mode ({READONLY_VAR}), nothing persisted"
            )
            return
        self._index = None
        self.backend.add(Credentials(key, creds.username, creds.secret))
        trace(f"store {shown(creds.server_url)} as {shown(key)} (username {shown(creds.username)}, secret ***)")

    def erase(self, address: str, trace: Trace) -> None:
        """Remove exactly the entry for ``address`` (never a fallback); absent is success."""
        key = parse_target(address).key
        if self.readonly:
            trace(f"erase {shown(address)}: read-only mode ({READONLY_VAR}), nothing changed")
            return
        self._index = None
        removed = self.backend.delete(key)
        trace(
            f"erase {shown(address)}: entry {shown(key)} " + ("removed" if removed else "not present (nothing to do)")
        )


def select_backend(environ: Mapping[str, str]) -> Backend:
    """``DOCKER_CREDENTIAL_IMGPKG_BACKEND``, else the settings file's ``backend``: ``file`` (the default) or
    ``helper:NAME`` (another credential helper, ``docker-credential-NAME``, keeps the secrets)."""
    spec, origin = backend_setting(environ)
    if spec == "file":
        from ..backends.file import FileBackend
        from ..paths import store_path

        return FileBackend(store_path(environ))
    kind, sep, name = spec.partition(":")
    if kind != "helper" or not sep:
        raise HelperError(
            f"{origin}: unknown backend {shown(spec)}; use file (the default) or helper:NAME "
            "(keeps secrets in docker-credential-NAME, e.g. helper:pass)"
        )
    from ..backends.helper import HelperBackend
    from ..backends.loopguard import check_backend_name

    check_backend_name(name.strip(), origin, environ)
    return HelperBackend(name.strip(), origin, environ)
