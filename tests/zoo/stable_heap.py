"""No leak: a large heap built once at start-up, then only churn.

About 200 MB of records are loaded at start (like a service warming a big
in-memory index) and never change afterwards; request handling allocates and
frees temporaries of the same types.
"""

import os
import time

SECONDS = float(os.environ.get("LEAKSCOPE_ZOO_SECONDS", "15"))
RECORDS = 100000
RECORD_TEXT = 2000  # bytes per record: ~200 MB in all


class Record:
    def __init__(self, record_id, text):
        self.record_id = record_id
        self.text = text


def load_index():
    return {record_id: Record(record_id, ("%08d" % record_id) * (RECORD_TEXT // 8))
            for record_id in range(RECORDS)}


def handle_request(index, request_id):
    # Churn: look things up and build temporaries that are dropped.
    hits = [index[(request_id * 7919 + n) % RECORDS] for n in range(30)]
    snippets = [Record(hit.record_id, hit.text[:200] + "...") for hit in hits]
    return {"count": len(snippets), "ids": [s.record_id for s in snippets]}


def main():
    deadline = time.monotonic() + SECONDS
    index = load_index()
    request_id = 0
    while time.monotonic() < deadline:
        handle_request(index, request_id)
        request_id += 1
        time.sleep(0.01)


if __name__ == "__main__":
    main()
