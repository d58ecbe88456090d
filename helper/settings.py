"""The helper's own switches (``DOCKER_CREDENTIAL_IMGPKG_*``), as opposed to imgpkg's variables, and its
small settings file ``${XDG_CONFIG_HOME:-~/.config}/docker-credential-imgpkg/config.json``.

The settings file holds what must outlive a shell (today: which backend ``store`` uses, written by
``configure docker --keep-store``). It is read only when the matching variable is unset, so a lookup that
the environment decides never opens it.
"""

from __future__ import annotations

import os

from .errors import HelperError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

TRUE_WORDS = frozenset({"1", "true", "yes"})
BACKEND_VAR = "DOCKER_CREDENTIAL_IMGPKG_BACKEND"
DEFAULT_BACKEND = "file"
MAX_SETTINGS_BYTES = 1 << 20


def env_flag(environ: Mapping[str, str], name: str) -> bool:
    """Our own boolean switches accept 1/true/yes in any case (imgpkg's keep imgpkg's exact rules)."""
    return environ.get(name, "").strip().lower() in TRUE_WORDS


def config_dir(environ: Mapping[str, str]) -> str:
    """``${XDG_CONFIG_HOME:-~/.config}/docker-credential-imgpkg``: the settings file and the default store."""
    base = environ.get("XDG_CONFIG_HOME", "") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "docker-credential-imgpkg")


def settings_path(environ: Mapping[str, str]) -> str:
    return os.path.join(config_dir(environ), "config.json")


def read_settings(path: str) -> dict[str, object]:
    """The settings document; an absent or empty file is ``{}``, anything else unparsable is an error."""
    from .files import read_small_file

    data = read_small_file(path, MAX_SETTINGS_BYTES, f"settings file {path}")
    if data is None:
        return {}
    if not data.strip():
        return {}
    import json

    try:
        doc = json.loads(data)
    except (ValueError, RecursionError):
        raise HelperError(f"settings file {path}: not valid JSON; fix or remove it") from None
    if not isinstance(doc, dict):
        raise HelperError(f"settings file {path}: expected a JSON object; fix or remove it")
    return doc


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
