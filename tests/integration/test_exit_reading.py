#!/usr/bin/python3
"""A reading taken while the target's interpreter shuts down (and frees the
heap) is left out of the analysis, and the report says so: the leak found
before the exit is still the top suspect of `run`'s final report."""

import os
import sys
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

PYTHON = "/usr/bin/python3.11"
TARGET = os.path.join(harness.TARGETS_DIR, "slow_shutdown.py")


class ExitReadingTest(unittest.TestCase):
    def test_shutdown_reading_is_left_out_and_said(self):
        if not os.path.exists(PYTHON):
            harness.skip("%s is not installed" % PYTHON)
        report, run = harness.run_leakscope_json(self, ["run", "--max-overhead", "off", "--interval", "1", "--", PYTHON, TARGET], timeout=120)
        dropped = report["drops"].get("READING_AT_EXIT")
        self.assertTrue(dropped and dropped["count"] == 1, "no reading left out at exit: %s" % report["drops"])
        self.assertIn("shutdown", dropped["remedy"])
        self.assertTrue(report["suspects"], "the leak was lost with the shutdown reading")
        frames = report["suspects"][0]["frames"]
        self.assertIn(("slow_shutdown.py", harness.leak_line(TARGET)),
                      [(os.path.basename(f["file"]), f["line"]) for f in frames], frames)
        # The analysed readings never fall: the shutdown's is not among them.
        live = [i["live_bytes"] for i in report["intervals"]]
        self.assertEqual(live, sorted(live), live)
        self.assertIn("READING_AT_EXIT", run.stdout)


if __name__ == "__main__":
    harness.parse_args()
    harness.run_tests()
