"""Every file location the helper reads or writes, from one rule for ``HOME`` and the XDG directories.

Each takes the environment it is asked about (never the process's own, so ``configure`` run for another
environment and a lookup agree). ``HOME`` and the XDG variables count only when absolute, as the XDG spec says
of the latter: a relative value would put files under whatever directory a client happens to run in.
"""

from __future__ import annotations

import os

from . import PROGRAM

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

# What `configure kubelet` tells a node's administrator to create; nothing here reads them.
KUBELET_BIN_DIR = "/usr/local/lib/kubelet/credential-providers"
KUBELET_ENV_FILE = f"/etc/{PROGRAM}/kubelet.env"
KUBELET_DROP_IN = f"/etc/systemd/system/kubelet.service.d/90-{PROGRAM}.conf"
SYSTEM_REGISTRIES_CONF = "/etc/containers/registries.conf"


def home(environ: Mapping[str, str]) -> str:
    """``$HOME`` when absolute, else the user's passwd entry (as Go's and Python's fallbacks do)."""
    value = environ.get("HOME", "")
    if value and os.path.isabs(value):
        return value
    import pwd

    try:
        return pwd.getpwuid(os.getuid()).pw_dir
    except KeyError:
        return "/"


def expand_user(path: str, environ: Mapping[str, str]) -> str:
    """``~/x`` against ``home(environ)``; any other path as given."""
    if path == "~" or path.startswith("~/"):
        return home(environ) + path[1:]
    return path


def xdg_dir(environ: Mapping[str, str], variable: str, fallback: str) -> str:
    """``$XDG_*_HOME``, or ``~/<fallback>`` when unset, empty or relative."""
    value = environ.get(variable, "")
    if value and os.path.isabs(value):
        return value
    return os.path.join(home(environ), fallback)


def config_home(environ: Mapping[str, str]) -> str:
    return xdg_dir(environ, "XDG_CONFIG_HOME", ".config")


def config_dir(environ: Mapping[str, str]) -> str:
    """``${XDG_CONFIG_HOME:-~/.config}/docker-credential-imgpkg``: the settings file and the default store."""
    return os.path.join(config_home(environ), PROGRAM)


def settings_path(environ: Mapping[str, str]) -> str:
    return os.path.join(config_dir(environ), "config.json")


def store_path(environ: Mapping[str, str]) -> str:
    """``$DOCKER_CREDENTIAL_IMGPKG_STORE``, else ``credentials.json`` in the helper's config directory."""
    explicit = environ.get("DOCKER_CREDENTIAL_IMGPKG_STORE", "")
    return explicit or os.path.join(config_dir(environ), "credentials.json")


def docker_config_path(environ: Mapping[str, str]) -> str:
    """``$DOCKER_CONFIG/config.json``, else ``~/.docker/config.json``: the file docker itself reads (a relative
    ``DOCKER_CONFIG`` is taken as given, as docker does, so both read the same file)."""
    directory = environ.get("DOCKER_CONFIG", "") or os.path.join(home(environ), ".docker")
    return os.path.join(directory, "config.json")


def containers_auth_path(environ: Mapping[str, str]) -> str:
    """The auth file ``configure containers`` edits: ``$REGISTRY_AUTH_FILE`` when set (skopeo and podman then
    read nothing else), else the user's persistent ``${XDG_CONFIG_HOME:-~/.config}/containers/auth.json``."""
    explicit = environ.get("REGISTRY_AUTH_FILE", "")
    if explicit:
        return expand_user(explicit, environ)
    return os.path.join(config_home(environ), "containers", "auth.json")


def containers_auth_files(environ: Mapping[str, str]) -> list[str]:
    """Every auth file containers/image (skopeo, podman, buildah) reads, in its order: ``$REGISTRY_AUTH_FILE``
    alone, else the login file under ``$XDG_RUNTIME_DIR``, the persistent file, docker's config."""
    explicit = environ.get("REGISTRY_AUTH_FILE", "")
    if explicit:
        return [expand_user(explicit, environ)]
    runtime = environ.get("XDG_RUNTIME_DIR", "")
    if not os.path.isabs(runtime):
        runtime = f"/run/containers/{os.getuid()}"
    return [
        os.path.join(runtime, "containers", "auth.json"),
        containers_auth_path(environ),
        docker_config_path(environ),
    ]


def registries_conf_paths(environ: Mapping[str, str]) -> list[str]:
    """containers' registries.conf: the user's, then the system's."""
    return [os.path.join(config_home(environ), "containers", "registries.conf"), SYSTEM_REGISTRIES_CONF]
