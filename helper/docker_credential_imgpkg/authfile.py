"""Docker's ``config.json`` ``auths`` format, shared by the helper's own store and the docker config source.

Only the entry that answers is decoded, so a bad entry elsewhere never breaks a lookup.
"""

from __future__ import annotations

import binascii

from .address import KeyIndex, store_key
from .errors import HelperError
from .protocol import TOKEN_USERNAME, Credentials

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .address import Target


def _field(entry: dict[str, object], name: str, where: str) -> str:
    """A string field, matched case-insensitively as Go's encoding/json does."""
    value = entry.get(name)
    if value is None:
        for key, val in entry.items():
            if key.lower() == name:
                value = val
                break
    if value is None:
        return ""
    if not isinstance(value, str):
        raise HelperError(f"{where}: field {name!r} must be a string")
    return value


_BASE64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def strict_base64(text: str) -> bytes:
    """Standard padded base64, strictly: only the alphabet, whole quanta, padding only at the end and only as much
    as the last quantum needs. That is Python 3.11's ``a2b_base64(strict_mode=True)`` (which 3.10 lacks), and one
    rule stricter, as Go's decoder is: no ``=`` after a complete quantum. binascii.Error (a ValueError) or
    UnicodeError (non-ASCII) otherwise."""
    data = text.encode("ascii")
    body = data.rstrip(b"=")
    padding = len(data) - len(body)
    if len(data) % 4 or padding > 2 or body.translate(None, _BASE64_ALPHABET) or (padding and len(body) % 4 == 0):
        raise binascii.Error("not strict base64")
    return binascii.a2b_base64(data)


def decode_entry(server_url: str, entry: object, where: str) -> Credentials | None:
    """Credentials from one ``auths`` entry; None for a ``{}`` placeholder (credentials live in a helper).

    ``where`` names the file and key for messages; it never contains a secret.
    """
    if not isinstance(entry, dict):
        raise HelperError(f"{where}: entry must be a JSON object")
    identity = _field(entry, "identitytoken", where)
    if identity:
        return Credentials(server_url, TOKEN_USERNAME, identity)
    auth = _field(entry, "auth", where)
    if auth:
        try:
            decoded = strict_base64(auth).decode("utf-8")
        except (binascii.Error, ValueError, UnicodeError):
            raise HelperError(f'{where}: "auth" is not valid base64 of UTF-8 "user:password"') from None
        username, sep, password = decoded.partition(":")
        if not sep or not username:
            raise HelperError(f'{where}: "auth" does not decode to "user:password"')
        return Credentials(server_url, username, password.strip("\x00"))
    username = _field(entry, "username", where)
    if username:
        return Credentials(server_url, username, _field(entry, "password", where))
    if _field(entry, "registrytoken", where):
        raise HelperError(
            f"{where}: entry holds only a registry (bearer) token, which the credential-helper protocol "
            "cannot carry; store a username/password or an identity token for it instead"
        )
    return None


def encode_entry(creds: Credentials) -> dict[str, str]:
    if creds.is_identity_token:
        return {"identitytoken": creds.secret}
    if ":" in creds.username:
        raise HelperError("store: a username containing ':' cannot be stored in docker's \"auth\" field")
    raw = (creds.username + ":" + creds.secret).encode("utf-8")
    return {"auth": binascii.b2a_base64(raw, newline=False).decode("ascii")}


class AuthIndex:
    """Lookup over an ``auths`` map whose keys may be spelled any way (docker config.json)."""

    def __init__(self, auths: dict[str, object]) -> None:
        self.auths = auths
        self._normal: dict[str, str] = {}
        for key in sorted(auths):
            self._normal.setdefault(store_key(key), key)
        self._index = KeyIndex(self._normal)

    def find(self, target: Target) -> str | None:
        """The raw key that answers ``target``: its exact spelling first, then normal-form keys, most specific
        first, then docker's namespaced fallback for a bare host."""
        if target.address in self.auths:
            return target.address
        key = target.key if target.key in self._normal else self._index.fallback_key(target)
        return self._normal.get(key) if key else None

    def normal_keys(self) -> dict[str, str]:
        """Normal-form key → raw key, for ``list``."""
        return dict(self._normal)
