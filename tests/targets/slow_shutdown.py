"""Leaks for 10 s, then frees everything it kept slowly on its way out (as
interpreter shutdown does under the free probes, for a big heap): a reading
lands while the heap is being freed, and the target exits before the next.

The release is spread over one report interval (1 s) of wall time, whatever
a probe hit costs on the machine: shorter, a reading may miss it; longer,
two may land in it."""

import atexit
import time


class Entry:
    def __init__(self, n):
        self.payload = "p%d" % n * 20


KEPT = []


@atexit.register
def release():
    start, steps = time.monotonic(), 25
    chunk = len(KEPT) // steps + 1
    for step in range(1, steps + 1):
        del KEPT[-chunk:]
        time.sleep(max(0.0, start + step * 1.0 / steps - time.monotonic()))


end = time.monotonic() + 10
n = 0
while time.monotonic() < end:
    for _ in range(100):
        KEPT.append(Entry(n))  # LEAK
        n += 1
    time.sleep(0.03)
