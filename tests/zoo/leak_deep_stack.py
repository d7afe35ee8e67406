"""Leak: the leaking allocation happens 40 frames deep.

A request walks down a 40-level recursive dispatcher before a journal entry is
appended to a module-level list that is never trimmed. The churn walks the
same kind of recursion but keeps nothing.
"""

import os
import time

SECONDS = float(os.environ.get("LEAKSCOPE_ZOO_SECONDS", "15"))
DEPTH = 40

_JOURNAL = []


def dispatch(depth, request_id):
    if depth > 1:
        return dispatch(depth - 1, request_id)
    _JOURNAL.append(("journal entry %d;" % request_id) * 80)  # LEAK
    return len(_JOURNAL)


def evaluate(depth, request_id):
    # Churn: the same depth of recursion, every level allocates temporaries.
    scratch = {"depth": depth, "path": ["level-%d" % depth] * 10}
    if depth > 1:
        return evaluate(depth - 1, request_id) + len(scratch["path"])
    return len(("temporary %d;" % request_id) * 80)


def main():
    deadline = time.monotonic() + SECONDS
    request_id = 0
    while time.monotonic() < deadline:
        evaluate(DEPTH, request_id)
        dispatch(DEPTH, request_id)
        request_id += 1
        time.sleep(0.01)


if __name__ == "__main__":
    main()
