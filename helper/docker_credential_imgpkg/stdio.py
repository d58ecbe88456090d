"""The process's edges, shared by every command: the streams (UTF-8 whatever the locale, never a crash on a
character they cannot carry), bounded standard input, writing the answer, and the one mapping from how a command
ended to its exit status and message.

    0  done            1  failed (the message says why; for get: also "not found")      2  wrong command line
"""

from __future__ import annotations

import os
import sys

from . import PROGRAM
from .errors import HelperError, UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


def setup_streams() -> None:
    """stdout and stderr as UTF-8 with backslash escapes for what UTF-8 cannot carry (a lone surrogate from an
    undecodable argument is written as ``\\udcfe``, never as the raw byte nor as a UnicodeEncodeError)."""
    if sys.stderr is None:  # started with fd 2 closed: print(file=None) would put the trace on stdout
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
    for stream in (sys.stdout, sys.stderr):
        if stream is not None and hasattr(stream, "reconfigure"):
            stream.reconfigure(encoding="utf-8", errors="backslashreplace")


def read_stdin(limit: int) -> bytes:
    """All of standard input, refusing more than ``limit`` bytes without reading the rest."""
    fd = sys.stdin.fileno() if sys.stdin is not None else -1
    if fd < 0:
        return b""
    try:
        data = read_bounded(fd, limit)
    except OSError as err:  # stdin is a directory, a closed socket, ...
        raise HelperError(f"cannot read standard input: {err.strerror}") from None
    if data is None:
        raise HelperError(f"input larger than {limit >> 20} MiB refused")
    return data


def read_bounded(fd: int, limit: int) -> bytes | None:
    """Everything ``fd`` holds; None, without reading the rest, when that is more than ``limit`` bytes. A
    descriptor left non-blocking by whoever shares it (a pipe) is waited on rather than failed. Raises OSError."""
    chunks: list[bytes] = []
    size = 0
    while True:
        try:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
        except BlockingIOError:
            import select

            select.select([fd], [], [])
            continue
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            return None


def write_out(text: str) -> OSError | None:
    """Write ``text`` to stdout and flush; the error when it cannot be written (the reader went away, EPIPE, or
    stdout is unwritable, ENOSPC or EIO). stdout is then pointed at /dev/null, so that Python does not complain
    again at exit."""
    if sys.stdout is None:  # started with fd 1 closed: nobody can read an answer
        import errno

        return OSError(errno.EBADF, os.strerror(errno.EBADF))
    try:
        if text:
            sys.stdout.write(text)
        sys.stdout.flush()
    except OSError as err:
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return err
    return None


def answer(text: str, status: int) -> int:
    """Write a protocol answer; ``status``, or 1 when it could not be written (said on stderr unless the reader
    simply went away)."""
    error = write_out(text)
    if error is None:
        return status
    if not isinstance(error, BrokenPipeError):
        warn(f"cannot write the answer: {error.strerror}")
    return EXIT_FAILURE


def warn(message: str, command: str = "") -> None:
    """One line on stderr: ``docker-credential-imgpkg[ command]: message``."""
    prefix = f"{PROGRAM} {command}" if command else PROGRAM
    try:
        sys.stderr.write(f"{prefix}: {' '.join(message.splitlines())}\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def outcome(err: BaseException) -> tuple[int, str]:
    """The exit status and message of a command that raised ``err``: the one mapping every command uses."""
    if isinstance(err, UsageError):
        return EXIT_USAGE, str(err)
    if isinstance(err, HelperError):
        return EXIT_FAILURE, str(err)
    if isinstance(err, KeyboardInterrupt):
        return EXIT_FAILURE, "interrupted"
    return EXIT_FAILURE, internal_error(err)


def guarded(body: Callable[[], int], report: Callable[[int, str, BaseException], None]) -> int:
    """Run a command's ``body``; if it raises, ``report`` the outcome on the command's channel and return its exit
    status. Never a traceback: its text could carry a secret."""
    try:
        return body()
    except (Exception, KeyboardInterrupt) as err:
        status, message = outcome(err)
        report(status, message, err)
        return status


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
