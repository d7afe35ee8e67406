#!/usr/bin/python3
"""Two leakscope sessions on one process: the second is refused with one
line naming the first, fast and before attaching anything; the lock goes
with the first session, also when that one is killed."""

import glob
import os
import signal
import subprocess
import sys
import threading
import time
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

PYTHON = "/usr/bin/python3"
PROGRAM = ("import time\nprint('ready', flush=True)\nkeep = []\n"
           "while True:\n    keep.append(bytearray(256))\n    del keep[:-1000]\n    time.sleep(0.001)\n")
LOCK_DIR = "/run/leakscope"


def lock_holder(pid, timeout=30):
    """PID written into the target's lock file once a session holds it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in glob.glob("%s/%d-*.lock" % (LOCK_DIR, pid)):
            try:
                with open(path) as f:
                    text = f.read().strip()
            except OSError:
                continue
            if text.isdigit():
                return int(text)
        time.sleep(0.05)
    return None


class SessionsTest(unittest.TestCase):
    def target(self):
        return harness.Target([PYTHON, "-c", PROGRAM], ready_line="ready", timeout=30)

    def start_first(self, pid, duration):
        """The first session, in the background; returns (thread, result list)."""
        result = []
        thread = threading.Thread(target=lambda: result.append(harness.run_leakscope_ex(
            ["trace", "-p", pid, "--duration", duration, "--interval", duration], timeout=120)))
        thread.start()
        self.addCleanup(thread.join, 130)
        return thread, result

    def assert_refused(self, pid, first_pid):
        run = harness.run_leakscope_ex(["trace", "-p", pid, "--duration", "5"], timeout=30)
        message = run.stderr.strip()
        self.assertEqual(run.rc, harness.EXIT_BUSY, "second session: status %s\n%s" % (run.rc, run.stderr))
        self.assertNotIn("\n", message)
        self.assertIn("already traced by leakscope PID %d" % first_pid, message)
        self.assertLess(run.elapsed, 1.0, "the refusal took %.2fs" % run.elapsed)
        return run

    def test_second_session_refused_until_the_first_ends(self):
        with self.target() as target:
            thread, result = self.start_first(target.pid, "6")
            first_pid = lock_holder(target.pid)
            self.assertIsNotNone(first_pid, "the first session never took the lock")
            self.assert_refused(target.pid, first_pid)
            thread.join(120)
            first = result[0]
            self.assertEqual(first.rc, 0, first.stderr)
            self.assertIn("leak", first.stdout.lower(), "the first session's report is missing")
            self.assertEqual(glob.glob("%s/%d-*.lock" % (LOCK_DIR, target.pid)), [], "lock file left behind")
            # now free again
            rc, out, err = harness.run_leakscope(["trace", "-p", target.pid, "--duration", "1"], timeout=60)
            self.assertEqual(rc, 0, err)
        harness.assert_no_probes_left(self, [os.path.realpath(PYTHON)])

    def test_lock_goes_with_a_killed_session(self):
        with self.target() as target:
            proc = subprocess.Popen([harness.CONFIG.leakscope, "trace", "-p", str(target.pid), "--duration", "60"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
            harness.LEAKSCOPE_PIDS.add(proc.pid)
            try:
                self.assertEqual(lock_holder(target.pid), proc.pid)
            finally:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
            rc, out, err = harness.run_leakscope(["trace", "-p", target.pid, "--duration", "1"], timeout=60)
            self.assertEqual(rc, 0, "a killed session's lock was not released:\n%s" % err)
        harness.assert_no_probes_left(self, [os.path.realpath(PYTHON)])


if __name__ == "__main__":
    harness.parse_args()
    harness.run_tests()
