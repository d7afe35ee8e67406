"""A heap whose memory is held through every kind of reference the snapshot
follows, for `leakscope snapshot`.

    python heap_kinds.py TRUTH.json

Each module global below keeps N instances of its own marker class through
one kind of container or reference: a set, a frozenset, a deque, a tuple, a
closure cell, a function's defaults, a bound method's instance, a suspended
generator's locals, a class with __slots__, an instance __dict__, and a list
that only a thread's live frame holds. GROWING gains GROWTH_PER_S bytes
objects a second for `--diff`. Writes its ground truth to TRUTH.json, then
keeps growing.
"""

import collections
import json
import os
import sys
import threading
import time

N = 3000
GROWTH_PER_S = 2000


def markers(name):
    cls = type(name, (), {})
    cls.__module__ = "__main__"
    return [cls() for _ in range(N)]


HELD_SET = set(markers("InSet"))
HELD_FROZENSET = frozenset(markers("InFrozenset"))
HELD_DEQUE = collections.deque(markers("InDeque"))
HELD_TUPLE = tuple(markers("InTuple"))


def make_closure():
    kept = markers("InCell")

    def closure():
        return kept
    return closure


HELD_CLOSURE = make_closure()


def with_defaults(kept=markers("InDefaults")):
    return kept


class Owner:
    def __init__(self, kind):
        self.kept = markers(kind)

    def method(self):
        return self.kept


HELD_METHOD = Owner("InMethod").method
HELD_INSTANCE = Owner("InInstance")


def generator():
    kept = markers("InGenerator")
    yield len(kept)
    yield kept


HELD_GENERATOR = generator()
next(HELD_GENERATOR)


class Slotted:
    __slots__ = ("kept",)


HELD_SLOTS = Slotted()
HELD_SLOTS.kept = markers("InSlots")

GROWING = []
ready = threading.Event()


def keeper():
    kept = markers("InFrame")
    ready.set()
    threading.Event().wait()
    return kept


def main():
    threading.Thread(target=keeper, daemon=True).start()
    ready.wait()
    truth = {"n": N, "growth_per_s": GROWTH_PER_S}
    with open(sys.argv[1] + ".tmp", "w") as f:
        json.dump(truth, f)
    os.rename(sys.argv[1] + ".tmp", sys.argv[1])
    while True:
        for _ in range(GROWTH_PER_S // 10):
            GROWING.append(os.urandom(64))
        time.sleep(0.1)


main()
