"""No leak: a cache capped at 2000 entries with least-recently-used eviction.

It fills within the first couple of seconds (up to 2000 inserts a second) and
then stays at its cap: every insert evicts the oldest entry. The churn
allocates temporaries of the same types.
"""

import collections
import os
import time

SECONDS = float(os.environ.get("LEAKSCOPE_ZOO_SECONDS", "15"))
CAPACITY = 2000
INSERTS_PER_REQUEST = 20


class BoundedCache:
    def __init__(self, capacity):
        self.capacity = capacity
        self.entries = collections.OrderedDict()

    def put(self, key, value):
        self.entries[key] = value
        self.entries.move_to_end(key)
        if len(self.entries) > self.capacity:
            self.entries.popitem(last=False)


CACHE = BoundedCache(CAPACITY)


def fetch(key):
    return {"key": key, "body": ("cached body for %s; " % key) * 40}


def build_response(request_id):
    # Churn: temporary dicts and strings of the same shape as the cache values.
    parts = [{"key": "tmp-%d-%d" % (request_id, n), "body": ("part %d " % n) * 30}
             for n in range(20)]
    return sum(len(part["body"]) for part in parts)


def main():
    deadline = time.monotonic() + SECONDS
    request_id = 0
    while time.monotonic() < deadline:
        build_response(request_id)
        for n in range(INSERTS_PER_REQUEST):
            key = "object-%d" % (request_id * INSERTS_PER_REQUEST + n)
            CACHE.put(key, fetch(key))
        request_id += 1
        time.sleep(0.01)


if __name__ == "__main__":
    main()
