#!/usr/bin/python3
# per-interpreter
"""`leakscope run` over the leak zoo (tests/zoo/*.py).

Each scenario is its own test: leakscope runs it for LEAKSCOPE_ZOO_SECONDS
and writes its JSON report. In a leaking scenario the top suspect's stack
must contain the line marked `# LEAK`; a scenario without a marker must
produce no suspect at all. `run` exits with the command's status, or 20 with
--fail-on-leak when it found a leak. No probe may survive a run.
"""

import numbers
import os
import shutil
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

# LEAKSCOPE_ZOO_TEST_SECONDS: longer runs for slow interpreters (test_free_threaded).
ZOO_SECONDS = int(os.environ.get("LEAKSCOPE_ZOO_TEST_SECONDS", "15"))
RUN_TIMEOUT = ZOO_SECONDS + 75  # start-up, attach, symbolization, final report
INTERVAL = 2
# Four times denser than the default: a 15 s run has fewer readings than a
# user's minute, so each reading must carry less sampling noise.
SAMPLE_BYTES = 4096
# Every allocation traced, whatever it costs: what --max-overhead off is for
# (short runs, CI). The default budget's accuracy needs longer runs.
def describe_suspects(suspects, limit=3):
    lines = []
    for rank, suspect in enumerate(suspects[:limit], 1):
        lines.append("#%d verdict=%s score=%s live_bytes=%s growth=%s B/s" % (
            rank, suspect.get("verdict"), suspect.get("score"), suspect.get("live_bytes"),
            suspect.get("growth_bytes_per_s")))
        for frame in suspect.get("frames", [])[:12]:
            lines.append("    %s:%s %s" % (frame.get("file"), frame.get("line"), frame.get("function")))
    return "\n".join(lines) if lines else "(no suspects)"


def describe_sites(sites, limit=4):
    lines = []
    for site in sites[:limit]:
        lines.append("trend=%s live_bytes=%s delta_bytes=%s" % (site.get("trend"), site.get("live_bytes"),
                                                              site.get("delta_bytes")))
        for frame in site.get("frames", [])[:6]:
            lines.append("    %s:%s %s" % (frame.get("file"), frame.get("line"), frame.get("function")))
    return "\n".join(lines) if lines else "(no sites)"


def is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


class TraceZooTest(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls.interp = harness.CONFIG.interpreter

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="ls-zoo-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def run_scenario(self, name, path, extra_args=()):
        out_json = os.path.join(self.tmp, name + ".json")
        args = (["run", "--max-overhead", "off", "--interval", INTERVAL, "--sample-bytes", SAMPLE_BYTES,
                 "--json", out_json]
                + self.interp.extra_args
                + list(extra_args) + ["--", self.interp.path, path])
        run = harness.run_leakscope_ex(
            args, timeout=RUN_TIMEOUT, env=harness.clean_env(LEAKSCOPE_ZOO_SECONDS=ZOO_SECONDS))
        harness.assert_no_probes_left(self, harness.target_binaries(self.interp), {run.pid})
        report = None
        if os.path.exists(out_json):
            with open(out_json) as f:
                report = harness.parse_json(self, f.read(), out_json)
        return run, report

    def check_contract(self, report, run):
        context = "\n--- leakscope stderr ---\n%s" % run.stderr[-4000:]
        self.assertIsInstance(report, dict, "no JSON report written" + context)
        for key, kind in (("target", dict), ("suspects", list), ("intervals", list),
                          ("gc", dict), ("drops", dict)):
            self.assertIsInstance(report.get(key), kind, "report[%r] missing or not a %s" % (key, kind.__name__))

        target = report["target"]
        self.assertIsInstance(target.get("pid"), int)
        self.assertGreater(target["pid"], 0)
        self.assertEqual(target.get("python"), self.interp.version)
        self.assertIsInstance(target.get("binary"), str)
        self.assertTrue(target["binary"], "target.binary is empty")

        self.assertGreaterEqual(len(report["intervals"]), 3,
                                "a %ds run at --interval %d has too few intervals" % (ZOO_SECONDS, INTERVAL))

        previous_score = None
        for rank, suspect in enumerate(report["suspects"], 1):
            with self.subTest(suspect=rank):
                self.assertIsInstance(suspect.get("verdict"), str)
                self.assertTrue(is_number(suspect.get("score")), "score: %r" % suspect.get("score"))
                self.assertIsInstance(suspect.get("live_bytes"), int)
                self.assertIsInstance(suspect.get("live_objects"), int)
                self.assertGreaterEqual(suspect["live_bytes"], 0)
                self.assertGreaterEqual(suspect["live_objects"], 0)
                self.assertTrue(is_number(suspect.get("growth_bytes_per_s")))
                frames = suspect.get("frames")
                self.assertIsInstance(frames, list)
                self.assertTrue(frames, "suspect without frames")
                for frame in frames:
                    self.assertIsInstance(frame.get("file"), str)
                    # Native frames (C, under the Python ones) have no line.
                    self.assertIsInstance(frame.get("line"), type(None) if frame.get("native") else int)
                    self.assertIsInstance(frame.get("function"), str)
                if previous_score is not None:
                    self.assertLessEqual(suspect["score"], previous_score, "suspects not ranked best first")
                previous_score = suspect["score"]

    def check_scenario(self, name, path, leak_line):
        run, report = self.run_scenario(name, path)
        self.assertEqual(run.rc, 0, "leakscope run exited %s, the command exits 0\n%s" % (run.rc, run.stderr[-4000:]))
        self.check_contract(report, run)
        suspects = report["suspects"]
        if leak_line is None:
            self.assertEqual(suspects, [], "no leak in %s, yet:\n%s" % (name, describe_suspects(suspects)))
            return
        self.assertTrue(suspects, "%s leaks at line %d; no suspect reported. Top sites:\n%s"
                        % (name, leak_line, describe_sites(report.get("top_sites", []))))
        basename = os.path.basename(path)
        top_frames = suspects[0]["frames"]
        found = any(os.path.basename(frame["file"]) == basename and frame["line"] == leak_line
                    for frame in top_frames)
        self.assertTrue(found, "top suspect does not include %s:%d\n%s"
                        % (basename, leak_line, describe_suspects(suspects)))

    def test_fail_on_leak_with_leak(self):
        name, path = "leak_module_cache", os.path.join(harness.ZOO_DIR, "leak_module_cache.py")
        run, _ = self.run_scenario(name, path, ["--fail-on-leak"])
        self.assertEqual(run.rc, harness.EXIT_LEAK_FOUND, run.stderr[-4000:])

    def test_fail_on_leak_without_leak(self):
        name, path = "churn_only", os.path.join(harness.ZOO_DIR, "churn_only.py")
        run, _ = self.run_scenario(name, path, ["--fail-on-leak"])
        self.assertEqual(run.rc, 0, run.stderr[-4000:])


def _make_test(name, path, leak_line):
    def test(self):
        self.check_scenario(name, path, leak_line)
    test.__doc__ = "%s (%s)" % (name, "leak at line %d" % leak_line if leak_line else "no leak")
    return test


for _name, _path, _line in harness.zoo_scenarios():
    setattr(TraceZooTest, "test_zoo_" + _name, _make_test(_name, _path, _line))


if __name__ == "__main__":
    harness.parse_args(need_python=True)
    harness.run_tests()
