"""A bounded HTTP load for the shop: RATE requests a second over CLIENTS
keep-alive connections, a fifth of them orders, until killed or SECONDS pass.

Run: python3 load.py PORT RATE CLIENTS SECONDS -- prints 'done N P50 P99' at
the end, or on SIGTERM: requests answered, and their median and 99th
percentile latency in milliseconds.
"""

import http.client
import signal
import sys
import threading
import time

PATHS = ("/catalogue/%d", "/search/product-%d", "/catalogue/%d", "/search/item-%d", "/order/%d")


def client(index, port, period, stop, latencies):
    conn = None
    n = index
    next_at = time.monotonic()
    while not stop.is_set():
        path = PATHS[n % len(PATHS)] % n
        started = time.monotonic()
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("POST" if path.startswith("/order") else "GET", path + "?customer=c%d" % index)
            response = conn.getresponse()
            response.read()
            if response.status == 200:
                latencies[index].append(time.monotonic() - started)
            if response.getheader("connection", "").lower() == "close":
                conn.close()
                conn = None
        except (OSError, http.client.HTTPException):
            conn = None
            time.sleep(0.1)
        n += len(latencies)
        next_at += period
        delay = next_at - time.monotonic()
        if delay > 0:
            stop.wait(delay)
        else:
            next_at = time.monotonic()  # behind: do not burst to catch up


def main():
    port, rate, clients, seconds = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    stop = threading.Event()
    latencies = [[] for _ in range(clients)]
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    threads = [threading.Thread(target=client, args=(i, port, clients / rate, stop, latencies), daemon=True)
               for i in range(clients)]
    for t in threads:
        t.start()
    stop.wait(seconds)
    stop.set()
    for t in threads:
        t.join(15)
    answered = sorted(t for per_client in latencies for t in per_client)
    p50, p99 = ((answered[int(len(answered) * q)] * 1000 for q in (0.5, 0.99)) if answered else (0, 0))
    print("done %d %.1f %.1f" % (len(answered), p50, p99), flush=True)


if __name__ == "__main__":
    main()
