"""Leak: a module-level page cache that is never evicted.

Every request renders a page for a new path and stores it in _RENDERED; the
dict and the pages it holds grow for as long as the process runs. Request
handling itself allocates many temporary dicts, lists and strings.
"""

import os
import time

SECONDS = float(os.environ.get("LEAKSCOPE_ZOO_SECONDS", "15"))

_RENDERED = {}  # path -> page, unbounded


def render_page(path, request_id):
    return "<html><h1>%s</h1><p>request %d</p>" % (path, request_id) + "." * 1400 + "</html>"


def handle_request(request_id):
    # Churn: parse, build and serialize a response; everything is dropped.
    headers = {"x-request-id": str(request_id), "accept": "text/html"}
    rows = [{"id": n, "name": "item-%d-%d" % (request_id, n), "tags": ["t%d" % (n % 5)]}
            for n in range(40)]
    body = "|".join(row["name"] for row in rows) * 4
    return len(body) + len(headers)


def cached_page(request_id):
    path = "/articles/%d" % request_id
    if path not in _RENDERED:
        _RENDERED[path] = render_page(path, request_id)  # LEAK
    return _RENDERED[path]


def main():
    deadline = time.monotonic() + SECONDS
    request_id = 0
    while time.monotonic() < deadline:
        handle_request(request_id)
        cached_page(request_id)
        request_id += 1
        time.sleep(0.01)


if __name__ == "__main__":
    main()
