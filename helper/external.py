"""Running another ``docker-credential-*`` program: input on stdin (never argv), bounded time, clear errors.

Neither ``subprocess`` nor ``shutil`` is imported: together they cost more start-up than the rest of a lookup
(``shutil`` pulls in bz2, lzma and re; ``subprocess`` threading, selectors and locale), and a backend ``get``
pays it on every call. ``os.posix_spawn`` plus ``poll`` does what ``subprocess.run`` did here.
"""

from __future__ import annotations

import os
import sys

from .errors import HelperError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

DEFAULT_TIMEOUT = 20.0


class ProgramMissing(HelperError):
    """The external program is not on PATH."""


class Reply:
    __slots__ = ("returncode", "stdout")

    def __init__(self, returncode: int, stdout: str) -> None:
        self.returncode = returncode
        self.stdout = stdout


def timeout_seconds() -> float:
    raw = os.environ.get("DOCKER_CREDENTIAL_IMGPKG_TIMEOUT", "")
    try:
        value = float(raw) if raw else DEFAULT_TIMEOUT
    except ValueError:
        raise HelperError(f"DOCKER_CREDENTIAL_IMGPKG_TIMEOUT must be a number of seconds, got {raw!r}") from None
    return value if value > 0 else DEFAULT_TIMEOUT


def run_program(
    program: str, verb: str, data: bytes, *, role: str, extra_env: Mapping[str, str] | None = None
) -> Reply:
    """Run ``program verb`` with ``data`` on stdin; its stderr passes through to the user.

    ``role`` names who is asking ("keychain gke", "backend"), for messages that say exactly what failed.
    ``extra_env`` is added to the inherited environment (a marker the child passes on, say).
    """
    path = find_program(program)
    if path is None:
        raise ProgramMissing(f"{role}: {program} not found in PATH")
    limit = timeout_seconds()
    env = child_environment(extra_env)
    try:
        returncode, out = _run([path, verb], data, env, limit)
    except TimeoutError:
        raise HelperError(f"{role}: {program} {verb} did not answer within {limit:g}s") from None
    except OSError as err:
        raise HelperError(f"{role}: cannot run {program}: {err.strerror}") from None
    return Reply(returncode, out.decode("utf-8", "replace").strip())


def child_environment(extra: Mapping[str, str] | None = None) -> Mapping[str, str]:
    """The environment the client gave us, plus ``extra``.

    In the single-file binary, PyInstaller's bootloader has pointed LD_LIBRARY_PATH at the bundle (keeping the
    user's value in LD_LIBRARY_PATH_ORIG) and set ``_PYI_*`` variables for its own restart: the program we run
    must not load our bundled libraries, nor, if it is frozen too, take itself for a part of us.
    """
    frozen = getattr(sys, "frozen", False)
    if not frozen and not extra:
        return os.environ
    env = dict(os.environ)
    if frozen:
        original = env.pop("LD_LIBRARY_PATH_ORIG", None)
        if original is not None:
            env["LD_LIBRARY_PATH"] = original
        else:
            env.pop("LD_LIBRARY_PATH", None)
        for name in [k for k in env if k.startswith("_PYI_") or k == "_MEIPASS2"]:
            del env[name]
    if extra:
        env.update(extra)
    return env


def find_program(name: str) -> str | None:
    """``shutil.which(name)`` for POSIX: the first executable regular file called ``name`` on PATH."""
    if os.sep in name:
        candidates = [name]
    else:
        candidates = [os.path.join(d, name) for d in os.environ.get("PATH", os.defpath).split(os.pathsep)]
    for path in candidates:
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


def _above_stdio(fd: int) -> int:
    """``fd`` moved to 3 or above (only if stdin/stdout/stderr were closed when we started)."""
    if fd > 2:
        return fd
    import fcntl

    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)
    os.close(fd)
    return moved


def _inherited_fds(keep: tuple[int, ...]) -> list[int]:
    """Inheritable descriptors above stderr that we did not open: subprocess's ``close_fds=True``."""
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:
        return []
    found = []
    for name in names:
        fd = int(name)
        if fd > 2 and fd not in keep:
            try:
                if os.get_inheritable(fd):
                    found.append(fd)
            except OSError:  # the descriptor listdir itself used, now closed
                pass
    return found


def _milliseconds(seconds: float) -> int:
    """A poll() timeout; an hour at most per wait, so DOCKER_CREDENTIAL_IMGPKG_TIMEOUT=inf cannot overflow it."""
    return int(min(seconds, 3600.0) * 1000) + 1


def _run(argv: list[str], data: bytes, env: Mapping[str, str], limit: float) -> tuple[int, bytes]:
    """Run ``argv`` with ``data`` on stdin and stderr inherited; (exit status, stdout). TimeoutError after
    ``limit`` seconds, the program killed. A negative status is the signal that ended it, as in subprocess."""
    import select
    import time
    from _signal import SIGKILL, SIGPIPE  # the C module: signal.py builds enums at import (~0.7 ms)

    deadline = time.monotonic() + limit
    in_r, in_w = (_above_stdio(fd) for fd in os.pipe())
    out_r, out_w = (_above_stdio(fd) for fd in os.pipe())
    actions = [(os.POSIX_SPAWN_DUP2, in_r, 0), (os.POSIX_SPAWN_DUP2, out_w, 1)]
    actions += [(os.POSIX_SPAWN_CLOSE, fd) for fd in _inherited_fds((in_r, in_w, out_r, out_w))]
    try:
        # SIGPIPE back to its default in the program (we ignore it, as Python does), as subprocess does.
        pid = os.posix_spawn(argv[0], argv, env, file_actions=actions, setsigdef=(SIGPIPE,))
    except BaseException:
        for fd in (in_r, in_w, out_r, out_w):
            os.close(fd)
        raise
    os.close(in_r)
    os.close(out_w)
    chunks: list[bytes] = []
    pending = memoryview(data)
    poller = select.poll()
    poller.register(out_r, select.POLLIN)
    if pending:
        os.set_blocking(in_w, False)
        poller.register(in_w, select.POLLOUT)
    else:
        os.close(in_w)
        in_w = -1
    try:
        while out_r >= 0:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            for fd, _event in poller.poll(_milliseconds(remaining)):
                if fd == in_w:
                    try:
                        pending = pending[os.write(in_w, pending[:65536]) :]
                    except BlockingIOError:
                        continue
                    except BrokenPipeError:  # it stopped reading: the rest of the input is not wanted
                        pending = pending[:0]
                    if not pending:
                        poller.unregister(in_w)
                        os.close(in_w)
                        in_w = -1
                elif fd == out_r:
                    chunk = os.read(out_r, 65536)
                    if chunk:
                        chunks.append(chunk)
                    else:
                        poller.unregister(out_r)
                        os.close(out_r)
                        out_r = -1
        # stdout is closed; the exit follows at once, unless the program lives on without it. A pidfd says
        # exactly when it has exited (Linux 5.3+); elsewhere, short sleeps.
        try:
            pidfd = os.pidfd_open(pid)
            exited = select.poll()
            exited.register(pidfd, select.POLLIN)
        except (AttributeError, OSError):
            pidfd = -1
        try:
            delay = 0.0005
            while True:
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    return os.waitstatus_to_exitcode(status), b"".join(chunks)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError
                if pidfd >= 0:
                    exited.poll(_milliseconds(remaining))
                else:
                    time.sleep(min(delay, remaining))
                    delay = min(delay * 2, 0.02)
        finally:
            if pidfd >= 0:
                os.close(pidfd)
    except BaseException:
        try:
            os.kill(pid, SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        raise
    finally:
        for fd in (in_w, out_r):
            if fd >= 0:
                os.close(fd)


def first_line(text: str, limit: int = 300) -> str:
    line = text.splitlines()[0] if text else ""
    return line if len(line) <= limit else line[:limit] + "…"
