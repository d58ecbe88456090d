"""Where ``store`` keeps secrets: the 4-method interface every backend implements, and backend selection.

Keys handed to a backend are already normalised (``helper.address.store_key``), so every client's
spelling of a registry lands on one entry whatever the backend.
"""

from __future__ import annotations

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


def select_backend(environ: Mapping[str, str]) -> Backend:
    """``DOCKER_CREDENTIAL_IMGPKG_BACKEND``, else the settings file's ``backend``: ``file`` (the default) or
    ``helper:NAME`` (another credential helper, ``docker-credential-NAME``, keeps the secrets)."""
    from ..settings import backend_setting

    spec, origin = backend_setting(environ)
    if spec == "file":
        from .file import FileBackend

        return FileBackend.from_environment(environ)
    kind, sep, name = spec.partition(":")
    if kind != "helper" or not sep:
        from ..errors import HelperError

        raise HelperError(
            f"{origin}: unknown backend {spec!r}; use file (the default) or helper:NAME "
            "(keeps secrets in docker-credential-NAME, e.g. helper:pass)"
        )
    from .program import ProgramBackend

    return ProgramBackend.from_environment(name.strip(), origin, environ)
