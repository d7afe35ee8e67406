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
        for args in (["dump"], ["frobnicate"], ["dump", "-p", "not-a-pid"], ["trace", "-p", "abc"],
                     ["trace", "-p", "9" * 400], ["trace", "-p", "1", "--duration", "-5"],
                     ["trace", "-p", "1", "--stack-storage", "1"], ["trace", "-p", "\x1b[2Jx"]):
            with self.subTest(args=args[:2]):
                run = harness.run_leakscope_ex(args, timeout=30)
                message = self.assert_error((run.rc, run.stdout, run.stderr), harness.EXIT_USAGE, " ".join(args))
                self.assertLess(len(message), 200, "usage error is not short: %s" % message)
                self.assertNotRegex(message, r"\d{41}", "usage error echoes a huge number: %s" % message)
                self.assertNotIn("\x1b", message, "usage error prints a raw escape")
                self.assertLess(run.elapsed, 1.0, "usage error took %.2fs" % run.elapsed)

    # -- output paths --------------------------------------------------------

    def assert_fails_fast(self, args, status, what, binaries=(), **kwargs):
        """One line, STATUS, within a second, and nothing of ours attached."""
        run = harness.run_leakscope_ex(args, timeout=30, **kwargs)
        message = self.assert_error((run.rc, run.stdout, run.stderr), status, what)
        self.assertLess(run.elapsed, 1.0, "%s: took %.2fs to fail" % (what, run.elapsed))
        harness.assert_no_probes_left(self, binaries, {run.pid})
        return message

    def test_unwritable_output_fails_before_attaching(self):
        with tempfile.TemporaryDirectory() as tmp:
            marker = os.path.join(tmp, "ran")
            cases = (("/nonexistent-dir/r.json", "No such file"), (tmp, "directory"),
                     ("/proc/version/r.json", "Not a directory"))
            with self.python_target() as target:
                for path, says in cases:
                    for command in (["trace", "-p", target.pid, "--duration", "20"], ["snapshot", "-p", target.pid]):
                        with self.subTest(path=path, command=command[0]):
                            message = self.assert_fails_fast(command + ["--json", path], harness.EXIT_IO,
                                                             "%s --json %s" % (command[0], path),
                                                             [os.path.realpath(PYTHON)])
                            self.assertIn("--json", message)
                            self.assertIn(says, message)
            # run: the command is not even started
            message = self.assert_fails_fast(["run", "--json", "/nonexistent-dir/r.json", "--", PYTHON, "-c",
                                              "open(%r, 'w')" % marker], harness.EXIT_IO, "run --json")
            self.assertFalse(os.path.exists(marker), "run started its command although --json cannot be written")
            self.assertEqual(os.listdir(tmp), [], "the writability check left a file behind")

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

    def test_unreadable_target_as_root(self):
        """Root in a user namespace of its own cannot read a host process: the
        error says so, rather than asking to run as root."""
        if shutil.which("unshare") is None:
            self.skipTest("unshare(1) not installed")
        with self.python_target() as target:
            for args in (["dump", "-p", target.pid], ["trace", "-p", target.pid] + TRACE_BOUND):
                with self.subTest(command=args[0]):
                    message = self.assert_fails_fast(args, harness.EXIT_PERMISSION, "%s from a user namespace" % args[0],
                                                     [os.path.realpath(PYTHON)],
                                                     prefix=["unshare", "--user", "--map-root-user"])
                    self.assertNotIn("run as root", message)
                    self.assertNotIn("sudo", message)
                    self.assertIn("user namespace", message)

    def test_pid_1_unreadable_says_why(self):
        try:
            open("/proc/1/maps").close()
            self.skipTest("PID 1's memory map is readable here")
        except PermissionError:
            pass
        for args in (["dump", "-p", "1"], ["trace", "-p", "1"] + TRACE_BOUND):
            with self.subTest(command=args[0]):
                message = self.assert_fails_fast(args, harness.EXIT_PERMISSION, "%s -p 1" % args[0])
                self.assertNotIn("run as root", message)
                self.assertIn("/proc/1/maps", message)

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
        pid = harness.missing_pid()
        for args in (["dump", "-p", pid], ["trace", "-p", pid] + TRACE_BOUND, ["snapshot", "-p", pid]):
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
