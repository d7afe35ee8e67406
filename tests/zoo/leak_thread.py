"""Leak: a worker thread that keeps an audit record of every job.

The main thread produces jobs on a queue; the worker processes them (lots of
temporary objects) and appends a description of each to a list that is
never trimmed. The leak happens only on the worker thread.
"""

import os
import queue
import threading
import time

SECONDS = float(os.environ.get("LEAKSCOPE_ZOO_SECONDS", "15"))

_AUDIT_LOG = []
_STOP = object()


def describe(job):
    return "job %d from %s: " % (job["id"], job["source"]) + ",".join(job["items"]) * 3


def process(job):
    # Churn on the worker: transform the job into temporaries.
    totals = {item: len(item) for item in job["items"]}
    report = ["%s=%d" % pair for pair in sorted(totals.items())]
    return len("".join(report))


def worker(jobs):
    while True:
        job = jobs.get()
        if job is _STOP:
            return
        process(job)
        _AUDIT_LOG.append(describe(job))  # LEAK


def make_job(job_id):
    # Churn on the producer: each job is freed by the worker.
    return {"id": job_id, "source": "client-%d" % (job_id % 13),
            "items": ["sku-%d-%d" % (job_id, n) for n in range(30)]}


def main():
    jobs = queue.Queue()
    thread = threading.Thread(target=worker, args=(jobs,), name="audit-worker")
    thread.start()
    deadline = time.monotonic() + SECONDS
    job_id = 0
    while time.monotonic() < deadline:
        jobs.put(make_job(job_id))
        job_id += 1
        time.sleep(0.01)
    jobs.put(_STOP)
    thread.join()


if __name__ == "__main__":
    main()
