"""Leak: reference cycles with the cycle collector disabled.

Each Connection and its Session point at each other; with gc disabled the
pair is never reclaimed once dropped. The churn creates the same objects but
breaks the cycle before dropping them, so reference counting frees them.
"""

import gc
import os
import time

SECONDS = float(os.environ.get("LEAKSCOPE_ZOO_SECONDS", "15"))


class Session:
    def __init__(self, connection):
        self.connection = connection  # back reference: the cycle
        self.attributes = {"opened": time.monotonic()}


class Connection:
    def __init__(self, conn_id):
        self.conn_id = conn_id
        self.buffer = ("conn-%d|" % conn_id) * 150
        self.session = Session(self)


def probe_connections(request_id):
    # Churn: same classes, cycle broken explicitly, freed at once.
    for n in range(10):
        conn = Connection(request_id * 100 + n)
        conn.session.attributes["seen"] = [n] * 30
        conn.session = None
    return request_id


def serve(request_id):
    conn = Connection(request_id)  # LEAK
    return len(conn.buffer)


def main():
    gc.disable()
    deadline = time.monotonic() + SECONDS
    request_id = 0
    while time.monotonic() < deadline:
        probe_connections(request_id)
        serve(request_id)
        request_id += 1
        time.sleep(0.01)


if __name__ == "__main__":
    main()
