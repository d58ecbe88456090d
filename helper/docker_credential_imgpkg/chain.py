"""The lookup: an ordered list of sources, each built on first use, asked in turn; the first answer wins.

    env        IMGPKG_REGISTRY_* variables                     (sources/env.py)
    keychains  IMGPKG_ACTIVE_KEYCHAINS: github, gke, ecr, aks  (sources/keychains.py)
    globals    IMGPKG_USERNAME/PASSWORD, IMGPKG_TOKEN, ANON    (sources/globals.py)
    store      what `store` kept: a file or another helper     (sources/store.py)
    docker     DOCKER_AUTH_CONFIG, then docker's config.json   (sources/dockerconfig.py)

A source that matches but says "anonymous" (``STOP``) ends the lookup. Docker Hub's web-login keys
(``…/access-token``, ``…/refresh-token``) are docker's own bookkeeping: only the store and docker's config
answer them, so an imgpkg variable can never break ``docker logout``. Building sources lazily means a ``get``
answered by the environment never opens a file, and a verb never imports a source it does not reach.
"""

from __future__ import annotations

from .address import parse_target
from .debug import Trace
from .errors import HelperError, NotFound
from .sources import STOP, Match

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from .address import Target
    from .protocol import Credentials
    from .sources import Source
    from .sources.store import Store

ORDER = ("env", "keychains", "globals", "store", "docker")
WEB_LOGIN_ORDER = ("store", "docker")


class Chain:
    """``delegate=False`` (``list``) never runs the delegated cloud keychains."""

    def __init__(self, environ: Mapping[str, str], *, delegate: bool = True, trace: Trace | None = None) -> None:
        self.environ = environ
        self.delegate = delegate
        self.trace = trace if trace is not None else Trace.from_environment(environ)
        self._built: dict[str, Source] = {}
        self._factories: dict[str, Callable[[], Source]] = {
            "env": self._env,
            "keychains": self._keychains,
            "globals": self._globals,
            "store": self._store,
            "docker": self._docker,
        }

    def source(self, name: str) -> Source:
        found = self._built.get(name)
        if found is None:
            found = self._built[name] = self._factories[name]()
        return found

    @property
    def store(self) -> Store:
        return self.source("store")  # type: ignore[return-value]

    def order(self, target: Target) -> tuple[str, ...]:
        return WEB_LOGIN_ORDER if target.web_login_key else ORDER

    def get(self, address: str) -> Credentials:
        """Credentials for ``address`` or NotFound; a configuration error raises HelperError."""
        return self.lookup(address).credentials

    def lookup(self, address: str) -> Match:
        """What answers ``address`` and with what, or NotFound; a configuration error raises HelperError."""
        target = parse_target(address)
        trace = self.trace
        trace(f"get {address!r}: registry {target.host!r}, repository path {target.path or '(none)'!r}")
        if target.web_login_key:
            trace("Docker Hub web-login key: answered only by the store and docker config, verbatim")
        elif "IMGPKG_ACTIVE_KEYCHAINS" in self.environ or "IMGPKG_ENABLE_IAAS_AUTH" in self.environ:
            self.source("keychains")  # as in imgpkg, a bad keychain name fails every lookup
        for name in self.order(target):
            answer = self.source(name).get(target, trace)
            if answer is STOP:
                break
            if answer is not None:
                assert isinstance(answer, Match)
                answer.credentials = answer.credentials.with_server(address)
                return answer
        trace(f"get {address!r}: not found")
        raise NotFound()

    def list(self) -> dict[str, str]:
        """Every key ``get`` answers, with the username it answers with (never a secret)."""
        candidates: dict[str, None] = {}
        for name in ORDER:
            candidates.update(dict.fromkeys(self.source(name).list_keys()))  # configuration errors fail list
        result = {}
        for key in candidates:
            try:
                result[key] = self.get(key).username
            except NotFound:
                continue
            except HelperError as err:
                self.trace(f"list: leaving out {key!r}: {err}")
        return result

    def known_patterns(self, skipped: list[str]) -> list[str]:
        """Every entry the sources hold, written as the kubelet's ``matchImages`` writes it (globs and paths
        kept, Docker Hub as ``docker.io``): env entries, the github keychain's host, store and docker config keys.
        A configuration error of the env or the keychains raises (every lookup would fail); a store or config
        that cannot be listed is described in ``skipped`` and left out. For ``explain`` and ``configure kubelet``.
        """
        from .address import match_key

        found = list(self.source("env").patterns())  # type: ignore[attr-defined]
        found += self.source("keychains").list_keys()
        for name in ("store", "docker"):
            try:
                keys = self.source(name).list_keys()
            except HelperError as err:
                skipped.append(f"cannot list the {name} entries ({err}); their registries are left out")
                continue
            found += [match_key(target) for target in map(parse_target, keys) if not target.web_login_key]
        return list(dict.fromkeys(p for p in found if p))

    # --- the sources, each imported and built on first use -----------------------------------------------------

    def _env(self) -> Source:
        from .sources.env import EnvSource

        return EnvSource(self.environ)

    def _keychains(self) -> Source:
        from .sources.keychains import KeychainSource

        return KeychainSource(self.environ, delegate=self.delegate)

    def _globals(self) -> Source:
        from .sources.globals import GlobalSource

        return GlobalSource(self.environ)

    def _store(self) -> Source:
        from .sources.store import Store

        return Store(self.environ)

    def _docker(self) -> Source:
        from .sources.dockerconfig import DockerConfigSource

        return DockerConfigSource(self.environ)
