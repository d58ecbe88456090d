"""Running another ``docker-credential-*`` program: found on PATH as Go finds it, input on stdin (never argv),
our secrets out of its environment, bounded in time, its output never relayed verbatim.

``subprocess`` is not imported: with ``shutil`` it costs more start-up than the rest of a lookup, and a
backend ``get`` pays it on every call. ``os.posix_spawn`` with ``poll`` does what ``subprocess.run`` would.
"""

from __future__ import annotations

import os
import sys

from .errors import HelperError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

DEFAULT_TIMEOUT = 20.0
MAX_OUTPUT = 1 << 20  # of a helper's stdout; stderr is read only for its first line
# Variables that carry secrets this helper reads: a program we run has no business with them.
SECRET_NAMES = frozenset(
    {"IMGPKG_PASSWORD", "IMGPKG_TOKEN", "GITHUB_TOKEN", "DOCKER_AUTH_CONFIG"}
    | {f"IMGPKG_REGISTRY_{f}" for f in ("PASSWORD", "IDENTITY_TOKEN", "REGISTRY_TOKEN")}
)
# Linux's signal numbers, the same on every architecture. ``import signal`` would build its enums (and import
# enum, functools, collections) on every backend or keychain lookup: 2-4 ms of start-up in `make bench`.
SIGKILL, SIGPIPE = 9, 13
SECRET_PREFIXES = tuple(f"IMGPKG_REGISTRY_{f}_" for f in ("PASSWORD", "IDENTITY_TOKEN", "REGISTRY_TOKEN"))


class ProgramMissing(HelperError):
    """The external program is not on PATH."""


class Reply:
    __slots__ = ("returncode", "stderr", "stdout")

    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr

    def failure(self, who: str, verb: str, secret: str = "") -> str:
        """Why it failed, in our words: who, the exit status, and at most the first line of its stderr when that
        line cannot carry a secret: not JSON-like, not labelling a value as a password or token, and holding
        neither the request's ``secret`` nor a ``Secret`` the program printed. Its stdout is never quoted."""
        how = f"killed by signal {-self.returncode}" if self.returncode < 0 else f"exit status {self.returncode}"
        line = self.stderr.strip().partition("\n")[0].strip()[:500]
        if not line or "{" in line or '"' in line or _labels_a_secret(line):
            return f"{who}: {verb} failed ({how})"
        for known in (secret, self._printed_secret()):
            if known and _carries(line, known):
                return f"{who}: {verb} failed ({how})"
        return f"{who}: {verb} failed ({how}): {line}"

    def _printed_secret(self) -> str:
        """The ``Secret`` of credentials JSON the program printed although it failed ("" if none)."""
        if "{" not in self.stdout:
            return ""
        from .helper_json import json_object

        try:
            answer = json_object(self.stdout)
        except (ValueError, RecursionError):
            return ""
        if not isinstance(answer, dict):
            return ""
        found = next((v for k, v in answer.items() if k.lower() == "secret"), "")
        return found if isinstance(found, str) else ""


_SECRET_LABELS = ("secret", "password", "passwd", "token", "auth")


def _labels_a_secret(line: str) -> bool:
    """``password: …``, ``token=…``: a line that names a value as a secret probably carries it."""
    lowered = line.lower()
    for label in _SECRET_LABELS:
        start = lowered.find(label)
        while start >= 0:
            rest = lowered[start + len(label) :].lstrip(" \t")
            if rest[:1] in (":", "="):
                return True
            start = lowered.find(label, start + 1)
    return False


def _carries(line: str, secret: str) -> bool:
    """Whether ``line`` holds ``secret``, a line of it (a multi-line secret echoed back) or is a piece of it."""
    return line in secret or any(part in line for part in secret.splitlines() if part.strip())


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
    """Run ``program verb`` with ``data`` on stdin, in a process group of its own; the answer is taken when it
    exits (a grandchild left holding its stdout does not delay it). After the timeout the whole group is killed.

    ``role`` names who is asking ("keychain gke", "backend docker-credential-pass"), for messages.
    """
    path = find_program(program)
    if path is None:
        raise ProgramMissing(f"{role}: {program} not found in PATH")
    limit = timeout_seconds()
    try:
        returncode, out, err = _run([path, verb], data, child_environment(extra_env), limit)
    except TimeoutError:
        raise HelperError(f"{role}: {program} {verb} did not answer within {limit:g}s") from None
    except OSError as error:
        raise HelperError(f"{role}: cannot run {program}: {error.strerror}") from None
    return Reply(returncode, out.decode("utf-8", "replace").strip(), err.decode("utf-8", "replace"))


def child_environment(extra: Mapping[str, str] | None = None) -> dict[bytes, bytes]:
    """The environment the client gave us, less the secrets we read, plus ``extra``.

    In the single-file binary, PyInstaller's bootloader has pointed LD_LIBRARY_PATH at the bundle (keeping the
    user's value in LD_LIBRARY_PATH_ORIG) and set ``_PYI_*`` variables for its own restart: the program we run
    must not load our bundled libraries, nor, if it is frozen too, take itself for a part of us.
    """
    env = {}
    for name, value in os.environb.items():
        text = name.decode("utf-8", "replace")
        if text in SECRET_NAMES or text.startswith(SECRET_PREFIXES):
            continue
        env[name] = value
    if getattr(sys, "frozen", False):
        original = env.pop(b"LD_LIBRARY_PATH_ORIG", None)
        if original is not None:
            env[b"LD_LIBRARY_PATH"] = original
        else:
            env.pop(b"LD_LIBRARY_PATH", None)
        for name in [k for k in env if k.startswith(b"_PYI_") or k == b"_MEIPASS2"]:
            del env[name]
    for name, value in (extra or {}).items():
        env[name.encode()] = value.encode()
    return env


def find_program(name: str) -> str | None:
    """The first executable regular file called ``name`` on PATH, as Go's ``exec.LookPath`` finds it: an empty
    or relative PATH entry that would find it in (or under) the current directory is refused, not used."""
    if os.sep in name:  # a path, used as given (Go too)
        return name if os.path.isfile(name) and os.access(name, os.X_OK) else None
    for directory in os.environ.get("PATH", os.defpath).split(os.pathsep):
        path = os.path.join(directory or ".", name)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            if not os.path.isabs(path):
                raise HelperError(
                    f"{name} would run from the current directory ({path}, through a relative or empty PATH "
                    "entry); refusing, as Go's exec.LookPath does: make PATH entries absolute"
                )
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


def _run(argv: list[str], data: bytes, env: Mapping[bytes, bytes], limit: float) -> tuple[int, bytes, bytes]:
    """Run ``argv`` with ``data`` on stdin; (exit status, stdout, start of stderr). TimeoutError after ``limit``
    seconds, its process group killed. A negative status is the signal that ended it, as in subprocess."""
    import select
    import time

    deadline = time.monotonic() + limit
    pipes = [_above_stdio(fd) for _ in range(3) for fd in os.pipe()]
    in_r, in_w, out_r, out_w, err_r, err_w = pipes
    actions = [(os.POSIX_SPAWN_DUP2, in_r, 0), (os.POSIX_SPAWN_DUP2, out_w, 1), (os.POSIX_SPAWN_DUP2, err_w, 2)]
    actions += [(os.POSIX_SPAWN_CLOSE, fd) for fd in _inherited_fds(tuple(pipes))]
    try:
        # SIGPIPE back to its default in the program (we ignore it, as Python does), as subprocess does.
        pid = os.posix_spawn(argv[0], argv, env, file_actions=actions, setsigdef=(SIGPIPE,), setpgroup=0)
    except BaseException:
        for fd in pipes:
            os.close(fd)
        raise
    for fd in (in_r, out_w, err_w):
        os.close(fd)
    outputs: dict[int, list[bytes]] = {out_r: [], err_r: []}
    sizes = {out_r: 0, err_r: 0}
    caps = {out_r: MAX_OUTPUT, err_r: 4096}
    pending = memoryview(data)
    poller = select.poll()
    for fd in (out_r, err_r):
        poller.register(fd, select.POLLIN)
    try:
        pidfd = os.pidfd_open(pid)
        poller.register(pidfd, select.POLLIN)
    except (AttributeError, OSError):
        pidfd = -1
    if pending:
        os.set_blocking(in_w, False)
        poller.register(in_w, select.POLLOUT)
    else:
        os.close(in_w)
        in_w = -1
    open_outputs = 2
    status = None
    try:
        while status is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            # Without a pidfd, and once both outputs are closed, wake up now and then to look for the exit.
            wait = remaining if pidfd >= 0 and open_outputs else min(remaining, 0.02)
            for fd, _event in poller.poll(_milliseconds(wait)):
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
                elif fd in outputs and not _read_into(fd, outputs[fd], sizes, caps[fd]):
                    poller.unregister(fd)
                    open_outputs -= 1
            done, raw = os.waitpid(pid, os.WNOHANG)
            if done:
                status = os.waitstatus_to_exitcode(raw)
        # It has exited: what it wrote is in the pipes already; a grandchild holding them open is not waited for.
        for fd in outputs:
            os.set_blocking(fd, False)
            try:
                while _read_into(fd, outputs[fd], sizes, caps[fd]):
                    pass
            except BlockingIOError:
                pass
        return status, b"".join(outputs[out_r]), b"".join(outputs[err_r])
    except BaseException:
        for target in (lambda: os.killpg(pid, SIGKILL), lambda: os.kill(pid, SIGKILL)):
            try:
                target()
            except OSError:
                pass
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
        raise
    finally:
        for fd in (in_w, out_r, err_r, pidfd):
            if fd >= 0:
                os.close(fd)


def _read_into(fd: int, chunks: list[bytes], sizes: dict[int, int], cap: int) -> bool:
    """Read what ``fd`` has; False at end of file. Output beyond ``cap`` is read and dropped."""
    chunk = os.read(fd, 65536)
    if not chunk:
        return False
    if sizes[fd] < cap:
        chunks.append(chunk[: cap - sizes[fd]])
        sizes[fd] += len(chunk)
    return True
