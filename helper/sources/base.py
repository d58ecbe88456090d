"""What every source answers: credentials, ``None`` (no match: ask the next source) or ``STOP`` (anonymous)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from ..protocol import Credentials


class _Stop:
    """A matching source says "anonymous": the lookup ends with not-found, later sources are not asked."""

    def __repr__(self) -> str:
        return "STOP"


STOP: Final = _Stop()
Answer = Credentials | _Stop | None
Trace = Callable[[str], None]
