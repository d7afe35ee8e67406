#!/usr/bin/python3
"""The attach path of kernels before 6.6 (one perf event per probe, no
multi-uprobe links), forced with --per-probe-links. On a pyenv build, whose plan has a handful of
probes (Debian's LTO build has ~270, and per-probe detach costs ~0.1 s each).

In continuous mode the allocation probes are attached in windows: each pause
must detach them, so leakscope's perf-event descriptors go down between
windows and never pile up window after window, and nothing is left behind.
"""

import os
import subprocess
import sys
import time
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

ALLOC_LOOP = """
import time
print('ready', flush=True)
end = time.monotonic() + 60
while time.monotonic() < end:
    for i in range(2000):
        d = {"a": i, "b": [i, i + 1]}
        s = "x%d" % i
"""
SECONDS = 12


def perf_event_fds(pid):
    """Descriptors of leakscope's perf events (uprobes and page-fault events)."""
    count = 0
    try:
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                if os.readlink("/proc/%d/fd/%s" % (pid, fd)) == "anon_inode:[perf_event]":
                    count += 1
            except OSError:
                pass
    except OSError:
        pass
    return count


class PerProbeLinksTest(unittest.TestCase):
    def test_windows_detach_their_probes(self):
        interp = harness.CONFIG.interpreter
        with harness.Target([interp.path, "-c", ALLOC_LOOP], ready_line="ready") as target:
            tracer = subprocess.Popen(
                [harness.CONFIG.leakscope, "trace", "-p", str(target.pid), "--mode", "continuous",
                 "--per-probe-links", "--duration", str(SECONDS), "--interval", str(SECONDS)],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            harness.LEAKSCOPE_PIDS.add(tracer.pid)
            counts = []
            deadline = time.monotonic() + SECONDS + 60
            while tracer.poll() is None and time.monotonic() < deadline:
                counts.append(perf_event_fds(tracer.pid))
                time.sleep(0.05)
            out, err = tracer.communicate(timeout=60)
        self.assertEqual(tracer.returncode, 0, err[-3000:])
        self.assertIn("allocation probes attached in", out, "continuous mode made no windows:\n" + out[-3000:])
        seen = [c for c in counts if c > 0]
        self.assertTrue(seen, "no perf event was ever open")
        # The probe count once everything is attached, from the start line.
        attached = int(err.split(" probes attached")[0].rsplit(" ", 1)[1])
        self.assertGreater(attached, 2, err)
        self.assertLess(min(seen), max(seen) - attached // 2, "allocation probes were never detached: %s" % counts)
        # Without the fix each window added the plan again: the count kept rising.
        self.assertLessEqual(max(seen), max(seen[:len(seen) // 4] or seen) + 2,
                             "perf events pile up window after window: %s" % counts[::10])
        harness.assert_no_probes_left(self, harness.target_binaries(interp), {tracer.pid})


if __name__ == "__main__":
    harness.parse_args(["--python", "py3.12"] + sys.argv[1:])
    harness.run_tests()
