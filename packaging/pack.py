"""Join the launcher (packaging/launcher.c) and PyInstaller's one-folder bundle into one executable file.

    pack.py build --launcher L --bundle DIR --label VERSION --output FILE
    pack.py list [--sizes] FILE   the bundle's label, then a line per file: l (symlink), x (executable) or -,
                                  its size with --sizes, its path

Layout: [launcher][file data ...][index][trailer]. Index entry: u32 kind (0 file, 1 symlink), u32 mode,
u64 offset, u64 size, u32 name length, name (UTF-8, relative). Trailer (128 bytes): 16-byte magic, u64 index
offset, u64 index size, u32 entry count, u32 reserved, 24-byte label, 64-byte key = hex sha256 of the data and
index. Entries are sorted and carry no time stamps or owners, so the same bundle always packs to the same bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import stat
import struct
import sys

MAGIC = b"DCI-ONEFILE-v1\0\0"
TRAILER = struct.Struct("<16sQQII24s64s")
ENTRY = struct.Struct("<IIQQI")
FILE, SYMLINK = 0, 1
PROGRAM = "docker-credential-imgpkg"
assert TRAILER.size == 128 and ENTRY.size == 28


def collect(bundle: str) -> list[tuple[str, int, str]]:
    """(relative path, kind, absolute path) for every file and symlink under ``bundle``, sorted."""
    found = []
    for top, dirs, files in os.walk(bundle, followlinks=False):
        for name in files + [d for d in dirs if os.path.islink(os.path.join(top, d))]:
            full = os.path.join(top, name)
            rel = os.path.relpath(full, bundle)
            if os.path.islink(full):
                target = os.readlink(full)
                if target.startswith("/") or ".." in target:
                    raise SystemExit(f"pack: symlink leaves the bundle: {rel} -> {target}")
                found.append((rel, SYMLINK, full))
            elif stat.S_ISREG(os.lstat(full).st_mode):
                found.append((rel, FILE, full))
            else:
                raise SystemExit(f"pack: not a file or symlink: {rel}")
    found.sort()
    if (PROGRAM, FILE) not in {(r, k) for r, k, _ in found}:
        raise SystemExit(f"pack: {bundle} has no {PROGRAM}")
    return found


def build(launcher: str, bundle: str, label: str, output: str) -> str:
    if not re.fullmatch(r"[0-9A-Za-z.+_-]{1,23}", label):
        raise SystemExit(f"pack: bad label {label!r}")
    with open(launcher, "rb") as f:
        head = f.read()
    data, index, digest = bytearray(), bytearray(), hashlib.sha256()
    entries = collect(bundle)
    for rel, kind, full in entries:
        if kind == SYMLINK:
            blob, mode = os.readlink(full).encode(), 0o777
        else:
            with open(full, "rb") as f:
                blob = f.read()
            mode = 0o755 if os.stat(full).st_mode & stat.S_IXUSR else 0o644
        name = rel.encode()
        index += ENTRY.pack(kind, mode, len(head) + len(data), len(blob), len(name)) + name
        data += blob
    digest.update(data)
    digest.update(index)
    key = digest.hexdigest()
    index_offset = len(head) + len(data)
    trailer = TRAILER.pack(MAGIC, index_offset, len(index), len(entries), 0, label.encode(), key.encode())
    tmp = output + ".tmp"
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    with open(tmp, "wb") as f:
        f.write(head + data + index + trailer)
    os.chmod(tmp, 0o755)
    os.replace(tmp, output)
    return key


def read(path: str) -> tuple[str, str, list[tuple[int, int, int, str]]]:
    """label, key and (kind, mode, size, name) entries of a packed file."""
    with open(path, "rb") as f:
        f.seek(-TRAILER.size, os.SEEK_END)
        magic, index_offset, index_size, count, _, label, key = TRAILER.unpack(f.read(TRAILER.size))
        if magic != MAGIC:
            raise SystemExit(f"pack: {path} is not a packed docker-credential-imgpkg")
        f.seek(index_offset)
        index = f.read(index_size)
    entries, at = [], 0
    for _ in range(count):
        kind, mode, _offset, size, name_len = ENTRY.unpack_from(index, at)
        at += ENTRY.size
        name = index[at : at + name_len].decode()
        at += name_len
        entries.append((kind, mode, size, name))
    return label.rstrip(b"\0").decode(), key.decode(), entries


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pack.py")
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build")
    b.add_argument("--launcher", required=True)
    b.add_argument("--bundle", required=True)
    b.add_argument("--label", required=True)
    b.add_argument("--output", required=True)
    ls = sub.add_parser("list")
    ls.add_argument("file")
    ls.add_argument("--sizes", action="store_true", help="also print each file's size")
    args = parser.parse_args(argv)
    if args.command == "build":
        key = build(args.launcher, args.bundle, args.label, args.output)
        print(f"{args.output}: {os.path.getsize(args.output)} bytes, bundle {args.label}-{key[:32]}")
        return 0
    label, key, entries = read(args.file)
    print(f"# label {label}")
    for kind, mode, size, name in entries:
        what = "l" if kind == SYMLINK else ("x" if mode & 0o100 else "-")
        print(f"{what} {size:>10} {name}" if args.sizes else f"{what} {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
