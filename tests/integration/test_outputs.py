#!/usr/bin/python3
"""Every output file of a real trace, read by the tools people feed it to.

One zoo scenario (an unbounded module-level cache) is traced once on Debian's
python3.11 with --json, --html, --pprof, --speedscope and --collapsed. Then:
Go's pprof must list the leaking line among its top three by inuse_space and
show all four sample types; the speedscope file must validate against
speedscope's own schema; the folded stacks must hold the leaking stack;
headless Chromium must render the page with no JavaScript error and show the
leaking location (a screenshot is kept under the build's Testing/outputs);
`leakscope report` on the saved JSON must write the same bytes; and a
synthetic report of 50,000 stacks must render.

A tool that is not installed (scripts/install-deps.sh installs them all) skips
its check with the reason printed.
"""

import gzip
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

SCENARIO = os.path.join(harness.ZOO_DIR, "leak_module_cache.py")
SECONDS = 20
GO = shutil.which("go") or "/usr/lib/go-1.19/bin/go"
SPEEDSCOPE_SCHEMA = "/usr/local/share/leakscope/speedscope-file-format-schema.json"
SYNTHETIC_STACKS = 50000
RENDER_LIMIT_MS = 2000


def leak_line():
    with open(SCENARIO) as f:
        for number, line in enumerate(f, 1):
            if re.search(r"#\s*LEAK\s*$", line):
                return number
    raise AssertionError("no # LEAK line in %s" % SCENARIO)


class OutputsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="leakscope-outputs-")
        cls.files = {ext: os.path.join(cls.tmp, "report." + ext)
                     for ext in ("json", "html", "pb.gz", "speedscope.json", "folded")}
        env = harness.clean_env(LEAKSCOPE_ZOO_SECONDS=str(SECONDS))
        cls.trace = harness.run_leakscope_ex(
            ["run", "--max-overhead", "off", "--interval", "2", "--sample-bytes", "4096",
             "--json", cls.files["json"], "--html", cls.files["html"], "--pprof", cls.files["pb.gz"],
             "--speedscope", cls.files["speedscope.json"], "--collapsed", cls.files["folded"],
             "--", harness.DEBIAN_PYTHON, SCENARIO], timeout=SECONDS + 90, env=env)
        with open(cls.files["json"]) as f:
            cls.report = json.load(f)
        cls.line = leak_line()

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_run_found_the_leak(self):
        self.assertEqual(self.trace.rc, 0, self.trace.stderr)
        self.assertTrue(self.report["suspects"], self.trace.stdout[-3000:])
        lines = [(f["file"], f["line"]) for f in self.report["suspects"][0]["frames"]]
        self.assertIn((SCENARIO, self.line), lines)
        self.assertGreater(len(self.report["profile"]["stacks"]), len(self.report["top_sites"]))

    def test_go_pprof_reads_a_memory_profile(self):
        harness.need(self, os.access(GO, os.X_OK), "go not installed (golang-1.19-go): pprof check not run")
        top = subprocess.run([GO, "tool", "pprof", "-top", "-lines", "-sample_index=inuse_space", self.files["pb.gz"]],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=120)
        self.assertEqual(top.returncode, 0, top.stderr)
        self.assertIn("Type: inuse_space", top.stdout)
        rows = [r for r in top.stdout.splitlines() if re.match(r"^\s*[\d.]+[kMG]?B\s", r)]
        # pprof's flat rows are innermost frames: the line that allocates what leaks.
        self.assertTrue(self.report["suspects"], "no suspect to look for")
        leaf = self.report["suspects"][0]["frames"][0]
        # A native leaf (malloc's C caller) has no line: pprof shows it by function and module.
        wanted = "%s %s" % (leaf["function"], leaf["file"]) + (":%d" % leaf["line"] if leaf["line"] is not None else "")
        self.assertTrue(any(wanted in r for r in rows[:3]), "%s not in the top three:\n%s" % (wanted, top.stdout))
        raw = subprocess.run([GO, "tool", "pprof", "-raw", self.files["pb.gz"]], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, universal_newlines=True, timeout=120)
        self.assertEqual(raw.returncode, 0, raw.stderr)
        types = re.search(r"^Samples:\n(.*)$", raw.stdout, re.M)
        self.assertIsNotNone(types, raw.stdout[:2000])
        for t in ("alloc_objects/count", "alloc_space/bytes", "inuse_objects/count", "inuse_space/bytes"):
            self.assertIn(t, types.group(1))
        self.assertIn("PeriodType: space bytes", raw.stdout)

    def test_speedscope_file_validates(self):
        try:
            import jsonschema
        except ImportError:
            jsonschema = None
        harness.need(self, jsonschema is not None,
                     "python3-jsonschema not installed: speedscope schema check not run")
        harness.need(self, os.path.exists(SPEEDSCOPE_SCHEMA),
                     "%s missing (scripts/install-deps.sh fetches it with npm): speedscope schema check not run"
                     % SPEEDSCOPE_SCHEMA)
        with open(SPEEDSCOPE_SCHEMA) as f:
            schema = json.load(f)
        with open(self.files["speedscope.json"]) as f:
            doc = json.load(f)
        jsonschema.validate(doc, schema)
        names = {fr["name"] for fr in doc["shared"]["frames"]}
        self.assertIn("cached_page", names)

    def test_folded_stacks_hold_the_leak(self):
        with open(self.files["folded"]) as f:
            lines = f.read().splitlines()
        wanted = "cached_page (%s:%d)" % (SCENARIO, self.line)
        leaking = [ln for ln in lines if wanted in ln.rsplit(" ", 1)[0].split(";")]
        self.assertTrue(leaking, "no folded stack ends at %s:\n%s" % (wanted, "\n".join(lines[:20])))
        for ln in lines:
            self.assertRegex(ln, r"^\S.* \d+$")

    def test_native_frames_under_python_frames(self):
        """The leaking str is too large for pymalloc: its stack starts with the
        C function that called malloc, symbolized, then the Python frames, in
        the JSON and in the folded stacks."""
        frames = self.report["suspects"][0]["frames"]
        native = [f for f in frames if f.get("native")]
        self.assertTrue(native and frames[0].get("native"), frames[:3])
        self.assertTrue(all(f["function"] and not f["function"].startswith("+") for f in native), native)
        self.assertEqual(native[0]["file"], os.path.realpath(harness.DEBIAN_PYTHON), native)
        python = frames[len(native):]
        self.assertTrue(python and not any(f.get("native") for f in python), frames)
        with open(self.files["folded"]) as f:
            stacks = [ln.rsplit(" ", 1)[0].split(";") for ln in f.read().splitlines()]
        leaf = native[0]["function"]
        self.assertTrue([s for s in stacks if s[-1].startswith(leaf) and
                         any(fr.startswith("cached_page") for fr in s)], "no folded stack ends in %s" % leaf)

    def test_html_renders_in_chromium(self):
        harness.need(self, harness.CHROMIUM is not None, "chromium not installed: HTML check not run")
        attrs, dom = harness.rendered_body(self.files["html"])
        self.assertEqual(attrs.get("data-status"), "ok", harness.page_errors(dom))
        self.assertIn("%s:%d in cached_page" % (SCENARIO, self.line), dom)
        pools = self.report["pools"]
        self.assertIsNotNone(pools, "Debian's python3.11 has its pool refill traced")
        self.assertIn("%s of %s pools of 16.0 KiB taken still in use" % (format(pools["held"], ","),
                                                                       format(pools["taken"], ",")), dom)
        self.assertIn("%d B" % pools["classes"][0]["block_bytes"], dom)
        harness.screenshot(self, self.files["html"], "test_outputs", "report.png")

    def test_report_command_writes_the_same_files(self):
        again = {k: os.path.join(self.tmp, "again." + k) for k in ("html", "pb.gz", "speedscope.json", "folded")}
        rc, out, err = harness.run_leakscope(["report", self.files["json"], "--html", again["html"],
                                              "--pprof", again["pb.gz"], "--speedscope", again["speedscope.json"],
                                              "--collapsed", again["folded"]])
        self.assertEqual(rc, 0, err)
        for k, path in again.items():
            with open(path, "rb") as a, open(self.files[k], "rb") as b:
                self.assertEqual(a.read(), b.read(), "%s differs from the live run's" % k)
        with gzip.open(again["pb.gz"]) as f:
            self.assertGreater(len(f.read()), 100)
        rc, text, err = harness.run_leakscope(["report", self.files["json"]])
        self.assertEqual(rc, 0, err)
        self.assertIn("LEAK SUSPECTS", text)
        self.assertIn("leak_module_cache.py:%d" % self.line, text)

    def test_fifty_thousand_stacks_render(self):
        harness.need(self, harness.CHROMIUM is not None, "chromium not installed: HTML check not run")
        synthetic = dict(self.report)
        rng = random.Random(7)
        frames = [{"file": "/srv/app/mod%d.py" % (i % 400), "line": i, "function": "f%d" % i} for i in range(5000)]
        stacks = []
        for i in range(SYNTHETIC_STACKS):
            depth = rng.randint(4, 30)
            refs = [rng.randrange(len(frames)) for _ in range(depth)]
            stacks.append({"site_id": "%016x" % (i + 1), "frames": refs, "live_bytes": rng.randint(0, 1 << 20),
                           "live_objects": rng.randint(0, 1000), "alloc_bytes": rng.randint(1, 1 << 22),
                           "alloc_objects": rng.randint(1, 4000)})
        synthetic["profile"] = {"frames": frames, "stacks": stacks}
        src, html = os.path.join(self.tmp, "synthetic.json"), os.path.join(self.tmp, "synthetic.html")
        with open(src, "w") as f:
            json.dump(synthetic, f)
        rc, out, err = harness.run_leakscope(["report", src, "--html", html])
        self.assertEqual(rc, 0, err)
        attrs, dom = harness.rendered_body(html)
        self.assertEqual(attrs.get("data-status"), "ok", harness.page_errors(dom))
        self.assertIn("50,000", dom)  # the stacks card
        print("50,000 stacks rendered in %s ms" % attrs.get("data-render-ms"))
        self.assertLess(int(attrs["data-render-ms"]), RENDER_LIMIT_MS)

    def test_bad_report_input_is_one_line(self):
        bad = os.path.join(self.tmp, "bad.json")
        with open(bad, "w") as f:
            f.write('{"schema_version": 1}')
        rc, out, err = harness.run_leakscope(["report", bad, "--html", os.path.join(self.tmp, "x.html")])
        self.assertEqual(rc, 14, err)
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertIn("not a leakscope report", err)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "x.html")))


if __name__ == "__main__":
    harness.parse_args()
    if not os.access(harness.DEBIAN_PYTHON, os.X_OK):
        harness.skip("%s is not installed: outputs not checked" % harness.DEBIAN_PYTHON)
    harness.run_tests()
