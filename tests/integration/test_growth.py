#!/usr/bin/python3
# per-interpreter
"""Memory growth from sampled page faults and from pymalloc's pool refills
names the line that grows.

A server-like target starts a thread per request after leakscope attached;
each keeps strings in a list at one line, churns garbage at another, and
faults in fewer pages than the sampling period before it exits. In continuous
mode, where the allocation probes are detached most of the time, the
page-fault samples must still put the growing line first, and their estimate
must be of the right size. Under `run`, whose last
report comes after the target has exited, the growth stacks must still be
named (from while it could be read), not shown as unreadable code objects.
The size class of the growing line's strings holds the pools it took; the
churning line's class takes pools and empties them again (3.8, which inlines
the refill, has no pool view).
"""

import os
import sys
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

# A thread per request, as socketserver's ThreadingMixIn does, all started
# after leakscope attached: each keeps ~140 KiB (about 35 pages, under the
# sampling period of 64), churns, and exits. The churn is made before the
# growth and dropped after it: a page is faulted in by whatever touches it
# first, and growth that reused pages the churn had just freed would leave
# the next churn to fault in new ones (pools by class tell those apart, faults
# cannot; docs/probes.md).
TARGET = """
import threading, time
print('ready', flush=True)
time.sleep(3)
cache = []

def request():
    churn = [str(j) * 3 for j in range(1000)]   # CHURN
    for i in range(1000):
        cache.append(('k%d' % i) * 20)   # GROW
    del churn

end = time.monotonic() + 14
while time.monotonic() < end:
    t = threading.Thread(target=request)
    t.start()
    t.join()
    time.sleep(0.05)
time.sleep(600)
"""

# Grows in a function for a few seconds, then for a moment from another line,
# and exits: a stack of code objects read before, which the faults alone
# (3.8 has no pool refills to name it on arrival) most likely first show
# after the exit.
EXITING = """
import time
cache = []

def grow(seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for i in range(1000):
            cache.append(('k%d' % i) * 20)   # GROW
        time.sleep(0.05)

grow(5)
grow(0.3)   # AGAIN
"""


def line_of(tag, target=TARGET):
    for number, line in enumerate(target.splitlines(), start=1):
        if line.rstrip().endswith("# " + tag):
            return number
    raise AssertionError(tag)


class GrowthTest(unittest.TestCase):
    def growth_of(self, program, run_it=False):
        """The growth section of a continuous trace of PROGRAM (its whole run
        with RUN_IT, 16 s of it otherwise), with its first site."""
        interp = harness.CONFIG.interpreter
        if run_it:
            report, run = harness.run_leakscope_json(
                self, ["run", "--mode", "continuous", "--interval", "2"] + list(interp.extra_args)
                + ["--", interp.path, "-c", program])
        else:
            with harness.Target([interp.path, "-c", program], ready_line="ready") as target:
                report, run = harness.run_leakscope_json(
                    self, ["trace", "-p", str(target.pid), "--mode", "continuous", "--duration", "16",
                           "--interval", "8"] + list(interp.extra_args))
        self.assertIn("MEMORY GROWTH", run.stdout)
        self.assertEqual("PYMALLOC POOLS HELD" in run.stdout, report["pools"] is not None)
        growth = report["growth"]
        self.assertIsNotNone(growth, "page faults were not sampled")
        self.assertEqual(growth["fault_period"], 64)
        self.assertTrue(growth["sites"], growth)
        top = growth["sites"][0]
        leaf = harness.python_leaf(top)
        self.assertTrue(leaf, "the top growth site has no Python frame: %s" % growth["sites"][:3])
        self.assertEqual((leaf["file"], leaf["line"]), ("<string>", line_of("GROW", program)),
                         growth["sites"][:3])
        return growth, top, report

    def check_pools(self, report, program):
        """The GROW line's size class holds its pools, the CHURN line's does not."""
        pools = report["pools"]
        if harness.version_tuple(harness.CONFIG.interpreter.version) < (3, 9):
            self.assertIsNone(pools, "3.8 inlines allocate_from_new_pool")
            return
        self.assertIsNotNone(pools, "pool refills were not traced")
        taker = lambda c: (harness.python_leaf(c["taken_by"][0]) or {}).get("line") if c["taken_by"] else None
        top = pools["classes"][0]
        self.assertEqual(taker(top), line_of("GROW", program), pools["classes"][:3])
        self.assertEqual(top["held_bytes"], top["held"] * pools["pool_bytes"])
        # In continuous mode (1% budget) the churning line's refills may cost
        # over half of it: then the probes are detached, after a second at least.
        self.assertGreater(top["held_bytes"], (2 if pools["detached_s"] else 10) << 20, top)
        self.assertGreaterEqual(top["held"], 0.9 * top["taken"], top)
        churn = [c for c in pools["classes"] if taker(c) == line_of("CHURN", program)]
        self.assertTrue(churn, pools["classes"])
        for c in churn:
            self.assertLessEqual(c["held"], 0.1 * c["taken"] + 2, c)

    def test_growing_line_comes_first(self):
        growth, top, report = self.growth_of(TARGET)
        # ~1000 strings of ~140 bytes every 50 ms for 14 s: about 40 MB kept.
        self.assertGreater(top["bytes"], 10 << 20, top)
        self.assertLess(growth["bytes"], 400 << 20, growth["bytes"])
        self.check_pools(report, TARGET)

    def test_named_after_exit(self):
        growth, top, report = self.growth_of(EXITING, run_it=True)
        unreadable = [f for site in growth["sites"] for f in site["frames"]
                      if f["function"].startswith("<unreadable code object")]
        self.assertEqual(unreadable, [], growth["sites"])
        again = [s for s in growth["sites"] if [(f["function"], f["line"]) for f in s["frames"]]
                 == [("grow", line_of("GROW", EXITING)), ("<module>", line_of("AGAIN", EXITING))]]
        self.assertTrue(again, growth["sites"])
        if report["pools"]:
            unreadable = [f for c in report["pools"]["classes"] for t in c["taken_by"] for f in t["frames"]
                          if f["function"].startswith("<unreadable code object")]
            self.assertEqual(unreadable, [], report["pools"]["classes"])


if __name__ == "__main__":
    harness.parse_args(need_python=True)
    harness.run_tests()
