"""Leaks for 10 s, then frees everything it kept slowly on its way out (as
interpreter shutdown does under the free probes, for a big heap): readings
land while the heap is being freed, and the target exits before the next."""

import atexit
import time


class Entry:
    def __init__(self, n):
        self.payload = "p%d" % n * 20


KEPT = []


@atexit.register
def release():
    while KEPT:
        del KEPT[-2000:]
        time.sleep(0.03)


end = time.monotonic() + 10
n = 0
while time.monotonic() < end:
    for _ in range(100):
        KEPT.append(Entry(n))  # LEAK
        n += 1
    time.sleep(0.03)
