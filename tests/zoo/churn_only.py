"""No leak: heavy allocation churn and nothing retained.

Request handling builds dicts, lists, strings and objects every iteration and
drops them all; memory use is flat.
"""

import os
import time

SECONDS = float(os.environ.get("LEAKSCOPE_ZOO_SECONDS", "15"))


class Item:
    def __init__(self, item_id, name):
        self.item_id = item_id
        self.name = name
        self.tags = ["tag-%d" % (item_id % 7), "tag-%d" % (item_id % 11)]


def parse_request(request_id):
    return {"path": "/items/%d" % request_id, "query": {"page": str(request_id % 10)},
            "headers": ["h%d: %s" % (n, "v" * n) for n in range(12)]}


def load_items(request_id):
    return [Item(request_id * 50 + n, ("item %d " % n) * 10) for n in range(50)]


def render(request, items):
    lines = ["<li>%s</li>" % item.name for item in items]
    return "<ul>%s</ul>%s" % ("".join(lines), request["path"])


def handle_request(request_id):
    request = parse_request(request_id)
    items = load_items(request_id)
    page = render(request, items)
    return len(page)


def main():
    deadline = time.monotonic() + SECONDS
    request_id = 0
    while time.monotonic() < deadline:
        handle_request(request_id)
        request_id += 1
        time.sleep(0.01)


if __name__ == "__main__":
    main()
