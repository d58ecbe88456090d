"""The command line: argv to a command (``commands/``), the re-execution that isolates the console script from
Python's own environment, and the streams' set-up. Nothing imports this module; each command writes its own
output through ``stdio``."""

from __future__ import annotations

import os
import sys

from . import PROGRAM, __version__

USAGE = f"Usage: {PROGRAM} <store|get|erase|list|version>"
HELP = f"""{USAGE}

A Docker credential helper. Clients (docker, skopeo, podman, crane, docker-py) run it with one action and
write the server address to its standard input; it answers on standard output.

  echo gcr.io | {PROGRAM} get     credentials for a registry, as JSON
  {PROGRAM} store                 read {{"ServerURL","Username","Secret"}} JSON from stdin and keep it
  echo gcr.io | {PROGRAM} erase   forget what store kept for a registry
  {PROGRAM} list                  registries with credentials, and their usernames
  {PROGRAM} version               print the version
  {PROGRAM} configure docker|containers [--registry HOST ...] [--dry-run]
                                  point docker / skopeo / podman at this helper
  {PROGRAM} explain [--json] [ADDRESS ...]
                                  which source answers each spelling of an address, and why (no secrets)
  {PROGRAM} kubelet               a kubelet image credential provider (configure kubelet --config FILE)

Credentials come from imgpkg's IMGPKG_REGISTRY_* variables first, then IMGPKG_ACTIVE_KEYCHAINS,
IMGPKG_USERNAME/IMGPKG_PASSWORD, this helper's store and docker's config.json.
Set DOCKER_CREDENTIAL_IMGPKG_DEBUG=1 to see on stderr which source answered and why (secrets hidden).
"""


def _isolate() -> None:
    """Run again as ``python -I -X utf8`` when Python's own environment could change the answer.

    The console script starts as a plain ``python`` (pip writes its wrapper), so ``PYTHONPATH`` could shadow a
    module we import, ``PYTHONINSPECT`` could leave an interpreter prompt after the answer, a non-UTF-8 locale
    would decode the environment otherwise. Re-executing costs a whole start-up, so only when some ``PYTHON*``
    variable is set or the locale is not UTF-8; the single-file binary is isolated from the start.
    """
    if (sys.flags.isolated and sys.flags.utf8_mode) or getattr(sys, "frozen", False) or not sys.executable:
        return
    if sys.getfilesystemencoding() == "utf-8" and not _python_variable_set():
        return
    pythonpath = {os.path.abspath(p) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p}
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if root in pythonpath:
        # A checkout found only through PYTHONPATH (the build runs it so): -I would lose the package itself.
        # Keep that one entry and drop the others, before anything else is imported.
        sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") not in pythonpath or os.path.abspath(p) == root]
        return
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    if spec is not None and spec.name:  # python -m docker_credential_imgpkg.cli
        start = ["-m", spec.name]
    elif sys.argv and os.path.isfile(sys.argv[0]):  # the console script, however the client spelled its path
        start = [os.path.abspath(sys.argv[0])]
    else:
        return
    try:
        os.execv(sys.executable, [sys.executable, "-I", "-X", "utf8", *start, *sys.argv[1:]])
    except OSError:
        pass  # answer as we are rather than not at all


def _python_variable_set() -> bool:
    """Whether we were started with any ``PYTHON*`` variable. One read of /proc/self/environ: decoding every name
    of a large environment through ``os.environ`` costs about 1 ms per 3,000 variables, on every call."""
    try:
        with open("/proc/self/environ", "rb") as f:
            return b"\0PYTHON" in b"\0" + f.read()
    except OSError:
        return any(name.startswith("PYTHON") for name in os.environ)


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        _isolate()
    args = sys.argv[1:] if argv is None else argv
    from .stdio import EXIT_FAILURE, EXIT_OK, answer, setup_streams

    setup_streams()
    command = args[0] if args else ""
    environ = os.environ
    if command == "configure":
        from .commands.configure.command import main as configure

        return configure(args[1:], environ)
    if command == "explain":
        from .commands.explain import main as explain

        return explain(args[1:], environ)
    if command == "kubelet":  # the kubelet's image credential provider protocol
        from .commands.kubelet import main as kubelet

        return kubelet(args[1:], environ)
    if len(args) != 1:
        return answer(USAGE + "\n", EXIT_FAILURE)
    if command in ("get", "store", "erase", "list"):
        from .commands.protocol_verbs import main as protocol_verb

        return protocol_verb(command, environ)
    if command in ("version", "--version", "-v"):
        return answer(f"{PROGRAM} ({PROGRAM}) {__version__}\n", EXIT_OK)
    if command in ("--help", "-h"):
        return answer(HELP, EXIT_OK)
    return answer(f"{PROGRAM}: unknown action: {command}\n", EXIT_FAILURE)


if __name__ == "__main__":
    sys.exit(main())
