"""Command line: argv, bounded stdin, and the protocol's stdout + exit-status contract. The protocol's answers
are written here and nowhere else (the debug trace, ``configure`` and ``explain`` write their own output)."""

from __future__ import annotations

import os
import sys

from . import PROGRAM, __version__
from .errors import HelperError, NotFound

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


def read_stdin(limit: int) -> bytes:
    """All of stdin, refusing more than ``limit`` bytes without reading the rest."""
    fd = sys.stdin.fileno() if sys.stdin is not None else -1
    if fd < 0:
        return b""
    chunks, size = [], 0
    while True:
        try:
            chunk = os.read(fd, min(1 << 16, limit + 1 - size))
        except BlockingIOError:  # a caller left O_NONBLOCK set on a shared pipe: wait, don't fail
            import select

            select.select([fd], [], [])
            continue
        except OSError as err:  # stdin is a directory, a closed socket, ...
            raise HelperError(f"cannot read standard input: {err.strerror}") from None
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            raise HelperError(f"input larger than {limit >> 20} MiB refused")


def run(action: str) -> str:
    """Perform one protocol action and return what goes to stdout."""
    from .chain import Chain
    from .protocol import MAX_INPUT_BYTES

    environ = os.environ
    if action == "list":
        from .protocol import encode_list

        return encode_list(Chain(environ, delegate=False).list())
    data = read_stdin(MAX_INPUT_BYTES)
    if action == "get":
        from .protocol import decode_server_url, encode_get

        return encode_get(Chain(environ).get(decode_server_url(data)))
    chain = Chain(environ)
    if action == "store":
        from .protocol import decode_store

        chain.store.save(decode_store(data), chain.trace)
        return ""
    from .protocol import decode_server_url

    chain.store.erase(decode_server_url(data), chain.trace)
    return ""


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
    if sys.stderr is None:  # started with fd 2 closed: print(file=None) would put the trace on stdout
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
    for stream in (sys.stdout, sys.stderr):  # the wire is UTF-8, whatever the locale says
        encoding = getattr(stream, "encoding", None)
        if encoding and encoding.replace("-", "").lower() != "utf8" and hasattr(stream, "reconfigure"):
            stream.reconfigure(encoding="utf-8", errors="backslashreplace")
    if args and args[0] == "configure":
        from .configure import main as configure

        return configure(args[1:])
    if args and args[0] == "explain":
        from .explain import main as explain

        return explain(args[1:])
    if args and args[0] == "kubelet":  # the kubelet's image credential provider protocol
        from .kubelet import main as kubelet

        return kubelet(args[1:])
    if len(args) != 1:
        return _emit(USAGE + "\n", 1)
    action = args[0]
    if action in ("version", "--version", "-v"):
        return _emit(f"{PROGRAM} ({PROGRAM}) {__version__}\n", 0)
    if action in ("--help", "-h"):
        return _emit(HELP, 0)
    if action not in ("get", "store", "erase", "list"):
        return _emit(f"{PROGRAM}: unknown action: {action}\n", 1)
    try:
        return _emit(run(action), 0)
    except NotFound as err:
        return _emit(f"{err}\n", 1)
    except HelperError as err:
        _tell_user(str(err))
        return _emit(f"{err}\n", 1)
    except KeyboardInterrupt:
        return _emit("interrupted\n", 1)
    except Exception as err:  # never a traceback: its text could carry a secret
        message = internal_error(err)
        _tell_user(message)
        return _emit(f"{PROGRAM}: {message}\n", 1)


def _tell_user(message: str) -> None:
    """Also put an error on stderr: docker discards a failing helper's stdout but shows its stderr."""
    try:
        if not sys.stdout.isatty():
            sys.stderr.write(f"{PROGRAM}: {message}\n")
    except (OSError, ValueError):
        pass


def internal_error(err: BaseException) -> str:
    """What an unexpected exception says to the user: its type and file:line, never its message or a traceback
    (either could carry a secret)."""
    return f"internal error ({type(err).__name__}{_origin(err)}); please report it"


def _origin(err: BaseException) -> str:
    tb = err.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return ""
    return f" at {os.path.basename(tb.tb_frame.f_code.co_filename)}:{tb.tb_lineno}"


def _emit(text: str, status: int) -> int:
    if sys.stdout is None:  # started with fd 1 closed: nobody can read an answer
        return 1
    try:
        if text:
            sys.stdout.write(text)
        sys.stdout.flush()
    except OSError as err:
        # The client went away (EPIPE) or stdout is unwritable (ENOSPC, EIO): say so on stderr, and keep
        # Python from complaining again at exit by pointing stdout at /dev/null.
        if not isinstance(err, BrokenPipeError):
            sys.stderr.write(f"{PROGRAM}: cannot write the answer: {err.strerror}\n")
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 1
    return status


if __name__ == "__main__":
    sys.exit(main())
