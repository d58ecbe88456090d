#!/usr/bin/env bash
# Build the Go registry clients the end-to-end suite runs (crane, imgpkg, regctl, oras, helm, BuildKit), each pinned
# to a released version fetched from the Go module proxy, into one cache directory:
#
#   GOBIN = $DOCKER_CREDENTIAL_IMGPKG_GOBIN, else ${XDG_CACHE_HOME:-$HOME/.cache}/docker-credential-imgpkg-e2e/gobin
#
# tests/e2e/goclients.py looks there first (then on PATH). Idempotent: a client whose binary and version stamp
# ($GOBIN/.versions/NAME) match the pin is not rebuilt. At most two builds run at once (two cores; helm and
# buildkitd are large: a few minutes each on a cold cache).
#
# Two ways to build, per client:
#   install  `go install PACKAGE@VERSION`, the ordinary way.
#   module   `go mod download MODULE@VERSION`, then `go build` inside that released module as the main module. For
#            modules `go install` refuses: BuildKit's go.mod has `exclude` directives, and for imgpkg the proxy
#            serves the pinned version but refuses the version list that `go install` reads for deprecation notes.
#
# isometry's docker-credential-env (wanted by the bench) is not here: the module proxy this project can reach
# serves no version of github.com/isometry/docker-credential-env (its version list and every tag tried: 403).
#
# Usage: install-go-clients.sh [NAME ...]   (default: all of them)
set -euo pipefail

GO="$(command -v go || true)"
[ -n "$GO" ] || GO=/usr/local/go/bin/go
if [ ! -x "$GO" ]; then
    echo "install-go-clients: no Go toolchain (neither \`go\` on PATH nor /usr/local/go/bin/go)" >&2
    exit 1
fi

GOBIN="${DOCKER_CREDENTIAL_IMGPKG_GOBIN:-${XDG_CACHE_HOME:-$HOME/.cache}/docker-credential-imgpkg-e2e/gobin}"
mkdir -p "$GOBIN/.versions"
export GOBIN GOFLAGS="${GOFLAGS:--trimpath}" CGO_ENABLED="${CGO_ENABLED:-0}"

# name       method  module                              package (install) or ./dir in the module  version
CLIENTS=(
    "crane     install github.com/google/go-containerregistry github.com/google/go-containerregistry/cmd/crane v0.22.1"
    "imgpkg    module  carvel.dev/imgpkg                    ./cmd/imgpkg                                     v0.46.1"
    "regctl    install github.com/regclient/regclient       github.com/regclient/regclient/cmd/regctl        v0.11.7"
    "oras      install oras.land/oras                       oras.land/oras/cmd/oras                          v1.3.6"
    "helm      install helm.sh/helm/v3                      helm.sh/helm/v3/cmd/helm                         v3.22.0"
    "buildctl  module  github.com/moby/buildkit             ./cmd/buildctl                                   v0.34.2"
    "buildkitd module  github.com/moby/buildkit             ./cmd/buildkitd                                  v0.34.2"
)

wanted=("$@")
selected() {
    [ "${#wanted[@]}" -eq 0 ] && return 0
    local w
    for w in "${wanted[@]}"; do [ "$w" = "$1" ] && return 0; done
    return 1
}

build() {  # name method module package version
    local name=$1 method=$2 module=$3 package=$4 version=$5 dir
    if [ "$method" = install ]; then
        "$GO" install "$package@$version"
    else
        dir="$("$GO" mod download -json "$module@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
        [ -n "$dir" ] && [ -f "$dir/go.mod" ] || { echo "no module directory for $module@$version" >&2; return 1; }
        # The module cache is read-only: build from it, write only the binary. -mod=readonly: imgpkg's zip carries a
        # vendor/modules.txt without the vendored sources, so resolve from go.sum instead.
        (cd "$dir" && "$GO" build -mod=readonly -o "$GOBIN/$name.tmp" "$package") && mv -f "$GOBIN/$name.tmp" "$GOBIN/$name"
    fi
}

logdir="$(mktemp -d)"
trap 'rm -rf "$logdir"' EXIT
started=()
running() {
    local n=0 name
    for name in "${started[@]}"; do [ -e "$logdir/$name.rc" ] || n=$((n + 1)); done
    echo "$n"
}
for line in "${CLIENTS[@]}"; do
    read -r name method module package version <<<"$line"
    selected "$name" || continue
    stamp="$GOBIN/.versions/$name"
    if [ -x "$GOBIN/$name" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$module@$version" ]; then
        echo "install-go-clients: $name $version present"
        continue
    fi
    while [ "$(running)" -ge 2 ]; do sleep 1; done
    echo "install-go-clients: building $name $version ($method)"
    (
        start=$SECONDS
        rc=0
        rm -f "$stamp"
        build "$name" "$method" "$module" "$package" "$version" >"$logdir/$name.log" 2>&1 || rc=$?
        if [ "$rc" -eq 0 ]; then
            echo "$module@$version" >"$stamp"
            echo "install-go-clients: built $name $version in $((SECONDS - start)) s"
        fi
        echo "$rc" >"$logdir/$name.rc"
    ) &
    started+=("$name")
done
wait

failed=0
for name in "${started[@]}"; do
    if [ "$(cat "$logdir/$name.rc" 2>/dev/null || echo 1)" != 0 ]; then
        echo "install-go-clients: building $name failed:" >&2
        tail -n 30 "$logdir/$name.log" >&2
        failed=1
    fi
done
[ "$failed" -eq 0 ] || exit 1
echo "install-go-clients: ok ($GOBIN)"
