#!/usr/bin/python3
# per-interpreter
"""Memory growth from sampled page faults names the line that grows.

A worker thread, started after leakscope attached (so it is followed through
the inherited perf event), keeps strings in a list at one line while churning
garbage at another. In continuous mode, where the allocation probes are
detached most of the time, the page-fault samples must still put the growing
line first, and their estimate must be of the right size.
"""

import os
import sys
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

TARGET = """
import threading, time
print('ready', flush=True)
time.sleep(3)
cache = []

def worker():
    end = time.monotonic() + 14
    while time.monotonic() < end:
        for i in range(1000):
            cache.append(('k%d' % i) * 20)   # GROW
        churn = [str(j) * 3 for j in range(1000)]   # CHURN
        time.sleep(0.05)

t = threading.Thread(target=worker)
t.start()
t.join()
time.sleep(600)
"""


def line_of(tag):
    for number, line in enumerate(TARGET.splitlines(), start=1):
        if line.rstrip().endswith("# " + tag):
            return number
    raise AssertionError(tag)


class GrowthTest(unittest.TestCase):
    def test_growing_line_comes_first(self):
        interp = harness.CONFIG.interpreter
        with harness.Target([interp.path, "-c", TARGET], ready_line="ready") as target:
            report, run = harness.run_leakscope_json(
                self, ["trace", "-p", str(target.pid), "--mode", "continuous", "--duration", "16", "--interval", "8"]
                + list(interp.extra_args))
        self.assertIn("MEMORY GROWTH", run.stdout)
        growth = report["growth"]
        self.assertIsNotNone(growth, "page faults were not sampled")
        self.assertEqual(growth["fault_period"], 64)
        self.assertTrue(growth["sites"], growth)
        top = growth["sites"][0]
        leaf = harness.python_leaf(top)
        self.assertTrue(leaf, "the top growth site has no Python frame: %s" % growth["sites"][:3])
        self.assertEqual((leaf["file"], leaf["line"]), ("<string>", line_of("GROW")),
                         growth["sites"][:3])
        # ~1000 strings of ~140 bytes every 50 ms for 14 s: about 40 MB kept.
        self.assertGreater(top["bytes"], 10 << 20, top)
        self.assertLess(growth["bytes"], 400 << 20, growth["bytes"])


if __name__ == "__main__":
    harness.parse_args(need_python=True)
    harness.run_tests()
