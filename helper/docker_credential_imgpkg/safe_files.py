"""Reading and replacing the small files the helper touches, without surprises.

One bounded reader for every file (``read_small_file``, on ``stdio.read_bounded``, which standard input shares):
it never blocks on a FIFO planted at a path and never reads past a bound. One loader of JSON documents, strict:
duplicate keys, non-finite numbers and absurd nesting are refused, as a file we may rewrite must round-trip.
One lock (an exclusive ``flock`` on a sibling ``.lock`` file or on the directory, waited for with a bound) and
one atomic writer (a complete temp file in the same directory, fsynced, renamed into place). Messages name the
file and never quote its contents: it may hold credentials.
"""

from __future__ import annotations

import errno
import os
import stat

from .errors import HelperError
from .stdio import read_bounded

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

TEMP_MARK = ".tmp-"
LOCK_TIMEOUT = 10.0
MAX_JSON_DEPTH = 64  # docker's and the kubelet's files nest 5 deep; json.dumps(indent=...) recurses per level


def read_small_file(
    path: str, limit: int, what: str, check: Callable[[os.stat_result], None] | None = None
) -> bytes | None:
    """The bytes of the regular file at ``path`` (a symlink is followed to what it names); None when it does
    not exist. A FIFO, device, socket or directory is refused before anything is read.

    ``what`` names the file in messages ("docker config /root/.docker/config.json"); ``check`` may refuse the
    opened file by its ``fstat`` (owner, mode) before anything is read.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as err:
        raise HelperError(f"{what}: cannot open: {err.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise HelperError(f"{what}: {not_a_file(info.st_mode)}")
        if check is not None:
            check(info)
        data = read_bounded(fd, limit)
        if data is None:
            raise HelperError(f"{what}: larger than {limit >> 20} MiB; refusing to use it")
        return data
    except OSError as err:
        raise HelperError(f"{what}: cannot read: {err.strerror}") from None
    finally:
        os.close(fd)


def not_a_file(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "is a directory, not a regular file"
    if stat.S_ISFIFO(mode):
        return "is a FIFO (named pipe), not a regular file; refusing to read or replace it"
    if stat.S_ISSOCK(mode):
        return "is a socket, not a regular file"
    return "is a device or other special file, not a regular file"


def load_json_object(data: bytes, what: str, *, hint: str = "") -> dict[str, object]:
    """A JSON document that must be an object; empty or blank is ``{}``.

    Strict where Python's ``json`` is lenient and Go's differs: a key repeated in one object (Go merges
    objects, Python keeps the last) and ``NaN``/``Infinity``/overflowing numbers (not JSON; Python would
    write them back as ``Infinity``) are refused, so a file is never silently changed by a rewrite.
    """
    if not data.strip():
        return {}
    import json

    try:
        doc = json.loads(data, object_pairs_hook=_unique_keys, parse_constant=_no_constant, parse_float=_finite)
    except RecursionError:  # where the limit falls depends on the Python: refused in the same words either way
        raise HelperError(f"{what}: {too_deep_message()}{hint}") from None
    except _Strict as err:
        raise HelperError(f"{what}: {err}{hint}") from None
    except UnicodeDecodeError:
        raise HelperError(f"{what}: not valid JSON (not UTF-8 text){hint}") from None
    except json.JSONDecodeError as err:  # its message carries a position, never the document itself
        raise HelperError(f"{what}: not valid JSON ({err.msg} at line {err.lineno} column {err.colno}){hint}") from None
    except ValueError:
        raise HelperError(f"{what}: not valid JSON{hint}") from None
    if not isinstance(doc, dict):
        raise HelperError(f"{what}: expected a JSON object{hint}")
    if too_deep(doc):
        raise HelperError(f"{what}: {too_deep_message()}{hint}")
    return doc


def too_deep_message() -> str:
    return f"nested more than {MAX_JSON_DEPTH} levels deep; refusing it"


def too_deep(doc: object) -> bool:
    """Whether ``doc`` nests deeper than MAX_JSON_DEPTH: one walk with an explicit stack, linear in its size. (A
    list of ``(name, value)`` pairs, what an ``object_pairs_hook`` may build, counts as one level too.)"""
    pending: list[tuple[object, int]] = [(doc, 1)]
    while pending:
        node, depth = pending.pop()
        if depth > MAX_JSON_DEPTH:
            return True
        if isinstance(node, dict):
            pending += [(value, depth + 1) for value in node.values() if isinstance(value, (dict, list))]
        elif isinstance(node, list):
            values = (item[1] if isinstance(item, tuple) else item for item in node)
            pending += [(value, depth + 1) for value in values if isinstance(value, (dict, list))]
    return False


class _Strict(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    doc = dict(pairs)
    if len(doc) != len(pairs):
        raise _Strict("a key appears twice in one object")
    return doc


def _no_constant(name: str) -> object:
    raise _Strict(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise _Strict(f"the number {text[:40]} is out of range")
    return value


class FileLock:
    """An exclusive ``flock`` on ``path``, waited for at most LOCK_TIMEOUT seconds: a sibling ``NAME.lock`` file
    (0600, never a symlink), or with ``directory`` the directory itself, which leaves nothing behind in it. The
    lock is released when the descriptor is closed, so a killed holder never leaves it held."""

    def __init__(self, path: str, what: str, *, directory: bool = False) -> None:
        self.path = path
        self.what = what
        self.directory = directory
        self.fd = -1

    def __enter__(self) -> FileLock:
        import fcntl
        import time

        if self.directory:
            flags = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
        else:
            flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            self.fd = os.open(self.path, flags, 0o600)
        except OSError as err:
            kind = "directory" if self.directory else "lock file"
            raise HelperError(f"{self.what}: cannot open {kind} {self.path} to lock it: {err.strerror}") from None
        deadline = time.monotonic() + LOCK_TIMEOUT
        delay = 0.002
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return self
            except OSError as err:
                if err.errno not in (errno.EAGAIN, errno.EACCES):
                    os.close(self.fd)
                    raise HelperError(f"{self.what}: cannot lock: {err.strerror}") from None
            if time.monotonic() >= deadline:
                os.close(self.fd)
                raise HelperError(f"{self.what}: still locked by another process after {LOCK_TIMEOUT:g}s")
            time.sleep(delay)
            delay = min(delay * 2, 0.05)

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)


def identity(path: str) -> tuple[int, int, int, int] | None:
    """What changes when a writer replaces or rewrites ``path`` (inode, device, size, mtime); None if absent."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return identity_of(info)


def identity_of(info: os.stat_result) -> tuple[int, int, int, int]:
    """``identity`` of a file already opened (its ``fstat``): taken before it is read, it cannot describe a newer
    file than the bytes read."""
    return info.st_ino, info.st_dev, info.st_size, info.st_mtime_ns


_UNCHECKED = (-1, -1, -1, -1)


def write_atomically(
    path: str,
    data: bytes,
    *,
    mode: int = 0o600,
    owner: tuple[int, int] | None = None,
    unless_changed: tuple[int, int, int, int] | None = _UNCHECKED,
) -> None:
    """Replace ``path`` (a real path: symlinks already resolved) with ``data``, all or nothing.

    The temp file is created unnamed (O_TMPFILE) where the file system allows and linked in only once complete,
    so a writer killed mid-way leaves nothing; elsewhere it is an ordinary ``.NAME.tmp-*`` file that the next
    writer removes. ``unless_changed``: the file's ``identity`` when it was read (None: it did not exist); if
    another writer changed it since, nothing is replaced and FileExistsError is raised, checked as late as
    possible, just before the rename. Raises OSError; callers word it.
    """
    directory, name = os.path.split(path)
    remove_stale_temps(directory, name)
    temp = os.path.join(directory, f".{name}{TEMP_MARK}{os.getpid()}-{os.urandom(4).hex()}")
    fd = -1
    try:
        fd = _write_unnamed(directory, data, mode, owner)
        if fd >= 0:
            try:
                _link_unnamed(fd, directory, temp)
            except OSError:
                os.close(fd)
                fd = -1
        if fd < 0:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
            _write_all(fd, data, mode, owner)
        os.close(fd)
        fd = -1
        if unless_changed != _UNCHECKED and identity(path) != unless_changed:
            raise FileExistsError(f"{path} changed while it was being replaced")
        os.replace(temp, path)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        _unlink_quietly(temp)
        raise
    _fsync_directory(directory)


def remove_stale_temps(directory: str, name: str) -> None:
    """Temp files can only be left by a writer killed mid-write (callers hold the file's lock)."""
    prefix = f".{name}{TEMP_MARK}"
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for entry in names:
        if entry.startswith(prefix):
            _unlink_quietly(os.path.join(directory, entry))


def _write_all(fd: int, data: bytes, mode: int, owner: tuple[int, int] | None) -> None:
    os.fchmod(fd, mode)  # whatever the umask
    if owner is not None:
        os.fchown(fd, *owner)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    os.fsync(fd)


def _write_unnamed(directory: str, data: bytes, mode: int, owner: tuple[int, int] | None) -> int:
    """An O_TMPFILE inode in ``directory`` holding ``data``, fsynced; -1 where the file system lacks O_TMPFILE."""
    flag = getattr(os, "O_TMPFILE", 0)
    if not flag:
        return -1
    try:
        fd = os.open(directory, flag | os.O_WRONLY | os.O_CLOEXEC, 0o600)
    except OSError:
        return -1
    try:
        _write_all(fd, data, mode, owner)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _link_unnamed(fd: int, directory: str, temp: str) -> None:
    """Give the O_TMPFILE inode a name. A dir fd makes os.link use linkat(AT_SYMLINK_FOLLOW), which follows
    the /proc/self/fd magic link (plain link(2) does not: EXDEV)."""
    dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.link(f"/proc/self/fd/{fd}", os.path.basename(temp), dst_dir_fd=dir_fd)
    finally:
        os.close(dir_fd)


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _fsync_directory(directory: str) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
