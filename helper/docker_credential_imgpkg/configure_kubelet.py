"""``configure kubelet``: this helper's entry in a kubelet ``CredentialProviderConfig`` (see kubelet.py for the plugin).

The file is written as JSON (the kubelet reads JSON as well as YAML, and the run-time stays standard-library
only) through configure.py's loader, atomic writer and diff. The provider block it owns:

* ``name`` is the executable's file name in ``--image-credential-provider-bin-dir``; ``args: ["kubelet"]``.
* ``matchImages``: every registry the helper can answer now, as the kubelet writes patterns: the
  ``IMGPKG_REGISTRY_HOSTNAME*`` entries as written (globs and repository paths kept), the store's keys and
  docker config's keys, plus ``--match-image``. Patterns already in the block stay (a user's own are never
  dropped), new ones are appended sorted, so a second run changes nothing.
* ``defaultCacheDuration: "5m"``: the kubelet keeps answers in memory and restarts clear them, so a changed
  environment file (which needs a restart anyway) takes effect at once; five minutes bounds how long a password
  changed in the store or config.json goes unseen, while sparing a process start per pull.

Every other provider, and every field of ours it does not need to set, is kept. Credentials never go in the
file: its ``env`` is plain text; the kubelet's environment (a systemd drop-in with ``EnvironmentFile=``) is
where the ``IMGPKG_REGISTRY_*`` variables belong.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import PROGRAM
from .configure import ConfigFile, ConfigureError, Plan, load, redacted_diff, refuse, write_atomic
from .errors import HelperError

PROVIDER_NAME = PROGRAM
CONFIG_API = "kubelet.config.k8s.io/v1"
CONFIG_APIS = (CONFIG_API, "kubelet.config.k8s.io/v1beta1", "kubelet.config.k8s.io/v1alpha1")
CONFIG_KIND = "CredentialProviderConfig"
PLUGIN_API = "credentialprovider.kubelet.k8s.io/v1"
PLUGIN_APIS = (PLUGIN_API, "credentialprovider.kubelet.k8s.io/v1beta1")  # what kubelet.py answers
ARGS = ["kubelet"]
DEFAULT_CACHE = "5m"
BIN_DIR = "/usr/local/lib/kubelet/credential-providers"
ENV_FILE = "/etc/docker-credential-imgpkg/kubelet.env"
DROP_IN = "/etc/systemd/system/kubelet.service.d/90-docker-credential-imgpkg.conf"
_SECRET_NAMES = ("PASSWORD", "TOKEN", "DOCKER_AUTH_CONFIG")


def add_parser(sub: argparse._SubParsersAction) -> None:
    kubelet = sub.add_parser(
        "kubelet",
        help="kubelet: this helper as an image credential provider in a CredentialProviderConfig file",
        description="Add (or update) this helper's provider in the kubelet's CredentialProviderConfig FILE, with "
        "matchImages for every registry it can answer now (IMGPKG_REGISTRY_* entries, its store, docker's "
        "config.json). Other providers are kept. Run it with the variables the kubelet will have.",
    )
    kubelet.add_argument("--config", type=Path, required=True, metavar="FILE", help="the file to write (JSON)")
    kubelet.add_argument(
        "--match-image",
        action="append",
        default=[],
        metavar="PATTERN",
        help="also ask this helper for images matching PATTERN (host[:port][/path], *.glob; repeatable)",
    )
    kubelet.add_argument(
        "--bin-dir",
        default=BIN_DIR,
        metavar="DIR",
        help=f"the kubelet's --image-credential-provider-bin-dir, for the instructions printed (default {BIN_DIR})",
    )
    kubelet.add_argument("--dry-run", action="store_true", help="print the change as a unified diff; write nothing")


# --------------------------------------------------------------------------------------------------------------
# what the helper can answer


def current_patterns(environ: dict[str, str], extra: list[str], warnings: list[str]) -> list[str]:
    """matchImages patterns for every registry the chain can answer now, then ``extra`` (normalised)."""
    from .chain import Chain
    from .sources.env_hostnames import parse_host_pattern

    found: list[str] = []
    try:
        for pattern in Chain(environ, delegate=False).known_patterns(warnings):
            found.append(pattern)
            host, slash, path = pattern.partition("/")
            if host == "docker.io" and slash and "/" not in path:  # imgpkg applies docker.io/x to library/x too
                found.append(f"docker.io/library/{path}")
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
            raise ConfigureError(f"--match-image {value!r}: {err}") from None
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
    data = json.loads(json.dumps(config.data))  # a copy with the same key order
    plan = Plan(data)
    where = f"refusing to edit {config.path}"
    if not data:
        data.update({"apiVersion": CONFIG_API, "kind": CONFIG_KIND, "providers": []})
    elif data.get("kind") != CONFIG_KIND or data.get("apiVersion") not in CONFIG_APIS:
        raise ConfigureError(
            f"{where}: it is not a {CONFIG_KIND} (kind {data.get('kind')!r}, apiVersion {data.get('apiVersion')!r}); "
            "--config names the file given to the kubelet's --image-credential-provider-config"
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


def _update(provider: dict, patterns: list[str], plan: Plan) -> None:
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
                f"provider {PROVIDER_NAME!r} sets {name} in the file's env, which is plain text: move it to "
                f"{ENV_FILE} (mode 0600) and remove it from the file"
            )


def _nothing_to_match() -> str:
    return (
        "no registry to ask this helper about: no IMGPKG_REGISTRY_HOSTNAME* variable, store entry or docker "
        "config entry is set here (run this with the variables the kubelet will have), and no --match-image"
    )


def render(data: dict, previous: str | None) -> str:
    """JSON in the file's own indentation, two spaces for a new file."""
    from .configure import render as render_like

    if previous and any(line[:1] in (" ", "\t") for line in previous.splitlines()[1:]):
        return render_like(data, previous)
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


# --------------------------------------------------------------------------------------------------------------
# command line


def run(opts: argparse.Namespace, environ: dict[str, str]) -> int:
    path: Path = opts.config
    warnings: list[str] = []
    try:
        patterns = current_patterns(environ, opts.match_image, warnings)
        try:
            config = load(path)
        except ConfigureError as err:
            if not _unreadable_json(path):
                raise
            print(f"Add this provider to the file's providers list yourself:\n{_paste_block(patterns)}")
            return refuse(err, path)
        plan = plan_kubelet(config, patterns)
        new_text = render(plan.data, config.text)
        for warning in warnings + plan.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        changed = bool(plan.notes)  # a file already right is left byte for byte, whatever its layout
        if opts.dry_run:
            sys.stdout.write(redacted_diff(path, config.text, new_text) if changed else f"{path}: no change\n")
        elif changed:
            write_atomic(config, new_text)
            print(f"{path}: " + ("; ".join(plan.notes) if plan.notes else "written"))
        else:
            print(f"{path}: already configured, nothing to change")
    except (ConfigureError, OSError) as err:
        return refuse(err, path)
    # After a dry run the diff alone is on stdout (it can be saved as a patch).
    print(next_steps(path, opts.bin_dir), file=sys.stderr if opts.dry_run else sys.stdout, end="")
    return 0


def _unreadable_json(path: Path) -> bool:
    """The file exists and is readable, but is not a JSON object (YAML, say): the user can paste a block."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return False
    try:
        return not isinstance(json.loads(text), dict)
    except ValueError:
        return True


def _paste_block(patterns: list[str]) -> str:
    """The provider as a YAML list item (JSON strings are YAML strings) and as one line of JSON."""
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


def next_steps(config: Path, bin_dir: str) -> str:
    config = config.absolute()
    return f"""
Next, on every node (as root):
  1. Install the plugin under the provider's name in the kubelet's plugin directory:
       install -D -m 0755 "$(command -v {PROGRAM})" {bin_dir}/{PROVIDER_NAME}
  2. Add these kubelet flags (kubeadm: KUBELET_EXTRA_ARGS in /etc/default/kubelet or /etc/sysconfig/kubelet):
       --image-credential-provider-config={config}
       --image-credential-provider-bin-dir={bin_dir}
  3. Give the kubelet the IMGPKG_REGISTRY_* variables in a file only root can read (never in this config's
     "env": that file is plain text):
       install -D -m 0600 /dev/null {ENV_FILE}     # then write KEY=value lines into it
       mkdir -p {Path(DROP_IN).parent}
       printf '[Service]\\nEnvironmentFile={ENV_FILE}\\n' > {DROP_IN}
       systemctl daemon-reload && systemctl restart kubelet
"""
