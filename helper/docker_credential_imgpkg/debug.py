"""The debug trace (``DOCKER_CREDENTIAL_IMGPKG_DEBUG=1``): one line per decision, on stderr, secrets never."""

from __future__ import annotations

import sys

from . import PROGRAM

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping


class Trace:
    """Callable that prints a debug line when enabled. Falsy when disabled, so a caller can skip building a
    costly message: ``if trace: trace(...)``."""

    __slots__ = ("enabled",)

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> Trace:
        from .settings import env_flag

        return cls(env_flag(environ, "DOCKER_CREDENTIAL_IMGPKG_DEBUG"))

    def __bool__(self) -> bool:
        return self.enabled

    def __call__(self, message: str) -> None:
        if self.enabled:
            print(f"{PROGRAM}: debug: {message}", file=sys.stderr)
