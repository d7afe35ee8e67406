#!/usr/bin/python3
"""Free-threaded CPython (3.13t, 3.14t): dump and trace read 3.14t; the heap
snapshot refuses it before anything is attached.

On 3.14t: test_dump.py (the parked-threads target, compared frame for frame
with sys._current_frames(), also in its own namespaces) must pass as on any
other build; test_trace_zoo.py's unbounded cache must be ranked first and its
pure churn stay clean; with four threads allocating at once
(tests/targets/thread_sizes.py), each thread's kept tuples must be charged to
its own stack: every KEEP site's mean object size is its own thread's tuple
size (within 5%), not another's; a list's storage, which comes from PyMem's
mimalloc domain there, must be found at the line that grows it. snapshot
must exit with the
unsupported-version status and one line, leaving no probe behind and the
target running; 3.13t, whose layout is unverified, is refused by dump, trace,
snapshot and run.
The interpreters are found in pyenv (X.Y.Zt) or under the LEAKSCOPE_PYTHONS
prefixes (PREFIX/bin/pythonX.Yt); without any, the script is skipped and says
where it looked.
"""

import os
import re
import subprocess
import sys
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

SLEEPER = "import time\nprint('ready', flush=True)\ntime.sleep(120)\n"
# Only a list's storage grows (PyMem, from mimalloc in free-threaded builds).
LIST_STORAGE = """import time
big = []
def grow():
    for i in range(20000):
        big.append(None)
t0 = time.monotonic()
while time.monotonic() - t0 < 8:
    grow()
    time.sleep(0.02)
print("storage", len(big) * 8, flush=True)
"""
LIST_STORAGE_LINE = 5
REFUSAL = "leakscope: the heap snapshot does not support free-threaded CPython yet: "
REFUSAL_313 = "leakscope: free-threaded CPython 3.13."
HERE = os.path.dirname(os.path.abspath(__file__))
DUMP_TEST = os.path.join(HERE, "test_dump.py")
ZOO_TEST = os.path.join(HERE, "test_trace_zoo.py")
THREAD_SIZES = os.path.join(HERE, "..", "targets", "thread_sizes.py")
KEEP = re.compile(r"# KEEP (\d+)$")
# Births trap at ~6 us on some machines: give the zoo's scenarios twice the
# usual 15 s, as a slow interpreter needs more readings to settle a verdict.
ZOO_SECONDS = "30"
BOUND = ["--duration", "5"]  # in case the refusal does not fire, do not trace forever


def free_threaded_pythons():
    found, looked = [], []
    for major_minor in ("3.13", "3.14"):
        path, looked_in = harness.find_python(major_minor, free_threaded=True)
        looked.append("%st: %s" % (major_minor, looked_in))
        if path:
            found.append((major_minor + "t", path))
    return found, looked


class FreeThreadedTest(unittest.TestCase):
    maxDiff = None

    def assert_refused(self, python, args, what, refusal=REFUSAL):
        run = harness.run_leakscope_ex(args, timeout=60)
        message = run.stderr.strip()
        self.assertEqual(run.rc, harness.EXIT_UNSUPPORTED_VERSION,
                         "%s: exit status %s\nstderr: %s" % (what, run.rc, run.stderr))
        self.assertNotIn("\n", message, "%s: more than one line:\n%s" % (what, message))
        self.assertTrue(message.startswith(refusal), "%s: %s" % (what, message))
        harness.assert_no_probes_left(self, [os.path.realpath(python)] +
                                      [p for _, p in harness.shared_libpython(python)], {run.pid})

    def python_314t(self):
        pythons, looked = free_threaded_pythons()
        for name, path in pythons:
            if name == "3.14t":
                return path
        self.skipTest("no CPython 3.14t installed (looked in %s)" % "; ".join(looked))

    def run_script(self, script, *args, env=None):
        # The scripts find the same interpreter the same way (pyenv, LEAKSCOPE_PYTHONS).
        run = subprocess.run([sys.executable, script, "--leakscope", harness.CONFIG.leakscope,
                              "--python", "py3.14t"] + list(args), stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, universal_newlines=True, timeout=900,
                             env=dict(os.environ, **(env or {})))
        self.assertEqual(run.returncode, 0, "%s on 3.14t:\n%s" % (os.path.basename(script), run.stdout))

    def test_dump_314t(self):
        self.python_314t()
        self.run_script(DUMP_TEST)

    def test_trace_zoo_314t(self):
        self.python_314t()
        self.run_script(ZOO_TEST, "-k", "test_zoo_leak_module_cache", "-k", "test_zoo_churn_only",
                        env={"LEAKSCOPE_ZOO_TEST_SECONDS": ZOO_SECONDS})

    def test_threads_attributed_314t(self):
        python = self.python_314t()
        with open(THREAD_SIZES) as f:
            keep_lines = {int(m.group(1)): n for n, m in enumerate((KEEP.search(line) for line in f), 1) if m}
        report, run = harness.run_leakscope_json(
            self, ["run", "--max-overhead", "off", "--interval", "2", "--sample-bytes", "4096", "--",
                   python, THREAD_SIZES], timeout=120)
        sizes_line = [line for line in run.stdout.splitlines() if line.startswith("sizes ")]
        self.assertTrue(sizes_line, "the target printed no sizes:\n%s" % run.stdout)
        sizes = [int(n) for n in sizes_line[0].split()[1:]]
        means = {}
        for site in report["top_sites"]:
            for frame in site["frames"]:
                if frame.get("native") or os.path.basename(frame["file"]) != "thread_sizes.py":
                    continue
                thread = [k for k, line in keep_lines.items() if line == frame["line"]]
                if thread and site["live_objects"]:
                    means[thread[0]] = site["live_bytes"] / site["live_objects"]
                break
        self.assertEqual(sorted(means), sorted(keep_lines), "KEEP sites found: %s" % means)
        for k, mean in means.items():
            nearest = min(range(len(sizes)), key=lambda j: abs(sizes[j] - mean))
            self.assertEqual(nearest, k, "thread %d's site has objects of %.0f bytes on average, nearest to "
                                         "thread %d's %d (its own: %d)" % (k, mean, nearest, sizes[nearest], sizes[k]))
            self.assertLess(abs(mean - sizes[k]) / sizes[k], 0.05, "thread %d: %.0f vs %d" % (k, mean, sizes[k]))

    def test_list_storage_314t(self):
        python = self.python_314t()
        report, run = harness.run_leakscope_json(
            self, ["run", "--max-overhead", "off", "--interval", "2", "--", python, "-c", LIST_STORAGE], timeout=120)
        storage = [int(line.split()[1]) for line in run.stdout.splitlines() if line.startswith("storage ")]
        self.assertTrue(storage, "the target printed no storage size:\n%s" % run.stdout)
        at_line = [site for site in report["top_sites"]
                   if any(f["file"] == "<string>" and f["line"] == LIST_STORAGE_LINE for f in site["frames"])]
        self.assertTrue(at_line, "no site at the append line; top sites: %s" % [
            [(f["file"], f["line"]) for f in site["frames"][:3]] for site in report["top_sites"]])
        live = max(site["live_bytes"] for site in at_line)
        self.assertGreater(live, storage[0] / 2, "the list's %d bytes of storage: %d live at its line" % (storage[0], live))
        self.assertLess(live, storage[0] * 2, "the list's %d bytes of storage: %d live at its line" % (storage[0], live))

    def test_refused(self):
        pythons, looked = free_threaded_pythons()
        if not pythons:
            self.skipTest("no free-threaded CPython installed (looked in %s)" % "; ".join(looked))
        for name, python in pythons:
            with harness.Target([python, "-c", SLEEPER], ready_line="ready", timeout=60) as target:
                commands = [["snapshot", "-p", target.pid]]
                if name == "3.13t":
                    commands += [["dump", "-p", target.pid], ["trace", "-p", target.pid] + BOUND]
                for args in commands:
                    with self.subTest(python=name, command=" ".join(map(str, args[:1] + args[3:]))):
                        refusal = REFUSAL_313 if name == "3.13t" else REFUSAL
                        self.assert_refused(python, args, "%s of %s" % (args[0], name), refusal)
                self.assertTrue(target.alive(), "%s: the target did not survive" % name)
            if name == "3.13t":
                with self.subTest(python=name, command="run"):
                    self.assert_refused(python, ["run"] + BOUND + ["--", python, "-c", "pass"],
                                        "run of %s" % name, REFUSAL_313)


if __name__ == "__main__":
    harness.parse_args()
    harness.run_tests()
