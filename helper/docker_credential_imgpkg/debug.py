"""The debug trace (``DOCKER_CREDENTIAL_IMGPKG_DEBUG=1``): one line per decision, on stderr, secrets never.

Callers show values through ``errors.shown``; as a second line of defence every word of a line that holds
an ``@`` has its URL user-info masked before it is printed or recorded.
"""

from __future__ import annotations

import sys

from . import PROGRAM

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

DEBUG_VAR = "DOCKER_CREDENTIAL_IMGPKG_DEBUG"


class Trace:
    """Callable that prints a debug line when enabled. Falsy when disabled, so a caller can skip building a
    costly message: ``if trace: trace(...)``."""

    __slots__ = ("enabled",)

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> Trace:
        from .variables import env_flag

        return cls(env_flag(environ, DEBUG_VAR))

    def __bool__(self) -> bool:
        return self.enabled

    def __call__(self, message: str) -> None:
        if self.enabled:
            self.emit(_masked(message))

    def emit(self, line: str) -> None:
        print(f"{PROGRAM}: debug: {line}", file=sys.stderr)


class Recorder(Trace):
    """A trace that keeps its lines (for ``explain``'s report) instead of printing them."""

    __slots__ = ("lines",)

    def __init__(self) -> None:
        super().__init__(True)
        self.lines: list[str] = []

    def emit(self, line: str) -> None:
        self.lines.append(line)


def _masked(message: str) -> str:
    if "@" not in message:
        return message
    from .errors import without_userinfo

    return " ".join(without_userinfo(word) if "@" in word else word for word in message.split(" "))
