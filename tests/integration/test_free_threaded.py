#!/usr/bin/python3
"""Free-threaded CPython (3.13t, 3.14t) is refused before anything is attached.

dump, trace, snapshot and run must each exit with the unsupported-version
status and one line that says free-threaded builds are not supported yet,
leaving no probe behind and the target running (run kills the command it
started). The interpreters are found in pyenv (X.Y.Zt) or under the
LEAKSCOPE_PYTHONS prefixes (PREFIX/bin/pythonX.Yt); without any, the script
is skipped and says where it looked.
"""

import os
import sys
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

SLEEPER = "import time\nprint('ready', flush=True)\ntime.sleep(120)\n"
REFUSAL = "leakscope: free-threaded CPython builds are not supported yet: "
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

    def assert_refused(self, python, args, what):
        run = harness.run_leakscope_ex(args, timeout=60)
        message = run.stderr.strip()
        self.assertEqual(run.rc, harness.EXIT_UNSUPPORTED_VERSION,
                         "%s: exit status %s\nstderr: %s" % (what, run.rc, run.stderr))
        self.assertNotIn("\n", message, "%s: more than one line:\n%s" % (what, message))
        self.assertTrue(message.startswith(REFUSAL), "%s: %s" % (what, message))
        harness.assert_no_probes_left(self, [os.path.realpath(python)] +
                                      [p for _, p in harness.shared_libpython(python)], {run.pid})

    def test_refused(self):
        pythons, looked = free_threaded_pythons()
        if not pythons:
            self.skipTest("no free-threaded CPython installed (looked in %s)" % "; ".join(looked))
        for name, python in pythons:
            with harness.Target([python, "-c", SLEEPER], ready_line="ready", timeout=60) as target:
                for args in (["dump", "-p", target.pid], ["dump", "-p", target.pid, "--json"],
                             ["trace", "-p", target.pid] + BOUND,
                             ["snapshot", "-p", target.pid]):
                    with self.subTest(python=name, command=" ".join(map(str, args[:1] + args[3:]))):
                        self.assert_refused(python, args, "%s of %s" % (args[0], name))
                self.assertTrue(target.alive(), "%s: the target did not survive" % name)
            with self.subTest(python=name, command="run"):
                self.assert_refused(python, ["run"] + BOUND + ["--", python, "-c", "pass"],
                                    "run of %s" % name)


if __name__ == "__main__":
    harness.parse_args()
    harness.run_tests()
