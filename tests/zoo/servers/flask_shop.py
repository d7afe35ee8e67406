"""The shop on Flask, served by werkzeug's threaded server (or by gunicorn: flask_shop:app).

Run: python3 flask_shop.py PORT -- prints 'listening PORT' once it accepts.
"""

import os
import sys

from flask import Flask, request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import shop  # noqa: E402

app = Flask("shop")


@app.route("/order/<int:order_id>", methods=["POST"])
def order(order_id):
    return shop.place_order(order_id, request.args.get("customer", "guest"))


@app.route("/catalogue/<int:page>")
def catalogue(page):
    return shop.catalogue(page)


@app.route("/search/<query>")
def search(query):
    return shop.search(query)


if __name__ == "__main__":
    import logging
    from werkzeug.serving import make_server
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = make_server("127.0.0.1", int(sys.argv[1]), app, threaded=True)
    print("listening %d" % server.server_port, flush=True)
    server.serve_forever()
