#!/usr/bin/env bash
# Sets everything up and runs leakscope on the bundled example service, which
# leaks session data; the report names the leaking line.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/build.sh"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
exec $SUDO env LEAKSCOPE_EXAMPLE_SECONDS="${LEAKSCOPE_EXAMPLE_SECONDS:-30}" \
  "$root/build/leakscope" run --interval 3 -- /usr/bin/python3 "$root/scripts/example_leak.py"
