#!/usr/bin/python3
# per-interpreter
"""`leakscope dump` against threads parked in known stacks (tests/targets/stacks.py).

stacks.py writes the stacks the interpreter itself reports; dump must read
exactly the same frames from outside, for every thread, without truncating
the 150-deep recursion, also when the target lives in its own mount and PID
namespaces with an interpreter binary that only exists inside them.
"""

import os
import shlex
import shutil
import sys
import tempfile
import time
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

STACKS = os.path.join(harness.TARGETS_DIR, "stacks.py")
DUMP_TIMEOUT = 60


def frame_tuples(frames):
    return [(f.get("file"), f.get("line"), f.get("function")) for f in frames]


def task_ids(pid):
    try:
        return sorted(int(tid) for tid in os.listdir("/proc/%d/task" % pid))
    except OSError:
        return []


def wait_for_thread_count(pid, count, timeout=15):
    """stacks.py's reporter thread exits right after writing the JSON; wait
    until only the parked threads are left."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(task_ids(pid)) == count:
            return True
        time.sleep(0.05)
    return False


def ns_to_host_tids(host_pid):
    """{namespace tid: host tid} from the NSpid lines of each task."""
    mapping = {}
    for tid in task_ids(host_pid):
        try:
            with open("/proc/%d/task/%d/status" % (host_pid, tid)) as f:
                for line in f:
                    if line.startswith("NSpid:"):
                        ids = [int(x) for x in line.split()[1:]]
                        mapping[ids[-1]] = ids[0]
        except OSError:
            pass
    return mapping


class DumpTest(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls.interp = harness.CONFIG.interpreter

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="ls-dump-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.expected_path = os.path.join(self.tmp, "expected.json")

    def load_expected(self):
        with open(self.expected_path) as f:
            return harness.parse_json(self, f.read(), "stacks.py output")

    def dump(self, pid, json_output=True):
        args = ["dump", "-p", pid] + (["--json"] if json_output else []) + self.interp.extra_args
        rc, out, err = harness.run_leakscope(args, timeout=DUMP_TIMEOUT)
        self.assertEqual(rc, 0, "leakscope %s failed:\n%s" % (" ".join(map(str, args)), err))
        return out, err

    def assert_same_stacks(self, expected, dumped, tid_map=None):
        """Every expected thread appears in DUMPED with exactly its frames.
        tid_map translates the expected (namespace) tids to host tids."""
        tid_map = tid_map or {}
        by_tid = {}
        for thread in dumped.get("threads", []):
            self.assertIsInstance(thread.get("tid"), int, "thread without an integer tid: %r" % thread)
            by_tid[thread["tid"]] = thread
        # The stacks themselves first, whatever the tids, so a tid problem
        # and a frame problem are told apart.
        self.assertEqual(sorted(frame_tuples(t.get("frames", [])) for t in by_tid.values()),
                         sorted(frame_tuples(t["frames"]) for t in expected["threads"]),
                         "the set of dumped stacks differs from the target's")
        wanted = {tid_map.get(t["tid"], t["tid"]): t for t in expected["threads"]}
        self.assertEqual(sorted(by_tid), sorted(wanted),
                         "dumped thread ids differ from the target's (kernel tids as seen from "
                         "leakscope's PID namespace expected)")
        for tid, exp in sorted(wanted.items()):
            got = frame_tuples(by_tid[tid].get("frames", []))
            want = frame_tuples(exp["frames"])
            # want[3] is the function that called park(): names the thread in failures.
            with self.subTest(tid=tid, parked_in=want[3][2] if len(want) > 3 else None):
                self.assertEqual(len(got), len(want),
                                 "thread %d: %d frames dumped, %d expected" % (tid, len(got), len(want)))
                self.assertEqual(got, want, "thread %d: frames differ" % tid)

    def assert_gil(self, dumped):
        holders = []
        for thread in dumped.get("threads", []):
            self.assertIsInstance(thread.get("holds_gil"), bool, "holds_gil missing: %r" % thread.get("tid"))
            if thread["holds_gil"]:
                holders.append(thread["tid"])
        self.assertLessEqual(len(holders), 1, "more than one thread holds the GIL: %r" % holders)

    def start_stacks(self):
        return harness.Target([self.interp.path, STACKS, self.expected_path],
                              ready_file=self.expected_path, timeout=60)

    def test_json_frames_match_interpreter(self):
        with self.start_stacks() as target:
            expected = self.load_expected()
            self.assertTrue(wait_for_thread_count(target.pid, len(expected["threads"])),
                            "target did not settle to %d threads" % len(expected["threads"]))
            out, _ = self.dump(target.pid)
            dumped = harness.parse_json(self, out)
            self.assertEqual(dumped.get("pid"), target.pid)
            self.assertEqual(dumped.get("python"), expected["python"])
            self.assertEqual(expected["python"], self.interp.version)
            depths = [len(t["frames"]) for t in expected["threads"]]
            self.assertGreater(max(depths), 150, "stacks.py did not build its deep thread")
            self.assert_same_stacks(expected, dumped)
            self.assert_gil(dumped)

    def test_text_output(self):
        with self.start_stacks() as target:
            expected = self.load_expected()
            wait_for_thread_count(target.pid, len(expected["threads"]))
            out, _ = self.dump(target.pid, json_output=False)
            for thread in expected["threads"]:
                self.assertIn(str(thread["tid"]), out, "text dump does not name thread %d" % thread["tid"])
            self.assertIn("stacks.py", out)
            self.assertIn("recurse", out)
            qualnames = harness.version_tuple(self.interp.version) >= (3, 11)
            self.assertIn("Outer.Inner.method" if qualnames else "method", out)

    def namespace_script(self, nsdir):
        """Shell run inside fresh mount+PID namespaces: a tmpfs that exists
        only there, holding a copy of the interpreter (and its libpython)."""
        q = shlex.quote
        exe = os.path.join(nsdir, "bin", os.path.basename(self.interp.path))
        lines = [
            "set -e",
            "mount -t tmpfs ls-ns %s" % q(nsdir),
            "mkdir %s %s" % (q(nsdir + "/bin"), q(nsdir + "/lib")),
            "cp %s %s" % (q(self.interp.path), q(exe)),
            "cp %s %s" % (q(STACKS), q(nsdir + "/stacks.py")),
        ]
        for soname, path in self.interp.libs:
            lines.append("cp %s %s" % (q(path), q(os.path.join(nsdir, "lib", soname))))
        # LD_LIBRARY_PATH beats the pyenv binary's RUNPATH, so the copied
        # libpython is the one mapped; the stdlib still comes from the host.
        lines.append("LD_LIBRARY_PATH=%s PYTHONHOME=%s %s %s %s" % (
            q(nsdir + "/lib"), q(self.interp.prefix), q(exe),
            q(nsdir + "/stacks.py"), q(self.expected_path)))
        return "\n".join(lines)

    def find_namespaced_python(self, nsdir, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for entry in os.listdir("/proc"):
                if not entry.isdigit():
                    continue
                try:
                    exe = os.readlink("/proc/%s/exe" % entry)
                except OSError:
                    continue
                if exe.startswith(nsdir + "/"):
                    return int(entry)
            time.sleep(0.1)
        self.fail("no process runs an executable from %s" % nsdir)

    def cleanup_nsdir(self, nsdir):
        with open("/proc/self/mountinfo") as f:
            mounted = any(line.split()[4] == nsdir for line in f)
        if mounted:  # only if propagation leaked the namespace's mount
            os.system("umount -l %s" % shlex.quote(nsdir))
        os.rmdir(nsdir)

    def test_target_in_mount_and_pid_namespace(self):
        if shutil.which("unshare") is None:
            self.skipTest("unshare(1) not installed")
        nsdir = tempfile.mkdtemp(prefix="ls-ns-", dir="/mnt")
        self.addCleanup(self.cleanup_nsdir, nsdir)
        argv = ["unshare", "--mount", "--pid", "--fork", "--mount-proc",
                "sh", "-c", self.namespace_script(nsdir)]
        with harness.Target(argv, ready_file=self.expected_path, timeout=60) as target:
            expected = self.load_expected()
            host_pid = self.find_namespaced_python(nsdir)
            self.assertNotEqual(host_pid, expected["pid"], "target is not in its own PID namespace")
            self.assertFalse(os.path.exists(os.path.join(nsdir, "stacks.py")),
                             "the namespace's tmpfs is visible outside it")
            self.assertTrue(wait_for_thread_count(host_pid, len(expected["threads"])),
                            "target did not settle to %d threads" % len(expected["threads"]))
            tid_map = ns_to_host_tids(host_pid)
            out, _ = self.dump(host_pid)
            dumped = harness.parse_json(self, out)
            self.assertEqual(dumped.get("pid"), host_pid)
            self.assertEqual(dumped.get("python"), expected["python"])
            self.assert_same_stacks(expected, dumped, tid_map)
            self.assert_gil(dumped)
            self.assertTrue(target.alive())


if __name__ == "__main__":
    harness.parse_args(need_python=True)
    harness.run_tests()
