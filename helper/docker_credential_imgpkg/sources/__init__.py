"""Credential sources: one module each, behind one interface, walked in order by ``chain.Chain``.

A source answers ``get(target, trace)`` with a ``Match`` (credentials and what answered), ``None`` (no match:
ask the next source) or ``STOP`` (a matching entry says "anonymous": the lookup ends with not-found), and
``list_keys()`` with the keys it could answer (normal form, for ``list``).
"""

from __future__ import annotations

TYPE_CHECKING = False


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


class _Stop:
    def __repr__(self) -> str:
        return "STOP"


STOP = _Stop()

if TYPE_CHECKING:
    from typing import Protocol

    from ..address import Target
    from ..debug import Trace
    from ..protocol import Credentials

    class Source(Protocol):
        def get(self, target: Target, trace: Trace) -> Answer: ...

        def list_keys(self) -> list[str]: ...

    Answer = Match | _Stop | None
