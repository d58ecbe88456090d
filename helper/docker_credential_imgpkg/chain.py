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
from .errors import HelperError, shown
from .protocol import NotFound
from .sources import Stop

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from .address import Target
    from .protocol import Credentials
    from .sources import Match, Source
    from .sources.store import StoreSource

ORDER = ("env", "keychains", "globals", "store", "docker")
WEB_LOGIN_ORDER = ("store", "docker")
LISTED = ("env", "keychains", "store", "docker")  # the sources that hold entries (globals answer anything)


class Chain:
    """``delegate=False`` (``list``, ``explain``) never runs the delegated cloud keychains."""

    def __init__(self, environ: Mapping[str, str], *, delegate: bool = True, trace: Trace | None = None) -> None:
        self.environ = environ
        self.delegate = delegate
        self.trace = trace if trace is not None else Trace.from_environment(environ)
        self._built: dict[str, Source] = {}

    def source(self, name: str) -> Source:
        found = self._built.get(name)
        if found is None:
            found = self._built[name] = _build(name, self.environ, self.delegate)
        return found

    @property
    def store(self) -> StoreSource:
        from .sources.store import StoreSource

        found = self.source("store")
        assert isinstance(found, StoreSource)
        return found

    def order(self, target: Target) -> tuple[str, ...]:
        return WEB_LOGIN_ORDER if target.web_login_key else ORDER

    def get(self, address: str) -> Credentials:
        """Credentials for ``address`` or NotFound; a configuration error raises HelperError."""
        return self.lookup(address).credentials

    def lookup(self, address: str) -> Match:
        """What answers ``address`` and with what, or NotFound; a configuration error raises HelperError."""
        target = parse_target(address)
        trace = self.trace
        if trace:
            trace(
                f"get {shown(address)}: registry {shown(target.host)}, repository path {shown(target.path or '(none)')}"
            )
        if target.web_login_key:
            trace("Docker Hub web-login key: answered only by the store and docker config, verbatim")
        elif "IMGPKG_ACTIVE_KEYCHAINS" in self.environ or "IMGPKG_ENABLE_IAAS_AUTH" in self.environ:
            self.source("keychains")  # as in imgpkg, a bad keychain name fails every lookup
        for name in self.order(target):
            answer = self.source(name).get(target, trace)
            if isinstance(answer, Stop):
                break
            if answer is not None:
                answer.credentials = answer.credentials.with_server(address)
                return answer
        if trace:
            trace(f"get {shown(address)}: not found")
        raise NotFound()

    def usernames(self) -> dict[str, str]:
        """What ``list`` answers: every key ``get`` answers, with the username it answers with (never a secret)."""
        candidates: dict[str, None] = {}
        for name in LISTED:
            candidates.update(dict.fromkeys(self.source(name).list_keys(self.trace)))  # configuration errors fail list
        result = {}
        for key in candidates:
            try:
                result[key] = self.get(key).username
            except NotFound:
                continue
            except HelperError as err:
                self.trace(f"list: leaving out {shown(key)}: {err}")
        return result

    def entries(self, skipped: list[str]) -> list[str]:
        """Every entry the sources hold, written as the kubelet's ``matchImages`` writes it (globs and paths
        kept, Docker Hub as ``docker.io``), in source order: the one lister ``explain``, ``configure kubelet``
        and the kubelet provider share. A configuration error of the env or the keychains raises (every lookup
        would fail); a store or config that cannot be listed is described in ``skipped`` and left out."""
        found: list[str] = []
        for name in LISTED:
            try:
                found += self.source(name).patterns(self.trace)
            except HelperError as err:
                if name in ("env", "keychains"):
                    raise
                skipped.append(f"cannot list the {name} entries ({err}); their registries are left out")
        return list(dict.fromkeys(p for p in found if p))


def _build(name: str, environ: Mapping[str, str], delegate: bool) -> Source:
    """Import and build one source: a verb imports only the sources it reaches."""
    if name == "env":
        from .sources.env import EnvSource

        return EnvSource(environ)
    if name == "keychains":
        from .sources.keychains import KeychainSource

        return KeychainSource(environ, delegate=delegate)
    if name == "globals":
        from .sources.globals import GlobalSource

        return GlobalSource(environ)
    if name == "store":
        from .sources.store import StoreSource

        return StoreSource(environ)
    from .sources.dockerconfig import DockerConfigSource

    return DockerConfigSource(environ)
