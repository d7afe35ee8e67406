"""Park threads in frames a hostile or corrupt process presents to a reader.

Usage: python hostile.py OUT.json

Threads:
  escapes    parked in a function whose name, qualified name and file name
             carry terminal escapes and control characters (code.replace);
  corrupt    parked in a function whose code object's line table and file
             name claim 2**40 bytes (poked with ctypes once recorded);
  allocator  allocates (and keeps) memory forever in a function with an
             escaped name, called from one with a corrupt code object, so
             that a trace sees both on its allocation stacks;
  main       parked.

Once everything runs, the stacks of the parked threads are recorded as the
interpreter sees them (before the corruption: afterwards the interpreter
itself could not compute their line numbers), the code objects are corrupted,
and OUT.json is written atomically (ASCII only):

    {"pid": ..., "python": "3.X.Y", "evil_name": ..., "evil_file": ...,
     "threads": [{"tid": ..., "role": ..., "functions": [innermost first]}]}

"function" is co_qualname on 3.11+, else co_name. The process runs until killed.
"""

import ctypes
import json
import os
import sys
import threading
import time

EVIL_NAME = "evil\x1b[31m\x07name\x7f\u0085\u009b"
EVIL_FILE = "/tmp/\x1b]0;pwned\x07/evil\nfile\r.py"
HUGE = 1 << 40
# ob_size of a bytes object and the length of a str sit right after the
# object header (refcount, type) in every supported non-debug build.
VAR_SIZE_OFFSET = 16
LINETABLE = "co_linetable" if sys.version_info >= (3, 10) else "co_lnotab"
QUALNAMES = sys.version_info >= (3, 11)

_FOREVER = threading.Event()  # never set
_lock = threading.Lock()
_parked = {}  # role -> threading ident
_native = {}  # threading ident -> native id
_allocating = threading.Event()
_keep = []


def park(role):
    with _lock:
        _parked[role] = threading.get_ident()
        _native[threading.get_ident()] = threading.get_native_id()
    _FOREVER.wait()


def rename(func, name, filename):
    """Give func a code object of its own with these names (fresh str and
    bytes objects, so that corrupting them touches nothing else)."""
    code = func.__code__
    fields = {"co_name": name, "co_filename": filename,
              LINETABLE: bytes(bytearray(getattr(code, LINETABLE)))}
    if QUALNAMES:
        fields["co_qualname"] = name
    func.__code__ = code.replace(**fields)


def escapes():
    park("escapes")


def corrupt_me():
    park("corrupt")


def evil_alloc():
    _allocating.set()
    while True:
        _keep.append(bytearray(512))
        if len(_keep) > 20000:
            del _keep[:10000]
        time.sleep(0.0005)


def corrupt_alloc():
    evil_alloc()


rename(escapes, EVIL_NAME, EVIL_FILE)
rename(evil_alloc, EVIL_NAME + ".alloc", EVIL_FILE)
rename(corrupt_me, "corrupt_me", "".join(["/tmp/corrupt", "_me.py"]))
rename(corrupt_alloc, "corrupt_alloc", "".join(["/tmp/corrupt", "_alloc.py"]))


def poke_huge(obj):
    ctypes.c_ssize_t.from_address(id(obj) + VAR_SIZE_OFFSET).value = HUGE


def corrupt(func):
    code = func.__code__
    poke_huge(getattr(code, LINETABLE))
    poke_huge(code.co_filename)


def function_name(frame):
    return frame.f_code.co_qualname if QUALNAMES else frame.f_code.co_name


def report(out_path):
    while True:
        with _lock:
            if len(_parked) == 3 and _allocating.is_set():
                break
        time.sleep(0.01)
    time.sleep(0.2)  # let each parked thread reach its wait
    frames = sys._current_frames()
    threads = []
    for role, ident in sorted(_parked.items()):
        names, f = [], frames[ident]
        while f is not None:
            names.append(function_name(f))
            f = f.f_back
        threads.append({"tid": _native[ident], "role": role, "functions": names})
    del frames, f
    corrupt(corrupt_me)
    corrupt(corrupt_alloc)
    data = {"pid": os.getpid(), "python": "%d.%d.%d" % sys.version_info[:3],
            "evil_name": EVIL_NAME, "evil_file": EVIL_FILE, "threads": threads}
    tmp = out_path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f, ensure_ascii=True)
    os.rename(tmp, out_path)


def main():
    out_path = sys.argv[1]
    for target in (escapes, corrupt_me, corrupt_alloc):
        threading.Thread(target=target, daemon=True).start()
    threading.Thread(target=report, args=(out_path,), daemon=True).start()
    park("main")


if __name__ == "__main__":
    main()
