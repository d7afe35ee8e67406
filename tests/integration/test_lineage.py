#!/usr/bin/python3
"""A target that execs or forks while traced: an exec ends the session with a
final report that says so; forked children are named as not traced."""

import os
import sys
import time
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

PYTHON = "/usr/bin/python3"
ALLOCATE = ("import os, sys, time\nprint('ready', flush=True)\nkeep = []\n"
            "end = time.monotonic() + 2\n"
            "while time.monotonic() < end:\n    keep.append(bytearray(256))\n    time.sleep(0.001)\n")
EXECS = ALLOCATE + "os.execv(sys.executable, [sys.executable, '-c', 'import time; time.sleep(60)'])\n"
FORKS = (ALLOCATE + "child = os.fork()\n"
         "if child == 0:\n    time.sleep(60)\n    os._exit(0)\n"
         "print('child', child, flush=True)\ntime.sleep(60)\n")


class LineageTest(unittest.TestCase):
    def trace(self, program, duration):
        with harness.Target([PYTHON, "-c", program], ready_line="ready", timeout=30) as target:
            started = time.monotonic()
            report, run = harness.run_leakscope_json(self, ["trace", "-p", target.pid, "--duration", duration,
                                                            "--interval", "1"], timeout=120)
            elapsed = time.monotonic() - started
            alive = target.alive()
        harness.assert_no_probes_left(self, [os.path.realpath(PYTHON)], {run.pid})
        return report, run, elapsed, alive

    def test_exec_ends_the_session_with_a_final_report(self):
        report, run, elapsed, alive = self.trace(EXECS, "30")
        self.assertTrue(alive, "the target did not survive its exec")
        self.assertLess(elapsed, 10, "tracing went on %.1fs after the exec" % elapsed)
        self.assertTrue(report["final"])
        self.assertIs(report["target"]["exec"], True)
        self.assertIn("exec'd another program", run.stdout)
        self.assertEqual(report["target"]["untraced_children"], [])

    def test_forked_child_is_named_as_not_traced(self):
        report, run, elapsed, alive = self.trace(FORKS, "4")
        self.assertTrue(alive)
        self.assertIs(report["target"]["exec"], False)
        children = report["target"]["untraced_children"]
        self.assertEqual(len(children), 1, "forked child not reported: %r" % report["target"])
        self.assertRegex(run.stdout, r"1 child process forked while traced, not traced: PID %d" % children[0])


if __name__ == "__main__":
    harness.parse_args()
    harness.run_tests()
