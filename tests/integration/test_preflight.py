#!/usr/bin/python3
"""Preflight and error reporting: every bad input gives one line on stderr
and its own exit status (docs/errors.md), never a crash dump.

Also: --help and --version, and a target that exits in the middle of a trace.
"""

import os
import re
import shutil
import stat
import sys
import tempfile
import time
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

PYTHON = "/usr/bin/python3"  # any supported interpreter will do here
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
NO_CAPS = ["setpriv", "--inh-caps=-all", "--bounding-set=-bpf,-perfmon,-sys_admin,-sys_ptrace"]
TRACE_BOUND = ["--duration", "5"]  # in case a check does not fire, do not trace forever
SLEEPER = "import time\nprint('ready', flush=True)\ntime.sleep(600)\n"
RAW_DUMP_MARKERS = ("Traceback", "terminate called", "what()", "std::", "Aborted",
                    "Segmentation", "exception", "Exception", "core dumped")


def masked(path):
    """A prefix that runs leakscope with PATH hidden under an empty tmpfs, in a
    private mount namespace (the host keeps its mounts)."""
    return ["unshare", "--mount", "sh", "-c", 'mount -t tmpfs none %s && exec "$0" "$@"' % path]


def missing_pid():
    with open("/proc/sys/kernel/pid_max") as f:
        pid = int(f.read()) - 1
    while os.path.exists("/proc/%d" % pid):
        pid -= 1
    return pid


class PreflightTest(unittest.TestCase):
    maxDiff = None

    def assert_error(self, result, status, what):
        rc, out, err = result
        message = err.strip()
        self.assertEqual(rc, status, "%s: exit status %s, expected %s\nstderr: %s" % (what, rc, status, err))
        self.assertTrue(message, "%s: nothing on stderr" % what)
        self.assertNotIn("\n", message, "%s: error is more than one line:\n%s" % (what, err))
        for marker in RAW_DUMP_MARKERS:
            self.assertNotIn(marker, message, "%s: looks like a raw exception: %s" % (what, message))
        return message

    def python_target(self, python=PYTHON):
        return harness.Target([python, "-c", SLEEPER], ready_line="ready", timeout=30)

    # -- usage ---------------------------------------------------------------

    def test_help_lists_subcommands_and_examples(self):
        rc, out, err = harness.run_leakscope(["--help"], timeout=30)
        self.assertEqual(rc, 0, err)
        for word in ("dump", "trace", "run"):
            self.assertRegex(out, r"\b%s\b" % word)
        self.assertIn("EXAMPLES", out.upper())

    def test_version(self):
        rc, out, err = harness.run_leakscope(["--version"], timeout=30)
        self.assertEqual(rc, 0, err)
        self.assertRegex(out, r"\d+\.\d+(\.\d+)?")

    def test_usage_errors(self):
        for args in (["dump"], ["frobnicate"], ["dump", "-p", "not-a-pid"]):
            with self.subTest(args=args):
                self.assert_error(harness.run_leakscope(args, timeout=30), harness.EXIT_USAGE, " ".join(args))

    # -- permissions ---------------------------------------------------------

    def world_executable_copy(self):
        """nobody cannot reach a binary under /root or a private build tree."""
        directory = tempfile.mkdtemp(prefix="ls-bin-")
        self.addCleanup(shutil.rmtree, directory, True)
        os.chmod(directory, 0o755)
        copy = os.path.join(directory, "leakscope")
        shutil.copy2(harness.CONFIG.leakscope, copy)
        os.chmod(copy, os.stat(copy).st_mode | stat.S_IRUSR | stat.S_IXUSR | stat.S_IRGRP
                 | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
        return copy

    def test_not_root(self):
        binary = self.world_executable_copy()
        with self.python_target() as target:
            for args in (["dump", "-p", target.pid], ["trace", "-p", target.pid] + TRACE_BOUND):
                with self.subTest(command=args[0]):
                    result = harness.run_leakscope(args, timeout=60, prefix=NOBODY, binary=binary)
                    self.assert_error(result, harness.EXIT_PERMISSION, "%s as nobody" % args[0])

    def test_missing_capabilities(self):
        with self.python_target() as target:
            result = harness.run_leakscope(["trace", "-p", target.pid] + TRACE_BOUND, timeout=60, prefix=NO_CAPS)
            self.assert_error(result, harness.EXIT_PERMISSION, "trace without CAP_BPF/PERFMON/SYS_ADMIN/SYS_PTRACE")

    # -- kernel support ------------------------------------------------------

    def test_no_kernel_btf(self):
        if not os.path.isdir("/sys/kernel/btf"):
            self.skipTest("this kernel has no /sys/kernel/btf to hide")
        with self.python_target() as target:
            result = harness.run_leakscope(["trace", "-p", target.pid] + TRACE_BOUND, timeout=60,
                                           prefix=masked("/sys/kernel/btf"))
            self.assert_error(result, harness.EXIT_KERNEL_SUPPORT, "trace without kernel BTF")

    def test_no_uprobe_support(self):
        if not os.path.exists("/sys/bus/event_source/devices/uprobe"):
            self.skipTest("this kernel has no uprobe PMU to hide")
        with self.python_target() as target:
            result = harness.run_leakscope(["trace", "-p", target.pid] + TRACE_BOUND, timeout=60,
                                           prefix=masked("/sys/bus/event_source/devices/uprobe"))
            self.assert_error(result, harness.EXIT_KERNEL_SUPPORT, "trace without uprobes")

    # -- targets -------------------------------------------------------------

    def test_no_such_process(self):
        pid = missing_pid()
        for args in (["dump", "-p", pid], ["trace", "-p", pid] + TRACE_BOUND):
            with self.subTest(command=args[0]):
                self.assert_error(harness.run_leakscope(args, timeout=60), harness.EXIT_NO_SUCH_PROCESS,
                                  "%s of pid %d" % (args[0], pid))

    def test_not_python(self):
        with harness.Target(["sleep", "60"]) as target:
            for args in (["dump", "-p", target.pid], ["trace", "-p", target.pid] + TRACE_BOUND):
                with self.subTest(command=args[0]):
                    self.assert_error(harness.run_leakscope(args, timeout=60), harness.EXIT_NOT_PYTHON,
                                      "%s of sleep" % args[0])

    def test_unsupported_version(self):
        python37, looked_in = harness.find_pyenv_python("3.7")
        if python37 is None:
            self.skipTest("no CPython 3.7 interpreter installed (looked in %s)" % looked_in)
        with self.python_target(python37) as target:
            for args in (["dump", "-p", target.pid], ["trace", "-p", target.pid] + TRACE_BOUND):
                with self.subTest(command=args[0]):
                    message = self.assert_error(harness.run_leakscope(args, timeout=60),
                                                harness.EXIT_UNSUPPORTED_VERSION, "%s of python3.7" % args[0])
                    self.assertIn("3.8", message)
                    self.assertIn("3.14", message)

    def test_target_exits_mid_trace(self):
        # Allocates for 2 seconds, then exits on its own.
        program = ("import time\nprint('ready', flush=True)\nend = time.monotonic() + 2\nkeep = []\n"
                   "while time.monotonic() < end:\n"
                   "    keep.append(['x%d' % n for n in range(100)])\n"
                   "    time.sleep(0.01)\n")
        with harness.Target([PYTHON, "-c", program], ready_line="ready", timeout=30) as target:
            started = time.monotonic()
            run = harness.run_leakscope_ex(["trace", "-p", target.pid, "--duration", "30"], timeout=60)
            elapsed = time.monotonic() - started
        self.assertEqual(run.rc, 0, "trace of an exiting target: status %s\n%s" % (run.rc, run.stderr))
        self.assertLess(elapsed, 12, "leakscope kept running %.1fs after its target exited" % (elapsed - 2))
        self.assertTrue(run.stdout.strip(), "no final report on stdout")
        harness.assert_no_probes_left(self, [os.path.realpath(PYTHON)], {run.pid})


if __name__ == "__main__":
    harness.parse_args()
    harness.run_tests()
