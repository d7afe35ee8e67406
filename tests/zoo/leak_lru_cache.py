"""Leak: functools.lru_cache(maxsize=None) on a function called with ever-new
arguments: every result stays cached forever.

The churn computes similar dicts without caching them.
"""

import functools
import os
import time

SECONDS = float(os.environ.get("LEAKSCOPE_ZOO_SECONDS", "15"))


@functools.lru_cache(maxsize=None)
def user_profile(user_key):
    return {"key": user_key, "bio": ("profile of %s; " % user_key) * 60, "roles": ["reader"]}  # LEAK


def render_feed(request_id):
    # Churn: uncached temporaries of the same shape.
    entries = [{"key": "post-%d-%d" % (request_id, n), "text": ("post %d " % n) * 20}
               for n in range(25)]
    return sum(len(entry["text"]) for entry in entries)


def main():
    deadline = time.monotonic() + SECONDS
    request_id = 0
    while time.monotonic() < deadline:
        render_feed(request_id)
        user_profile("user-%d" % request_id)  # a new user every time
        request_id += 1
        time.sleep(0.01)


if __name__ == "__main__":
    main()
