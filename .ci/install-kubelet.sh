#!/usr/bin/env bash
# What tests/e2e/test_kubelet_node.py needs: Debian's containerd (1.6, with ctr) and runc, busybox-static (the
# test images are built from its /bin/busybox), and a real kubelet built from the Go module proxy.
#
# The kubelet: `go build k8s.io/kubernetes/cmd/kubelet` inside .ci/kubelet, a module whose go.mod/go.sum pin
# k8s.io/kubernetes v1.37.2 with its staging modules replaced by their v0.37.2 releases, the same module graph as
# tests/kubelet/harness (tests/kubelet/test_pins.py keeps the two in step). -mod=readonly: go.sum is the pin.
# The binary goes to the Go clients' cache directory ($DOCKER_CREDENTIAL_IMGPKG_GOBIN, else
# ${XDG_CACHE_HOME:-$HOME/.cache}/docker-credential-imgpkg-e2e/gobin) and is rebuilt only when its content stamp
# (this script, go.mod, go.sum, the Go version) changes. Safe to run concurrently (flock). Prints the binary's path
# on stdout; everything else goes to stderr. A cold build takes minutes and about 2 GB of memory.
#   GO   the go command (default: `go` on PATH if it is Go >= 1.26, else /usr/local/go/bin/go; packaging/find-go.sh)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
src="$here/kubelet"

bash "$here/install.sh" containerd runc busybox-static >&2
for cmd in containerd ctr runc; do
  command -v "$cmd" >/dev/null 2>&1 || { echo "install-kubelet: $cmd still missing" >&2; exit 1; }
done
[ -x /bin/busybox ] || { echo "install-kubelet: /bin/busybox (busybox-static) still missing" >&2; exit 1; }

GO="$(bash "$here/../packaging/find-go.sh")" || { echo "install-kubelet: cannot build the kubelet" >&2; exit 1; }

gobin="${DOCKER_CREDENTIAL_IMGPKG_GOBIN:-${XDG_CACHE_HOME:-$HOME/.cache}/docker-credential-imgpkg-e2e/gobin}"
bin="$gobin/kubelet"
stamp_file="$gobin/.versions/kubelet"
mkdir -p "$gobin/.versions"
stamp="$( (cat "${BASH_SOURCE[0]}" "$src/go.mod" "$src/go.sum"; "$GO" version) | sha256sum | cut -d' ' -f1)"

exec 9>"$gobin/.kubelet.lock"
command -v flock >/dev/null && flock 9
if [ -x "$bin" ] && [ "$(cat "$stamp_file" 2>/dev/null)" = "$stamp" ]; then
  echo "install-kubelet: kubelet present ($("$bin" --version))" >&2
  echo "$bin"
  exit 0
fi
echo "install-kubelet: building the kubelet with $("$GO" version) (a cold build takes minutes)" >&2
tmp="$(mktemp "$gobin/.kubelet.XXXXXX")"
trap 'rm -f "$tmp"' EXIT
start=$SECONDS
rm -f "$stamp_file"
# The version the kubelet reports (`kubelet --version`), as Kubernetes' own build stamps it: the pinned release.
version="$(cd "$src" && "$GO" list -mod=readonly -m -f '{{.Version}}' k8s.io/kubernetes)"
IFS=. read -r major minor _ <<<"${version#v}"
pkg=k8s.io/component-base/version
ldflags="-s -w -X $pkg.gitVersion=$version -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
(cd "$src" && CGO_ENABLED=0 "$GO" build -mod=readonly -trimpath -ldflags="$ldflags" -o "$tmp" k8s.io/kubernetes/cmd/kubelet) >&2
chmod 0755 "$tmp"
mv -f "$tmp" "$bin"
echo "$stamp" >"$stamp_file"
echo "install-kubelet: built $("$bin" --version) in $((SECONDS - start)) s" >&2
echo "$bin"
