"""Four threads allocate at once, each keeping tuples of its own length.

Thread k keeps one tuple of 100*(k+1) items per step, in its own function
keep_k (the line marked `# KEEP k`), made in one allocation and stored in a
slot made up front, among temporaries of every size elsewhere.
Printed first: the sys.getsizeof() of each thread's tuples, as
"sizes N0 N1 N2 N3". A sample charged to the wrong thread's stack would show
at a KEEP line with another thread's size.
"""

import gc
import os
import sys
import threading
import time

SECONDS = float(os.environ.get("THREAD_SIZES_SECONDS", "12"))
THREADS = 4
# Each thread's tuples go to slots made up front: a growing list's storage
# would be memory of the KEEP line too, of other sizes.
SLOTS = 1 << 18
kept = [[None] * SLOTS for _ in range(THREADS)]


def keep_0(mine, i):
    mine[i] = (i,) * 100  # KEEP 0


def keep_1(mine, i):
    mine[i] = (i,) * 200  # KEEP 1


def keep_2(mine, i):
    mine[i] = (i,) * 300  # KEEP 2


def keep_3(mine, i):
    mine[i] = (i,) * 400  # KEEP 3


def worker(k, deadline):
    keep = (keep_0, keep_1, keep_2, keep_3)[k]
    mine = kept[k]
    step = 0
    while time.monotonic() < deadline:
        keep(mine, step % SLOTS)
        churn = [tuple(range(n % 20)) for n in range(step % 7, step % 7 + 8)]
        del churn
        step += 1
        if step % 64 == 0:
            time.sleep(0.001)


def main():
    # Nothing here is cyclic. A collection would malloc its work stacks at a
    # KEEP line, mixing C blocks of other sizes into that line's memory.
    gc.disable()
    print("sizes " + " ".join(str(sys.getsizeof(tuple([None] * 100 * (k + 1)))) for k in range(THREADS)), flush=True)
    deadline = time.monotonic() + SECONDS
    threads = [threading.Thread(target=worker, args=(k, deadline), name="worker-%d" % k) for k in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


if __name__ == "__main__":
    main()
