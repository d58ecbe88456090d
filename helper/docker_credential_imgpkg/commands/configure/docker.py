"""``configure docker`` and ``configure containers``: point docker, skopeo, podman and buildah at this helper.

Peers do the same (``docker-credential-gcr configure-docker``); the rules here are the ones clients apply:

* docker reads ``credsStore`` (every registry) and ``credHelpers`` (per host, exact key) from
  ``$DOCKER_CONFIG/config.json`` or ``~/.docker/config.json``; for Docker Hub it looks up
  ``https://index.docker.io/v1/``.
* skopeo/podman (containers/image) ignore ``credsStore`` and read ``credHelpers`` from their auth files, keyed by
  the bare ``host[:port]``; for Docker Hub they look up ``docker.io``. Hub is therefore always written under both.
* ``--keep-store``: a ``credsStore`` that this replaces becomes this helper's backend (``helper:NAME`` in its
  settings file), so what docker kept there stays in use.

Each plan is a function of the document it is given, so it can be re-applied to a file a concurrent writer
changed (``edit.Edit``). Running it twice changes nothing the second time.
"""

from __future__ import annotations

import re

from ... import HELPER_NAME
from ...address import HUB_ALIASES, HUB_KEYS
from ...errors import HelperError, shown
from .edit import ConfigFile, ConfigureError, Plan, copy

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

_HOST_RE = re.compile(r"^(?:\[[0-9a-f:.]+\]|[a-z0-9](?:[a-z0-9._-]*[a-z0-9])?)(?::[0-9]{1,5})?$")


def credhelper_keys(registry: str) -> list[str]:
    """The ``credHelpers`` keys that make clients use this helper for ``registry``.

    ``https://Host:5000/v2/`` → ``host:5000``; any Docker Hub spelling → both Hub keys.
    """
    value = registry.strip()
    if not value:
        raise ConfigureError("--registry: empty registry name")
    if "@" in value:  # checked first: the value must not be echoed, it may hold a password
        raise ConfigureError("--registry: leave credentials out of the registry name (user@host)")
    shown_value = shown(registry)
    if "://" in value:
        import urllib.parse

        try:
            parts = urllib.parse.urlsplit(value)
        except ValueError:
            raise ConfigureError(f"--registry {shown_value}: not a URL") from None
        if parts.scheme.lower() not in ("http", "https"):
            raise ConfigureError(f"--registry {shown_value}: only http:// or https:// URLs are understood")
        netloc, path = parts.netloc, parts.path
        if parts.query or parts.fragment:
            raise ConfigureError(f"--registry {shown_value}: a registry name has no query or fragment")
    else:
        netloc, _, rest = value.partition("/")
        path = "/" + rest if rest else ""
    host = netloc.lower()
    if path.rstrip("/") not in ("", "/v1", "/v2"):
        raise ConfigureError(
            f"--registry {shown_value}: clients choose a credential helper per registry host, so a repository "
            f"path cannot have its own; use {shown(host) if host else 'the host'}"
        )
    if not _HOST_RE.match(host):
        raise ConfigureError(f"--registry {shown_value}: {shown(host)} is not a registry host[:port]")
    if host in HUB_ALIASES:
        return list(HUB_KEYS)
    return [host]


def credhelper_keys_for(registries: Sequence[str]) -> list[str]:
    keys: list[str] = []
    for registry in registries:
        for key in credhelper_keys(registry):
            if key not in keys:
                keys.append(key)
    return keys


def _set_cred_helpers(data: dict[str, object], keys: Sequence[str], path: str, plan: Plan) -> None:
    helpers = data.get("credHelpers")
    if helpers is None:
        helpers = {}
    elif not isinstance(helpers, dict):
        raise ConfigureError(f'refusing to edit {path}: "credHelpers" is not a JSON object')
    for key in keys:
        current = helpers.get(key)
        if current == HELPER_NAME:
            continue
        if current is not None:
            plan.warnings.append(f"credHelpers[{key!r}] was {shown(str(current))}; it now names {HELPER_NAME!r}")
        helpers[key] = HELPER_NAME
        plan.notes.append(f"credHelpers[{key!r}] = {HELPER_NAME!r}")
    data["credHelpers"] = helpers


def plan_docker(config: ConfigFile, keys: Sequence[str], keep_store: bool | None = None) -> Plan:
    """``credsStore`` for everything (no ``keys``), or ``credHelpers`` entries for ``keys`` only.

    ``keep_store``: record the ``credsStore`` found as this helper's backend (None: only when replacing it).
    """
    data = copy(config.data)
    plan = Plan(data)
    current = data.get("credsStore")
    if current is not None and not isinstance(current, str):
        raise ConfigureError(f'refusing to edit {config.path}: "credsStore" is not a string')
    previous = current if current and current != HELPER_NAME else None
    if keys:
        _set_cred_helpers(data, keys, config.path, plan)
        plan.keep = previous if keep_store else None  # credsStore stays; keep it underneath only if asked
        return plan
    if current != HELPER_NAME:
        if previous and keep_store is not False:
            plan.keep = previous
        elif previous:
            plan.warnings.append(
                f"credsStore was {shown(current or '')}: docker will no longer read credentials kept there"
            )
        data["credsStore"] = HELPER_NAME
        plan.notes.append(f"credsStore = {HELPER_NAME!r}")
    return plan


def plan_containers(config: ConfigFile, keys: Sequence[str]) -> Plan:
    """``credHelpers`` entries (containers/image has no ``credsStore``)."""
    plan = Plan(copy(config.data))
    _set_cred_helpers(plan.data, keys, config.path, plan)
    return plan


def plan_backend(settings: ConfigFile, store: str, origin: str, environ: Mapping[str, str]) -> Plan:
    """This helper's settings with ``backend`` = ``helper:<store>``: what docker kept there stays reachable."""
    from ...backends.loopguard import check_backend_name

    try:
        check_backend_name(store, origin, environ)
    except HelperError as err:
        raise ConfigureError(f"cannot keep it as this helper's backend: {err}") from None
    plan = Plan(copy(settings.data))
    wanted = f"helper:{store}"
    current = plan.data.get("backend")
    if current == wanted:
        return plan
    if current not in (None, "", "file"):
        raise ConfigureError(
            f"{settings.path} already names the backend {shown(str(current))}; not replacing it with {wanted!r} "
            "(edit that file, or run with --no-keep-store)"
        )
    plan.data["backend"] = wanted
    plan.notes.append(f"backend = {wanted!r} (what docker-credential-{store} keeps stays in use)")
    return plan
