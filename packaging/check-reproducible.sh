#!/usr/bin/env bash
# Build the single executable twice from this tree and compare: the version it reports and its file list must
# be identical (they are what "the same build" means to a user); identical bytes are reported, not required.
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

if ! diff -u "$scratch/describe1" "$scratch/describe2"; then
  echo "check-reproducible: two builds differ in version or file list" >&2
  exit 1
fi
if cmp -s "$scratch/build1" "$scratch/build2"; then
  echo "check-reproducible: two builds are byte-identical ($(sha256sum <"$scratch/build1" | cut -c1-16)…)"
else
  echo "check-reproducible: same version and file list ($(grep -c '' "$scratch/describe1") lines); bytes differ"
fi
