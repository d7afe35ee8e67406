"""Leak: a long-lived object whose list attribute only grows.

A process-wide metrics recorder appends a sample per request and nothing ever
trims the list. Per-request work creates and drops samples of the same class.
"""

import os
import time

SECONDS = float(os.environ.get("LEAKSCOPE_ZOO_SECONDS", "15"))


class Sample:
    def __init__(self, request_id, latency):
        self.request_id = request_id
        self.latency = latency
        self.label = ("GET /api/items/%d " % request_id) * 40


class MetricsRecorder:
    def __init__(self):
        self.samples = []

    def record(self, request_id, latency):
        self.samples.append(Sample(request_id, latency))  # LEAK


RECORDER = MetricsRecorder()


def compute_percentiles(request_id):
    # Churn: a temporary window of samples, summarized and dropped.
    window = [Sample(request_id, n * 0.001) for n in range(20)]
    latencies = sorted(sample.latency for sample in window)
    summary = {"p50": latencies[10], "p90": latencies[18], "labels": [s.label[:10] for s in window]}
    return len(summary["labels"])


def main():
    deadline = time.monotonic() + SECONDS
    request_id = 0
    while time.monotonic() < deadline:
        started = time.monotonic()
        compute_percentiles(request_id)
        RECORDER.record(request_id, time.monotonic() - started)
        request_id += 1
        time.sleep(0.01)


if __name__ == "__main__":
    main()
