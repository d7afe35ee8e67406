#!/usr/bin/env bash
# Sets everything up and runs leakscope on the bundled example service, which
# leaks session data; the report names the leaking line.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/build.sh"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
seconds="${LEAKSCOPE_EXAMPLE_SECONDS:-30}"
# The final report comes while the service still runs, so that it can also
# say what holds the leaking memory (held_by reads the live heap).
exec $SUDO env LEAKSCOPE_EXAMPLE_SECONDS="$seconds" \
  "$root/build/leakscope" run --max-overhead off --interval 3 --duration "$((seconds - 3))" \
  -- /usr/bin/python3 "$root/scripts/example_leak.py"
