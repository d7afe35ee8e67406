#!/usr/bin/python3
"""Continuous mode and the overhead budget, on Debian's python3.11 (the
realistic static LTO build).

- Continuous mode keeps the allocation probes detached most of the time, yet
  names the leaking line of the unbounded-cache scenario within 120 s, and the
  report says what it sampled and what it changed (escalation included).
- With no flags, trace mode keeps a 10% budget on an allocation-heavy loop:
  the first report line says so, and the report says what was reduced.
Speed itself is measured by scripts/benchmark.py, not here.
"""

import os
import sys
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

PYTHON = "/usr/bin/python3.11"
ZOO = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "zoo")
ALLOC_LOOP = """
import time
end = time.monotonic() + 20
while time.monotonic() < end:
    for i in range(2000):
        d = {"a": i, "b": [i, i + 1]}
        s = "x%d" % i
"""


class ContinuousTest(unittest.TestCase):
    def test_continuous_mode_names_the_leak_within_120_s(self):
        if not os.path.exists(PYTHON):
            harness.skip("%s is not installed" % PYTHON)
        scenario = os.path.join(ZOO, "leak_module_cache.py")
        report, run = harness.run_leakscope_json(
            self, ["run", "--mode", "continuous", "--interval", "10", "--", PYTHON, scenario],
            timeout=300, env=harness.clean_env(LEAKSCOPE_ZOO_SECONDS=120))
        harness.assert_no_probes_left(self, [PYTHON], {run.pid})
        self.assertEqual(report["mode"], "continuous")
        overhead = report["overhead"]
        self.assertIsNotNone(overhead["budget_pct"])
        self.assertLess(overhead["duty_cycle"], 0.5, "continuous mode kept its probes attached: %s" % overhead)
        self.assertTrue(overhead["adjustments"], "the report does not say what continuous mode did")
        self.assertTrue(report["suspects"], "no suspect after 120 s in continuous mode")
        line = harness.leak_line(scenario)
        frames = report["suspects"][0]["frames"]
        self.assertIn((os.path.basename(scenario), line),
                      [(os.path.basename(f["file"]), f["line"]) for f in frames])

    def test_default_budget_reduces_and_says_so(self):
        if not os.path.exists(PYTHON):
            harness.skip("%s is not installed" % PYTHON)
        report, run = harness.run_leakscope_json(
            self, ["run", "--interval", "5", "--", PYTHON, "-c", ALLOC_LOOP], timeout=300)
        header = next((line for line in run.stdout.splitlines() if line.startswith("mode ")), "")
        self.assertTrue(header.startswith("mode trace (budget 10% of the target's CPU time)"), run.stdout[:500])
        overhead = report["overhead"]
        self.assertEqual(overhead["budget_pct"], 10)
        self.assertLess(overhead["duty_cycle"], 0.5)
        self.assertTrue(any("windows" in a or "sampling" in a for a in overhead["adjustments"]), overhead)
        # Self-estimate near the budget (the first window is spent measuring).
        self.assertIsNotNone(overhead["estimated_pct"], overhead)
        self.assertLess(overhead["estimated_pct"], 4 * 10, overhead)
        self.assertGreater(overhead["probe_floor_ns"], 0)


if __name__ == "__main__":
    harness.parse_args()
    harness.run_tests()
