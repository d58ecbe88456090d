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
from collections.abc import Mapping

from ..authfile import decode_entry, encode_entry
from ..errors import HelperError
from ..protocol import Credentials
from ..settings import env_flag

LOCK_TIMEOUT = 10.0
TEMP_MARK = ".tmp-"


def default_store_path(environ: Mapping[str, str]) -> str:
    explicit = environ.get("DOCKER_CREDENTIAL_IMGPKG_STORE", "")
    if explicit:
        return explicit
    base = environ.get("XDG_CONFIG_HOME", "") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "docker-credential-imgpkg", "credentials.json")


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
        """The whole document; an absent file is an empty store, anything unparsable is refused."""
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except FileNotFoundError:
            return {"auths": {}}
        except OSError as err:
            raise HelperError(f"credential store {self.path}: cannot open: {err.strerror}") from None
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise HelperError(f"credential store {self.path}: not a regular file")
            chunks = []
            while chunk := os.read(fd, 1 << 20):
                chunks.append(chunk)
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
        if not isinstance(doc, dict) or not isinstance(doc.get("auths", {}), dict):
            raise HelperError(
                f'credential store {self.path}: not a docker-style file with an "auths" object; '
                "refusing to use or overwrite it"
            )
        doc.setdefault("auths", {})
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
        if not os.path.exists(real):
            return False
        with self._locked():
            doc = self._read()
            if key not in _auths(doc):
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
            try:
                os.makedirs(os.path.dirname(directory), exist_ok=True)
                os.mkdir(directory, 0o700)
            except FileExistsError:
                pass
            except OSError as err:
                raise HelperError(f"credential store {self.path}: cannot create {directory}: {err.strerror}") from None
        return _Lock(real + ".lock", self.path)

    def _write(self, doc: dict[str, object]) -> None:
        """Atomically replace the file with ``doc`` (caller holds the lock); other top-level keys are kept."""
        import json

        data = (json.dumps(doc, indent="\t", sort_keys=False) + "\n").encode("utf-8")
        real = self._real_path()
        directory, name = os.path.split(real)
        _remove_stale_temps(directory, name)
        temp = os.path.join(directory, f".{name}{TEMP_MARK}{os.getpid()}-{os.urandom(4).hex()}")
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        except OSError as err:
            raise HelperError(f"credential store {self.path}: cannot create a temp file: {err.strerror}") from None
        try:
            os.fchmod(fd, 0o600)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
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
