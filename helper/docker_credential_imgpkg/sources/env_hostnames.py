"""imgpkg's ``IMGPKG_REGISTRY_HOSTNAME`` values: Go ``url.Parse`` rules (the same errors), per-label globs,
ports and path prefixes. Only the env source uses these; client addresses are ``address.py``'s job."""

from __future__ import annotations

from ..address import HUB_ALIASES, HUB_DOMAIN, HUB_HOST, Target, canonical_host, official_image, split_port
from ..errors import HelperError, shown, without_userinfo


class HostPattern:
    """A normalised ``IMGPKG_REGISTRY_HOSTNAME`` value: per-label ``*`` globs, exact port, path prefix."""

    __slots__ = ("host", "path", "port")

    def __init__(self, host: str, port: str, path: str) -> None:
        self.host = host  # lowercase, Hub aliases folded, without port
        self.port = port
        self.path = path  # "" or "/seg/seg" (no trailing slash)

    def __repr__(self) -> str:
        return f"HostPattern({self.host!r}, {self.port!r}, {self.path!r})"

    @property
    def key(self) -> str:
        """imgpkg's sort key: ``host[:port]`` + path."""
        return self.host + (":" + self.port if self.port else "") + self.path

    @property
    def match_key(self) -> str:
        """The entry as the kubelet's ``matchImages`` writes it (Docker Hub as ``docker.io``)."""
        host = HUB_DOMAIN if self.host == HUB_HOST else self.host
        return host + (":" + self.port if self.port else "") + self.path

    @property
    def official_path(self) -> str:
        """The path as Docker Hub's official-image rule reads it (``/ubuntu`` is ``/library/ubuntu``)."""
        return "/" + "/".join(official_image(self.path[1:].split("/"))) if self.path else ""

    @property
    def host_key(self) -> str:
        """``host[:port]`` without the path."""
        return self.host + (":" + self.port if self.port else "")

    def matches(self, target: Target) -> bool:
        return self.mismatch(target) is None

    def matches_host(self, target: Target) -> bool:
        """Whether the host, port and glob labels match, whatever the path."""
        return self.mismatch(target, ignore_path=True) is None

    def mismatch(self, target: Target, *, ignore_path: bool = False) -> str | None:
        """Why this entry does not answer ``target`` (None when it does), in words for ``explain``."""
        if not self.host:
            return "names no host"
        name, port = split_port(target.host)
        labels = name.split(".")
        globs = self.host.split(".")
        if "*" in self.host:
            if len(labels) != len(globs):
                return f"a glob matches one label per label: {len(globs)} labels here, {len(labels)} in {shown(name)}"
            if not all(_glob_label(g, lab) for g, lab in zip(globs, labels, strict=True)):
                return f"the glob does not match {shown(name)}"
        elif self.host != name:
            return f"another host ({self.host})"
        if port != self.port:
            return f"port {self.port or '(none)'} here, {port or '(none)'} asked"
        if ignore_path or not self.path or _path_under(target.path, self.path):
            return None
        # A single name on Docker Hub is also the official image library/<name> (docker.io/ubuntu).
        if name == HUB_HOST and _path_under(target.path, self.official_path):
            return None
        if not target.segments:
            return f"scoped to the repository path {self.path}; the client sent only the host"
        return f"scoped to the repository path {self.path}, which does not contain {shown(target.path)}"


def _path_under(path: str, prefix: str) -> bool:
    """``prefix`` matches ``path`` at a ``/`` boundary only (``/proj`` is not a prefix of ``/project-x``)."""
    return path == prefix or path.startswith(prefix + "/")


def _glob_label(glob: str, label: str) -> bool:
    """``filepath.Match`` restricted to ``*`` (imgpkg's ``?`` and ``[`` cannot survive URL parsing)."""
    if "*" not in glob:
        return glob == label
    parts = glob.split("*")
    first, last = parts[0], parts[-1]
    if len(label) < len(first) + len(last) or not label.startswith(first) or not label.endswith(last):
        return False
    pos, end = len(first), len(label) - len(last)
    for middle in parts[1:-1]:
        found = label.find(middle, pos, end)
        if found == -1:
            return False
        pos = found + len(middle)
    return True


def parse_host_pattern(value: str) -> HostPattern:
    """Normalise an ``IMGPKG_REGISTRY_HOSTNAME`` value as imgpkg does, with our documented improvements.

    Like imgpkg: ``https://`` is assumed, the value is parsed with Go's ``url.Parse`` rules (same errors),
    the query is dropped and a leading ``/v1/`` or ``/v2/`` is cut. Improvements: the scheme and host are
    case-insensitive, Hub aliases are one host, and a trailing ``/`` does not change the entry.
    """
    lowered = value[:8].lower()
    if lowered.startswith("https://"):
        url = "https://" + value[8:]
    elif lowered.startswith("http://"):
        url = "http://" + value[7:]
    else:
        url = "https://" + value
    try:
        host, path = _split_plain_url(url) or _go_parse_url(url)
    except ValueError as err:
        raise HelperError(
            f"Parsing registry hostname: parse {_go_quote(without_userinfo(url))}: {err} (e.g. gcr.io, index.docker.io)"
        ) from None
    if path.startswith(("/v2/", "/v1/")):
        path = path[3:]
    path = "/" + "/".join(s for s in path.split("/") if s) if path.strip("/") else ""
    host = canonical_host(host)
    name, port = split_port(host)
    return HostPattern(name, port, path)


_HOST_PUNCTUATION = frozenset("-_.~!$&'()*+,;=:[]<>\"")
_PLAIN_URL = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_:/*")


def quick_host(value: str) -> str | None:
    """The lowercase ``host[:port]`` of a plain HOSTNAME value (Hub folded), or None for anything unusual.

    Lets a thousand HOSTNAME variables be indexed without fully parsing each one; the full parse
    (``parse_host_pattern``) agrees on every value this accepts.
    """
    lowered = value[:8].lower()
    rest = value[8:] if lowered.startswith("https://") else value[7:] if lowered.startswith("http://") else value
    if not _PLAIN_URL.issuperset(rest):
        return None
    host = rest.partition("/")[0].lower()
    name, colon, port = host.rpartition(":")
    if not colon:
        return HUB_HOST if host in HUB_ALIASES else host
    if not port.isdigit():
        return None
    return HUB_HOST + colon + port if name in HUB_ALIASES else host


def _split_plain_url(url: str) -> tuple[str, str] | None:
    """Fast path for the common case (letters, digits, ``.-_:/*``), where Go's parser could only fail on the port.

    Checked with one C-level set test, so a thousand HOSTNAME variables cost little; None means "use the
    full parser" (which also produces Go's exact error messages).
    """
    rest = url.split("://", 1)[1]
    if not _PLAIN_URL.issuperset(rest):
        return None
    host, slash, path = rest.partition("/")
    if ":" in host and not host.rpartition(":")[2].isdigit() and not host.endswith(":"):
        return None
    return host, slash + path


def _go_parse_url(url: str) -> tuple[str, str]:
    """The host and path Go's ``url.Parse`` yields for ``scheme://…``; ValueError carries Go's message."""
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        raise ValueError("net/url: invalid control character in URL")
    url, _, fragment = url.partition("#")
    _unescape(fragment, host=False)
    rest = url.split("://", 1)[1]
    rest = rest.partition("?")[0]
    authority, slash, path = rest.partition("/")
    path = slash + path
    userinfo, at, host = authority.rpartition("@")
    if at and any(not (c.isalnum() or c in "-._:~!$&'()*+,;=%@") for c in userinfo):
        raise ValueError("net/url: invalid userinfo")
    if host.startswith("["):
        end = host.rfind("]")
        if end == -1:
            raise ValueError("missing ']' in host")
        colon_port = host[end + 1 :]
        _check_port(colon_port)
        host = _unescape(host[: end + 1], host=True) + colon_port
    else:
        colon = host.rfind(":")
        if colon != -1:
            _check_port(host[colon:])
        host = _unescape(host, host=True)
    return host, _unescape(path, host=False)


def _check_port(colon_port: str) -> None:
    if colon_port and (colon_port[0] != ":" or not all(c.isdigit() and c.isascii() for c in colon_port[1:])):
        raise ValueError(f"invalid port {_go_quote(colon_port)} after host")


def _unescape(text: str, *, host: bool) -> str:
    out = bytearray()
    i = 0
    while i < len(text):
        c = text[i]
        if c == "%":
            code = text[i + 1 : i + 3]
            if len(code) < 2 or any(h not in "0123456789abcdefABCDEF" for h in code):
                raise ValueError(f"invalid URL escape {_go_quote(text[i : i + 3])}")
            if host and int(code[0], 16) < 8 and code != "25":
                raise ValueError(f"invalid URL escape {_go_quote(text[i : i + 3])}")
            out.append(int(code, 16))
            i += 3
            continue
        if host and ord(c) < 0x80 and not c.isalnum() and c not in _HOST_PUNCTUATION:
            raise ValueError(f"invalid character {_go_quote(c)} in host name")
        out += c.encode("utf-8", "surrogateescape")
        i += 1
    return out.decode("utf-8", "replace")


def _go_quote(text: str) -> str:
    """Go's ``%q`` for the strings that reach our messages."""
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'
