#!/usr/bin/env bash
# Build dist/docker-credential-imgpkg: one executable file that needs nothing on the target but libc.
#
#   1. PyInstaller (pinned in packaging/requirements-build.txt, its bootloader compiled here with zlib linked in)
#      makes a stripped one-folder bundle from packaging/docker-credential-imgpkg.spec;
#   2. packaging/launcher.c is compiled and packaging/pack.py appends the bundle to it;
#   3. the result is checked: it links only libc, answers `version` like the package, and runs `get` in a
#      chroot holding nothing but Debian's libc6 (when run as root).
#
# Environment: PYTHON (interpreter for the build venv, default python3), CC (default cc).
# Work files go to build/binary/; the build venv is reused while requirements-build.txt is unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
CC=${CC:-cc}
WORK=build/binary
VENV=$WORK/venv
OUT=dist/docker-credential-imgpkg
REQS=packaging/requirements-build.txt
export PIP_DISABLE_PIP_VERSION_CHECK=1 SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-0}

say() { printf 'build.sh: %s\n' "$*" >&2; }

# Shared objects an executable may need from the target system: glibc's own (package libc6), nothing else.
LIBC_ONLY='^(libc\.so\.6|libm\.so\.6|libdl\.so\.2|libpthread\.so\.0|librt\.so\.1|ld-linux-x86-64\.so\.2|ld-linux-aarch64\.so\.1)$'

needed_outside() { # ELF files given; prints "file: lib" for each DT_NEEDED that is neither libc nor bundled
  local f lib
  for f in "$@"; do
    for lib in $(readelf -d "$f" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
      [[ $lib =~ $LIBC_ONLY ]] && continue
      [ -n "$(find "$WORK/onedir" -name "$lib" -print -quit)" ] && continue
      echo "$f: $lib"
    done
  done
}

# --- 1. build venv with a from-source, libc-only PyInstaller bootloader ---------------------------------------
stamp=$(sha256sum "$REQS" | cut -c1-16)-$($PYTHON -c 'import sys; print("%d.%d" % sys.version_info[:2])')
if [ "$(cat "$VENV/.stamp" 2>/dev/null)" != "$stamp" ]; then
  say "creating $VENV (PyInstaller bootloader is compiled from source: ~30 s)"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
  # --no-cache-dir: pip's wheel cache does not know PYI_STATIC_ZLIB, so never reuse a wheel built without it.
  PYI_STATIC_ZLIB=1 PIP_CONSTRAINT="$PWD/$REQS" "$VENV/bin/pip" install -q --no-cache-dir \
    --no-binary pyinstaller -r "$REQS"
  echo "$stamp" >"$VENV/.stamp"
fi
bootloader=$("$VENV/bin/python" -c 'import os, PyInstaller; print(os.path.join(os.path.dirname(PyInstaller.__file__), "bootloader"))')
bad=$(needed_outside "$bootloader"/*/run)
if [ -n "$bad" ]; then
  say "the PyInstaller bootloader needs more than libc ($bad); delete $VENV and rebuild"
  exit 1
fi

# --- 2. one-folder bundle, launcher, single file -----------------------------------------------------------
version=$("$VENV/bin/python" -c 'import sys; sys.path.insert(0, "helper"); import docker_credential_imgpkg as p; print(p.__version__)')
say "PyInstaller: one-folder bundle of docker-credential-imgpkg $version"
rm -rf "$WORK/onedir" "$WORK/pyinstaller"
# A fixed hash seed: PyInstaller writes base_library.zip in set order, which would differ from run to run.
PYTHONHASHSEED=0 "$VENV/bin/pyinstaller" --noconfirm --clean --log-level WARN \
  --distpath "$WORK/onedir" --workpath "$WORK/pyinstaller" packaging/docker-credential-imgpkg.spec
bundle=$WORK/onedir/docker-credential-imgpkg

bad=$(needed_outside $(find "$bundle" -type f \( -name '*.so*' -o -perm -u+x \)))
if [ -n "$bad" ]; then
  say "bundled files need libraries that are neither libc nor bundled:"
  echo "$bad" >&2
  exit 1
fi

say "compiling packaging/launcher.c"
"$CC" -std=c11 -O2 -Wall -Wextra -Werror -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE -pie \
  -Wl,-z,relro,-z,now -Wl,--as-needed -s -o "$WORK/launcher" packaging/launcher.c
bad=$(needed_outside "$WORK/launcher")
[ -z "$bad" ] || { say "launcher links more than libc: $bad"; exit 1; }

mkdir -p dist
"$VENV/bin/python" packaging/pack.py build --launcher "$WORK/launcher" --bundle "$bundle" --label "$version" \
  --output "$OUT" >&2

# --- 3. checks -------------------------------------------------------------------------------------------
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
expected=$(PYTHONPATH="$PWD/helper" "$VENV/bin/python" -s packaging/entry.py version)
got=$(env -i PATH=/usr/bin:/bin HOME="$scratch" "$OUT" version)
if [ "$got" != "$expected" ]; then
  say "version mismatch: binary says '$got', the package says '$expected'"
  exit 1
fi

if [ "$(id -u)" = 0 ] && command -v chroot >/dev/null && command -v dpkg >/dev/null; then
  # A root file system with nothing but the files of Debian's libc6 package and the binary: no zlib, no
  # Python, no /proc. The helper must still answer a `get` from the environment.
  root=$scratch/root
  mkdir -p "$root/tmp" "$root/home" && chmod 1777 "$root/tmp"
  dpkg -L libc6 | while read -r f; do
    if [ -f "$f" ] || [ -L "$f" ]; then
      case $f in /lib*/*.so* | /usr/lib*/*.so* | /lib64/*) mkdir -p "$root$(dirname "$f")" && cp -a "$f" "$root$f" ;; esac
    fi
  done
  # merged-/usr systems: /lib -> usr/lib
  for l in /lib /lib64; do [ -L "$l" ] && [ ! -e "$root$l" ] && cp -a "$l" "$root$l"; done
  cp "$OUT" "$root/docker-credential-imgpkg"
  chroot_bin=$(command -v chroot)
  answer=$(printf 'chroot.test' | env -i HOME=/home IMGPKG_REGISTRY_HOSTNAME_my-reg=chroot.test \
    IMGPKG_REGISTRY_USERNAME_my-reg=u IMGPKG_REGISTRY_PASSWORD_my-reg=p \
    "$chroot_bin" "$root" /docker-credential-imgpkg get)
  if [ "$answer" != '{"ServerURL":"chroot.test","Username":"u","Secret":"p"}' ]; then
    say "in a libc-only chroot, get answered: $answer"
    exit 1
  fi
  say "checked: runs in a chroot with only libc6's files"
else
  say "skipped the libc-only chroot check (needs root, chroot and dpkg)"
fi

glibc=$(find "$bundle" "$WORK/launcher" -type f \( -name '*.so*' -o -perm -u+x \) -exec objdump -T {} + 2>/dev/null |
  grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1)
say "$OUT: $(du -h "$OUT" | cut -f1), version '$got', needs ${glibc/_/ } or newer ($(uname -m))"
