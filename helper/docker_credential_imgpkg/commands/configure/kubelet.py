"""``configure kubelet``: this helper's entry in a kubelet ``CredentialProviderConfig`` (commands/kubelet.py is the
plugin itself).

The file is written as JSON (the kubelet reads JSON as well as YAML, and the run-time stays standard-library
only) through ``edit``'s loader, locked atomic writer and diff. The provider block it owns:

* ``name`` is the executable's file name in ``--image-credential-provider-bin-dir``; ``args: ["kubelet"]``.
* ``matchImages``: every registry the helper can answer now, as the kubelet writes patterns (``Chain.entries``:
  the ``IMGPKG_REGISTRY_HOSTNAME*`` entries as written, globs and repository paths kept, the store's keys and
  docker config's keys), plus ``--match-image``. Patterns already in the block stay (a user's own are never
  dropped), new ones are appended sorted, so a second run changes nothing.
* ``defaultCacheDuration: "5m"``: the kubelet keeps answers in memory and restarts clear them, so a changed
  environment file (which needs a restart anyway) takes effect at once; five minutes bounds how long a password
  changed in the store or config.json goes unseen, while sparing a process start per pull.

Every other provider, and every field of ours it does not need to set, is kept. Credentials never go in the
file: its ``env`` is plain text; the kubelet's environment (a systemd drop-in with ``EnvironmentFile=``) is
where the ``IMGPKG_REGISTRY_*`` variables belong.
"""

from __future__ import annotations

import json

from ... import PROGRAM
from ...address import HUB_DOMAIN, official_image
from ...errors import HelperError, shown
from ...kubelet_rules import CONFIG_API, CONFIG_APIS, CONFIG_KIND, PLUGIN_API, PLUGIN_APIS
from ...paths import KUBELET_DROP_IN, KUBELET_ENV_FILE
from .edit import ConfigFile, ConfigureError, Plan, copy

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

PROVIDER_NAME = PROGRAM
ARGS = ["kubelet"]
DEFAULT_CACHE = "5m"
NEW_FILE_INDENT = "  "
_SECRET_NAMES = ("PASSWORD", "TOKEN", "DOCKER_AUTH_CONFIG")


# --------------------------------------------------------------------------------------------------------------
# what the helper can answer


def current_patterns(environ: Mapping[str, str], extra: list[str], warnings: list[str]) -> list[str]:
    """matchImages patterns for every registry the chain can answer now, then ``extra`` (normalised)."""
    from ...chain import Chain
    from ...sources.env_hostnames import parse_host_pattern

    found: list[str] = []
    try:
        for pattern in Chain(environ, delegate=False).entries(warnings):
            found.append(pattern)
            host, slash, path = pattern.partition("/")
            official = official_image(path.split("/"))
            if host == HUB_DOMAIN and slash and official != path.split("/"):  # imgpkg applies docker.io/x to
                found.append(f"{HUB_DOMAIN}/{'/'.join(official)}")  # library/x too
    except HelperError as err:
        raise ConfigureError(f"the IMGPKG_* variables are unusable, so every lookup would fail: {err}") from None
    if environ.get("IMGPKG_USERNAME"):
        warnings.append(
            "IMGPKG_USERNAME answers every registry, which matchImages cannot say; name the registries the kubelet "
            "should ask this helper about with --match-image"
        )
    for value in extra:
        try:
            found.append(parse_host_pattern(value).match_key)
        except HelperError as err:
            raise ConfigureError(f"--match-image {shown(value)}: {err}") from None
    return list(dict.fromkeys(p for p in found if p))


# --------------------------------------------------------------------------------------------------------------
# the edit


def provider_block(patterns: list[str]) -> dict[str, object]:
    return {
        "name": PROVIDER_NAME,
        "matchImages": list(patterns),
        "defaultCacheDuration": DEFAULT_CACHE,
        "apiVersion": PLUGIN_API,
        "args": list(ARGS),
    }


def plan_kubelet(config: ConfigFile, patterns: list[str]) -> Plan:
    """The file with this helper's provider present and up to date; every other provider untouched."""
    data = copy(config.data)
    plan = Plan(data)
    where = f"refusing to edit {config.path}"
    if not data:
        data.update({"apiVersion": CONFIG_API, "kind": CONFIG_KIND, "providers": []})
    elif data.get("kind") != CONFIG_KIND or data.get("apiVersion") not in CONFIG_APIS:
        raise ConfigureError(
            f"{where}: it is not a {CONFIG_KIND} (kind {_describe(data.get('kind'))}, apiVersion "
            f"{_describe(data.get('apiVersion'))}); --config names the file given to the kubelet's "
            "--image-credential-provider-config"
        )
    providers = data.setdefault("providers", [])
    if not isinstance(providers, list) or not all(isinstance(p, dict) for p in providers):
        raise ConfigureError(f'{where}: "providers" is not a list of objects')
    ours = [p for p in providers if p.get("name") == PROVIDER_NAME]
    if len(ours) > 1:
        raise ConfigureError(f"{where}: it names the provider {PROVIDER_NAME!r} {len(ours)} times (kubelets refuse it)")
    if not ours:
        if not patterns:
            raise ConfigureError(_nothing_to_match())
        providers.append(provider_block(sorted(patterns)))
        plan.notes.append(f"added provider {PROVIDER_NAME!r} for {', '.join(sorted(patterns))}")
        return plan
    _update(ours[0], patterns, plan)
    return plan


def _update(provider: dict[str, object], patterns: list[str], plan: Plan) -> None:
    """Set what the plugin needs, add missing patterns; keep the rest (a chosen cache duration, tokenAttributes)."""
    existing = provider.get("matchImages")
    if existing is None:
        existing = []
    if not isinstance(existing, list) or not all(isinstance(p, str) for p in existing):
        raise ConfigureError(f'provider {PROVIDER_NAME!r}: "matchImages" is not a list of strings; fix it first')
    added = sorted(p for p in patterns if p not in existing)
    if added or "matchImages" not in provider:
        provider["matchImages"] = existing + added
        plan.notes.append(f"matchImages += {', '.join(added)}" if added else "matchImages = []")
    if not provider["matchImages"]:
        raise ConfigureError(_nothing_to_match())
    if provider.get("args") != ARGS:
        provider["args"] = list(ARGS)
        plan.notes.append(f"args = {ARGS}")
    if provider.get("apiVersion") not in PLUGIN_APIS:
        provider["apiVersion"] = PLUGIN_API
        plan.notes.append(f"apiVersion = {PLUGIN_API!r}")
    if provider.get("defaultCacheDuration") is None:
        provider["defaultCacheDuration"] = DEFAULT_CACHE
        plan.notes.append(f"defaultCacheDuration = {DEFAULT_CACHE!r}")
    env = provider.get("env")
    for item in env if isinstance(env, list) else []:
        name = item.get("name") if isinstance(item, dict) else None
        if isinstance(name, str) and any(word in name.upper() for word in _SECRET_NAMES):
            plan.warnings.append(
                f"provider {PROVIDER_NAME!r} sets {shown(name)} in the file's env, which is plain text: move it to "
                f"{KUBELET_ENV_FILE} (mode 0600) and remove it from the file"
            )


def _nothing_to_match() -> str:
    return (
        "no registry to ask this helper about: no IMGPKG_REGISTRY_HOSTNAME* variable, store entry or docker "
        "config entry is set here (run this with the variables the kubelet will have), and no --match-image"
    )


def _describe(value: object) -> str:
    return shown(value) if isinstance(value, str) else "missing" if value is None else "not a string"


# --------------------------------------------------------------------------------------------------------------
# what to print


def paste_block(patterns: list[str]) -> str:
    """The provider as a YAML list item (JSON strings are YAML strings) and as one line of JSON, for a file this
    command cannot edit (YAML)."""
    q = json.dumps
    lines = [
        f"  - name: {q(PROVIDER_NAME)}",
        "    matchImages:",
        *[f"      - {q(p)}" for p in patterns or ["REGISTRY.EXAMPLE.COM"]],
        f"    defaultCacheDuration: {q(DEFAULT_CACHE)}",
        f"    apiVersion: {q(PLUGIN_API)}",
        f"    args: [{q(ARGS[0])}]",
    ]
    block = provider_block(patterns or ["REGISTRY.EXAMPLE.COM"])
    return "\n".join([*lines, "", "or, in a JSON file:", json.dumps(block)]) + "\n"


def next_steps(config: str, bin_dir: str) -> str:
    import os

    config = os.path.abspath(config)
    return f"""
Next, on every node (as root):
  1. Install the plugin under the provider's name in the kubelet's plugin directory:
       install -D -m 0755 "$(command -v {PROGRAM})" {bin_dir}/{PROVIDER_NAME}
  2. Add these kubelet flags (kubeadm: KUBELET_EXTRA_ARGS in /etc/default/kubelet or /etc/sysconfig/kubelet):
       --image-credential-provider-config={config}
       --image-credential-provider-bin-dir={bin_dir}
  3. Give the kubelet the IMGPKG_REGISTRY_* variables in a file only root can read (never in this config's
     "env": that file is plain text):
       install -D -m 0600 /dev/null {KUBELET_ENV_FILE}     # then write KEY=value lines into it
       mkdir -p {os.path.dirname(KUBELET_DROP_IN)}
       printf '[Service]\\nEnvironmentFile={KUBELET_ENV_FILE}\\n' > {KUBELET_DROP_IN}
       systemctl daemon-reload && systemctl restart kubelet
"""
