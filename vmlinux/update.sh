#!/usr/bin/env bash
# Regenerates vmlinux/x86/vmlinux.h from the running kernel's BTF.
# The checked-in copy is what the build uses (CO-RE relocates it to any kernel).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
btf="${1:-/sys/kernel/btf/vmlinux}"
bpftool btf dump file "$btf" format c > "$here/x86/vmlinux.h"
echo "wrote $here/x86/vmlinux.h from $btf"
