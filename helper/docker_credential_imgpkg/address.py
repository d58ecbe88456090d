"""Client addresses: one normal form for every spelling a client sends, and the store keys it maps to.

Every Docker Hub alias is handled here and nowhere else: ``docker.io``, ``index.docker.io``,
``registry-1.docker.io`` and ``https://index.docker.io/v1/`` are one registry, and a single-name Hub
repository is ``library/<name>``. Docker's web-login keys (``…/v1/access-token``, ``…/v1/refresh-token``)
are separate entries, kept and looked up verbatim, never folded into the Hub entry.

Everything here is linear in the length of the address: a 1 MiB address with 500,000 path segments is
parsed and looked up without ever building each of its prefixes.
"""

from __future__ import annotations

from .errors import HelperError, shown

HUB_HOST = "index.docker.io"
HUB_KEY = "https://index.docker.io/v1/"  # what docker stores and looks up for Docker Hub
HUB_DOMAIN = "docker.io"  # how image references, containers/image and the kubelet name Docker Hub
HUB_ALIASES = frozenset({HUB_DOMAIN, HUB_HOST, "registry-1.docker.io"})
HUB_KEYS = (HUB_KEY, HUB_DOMAIN)  # a credHelpers entry for Hub needs both: docker's key, then containers'
WEB_LOGIN_KEYS = frozenset({HUB_KEY + "access-token", HUB_KEY + "refresh-token"})
OFFICIAL_NAMESPACE = "library"

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Collection, Sequence


class Target:
    """A requested server address in normal form: lowercase ``host[:port]`` and repository path segments."""

    __slots__ = ("address", "host", "segments", "web_login_key")

    def __init__(self, host: str, segments: tuple[str, ...], web_login_key: str = "", address: str = "") -> None:
        self.address = address  # as the client spelled it
        self.host = host  # lowercase, with ``:port`` when given; Hub is always HUB_HOST
        self.segments = segments  # repository path, no empty parts, leading v1/v2 dropped
        self.web_login_key = web_login_key  # Docker Hub's access/refresh-token key, verbatim; "" otherwise

    def __repr__(self) -> str:
        return f"Target({self.host!r}, {self.segments!r}, {self.web_login_key!r})"

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


class KeyIndex:
    """Stored keys (normal form) indexed for the lookups a store or an ``auths`` map makes: a repository's own key,
    its nearest enclosing namespace (``host/ns``), the registry's key, and docker's namespaced fallback.

    Every lookup is linear in the address and in its own registry's keys, never in their product: namespaces
    are grouped by registry and by length, so only lengths some key has are tried as ``/`` boundaries, and no
    prefix of the address is ever built. (``list`` asks about every key: it must not rescan the store for each.)
    """

    __slots__ = ("_hosts", "keys")

    def __init__(self, keys: Collection[str]) -> None:
        self.keys = keys
        self._hosts: dict[str, _Namespaces] = {}
        for key in keys:
            host, slash, _ = key.partition("/")
            if slash and "://" not in key:  # "host/ns…"; Hub's "https://index.docker.io/v1/…" keys are verbatim
                found = self._hosts.get(host)
                if found is None:
                    found = self._hosts[host] = _Namespaces()
                found.add(key)

    def fallback_key(self, target: Target) -> str | None:
        """Where a lookup goes when ``target``'s own key is absent: for a repository, the nearest enclosing
        namespace, else the registry's key (which may be absent too); for a bare host, docker's namespaced
        fallback. Web-login keys have none. The one cascade the store and docker's ``auths`` share."""
        if target.web_login_key:
            return None
        if target.segments:
            return self.enclosing_namespace(target) or target.host_key
        return self.namespaced_fallback(target)

    def enclosing_namespace(self, target: Target) -> str | None:
        """The longest key that is a namespace strictly above ``target``'s repository."""
        found = self._hosts.get(target.host)
        if found is None or len(target.segments) < 2 or target.web_login_key:
            return None
        return found.enclosing(target.key)

    def namespaced_fallback(self, target: Target) -> str | None:
        """For a bare-host request with no host entry: the first namespaced key of that host, as docker does."""
        found = self._hosts.get(target.host)
        if found is None or target.segments or target.web_login_key:
            return None
        return found.first


class _Namespaces:
    """One registry's namespaced keys by length, and the first of them in sort order."""

    __slots__ = ("_lengths", "by_length", "first")

    def __init__(self) -> None:
        self.by_length: dict[int, set[str]] = {}
        self.first = ""
        self._lengths: list[int] | None = None

    def add(self, key: str) -> None:
        self.by_length.setdefault(len(key), set()).add(key)
        self._lengths = None
        if not self.first or key < self.first:
            self.first = key

    def enclosing(self, own: str) -> str | None:
        if self._lengths is None:
            self._lengths = sorted(self.by_length, reverse=True)
        for size in self._lengths:
            if size < len(own) and own[size] == "/" and own[:size] in self.by_length[size]:
                return own[:size]
        return None


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
        return Target(HUB_HOST, (), address, address)
    rest = address.strip()
    scheme, sep, after = rest.partition("://")
    if sep and scheme and "/" not in scheme:
        rest = after
    host, _, path = rest.partition("/")
    host = canonical_host(host.rpartition("@")[2])  # user-info is no part of a registry's name
    segments = [s for s in path.split("/") if s]
    if segments and segments[0] in ("v1", "v2"):
        segments = segments[1:]
    if host == HUB_HOST:
        segments = official_image(segments)
    return Target(host, tuple(segments), "", address)


def official_image(segments: Sequence[str]) -> list[str]:
    """Docker Hub's rule, the one place it is written: a single-name repository is the official image
    ``library/<name>`` (``docker.io/nginx`` is ``docker.io/library/nginx``)."""
    return [OFFICIAL_NAMESPACE, *segments] if len(segments) == 1 else list(segments)


def docker_helper_key(host: str) -> str:
    """The ``credHelpers`` key the docker CLI looks up for a registry (``host[:port]`` in normal form)."""
    return HUB_KEY if host == HUB_HOST else host


def containers_helper_key(host: str) -> str:
    """The ``credHelpers`` key skopeo, podman and buildah (containers/image) look up for a registry."""
    return HUB_DOMAIN if host == HUB_HOST else host


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
        raise HelperError(f"image {shown(image)} is not an image reference (it holds spaces or controls)")
    name, at, digest = image.partition("@")
    if at and not digest:
        raise HelperError(f"image {shown(image)} has an empty digest")
    slash, colon = name.rfind("/"), name.rfind(":")
    if colon > slash:
        name = name[:colon]  # the tag
    parts = name.split("/")
    if not all(parts) or "://" in image:
        raise HelperError(f"image {shown(image)} is not an image reference")
    first = parts[0]
    if len(parts) > 1 and ("." in first or ":" in first or first == "localhost" or first != first.lower()):
        return Image(name, first, name)
    return Image(name, "", HUB_DOMAIN + "/" + "/".join(official_image(parts)))
