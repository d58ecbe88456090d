"""``docker-credential-imgpkg explain [--json] [ADDRESS ...]``: which source answers each spelling of an address
that a client family sends, with which username, which entries were passed over and why, and what in the
machine's set-up keeps a client from asking this helper at all; and the groups only the kubelet provider
answers (limited to service accounts, token pass-through). Never a secret.

The answers come from the same chain as ``get`` (a recording trace collects its reasons; one chain serves every
address, so each file is read and indexed once); the set-up checks read the clients' own configuration files
through the bounded reader.
"""

from __future__ import annotations

from .. import HELPER_NAME, PROGRAM
from ..address import HUB_HOST, containers_helper_key, docker_helper_key, parse_image, parse_target
from ..chain import Chain
from ..client import find_program
from ..debug import Recorder
from ..errors import HelperError, UsageError, shown, without_userinfo
from ..paths import containers_auth_files, docker_config_path, registries_conf_paths
from ..protocol import NotFound
from ..stdio import EXIT_FAILURE, EXIT_OK, guarded, warn, write_out

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from ..address import Target

    Report = dict[str, Any]

HOST_CLIENTS = "docker CLI, docker-py, skopeo, podman, buildah, oras"
HUB_DOCKER_CLIENTS = "docker CLI, docker-py"
HUB_CONTAINERS_CLIENTS = "skopeo, podman, buildah"
REPOSITORY_CLIENTS = "crane, imgpkg (then the host form), kubelet provider"
USAGE = f"usage: {PROGRAM} explain [--json] [ADDRESS ...]"
MAX_CLIENT_FILE_BYTES = 16 << 20


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
        forms += [
            (docker_helper_key(HUB_HOST), HUB_DOCKER_CLIENTS),
            (containers_helper_key(HUB_HOST), HUB_CONTAINERS_CLIENTS),
        ]
    else:
        forms.append((target.host, HOST_CLIENTS))
    return forms


def explain_form(chain: Chain, address: str, clients: str) -> Report:
    trace = chain.trace = Recorder()
    report: Report = {"form": address, "clients": clients, "found": False}
    try:
        match = chain.lookup(address)
    except NotFound:
        pass
    except HelperError as err:
        report["error"] = str(err)
    else:
        report |= {"found": True, "source": match.source, "entry": match.entry}
        report["username"] = match.credentials.username
    report["reasons"] = [line for line in trace.lines if not line.startswith("get ")]
    return report


# --- what keeps a client from asking at all ---------------------------------------------------------------------


def setup_warnings(environ: Mapping[str, str], targets: list[Target]) -> list[str]:
    warnings = []
    try:
        on_path = find_program(PROGRAM, environ)
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


def _read_json(path: str, warnings: list[str]) -> dict[str, object] | None:
    """A client's JSON file (None when absent); one it cannot read is reported in ``warnings`` and taken as
    empty, so the advice that follows still holds."""
    from ..safe_files import load_json_object, read_small_file

    try:
        data = read_small_file(path, MAX_CLIENT_FILE_BYTES, path)
        return None if data is None else load_json_object(data, path)
    except HelperError as err:
        warnings.append(f"cannot use {err}")
        return {}


def _docker_warnings(environ: Mapping[str, str], targets: list[Target]) -> list[str]:
    path = docker_config_path(environ)
    warnings: list[str] = []
    doc = _read_json(path, warnings)
    if doc is None:
        return [
            f"docker's config {path} does not exist: docker, crane, imgpkg, regctl, oras and helm will not ask "
            f"this helper (run: {PROGRAM} configure docker)"
        ]
    if doc.get("credsStore") == HELPER_NAME:
        return warnings
    helpers = doc.get("credHelpers")
    helpers = helpers if isinstance(helpers, dict) else {}
    for target in targets:
        key = docker_helper_key(target.host)
        if helpers.get(key) != HELPER_NAME:
            named = f'"credsStore": "{HELPER_NAME}" nor a "credHelpers" entry for {shown(key)}'
            warnings.append(
                f"docker's config {path} names neither {named}: docker and the Go clients will not ask this helper "
                f"for {shown(target.host)} (run: {PROGRAM} configure docker)"
            )
    return warnings


def _registries_conf_names_us(environ: Mapping[str, str], warnings: list[str]) -> bool:
    from ..safe_files import read_small_file

    for path in registries_conf_paths(environ):
        try:
            data = read_small_file(path, MAX_CLIENT_FILE_BYTES, path)
        except HelperError as err:
            warnings.append(f"cannot use {err}")
            continue
        for line in (data or b"").decode("utf-8", "replace").splitlines():
            name, _, value = line.partition("=")
            if name.strip() == "credential-helpers" and f'"{HELPER_NAME}"' in value:
                return True
    return False


def _containers_warnings(environ: Mapping[str, str], targets: list[Target]) -> list[str]:
    warnings: list[str] = []
    if _registries_conf_names_us(environ, warnings):
        return warnings
    files = containers_auth_files(environ)
    helpers: dict[str, object] = {}
    for path in reversed(files):  # the first file's entry wins
        doc = _read_json(path, warnings) or {}
        found = doc.get("credHelpers")
        if isinstance(found, dict):
            helpers |= found
    for target in targets:
        key = containers_helper_key(target.host)
        if helpers.get(key) != HELPER_NAME:
            warnings.append(
                f"skopeo, podman and buildah ignore credsStore, and no credHelpers entry for {shown(key)} names "
                f"{HELPER_NAME} in their auth files ({', '.join(files)}) nor does registries.conf list it in "
                f"credential-helpers (run: {PROGRAM} configure containers --registry {key})"
            )
    return warnings


# --- what only the kubelet provider answers ----------------------------------------------------------------------


def kubelet_groups(chain: Chain, environ: Mapping[str, str], errors: list[str]) -> list[dict[str, str]]:
    """The groups limited to service accounts and the token pass-through groups, with what answers from them."""
    from ..sources.token_registries import TokenRegistries
    from .configure.kubelet import TOKEN_PROVIDER_NAME

    found = []
    try:
        for entry in chain.env.limited():
            assert entry.limit is not None
            found.append({"group": entry.label, "variable": entry.limit.variable, "answers": entry.limit.reason})
    except HelperError as err:
        errors.append(str(err))
    try:
        for group in TokenRegistries(environ).groups:
            found.append(
                {
                    "group": group.label,
                    "username": group.username,
                    "answers": "token pass-through: the pod's service account token as the password, only for the "
                    f"{TOKEN_PROVIDER_NAME} provider",
                }
            )
    except HelperError as err:
        errors.append(str(err))
    return found


# --- the command -----------------------------------------------------------------------------------------------


def explain(environ: Mapping[str, str], addresses: list[str]) -> Report:
    chain = Chain(environ, delegate=False, trace=Recorder())
    errors: list[str] = []
    kubelet = kubelet_groups(chain, environ, errors)
    if not addresses:
        try:
            addresses = [p for p in chain.entries(errors) if "*" not in p]  # globs name no address
            addresses += [e.parsed().match_key for e in chain.env.limited() if "*" not in e.parsed().host]
            addresses = list(dict.fromkeys(addresses))
        except HelperError as err:
            if str(err) not in errors:
                errors.append(str(err))
    targets, reports = [], []
    for address in addresses:
        target = parse_target(as_address(address))
        targets.append(target)
        forms = [explain_form(chain, form, clients) for form, clients in client_forms(target)]
        errors += [str(f["error"]) for f in forms if "error" in f and str(f["error"]) not in errors]
        reports.append({"address": without_userinfo(address), "forms": forms})
    unique = list({t.host: t for t in targets if t.host}.values())
    report = {"addresses": reports, "kubelet": kubelet, "warnings": setup_warnings(environ, unique)}
    return report | {"errors": errors}


def render_text(report: Report) -> str:
    out = []
    for entry in report["addresses"]:
        out.append(f"{entry['address']}")
        for form in entry["forms"]:
            out.append(f"  {form['form']}  — sent by {form['clients']}")
            if form["found"]:
                out.append(f"    answered by {form['source']}: {form['entry']} (username {shown(form['username'])})")
            elif "error" in form:
                out.append(f"    error: {form['error']}")
            else:
                out.append("    not found: the client goes anonymous")
            out += [f"      {line}" for line in form["reasons"]]
    if not report["addresses"]:
        out.append("no registry known: no IMGPKG_REGISTRY_HOSTNAME*, store entry or docker config entry")
    if report["kubelet"]:
        out.append("answered only by the kubelet provider:")
    for group in report["kubelet"]:
        username = f" (username {shown(group['username'])})" if "username" in group else ""
        variable = f" ({group['variable']})" if "variable" in group else ""
        out.append(f"  {group['group']}: {group['answers']}{variable}{username}")
    for warning in report["warnings"]:
        out.append(f"warning: {warning}")
    for error in report["errors"]:
        out.append(f"configuration error: {error}")
    return "\n".join(out) + "\n"


def _valid_unicode(value: object) -> object:
    """The report with each lone surrogate (an undecodable byte of an argument or a variable, a ``\\u`` escape in a
    file) spelled as its backslash escape, as the text report shows it: ``--json`` is valid Unicode whatever the
    input (a lone surrogate would be a ``\\udcff`` escape, which many JSON decoders refuse or replace)."""
    if isinstance(value, str):
        return value if value.isascii() else value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {_valid_unicode(key): _valid_unicode(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_valid_unicode(item) for item in value]
    return value


def main(args: list[str], environ: Mapping[str, str]) -> int:
    def body() -> int:
        as_json = "--json" in args
        addresses = [a for a in args if a != "--json"]
        if any(a.startswith("-") for a in addresses):
            raise UsageError(USAGE)
        report = explain(environ, addresses)
        if as_json:
            import json

            text = json.dumps(_valid_unicode(report), indent=2, ensure_ascii=False) + "\n"
        else:
            text = render_text(report)
        failed = write_out(text)
        if failed is not None:
            raise HelperError(f"cannot write the report: {failed.strerror}")
        return EXIT_FAILURE if report["errors"] else EXIT_OK

    return guarded(body, lambda status, message, err: warn(message, "explain"))
