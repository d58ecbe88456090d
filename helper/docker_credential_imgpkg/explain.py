"""``docker-credential-imgpkg explain [--json] [ADDRESS ...]``: which source answers each spelling of an address
that a client family sends, with which username, which entries were passed over and why, and what in the
machine's set-up keeps a client from asking this helper at all. Never a secret.

The answers come from the same chain as ``get`` (a recording trace collects its reasons); the set-up checks
read the clients' own configuration files.
"""

from __future__ import annotations

import os
import sys

from . import HELPER_NAME, PROGRAM
from .address import HUB_HOST, HUB_KEY, parse_image, parse_target
from .chain import Chain
from .debug import Trace
from .errors import HelperError, NotFound
from .programs import find_program

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from .address import Target

HOST_CLIENTS = "docker CLI, docker-py, skopeo, podman, buildah, oras"
HUB_DOCKER_CLIENTS = "docker CLI, docker-py"
HUB_CONTAINERS_CLIENTS = "skopeo, podman, buildah"
REPOSITORY_CLIENTS = "crane, imgpkg (then the host form), kubelet provider"
USAGE = f"usage: {PROGRAM} explain [--json] [ADDRESS ...]"


class Recorder(Trace):
    """A trace that keeps its lines for the report instead of printing them."""

    __slots__ = ("lines",)

    def __init__(self) -> None:
        super().__init__(True)
        self.lines: list[str] = []

    def __call__(self, message: str) -> None:
        self.lines.append(message)


def as_address(argument: str) -> str:
    """What to look up for an argument: a URL or ``host[:port]`` as clients send it, or an image reference
    (``nginx``, ``reg.example.com:5000/team/app:1``: tag and digest dropped, Docker Hub spelled out)."""
    if "://" in argument:
        return argument
    first = argument.partition("/")[0]
    if "/" not in argument and ("." in first or ":" in first or first == "localhost"):
        return argument  # a registry
    try:
        return parse_image(argument).address
    except HelperError:
        return argument


def client_forms(target: Target) -> list[tuple[str, str]]:
    """(address as sent, client family) for each spelling clients send for ``target``."""
    forms = []
    if target.segments:
        forms.append((target.host + target.path, REPOSITORY_CLIENTS))
    if target.host == HUB_HOST:
        forms += [(HUB_KEY, HUB_DOCKER_CLIENTS), ("docker.io", HUB_CONTAINERS_CLIENTS)]
    else:
        forms.append((target.host, HOST_CLIENTS))
    return forms


def explain_form(environ: Mapping[str, str], address: str, clients: str) -> dict[str, object]:
    trace = Recorder()
    report: dict[str, object] = {"form": address, "clients": clients, "found": False}
    try:
        match = Chain(environ, trace=trace, delegate=False).lookup(address)
    except NotFound:
        pass
    except HelperError as err:
        report["error"] = str(err)
    else:
        report |= {"found": True, "source": match.source, "entry": match.entry}
        report["username"] = match.credentials.username
    report["reasons"] = [line for line in trace.lines if not line.startswith("get ")]
    return report


def known_addresses(environ: Mapping[str, str], errors: list[str]) -> list[str]:
    """Every registry or repository the helper has an entry for (globs left out: they name no address)."""
    return [p for p in Chain(environ, delegate=False).known_patterns(errors) if "*" not in p]


# --- what keeps a client from asking at all ---------------------------------------------------------------------


def setup_warnings(environ: Mapping[str, str], targets: list[Target]) -> list[str]:
    warnings = []
    try:
        on_path = find_program(PROGRAM)
    except HelperError as err:
        on_path = None
        warnings.append(str(err))
    if on_path is None:
        warnings.append(f"{PROGRAM} is not on PATH: clients run it by that name and fail with 'executable not found'")
    if environ.get("DOCKER_AUTH_CONFIG", "").strip():
        warnings.append(
            "DOCKER_AUTH_CONFIG is set: docker 28.3 and later read it before any credential helper, so its entries "
            "win over this helper for the docker CLI"
        )
    warnings += _docker_warnings(environ, targets)
    warnings += _containers_warnings(environ, targets)
    return warnings


def _read_json(path: str) -> dict[str, object] | None:
    from .safe_files import load_json_object, read_small_file

    try:
        data = read_small_file(path, 16 << 20, path)
        return None if data is None else load_json_object(data, path)
    except HelperError:
        return {}


def _helper_keys(target: Target) -> list[str]:
    """The ``credHelpers`` keys a client looks up for ``target``'s registry."""
    return [HUB_KEY, "docker.io"] if target.host == HUB_HOST else [target.host]


def _docker_warnings(environ: Mapping[str, str], targets: list[Target]) -> list[str]:
    from .sources.dockerconfig import docker_config_path

    path = docker_config_path(environ)
    doc = _read_json(path)
    if doc is None:
        return [
            f"docker's config {path} does not exist: docker, crane, imgpkg, regctl, oras and helm will not ask "
            f"this helper (run: {PROGRAM} configure docker)"
        ]
    if doc.get("credsStore") == HELPER_NAME:
        return []
    helpers = doc.get("credHelpers")
    helpers = helpers if isinstance(helpers, dict) else {}
    warnings = []
    for target in targets:
        keys = _helper_keys(target)
        if not any(helpers.get(k) == HELPER_NAME for k in keys):
            named = f'"credsStore": "{HELPER_NAME}" nor a "credHelpers" entry for {keys[0]}'
            warnings.append(
                f"docker's config {path} names neither {named}: docker and the Go clients will not ask this helper "
                f"for {target.host} (run: {PROGRAM} configure docker)"
            )
    return warnings


def _containers_auth_files(environ: Mapping[str, str]) -> list[str]:
    """The auth files containers/image reads (skopeo, podman, buildah), in its order."""
    from .settings import xdg_dir
    from .sources.dockerconfig import docker_config_path

    explicit = environ.get("REGISTRY_AUTH_FILE", "")
    if explicit:
        return [explicit]
    runtime = environ.get("XDG_RUNTIME_DIR", "") or f"/run/containers/{os.getuid()}"
    return [
        os.path.join(runtime, "containers", "auth.json"),
        os.path.join(xdg_dir(environ, "XDG_CONFIG_HOME", ".config"), "containers", "auth.json"),
        docker_config_path(environ),
    ]


def _registries_conf_names_us(environ: Mapping[str, str]) -> bool:
    from .settings import xdg_dir

    user = os.path.join(xdg_dir(environ, "XDG_CONFIG_HOME", ".config"), "containers", "registries.conf")
    for path in (user, "/etc/containers/registries.conf"):
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                text = f.read(1 << 20)
        except OSError:
            continue
        for line in text.splitlines():
            name, _, value = line.partition("=")
            if name.strip() == "credential-helpers" and f'"{HELPER_NAME}"' in value:
                return True
    return False


def _containers_warnings(environ: Mapping[str, str], targets: list[Target]) -> list[str]:
    if _registries_conf_names_us(environ):
        return []
    files = _containers_auth_files(environ)
    helpers: dict[str, object] = {}
    for path in reversed(files):  # the first file's entry wins
        doc = _read_json(path) or {}
        found = doc.get("credHelpers")
        if isinstance(found, dict):
            helpers |= found
    warnings = []
    for target in targets:
        keys = ["docker.io"] if target.host == HUB_HOST else [target.host]
        if helpers.get(keys[0]) != HELPER_NAME:
            warnings.append(
                f"skopeo, podman and buildah ignore credsStore, and no credHelpers entry for {keys[0]} names "
                f"{HELPER_NAME} in their auth files ({', '.join(files)}) nor does registries.conf list it in "
                f"credential-helpers (run: {PROGRAM} configure containers --registry {keys[0]})"
            )
    return warnings


# --- the command -----------------------------------------------------------------------------------------------


def explain(environ: Mapping[str, str], addresses: list[str]) -> dict[str, object]:
    errors = []
    if not addresses:
        try:
            addresses = known_addresses(environ, errors)
        except HelperError as err:
            errors.append(str(err))
    targets, reports = [], []
    for address in addresses:
        target = parse_target(as_address(address))
        targets.append(target)
        forms = [explain_form(environ, form, clients) for form, clients in client_forms(target)]
        errors += [str(f["error"]) for f in forms if "error" in f and str(f["error"]) not in errors]
        reports.append({"address": address, "forms": forms})
    unique = list({t.host: t for t in targets if t.host}.values())
    return {"addresses": reports, "warnings": setup_warnings(environ, unique), "errors": errors}


def render_text(report: dict[str, object]) -> str:
    out = []
    for entry in report["addresses"]:  # type: ignore[union-attr]
        out.append(f"{entry['address']}")
        for form in entry["forms"]:
            out.append(f"  {form['form']}  — sent by {form['clients']}")
            if form["found"]:
                out.append(f"    answered by {form['source']}: {form['entry']} (username {form['username']!r})")
            elif "error" in form:
                out.append(f"    error: {form['error']}")
            else:
                out.append("    not found: the client goes anonymous")
            out += [f"      {line}" for line in form["reasons"]]
    if not report["addresses"]:
        out.append("no registry known: no IMGPKG_REGISTRY_HOSTNAME*, store entry or docker config entry")
    for warning in report["warnings"]:  # type: ignore[union-attr]
        out.append(f"warning: {warning}")
    for error in report["errors"]:  # type: ignore[union-attr]
        out.append(f"configuration error: {error}")
    return "\n".join(out) + "\n"


def main(args: list[str]) -> int:
    as_json = "--json" in args
    addresses = [a for a in args if a != "--json"]
    if any(a.startswith("-") for a in addresses):
        print(USAGE, file=sys.stderr)
        return 2
    report = explain(os.environ, addresses)
    if as_json:
        import json

        sys.stdout.write(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(render_text(report))
    return 1 if report["errors"] else 0
