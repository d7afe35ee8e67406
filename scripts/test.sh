#!/usr/bin/env bash
# The whole test suite: builds, then runs unit, fuzz and root integration tests
# under CTest. Skipped tests are listed with their reasons at the end.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/build.sh"
cd "$root/build"
status=0
ctest --output-on-failure --timeout 900 "$@" || status=$?
log=Testing/Temporary/LastTest.log
if [ -f "$log" ] && grep -q "SKIP: " "$log"; then
  echo "Skipped, with reasons:"
  grep -o "SKIP: .*" "$log" | sort | uniq -c | sed "s/^/  /"
fi
exit $status
