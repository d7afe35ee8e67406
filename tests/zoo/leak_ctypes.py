"""Leak: native memory from libc malloc (via ctypes) that is never freed.

Every few requests an 8 KiB native buffer is allocated for a "handle" and its
address kept; nothing frees it. The churn mallocs and frees native buffers of
the same sizes and builds temporary Python objects.
"""

import ctypes
import ctypes.util
import os
import time

SECONDS = float(os.environ.get("LEAKSCOPE_ZOO_SECONDS", "15"))

libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.restype = None
libc.free.argtypes = [ctypes.c_void_p]

BLOCK_SIZE = 8192
_HANDLES = []


def scratch_buffers(request_id):
    # Churn: native buffers released right away, plus Python temporaries.
    for n in range(4):
        ptr = libc.malloc(BLOCK_SIZE)
        ctypes.memset(ptr, n, BLOCK_SIZE)
        libc.free(ptr)
    fields = {"id": request_id, "parts": ["p%d" % n for n in range(40)]}
    return len(fields["parts"])


def open_handle():
    address = libc.malloc(BLOCK_SIZE)  # LEAK
    ctypes.memset(address, 0, BLOCK_SIZE)  # touch it, so it is resident too
    _HANDLES.append(address)


def main():
    deadline = time.monotonic() + SECONDS
    request_id = 0
    while time.monotonic() < deadline:
        scratch_buffers(request_id)
        if request_id % 4 == 0:  # about 200 KiB a second
            open_handle()
        request_id += 1
        time.sleep(0.01)


if __name__ == "__main__":
    main()
