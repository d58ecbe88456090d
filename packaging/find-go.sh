#!/usr/bin/env bash
# Print the path of a Go >= 1.26 (the go.mod files of .ci/kubelet and tests/kubelet/harness say `go 1.26.0`), for
# .ci/install-kubelet.sh and tests/kubelet/build.sh: $GO if set (a path, or a name looked up on PATH), else `go`
# on PATH, else /usr/local/go/bin/go. Fails, naming what it tried, when none is new enough.
set -euo pipefail
new_enough() {
  local v
  v="$("$1" env GOVERSION 2>/dev/null)" || return 1
  v="${v#go}"
  { [ "${v%%.*}" -gt 1 ] || { v="${v#1.}"; [ "${v%%[!0-9]*}" -ge 26 ]; }; } 2>/dev/null
}
if [ -n "${GO:-}" ]; then
  candidates=("$(command -v "$GO" || true)")
  tried="\$GO ($GO)"
else
  candidates=("$(command -v go || true)" /usr/local/go/bin/go)
  tried="go on PATH and /usr/local/go/bin/go"
fi
for cand in "${candidates[@]}"; do
  if [ -n "$cand" ] && [ -x "$cand" ] && new_enough "$cand"; then
    echo "$cand"
    exit 0
  fi
done
echo "find-go.sh: no Go >= 1.26 (tried $tried)" >&2
exit 1
