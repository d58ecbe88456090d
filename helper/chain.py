"""The lookup order: env, keychains, globals, store, docker config. First answer wins; STOP ends it.

Sources are built lazily, so a ``get`` answered by the environment never opens a file.
"""

from __future__ import annotations

import sys

from .address import is_hub_token_key, parse_target
from .errors import HelperError, NotFound
from .protocol import Credentials
from .settings import env_flag
from .sources.base import STOP

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from .backends import Backend
    from .sources.dockerconfig import DockerConfigSource
    from .sources.env import EnvSource
    from .sources.globals import GlobalSource
    from .sources.keychains import KeychainSource
    from .sources.store import StoreSource


class Chain:
    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self.debug = env_flag(environ, "DOCKER_CREDENTIAL_IMGPKG_DEBUG")
        self._sources: dict[str, object] = {}

    def trace(self, message: str) -> None:
        if self.debug:
            print(f"docker-credential-imgpkg: debug: {message}", file=sys.stderr)

    # Sources, each built on first use: a get answered by the environment never opens a file, and
    # the verbs that skip a source never import it.
    def _source(self, name: str) -> object:
        source = self._sources.get(name)
        if source is None:
            source = self._sources[name] = self._build(name)
        return source

    def _build(self, name: str) -> object:
        environ = self.environ
        if name == "env":
            from .sources.env import EnvSource

            return EnvSource(environ)
        if name == "keychains":
            from .sources.keychains import KeychainSource

            return KeychainSource(environ)
        if name == "globals":
            from .sources.globals import GlobalSource

            return GlobalSource(environ)
        if name == "store":
            from .sources.store import StoreSource

            return StoreSource(self.backend)
        if name == "backend":
            from .backends import select_backend

            return select_backend(environ)
        from .sources.dockerconfig import DockerConfigSource

        return DockerConfigSource(environ)

    @property
    def backend(self) -> Backend:
        return self._source("backend")  # type: ignore[return-value]

    @property
    def env(self) -> EnvSource:
        return self._source("env")  # type: ignore[return-value]

    @property
    def keychains(self) -> KeychainSource:
        return self._source("keychains")  # type: ignore[return-value]

    @property
    def globals(self) -> GlobalSource:
        return self._source("globals")  # type: ignore[return-value]

    @property
    def store(self) -> StoreSource:
        return self._source("store")  # type: ignore[return-value]

    @property
    def docker_config(self) -> DockerConfigSource:
        return self._source("docker_config")  # type: ignore[return-value]

    def get(self, address: str, *, delegate: bool = True) -> Credentials:
        """Credentials for ``address`` or NotFound; a configuration error raises HelperError."""
        target = parse_target(address)
        self.trace(f"get {address!r}: registry {target.host!r}, repository path {target.path or '(none)'!r}")
        answer = None
        if is_hub_token_key(address):
            self.trace("Docker Hub web-login key: answered only by the store and docker config, verbatim")
        else:
            if "IMGPKG_ACTIVE_KEYCHAINS" in self.environ or "IMGPKG_ENABLE_IAAS_AUTH" in self.environ:
                self.keychains  # noqa: B018 - as in imgpkg, a bad keychain name fails every lookup
            answer = self.env.get(address, target, self.trace)
            if answer is None:
                answer = self.keychains.get(address, target, self.trace, delegate=delegate)
            if answer is None:
                answer = self.globals.get(address, self.trace)
        if answer is None:
            answer = self.store.get(address, target, self.trace)
        if answer is None:
            answer = self.docker_config.get(address, target, self.trace)
        if answer is None or answer is STOP:
            self.trace(f"get {address!r}: not found")
            raise NotFound()
        assert isinstance(answer, Credentials)
        return answer

    def list(self) -> dict[str, str]:
        """Every key ``get`` answers, with the username it answers with (never a secret)."""
        env, keychains = self.env, self.keychains  # configuration errors fail list too
        candidates = dict.fromkeys(env.list_keys() + keychains.list_keys())
        candidates.update(dict.fromkeys(self.store.list_keys()))
        candidates.update(dict.fromkeys(self.docker_config.list_keys()))
        result = {}
        for key in candidates:
            try:
                result[key] = self.get(key, delegate=False).username
            except NotFound:
                continue
            except HelperError as err:
                self.trace(f"list: leaving out {key!r}: {err}")
        return result
