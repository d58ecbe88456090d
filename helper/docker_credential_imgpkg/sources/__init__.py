"""Credential sources: one module each, behind one interface, walked in order by ``chain.Chain``.

A source answers ``get(target, trace)`` with credentials, ``None`` (no match: ask the next source) or
``STOP`` (a matching entry says "anonymous": the lookup ends with not-found), and ``list_keys()`` with
the keys it could answer (normal form, for ``list``).
"""

from __future__ import annotations

TYPE_CHECKING = False


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

    Answer = Credentials | _Stop | None
