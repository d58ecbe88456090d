#!/usr/bin/env bash
# Builds kubelet-harness (tests/kubelet/harness: the kubelet's credential provider code, pinned in go.mod/go.sum)
# into a cache directory and prints the binary's path on stdout; build output goes to stderr.
# Idempotent: skips the build when the binary was built from the same go.mod, go.sum, *.go, build.sh and Go version.
# The binary is named by that content stamp, so checkouts of different harness sources sharing the cache never use,
# nor replace mid-run, each other's binary. Safe to run concurrently.
#   KUBELET_HARNESS_DIR  output directory (default ${XDG_CACHE_HOME:-$HOME/.cache}/docker-credential-imgpkg-test/kubelet-harness)
#   GO                   the go command (default: `go` on PATH if it is Go >= 1.26, else /usr/local/go/bin/go; packaging/find-go.sh)
# A cold build downloads the k8s.io module graph through the Go module proxy and compiles it: minutes.
set -euo pipefail
src="$(cd "$(dirname "${BASH_SOURCE[0]}")/harness" && pwd)"
out="${KUBELET_HARNESS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/docker-credential-imgpkg-test/kubelet-harness}"

GO="$(bash "$src/../../../packaging/find-go.sh")" || { echo "build.sh: cannot build kubelet-harness" >&2; exit 1; }

mkdir -p "$out"
stamp="$( (cat "${BASH_SOURCE[0]}"; cd "$src" && cat go.mod go.sum ./*.go; "$GO" version) | sha256sum | cut -d' ' -f1)"
bin="$out/kubelet-harness-${stamp:0:16}"

exec 9>"$out/.lock"
command -v flock >/dev/null && flock 9
if [ -x "$bin" ] && [ "$(cat "$bin.stamp" 2>/dev/null)" = "$stamp" ]; then
  echo "$bin"
  exit 0
fi
echo "build.sh: building kubelet-harness with $("$GO" version) (a cold build takes minutes)" >&2
tmp="$(mktemp "$out/.kubelet-harness.XXXXXX")"
trap 'rm -f "$tmp"' EXIT
# -mod=readonly: build exactly what go.sum pins; never edit go.mod/go.sum, whatever GOFLAGS says.
(cd "$src" && CGO_ENABLED=0 "$GO" build -mod=readonly -trimpath -ldflags='-s -w' -o "$tmp" .) >&2
mv -f "$tmp" "$bin"
echo "$stamp" > "$bin.stamp"
# Other sources' binaries (50 MB each) not rebuilt for a day: a later run needing one rebuilds it in seconds.
find "$out" -maxdepth 1 -name 'kubelet-harness-*' ! -name "${bin##*/}*" -mmin +1440 -delete 2>/dev/null || true
echo "$bin"
