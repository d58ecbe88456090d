"""The helper's own switches (``DOCKER_CREDENTIAL_IMGPKG_*``), as opposed to imgpkg's variables, where its
files live, and its small settings file ``${XDG_CONFIG_HOME:-~/.config}/docker-credential-imgpkg/config.json``.

The settings file holds what must outlive a shell (today: which backend ``store`` uses, written by
``configure docker --keep-store``). It is read only when the matching variable is unset, so a lookup that
the environment decides never opens it.
"""

from __future__ import annotations

import os

from . import PROGRAM
from .errors import HelperError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

TRUE_WORDS = frozenset({"1", "true", "yes"})
BACKEND_VAR = "DOCKER_CREDENTIAL_IMGPKG_BACKEND"
READONLY_VAR = "DOCKER_CREDENTIAL_IMGPKG_READONLY"
DEFAULT_BACKEND = "file"
MAX_SETTINGS_BYTES = 1 << 20


def env_flag(environ: Mapping[str, str], name: str) -> bool:
    """Our own boolean switches accept 1/true/yes in any case (imgpkg's keep imgpkg's exact rules)."""
    return environ.get(name, "").strip().lower() in TRUE_WORDS


def env_text(environ: Mapping[str, str], name: str) -> str:
    """A credential variable's value as the UTF-8 text it must be, whatever the locale decoded it as."""
    value = environ.get(name, "")
    if value.isascii():
        return value
    try:
        raw = os.fsencode(value)  # back to the bytes the environment held
    except UnicodeError:
        raise HelperError(f"{name} is not valid UTF-8; set it as UTF-8 text") from None
    return utf8_value(name, raw)


def utf8_value(name: str, raw: bytes) -> str:
    """A variable's bytes as UTF-8 (Go clients read our answer as UTF-8); an error naming the variable, never
    showing it, when they are not."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise HelperError(f"{name} is not valid UTF-8 (byte {err.start}); set it as UTF-8 text") from None


def xdg_dir(environ: Mapping[str, str], variable: str, fallback: str) -> str:
    """``$XDG_*_HOME``, or ``~/<fallback>`` when unset, empty or relative (the XDG spec: relative values are
    ignored; one would put files under whatever directory the client happens to run in)."""
    value = environ.get(variable, "")
    if value and os.path.isabs(value):
        return value
    return os.path.join(os.path.expanduser("~"), fallback)


def config_dir(environ: Mapping[str, str]) -> str:
    """``${XDG_CONFIG_HOME:-~/.config}/docker-credential-imgpkg``: the settings file and the default store."""
    return os.path.join(xdg_dir(environ, "XDG_CONFIG_HOME", ".config"), PROGRAM)


def settings_path(environ: Mapping[str, str]) -> str:
    return os.path.join(config_dir(environ), "config.json")


def read_settings(path: str) -> dict[str, object]:
    """The settings document; an absent or empty file is ``{}``, anything else unparsable is an error."""
    from .safe_files import load_json_object, read_small_file

    what = f"settings file {path}"
    data = read_small_file(path, MAX_SETTINGS_BYTES, what)
    return {} if data is None else load_json_object(data, what, hint="; fix or remove it")


def backend_setting(environ: Mapping[str, str]) -> tuple[str, str]:
    """The configured backend and where it was configured (for messages): the variable wins over the file."""
    value = environ.get(BACKEND_VAR, "").strip()
    if value:
        return value, BACKEND_VAR
    path = settings_path(environ)
    chosen = read_settings(path).get("backend")
    if chosen is None:
        return DEFAULT_BACKEND, "default"
    if not isinstance(chosen, str):
        raise HelperError(f'settings file {path}: "backend" must be a string such as "file" or "helper:pass"')
    return chosen.strip() or DEFAULT_BACKEND, f"settings file {path}"
