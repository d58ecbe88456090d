"""imgpkg's global credentials: ``IMGPKG_USERNAME``/``IMGPKG_PASSWORD``, ``IMGPKG_TOKEN``, ``IMGPKG_ANON``.

They apply to every registry asked, exactly as in imgpkg (see the README's warning).
"""

from __future__ import annotations

from ..address import match_key
from ..errors import HelperError
from ..protocol import Credentials
from ..variables import env_text
from . import STOP, Match, Source

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from ..address import Target
    from ..debug import Trace
    from . import Stop


class GlobalSource(Source):
    name = "globals"

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self.username = environ.get("IMGPKG_USERNAME", "")
        self.password = environ.get("IMGPKG_PASSWORD", "")
        self.token = environ.get("IMGPKG_TOKEN", "")
        self.anonymous = environ.get("IMGPKG_ANON", "") == "true"  # imgpkg: exactly "true"

    def get(self, target: Target, trace: Trace) -> Match | Stop | None:
        if self.username:
            trace(f"globals: IMGPKG_USERNAME set (username {self.username!r}, secret ***), applies to every registry")
            username, password = env_text(self.environ, "IMGPKG_USERNAME"), env_text(self.environ, "IMGPKG_PASSWORD")
            creds = Credentials(target.key, username, password)
            return Match(creds, "globals", "IMGPKG_USERNAME", match_key(target))
        if self.token:
            raise HelperError(
                "IMGPKG_TOKEN is a registry (bearer) token, which the credential-helper protocol cannot carry; "
                "set IMGPKG_USERNAME/IMGPKG_PASSWORD, or per-registry IMGPKG_REGISTRY_* variables, instead"
            )
        if self.anonymous:
            trace("globals: IMGPKG_ANON=true: anonymous, the store and docker config are not consulted")
            return STOP
        if self.password:
            trace("globals: IMGPKG_PASSWORD is set without IMGPKG_USERNAME: ignored")
        return None
