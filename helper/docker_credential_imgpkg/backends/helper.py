"""A backend that is another credential helper: ``helper:NAME`` keeps secrets in ``docker-credential-NAME``.

This makes the helper a layer: imgpkg's variables and docker's config.json on top, an encrypted store
(pass, secretservice, osxkeychain, wincred, desktop) underneath for what ``store`` keeps. The backend is run
exactly as docker runs a helper (``client.HelperClient``), with the loop guard's marker in its environment.

Keys are normalised before they reach the backend, so every client's spelling lands on one entry. Entries
that other tools stored before the migration may be spelled otherwise (``https://myreg:5000``); ``list``
reports them under their normal key and ``get``/``erase`` find them through the backend's list, which is
asked for only when the normal key itself misses (once per process).
"""

from __future__ import annotations

from ..address import store_key
from ..client import HelperClient, ProgramFailed, ProgramMissing
from ..errors import HelperError
from ..protocol import Credentials
from . import Backend
from .loopguard import DEPTH_VAR, LOOP_MARK, PREFIX, is_loop_refusal

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import TypeVar

    T = TypeVar("T")


class HelperBackend(Backend):
    """The four backend methods as ``store``/``erase``/``list``/``get`` runs of ``docker-credential-NAME``."""

    def __init__(self, name: str, origin: str, environ: Mapping[str, str]) -> None:
        self.name = name
        self.location = self.program = PREFIX + name
        self.role = f"backend {self.program}"
        self.origin = origin
        self.client = HelperClient(self.program, self.role, environ, {DEPTH_VAR: "1"})
        self._listed: dict[str, str] | None = None  # raw key → username, as the backend lists them
        self._normal: dict[str, str] | None = None  # normal key → the raw key that answers for it
        self._list_error: HelperError | None = None  # why the backend could not list, once asked

    def _call(self, verb: str, call: Callable[[], T]) -> T:
        """One run of the backend, its failures worded for the user."""
        try:
            return call()
        except ProgramMissing:
            chosen = f" (chosen by {self.origin})" if self.origin else ""
            raise HelperError(
                f"{self.role}: not found in PATH{chosen}; install it, or choose another backend"
            ) from None
        except ProgramFailed as err:
            if is_loop_refusal(err.reply.stdout):  # our own program refusing: safe to say why, in our words
                chosen = f" (chosen by {self.origin})" if self.origin else ""
                raise HelperError(
                    f"{self.role}: {verb} refused: {self.program} {LOOP_MARK} (it runs this helper again); a "
                    f"backend chain must end in a real store{chosen}"
                ) from None
            raise

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
        answer = self._call("get", lambda: self.client.get(raw))
        return None if answer is None else Credentials(key, *answer)

    def _list_raw(self) -> dict[str, str]:
        """Raw key → username, asked once per process; a failure is remembered and raised again."""
        if self._listed is None:
            if self._list_error is not None:
                raise self._list_error
            try:
                self._listed = self._call("list", self.client.list)
            except HelperError as err:
                self._list_error = err
                raise
        return self._listed

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

    def _erase(self, raw: str) -> bool:
        return self._call("erase", lambda: self.client.erase(raw))

    def _forget(self) -> None:
        self._listed = self._normal = self._list_error = None

    def add(self, creds: Credentials) -> None:
        try:
            self._call("store", lambda: self.client.store(creds))
        finally:
            self._forget()

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
        try:
            for raw in spellings:
                try:
                    if self._erase(raw):
                        removed = removed or raw in listed
                except ProgramFailed:
                    if raw in listed or (listing is None and self._present(raw)):
                        raise
        finally:
            self._forget()
        return removed
