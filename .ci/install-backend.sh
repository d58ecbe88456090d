#!/usr/bin/env bash
# Install the real credential stores the backend tests put underneath the helper (tests/backend):
# Debian's pass + docker-credential-pass (GnuPG), and docker-credential-secretservice with a private D-Bus and
# gnome-keyring; and Debian's docker-credential-ecr-login, which `make bench` times as a Go peer.
# Idempotent: does nothing when everything is already there. Run as root (CI runs as root).
set -euo pipefail

# command -> Debian package
declare -A PACKAGES=(
    [pass]=pass
    [gpg]=gpg
    [gpg-agent]=gpg-agent
    [gpg-connect-agent]=gpgconf
    [docker-credential-pass]=golang-docker-credential-helpers   # 0.6.4: also docker-credential-secretservice
    [docker-credential-secretservice]=golang-docker-credential-helpers
    [dbus-daemon]=dbus-daemon
    [gnome-keyring-daemon]=gnome-keyring
    [docker-credential-ecr-login]=amazon-ecr-credential-helper   # a Go helper: the bench's Go floor
)
missing=()
for cmd in "${!PACKAGES[@]}"; do
    command -v "$cmd" >/dev/null 2>&1 || missing+=("${PACKAGES[$cmd]}")
done

if [ "${#missing[@]}" -gt 0 ]; then
    mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
    echo "install-backend: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Wait for a concurrent apt/dpkg (e.g. a provisioning run) instead of failing on its lock.
    apt_opts=(-o DPkg::Lock::Timeout=600 -o Acquire::Retries=3)
    apt-get "${apt_opts[@]}" update -q
    apt-get "${apt_opts[@]}" install -y -q --no-install-recommends "${missing[@]}"
else
    echo "install-backend: system packages present"
fi

for cmd in "${!PACKAGES[@]}"; do
    command -v "$cmd" >/dev/null 2>&1 || { echo "install-backend: $cmd still missing" >&2; exit 1; }
done
echo "install-backend: ok (pass $(pass version 2>/dev/null | grep -o 'v[0-9.]*' | head -1)," \
    "docker-credential-pass $(docker-credential-pass version), $(gpg --version | head -1))"
