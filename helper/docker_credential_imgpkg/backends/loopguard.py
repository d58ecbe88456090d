"""The backend loop guard: a ``helper:NAME`` backend must end in a real store, never lead back to this program.

Three checks, cheapest first: the name itself (``helper:imgpkg``), a marker variable we set in every backend's
environment (a helper started as our backend must not choose a helper backend itself), and the process
ancestry through ``/proc`` (a wrapper that resets the environment, ``env -i`` or sudo, cannot hide the loop).
Every refusal says ``leads back to docker-credential-imgpkg``: a parent recognises its own program's refusal by
that phrase (``is_loop_refusal``) and says so in its own words, without relaying the child's output.
"""

from __future__ import annotations

import os
import sys

from .. import HELPER_NAME, PROGRAM
from ..client import find_program
from ..errors import HelperError, shown

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

PREFIX = "docker-credential-"
LOOP_MARK = f"leads back to {PROGRAM}"
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+-")
_MAX_ANCESTORS = 64
# Set in every backend's environment: a docker-credential-imgpkg that finds it was started as some helper's
# backend, so choosing a helper backend itself would go round in a loop. Wrappers that reset the environment
# (env -i, sudo) drop it; the process ancestry check catches those.
DEPTH_VAR = "DOCKER_CREDENTIAL_IMGPKG_DEPTH"


def is_loop_refusal(stdout: str) -> bool:
    """Whether a failed helper's answer is this program's own loop refusal (a backend that runs us again)."""
    first = stdout.strip().partition("\n")[0]
    return LOOP_MARK in first and "backend helper:" in first


def _identity(path: str) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_dev, info.st_ino


def _own_programs(environ: Mapping[str, str]) -> set[tuple[int, int]]:
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
            argv0 = find_program(argv0, environ) or ""
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
        raise HelperError(f"{origin}: backend {shown(spec)} must name a helper, as in helper:pass (runs {PREFIX}pass)")
    if name == HELPER_NAME:
        raise HelperError(
            f"{origin}: backend {spec} would run this helper again: it {LOOP_MARK}; name the store underneath it "
            "(helper:pass, helper:secretservice, …) or use file"
        )
    depth = environ.get(DEPTH_VAR, "")
    if depth:
        raise HelperError(
            f"{origin}: backend {spec} leads back to {PROGRAM}: this run was started as another "
            f"helper's backend ({DEPTH_VAR}={depth}); a backend chain must end in a real store"
        )
    own = _own_programs(environ)
    found = find_program(PREFIX + name, environ)
    if found is not None and _identity(found) in own:
        raise HelperError(
            f"{origin}: backend {spec}: {found} is this helper: it {LOOP_MARK}; name the store underneath it or "
            "use file"
        )
    ancestor = _started_by_ourselves(own)
    if ancestor:
        raise HelperError(
            f"{origin}: backend {spec} leads back to {PROGRAM}: this run was started, through other programs, by "
            f"{PROGRAM} (pid {ancestor}); a backend chain must end in a real store"
        )
