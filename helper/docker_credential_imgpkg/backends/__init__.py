"""Where ``store`` keeps secrets: the 4-method interface every backend implements, and choosing one.

Keys handed to a backend are already normalised (``address.store_key``), so every client's spelling of a
registry lands on one entry whatever the backend. Read-only mode is not a backend's concern: the store
(``sources.store.Store``) decides it once and never calls ``add``/``delete`` then.
"""

from __future__ import annotations

from ..errors import HelperError
from ..protocol import Credentials

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Protocol
else:  # the interface is for readers and type checkers; importing typing costs start-up on every store lookup
    Protocol = object


class Backend(Protocol):
    """A credential store keyed by normalised server address."""

    def add(self, creds: Credentials) -> None:
        """Store ``creds`` under ``creds.server_url`` (a normalised key), replacing any entry."""

    def delete(self, key: str) -> bool:
        """Remove the entry for ``key``; return False when there was none (not an error)."""

    def get(self, key: str) -> Credentials | None:
        """The entry stored under exactly ``key``, or None."""

    def list(self) -> dict[str, str]:
        """Every stored key mapped to its username."""


def store_path(environ: Mapping[str, str]) -> str:
    """``$DOCKER_CREDENTIAL_IMGPKG_STORE``, else ``credentials.json`` in the helper's config directory."""
    import os

    from ..settings import config_dir

    explicit = environ.get("DOCKER_CREDENTIAL_IMGPKG_STORE", "")
    return explicit or os.path.join(config_dir(environ), "credentials.json")


def select_backend(environ: Mapping[str, str]) -> Backend:
    """``DOCKER_CREDENTIAL_IMGPKG_BACKEND``, else the settings file's ``backend``: ``file`` (the default) or
    ``helper:NAME`` (another credential helper, ``docker-credential-NAME``, keeps the secrets)."""
    from ..settings import backend_setting

    spec, origin = backend_setting(environ)
    if spec == "file":
        from .file import FileBackend

        return FileBackend(store_path(environ))
    kind, sep, name = spec.partition(":")
    if kind != "helper" or not sep:
        raise HelperError(
            f"{origin}: unknown backend {spec!r}; use file (the default) or helper:NAME "
            "(keeps secrets in docker-credential-NAME, e.g. helper:pass)"
        )
    from .program import ProgramBackend, check_backend_name

    check_backend_name(name.strip(), origin, environ)
    return ProgramBackend(name.strip(), origin)
