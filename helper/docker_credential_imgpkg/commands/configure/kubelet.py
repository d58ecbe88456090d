"""``configure kubelet``: this helper's providers in a kubelet ``CredentialProviderConfig`` (commands/kubelet.py is
the plugin itself).

The file is written as JSON (the kubelet reads JSON as well as YAML, and the run-time stays standard-library
only) through ``edit``'s loader, locked atomic writer and diff. ``--config`` may name the file, or (kubelet 1.34+)
the drop-in directory the kubelet merges, where our providers get a file of their own. The provider blocks it
owns:

* ``docker-credential-imgpkg``: ``matchImages`` lists every registry the helper can answer now
  (``Chain.entries``: the ``IMGPKG_REGISTRY_HOSTNAME*`` entries as written, globs and repository paths kept, the
  store's keys and docker config's keys; with ``--service-account-audience`` the groups limited to service
  accounts too), plus ``--match-image``. Patterns already in the block stay (a user's own are never dropped),
  new ones are appended sorted, so a second run changes nothing.
* ``docker-credential-imgpkg-token`` (the same program under a second name), when token pass-through groups
  exist or ``--token-match-image`` is given: their patterns, ``cacheType: Token``. One provider cannot carry both
  modes: the kubelet drops an answer whose password is the token unless the cache type is ``Token``, and caching
  every answer per token would run the plugin once per pod for every other registry.
* ``tokenAttributes`` are written with ``--service-account-audience`` (the annotation keys and
  ``requireServiceAccount`` only ever added or tightened: loosen them by hand) and otherwise kept as they are;
  ``args`` always follow them (``kubelet --audience AUD [--token-pass-through]``), so the plugin checks the tokens
  the kubelet sends for exactly that audience.
* ``defaultCacheDuration: "5m"``: the kubelet keeps answers in memory and restarts clear them, so a changed
  environment file (which needs a restart anyway) takes effect at once; five minutes bounds how long a password
  changed in the store or config.json goes unseen, while sparing a process start per pull.

Every other provider, and every field of ours it does not need to set, is kept. Credentials never go in the
file: its ``env`` is plain text; the kubelet's environment (a systemd drop-in with ``EnvironmentFile=``) is
where the ``IMGPKG_REGISTRY_*`` variables belong.
"""

from __future__ import annotations

import json
import os

from ... import PROGRAM
from ...address import HUB_DOMAIN, official_image
from ...errors import HelperError, shown, shown_plain
from ...kubelet_rules import CONFIG_API, CONFIG_APIS, CONFIG_KIND, PLUGIN_API, PLUGIN_APIS
from ...paths import KUBELET_DROP_IN, KUBELET_ENV_FILE
from .edit import ConfigFile, ConfigureError, Plan, copy

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

PROVIDER_NAME = PROGRAM
TOKEN_PROVIDER_NAME = PROGRAM + "-token"
OUR_NAMES = (PROVIDER_NAME, TOKEN_PROVIDER_NAME)
DROP_IN_FILE = PROGRAM + ".json"  # our file in a drop-in directory
ARGS = ["kubelet"]
DEFAULT_CACHE = "5m"
NEW_FILE_INDENT = "  "
RBAC_NAME = PROGRAM + "-token-audience"
REQUIRED_KEYS = "requiredServiceAccountAnnotationKeys"
OPTIONAL_KEYS = "optionalServiceAccountAnnotationKeys"
_SECRET_NAMES = ("PASSWORD", "TOKEN", "DOCKER_AUTH_CONFIG")
_CONFIG_SUFFIXES = (".json", ".yaml", ".yml")  # what the kubelet reads from a drop-in directory


class Wanted:
    """What the command line and the environment ask of the providers."""

    __slots__ = ("audience", "limited", "optional", "patterns", "require", "required", "token_patterns")

    def __init__(
        self,
        patterns: list[str],
        token_patterns: list[str] | None = None,
        audience: str | None = None,
        *,
        limited: dict[str, str] | None = None,
        require: bool = False,
        required: list[str] | None = None,
        optional: list[str] | None = None,
    ) -> None:
        self.patterns = patterns  # the main provider's, from every source and --match-image
        self.limited = limited or {}  # pattern -> the group limited to service accounts (only with an audience)
        self.token_patterns = token_patterns or []
        self.audience = audience  # --service-account-audience
        self.require = require  # --require-service-account
        self.required = required or []
        self.optional = optional or []


# --------------------------------------------------------------------------------------------------------------
# what the helper can answer


def current_patterns(
    environ: Mapping[str, str], extra: list[str], warnings: list[str]
) -> tuple[list[str], dict[str, str]]:
    """matchImages patterns for every registry the chain can answer now, then ``extra`` (normalised); and the
    patterns of the groups limited to service accounts (pattern -> the group), which only a provider with an
    audience may list."""
    from ...chain import Chain

    found: list[str] = []
    limited: dict[str, str] = {}
    try:
        chain = Chain(environ, delegate=False)
        found = with_official_names(chain.entries(warnings))
        for entry in chain.env.limited():
            assert entry.limit is not None
            for pattern in with_official_names([entry.parsed().match_key]):
                limited.setdefault(pattern, f"{entry.label} ({entry.limit.reason.partition(':')[0]})")
    except HelperError as err:
        raise ConfigureError(f"the IMGPKG_* variables are unusable, so every lookup would fail: {err}") from None
    if environ.get("IMGPKG_USERNAME"):
        warnings.append(
            "IMGPKG_USERNAME answers every registry, which matchImages cannot say; name the registries the kubelet "
            "should ask this helper about with --match-image"
        )
    patterns = list(dict.fromkeys(p for p in found + normalised(extra, "--match-image") if p))
    return patterns, {p: group for p, group in limited.items() if p not in patterns}


def with_official_names(patterns: list[str]) -> list[str]:
    """``patterns``, each Docker Hub single name (``docker.io/ubuntu``) followed by its official image
    (``docker.io/library/ubuntu``), which imgpkg applies it to as well."""
    found = []
    for pattern in patterns:
        found.append(pattern)
        host, slash, path = pattern.partition("/")
        official = official_image(path.split("/"))
        if host == HUB_DOMAIN and slash and official != path.split("/"):
            found.append(f"{HUB_DOMAIN}/{'/'.join(official)}")
    return found


def token_patterns(environ: Mapping[str, str], extra: list[str]) -> list[str]:
    """The token pass-through groups' patterns, then ``--token-match-image`` (normalised)."""
    from ...sources.token_registries import TokenRegistries

    try:
        found = TokenRegistries(environ).patterns()
    except HelperError as err:
        raise ConfigureError(str(err)) from None
    return list(dict.fromkeys(found + normalised(extra, "--token-match-image")))


def normalised(values: list[str], option: str) -> list[str]:
    from ...sources.env_hostnames import parse_host_pattern

    found = []
    for value in values:
        try:
            found.append(parse_host_pattern(value).match_key)
        except HelperError as err:
            raise ConfigureError(f"{option} {shown(value)}: {err}") from None
    return found


def check_token_options(audience: str | None, require: bool, required: list[str], optional: list[str]) -> None:
    """The ``tokenAttributes`` options as the kubelet will validate them, before any file is read."""
    if audience is None:
        for given, option in ((require, "--require-service-account"), (required, "--required-annotation")):
            if given:
                raise ConfigureError(f"{option} needs --service-account-audience")
        if optional:
            raise ConfigureError("--optional-annotation needs --service-account-audience")
        return
    if not audience.strip() or not audience.isprintable():
        raise ConfigureError(f"--service-account-audience {shown(audience)}: give the audience the tokens are for")
    for key in required + optional:
        if not _is_qualified_name(key.lower()):
            raise ConfigureError(
                f"annotation key {shown(key)} is not a qualified name ([PREFIX/]NAME, NAME of letters, digits, "
                "'-', '_', '.'): the kubelet would refuse the config"
            )
    both = sorted(set(required) & set(optional))
    if both:
        raise ConfigureError(f"annotation key {shown(both[0])} is given as both required and optional")


def _is_qualified_name(key: str) -> bool:
    """Kubernetes' ``IsQualifiedName`` (lowercased, as the kubelet checks annotation keys)."""
    prefix, slash, name = key.rpartition("/")
    if slash and not (0 < len(prefix) <= 253 and all(_dns_label(p) for p in prefix.split("."))):
        return False
    inner = set("abcdefghijklmnopqrstuvwxyz0123456789-_.")
    return 0 < len(name) <= 63 and inner.issuperset(name) and name[0].isalnum() and name[-1].isalnum()


def _dns_label(label: str) -> bool:
    chars = set("abcdefghijklmnopqrstuvwxyz0123456789-")
    return 0 < len(label) <= 63 and chars.issuperset(label) and label[0] != "-" and label[-1] != "-"


# --------------------------------------------------------------------------------------------------------------
# the edit


def provider_block(name: str, patterns: list[str]) -> dict[str, object]:
    return {
        "name": name,
        "matchImages": list(patterns),
        "defaultCacheDuration": DEFAULT_CACHE,
        "apiVersion": PLUGIN_API,
        "args": list(ARGS),
    }


def plan_kubelet(config: ConfigFile, wanted: Wanted, drop_in_dir: str | None = None) -> Plan:
    """The file with this helper's providers present and up to date; every other provider untouched. In a drop-in
    directory, another file there that already names one of our providers is refused (the kubelet would refuse
    the duplicate)."""
    data = copy(config.data)
    plan = Plan(data)
    where = f"refusing to edit {config.path}"
    if drop_in_dir is not None:
        _refuse_duplicates(drop_in_dir, config.target)
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
    found: dict[str, dict[str, object]] = {}
    for name in OUR_NAMES:
        ours = [p for p in providers if p.get("name") == name]
        if len(ours) > 1:
            raise ConfigureError(f"{where}: it names the provider {name!r} {len(ours)} times (kubelets refuse it)")
        if ours:
            found[name] = ours[0]
    main, token = found.get(PROVIDER_NAME), found.get(TOKEN_PROVIDER_NAME)
    if token is None and wanted.token_patterns:
        if wanted.audience is None:
            raise ConfigureError(
                f"the token pass-through registries ({', '.join(wanted.token_patterns)}) need a second provider "
                "with an audience: give --service-account-audience (the audience the registry accepts)"
            )
        token = provider_block(TOKEN_PROVIDER_NAME, [])
        at = providers.index(main) + 1 if main is not None else len(providers)
        providers.insert(at, token)
        plan.notes.append(f"added provider {TOKEN_PROVIDER_NAME!r} for {', '.join(sorted(wanted.token_patterns))}")
        _update(token, wanted.token_patterns, plan, wanted, pass_through=True, new=True)
    elif token is not None:
        _update(token, wanted.token_patterns, plan, wanted, pass_through=True)
    patterns = wanted.patterns + (list(wanted.limited) if _audience_of(main, wanted) else [])
    if main is None and (patterns or token is None):
        if not patterns:
            groups = ", ".join(dict.fromkeys(wanted.limited.values()))
            raise ConfigureError(
                _nothing_to_match()
                + (f"; {groups} answer only a provider with --service-account-audience" if groups else "")
            )
        main = provider_block(PROVIDER_NAME, [])
        at = providers.index(token) if token is not None else len(providers)
        providers.insert(at, main)
        plan.notes.insert(0, f"added provider {PROVIDER_NAME!r} for {', '.join(sorted(patterns))}")
        _update(main, patterns, plan, wanted, pass_through=False, new=True)
    elif main is not None:
        _update(main, patterns, plan, wanted, pass_through=False)
    if not _audience_of(main, wanted):
        _warn_limited(plan, wanted)
    return plan


def _audience_of(provider: dict[str, object] | None, wanted: Wanted) -> bool:
    """Whether the provider will have an audience: asked for, or kept from its tokenAttributes."""
    if wanted.audience is not None:
        return True
    attributes = provider.get("tokenAttributes") if provider is not None else None
    return isinstance(attributes, dict) and bool(attributes.get("serviceAccountTokenAudience"))


def _warn_limited(plan: Plan, wanted: Wanted) -> None:
    for pattern, group in wanted.limited.items():
        plan.warnings.append(
            f"{pattern}: {group} answers only a provider with an audience, so it is left out of matchImages "
            "(give --service-account-audience)"
        )


def _update(
    provider: dict[str, object],
    patterns: list[str],
    plan: Plan,
    wanted: Wanted,
    *,
    pass_through: bool,
    new: bool = False,
) -> None:
    """Set what the plugin needs, add missing patterns; keep the rest (a chosen cache duration, patterns added by
    hand, tokenAttributes when no audience is given)."""
    name = str(provider.get("name"))
    notes: list[str] = []
    existing = provider.get("matchImages")
    if existing is None:
        existing = []
    if not isinstance(existing, list) or not all(isinstance(p, str) for p in existing):
        raise ConfigureError(f'provider {name!r}: "matchImages" is not a list of strings; fix it first')
    added = sorted(p for p in patterns if p not in existing)
    if added or "matchImages" not in provider:
        provider["matchImages"] = existing + added
        notes.append(f"matchImages += {', '.join(added)}" if added else "matchImages = []")
    if not provider["matchImages"]:
        raise ConfigureError(_nothing_to_match())
    audience = _token_attributes(provider, wanted, notes, plan, pass_through=pass_through)
    args = list(ARGS) if audience is None else [*ARGS, "--audience", audience]
    if pass_through:
        args.append("--token-pass-through")
    if provider.get("args") != args:
        provider["args"] = args
        notes.append(f"args = {json.dumps(args)}")
    if provider.get("apiVersion") not in PLUGIN_APIS or (audience is not None and provider["apiVersion"] != PLUGIN_API):
        provider["apiVersion"] = PLUGIN_API
        notes.append(f"apiVersion = {PLUGIN_API!r}" + (" (tokenAttributes need it)" if audience else ""))
    if provider.get("defaultCacheDuration") is None:
        provider["defaultCacheDuration"] = DEFAULT_CACHE
        notes.append(f"defaultCacheDuration = {DEFAULT_CACHE!r}")
    if not new:
        plan.notes += [f"{name}: {note}" if name != PROVIDER_NAME else note for note in notes]
    env = provider.get("env")
    for item in env if isinstance(env, list) else []:
        variable = item.get("name") if isinstance(item, dict) else None
        if isinstance(variable, str) and any(word in variable.upper() for word in _SECRET_NAMES):
            plan.warnings.append(
                f"provider {name!r} sets {shown(variable)} in the file's env, which is plain text: move it to "
                f"{KUBELET_ENV_FILE} (mode 0600) and remove it from the file"
            )


def _token_attributes(
    provider: dict[str, object], wanted: Wanted, notes: list[str], plan: Plan, *, pass_through: bool
) -> str | None:
    """Bring ``tokenAttributes`` to what was asked (with an audience), or keep them; the audience they name."""
    name = provider.get("name")
    attributes = provider.get("tokenAttributes")
    if wanted.audience is None:
        if attributes is None:
            if pass_through:
                raise ConfigureError(
                    f"provider {name!r} has no tokenAttributes: give --service-account-audience (the audience the "
                    "token pass-through registries accept)"
                )
            return None
        audience = attributes.get("serviceAccountTokenAudience") if isinstance(attributes, dict) else None
        if not isinstance(audience, str) or not audience.strip():
            raise ConfigureError(
                f"provider {name!r}: tokenAttributes names no serviceAccountTokenAudience; fix it or give "
                "--service-account-audience"
            )
        return audience
    old = attributes if isinstance(attributes, dict) else {}
    required = _keys(old, REQUIRED_KEYS, [] if pass_through else wanted.required)
    optional = _keys(old, OPTIONAL_KEYS, [] if pass_through else wanted.optional)
    both = sorted(set(required) & set(optional))
    if both:
        raise ConfigureError(f"provider {name!r}: annotation key {shown(both[0])} would be both required and optional")
    kept = old.get("requireServiceAccount") is True  # only ever tightened here; loosened by hand
    new: dict[str, object] = {
        "serviceAccountTokenAudience": wanted.audience,
        "cacheType": "Token" if pass_through else "ServiceAccount",
        "requireServiceAccount": pass_through or kept or wanted.require or bool(required),
    }
    if required and not (kept or wanted.require or pass_through):
        plan.notes.append(
            f"{name}: requireServiceAccount = true (required annotation keys imply it: the kubelet refuses them "
            "with false)"
        )
    new |= {REQUIRED_KEYS: required} if required else {}
    new |= {OPTIONAL_KEYS: optional} if optional else {}
    new |= {k: v for k, v in old.items() if k not in new and k not in (REQUIRED_KEYS, OPTIONAL_KEYS)}
    provider["tokenAttributes"] = new
    if json.dumps(new, sort_keys=True) != json.dumps(old, sort_keys=True):
        notes.append(f"tokenAttributes = {json.dumps(new)}")
    return wanted.audience


def _keys(attributes: dict[str, object], field: str, adding: list[str]) -> list[str]:
    """The annotation keys already in ``attributes``' ``field``, then ``adding`` (never removed)."""
    existing = attributes.get(field)
    if existing is None:
        existing = []
    if not isinstance(existing, list) or not all(isinstance(k, str) for k in existing):
        raise ConfigureError(f"tokenAttributes.{field} is not a list of strings; fix it first")
    return list(dict.fromkeys(existing + adding))


def _refuse_duplicates(directory: str, ours: str) -> None:
    """Another file of the drop-in directory that already defines one of our providers: the kubelet would refuse
    to start with both. JSON files are read; YAML ones are searched for a ``name:`` line naming ours."""
    from ...safe_files import load_json_object, read_small_file

    try:
        names = sorted(os.listdir(directory))
    except OSError as err:
        raise ConfigureError(f"cannot list {directory}: {err.strerror}") from None
    for entry in names:
        path = os.path.join(directory, entry)
        if not entry.endswith(_CONFIG_SUFFIXES) or os.path.realpath(path) == ours or os.path.isdir(path):
            continue
        try:
            raw = read_small_file(path, 16 << 20, path) or b""
        except HelperError as err:
            raise ConfigureError(f"cannot check {path} for a provider of the same name: {err}") from None
        defined: set[str] = set()
        if entry.endswith(".json"):
            try:
                providers = load_json_object(raw, path).get("providers")
            except HelperError:
                providers = None
            if isinstance(providers, list):
                defined = {str(p.get("name")) for p in providers if isinstance(p, dict)}
        else:
            for line in raw.decode("utf-8", "replace").splitlines():
                key, colon, value = line.strip().lstrip("-").strip().partition(":")
                if colon and key.strip("\"' ") == "name":
                    defined.add(value.split("#")[0].strip().strip("\"'"))
        for name in OUR_NAMES:
            if name in defined:
                raise ConfigureError(
                    f"refusing to write into {directory}: {path} already defines the provider {name!r} (the "
                    "kubelet refuses a name defined twice); remove it there or give that file as --config"
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


def our_providers(data: dict[str, object]) -> list[dict[str, object]]:
    providers = data.get("providers")
    found = [p for p in providers if isinstance(p, dict)] if isinstance(providers, list) else []
    return [p for p in found if p.get("name") in OUR_NAMES]


def audiences(data: dict[str, object]) -> list[str]:
    """The audiences our providers in ``data`` ask tokens for."""
    found = []
    for provider in our_providers(data):
        attributes = provider.get("tokenAttributes")
        audience = attributes.get("serviceAccountTokenAudience") if isinstance(attributes, dict) else None
        if isinstance(audience, str) and audience:
            found.append(audience)
    return list(dict.fromkeys(found))


def paste_block(providers: list[dict[str, object]]) -> str:
    """The providers as YAML list items (JSON scalars are YAML scalars) and as JSON, for a file this command
    cannot edit (YAML)."""
    q = json.dumps
    lines = []
    for provider in providers:
        first = True
        for key, value in provider.items():
            lead = "  - " if first else "    "
            first = False
            if isinstance(value, dict):
                lines.append(f"{lead}{key}:")
                lines += [f"      {k}: {q(v)}" for k, v in value.items()]
            elif isinstance(value, list) and key == "matchImages":
                lines.append(f"{lead}{key}:")
                lines += [f"      - {q(p)}" for p in value]
            else:
                lines.append(f"{lead}{key}: {q(value)}")
    return "\n".join([*lines, "", "or, in a JSON file:", *map(json.dumps, providers)]) + "\n"


def placeholder_providers(wanted: Wanted) -> list[dict[str, object]]:
    """What ``plan_kubelet`` would add to an empty file (a placeholder pattern when nothing is known)."""
    if not wanted.patterns and not wanted.token_patterns:
        wanted.patterns = ["REGISTRY.EXAMPLE.COM"]
    empty = ConfigFile("(new)", "(new)", None, {}, known=None)
    return our_providers(plan_kubelet(empty, wanted).data)


def next_steps(config: str, bin_dir: str, data: dict[str, object]) -> str:
    config = os.path.abspath(config)
    names = [str(p.get("name")) for p in our_providers(data)] or [PROVIDER_NAME]
    install = "\n".join(f'       install -D -m 0755 "$(command -v {PROGRAM})" {bin_dir}/{name}' for name in names)
    second = (
        f"\n     ({TOKEN_PROVIDER_NAME} is the same program under a second name: the kubelet runs each provider by "
        "its name)"
        if TOKEN_PROVIDER_NAME in names
        else ""
    )
    steps = f"""
Next, on every node (as root):
  1. Install the plugin under each provider's name in the kubelet's plugin directory:
{install}{second}
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
    found = audiences(data)
    return steps + (rbac(found) if found else "")


def rbac(found: list[str]) -> str:
    """The RBAC a cluster with ``ServiceAccountNodeAudienceRestriction`` (beta, on by default since 1.33) needs
    for nodes to request tokens for ``found``."""
    resources = ", ".join(json.dumps(a) for a in found)
    return f"""
  4. Once per cluster: let the nodes request service account tokens for {", ".join(map(shown_plain, found))}
     (the API server's ServiceAccountNodeAudienceRestriction, on by default since Kubernetes 1.33, refuses them
     otherwise; a pod that already mounts a projected token for that audience needs no rule). kubectl apply -f -:

apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: {RBAC_NAME}
rules:
  - apiGroups: [""]
    resources: [{resources}]
    verbs: ["request-serviceaccounts-token-audience"]
    # resourceNames: ["builder"]   # optionally: only these service accounts' tokens
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: {RBAC_NAME}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: {RBAC_NAME}
subjects:
  - apiGroup: rbac.authorization.k8s.io
    kind: Group
    name: system:nodes
"""
