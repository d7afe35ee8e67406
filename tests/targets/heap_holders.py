"""A heap with three known holders, for `leakscope snapshot`.

    python heap_holders.py TRUTH.json

__main__.ORDERS        dict of 200,000 Order instances
__main__.Archive.items list of 50,000 1 KiB bytes (a class attribute)
keeper() local private_blobs: list of 100,000 Blob instances, held only by
                        a parked thread's frame

Writes its own ground truth (counts, lengths, sum of sys.getsizeof of the
archive's items, the keeper thread's id) to TRUTH.json, then parks.
"""

import json
import sys
import threading
import time


class Order:
    def __init__(self, n):
        self.n = n


class Blob:
    pass


class Archive:
    items = []


ORDERS = {}
ready = threading.Event()
keeper_tid = []


def keeper():
    private_blobs = [Blob() for _ in range(100000)]
    keeper_tid.append(threading.get_native_id())
    ready.set()
    threading.Event().wait()
    return private_blobs


def main():
    for i in range(200000):
        ORDERS[i] = Order(i)
    Archive.items.extend(bytes([i % 256]) * 1024 for i in range(50000))
    threading.Thread(target=keeper, daemon=True).start()
    ready.wait()
    truth = {
        "python": "%d.%d.%d" % sys.version_info[:3],
        "orders": len(ORDERS),
        "archive_items": len(Archive.items),
        "archive_items_bytes": sum(sys.getsizeof(b) for b in Archive.items),
        "blobs": 100000,
        "keeper_tid": keeper_tid[0],
    }
    with open(sys.argv[1] + ".tmp", "w") as f:
        json.dump(truth, f)
    import os
    os.rename(sys.argv[1] + ".tmp", sys.argv[1])
    while True:
        time.sleep(3600)


main()
