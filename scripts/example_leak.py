"""A tiny "web service" with a memory leak, for trying leakscope out.

    sudo leakscope run -- python3 scripts/example_leak.py

Requests are simulated in a loop: each is parsed, routed, handled and
rendered, which allocates plenty of short-lived objects. The session store,
though, keeps every request's session data and never evicts anything (the
line with the trailing LEAK comment). Runs for LEAKSCOPE_EXAMPLE_SECONDS
(default 20).
"""

import json
import os
import random
import time

SECONDS = float(os.environ.get("LEAKSCOPE_EXAMPLE_SECONDS", "20"))

# session id -> session data. Nothing ever removes an entry.
SESSIONS = {}

PRODUCTS = ["keyboard", "mouse", "monitor", "laptop", "dock", "cable", "headset"]


def parse_request(request_id):
    user = random.randrange(100000)
    return {
        "method": "GET",
        "path": "/shop/%s" % random.choice(PRODUCTS),
        "headers": {"cookie": "sid=%d-%d" % (user, request_id), "user-agent": "example/1.0"},
        "query": {"page": str(request_id % 5), "sort": "price"},
    }


def load_session(request):
    sid = request["headers"]["cookie"].split("=", 1)[1]
    if sid not in SESSIONS:
        SESSIONS[sid] = {"sid": sid, "cart": [], "history": ("visited %s;" % request["path"]) * 50}  # LEAK
    return SESSIONS[sid]


def handle(request, session):
    product = request["path"].rsplit("/", 1)[1]
    offers = [{"product": product, "seller": "seller-%d" % n, "price": round(random.uniform(5, 500), 2)}
              for n in range(30)]
    offers.sort(key=lambda offer: offer["price"])
    return {"product": product, "offers": offers[:10], "items_in_cart": len(session["cart"])}


def render(response):
    return json.dumps(response).encode()


def serve_one(request_id):
    request = parse_request(request_id)
    session = load_session(request)
    body = render(handle(request, session))
    return len(body)


def main():
    deadline = time.monotonic() + SECONDS
    request_id = 0
    served = 0
    while time.monotonic() < deadline:
        served += serve_one(request_id)
        request_id += 1
        time.sleep(0.01)
    print("served %d requests (%d bytes), %d sessions kept" % (request_id, served, len(SESSIONS)))


if __name__ == "__main__":
    main()
