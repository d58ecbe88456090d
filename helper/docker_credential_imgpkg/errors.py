"""The exceptions a command ends in, and what their messages may show of a value a user or a file gave us.

``stdio`` turns an exception into an exit status and a message on the channel the command's protocol defines.
No secret may ever be put into a message: callers pass names, paths and addresses, and show any value through
``shown``: never a password written as URL user-info (``https://user:pass@reg``), never a raw control
character, lone surrogate or undecodable byte, never a megabyte. The debug trace, ``explain`` and ``configure``
use the same rule. (One module with the exceptions: a lookup imports it anyway, and start-up is what clients
pay for.)
"""

from __future__ import annotations


class HelperError(Exception):
    """A failure reported to the user: ``str(err)`` is the whole message; exit status 1."""


class UsageError(HelperError):
    """The command line itself is wrong: exit status 2."""


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
