"""Mutates its heap as fast as it can, for `leakscope snapshot` under churn.

    python heap_churn.py READY_FILE [SECONDS]

Builds and tears down dicts, lists and instances in a loop; with SECONDS it
exits after that long (a target that dies in the middle of a snapshot).
"""

import sys
import time


class Node:
    def __init__(self, n):
        self.n = n
        self.children = []


def churn(deadline):
    live = {}
    i = 0
    while deadline is None or time.monotonic() < deadline:
        node = Node(i)
        node.children = [Node(j) for j in range(20)]
        live[i % 5000] = node
        if i % 7 == 0:
            live.pop((i * 31) % 5000, None)
        i += 1


with open(sys.argv[1], "w") as f:
    f.write("ready\n")
seconds = float(sys.argv[2]) if len(sys.argv) > 2 else None
churn(time.monotonic() + seconds if seconds else None)
