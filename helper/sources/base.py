"""What every source answers: credentials, ``None`` (no match: ask the next source) or ``STOP`` (anonymous)."""

from __future__ import annotations

from ..protocol import Credentials

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable


class _Stop:
    """A matching source says "anonymous": the lookup ends with not-found, later sources are not asked."""

    def __repr__(self) -> str:
        return "STOP"


STOP = _Stop()
if TYPE_CHECKING:
    Answer = Credentials | _Stop | None
    Trace = Callable[[str], None]
