"""``store`` and ``erase``: what ``docker login``/``logout`` do through the helper."""

from __future__ import annotations

from .address import parse_target, store_key
from .backends import select_backend
from .errors import HelperError
from .protocol import Credentials
from .settings import env_flag

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping


def _trace(environ: Mapping[str, str], message: str) -> None:
    if env_flag(environ, "DOCKER_CREDENTIAL_IMGPKG_DEBUG"):
        import sys

        print(f"docker-credential-imgpkg: debug: {message}", file=sys.stderr)


def store(environ: Mapping[str, str], creds: Credentials) -> None:
    """Keep ``creds`` under the normal form of its server address (one entry for every spelling)."""
    key = store_key(creds.server_url)
    if not parse_target(creds.server_url).host:
        raise HelperError(f"store: server URL {creds.server_url!r} names no registry host")
    backend = select_backend(environ)
    backend.add(Credentials(key, creds.username, creds.secret))
    readonly = env_flag(environ, "DOCKER_CREDENTIAL_IMGPKG_READONLY")
    _trace(
        environ,
        f"store {creds.server_url!r} as {key!r} (username {creds.username!r}, secret ***)"
        + ("; read-only mode: nothing persisted" if readonly else ""),
    )


def erase(environ: Mapping[str, str], address: str) -> None:
    """Remove exactly the entry for ``address`` (never a fallback); absent is success."""
    key = store_key(address)
    removed = select_backend(environ).delete(key)
    _trace(environ, f"erase {address!r}: entry {key!r} " + ("removed" if removed else "not present (nothing to do)"))
