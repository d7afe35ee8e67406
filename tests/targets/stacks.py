"""Park threads in known Python stacks and report them.

Usage: python stacks.py OUT.json

Every thread (the main one included) ends up blocked in park(), waiting on an
Event that is never set; the process runs until it is killed. Once all of
them are parked, a reporter thread records each other thread's stack as the
interpreter itself sees it (sys._current_frames), writes it to OUT.json
atomically and exits. A tool that reads the stacks from outside must find
exactly these frames:

    {"pid": os.getpid(), "python": "3.X.Y",
     "threads": [{"tid": native thread id,
                  "frames": [{"file": ..., "line": ..., "function": ...}]}]}

frames are innermost first; "function" is co_qualname on 3.11+, else co_name.
"""

import asyncio
import json
import os
import sys
import threading
import time

RECURSION_DEPTH = 150  # deeper than the 128 frames a BPF-side walk keeps

_FOREVER = threading.Event()  # never set
_lock = threading.Lock()
_native_ids = {}  # threading ident -> native thread id
_all_arrived = threading.Event()
_expected = 0


def park():
    """Block this thread for good, after saying it got here."""
    with _lock:
        _native_ids[threading.get_ident()] = threading.get_native_id()
        if len(_native_ids) == _expected:
            _all_arrived.set()
    _FOREVER.wait()


# Plain nested calls.
def outer():
    middle()


def middle():
    inner()


def inner():
    park()


# Methods: qualnames show the class (and the enclosing class).
class Worker:
    def run_job(self):
        self._step()

    def _step(self):
        park()


class Outer:
    class Inner:
        def method(self):
            park()


def run_method():
    Worker().run_job()


def run_nested_class_method():
    Outer.Inner().method()


# A generator frame, resumed by next().
def generator_body():
    yield "first"
    park()
    yield "never reached"


def run_generator():
    gen = generator_body()
    next(gen)
    next(gen)


# A coroutine frame under a running event loop; it parks from its own body.
async def coroutine_body():
    await asyncio.sleep(0)
    park()


def run_coroutine():
    asyncio.run(coroutine_body())


# C code calling back into Python.
def parking_key(item):
    park()
    return item


def run_sorted():
    sorted([3, 1, 2], key=parking_key)


def parking_fn(item):
    park()
    return item


def run_map():
    list(map(parking_fn, [1, 2, 3]))


# Deep recursion: RECURSION_DEPTH frames of recurse().
def recurse(depth):
    if depth <= 1:
        park()
        return 0
    return recurse(depth - 1) + 1


def run_recursion():
    recurse(RECURSION_DEPTH)


WORKERS = [
    outer,
    run_method,
    run_nested_class_method,
    run_generator,
    run_coroutine,
    run_sorted,
    run_map,
    run_recursion,
]


def function_name(code):
    return getattr(code, "co_qualname", code.co_name)


def stack_of(frame):
    frames = []
    while frame is not None:
        code = frame.f_code
        frames.append({"file": code.co_filename, "line": frame.f_lineno,
                       "function": function_name(code)})
        frame = frame.f_back
    return frames


def is_parked(frames):
    """Blocked inside Event.wait -> Condition.wait, called from park()."""
    if len(frames) < 3:
        return False
    threading_file = threading.__file__
    return (frames[0]["file"] == threading_file
            and frames[1]["file"] == threading_file
            and frames[0]["function"].endswith("wait")
            and frames[1]["function"].endswith("wait")
            and frames[2]["function"] == "park")


def snapshot(me):
    return {ident: stack_of(frame)
            for ident, frame in sys._current_frames().items() if ident != me}


def report(path):
    _all_arrived.wait()
    me = threading.get_ident()
    # A thread counted as arrived may not have reached the blocking call yet:
    # wait until every stack is parked and two snapshots in a row agree.
    previous = None
    while True:
        current = snapshot(me)
        parked = len(current) == _expected and all(is_parked(s) for s in current.values())
        if parked and current == previous:
            break
        previous = current
        time.sleep(0.05)
    with _lock:
        native_ids = dict(_native_ids)
    result = {
        "pid": os.getpid(),
        "python": "%d.%d.%d" % sys.version_info[:3],
        "threads": [{"tid": native_ids[ident], "frames": frames}
                    for ident, frames in sorted(current.items(), key=lambda item: native_ids[item[0]])],
    }
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(result, f, indent=1)
    os.replace(tmp, path)


def main():
    global _expected
    if len(sys.argv) != 2:
        sys.exit("usage: stacks.py OUT.json")
    _expected = len(WORKERS) + 1  # the workers and the main thread
    threading.Thread(target=report, args=(sys.argv[1],), name="reporter", daemon=True).start()
    for fn in WORKERS:
        threading.Thread(target=fn, name=fn.__name__, daemon=True).start()
    park()


if __name__ == "__main__":
    main()
