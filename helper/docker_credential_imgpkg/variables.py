"""Reading environment variables: our switches' truth values, and credential values as the UTF-8 text they
must be (Go clients read our answers as UTF-8, whatever the locale decoded the environment as)."""

from __future__ import annotations

import os

from .errors import HelperError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

TRUE_WORDS = frozenset({"1", "true", "yes"})


def env_flag(environ: Mapping[str, str], name: str) -> bool:
    """Our own boolean switches accept 1/true/yes in any case (imgpkg's keep imgpkg's exact rules)."""
    return environ.get(name, "").strip().lower() in TRUE_WORDS


def env_text(environ: Mapping[str, str], name: str) -> str:
    """A credential variable's value as UTF-8 text; an error naming the variable when it is not."""
    value = environ.get(name, "")
    if value.isascii():
        return value
    try:
        raw = os.fsencode(value)  # back to the bytes the environment held
    except UnicodeError:
        raise HelperError(f"{name} is not valid UTF-8; set it as UTF-8 text") from None
    return utf8_value(name, raw)


def utf8_value(name: str, raw: bytes) -> str:
    """A variable's bytes as UTF-8; an error naming the variable, never showing it, when they are not."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise HelperError(f"{name} is not valid UTF-8 (byte {err.start}); set it as UTF-8 text") from None
