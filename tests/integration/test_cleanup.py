#!/usr/bin/python3
# per-interpreter
"""Every way a trace can end leaves no probe behind and the target running on
unaffected: Ctrl-C (SIGINT), SIGTERM, the duration, and leakscope itself being
killed with SIGKILL. Stopping with a signal still prints a final report.
"""

import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

# Allocates steadily and reports a heartbeat counter, so the test can tell the
# target kept working (and was not stopped, broken or slowed to a halt).
WORKER = """
import sys, time
print('ready', flush=True)
beat = sys.argv[1]
kept, n = [], 0
while True:
    kept.append({'n': n, 's': str(n) * 5})
    if len(kept) > 5000:
        kept.clear()
    n += 1
    if n % 2000 == 0:
        with open(beat + '.tmp', 'w') as f:
            f.write(str(n))
        import os; os.replace(beat + '.tmp', beat)
        time.sleep(0.001)
"""


def heartbeat(path):
    try:
        with open(path) as f:
            return int(f.read() or 0)
    except (OSError, ValueError):
        return 0


class CleanupTest(unittest.TestCase):
    def run_and_stop(self, how):
        interp = harness.CONFIG.interpreter
        with tempfile.TemporaryDirectory() as tmp:
            beat = os.path.join(tmp, "beat")
            with harness.Target([interp.path, "-c", WORKER, beat], ready_line="ready") as target:
                args = [harness.CONFIG.leakscope, "trace", "-p", str(target.pid), "--interval", "1"]
                args += interp.extra_args
                if how == "duration":
                    args += ["--duration", "3"]
                tracer = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                harness.LEAKSCOPE_PIDS.add(tracer.pid)
                time.sleep(3)
                if how == "SIGINT":
                    tracer.send_signal(signal.SIGINT)
                elif how == "SIGTERM":
                    tracer.send_signal(signal.SIGTERM)
                elif how == "SIGKILL":
                    tracer.kill()
                out, err = tracer.communicate(timeout=60)
                if how == "SIGKILL":
                    self.assertEqual(tracer.returncode, -signal.SIGKILL)
                else:
                    self.assertEqual(tracer.returncode, 0, "leakscope stopped by %s: %s" % (how, err))
                    self.assertIn("(final)", out, "no final report after %s" % how)
                harness.assert_no_probes_left(self, harness.target_binaries(interp), {tracer.pid})

                # The target runs on, unharmed, once every probe is gone.
                self.assertTrue(target.alive(), "target died after leakscope stopped by %s" % how)
                before = heartbeat(beat)
                time.sleep(1.5)
                self.assertGreater(heartbeat(beat), before, "target stopped making progress")

    def test_sigint(self):
        self.run_and_stop("SIGINT")

    def test_sigterm(self):
        self.run_and_stop("SIGTERM")

    def test_duration(self):
        self.run_and_stop("duration")

    def test_sigkill(self):
        self.run_and_stop("SIGKILL")


if __name__ == "__main__":
    harness.parse_args(need_python=True)
    harness.run_tests()
