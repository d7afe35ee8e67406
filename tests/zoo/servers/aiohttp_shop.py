"""The shop on aiohttp's server.

Run: python3 aiohttp_shop.py PORT -- prints 'listening PORT' once it accepts.
"""

import os
import sys

from aiohttp import web

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import shop  # noqa: E402


async def order(request):
    return web.Response(text=shop.place_order(int(request.match_info["order_id"]),
                                              request.query.get("customer", "guest")))


async def catalogue(request):
    return web.Response(text=shop.catalogue(int(request.match_info["page"])))


async def search(request):
    return web.Response(text=shop.search(request.match_info["query"]))


def main():
    app = web.Application()
    app.add_routes([web.post("/order/{order_id}", order),
                    web.get("/catalogue/{page}", catalogue),
                    web.get("/search/{query}", search)])
    port = int(sys.argv[1])
    web.run_app(app, host="127.0.0.1", port=port, access_log=None,
                print=lambda _: print("listening %d" % port, flush=True))


if __name__ == "__main__":
    main()
