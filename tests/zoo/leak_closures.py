"""Leak: closures that capture large buffers, kept in a module-level list.

A few times a second a handler closing over a 64 KiB buffer is registered
and never dropped. The churn builds and calls similar closures (with smaller
buffers) that die right away.
"""

import os
import time

SECONDS = float(os.environ.get("LEAKSCOPE_ZOO_SECONDS", "15"))

_HANDLERS = []


def make_handler(tag):
    buffer = bytes(64 * 1024)

    def handler():
        return len(buffer) + tag

    return handler


def transient_callbacks(request_id):
    # Churn: closures over temporary buffers, called once and dropped.
    callbacks = []
    for n in range(6):
        chunk = bytes(4096 + n)
        callbacks.append(lambda chunk=chunk, n=n: len(chunk) * n)
    return sum(callback() for callback in callbacks) + request_id


def register(request_id):
    _HANDLERS.append(make_handler(request_id))  # LEAK


def main():
    deadline = time.monotonic() + SECONDS
    request_id = 0
    while time.monotonic() < deadline:
        transient_callbacks(request_id)
        if request_id % 25 == 0:  # about 4 x 64 KiB a second
            register(request_id)
        request_id += 1
        time.sleep(0.01)


if __name__ == "__main__":
    main()
