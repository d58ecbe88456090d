"""Editing another tool's JSON configuration file: loading it strictly, planning an edit, rendering it in the
file's own style, showing the change with every secret masked, and writing it back without losing anything.

A write is all or nothing (``safe_files.write_atomically``: a complete temp file, fsynced, renamed into place),
keeps the file's mode and owner (new files 0600 in a 0700 directory) and follows a symlinked file to its
target. Concurrent writers lose nothing: ours lock the file's directory (``flock``, so nothing is left beside
the file), re-read it and re-apply their edit to what they find; docker's own writers take no lock, so the
file's identity (inode, size, mtime) is compared once more just before the rename, and a file that changed
meanwhile is read and edited again. A file that is not a JSON object is never touched.
"""

from __future__ import annotations

import json
import os
import stat

from ...errors import HelperError, without_userinfo
from ...safe_files import FileLock, identity_of, load_json_object, read_small_file, write_atomically

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    Identity = tuple[int, int, int, int]

MAX_CONFIG_BYTES = 16 << 20
MAX_ATTEMPTS = 20  # re-reads when another writer replaced the file between our read and our rename


class ConfigureError(HelperError):
    """Refusal with a message for the user; nothing was written."""


class NotJSON(ConfigureError):
    """The file exists and was read, but is not a JSON object (YAML, say): the user can edit it by hand."""


class ConfigFile:
    """A client's file as read: the path given (maybe a symlink), where its bytes live, its text and document."""

    __slots__ = ("data", "identity", "path", "target", "text")

    def __init__(
        self, path: str, target: str, text: str | None, data: dict[str, object], known: Identity | None
    ) -> None:
        self.path = path
        self.target = target
        self.text = text  # None: the file does not exist yet
        self.data = data
        self.identity = known  # what a concurrent writer would change: the file's, as it was read (None: absent)

    @property
    def exists(self) -> bool:
        return self.text is not None


def load(path: str) -> ConfigFile:
    """The file at ``path`` through the bounded reader (a FIFO or device there is refused, not read); an absent
    file is an empty document; anything that is not a JSON object is refused."""
    target = os.path.realpath(path)
    opened: list[os.stat_result] = []  # the fstat of what is read, before it is read
    raw = read_small_file(target, MAX_CONFIG_BYTES, f"cannot read {path}", check=opened.append)
    if raw is None:
        return ConfigFile(path, target, None, {}, None)
    known = identity_of(opened[0])
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise NotJSON(f"refusing to edit {path}: it is not UTF-8 text; fix or move it first") from None
    try:  # docker treats an empty config.json as {}
        data = load_json_object(text.encode("utf-8"), f"refusing to edit {path}", hint="; fix or move it first")
    except HelperError as err:
        raise NotJSON(str(err)) from None
    return ConfigFile(path, target, text, data, known)


def copy(data: dict[str, object]) -> dict[str, object]:
    """A deep copy that keeps key order (what an edit starts from)."""
    copied = json.loads(json.dumps(data))
    assert isinstance(copied, dict)
    return copied


def render(data: dict[str, object], previous: str | None, new_indent: str = "\t") -> str:
    """``data`` as JSON in the previous text's indentation unit (docker writes tabs), ``new_indent`` for a new or
    flat file, so an edit changes only the lines it must."""
    return json.dumps(data, indent=_indent_of(previous) or new_indent, ensure_ascii=False) + "\n"


def _indent_of(text: str | None) -> str:
    if text:
        for line in text.splitlines()[1:]:
            stripped = line.lstrip(" \t")
            if stripped and stripped != line:
                return line[: len(line) - len(stripped)]
    return ""


class Plan:
    """An edit of one file: the new document and what changed, in words."""

    __slots__ = ("data", "keep", "notes", "warnings")

    def __init__(self, data: dict[str, object]) -> None:
        self.data = data
        self.notes: list[str] = []  # what changed, for the user (empty: nothing to change)
        self.warnings: list[str] = []
        self.keep: str | None = None  # docker's previous credsStore, to become this helper's backend


class Edit:
    """A planned change of one file: ``plan`` computes it from whatever the file holds, so it can be re-applied to
    the file as a concurrent writer left it."""

    def __init__(self, path: str, plan: Callable[[ConfigFile], Plan], new_indent: str = "\t") -> None:
        self.path = path
        self.plan = plan
        self.new_indent = new_indent
        self.config = load(path)
        self.result = plan(self.config)
        self.text = render(self.result.data, self.config.text, new_indent)

    @property
    def changes(self) -> bool:
        return bool(self.result.notes) or not self.config.exists

    def diff(self) -> str:
        return redacted_diff(self.path, self.config.text, self.text)

    def write(self) -> None:
        """Write the change under the file's lock, re-planned on the file as it is then (see the module doc)."""
        directory = os.path.dirname(self.config.target)
        _mkdirs(directory)
        with FileLock(directory, f"cannot edit {self.path}", directory=True):
            for _ in range(MAX_ATTEMPTS):
                self.config = load(self.path)
                self.result = self.plan(self.config)
                if not self.changes:
                    return  # another writer made the same change
                self.text = render(self.result.data, self.config.text, self.new_indent)
                if _replace(self.config, self.text):
                    return
        raise ConfigureError(f"{self.path} kept changing while it was being edited; nothing was written, try again")


def _replace(config: ConfigFile, text: str) -> bool:
    """Replace the file with ``text`` unless it changed since ``config`` was read (False: read it again)."""
    target = config.target
    try:
        info = os.stat(target)
        mode, owner = stat.S_IMODE(info.st_mode), (info.st_uid, info.st_gid)
    except FileNotFoundError:
        mode, owner = 0o600, None
    if owner == (os.getuid(), os.getgid()) or os.getuid() != 0:
        owner = None  # only root can give a file away, and only a file that was someone else's needs it
    try:
        # A lone surrogate (a \uD800-\uDFFF escape in a file we read) is written back as that same escape.
        data = text.encode("utf-8", "backslashreplace")
        write_atomically(target, data, mode=mode, owner=owner, unless_changed=config.identity)
    except FileExistsError:
        return False
    except OSError as err:
        raise ConfigureError(f"cannot write {config.path}: {err.strerror or err}") from None
    return True


def _mkdirs(directory: str) -> None:
    """Create ``directory`` and its missing parents, each 0700."""
    missing = []
    current = directory
    while current and not os.path.exists(current):
        missing.append(current)
        current = os.path.dirname(current)
    for made in reversed(missing):
        try:
            os.mkdir(made, 0o700)
        except FileExistsError:
            pass
        except OSError as err:
            raise ConfigureError(f"cannot create {made}: {err.strerror}") from None


# --------------------------------------------------------------------------------------------------------------
# showing a change, secrets masked


def redacted_diff(path: str, before: str | None, after: str) -> str:
    """A unified diff of the change with every secret masked, in the removed, added and context lines alike.

    What is secret is decided from each document's structure (``redact_json``), never by a pattern over its
    text: an escaped quote inside a password cannot end the masking early.
    """
    import difflib

    lines = difflib.unified_diff(
        redact_json(before or "").splitlines(keepends=True),
        redact_json(after).splitlines(keepends=True),
        fromfile=path if before is not None else "/dev/null",
        tofile=path,
    )
    return "".join(lines)


MASK = '"***"'
# Members whose value is a secret wherever they appear; every value under a top-level "auths" or "HttpHeaders"
# (docker's own and the containers auth.json) is one too, and so is each "value" of a kubelet provider's "env".
_SECRET_MEMBERS = frozenset({"auth", "password", "identitytoken", "registrytoken", "secret", "token"})
_SECRET_SECTIONS = frozenset({"auths", "httpheaders"})


def redact_json(text: str) -> str:
    """``text``, a JSON document that parsed, with each secret value replaced by ``"***"`` and the user-info of any
    URL-like string (``http://user:pass@proxy``) by ``***``; everything else, line breaks included, as it was."""
    try:
        return "".join(_redacted_tokens(text))
    except (ValueError, IndexError, AttributeError):  # not the JSON it parsed as: show nothing rather than guess
        return "(contents withheld: could not be masked)\n" if text.strip() else text


def _secret_at(path: list[str | int]) -> bool:
    keys = [k.lower() for k in path if isinstance(k, str)]
    if path and isinstance(path[0], str) and keys[0] in _SECRET_SECTIONS:
        return True
    if any(k in _SECRET_MEMBERS for k in keys):
        return True
    return len(keys) >= 2 and keys[-1] == "value" and isinstance(path[-2], int) and keys[-2] == "env"


class _Frame:
    """An open container while tokens are walked: an object's current member name or an array's index."""

    __slots__ = ("at", "in_object", "want_key")

    def __init__(self, in_object: bool) -> None:
        self.in_object = in_object
        self.at: str | int = "" if in_object else 0
        self.want_key = in_object


def _shown_string(raw: str, value: str) -> str:
    masked = without_userinfo(value)
    return raw if masked == value else json.dumps(masked, ensure_ascii=False)


_DECODER = json.JSONDecoder()


def _redacted_tokens(text: str) -> Iterator[str]:
    stack: list[_Frame] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in " \t\r\n":
            j = i + 1
            while j < n and text[j] in " \t\r\n":
                j += 1
            yield text[i:j]
            i = j
            continue
        top = stack[-1] if stack else None
        if c in "{[":
            stack.append(_Frame(c == "{"))
            yield c
            i += 1
        elif c in "}]":
            stack.pop()
            yield c
            i += 1
        elif c == "," and top is not None:
            if top.in_object:
                top.want_key = True
            else:
                top.at = int(top.at) + 1
            yield c
            i += 1
        elif c == ":" and top is not None:
            top.want_key = False
            yield c
            i += 1
        elif c == '"':
            value, end = _DECODER.raw_decode(text, i)
            if top is not None and top.in_object and top.want_key:  # a member name
                top.at = value
                yield _shown_string(text[i:end], value)
            elif _secret_at([frame.at for frame in stack]):
                yield MASK
            else:
                yield _shown_string(text[i:end], value)
            i = end
        else:  # a number, true, false or null
            j = i
            while j < n and text[j] not in ",]} \t\r\n":
                j += 1
            yield MASK if _secret_at([frame.at for frame in stack]) else text[i:j]
            i = j
