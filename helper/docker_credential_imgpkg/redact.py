"""What a message may show of a value a user or a file gave us: never a password written as URL user-info
(``https://user:pass@reg``), never a raw control character, lone surrogate or undecodable byte, never a
megabyte. The one home of that rule: the debug trace, ``explain``, ``configure`` and every error use it."""

from __future__ import annotations

MASK = "***"


def without_userinfo(text: str) -> str:
    """``text`` with the user-info of a URL or ``user:pass@host`` form masked (``https://***@reg/path``).

    The user-info is what precedes the last ``@`` of the authority (up to the first ``/``, ``?`` or ``#``);
    a password with a raw ``/`` (``user:pa/ss@reg``) is masked too: after a ``user:…`` authority, the first
    later ``@`` ends it. Linear in ``text``; text without ``@`` comes back unchanged.
    """
    if "@" not in text:
        return text
    scheme, sep, rest = text.partition("://")
    if not sep or "/" in scheme:
        scheme, sep, rest = "", "", text
    end = len(rest)
    for mark in "/?#":
        found = rest.find(mark, 0, end)
        if found != -1:
            end = found
    at = rest.rfind("@", 0, end)
    if at == -1:
        _, colon, after = rest[:end].partition(":")
        if not colon or after.isdigit() or not after:
            return text  # host:port/…@digest: no user-info
        at = rest.find("@", end)
        if at == -1:
            return text
    return scheme + sep + MASK + rest[at:]


def shown(value: str, limit: int = 200) -> str:
    """``value`` for a message: user-info masked, quoted with every control character, lone surrogate and
    non-ASCII-printable character escaped (``repr``), cut after ``limit`` characters."""
    masked = without_userinfo(value)
    return repr(masked[:limit]) + ("..." if len(masked) > limit else "")


def shown_plain(value: str, limit: int = 200) -> str:
    """``shown`` without the quotes, for values already set apart in a sentence (``reg.example.com: …``)."""
    quoted = shown(value, limit)
    cut = quoted.endswith("...")
    inner = quoted[1:-4] if cut else quoted[1:-1]
    return inner + ("..." if cut else "")
