#!/usr/bin/python3
# per-interpreter
"""A target that presents hostile and corrupt frames (tests/targets/hostile.py):
names and file names full of terminal escapes and control characters, and
code objects whose line table and file name claim 2**40 bytes.

dump and trace must neither crash nor hang, print no raw control character
(stdout, JSON strings), show every frame (placeholders for what cannot be
read) and count what they could not read.
"""

import os
import re
import shutil
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

HOSTILE = os.path.join(harness.TARGETS_DIR, "hostile.py")
# C0 controls but newline, DEL, and C1 controls (U+0080..U+009F) as UTF-8.
RAW_CONTROL = re.compile(rb"[\x00-\x09\x0b-\x1f\x7f]|\xc2[\x80-\x9f]")
PLACEHOLDER_STR = re.compile(r"^<unreadable str at 0x[0-9a-f]+>$")


def escaped(text):
    """What leakscope shows for target text (user/core/text.cpp)."""
    out = []
    for ch in text:
        code = ord(ch)
        if code < 0x20 or code == 0x7f:
            out.append("\\x%02x" % code)
        elif 0x80 <= code < 0xa0:
            out.append("\\u%04x" % code)
        else:
            out.append(ch)
    return "".join(out)


def json_strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from json_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from json_strings(item)


def all_frames(report):
    for key in ("suspects", "top_sites"):
        for site in report.get(key, []):
            yield from site.get("frames", [])
    for site in (report.get("growth") or {}).get("sites", []):
        yield from site.get("frames", [])


class HostileTest(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls.interp = harness.CONFIG.interpreter

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="ls-hostile-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.expected_path = os.path.join(self.tmp, "expected.json")

    def start(self):
        return harness.Target([self.interp.path, HOSTILE, self.expected_path],
                              ready_file=self.expected_path, timeout=60)

    def expected(self):
        with open(self.expected_path) as f:
            return harness.parse_json(self, f.read(), "hostile.py output")

    def assert_clean(self, data, what):
        raw = data.encode("utf-8", errors="surrogateescape") if isinstance(data, str) else data
        match = RAW_CONTROL.search(raw)
        self.assertIsNone(match, "%s carries a raw control character %r near %r"
                          % (what, match and match.group(), match and raw[max(0, match.start() - 40):match.end() + 10]))

    def assert_clean_json(self, value, what):
        for text in json_strings(value):
            self.assertFalse(any(ord(c) < 0x20 or 0x7f <= ord(c) < 0xa0 for c in text),
                             "%s: JSON string with a control character: %r" % (what, text))

    def dump(self, pid, json_output):
        args = ["dump", "-p", pid] + (["--json"] if json_output else []) + self.interp.extra_args
        run = harness.run_leakscope_ex(args, timeout=60)
        self.assertEqual(run.rc, 0, "leakscope %s failed:\n%s" % (" ".join(map(str, args)), run.stderr))
        self.assert_clean(run.stdout, "dump stdout")
        return run.stdout

    def test_dump_shows_every_frame_escaped_and_counts_drops(self):
        with self.start() as target:
            expected = self.expected()
            dumped = harness.parse_json(self, self.dump(target.pid, True))
            self.assertTrue(target.alive())
        self.assert_clean_json(dumped, "dump --json")
        by_tid = {t["tid"]: t for t in dumped["threads"]}
        for thread in expected["threads"]:
            with self.subTest(role=thread["role"]):
                self.assertIn(thread["tid"], by_tid, "thread %s missing from the dump" % thread["role"])
                got = by_tid[thread["tid"]]
                self.assertEqual([f["function"] for f in got["frames"]],
                                 [escaped(name) for name in thread["functions"]],
                                 "every frame, names escaped, innermost first")
                self.assertFalse(got["read_failed"])
        corrupt = next(t for t in expected["threads"] if t["role"] == "corrupt")
        frame = next(f for f in by_tid[corrupt["tid"]]["frames"] if f["function"] == "corrupt_me")
        self.assertRegex(frame["file"], PLACEHOLDER_STR)
        self.assertEqual(frame["line"], 0)
        escapes = next(t for t in expected["threads"] if t["role"] == "escapes")
        frame = next(f for f in by_tid[escapes["tid"]]["frames"] if f["function"] == escaped(expected["evil_name"]))
        self.assertEqual(frame["file"], escaped(expected["evil_file"]))
        self.assertGreater(frame["line"], 0)
        drops = dumped["drops"]
        # corrupt_me and corrupt_alloc: file name and line table each
        self.assertEqual(drops["UNREADABLE_STRING"]["count"], 2, drops)
        self.assertEqual(drops["UNREADABLE_LINE_TABLE"]["count"], 2, drops)
        self.assertEqual(drops["UNREADABLE_CODE_OBJECT"]["count"], 0, drops)
        for whole in ("STACK_TRUNCATED", "STACK_READ_FAILED", "THREAD_LIST_CUT"):
            self.assertEqual(drops[whole]["count"], 0, drops)

    def test_dump_text_is_clean(self):
        with self.start() as target:
            expected = self.expected()
            out = self.dump(target.pid, False)
        self.assertIn(escaped(expected["evil_name"]), out)
        self.assertRegex(out, r"corrupt_me \(<unreadable str at 0x[0-9a-f]+>:0\)")
        self.assertIn("UNREADABLE_LINE_TABLE: 2", out)

    def test_trace_shows_corrupt_frames_and_counts_drops(self):
        with self.start() as target:
            expected = self.expected()
            args = ["trace", "-p", target.pid, "--max-overhead", "off", "--duration", "4", "--interval", "2", "--sample-bytes", "4096"]
            report, run = harness.run_leakscope_json(self, args + self.interp.extra_args, timeout=120)
            self.assertTrue(target.alive(), "the target died while traced")
        harness.assert_no_probes_left(self, harness.target_binaries(self.interp), {run.pid})
        self.assert_clean(run.stdout, "trace stdout")
        self.assert_clean(run.stderr, "trace stderr")
        self.assert_clean_json(report, "trace --json")
        frames = list(all_frames(report))
        self.assertTrue(frames, "the allocating thread's stacks are not in the report")
        evil = escaped(expected["evil_name"] + ".alloc")
        self.assertIn(evil, {f["function"] for f in frames}, "escaped function name missing")
        corrupt = [f for f in frames if f["function"] == "corrupt_alloc"]
        self.assertTrue(corrupt, "the frame with the corrupt code object is missing")
        for f in corrupt:
            self.assertRegex(f["file"], PLACEHOLDER_STR)
            self.assertEqual(f["line"], 0)
        self.assertGreaterEqual(report["drops"]["UNREADABLE_STRING"]["count"], 1)
        self.assertGreaterEqual(report["drops"]["UNREADABLE_LINE_TABLE"]["count"], 1)
        self.assertIn("UNREADABLE_LINE_TABLE", run.stdout, "the text report does not show the drop")


if __name__ == "__main__":
    harness.parse_args(need_python=True)
    harness.run_tests()
