"""Hostile files: every odd thing the store path, its directory or docker's config.json can be gets one
deliberate behaviour (README "Reliability" table) — never a traceback, a hang, or a temp file left behind.

The store is the only file the helper writes, so it is held to ssh's rule: it must be owned by you (or root)
and writable by nobody else, or the helper refuses to use it. config.json is docker's file and is read the
way docker reads it; its problems surface only when it is the source that would answer.
"""

from __future__ import annotations

import os
import socket
import stat
import time
from pathlib import Path

import pytest

from common import NOT_FOUND

from .support import (
    auth_entry,
    b64,
    check_outcome,
    drop_dac_override,
    read_auths,
    run_with,
    temp_files,
    write_store,
)

SECRET = "S3CR3T-hostile-9f2c"
NOBODY = 65534
VERBS = ("get", "store", "erase", "list")


def run_verb(helper, verb: str, **popen):
    stdin = {
        "get": b"example.com",
        "erase": b"example.com",
        "list": b"",
        "store": b'{"ServerURL":"example.com","Username":"u","Secret":"' + SECRET.encode() + b'"}\n',
    }[verb]
    result = run_with(helper.program, [verb], stdin, helper.env, **popen)
    check_outcome(verb, result.returncode, result.stdout, result.stderr, (SECRET,), describe=str(result))
    return result


def assert_refused(helper, verbs=VERBS, *fragments: str, **popen) -> None:
    for verb in verbs:
        started = time.monotonic()
        result = run_verb(helper, verb, **popen)
        assert time.monotonic() - started < 5, f"{verb} took too long"
        assert result.returncode == 1, result
        assert result.stdout != NOT_FOUND, result
        for fragment in fragments:
            assert fragment.lower() in result.stdout.lower(), f"{fragment!r} not in {result}"


def seed(helper) -> Path:
    """A store holding one good entry, written by the helper itself."""
    assert helper.store("example.com", "alice", SECRET).returncode == 0
    return helper.store_path


def assert_works(helper) -> None:
    assert helper.store("example.com", "alice", SECRET).returncode == 0
    got = helper.get("example.com")
    assert got.returncode == 0 and f'"Secret":"{SECRET}"' in got.stdout, got
    assert helper.list().json == {"example.com": "alice"}
    assert helper.erase("example.com").returncode == 0
    assert helper.get("example.com").stdout == NOT_FOUND


# --- symlinks: a dotfile manager's layout must keep working ---------------------------------------------------


def test_config_home_symlinked_by_dotfile_manager(helper, tmp_path):
    real = tmp_path / "dotfiles" / "config"
    real.mkdir(parents=True)
    helper.config_home.symlink_to(real)  # ~/.config -> ~/dotfiles/config (also XDG_CONFIG_HOME)
    assert_works(helper)
    assert helper.store("example.com", "alice", SECRET).returncode == 0
    assert helper.config_home.is_symlink()
    store_dir = real / "docker-credential-imgpkg"
    assert stat.S_IMODE(store_dir.stat().st_mode) == 0o700
    assert decode_store(store_dir / "credentials.json") == {"example.com": ("alice", SECRET)}
    assert temp_files(store_dir) == []


def test_store_directory_symlinked(helper, tmp_path):
    real = tmp_path / "dotfiles" / "imgpkg"
    real.mkdir(parents=True, mode=0o700)
    helper.store_path.parent.parent.mkdir(parents=True)
    helper.store_path.parent.symlink_to(real)
    assert_works(helper)
    assert helper.store_path.parent.is_symlink() and temp_files(real) == []


def test_store_file_symlink_is_followed_and_kept(helper, tmp_path):
    """As docker does with config.json: the target is read and replaced, the link stays a link, and the temp file
    (which must be in the target's directory for an atomic rename) never outlives the write."""
    target_dir = tmp_path / "dotfiles"
    target_dir.mkdir()
    target = target_dir / "creds.json"
    write_store(target, {"old.example": auth_entry("bob", "x")})
    target_dir.chmod(0o755)
    helper.store_path.parent.mkdir(parents=True, mode=0o700)
    helper.store_path.symlink_to(target)
    assert helper.store("example.com", "alice", SECRET).returncode == 0
    assert helper.store_path.is_symlink() and os.readlink(helper.store_path) == str(target)
    assert decode_store(target) == {"old.example": ("bob", "x"), "example.com": ("alice", SECRET)}
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert temp_files(target_dir) == [] and temp_files(helper.store_path.parent) == []
    assert sorted(os.listdir(helper.store_path.parent)) == ["credentials.json"]  # lock lives beside the target
    assert helper.get("example.com").returncode == 0
    assert helper.erase("example.com").returncode == 0
    assert decode_store(target) == {"old.example": ("bob", "x")}


def test_dangling_store_symlink_reads_empty_and_store_creates_the_target(helper, tmp_path):
    target = tmp_path / "dotfiles" / "new" / "creds.json"
    helper.store_path.parent.mkdir(parents=True, mode=0o700)
    helper.store_path.symlink_to(target)
    assert helper.get("example.com").stdout == NOT_FOUND
    assert helper.list().json == {}
    assert helper.erase("example.com").returncode == 0
    assert not target.exists()
    assert helper.store("example.com", "alice", SECRET).returncode == 0
    assert helper.store_path.is_symlink() and decode_store(target) == {"example.com": ("alice", SECRET)}
    assert stat.S_IMODE(target.parent.stat().st_mode) == 0o700


def test_symlink_loop_is_a_clear_error(helper):
    helper.store_path.parent.mkdir(parents=True, mode=0o700)
    helper.store_path.symlink_to(helper.store_path.name)
    assert_refused(helper, VERBS, "symbolic links")
    assert helper.store_path.is_symlink()


# --- not a regular file -------------------------------------------------------------------------------------


def test_store_path_is_a_directory(helper):
    helper.store_path.mkdir(parents=True)
    assert_refused(helper, VERBS, "is a directory")
    assert os.listdir(helper.store_path) == []


def test_store_path_is_a_fifo_never_blocks(helper):
    helper.store_path.parent.mkdir(parents=True, mode=0o700)
    os.mkfifo(helper.store_path, 0o600)
    assert_refused(helper, VERBS, "FIFO")
    assert stat.S_ISFIFO(helper.store_path.lstat().st_mode)
    assert temp_files(helper.store_path.parent) == []


def test_store_path_is_a_socket(helper):
    import tempfile

    short = Path(tempfile.mkdtemp(prefix="hs"))  # AF_UNIX paths are limited to 108 bytes
    path = short / "c.json"
    helper.env["DOCKER_CREDENTIAL_IMGPKG_STORE"] = str(path)
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(path))
        assert_refused(helper, VERBS, "cannot open: No such device or address")  # open(2) says ENXIO
    finally:
        sock.close()
        import shutil

        shutil.rmtree(short)


def test_store_directory_is_a_file(helper):
    helper.store_path.parent.parent.mkdir(parents=True)
    helper.store_path.parent.write_text("not a directory")
    assert_refused(helper, ("get", "store", "list"), "Not a directory")


def test_lock_file_symlink_or_directory_is_refused(helper, tmp_path):
    seed(helper)
    lock = helper.store_path.with_name("credentials.json.lock")
    lock.unlink()
    elsewhere = tmp_path / "elsewhere"
    lock.symlink_to(elsewhere)
    assert_refused(helper, ("store", "erase"), "lock file")
    assert not elsewhere.exists()
    lock.unlink()
    lock.mkdir()
    assert_refused(helper, ("store", "erase"), "lock file")
    assert decode_store(helper.store_path) == {"example.com": ("alice", SECRET)}


# --- permissions and ownership ------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", [0o666, 0o620, 0o602])
def test_store_writable_by_others_is_refused(helper, mode):
    path = seed(helper)
    before = path.read_bytes()
    path.chmod(mode)
    assert_refused(helper, VERBS, "writable by other users", "chmod go-w")
    assert path.read_bytes() == before and stat.S_IMODE(path.stat().st_mode) == mode


@pytest.mark.parametrize("mode", [0o777, 0o1777, 0o770])
def test_store_directory_writable_by_others_is_refused(helper, mode):
    path = seed(helper)
    before = path.read_bytes()
    path.parent.chmod(mode)
    assert_refused(helper, VERBS, "writable by other users")
    assert path.read_bytes() == before and temp_files(path.parent) == []


def test_store_owned_by_another_user_is_refused(helper):
    path = seed(helper)
    before = path.read_bytes()
    os.chown(path, NOBODY, NOBODY)
    assert_refused(helper, VERBS, f"owned by uid {NOBODY}")
    assert path.read_bytes() == before and path.stat().st_uid == NOBODY


def test_store_directory_owned_by_another_user_is_refused(helper):
    path = seed(helper)
    os.chown(path.parent, NOBODY, NOBODY)
    assert_refused(helper, VERBS, f"owned by uid {NOBODY}")


def test_fresh_store_in_a_directory_owned_by_another_user_is_refused(helper):
    """Refused before anything (lock file, temp file) is created there."""
    helper.store_path.parent.mkdir(parents=True, mode=0o700)
    os.chown(helper.store_path.parent, NOBODY, NOBODY)
    assert_refused(helper, ("store",), f"owned by uid {NOBODY}")
    assert os.listdir(helper.store_path.parent) == []


def test_symlink_into_a_world_writable_directory_is_refused(helper, tmp_path):
    """A store file linked into /tmp-like space: refused, and no temp or lock file appears there."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    helper.store_path.parent.mkdir(parents=True, mode=0o700)
    helper.store_path.symlink_to(shared / "creds.json")
    assert_refused(helper, ("store",), "writable by other users")
    assert os.listdir(shared) == []


def test_store_readable_by_others_works_and_is_tightened_on_write(helper):
    """0644 is a leak but not a tampering risk: docker keeps such files, we keep working and write 0600."""
    path = seed(helper)
    path.chmod(0o644)
    assert helper.get("example.com").returncode == 0
    assert helper.store("other.example", "bob", "pw").returncode == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_unreadable_store_is_a_clear_error(helper):
    """As root every file is readable, so the helper runs without CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH."""
    path = seed(helper)
    before = path.read_bytes()
    path.chmod(0)
    assert_refused(helper, VERBS, "Permission denied", preexec_fn=drop_dac_override)
    path.chmod(0o600)
    assert path.read_bytes() == before


def test_unwritable_store_directory_is_a_clear_error(helper):
    path = seed(helper)
    path.parent.chmod(0o500)
    result = run_verb(helper, "store", preexec_fn=drop_dac_override)
    assert result.returncode == 1 and "Permission denied" in result.stdout, result
    # reading still works
    result = run_with(helper.program, ["get"], b"example.com", helper.env, preexec_fn=drop_dac_override)
    assert result.returncode == 0, result


@pytest.mark.parametrize("mask", [0o000, 0o022, 0o077])
def test_files_are_private_whatever_the_umask(helper, mask):
    def umask():
        os.umask(mask)

    result = run_with(
        helper.program, ["store"], b'{"ServerURL":"a.io","Username":"u","Secret":"s"}', helper.env, preexec_fn=umask
    )
    assert result.returncode == 0, result
    store = helper.store_path
    assert stat.S_IMODE(store.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.with_name("credentials.json.lock").stat().st_mode) == 0o600
    assert stat.S_IMODE(store.parent.stat().st_mode) == 0o700
    # directories the helper had to create on the way (~/.config) are private too
    assert stat.S_IMODE(helper.config_home.stat().st_mode) == 0o700


# --- contents -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [b"{not json", b"[]", b'"auths"', b'{"auths": []}', b'{"auths": "x"}', b"\xff\xfe{}", b"[" * 100_000],
    ids=["broken", "array", "string", "auths-array", "auths-string", "bad-utf8", "deep"],
)
def test_store_with_bad_contents_is_refused_and_never_overwritten(helper, content):
    helper.store_path.parent.mkdir(parents=True, mode=0o700)
    helper.store_path.write_bytes(content)
    helper.store_path.chmod(0o600)
    assert_refused(helper, VERBS, "refusing")
    assert helper.store_path.read_bytes() == content


def test_huge_store_is_refused_quickly(helper):
    path = seed(helper)
    with path.open("ab") as f:
        f.truncate(17 << 20)
    assert_refused(helper, VERBS, "larger than 16 MiB")


def test_bad_entries_in_the_store_fail_only_their_own_lookup(helper):
    write_store(
        helper.store_path,
        {
            "good.example": auth_entry("alice", SECRET),
            "bad64.example": {"auth": "!!!" + SECRET},
            "nocolon.example": {"auth": b64("nocolon")},
            "type.example": {"auth": 12},
            "list.example": [SECRET],
        },
    )
    assert helper.list().json == {"good.example": "alice"}
    assert helper.get("good.example").returncode == 0
    for host in ("bad64.example", "nocolon.example", "type.example", "list.example"):
        result = helper.get(host)
        check_outcome("get", result.returncode, result.stdout, result.stderr, (SECRET,), describe=str(result))
        assert result.returncode == 1 and host in result.stdout, result


def test_stale_temp_files_are_removed_by_the_next_write(helper):
    """What a writer killed between creating and renaming its temp file leaves: removed under the lock."""
    path = seed(helper)
    stale = [path.parent / f".credentials.json.tmp-{pid}-deadbeef" for pid in (1, 99999)]
    for name in stale:
        name.write_text('{"auths": {}}')
    unrelated = path.parent / "notes.txt"
    unrelated.write_text("mine")
    assert helper.store("b.example", "bob", "pw").returncode == 0
    assert temp_files(path.parent) == [] and unrelated.read_text() == "mine"
    assert decode_store(path) == {"example.com": ("alice", SECRET), "b.example": ("bob", "pw")}
    for name in stale:
        name.write_text("{}")
    assert helper.erase("nothing.example").returncode == 0  # changes nothing: takes no lock, touches nothing
    assert len(temp_files(path.parent)) == 2
    assert helper.erase("b.example").returncode == 0  # a write cleans up
    assert temp_files(path.parent) == []


def test_stale_temp_files_beside_a_symlink_target_are_removed(helper, tmp_path):
    target_dir = tmp_path / "dotfiles"
    target_dir.mkdir()
    target = target_dir / "creds.json"
    write_store(target, {})
    target_dir.chmod(0o755)
    helper.store_path.parent.mkdir(parents=True, mode=0o700)
    helper.store_path.symlink_to(target)
    (target_dir / ".creds.json.tmp-4242-cafebabe").write_text("{}")
    assert helper.store("example.com", "alice", SECRET).returncode == 0
    assert temp_files(target_dir) == [] and temp_files(helper.store_path.parent) == []


# --- docker's config.json --------------------------------------------------------------------------------------


def config_entries() -> dict[str, object]:
    return {"good.example": auth_entry("carol", SECRET), "https://index.docker.io/v1/": {}}


def test_config_symlink_is_followed(helper, tmp_path):
    real = tmp_path / "dotfiles" / "docker.json"
    real.parent.mkdir()
    import json

    real.write_text(json.dumps({"auths": config_entries()}))
    helper.docker_config_dir.mkdir()
    helper.docker_config_path.symlink_to(real)
    assert helper.get("good.example").returncode == 0
    assert helper.list().json == {"good.example": "carol"}


@pytest.mark.parametrize("kind", ["directory", "fifo"])
def test_config_that_is_not_a_file_is_an_error_not_a_hang(helper, kind):
    helper.docker_config_dir.mkdir()
    if kind == "directory":
        helper.docker_config_path.mkdir()
    else:
        os.mkfifo(helper.docker_config_path)
    assert_refused(helper, ("get", "list"), "not a regular file")
    # the store still answers what it holds, and store/erase do not read config.json at all
    assert helper.store("example.com", "alice", "pw").returncode == 0
    assert helper.get("example.com").returncode == 0
    assert helper.erase("example.com").returncode == 0


def test_unreadable_config_is_an_error(helper):
    path = helper.write_docker_config({"auths": config_entries()})
    path.chmod(0)
    assert_refused(helper, ("get", "list"), "Permission denied", preexec_fn=drop_dac_override)


def test_huge_config_is_refused_quickly(helper):
    path = helper.write_docker_config({"auths": config_entries()})
    with path.open("ab") as f:
        f.write(b" " * (17 << 20))
    assert_refused(helper, ("get", "list"), "larger than 16 MiB")


def test_large_config_under_the_cap_still_works(helper):
    auths = {f"host{i}.example": auth_entry(f"user{i}", f"pw{i}") for i in range(50_000)}
    auths.update(config_entries())
    helper.write_docker_config({"auths": auths})
    assert helper.docker_config_path.stat().st_size > 2 << 20
    started = time.monotonic()
    result = helper.get("good.example")
    assert result.returncode == 0 and SECRET in result.stdout, result
    assert time.monotonic() - started < 10


@pytest.mark.parametrize(
    "content, fragment",
    [
        ("[" * 200_000, "nested more than 64 levels deep"),
        ('{"auths": {"good.example": ' + "[" * 200_000 + "]" * 200_000 + "}}", "nested more than 64 levels deep"),
        ("[]", "expected a JSON object"),
        ('"auths"', "expected a JSON object"),
        ("42", "expected a JSON object"),
        ("null", "expected a JSON object"),
        ('{"auths": []}', '"auths" must be a JSON object'),
        ('{"auths": "S3CR3T-hostile-9f2c"}', '"auths" must be a JSON object'),
        ("{broken", "not valid JSON"),
        (b"\xff\xfe\x00{".decode("latin-1"), "not valid JSON"),
    ],
    ids=[
        "deep",
        "deep-entry",
        "array",
        "string",
        "number",
        "null",
        "auths-array",
        "auths-string",
        "broken",
        "bad-utf8",
    ],
)
def test_config_with_bad_shape_is_an_error(helper, content, fragment):
    helper.docker_config_dir.mkdir()
    helper.docker_config_path.write_bytes(content.encode("latin-1"))
    for verb in ("get", "list"):
        result = run_verb(helper, verb)
        assert result.returncode == 1 and fragment in result.stdout, result


@pytest.mark.parametrize(
    "entry",
    [
        {"auth": "!!!not base64" + SECRET},
        {"auth": b64("nocolon")},
        {"auth": auth_entry("", SECRET)["auth"]},
        {"auth": 12},
        {"auth": [SECRET]},
        {"username": 5, "password": SECRET},
        {"identitytoken": {"t": SECRET}},
        "S3CR3T-hostile-9f2c",
        [SECRET],
        None,
    ],
)
def test_config_entry_with_wrong_types_or_bad_base64(helper, entry):
    """The bad entry fails only a lookup it would answer, with the key named and no secret shown."""
    helper.write_docker_config({"auths": {"bad.example": entry, **config_entries()}})
    result = helper.get("bad.example")
    check_outcome("get", result.returncode, result.stdout, result.stderr, (SECRET,), describe=str(result))
    if entry is None:
        assert result.stdout == NOT_FOUND or "bad.example" in result.stdout, result
    else:
        assert result.returncode == 1 and "bad.example" in result.stdout, result
    assert helper.get("good.example").returncode == 0
    assert helper.list().json == {"good.example": "carol"}


def test_empty_config_is_no_entries(helper):
    helper.docker_config_dir.mkdir()
    helper.docker_config_path.write_text("  \n")
    assert helper.get("good.example").stdout == NOT_FOUND
    assert helper.list().json == {}


def test_debug_trace_never_shows_config_or_store_secrets(helper):
    helper.write_docker_config({"auths": config_entries()})
    seed(helper)
    env = {"DOCKER_CREDENTIAL_IMGPKG_DEBUG": "1"}
    for verb, stdin in (("get", "good.example"), ("get", "example.com"), ("get", "nothing.example"), ("list", "")):
        result = helper.run(verb, stdin=stdin, env=env)
        assert "debug" in result.stderr and SECRET not in result.stderr, result
        check_outcome(verb, result.returncode, result.stdout, result.stderr, (), describe=str(result))


# --- helpers ------------------------------------------------------------------------------------------------


def decode_store(path: Path) -> dict[str, tuple[str, str]]:
    from .support import decode_auth

    return {key: decode_auth(entry) for key, entry in read_auths(path).items()}


def test_writes_name_the_temp_file_only_once_it_is_complete(tmp_path, monkeypatch):
    """The data goes to an unnamed O_TMPFILE inode, linked into the directory only after fsync, so a writer
    killed mid-write leaves nothing; the named-temp fallback is for file systems without O_TMPFILE."""
    from docker_credential_imgpkg.backends import file as filestore
    from docker_credential_imgpkg.protocol import Credentials

    if not hasattr(os, "O_TMPFILE"):
        pytest.skip("no O_TMPFILE on this platform")
    opened: list[tuple[str, int]] = []
    real_open = os.open

    def spy(path, flags, *args, **kwargs):
        opened.append((str(path), flags))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", spy)
    store_dir = tmp_path / "store"
    store_dir.mkdir(mode=0o700)
    backend = filestore.FileBackend(str(store_dir / "credentials.json"))
    backend.add(Credentials("a.example", "alice", SECRET))
    assert any(flags & os.O_TMPFILE == os.O_TMPFILE for _, flags in opened), opened
    assert not any(".tmp-" in path and flags & os.O_CREAT for path, flags in opened), "fell back to a named temp file"
    assert decode_store(store_dir / "credentials.json") == {"a.example": ("alice", SECRET)}
    assert temp_files(store_dir) == []
