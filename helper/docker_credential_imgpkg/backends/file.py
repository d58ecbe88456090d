"""The helper's own credential file: docker's config.json format (``{"auths": {key: {"auth": base64}}}``), so
the file can serve as ``REGISTRY_AUTH_FILE`` for other tools.

Directory 0700, file 0600; every change is a read-modify-write under an exclusive lock, replaced atomically
(``safe_files.write_atomically``). A file we did not write (not JSON, no ``auths`` object, a key twice, a
number JSON cannot carry) is refused, never rewritten, and nothing is created beside it.
"""

from __future__ import annotations

import os
import stat

from ..authfile import decode_entry, encode_entry
from ..errors import HelperError
from ..safe_files import FileLock, load_json_object, read_small_file, write_atomically
from . import Backend

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..protocol import Credentials

MAX_STORE_BYTES = 16 << 20
_REFUSE = "; refusing to use or overwrite it"


class FileBackend(Backend):
    def __init__(self, path: str) -> None:
        self.path = path
        self.location = path
        self._auths: dict[str, object] | None = None

    # --- reading -------------------------------------------------------------------------------------------

    def _load(self) -> dict[str, object]:
        """The ``auths`` map, read once per process for lookups."""
        if self._auths is None:
            self._auths = _auths(self._read())
        return self._auths

    def _read(self) -> dict[str, object]:
        """The whole document; an absent file is an empty store; anything unsafe or unparsable is refused."""
        what = f"credential store {self.path}"
        data = read_small_file(self.path, MAX_STORE_BYTES, what, self._check_file)
        if data is None:
            return {"auths": {}}
        doc = load_json_object(data, what, hint=_REFUSE) if data.strip() else {"auths": {}}
        if not isinstance(doc.get("auths"), dict):
            raise HelperError(f'{what}: not a docker-style file with an "auths" object{_REFUSE}')
        return doc

    def _check_file(self, info: os.stat_result) -> None:
        self._check_private(os.path.realpath(self.path), info)
        self._check_directories()

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
        self._read()  # refuse a file that is not a store before creating anything beside it
        with self._locked():
            doc = self._read()
            _auths(doc)[creds.server_url] = entry
            self._write(doc)

    def delete(self, key: str) -> bool:
        if key not in _auths(self._read()):  # absent: nothing to lock or write (a read-only store too)
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

    def _locked(self) -> FileLock:
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
        return FileLock(real + ".lock", f"credential store {self.path}")

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

        data = (json.dumps(doc, indent="\t") + "\n").encode("utf-8")
        try:
            write_atomically(self._real_path(), data)
        except OSError as err:
            raise HelperError(f"credential store {self.path}: cannot write: {err.strerror}") from None
        self._auths = None


def _auths(doc: dict[str, object]) -> dict[str, object]:
    auths = doc["auths"]
    assert isinstance(auths, dict)
    return auths
