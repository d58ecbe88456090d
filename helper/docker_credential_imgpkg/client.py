"""Running another ``docker-credential-*`` program and decoding its answers: the one place that does either,
for the keychains and the backends alike (docker-credential-helpers' ``client`` package, in Python).

The program is found on PATH as Go finds it, given its input on stdin (never argv), run without our secrets in
its environment, bounded in time; its output is never relayed verbatim. Helpers answer with a flat JSON object
of strings: decoding that here saves importing ``json`` (~2 ms of start-up, paid on every delegated or backend
lookup); anything else goes to ``json``, so the result is always exactly ``json.loads``'s.

``subprocess`` is not imported: with ``shutil`` it costs more start-up than the rest of a lookup, and a
backend ``get`` pays it on every call. ``os.posix_spawn`` with ``poll`` does what ``subprocess.run`` would.
"""

from __future__ import annotations

import os
import sys

from .errors import HelperError
from .protocol import NOT_FOUND_MESSAGE, Credentials, encode_get

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

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


def run_program(
    program: str,
    verb: str,
    data: bytes,
    *,
    role: str,
    environ: Mapping[str, str],
    extra_env: Mapping[str, str] | None = None,
) -> Reply:
    """Run ``program verb`` with ``data`` on stdin, in a process group of its own; the answer is taken when it
    exits (a grandchild left holding its stdout does not delay it). After the timeout the whole group is killed.

    ``role`` names who is asking ("keychain gke", "backend docker-credential-pass"), for messages.
    """
    from .settings import timeout_seconds

    path = find_program(program, environ)
    if path is None:
        raise ProgramMissing(f"{role}: {program} not found in PATH")
    limit = timeout_seconds(environ)
    try:
        returncode, out, err = _run([path, verb], data, child_environment(environ, extra_env), limit)
    except TimeoutError:
        raise HelperError(f"{role}: {program} {verb} did not answer within {limit:g}s") from None
    except OSError as error:
        raise HelperError(f"{role}: cannot run {program}: {error.strerror}") from None
    return Reply(returncode, out.decode("utf-8", "replace").strip(), err.decode("utf-8", "replace"))


def child_environment(environ: Mapping[str, str], extra: Mapping[str, str] | None = None) -> dict[bytes, bytes]:
    """The environment the client gave us, less the secrets we read, plus ``extra``.

    In the single-file binary, PyInstaller's bootloader has pointed LD_LIBRARY_PATH at the bundle (keeping the
    user's value in LD_LIBRARY_PATH_ORIG) and set ``_PYI_*`` variables for its own restart: the program we run
    must not load our bundled libraries, nor, if it is frozen too, take itself for a part of us.
    """
    env: dict[bytes, bytes] = {}
    source = os.environb if environ is os.environ else {os.fsencode(k): os.fsencode(v) for k, v in environ.items()}
    for name, raw in source.items():
        text = name.decode("utf-8", "replace")
        if text in SECRET_NAMES or text.startswith(SECRET_PREFIXES):
            continue
        env[name] = raw
    if getattr(sys, "frozen", False):
        original = env.pop(b"LD_LIBRARY_PATH_ORIG", None)
        if original is not None:
            env[b"LD_LIBRARY_PATH"] = original
        else:
            env.pop(b"LD_LIBRARY_PATH", None)
        for name in [k for k in env if k.startswith(b"_PYI_") or k == b"_MEIPASS2"]:
            del env[name]
    for key, value in (extra or {}).items():
        env[key.encode()] = value.encode()
    return env


def find_program(name: str, environ: Mapping[str, str]) -> str | None:
    """The first executable regular file called ``name`` on ``environ``'s PATH, as Go's ``exec.LookPath`` finds
    it: an empty or relative PATH entry that would find it in (or under) the current directory is refused."""
    if os.sep in name:  # a path, used as given (Go too)
        return name if os.path.isfile(name) and os.access(name, os.X_OK) else None
    for directory in environ.get("PATH", os.defpath).split(os.pathsep):
        path = os.path.join(directory or ".", name)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            if not os.path.isabs(path):
                raise HelperError(
                    f"{name} would run from the current directory ({path}, through a relative or empty PATH "
                    "entry); refusing, as Go's exec.LookPath does: make PATH entries absolute"
                )
            return path
    return None


class ProgramFailed(HelperError):
    """The program ran and failed; ``reply`` is what it said, for callers that recognise a known answer."""

    def __init__(self, message: str, reply: Reply) -> None:
        super().__init__(message)
        self.reply = reply


class HelperClient:
    """The protocol's four verbs run against another helper, as docker's ``client.Get``/``List``/``Store``/
    ``Erase`` do: the address or JSON on stdin, one verb in argv, its answer decoded or its failure worded."""

    def __init__(
        self, program: str, role: str, environ: Mapping[str, str], extra_env: Mapping[str, str] | None = None
    ) -> None:
        self.program = program
        self.role = role  # "backend docker-credential-pass", "keychain gke: docker-credential-gcr"
        self.environ = environ
        self.extra_env = extra_env

    def run(self, verb: str, data: bytes) -> Reply:
        return run_program(self.program, verb, data, role=self.role, environ=self.environ, extra_env=self.extra_env)

    def failed(self, verb: str, reply: Reply, secret: str = "") -> ProgramFailed:
        return ProgramFailed(reply.failure(self.role, verb, secret), reply)

    def get(self, address: str) -> tuple[str, str] | None:
        """(Username, Secret) for ``address``; None when the helper says not found or answers empty credentials."""
        reply = self.run("get", address.encode("utf-8"))
        if reply.returncode != 0:
            if says_not_found(reply.stdout):
                return None
            raise self.failed("get", reply)
        return credentials_answer(reply.stdout, f"{self.role}: get")

    def list(self) -> dict[str, str]:
        """Its keys and usernames, as listed (entries that are not strings dropped)."""
        reply = self.run("list", b"unused")  # what Go clients write; helpers do not read it
        if reply.returncode != 0:
            raise self.failed("list", reply)
        try:
            answer = json_object(reply.stdout or "{}")
        except (ValueError, RecursionError):
            answer = ()
        if answer is None:
            answer = {}  # a Go nil map
        if not isinstance(answer, dict):
            raise HelperError(f"{self.role}: list answered something that is not a JSON object")
        return {k: v for k, v in answer.items() if k.strip() and isinstance(v, str)}

    def store(self, creds: Credentials) -> None:
        reply = self.run("store", encode_get(creds).encode("utf-8"))  # the same JSON docker sends to store
        if reply.returncode != 0:
            raise self.failed("store", reply, creds.secret)

    def erase(self, address: str) -> bool:
        """True when it erased ``address``, False when it says not found; ProgramFailed for any other failure."""
        reply = self.run("erase", address.encode("utf-8"))
        if reply.returncode == 0:
            return True
        if says_not_found(reply.stdout):
            return False
        raise self.failed("erase", reply)


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
    actions: list[tuple[int, int] | tuple[int, int, int]] = [
        (os.POSIX_SPAWN_DUP2, in_r, 0),
        (os.POSIX_SPAWN_DUP2, out_w, 1),
        (os.POSIX_SPAWN_DUP2, err_w, 2),
    ]
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
        for kill in (os.killpg, os.kill):  # its whole process group, or at least itself
            try:
                kill(pid, SIGKILL)
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


def says_not_found(stdout: str) -> bool:
    """Whether a failed run's stdout is the protocol's not-found (the only output of another helper we read
    on failure)."""
    return stdout.strip() == NOT_FOUND_MESSAGE


def credentials_answer(text: str, who: str) -> tuple[str, str] | None:
    """(Username, Secret) from a ``get`` answer; None when both are empty (Debian's docker-credential-pass
    0.6.4 and env-driven helpers say "not found" that way, with exit 0)."""
    try:
        answer = json_object(text)
    except (ValueError, RecursionError):
        answer = None
    username = answer.get("Username") or "" if isinstance(answer, dict) else None
    secret = answer.get("Secret") or "" if isinstance(answer, dict) else None
    if not isinstance(username, str) or not isinstance(secret, str):
        raise HelperError(f"{who} answered something that is not credential JSON")
    if not username and not secret:
        return None
    return username, secret


_WHITESPACE = " \t\n\r"
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_HEX = frozenset("0123456789abcdefABCDEF")


def json_object(text: str) -> object:
    """``json.loads(text)``, quickly when ``text`` is an object whose values are all strings."""
    found = _string_object(text)
    if found is not None:
        return found
    import json

    return json.loads(text)


def _string_object(text: str) -> dict[str, str] | None:
    """The object's members, or None unless ``text`` is exactly one JSON object with only string values."""
    i = _skip(text, 0)
    if text[i : i + 1] != "{":
        return None
    members: dict[str, str] = {}
    i = _skip(text, i + 1)
    if text[i : i + 1] == "}":
        return members if not text[i + 1 :].strip(_WHITESPACE) else None
    while True:
        key, i = _string(text, i)
        if key is None:
            return None
        i = _skip(text, i)
        if text[i : i + 1] != ":":
            return None
        value, i = _string(text, _skip(text, i + 1))
        if value is None:
            return None
        members[key] = value
        i = _skip(text, i)
        if text[i : i + 1] == ",":
            i = _skip(text, i + 1)
            continue
        if text[i : i + 1] == "}" and not text[i + 1 :].strip(_WHITESPACE):
            return members
        return None


def _skip(text: str, i: int) -> int:
    while i < len(text) and text[i] in _WHITESPACE:
        i += 1
    return i


def _string(text: str, i: int) -> tuple[str | None, int]:
    """The JSON string starting at ``text[i]`` and the index after it; None for anything unusual (control
    characters, bad escapes, surrogates: json decides those)."""
    if text[i : i + 1] != '"':
        return None, i
    parts = []
    i += 1
    while True:
        quote = text.find('"', i)
        if quote < 0:
            return None, i
        slash = text.find("\\", i, quote)
        end = quote if slash < 0 else slash
        chunk = text[i:end]
        if any(c < " " for c in chunk):
            return None, i
        parts.append(chunk)
        if slash < 0:
            value = "".join(parts)
            if any("\ud800" <= c <= "\udfff" for c in value):
                return None, i
            return value, quote + 1
        code = text[slash + 1 : slash + 2]
        if code == "u":
            digits = text[slash + 2 : slash + 6]
            if len(digits) != 4 or not set(digits) <= _HEX:
                return None, i
            parts.append(chr(int(digits, 16)))
            i = slash + 6
        elif code in _ESCAPES:
            parts.append(_ESCAPES[code])
            i = slash + 2
        else:
            return None, i
