#!/usr/bin/env bash
# Print the path of the CPython X.Y that pyenv installed (its newest X.Y.Z), for `make test-matrix` and CI.
# Looks in $PYENV_ROOT, else `pyenv root`, else ~/.pyenv (pyenv itself need not be on PATH); never downloads.
set -euo pipefail
want=${1:?usage: find-python.sh X.Y}
root=${PYENV_ROOT:-$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")}
found=""
for dir in "$root"/versions/"$want".*; do
  name=${dir##*/}
  [[ $name =~ ^${want//./\\.}\.[0-9]+$ ]] || continue  # 3.13.0, not 3.13.0t or 3.13-dev
  [ -x "$dir/bin/python3" ] || continue
  found=$(printf '%s\n%s\n' "$found" "$dir/bin/python3" | sed '/^$/d' | sort -V | tail -n 1)
done
if [ -z "$found" ]; then
  echo "find-python.sh: no CPython $want under $root/versions (`pyenv versions` lists those installed)" >&2
  exit 1
fi
actual=$("$found" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
if [ "$actual" != "$want" ]; then
  echo "find-python.sh: $found is Python $actual, not $want" >&2
  exit 1
fi
echo "$found"
