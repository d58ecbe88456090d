"""Another credential helper's answers: the JSON that ``get`` and ``list`` print, and its not-found.

Every helper answers with a flat JSON object of strings. Decoding that here saves importing ``json``
(~2 ms of start-up, paid on every delegated or backend lookup); anything else goes to ``json``, so the
result is always exactly ``json.loads``'s.
"""

from __future__ import annotations

from .errors import NOT_FOUND_MESSAGE, HelperError


def says_not_found(stdout: str) -> bool:
    """Whether a failed run's stdout is the protocol's not-found (the only output of another helper we read
    on failure)."""
    return stdout.strip() == NOT_FOUND_MESSAGE


def credentials_answer(text: str, who: str) -> tuple[str, str] | None:
    """(Username, Secret) from a ``get`` answer; None when both are empty (Debian's docker-credential-pass
    0.6.4 and env-driven helpers say "not found" that way, with exit 0)."""
    try:
        answer = json_object(text)
        username, secret = answer.get("Username") or "", answer.get("Secret") or ""  # type: ignore[union-attr]
        if not isinstance(username, str) or not isinstance(secret, str):
            raise TypeError
    except (ValueError, AttributeError, TypeError, RecursionError):
        raise HelperError(f"{who} answered something that is not credential JSON") from None
    if not username and not secret:
        return None
    return username, secret


_WHITESPACE = " \t\n\r"
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_HEX = frozenset("0123456789abcdefABCDEF")


def json_object(text: str) -> object:
    """``json.loads(text)``, quickly when ``text`` is an object whose values are all strings."""
    found = _string_object(text)
    if found is not None:
        return found
    import json

    return json.loads(text)


def _string_object(text: str) -> dict[str, str] | None:
    """The object's members, or None unless ``text`` is exactly one JSON object with only string values."""
    i = _skip(text, 0)
    if text[i : i + 1] != "{":
        return None
    members: dict[str, str] = {}
    i = _skip(text, i + 1)
    if text[i : i + 1] == "}":
        return members if not text[i + 1 :].strip(_WHITESPACE) else None
    while True:
        key, i = _string(text, i)
        if key is None:
            return None
        i = _skip(text, i)
        if text[i : i + 1] != ":":
            return None
        value, i = _string(text, _skip(text, i + 1))
        if value is None:
            return None
        members[key] = value
        i = _skip(text, i)
        if text[i : i + 1] == ",":
            i = _skip(text, i + 1)
            continue
        if text[i : i + 1] == "}" and not text[i + 1 :].strip(_WHITESPACE):
            return members
        return None


def _skip(text: str, i: int) -> int:
    while i < len(text) and text[i] in _WHITESPACE:
        i += 1
    return i


def _string(text: str, i: int) -> tuple[str | None, int]:
    """The JSON string starting at ``text[i]`` and the index after it; None for anything unusual (control
    characters, bad escapes, surrogates: json decides those)."""
    if text[i : i + 1] != '"':
        return None, i
    parts = []
    i += 1
    while True:
        quote = text.find('"', i)
        if quote < 0:
            return None, i
        slash = text.find("\\", i, quote)
        end = quote if slash < 0 else slash
        chunk = text[i:end]
        if any(c < " " for c in chunk):
            return None, i
        parts.append(chunk)
        if slash < 0:
            value = "".join(parts)
            if any("\ud800" <= c <= "\udfff" for c in value):
                return None, i
            return value, quote + 1
        code = text[slash + 1 : slash + 2]
        if code == "u":
            digits = text[slash + 2 : slash + 6]
            if len(digits) != 4 or not set(digits) <= _HEX:
                return None, i
            parts.append(chr(int(digits, 16)))
            i = slash + 6
        elif code in _ESCAPES:
            parts.append(_ESCAPES[code])
            i = slash + 2
        else:
            return None, i
