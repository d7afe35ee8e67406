#!/usr/bin/python3
"""Free-threaded CPython (3.13t, 3.14t): dump reads 3.14t's threads; what reads
objects refuses them before anything is attached.

On 3.14t, test_dump.py (the parked-threads target, compared frame for frame
with sys._current_frames(), also in its own namespaces) must pass as on any
other build. trace, snapshot and run must each exit with the
unsupported-version status and one line that says free-threaded builds are not
supported yet, leaving no probe behind and the target running (run kills the
command it started); 3.13t, whose layout is unverified, is refused by dump too.
The interpreters are found in pyenv (X.Y.Zt) or under the LEAKSCOPE_PYTHONS
prefixes (PREFIX/bin/pythonX.Yt); without any, the script is skipped and says
where it looked.
"""

import os
import subprocess
import sys
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

SLEEPER = "import time\nprint('ready', flush=True)\ntime.sleep(120)\n"
REFUSAL = "leakscope: free-threaded CPython builds are not supported yet: "
REFUSAL_313 = "leakscope: free-threaded CPython 3.13."
DUMP_TEST = os.path.join(os.path.dirname(os.path.abspath(__file__)), "test_dump.py")
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

    def test_dump_314t(self):
        pythons, looked = free_threaded_pythons()
        if not any(name == "3.14t" for name, _ in pythons):
            self.skipTest("no CPython 3.14t installed (looked in %s)" % "; ".join(looked))
        # test_dump.py finds the same interpreter the same way (pyenv, LEAKSCOPE_PYTHONS).
        run = subprocess.run([sys.executable, DUMP_TEST, "--leakscope", harness.CONFIG.leakscope,
                              "--python", "py3.14t"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             universal_newlines=True, timeout=600)
        self.assertEqual(run.returncode, 0, "test_dump.py on 3.14t:\n%s" % run.stdout)

    def test_refused(self):
        pythons, looked = free_threaded_pythons()
        if not pythons:
            self.skipTest("no free-threaded CPython installed (looked in %s)" % "; ".join(looked))
        for name, python in pythons:
            with harness.Target([python, "-c", SLEEPER], ready_line="ready", timeout=60) as target:
                commands = [["trace", "-p", target.pid] + BOUND, ["snapshot", "-p", target.pid]]
                if name == "3.13t":
                    commands.append(["dump", "-p", target.pid])
                for args in commands:
                    with self.subTest(python=name, command=" ".join(map(str, args[:1] + args[3:]))):
                        refusal = REFUSAL_313 if args[0] == "dump" else REFUSAL
                        self.assert_refused(python, args, "%s of %s" % (args[0], name), refusal)
                self.assertTrue(target.alive(), "%s: the target did not survive" % name)
            with self.subTest(python=name, command="run"):
                self.assert_refused(python, ["run"] + BOUND + ["--", python, "-c", "pass"],
                                    "run of %s" % name)


if __name__ == "__main__":
    harness.parse_args()
    harness.run_tests()
