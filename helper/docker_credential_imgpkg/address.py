"""Client addresses: one normal form for every spelling a client sends, and the store keys it maps to.

Every Docker Hub alias is handled here and nowhere else: ``docker.io``, ``index.docker.io``,
``registry-1.docker.io`` and ``https://index.docker.io/v1/`` are one registry, and a single-name Hub
repository is ``library/<name>``. Docker's web-login keys (``…/v1/access-token``, ``…/v1/refresh-token``)
are separate entries, kept and looked up verbatim, never folded into the Hub entry.

Everything here is linear in the length of the address: a 1 MiB address with 500,000 path segments is
parsed and looked up without ever building each of its prefixes.
"""

from __future__ import annotations

from .errors import HelperError

HUB_HOST = "index.docker.io"
HUB_KEY = "https://index.docker.io/v1/"
HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
HUB_DOMAIN = "docker.io"  # how image references (and the kubelet) name Docker Hub
WEB_LOGIN_KEYS = frozenset({HUB_KEY + "access-token", HUB_KEY + "refresh-token"})

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Collection


class Target:
    """A requested server address in normal form: lowercase ``host[:port]`` and repository path segments."""

    __slots__ = ("address", "host", "port", "segments", "web_login_key")

    def __init__(
        self, host: str, port: str, segments: tuple[str, ...], web_login_key: str = "", address: str = ""
    ) -> None:
        self.address = address  # as the client spelled it
        self.host = host  # lowercase, with ``:port`` when given; Hub is always HUB_HOST
        self.port = port  # "" when absent
        self.segments = segments  # repository path, no empty parts, leading v1/v2 dropped
        self.web_login_key = web_login_key  # Docker Hub's access/refresh-token key, verbatim; "" otherwise

    def __repr__(self) -> str:
        return f"Target({self.host!r}, {self.port!r}, {self.segments!r}, {self.web_login_key!r})"

    @property
    def path(self) -> str:
        return "/" + "/".join(self.segments) if self.segments else ""

    @property
    def host_key(self) -> str:
        """Store key of the registry itself (Hub: ``https://index.docker.io/v1/``)."""
        return HUB_KEY if self.host == HUB_HOST else self.host

    @property
    def key(self) -> str:
        """The one key every spelling of this address is stored under: ``host/ns/repo``, or the host's key."""
        if self.web_login_key:
            return self.web_login_key
        return self.host + self.path if self.segments else self.host_key

    def best_key(self, keys: Collection[str]) -> str | None:
        """The most specific of ``keys`` (normal form) that answers this address: its own key, then the nearest
        enclosing namespace (``host/ns``), then the registry's key."""
        if self.key in keys:
            return self.key
        if self.web_login_key or not self.segments:
            return None
        return self.enclosing_namespace(keys) or (self.host_key if self.host_key in keys else None)

    def enclosing_namespace(self, keys: Collection[str]) -> str | None:
        """The longest of ``keys`` that is a namespace (``host/ns``) above this repository. Linear in the size of
        ``keys``: ``startswith`` stops at the key's length, and no prefix of the address is ever built."""
        own = self.key
        best = ""
        if len(self.segments) > 1 and not self.web_login_key:
            for key in keys:
                if len(best) < len(key) < len(own) and own[len(key)] == "/" and own.startswith(key) and "/" in key:
                    best = key
        return best or None

    def namespaced_fallback(self, keys: Collection[str]) -> str | None:
        """For a bare-host request with no host entry: the first namespaced key of that host, as docker does."""
        if self.segments or self.web_login_key:
            return None
        prefix = self.host + "/"
        return min((k for k in keys if k.startswith(prefix)), default=None)


def split_port(host: str) -> tuple[str, str]:
    """Split ``host[:port]`` (IPv6 literals in brackets) into host and port ("" when absent)."""
    if host.startswith("["):
        end = host.find("]")
        if end != -1:
            rest = host[end + 1 :]
            return host[: end + 1], rest[1:] if rest.startswith(":") else ""
        return host, ""
    name, sep, port = host.rpartition(":")
    if sep and port.isdigit():
        return name, port
    return host, ""


def canonical_host(host: str) -> str:
    """Lowercase a ``host[:port]`` and fold the Docker Hub aliases into ``index.docker.io``."""
    host = host.lower()
    name, port = split_port(host)
    if name in HUB_ALIASES:
        return HUB_HOST + (":" + port if port else "")
    return host


def parse_target(address: str) -> Target:
    """Parse any spelling a client sends: scheme, ``/v1/``/``/v2/``, trailing ``/``, case, Hub aliases, repo path."""
    if address in WEB_LOGIN_KEYS:
        return Target(HUB_HOST, "", (), address, address)
    rest = address.strip()
    scheme, sep, after = rest.partition("://")
    if sep and scheme and "/" not in scheme:
        rest = after
    host, _, path = rest.partition("/")
    host = canonical_host(host)
    _, port = split_port(host)
    segments = [s for s in path.split("/") if s]
    if segments and segments[0] in ("v1", "v2"):
        segments = segments[1:]
    if host == HUB_HOST and len(segments) == 1:
        segments.insert(0, "library")
    return Target(host, port, tuple(segments), "", address)


def store_key(address: str) -> str:
    """The one key every spelling of a server is stored under."""
    return parse_target(address).key


def match_key(target: Target) -> str:
    """``target`` as the kubelet's ``matchImages`` writes a registry or repository (Docker Hub as ``docker.io``)."""
    name, port = split_port(target.host)
    return (HUB_DOMAIN if name == HUB_HOST else name) + (":" + port if port else "") + target.path


# --- image references (the kubelet's requests, explain's arguments) -----------------------------------------


class Image:
    """An image reference as the kubelet sends it, and the repository the chain is asked for."""

    __slots__ = ("address", "registry", "repository")

    def __init__(self, repository: str, registry: str, address: str) -> None:
        self.repository = repository  # as received, tag and digest removed: what the kubelet matches keys against
        self.registry = registry  # its registry part as received ("" for a Docker Hub short name)
        self.address = address  # host/path for Chain.lookup (Docker Hub spelled out, library/ added)


def parse_image(image: str) -> Image:
    """``host[:port]/path[:tag][@digest]`` or a Docker Hub short name, following the docker reference grammar:
    the first component is a registry only when more follow and it holds ``.`` or ``:``, is ``localhost``, or
    has capitals (a Docker Hub namespace never does)."""
    if not image:
        raise HelperError("the image reference is empty")
    if any(c <= " " or c == "\x7f" for c in image):
        raise HelperError(f"image {_quote(image)} is not an image reference (it holds spaces or controls)")
    name, at, digest = image.partition("@")
    if at and not digest:
        raise HelperError(f"image {_quote(image)} has an empty digest")
    slash, colon = name.rfind("/"), name.rfind(":")
    if colon > slash:
        name = name[:colon]  # the tag
    parts = name.split("/")
    if not all(parts) or "://" in image:
        raise HelperError(f"image {_quote(image)} is not an image reference")
    first = parts[0]
    if len(parts) > 1 and ("." in first or ":" in first or first == "localhost" or first != first.lower()):
        return Image(name, first, name)
    path = parts if len(parts) > 1 else ["library", *parts]
    return Image(name, "", HUB_DOMAIN + "/" + "/".join(path))


def _quote(text: str, limit: int = 200) -> str:
    """A value in a message: quoted, control characters escaped, long values cut."""
    return repr(text[:limit]) + ("..." if len(text) > limit else "")
