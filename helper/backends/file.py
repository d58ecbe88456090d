"""The helper's own credential file: the only code that writes secrets.

Docker config.json format (``{"auths": {key: {"auth": base64}}}``) so the file can serve as
``REGISTRY_AUTH_FILE`` for other tools. Directory 0700, file 0600; every change is a read-modify-write
under an exclusive lock, written to a temp file in the same directory, fsynced and renamed into place.
"""

from __future__ import annotations

import errno
import os
import stat
import time

from ..authfile import decode_entry, encode_entry
from ..errors import HelperError
from ..protocol import Credentials
from ..settings import config_dir, env_flag

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

LOCK_TIMEOUT = 10.0
TEMP_MARK = ".tmp-"
MAX_STORE_BYTES = 16 << 20


def default_store_path(environ: Mapping[str, str]) -> str:
    explicit = environ.get("DOCKER_CREDENTIAL_IMGPKG_STORE", "")
    if explicit:
        return explicit
    return os.path.join(config_dir(environ), "credentials.json")


class FileBackend:
    def __init__(self, path: str, *, readonly: bool = False) -> None:
        self.path = path
        self.readonly = readonly
        self._doc: dict[str, object] | None = None

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> FileBackend:
        environ = os.environ if environ is None else environ
        return cls(default_store_path(environ), readonly=env_flag(environ, "DOCKER_CREDENTIAL_IMGPKG_READONLY"))

    # --- reading -------------------------------------------------------------------------------------------

    def _load(self) -> dict[str, object]:
        """The ``auths`` map, read once per process for lookups."""
        if self._doc is None:
            self._doc = self._read()
        return _auths(self._doc)

    def _read(self) -> dict[str, object]:
        """The whole document; an absent file is an empty store; anything unsafe or unparsable is refused.

        O_NONBLOCK: a FIFO planted at the path must not hang the client (it is then refused as not a file).
        """
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except FileNotFoundError:
            return {"auths": {}}
        except OSError as err:
            raise HelperError(f"credential store {self.path}: cannot open: {err.strerror}") from None
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise HelperError(f"credential store {self.path}: {_not_a_file(info.st_mode)}")
            self._check_private(os.path.realpath(self.path), info)
            self._check_directories()
            chunks, size = [], 0
            while chunk := os.read(fd, 1 << 20):
                chunks.append(chunk)
                size += len(chunk)
                if size > MAX_STORE_BYTES:
                    raise HelperError(
                        f"credential store {self.path}: larger than {MAX_STORE_BYTES >> 20} MiB; refusing to use it"
                    )
        except OSError as err:
            raise HelperError(f"credential store {self.path}: cannot read: {err.strerror}") from None
        finally:
            os.close(fd)
        return self._parse(b"".join(chunks))

    def _parse(self, data: bytes) -> dict[str, object]:
        if not data.strip():
            return {"auths": {}}
        import json

        try:
            doc = json.loads(data)
        except (ValueError, RecursionError):
            raise HelperError(
                f"credential store {self.path}: not valid JSON; refusing to use or overwrite it"
            ) from None
        if not isinstance(doc, dict) or not isinstance(doc.get("auths"), dict):
            raise HelperError(
                f'credential store {self.path}: not a docker-style file with an "auths" object; '
                "refusing to use or overwrite it"
            )
        return doc

    def get(self, key: str) -> Credentials | None:
        entry = self._load().get(key)
        if entry is None:
            return None
        return decode_entry(key, entry, f"credential store {self.path}, entry {key!r}")

    def list(self) -> dict[str, str]:
        result = {}
        for key, entry in self._load().items():
            try:
                creds = decode_entry(key, entry, "")
            except HelperError:
                continue
            if creds is not None:
                result[key] = creds.username
        return result

    # --- writing -------------------------------------------------------------------------------------------

    def add(self, creds: Credentials) -> None:
        entry = encode_entry(creds)
        if self.readonly:
            return
        with self._locked():
            doc = self._read()
            _auths(doc)[creds.server_url] = entry
            self._write(doc)

    def delete(self, key: str) -> bool:
        if self.readonly:
            return False
        real = self._real_path()
        if not os.path.lexists(real):  # lexists: a symlink loop is an error below, not "nothing stored"
            return False
        with self._locked():
            doc = self._read()
            if key not in _auths(doc):
                _remove_stale_temps(*os.path.split(real))
                return False
            del _auths(doc)[key]
            self._write(doc)
            return True

    def _real_path(self) -> str:
        """Writes go to the symlink's target (as docker does), so the temp file sits beside the real file."""
        return os.path.realpath(self.path)

    def _locked(self) -> _Lock:
        real = self._real_path()
        directory = os.path.dirname(real)
        if not os.path.isdir(directory):
            old_umask = os.umask(0o077)  # every directory created on the way (~/.config too) is 0700
            try:
                os.makedirs(directory, 0o700, exist_ok=True)
            except FileExistsError:
                pass  # not a directory: _check_directories says so
            except OSError as err:
                raise HelperError(f"credential store {self.path}: cannot create {directory}: {err.strerror}") from None
            finally:
                os.umask(old_umask)
        self._check_directories()  # before the lock or a temp file is created there
        return _Lock(real + ".lock", self.path)

    # --- who else could change the store (ssh's rule: you or root own it, nobody else can write it) ---------

    def _check_directories(self) -> None:
        """The directory the file really lives in and, for a symlinked file, the one holding the link."""
        real_dir = os.path.dirname(os.path.realpath(self.path))
        link_dir = os.path.realpath(os.path.dirname(self.path) or ".")
        for directory in (real_dir,) if real_dir == link_dir else (real_dir, link_dir):
            try:
                info = os.stat(directory)
            except OSError as err:
                raise HelperError(f"credential store {self.path}: cannot use {directory}: {err.strerror}") from None
            if not stat.S_ISDIR(info.st_mode):
                raise HelperError(f"credential store {self.path}: {directory} is not a directory")
            self._check_private(directory, info)

    def _check_private(self, path: str, info: os.stat_result) -> None:
        """Refuse a file or directory that another user could have written: they could read or plant secrets."""
        subject = f"credential store {self.path}" + ("" if path == self.path else f": {path}")
        uid = os.geteuid()
        if info.st_uid not in (uid, 0):
            raise HelperError(
                f"{subject} is owned by uid {info.st_uid}, not by you (uid {uid}) or root; refusing to use it"
            )
        if info.st_mode & 0o022:
            raise HelperError(
                f"{subject} is writable by other users (mode {stat.S_IMODE(info.st_mode):04o}); "
                f"refusing to use it (fix: chmod go-w {path})"
            )

    def _write(self, doc: dict[str, object]) -> None:
        """Atomically replace the file with ``doc`` (caller holds the lock); other top-level keys are kept."""
        import json

        data = (json.dumps(doc, indent="\t", sort_keys=False) + "\n").encode("utf-8")
        real = self._real_path()
        directory, name = os.path.split(real)
        _remove_stale_temps(directory, name)
        temp = os.path.join(directory, f".{name}{TEMP_MARK}{os.getpid()}-{os.urandom(4).hex()}")
        fd = -1
        try:
            fd = _write_unnamed(directory, data)
            if fd >= 0:
                try:  # named only once complete: a writer killed before this line leaves nothing behind
                    _link_unnamed(fd, directory, temp)
                except OSError:
                    os.close(fd)
                    fd = -1
            if fd < 0:  # no O_TMPFILE here (or no /proc): an ordinary temp file, removed by the next writer
                fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
                _write_all(fd, data)
            os.close(fd)
            fd = -1
            os.replace(temp, real)
        except OSError as err:
            if fd >= 0:
                os.close(fd)
            _unlink_quietly(temp)
            raise HelperError(f"credential store {self.path}: cannot write: {err.strerror}") from None
        _fsync_directory(directory)


def _auths(doc: dict[str, object]) -> dict[str, object]:
    auths = doc["auths"]
    assert isinstance(auths, dict)
    return auths


class _Lock:
    """An exclusive ``flock`` on a sibling lock file, waited for at most LOCK_TIMEOUT seconds."""

    def __init__(self, lock_path: str, shown_path: str) -> None:
        self.lock_path = lock_path
        self.shown_path = shown_path
        self.fd = -1

    def __enter__(self) -> _Lock:
        import fcntl

        try:
            self.fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        except OSError as err:
            raise HelperError(f"credential store {self.shown_path}: cannot open lock file: {err.strerror}") from None
        deadline = time.monotonic() + LOCK_TIMEOUT
        delay = 0.002
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return self
            except OSError as err:
                if err.errno not in (errno.EAGAIN, errno.EACCES):
                    os.close(self.fd)
                    raise HelperError(f"credential store {self.shown_path}: cannot lock: {err.strerror}") from None
            if time.monotonic() >= deadline:
                os.close(self.fd)
                raise HelperError(
                    f"credential store {self.shown_path}: still locked by another process after {LOCK_TIMEOUT:g}s"
                )
            time.sleep(delay)
            delay = min(delay * 2, 0.05)

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)  # closing the descriptor releases the flock


def _not_a_file(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "is a directory, not a file"
    if stat.S_ISFIFO(mode):
        return "is a FIFO (named pipe), not a regular file; refusing to read or replace it"
    if stat.S_ISSOCK(mode):
        return "is a socket, not a regular file"
    return "is a device or other special file, not a regular file"


def _write_all(fd: int, data: bytes) -> None:
    os.fchmod(fd, 0o600)  # whatever the umask
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    os.fsync(fd)


def _write_unnamed(directory: str, data: bytes) -> int:
    """An O_TMPFILE inode in ``directory`` holding ``data``, fsynced; -1 where the file system lacks O_TMPFILE."""
    flag = getattr(os, "O_TMPFILE", 0)
    if not flag:
        return -1
    try:
        fd = os.open(directory, flag | os.O_WRONLY | os.O_CLOEXEC, 0o600)
    except OSError:
        return -1
    try:
        _write_all(fd, data)
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


def _remove_stale_temps(directory: str, name: str) -> None:
    """Temp files can only be left by a writer killed mid-write: we hold the lock, so none is live."""
    prefix = f".{name}{TEMP_MARK}"
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for entry in names:
        if entry.startswith(prefix):
            _unlink_quietly(os.path.join(directory, entry))


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
