#!/usr/bin/python3
# per-interpreter
"""The probe plan sees every object birth, freelist reuse included.

A target creates N objects of each common kind on its own line (dicts, lists,
tuples, floats and instances come off freelists, since the same kinds are
churned in between) and keeps them. Traced with --sample-bytes 1 (every
allocation sampled), each line must hold about N live objects: a missed
inlined _Py_NewReference, or a freelist birth attributed to the churn line,
shows up as a shortfall.
"""

import os
import sys
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

N = 20000
TARGET = """
import time
print('ready', flush=True)
time.sleep(4)

class Obj:
    pass

def churn(i):
    junk = [{}, [], (i, i + 1), float(i) * 0.5, Obj(), 'y%%d' %% i]
    return len(junk)

keep = []
for i in range(%(n)d):
    churn(i)
    d = {'k': i}           # KIND dict
    l = [i]                # KIND list
    t = (i, 'x')           # KIND tuple
    f = i * 0.25           # KIND float
    o = Obj()              # KIND instance
    s = 'v%%d' %% i          # KIND str
    keep.append((d, l, t, f, o, s))
print('done', flush=True)
time.sleep(600)
""" % {"n": N}


class CoverageTest(unittest.TestCase):
    def test_every_birth_is_seen(self):
        interp = harness.CONFIG.interpreter
        kinds = {}
        for number, line in enumerate(TARGET.splitlines(), start=1):
            if "# KIND" in line:
                kinds[line.split("# KIND")[1].strip()] = number
        with harness.Target([interp.path, "-c", TARGET], ready_line="ready") as target:
            report, _ = harness.run_leakscope_json(
                self, ["trace", "-p", str(target.pid), "--max-overhead", "off", "--sample-bytes", "1", "--duration", "12", "--interval", "4"]
                + list(interp.extra_args))
        live = {}
        for site in report["top_sites"] + report["suspects"]:
            leaf = harness.python_leaf(site)
            if leaf and leaf["file"] == "<string>":
                live[leaf["line"]] = max(live.get(leaf["line"], 0), site["live_objects"])
        for kind, line in kinds.items():
            with self.subTest(kind=kind):
                got = live.get(line, 0)
                self.assertGreaterEqual(got, 0.95 * N, "%s births at line %d: %d live of %d (sites: %s)"
                                        % (kind, line, got, N, sorted(live.items())))
                self.assertLessEqual(got, 1.05 * N * 2, "%s: too many objects at line %d" % (kind, line))


if __name__ == "__main__":
    harness.parse_args(need_python=True)
    harness.run_tests()
