#!/usr/bin/python3
"""Real servers under real HTTP load: the shop in tests/zoo/servers.

Flask on werkzeug's threaded server, a gunicorn pre-forked worker and
aiohttp, Debian's packages on Debian's python3.11 (see servers.py). A bounded load client orders (the handler that keeps every
receipt) and browses the catalogue and search (handlers that only churn;
search keeps its last hundred queries, a few collections' worth). Traced with
every allocation (--max-overhead off), the receipt line must head the
suspects and no churn handler may be one; the server keeps answering, and no
probe is left. What the default budget and continuous mode find on the same
servers is in scripts/benchmark-zoo.py's table.
"""

import os
import sys
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import servers  # noqa: E402

SECONDS = 40


class ServersTest(unittest.TestCase):
    def trace(self, name):
        harness.need(self, not servers.missing(name), servers.missing(name))
        with servers.serving(name) as (server, port, pid):
            workers = servers.children(server.pid)
            with servers.load(port, SECONDS + 5) as answered:
                report, run = harness.run_leakscope_json(
                    self, ["trace", "-p", pid, "--max-overhead", "off", "--duration", SECONDS, "--interval", 5],
                    timeout=SECONDS + 90)
            self.assertTrue(server.alive(), "the server died" + server.stderr_tail())
            self.assertEqual(servers.children(server.pid), workers, "a worker was replaced" + server.stderr_tail())
        harness.assert_no_probes_left(self, [servers.PYTHON], {run.pid})

        context = "\n--- leakscope stdout ---\n" + run.stdout[-6000:]
        self.assertTrue(answered, "the load client reported nothing")
        # A server slowed to a crawl answers few of the RATE a second asked for.
        self.assertGreater(answered[0].requests, servers.RATE * SECONDS // 4,
                           "the server stopped answering under tracing" + context)
        self.assertTrue(report["suspects"], "no suspect" + context)
        self.assertEqual(servers.leak_rank(report), 1, "the receipt line is not the top suspect" + context)
        self.assertEqual(servers.churn_suspects(report), [], "churn handlers among the suspects" + context)

    def test_flask_threaded(self):
        self.trace("flask")

    def test_gunicorn_worker(self):
        self.trace("gunicorn")

    def test_aiohttp(self):
        self.trace("aiohttp")


if __name__ == "__main__":
    harness.parse_args()
    harness.run_tests()
