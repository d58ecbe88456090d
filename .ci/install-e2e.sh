#!/usr/bin/env bash
# Install what `make e2e` needs: a real registry, real clients, openssl/htpasswd, docker-py, and the Go clients
# (crane, imgpkg, regctl, oras, helm, BuildKit) built by .ci/install-go-clients.sh.
# Idempotent: does nothing when everything is already there. Run as root (CI runs as root).
set -euo pipefail

cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-}"
if [ -z "$PYTHON" ]; then
    if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi

# command -> Debian package
declare -A PACKAGES=(
    [docker-registry]=docker-registry   # distribution 2.8, run as a plain process by the tests
    [skopeo]=skopeo
    [podman]=podman
    [htpasswd]=apache2-utils
    [openssl]=openssl
    [curl]=curl
    [runc]=runc                         # BuildKit's OCI worker (buildkitd is built by install-go-clients.sh)
)
missing=()
for cmd in "${!PACKAGES[@]}"; do
    command -v "$cmd" >/dev/null 2>&1 || missing+=("${PACKAGES[$cmd]}")
done
# The docker CLI client: keep any docker already on PATH (e.g. a newer static client); else Debian's.
command -v docker >/dev/null 2>&1 || missing+=(docker.io)

if [ "${#missing[@]}" -gt 0 ]; then
    echo "install-e2e: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Wait for a concurrent apt/dpkg (e.g. a provisioning run) instead of failing on its lock.
    apt_opts=(-o DPkg::Lock::Timeout=600 -o Acquire::Retries=3)
    apt-get "${apt_opts[@]}" update -q
    apt-get "${apt_opts[@]}" install -y -q --no-install-recommends "${missing[@]}"
else
    echo "install-e2e: system packages present"
fi

if ! "$PYTHON" -c 'import docker' >/dev/null 2>&1; then
    echo "install-e2e: installing docker-py into $("$PYTHON" -c 'import sys; print(sys.prefix)')"
    "$PYTHON" -m pip install -q 'docker>=7'
fi

# The Go clients: pinned releases built from the Go module proxy into a cache directory (see the script). Without
# Go a developer's e2e run skips those tests and says why; CI must have them all.
if command -v go >/dev/null 2>&1 || [ -x /usr/local/go/bin/go ]; then
    bash .ci/install-go-clients.sh
elif [ -n "${CI:-}" ]; then
    echo "install-e2e: no Go toolchain: the Go clients (crane, imgpkg, regctl, oras, helm, BuildKit) cannot be built" >&2
    exit 1
else
    echo "install-e2e: no Go toolchain: skipping the Go clients (their e2e tests will skip)" >&2
fi

for cmd in docker-registry skopeo podman htpasswd openssl docker runc; do
    command -v "$cmd" >/dev/null 2>&1 || { echo "install-e2e: $cmd still missing" >&2; exit 1; }
done
echo "install-e2e: ok ($(docker --version 2>/dev/null | head -1); $(skopeo --version); $(podman --version))"
