"""The docker-credential-helper wire format: decoding ``store`` input, encoding ``get``/``list`` answers, and
every fixed string of the protocol (not-found, the missing-field errors, the identity-token username).

Encoding avoids the ``json`` module so that a ``get`` answered from the environment imports nothing heavy
(start-up is what clients pay for, once per registry).
"""

from __future__ import annotations

from .errors import HelperError

TOKEN_USERNAME = "<token>"  # Username that marks Secret as an identity (OAuth2 refresh) token
NOT_FOUND_MESSAGE = "credentials not found in native keychain"  # the exact text Go clients and docker-py test for
NO_SERVER_URL = "no credentials server URL"
NO_USERNAME = "no credentials username"
MAX_INPUT_BYTES = 1 << 20


class NotFound(HelperError):
    """No credentials for the requested server: the protocol's not-found answer."""

    def __init__(self) -> None:
        super().__init__(NOT_FOUND_MESSAGE)


class Credentials:
    """One answer: what ``get`` prints and ``store`` keeps. (No dataclass: it would import ``inspect``.)"""

    __slots__ = ("secret", "server_url", "username")

    def __init__(self, server_url: str, username: str, secret: str) -> None:
        self.server_url = server_url
        self.username = username
        self.secret = secret

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Credentials):
            return NotImplemented
        return (self.server_url, self.username, self.secret) == (other.server_url, other.username, other.secret)

    __hash__ = None  # type: ignore[assignment]  # a mutable value: unhashable, as dataclass(eq=True) makes it

    def with_server(self, server_url: str) -> Credentials:
        return Credentials(server_url, self.username, self.secret)

    @property
    def is_identity_token(self) -> bool:
        return self.username == TOKEN_USERNAME

    def __repr__(self) -> str:  # never let a secret reach a traceback or a debug line
        return f"Credentials(server_url={self.server_url!r}, username={self.username!r}, secret='***')"


_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}
_ESCAPE_TABLE: dict[int, str] = {}


def _json_string(value: str) -> str:
    """JSON-encode a string without importing ``json`` (output parses identically). Linear and C-speed: a
    1 MiB address is one ``isprintable`` scan, or one ``translate`` when something needs escaping."""
    if value.isprintable() and '"' not in value and "\\" not in value:
        return '"' + value + '"'  # no control character, U+2028/U+2029 or surrogate (none is printable)
    if not _ESCAPE_TABLE:
        for code in [*range(0x20), 0x2028, 0x2029, *range(0xD800, 0xE000)]:
            _ESCAPE_TABLE[code] = f"\\u{code:04x}"
        _ESCAPE_TABLE.update((ord(ch), esc) for ch, esc in _ESCAPES.items())
    return '"' + value.translate(_ESCAPE_TABLE) + '"'


def encode_get(creds: Credentials) -> str:
    return (
        '{"ServerURL":'
        + _json_string(creds.server_url)
        + ',"Username":'
        + _json_string(creds.username)
        + ',"Secret":'
        + _json_string(creds.secret)
        + "}\n"
    )


def encode_list(entries: dict[str, str]) -> str:
    body = ",".join(_json_string(k) + ":" + _json_string(entries[k]) for k in sorted(entries))
    return "{" + body + "}\n"


def decode_server_url(data: bytes) -> str:
    """``get``/``erase`` input: all of stdin, line breaks dropped as Go's Scanner does, whitespace trimmed."""
    text = _utf8(data).replace("\r\n", "").replace("\n", "").strip()
    if not text:
        raise HelperError(NO_SERVER_URL)
    return text


_STORE_FIELDS = {"serverurl": "ServerURL", "username": "Username", "secret": "Secret"}


class _Members(list[tuple[str, object]]):
    """A JSON object as its members in document order, repeated names kept: what Go's decoder walks."""


def decode_store(data: bytes) -> Credentials:
    """``store`` input: one JSON object, decoded by Go's ``encoding/json`` rules (what docker's helpers use):
    member names match a field case-insensitively, each member in turn, so a repeated name (in any case) is
    the LAST one's value; ``null`` leaves a field as it was; any member of the wrong type is an error."""
    import json

    text = _utf8(data)
    if not text.strip():
        raise HelperError("store: empty input, expected a JSON object with ServerURL, Username and Secret")
    from .safe_files import too_deep, too_deep_message

    try:
        obj = json.loads(text, object_pairs_hook=_Members)
        deep = too_deep(obj)
    except RecursionError:  # where that falls depends on the Python: refused in the same words either way
        deep = True
    except json.JSONDecodeError as err:
        # json's message carries a position, never the input itself.
        where = f"line {err.lineno} column {err.colno}"
        raise HelperError(f"store: input is not valid JSON ({err.msg} at {where})") from None
    if deep:
        raise HelperError(f"store: input {too_deep_message()}")
    if not isinstance(obj, _Members):
        raise HelperError(f"store: expected a JSON object, got {_json_type(obj)}")
    fields: dict[str, str] = {}
    for key, value in obj:
        # Go folds case by Unicode simple folding ("ſecret" is Secret too); casefold agrees on these three names.
        name = _STORE_FIELDS.get(key.casefold()) if len(key) <= 16 else None
        if name is None or value is None:
            continue
        if not isinstance(value, str):
            raise HelperError(f"store: field {name} must be a string, got {_json_type(value)}")
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise HelperError(f"store: field {name} holds an invalid \\u escape (lone surrogate)") from None
        fields[name] = value
    server = fields.get("ServerURL", "").strip()
    if not server:
        raise HelperError(NO_SERVER_URL)
    username = fields.get("Username", "")
    if not username:
        raise HelperError(NO_USERNAME)
    return Credentials(server, username, fields.get("Secret", ""))


def _utf8(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise HelperError(f"input is not valid UTF-8 (byte {err.start})") from None


def _json_type(value: object) -> str:
    kinds = {_Members: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number"}
    return kinds.get(type(value), "null")
