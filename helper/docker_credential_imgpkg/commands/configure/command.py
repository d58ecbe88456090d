"""``docker-credential-imgpkg configure docker|containers|kubelet``: the command line, and running the edits
(``docker``, ``kubelet``) through ``edit.Edit``: plan, show (``--dry-run``) or write, say what changed."""

from __future__ import annotations

import argparse
import sys

from ... import PROGRAM
from ...client import find_program
from ...errors import HelperError, UsageError, shown, shown_plain
from ...paths import KUBELET_BIN_DIR, containers_auth_path, docker_config_path, settings_path
from ...stdio import EXIT_OK, EXIT_USAGE, guarded, warn, write_out
from .edit import Edit, NotJSON

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=f"{PROGRAM} configure",
        description="Set clients up to use this helper. Edits only the keys it owns; --dry-run shows the diff.",
    )
    sub = parser.add_subparsers(dest="client", metavar="{docker,containers,kubelet}")
    docker = sub.add_parser(
        "docker",
        help="docker CLI, docker-py, crane: credsStore, or credHelpers for --registry hosts",
        description='Without --registry: set "credsStore": "imgpkg" (every registry). With --registry: add '
        '"credHelpers" entries for those hosts only. File: $DOCKER_CONFIG/config.json, else ~/.docker/config.json.',
    )
    containers = sub.add_parser(
        "containers",
        help="skopeo, podman, buildah: credHelpers for --registry hosts in containers auth.json",
        description='Add "credHelpers" entries (skopeo/podman ignore credsStore). File: $REGISTRY_AUTH_FILE, '
        "else ${XDG_CONFIG_HOME:-~/.config}/containers/auth.json.",
    )
    for p in (docker, containers):
        p.add_argument(
            "--registry",
            action="append",
            default=[],
            metavar="HOST",
            help="registry host[:port] or URL (repeatable); any Docker Hub name writes both Hub keys",
        )
        p.add_argument("--file", help="edit this file instead of the default location")
        p.add_argument("--dry-run", action="store_true", help="print the change as a unified diff; write nothing")
    docker.add_argument(
        "--keep-store",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="keep the credsStore found in the file underneath this helper: record it as the backend "
        '("helper:NAME" in ${XDG_CONFIG_HOME:-~/.config}/docker-credential-imgpkg/config.json) so what it stores '
        "stays in use. Default: on when credsStore is replaced, off with --registry",
    )
    kubelet = sub.add_parser(
        "kubelet",
        help="kubelet: this helper as an image credential provider in a CredentialProviderConfig file",
        description="Add (or update) this helper's provider in the kubelet's CredentialProviderConfig FILE, with "
        "matchImages for every registry it can answer now (IMGPKG_REGISTRY_* entries, its store, docker's "
        "config.json). Other providers are kept. Run it with the variables the kubelet will have.",
    )
    kubelet.add_argument("--config", required=True, metavar="FILE", help="the file to write (JSON)")
    kubelet.add_argument(
        "--match-image",
        action="append",
        default=[],
        metavar="PATTERN",
        help="also ask this helper for images matching PATTERN (host[:port][/path], *.glob; repeatable)",
    )
    kubelet.add_argument(
        "--bin-dir",
        default=KUBELET_BIN_DIR,
        metavar="DIR",
        help="the kubelet's --image-credential-provider-bin-dir, for the instructions printed "
        f"(default {KUBELET_BIN_DIR})",
    )
    kubelet.add_argument("--dry-run", action="store_true", help="print the change as a unified diff; write nothing")
    return parser


def main(args: list[str], environ: Mapping[str, str]) -> int:
    parser = _parser()
    try:
        opts = parser.parse_args(args)
    except SystemExit as exit_:  # argparse has printed usage or help
        return EXIT_USAGE if exit_.code else EXIT_OK

    def body() -> int:
        if opts.client is None:
            parser.print_usage(sys.stderr)
            raise UsageError("name a client: docker, containers or kubelet")
        if opts.client == "kubelet":
            return _kubelet(opts, environ)
        return _docker(opts, environ)

    return guarded(body, lambda status, message, err: warn(message, "configure"))


def _say(text: str) -> None:
    failed = write_out(text)
    if failed is not None:
        raise HelperError(f"cannot write to standard output: {failed.strerror}")


def _docker(opts: argparse.Namespace, environ: Mapping[str, str]) -> int:
    """``configure docker`` and ``configure containers``."""
    from .docker import credhelper_keys_for, plan_backend, plan_containers, plan_docker

    if opts.client == "containers" and not opts.registry:
        raise UsageError(
            "containers: give at least one --registry HOST (skopeo and podman have no catch-all credsStore)"
        )
    keys = credhelper_keys_for(opts.registry)  # checked before any file is read
    path = opts.file or (docker_config_path(environ) if opts.client == "docker" else containers_auth_path(environ))
    if opts.client == "docker":
        edit = Edit(path, lambda config: plan_docker(config, keys, opts.keep_store))
    else:
        edit = Edit(path, lambda config: plan_containers(config, keys))
    warnings = edit.result.warnings
    kept = None
    store = edit.result.keep
    if store is not None:  # --keep-store: the settings file first names the old store as our backend
        from ...settings import BACKEND_VAR

        origin = f"credsStore {shown(store)} in {path}"
        kept = Edit(settings_path(environ), lambda config: plan_backend(config, store, origin, environ))
        if not kept.result.notes:
            kept = None
        if _on_path(f"docker-credential-{store}", environ) is None:
            warnings.append(
                f"docker-credential-{store} is not on PATH: the credentials it kept stay unreachable until it is"
            )
        override = environ.get(BACKEND_VAR, "").strip()
        if override and override != f"helper:{store}":
            warnings.append(f"{BACKEND_VAR}={shown_plain(override)} is set and wins over the settings file")
    for warning in warnings:
        _warning(warning)
    if not edit.changes and not kept:
        _say(f"{path}: already configured, nothing to change\n")
        return EXIT_OK
    if opts.dry_run:
        diff = edit.diff() if edit.changes else ""
        if kept:
            diff += kept.diff()
        _say(diff or f"{path}: no change\n")
        return EXIT_OK
    if kept:  # first: docker is pointed at this helper only once the old store is reachable through it
        kept.write()
        _say(f"{kept.path}: " + "; ".join(kept.result.notes) + "\n")
    if edit.changes:
        edit.write()
        if edit.result.notes or not edit.config.exists:
            _say(f"{path}: " + ("; ".join(edit.result.notes) if edit.result.notes else "created") + "\n")
        else:
            _say(f"{path}: already configured, nothing to change\n")
    if _on_path(PROGRAM, environ) is None:
        _warning(f"{PROGRAM} is not on PATH; clients will fail with 'executable file not found' until it is")
    return EXIT_OK


def _kubelet(opts: argparse.Namespace, environ: Mapping[str, str]) -> int:
    """``configure kubelet``."""
    from .kubelet import NEW_FILE_INDENT, current_patterns, next_steps, paste_block, plan_kubelet

    path: str = opts.config
    warnings: list[str] = []
    patterns = current_patterns(environ, opts.match_image, warnings)
    try:
        edit = Edit(path, lambda config: plan_kubelet(config, patterns), NEW_FILE_INDENT)
    except NotJSON:
        _say(f"Add this provider to the file's providers list yourself:\n{paste_block(patterns)}")
        raise
    for warning in warnings + edit.result.warnings:
        _warning(warning)
    changed = bool(edit.result.notes)  # a file already right is left byte for byte, whatever its layout
    if opts.dry_run:
        _say(edit.diff() if changed else f"{path}: no change\n")
    else:
        if changed:
            edit.write()  # re-planned on the file as it is then: another writer may have made the change
        notes = edit.result.notes
        _say(f"{path}: " + ("; ".join(notes) if notes else "already configured, nothing to change") + "\n")
    steps = next_steps(path, opts.bin_dir)
    if opts.dry_run:  # the diff alone is on stdout (it can be saved as a patch)
        sys.stderr.write(steps)
    else:
        _say(steps)
    return EXIT_OK


def _warning(text: str) -> None:
    try:
        sys.stderr.write(f"warning: {text}\n")
    except (OSError, ValueError):
        pass


def _on_path(name: str, environ: Mapping[str, str]) -> str | None:
    try:
        return find_program(name, environ)
    except HelperError:
        return None
