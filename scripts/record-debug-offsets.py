#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Records the _Py_DebugOffsets bytes of a live CPython 3.13+ process.

_Py_DebugOffsets is the first member of _PyRuntime. This finds _PyRuntime with
`nm -D` on the libpython (or the executable) mapped into the target, adds the
load bias from /proc/PID/maps, and copies the struct out of /proc/PID/mem.

    record-debug-offsets.py --python /root/.pyenv/versions/3.13.0/bin/python3.13 OUT.bin
    record-debug-offsets.py --pid 1234 OUT.bin

With --python it starts the interpreter, records, and kills it. Needs root (or
ptrace rights over the target). Used to refresh tests/data/debug_offsets_*.bin.
"""
import argparse
import os
import re
import struct
import subprocess
import sys
import time

# sizeof(_Py_DebugOffsets) per minor version (user/python/debug_offsets.cpp).
SIZES = {13: 584, 14: 760}
COOKIE = b"xdebugpy"


def mapped_files(pid):
    """path -> lowest mapped address, for file-backed mappings."""
    lows = {}
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            parts = line.split(maxsplit=5)
            if len(parts) < 6 or not parts[5].startswith("/"):
                continue
            start = int(parts[0].split("-")[0], 16)
            path = parts[5].strip()
            lows[path] = min(lows.get(path, start), start)
    return lows


def first_load_vaddr(path):
    """p_vaddr of the first PT_LOAD, page-aligned down (ELF64 little-endian only)."""
    with open(path, "rb") as f:
        ehdr = f.read(64)
        if ehdr[:4] != b"\x7fELF" or ehdr[4] != 2 or ehdr[5] != 1:
            sys.exit(f"{path}: not a little-endian ELF64 file")
        phoff, = struct.unpack_from("<Q", ehdr, 32)
        phentsize, phnum = struct.unpack_from("<HH", ehdr, 54)
        for i in range(phnum):
            f.seek(phoff + i * phentsize)
            p_type, _, _, p_vaddr = struct.unpack("<IIQQ", f.read(24))
            if p_type == 1:  # PT_LOAD
                return p_vaddr & ~0xFFF
    sys.exit(f"{path}: no PT_LOAD segment")


def runtime_address(pid):
    files = mapped_files(pid)
    exe = os.path.realpath(f"/proc/{pid}/exe")
    libs = [p for p in files if re.search(r"/libpython3\.\d+\.so", p)]
    for path in libs + [exe]:
        out = subprocess.run(["nm", "-D", "--defined-only", path],
                             capture_output=True, text=True).stdout
        m = re.search(r"^([0-9a-f]+) \w _PyRuntime$", out, re.M)
        if m:
            return int(m.group(1), 16) + files[path] - first_load_vaddr(path), path
    sys.exit(f"pid {pid}: no _PyRuntime in .dynsym of {', '.join(libs + [exe])}")


def record(pid, out):
    addr, path = runtime_address(pid)
    with open(f"/proc/{pid}/mem", "rb") as mem:
        mem.seek(addr)
        head = mem.read(24)
        if head[:8] != COOKIE:
            sys.exit(f"pid {pid}: no _Py_DebugOffsets cookie at {addr:#x} ({path})")
        version, = struct.unpack_from("<Q", head, 8)
        minor = (version >> 16) & 0xFF
        if (version >> 24) != 3 or minor not in SIZES:
            sys.exit(f"pid {pid}: unexpected version {version:#010x}")
        mem.seek(addr)
        data = mem.read(SIZES[minor])
    with open(out, "wb") as f:
        f.write(data)
    print(f"{out}: {len(data)} bytes of _Py_DebugOffsets v{version:#010x} "
          f"from {path} at {addr:#x}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    who = ap.add_mutually_exclusive_group(required=True)
    who.add_argument("--pid", type=int)
    who.add_argument("--python", help="interpreter to start and record")
    ap.add_argument("out")
    args = ap.parse_args()
    if args.pid:
        record(args.pid, args.out)
        return
    child = subprocess.Popen([args.python, "-c", "import time; time.sleep(30)"])
    try:
        time.sleep(0.5)  # past interpreter start-up, so _PyRuntime is initialized
        record(child.pid, args.out)
    finally:
        child.kill()
        child.wait()


if __name__ == "__main__":
    main()
