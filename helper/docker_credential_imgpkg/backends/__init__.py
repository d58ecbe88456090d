"""Where ``store`` keeps secrets: the 4-method interface every backend implements (the store source,
``sources.store.StoreSource``, chooses one).

Keys handed to a backend are already normalised (``address.store_key``), so every client's spelling of a
registry lands on one entry whatever the backend. Read-only mode is not a backend's concern: the store source
(``sources.store.StoreSource``) decides it once and never calls ``add``/``delete`` then.

    file         FileBackend    the helper's own 0600 file, docker's config.json format   (backends/file.py)
    helper:NAME  HelperBackend  another credential helper, docker-credential-NAME          (backends/helper.py)
"""

from __future__ import annotations

from abc import ABC, abstractmethod  # abc is loaded at every Python start-up: free

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..protocol import Credentials


class Backend(ABC):
    """A credential store keyed by normalised server address."""

    location = ""  # where the secrets are, for people: a path or a program name

    @abstractmethod
    def add(self, creds: Credentials) -> None:
        """Store ``creds`` under ``creds.server_url`` (a normalised key), replacing any entry."""

    @abstractmethod
    def delete(self, key: str) -> bool:
        """Remove the entry for ``key``; return False when there was none (not an error)."""

    @abstractmethod
    def get(self, key: str) -> Credentials | None:
        """The entry stored under exactly ``key``, or None."""

    @abstractmethod
    def list(self) -> dict[str, str]:
        """Every stored key mapped to its username."""
