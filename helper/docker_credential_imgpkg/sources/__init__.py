"""Credential sources: one module each, behind one interface (``Source``), walked in order by ``chain.Chain``.

A source answers ``get(target, trace)`` with a ``Match`` (credentials and what answered), ``None`` (no match:
ask the next source) or ``STOP`` (a matching entry says "anonymous": the lookup ends with not-found);
``list_keys(trace)`` with the keys it could answer (normal form, for ``list``); ``patterns(trace)`` with every
entry it holds as the kubelet's ``matchImages`` writes it (for ``explain`` and the kubelet provider).
"""

from __future__ import annotations

from abc import ABC, abstractmethod  # abc is loaded at every Python start-up: free

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..address import Target
    from ..debug import Trace
    from ..protocol import Credentials


class Match:
    """An answer and where it came from: what ``explain`` shows and the kubelet provider keys its answer by.

    ``pattern`` is the entry that answered, written as the kubelet's ``matchImages`` would be (``host[:port]``,
    ``host/path``, ``*.glob``); ``per_repository`` when it is scoped to a repository path; ``short_lived`` when
    a delegated cloud keychain minted it; ``entry`` names it for people (a variable, a file and key).
    """

    __slots__ = ("credentials", "entry", "pattern", "per_repository", "short_lived", "source")

    def __init__(
        self,
        credentials: Credentials,
        source: str,
        entry: str,
        pattern: str,
        *,
        per_repository: bool = False,
        short_lived: bool = False,
    ) -> None:
        self.credentials = credentials
        self.source = source
        self.entry = entry
        self.pattern = pattern
        self.per_repository = per_repository
        self.short_lived = short_lived


class Stop:
    """The type of ``STOP``, the one "anonymous: end the lookup" answer."""

    def __repr__(self) -> str:
        return "STOP"


STOP = Stop()


class Source(ABC):
    """One place credentials can come from."""

    name = ""  # as chain.ORDER and explain name it

    @abstractmethod
    def get(self, target: Target, trace: Trace) -> Match | Stop | None:
        """The answer for ``target``, or None to ask the next source, or STOP to end the lookup (anonymous)."""

    def list_keys(self, trace: Trace) -> list[str]:
        """Keys (normal form) this source can answer, for ``list``; a source that answers anything names none."""
        return []

    def patterns(self, trace: Trace) -> list[str]:
        """Every entry as the kubelet's ``matchImages`` writes it (Docker Hub as ``docker.io``); by default the
        listed keys, less Docker Hub's web-login bookkeeping."""
        from ..address import match_key, parse_target

        targets = map(parse_target, self.list_keys(trace))
        return [match_key(target) for target in targets if not target.web_login_key]
