"""Leak: event listeners that are registered and never unregistered.

Each request subscribes a bound method of a fresh observer to a process-wide
event bus, which keeps the observer (and its snapshot) alive forever. The
churn subscribes observers to a short-lived bus that is dropped, so the same
types come and go.
"""

import os
import time

SECONDS = float(os.environ.get("LEAKSCOPE_ZOO_SECONDS", "15"))


class EventBus:
    def __init__(self):
        self._listeners = []

    def subscribe(self, callback):
        self._listeners.append(callback)

    def publish(self, event):
        # Only the newest listeners care about an event.
        for callback in self._listeners[-4:]:
            callback(event)


class RequestObserver:
    def __init__(self, request_id):
        self.request_id = request_id
        self.snapshot = ("request %d state;" % request_id) * 60
        self.events = []

    def on_event(self, event):
        self.events.append(event["kind"])


APP_BUS = EventBus()


def scratch_work(request_id):
    # Churn: a per-request bus with its own observers, dropped at return.
    local_bus = EventBus()
    for n in range(8):
        local_bus.subscribe(RequestObserver(request_id * 10 + n).on_event)
    for n in range(5):
        local_bus.publish({"kind": "step-%d" % n, "payload": list(range(20))})
    return len(local_bus._listeners)


def handle_request(request_id):
    APP_BUS.subscribe(RequestObserver(request_id).on_event)  # LEAK
    APP_BUS.publish({"kind": "started", "id": request_id})


def main():
    deadline = time.monotonic() + SECONDS
    request_id = 0
    while time.monotonic() < deadline:
        scratch_work(request_id)
        handle_request(request_id)
        request_id += 1
        time.sleep(0.01)


if __name__ == "__main__":
    main()
