"""A small shop's request handlers, shared by the server scenarios.

place_order keeps every receipt in a module-level list: the leak. The
catalogue and search handlers only churn: everything they build dies with
the request, except search's recent-query log, which keeps the last few
hundred queries (a few collections' worth) and then lets them go.
"""

import collections
import json
import random

RECEIPTS = []  # every order ever placed, never trimmed
RECENT_QUERIES = collections.deque(maxlen=100)  # bounded: lives a few GC cycles

PRODUCTS = [{"sku": "SKU-%04d" % n, "name": "product %d" % n, "price": 100 + n % 900}
            for n in range(500)]


def make_receipt(order_id, customer):
    lines = [{"sku": PRODUCTS[(order_id * 7 + n) % len(PRODUCTS)]["sku"], "qty": 1 + n % 3,
              "note": "gift wrap %d-%d" % (order_id, n)} for n in range(6)]
    return {"order": order_id, "customer": customer, "lines": lines,
            "total": sum(line["qty"] * 100 for line in lines),
            "text": "receipt %d for %s: " % (order_id, customer) + "-" * 4000}


def place_order(order_id, customer):
    receipt = make_receipt(order_id, customer)  # LEAK
    RECEIPTS.append(receipt)
    return json.dumps({"order": order_id, "total": receipt["total"]})


def catalogue(page):
    rows = [{"sku": p["sku"], "name": p["name"].title(), "price": "%.2f" % (p["price"] / 100.0),
             "tags": ["tag-%d" % (n % 7) for n in range(4)]}
            for p in PRODUCTS[(page * 50) % 450:(page * 50) % 450 + 50]]
    return json.dumps({"page": page, "rows": rows})


def search(query):
    words = [w.lower() for w in query.split("-")]
    hits = [p for p in PRODUCTS if any(w in p["name"] for w in words)][:40]
    RECENT_QUERIES.append({"query": query, "words": words, "hits": [h["sku"] for h in hits],
                           "score": random.random()})
    return json.dumps({"query": query, "hits": len(hits)})
