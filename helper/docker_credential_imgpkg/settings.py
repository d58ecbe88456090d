"""The helper's own switches (``DOCKER_CREDENTIAL_IMGPKG_*``), as opposed to imgpkg's variables, and its small
settings file ``${XDG_CONFIG_HOME:-~/.config}/docker-credential-imgpkg/config.json``.

The settings file holds what must outlive a shell (today: which backend ``store`` uses, written by
``configure docker --keep-store``). It is read only when the matching variable is unset, so a lookup that
the environment decides never opens it.
"""

from __future__ import annotations

from .errors import HelperError, shown
from .paths import settings_path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

BACKEND_VAR = "DOCKER_CREDENTIAL_IMGPKG_BACKEND"
READONLY_VAR = "DOCKER_CREDENTIAL_IMGPKG_READONLY"
DEBUG_VAR = "DOCKER_CREDENTIAL_IMGPKG_DEBUG"
TIMEOUT_VAR = "DOCKER_CREDENTIAL_IMGPKG_TIMEOUT"
DEFAULT_BACKEND = "file"
DEFAULT_TIMEOUT = 20.0
MAX_SETTINGS_BYTES = 1 << 20


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


def timeout_seconds(environ: Mapping[str, str]) -> float:
    """How long another helper (keychain, backend) may take before it is killed."""
    raw = environ.get(TIMEOUT_VAR, "")
    try:
        value = float(raw) if raw else DEFAULT_TIMEOUT
    except ValueError:
        raise HelperError(f"{TIMEOUT_VAR} must be a number of seconds, got {shown(raw)}") from None
    return value if value > 0 else DEFAULT_TIMEOUT
