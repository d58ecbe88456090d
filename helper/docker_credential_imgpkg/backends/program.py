"""A backend that is another credential helper: ``helper:NAME`` keeps secrets in ``docker-credential-NAME``.

This makes the helper a layer: imgpkg's variables and docker's config.json on top, an encrypted store
(pass, secretservice, osxkeychain, wincred, desktop) underneath for what ``store`` keeps. The backend is run
exactly as docker runs a helper: one verb in argv, the address or JSON on stdin, bounded in time
(``programs.run_program``).

Keys are normalised before they reach the backend, so every client's spelling lands on one entry. Entries
that other tools stored before the migration may be spelled otherwise (``https://myreg:5000``); ``list``
reports them under their normal key and ``get``/``erase`` find them through the backend's list, which is
asked for only when the normal key itself misses (once per process).
"""

from __future__ import annotations

import os
import sys

from .. import HELPER_NAME, PROGRAM
from ..address import store_key
from ..errors import HelperError
from ..helper_json import credentials_answer, json_object, says_not_found
from ..programs import ProgramMissing, find_program, run_program
from ..protocol import Credentials, encode_get

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from ..programs import Reply

PREFIX = "docker-credential-"
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+-")
_MAX_ANCESTORS = 64
# Set in every backend's environment: a docker-credential-imgpkg that finds it was started as some helper's
# backend, so choosing a helper backend itself would go round in a loop. Wrappers that reset the environment
# (env -i, sudo) drop it; the process ancestry check below catches those.
DEPTH_VAR = "DOCKER_CREDENTIAL_IMGPKG_DEPTH"


def _identity(path: str) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_dev, info.st_ino


def _own_programs() -> set[tuple[int, int]]:
    """Identities (device, inode) of the files this process was started from: argv[0] as the client gave it
    (the console script, or the single-file binary, whose launcher passes argv on untouched; a bare name is
    looked up on PATH as the client did) and, when frozen, ``sys.executable`` (the unpacked bundle's program).
    Comparing files, not names, catches symlinks and hard links alike."""
    paths = []
    if getattr(sys, "frozen", False):
        paths.append(sys.executable)
    argv0 = sys.argv[0] if sys.argv else ""
    if argv0 and os.sep not in argv0:
        try:
            argv0 = find_program(argv0) or ""
        except HelperError:
            argv0 = ""
    if argv0:
        paths.append(argv0)
    return {found for found in map(_identity, paths) if found is not None}


def _started_by_ourselves(own: set[tuple[int, int]]) -> int:
    """The pid of an ancestor process running this program (0 if none), found through /proc: a helper that
    wraps us with a scrubbed environment (``env -i``, sudo's env_reset) cannot hide the loop from this."""
    interpreter = _identity("/proc/self/exe")
    frozen = getattr(sys, "frozen", False)
    pid = os.getppid()
    for _ in range(_MAX_ANCESTORS):
        if pid <= 1:
            return 0
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read(1 << 16).split(b"\0")
            with open(f"/proc/{pid}/stat", "rb") as f:
                parent = int(f.read().rpartition(b")")[2].split()[1])
        except (OSError, ValueError, IndexError):
            return 0
        exe = _identity(f"/proc/{pid}/exe")
        if exe in own:  # the single-file binary, from the same cache
            return pid
        if not frozen and exe == interpreter and _identity(_script(pid, argv)) in own:
            return pid  # our interpreter running our console script (re-executed with -I -X utf8 or not)
        if exe is not None and exe != interpreter and frozen and _same_file(f"/proc/{pid}/exe", sys.executable):
            return pid  # the single-file binary unpacked into another cache (HOME or XDG_CACHE_HOME scrubbed)
        pid = parent
    return 0


def _script(pid: int, argv: list[bytes]) -> str:
    """The script process ``pid``'s ``python [options] script args`` runs ("" for ``-c``/``-m`` or none), as a
    path that also resolves a relative one (against that process's working directory)."""
    args = iter(argv[1:])
    for arg in args:
        if arg in (b"-X", b"-W"):
            next(args, None)  # the option's value
        elif arg in (b"-c", b"-m") or arg.startswith((b"-c", b"-m")):
            return ""
        elif not arg.startswith(b"-"):
            return os.path.join(f"/proc/{pid}/cwd", os.fsdecode(arg))
    return ""


def _same_file(path: str, other: str) -> bool:
    """Whether two executables have the same contents (compared only when their sizes agree)."""
    try:
        with open(path, "rb") as a, open(other, "rb") as b:
            if os.fstat(a.fileno()).st_size != os.fstat(b.fileno()).st_size:
                return False
            while True:
                chunk = a.read(1 << 20)
                if chunk != b.read(1 << 20):
                    return False
                if not chunk:
                    return True
    except OSError:
        return False


def check_backend_name(name: str, origin: str, environ: Mapping[str, str]) -> None:
    """Refuse a backend that is missing a name or would lead back to this program."""
    spec = f"helper:{name}"
    if not name or not name[0].isalnum() or not set(name) <= _NAME_CHARS:
        raise HelperError(f"{origin}: backend {spec!r} must name a helper, as in helper:pass (runs {PREFIX}pass)")
    if name == HELPER_NAME:
        raise HelperError(
            f"{origin}: backend {spec} would run this helper again; name the store underneath it "
            "(helper:pass, helper:secretservice, …) or use file"
        )
    depth = environ.get(DEPTH_VAR, "")
    if depth:
        raise HelperError(
            f"{origin}: backend {spec} leads back to {PROGRAM}: this run was started as another "
            f"helper's backend ({DEPTH_VAR}={depth}); a backend chain must end in a real store"
        )
    own = _own_programs()
    found = find_program(PREFIX + name)
    if found is not None and _identity(found) in own:
        raise HelperError(
            f"{origin}: backend {spec}: {found} is this helper ({PROGRAM}); name the store underneath it or use file"
        )
    ancestor = _started_by_ourselves(own)
    if ancestor:
        raise HelperError(
            f"{origin}: backend {spec} leads back to {PROGRAM}: this run was started, through other programs, by "
            f"{PROGRAM} (pid {ancestor}); a backend chain must end in a real store"
        )


class ProgramBackend:
    """The four backend methods as ``store``/``erase``/``list``/``get`` runs of ``docker-credential-NAME``."""

    def __init__(self, name: str, origin: str = "") -> None:
        self.name = name
        self.program = PREFIX + name
        self.role = f"backend {self.program}"
        self.origin = origin
        self._listed: dict[str, str] | None = None  # raw key → username, as the backend lists them
        self._normal: dict[str, str] | None = None  # normal key → the raw key that answers for it
        self._list_error: HelperError | None = None  # why the backend could not list, once asked

    # --- running the program -------------------------------------------------------------------------------

    def _run(self, verb: str, data: bytes) -> Reply:
        try:
            return run_program(self.program, verb, data, role=self.role, extra_env={DEPTH_VAR: "1"})
        except ProgramMissing:
            chosen = f" (chosen by {self.origin})" if self.origin else ""
            raise HelperError(
                f"{self.role}: not found in PATH{chosen}; install it, or choose another backend"
            ) from None

    def _failure(self, verb: str, reply: Reply, secret: str = "") -> HelperError:
        return HelperError(reply.failure(self.role, verb, secret))

    # --- reading -------------------------------------------------------------------------------------------

    def get(self, key: str) -> Credentials | None:
        creds = self._get_raw(key, key)
        if creds is not None:
            return creds
        # A miss: the entry may be spelled otherwise in the backend (stored by docker before the migration).
        raw = self._index().get(key)
        if raw is None or raw == key:
            return None
        return self._get_raw(raw, key)

    def _get_raw(self, raw: str, key: str) -> Credentials | None:
        reply = self._run("get", raw.encode("utf-8"))
        if reply.returncode != 0:
            if says_not_found(reply.stdout):
                return None
            raise self._failure("get", reply)
        answer = credentials_answer(reply.stdout, f"{self.role}: get")
        return None if answer is None else Credentials(key, *answer)

    def _list_raw(self) -> dict[str, str]:
        """Raw key → username, asked once per process; a failure is remembered and raised again."""
        if self._listed is None:
            if self._list_error is not None:
                raise self._list_error
            try:
                self._listed = self._ask_list()
            except HelperError as err:
                self._list_error = err
                raise
        return self._listed

    def _ask_list(self) -> dict[str, str]:
        reply = self._run("list", b"unused")  # what Go clients write; helpers do not read it
        if reply.returncode != 0:
            raise self._failure("list", reply)
        try:
            answer = json_object(reply.stdout or "{}")
        except ValueError:
            answer = ()
        if answer is None:
            answer = {}  # a Go nil map
        if not isinstance(answer, dict):
            raise HelperError(f"{self.role}: list answered something that is not a JSON object")
        return {k: v for k, v in answer.items() if k.strip() and isinstance(v, str)}

    def _listing(self) -> dict[str, str] | None:
        """The listing where a lookup can do without it (None): a helper that cannot list still answers get
        and erase as it would for docker. The ``list`` verb itself reports the failure."""
        try:
            return self._list_raw()
        except HelperError:
            return None

    def _index(self) -> dict[str, str]:
        """Normal key → raw key. When spellings collide, the one already in normal form wins, else the first."""
        if self._normal is None:
            index: dict[str, str] = {}
            for raw in sorted(self._listing() or ()):
                key = store_key(raw)
                if not key or key.startswith("/"):  # names no registry host: nothing can ask for it
                    continue
                if key not in index or raw == key:
                    index[key] = raw
            self._normal = index
        return self._normal

    def _present(self, raw: str) -> bool:
        """Whether the backend holds ``raw`` (True when it cannot even say: then its erase error stands)."""
        try:
            return self._get_raw(raw, raw) is not None
        except HelperError:
            return True

    def list(self) -> dict[str, str]:
        listed = self._list_raw()
        return {key: listed[raw] for key, raw in self._index().items()}

    # --- writing -------------------------------------------------------------------------------------------

    def _forget(self) -> None:
        self._listed = self._normal = self._list_error = None

    def add(self, creds: Credentials) -> None:
        reply = self._run("store", encode_get(creds).encode("utf-8"))  # the same JSON docker sends to store
        self._forget()
        if reply.returncode != 0:
            raise self._failure("store", reply, creds.secret)

    def delete(self, key: str) -> bool:
        """Erase ``key`` and every other spelling of it the backend lists; absent is not an error.

        Backends word "absent" differently (pass: ``… is not in the password store.``, exit 1), so a failed
        erase of an entry the backend does not list counts as nothing to do, not as an error: skopeo and
        podman crash when erase fails. (A backend that cannot list is asked with get whether it was there.)
        """
        listing = self._listing()
        listed = listing if listing is not None else {}
        spellings = [key, *sorted(raw for raw in listed if raw != key and store_key(raw) == key)]
        removed = False
        for raw in spellings:
            reply = self._run("erase", raw.encode("utf-8"))
            if reply.returncode == 0:
                removed = removed or raw in listed
            elif not says_not_found(reply.stdout) and (raw in listed or (listing is None and self._present(raw))):
                self._forget()
                raise self._failure("erase", reply)
        self._forget()
        return removed
