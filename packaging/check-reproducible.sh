#!/usr/bin/env bash
# Build the single executable twice from this tree and compare. Fails unless the two files are byte-identical
# (same sha256). When they differ, it also reports whether the version and file list (what a user sees) still
# match, and where the bytes first differ, to point at the cause. The tree must not change while it runs: an
# edit between the two builds is a difference too.
set -euo pipefail
cd "$(dirname "$0")/.."

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
describe() { # binary -> "version" line, then the file list
  env -i PATH=/usr/bin:/bin HOME="$scratch/home-$2" "$1" version
  build/binary/venv/bin/python packaging/pack.py list "$1"
}

for n in 1 2; do
  rm -rf build/binary/onedir build/binary/pyinstaller
  bash packaging/build.sh
  cp dist/docker-credential-imgpkg "$scratch/build$n"
  mkdir -p "$scratch/home-$n"
  describe "$scratch/build$n" "$n" >"$scratch/describe$n"
done

sum1=$(sha256sum <"$scratch/build1" | cut -d' ' -f1)
sum2=$(sha256sum <"$scratch/build2" | cut -d' ' -f1)
if [ "$sum1" = "$sum2" ]; then
  echo "check-reproducible: two builds are byte-identical (sha256 $sum1)"
  exit 0
fi
echo "check-reproducible: FAILED: two builds differ in bytes (sha256 $sum1 vs $sum2)" >&2
if diff -u "$scratch/describe1" "$scratch/describe2" >&2; then
  echo "check-reproducible: same version and file list ($(grep -c '' "$scratch/describe1") lines)" >&2
else
  echo "check-reproducible: they also differ in version or file list (diff above)" >&2
fi
cmp "$scratch/build1" "$scratch/build2" >&2 || true
exit 1
